// http_session.cpp - one HTTP connection: reads requests, routes them (REST, static UI, MJPEG), hands
// WebSocket upgrades over to websocket_session.cpp.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "api_cameras.hpp"
#include "api_events.hpp"
#include "assets.hpp"
#include "fleet.hpp"
#include "fleet_api.hpp"
#include "maskdetect/annotate.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/image_io.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/version.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "session.hpp"

namespace maskdetect::server::detail {

std::string handler_label(std::string_view path) {
  // Fixed routes are their own label; routes with an id or a name get a pattern, anything else "other"
  // (a scanner's random paths must not grow the metrics).
  static constexpr std::string_view kFixed[] = {"/",
                                                "/healthz",
                                                "/readyz",
                                                "/metrics",
                                                "/api/v1/stats",
                                                "/api/v1/info",
                                                "/api/v1/detect",
                                                "/api/v1/ws",
                                                "/api/v1/cameras",
                                                "/api/v1/history",
                                                "/api/v1/events"};
  for (const std::string_view fixed : kFixed)
    if (path == fixed) return std::string(fixed);
  auto pattern = [&](std::string_view prefix, std::string_view what) -> std::optional<std::string> {
    if (!path.starts_with(prefix)) return std::nullopt;
    const std::string_view rest = path.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return fmt::format("{}{}", prefix, what);
    const std::string_view tail = rest.substr(slash);
    for (const std::string_view known : {"/mjpeg", "/snapshot.jpg", "/ws", "/crop.jpg"})
      if (tail == known) return fmt::format("{}{}{}", prefix, what, tail);
    return std::nullopt;
  };
  if (auto label = pattern("/api/v1/events/", "{id}")) return *label;
  if (auto label = pattern("/api/v1/streams/", "{id}")) return *label;
  if (auto label = pattern("/api/v1/cameras/", "{name}")) return *label;
  if (find_asset(path) != nullptr) return "/static";
  return "other";
}

void fail(beast::error_code ec, std::string_view what) {
  if (ec == net::error::operation_aborted || ec == beast::error::timeout || ec == net::error::eof ||
      ec == http::error::end_of_stream || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
      ec == beast::websocket::error::closed)
    return;
  log_line(fmt::format("{}: {}", what, ec.message()));
}

namespace {

using Response = http::response<http::string_body>;
using Clock = std::chrono::steady_clock;
namespace websocket = beast::websocket;

constexpr std::string_view kBoundary = "maskdetectframe";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kJson = "application/json";
constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;
constexpr std::size_t kDrainLimit = std::size_t{64} << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
/// Set on a request proxied to the camera's owner in the fleet: an owner never proxies it again.
constexpr std::string_view kViaHeader = "X-Maskdetect-Via";

std::string server_header() { return std::string("maskdetect/") + kVersion; }

Response make_response(unsigned status, unsigned version, bool keep_alive, std::string_view content_type,
                       std::string body) {
  Response res{static_cast<http::status>(status), version};
  res.set(http::field::server, server_header());
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response make_error(unsigned status, std::string_view code, std::string_view message, unsigned version,
                    bool keep_alive) {
  return make_response(status, version, keep_alive, kJson, error_json(status, code, message));
}

/// The bytes of a string, for maskdetect/image_io.hpp.
std::span<const unsigned char> as_bytes(const std::string& text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

}  // namespace

std::optional<ImageRejection> check_image_bytes(const std::string& bytes, std::string_view name,
                                                std::uint64_t max_pixels) {
  const ImageLimits limits = ImageLimits::network(max_pixels);
  try {
    (void)check_image(as_bytes(bytes), name, limits);
    return std::nullopt;
  } catch (const Error& e) {
    const auto format = sniff_image_format(as_bytes(bytes));
    const bool allowed =
        format && std::find(limits.formats.begin(), limits.formats.end(), *format) != limits.formats.end();
    if (!allowed) return ImageRejection{415, "unsupported_image_format", e.what()};
    const auto header = read_image_header(as_bytes(bytes));
    if (header && header->pixels() > max_pixels) return ImageRejection{413, "image_too_large", e.what()};
    return ImageRejection{400, "bad_image", e.what()};
  }
}

namespace {

/// Decodes `body`, detects, answers the SDK JSON or the annotated JPEG. Runs on an inference worker.
Response run_detect(ServerState& state, Detector& detector, std::string& body, unsigned version, bool keep_alive,
                    float threshold, bool annotated, Clock::time_point started) {
  try {
    cv::Mat image =
        decode_image(as_bytes(body), "the request body", ImageLimits::network(state.options.max_image_pixels));
    detector.set_face_threshold(threshold);
    const FrameResult result = detector.detect(image);
    state.stats.add_frame(0, result, std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    if (!annotated) return make_response(200, version, keep_alive, kJson, to_json(result, FrameInfo{}));
    draw_results(image, result);
    std::vector<unsigned char> jpeg;
    cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, state.options.jpeg_quality});
    Response res = make_response(200, version, keep_alive, "image/jpeg", std::string(jpeg.begin(), jpeg.end()));
    res.set("X-Faces", std::to_string(result.faces.size()));
    return res;
  } catch (const Error& e) {
    const bool bad = e.code() == Errc::bad_input;
    return make_error(bad ? 400 : 500, bad ? "bad_image" : to_string(e.code()), e.what(), version, keep_alive);
  } catch (const cv::Exception& e) {
    return make_error(400, "bad_image", std::string("the image cannot be decoded: ") + e.what(), version, keep_alive);
  } catch (const std::exception& e) {
    return make_error(500, "internal", e.what(), version, keep_alive);
  }
}

class HttpSession : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, std::shared_ptr<ServerState> state, SessionSlot slot,
              ServerState::Admission admission)
      : stream_(std::move(socket)),
        state_(std::move(state)),
        timer_(stream_.get_executor()),
        slot_(std::move(slot)),
        admission_(admission) {
    if (admission_ != ServerState::Admission::ok) ++state_->overflow;
  }
  ~HttpSession() override {
    if (key_ != 0) state_->untrack(key_);
    if (mjpeg_) --state_->mjpeg_viewers;
    if (admission_ != ServerState::Admission::ok) --state_->overflow;
  }
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  void run() {
    key_ = state_->track(weak_from_this());
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
  }

  void shutdown() override {
    net::post(stream_.get_executor(), beast::bind_front_handler(&HttpSession::on_shutdown, shared_from_this()));
  }

 private:
  [[nodiscard]] bool over_capacity() const noexcept { return admission_ != ServerState::Admission::ok; }

  /// Stopping: a session busy with a request answers it first (send() then closes); one that has received
  /// bytes of a request goes on reading it (bounded by the read deadline and the drain timeout); an idle
  /// one closes now.
  void on_shutdown() {
    if (mjpeg_) return do_close();
    if (busy_) return;
    beast::error_code ec;
    const std::size_t pending = stream_.socket().available(ec);
    if (!ec && (pending > 0 || buffer_.size() > 0 || (parser_ && parser_->got_some()))) return;
    do_close();
  }

  void do_read() {
    if (state_->stopping && buffer_.size() == 0) return do_close();
    parser_.emplace();
    parser_->body_limit(state_->options.body_limit_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    // A short deadline for the header (slow-header clients), the longer read timeout for the body.
    stream_.expires_after(std::min(state_->options.header_timeout, state_->options.read_timeout));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  /// Maps a read error to its answer; false when there is nothing to answer (the connection is closed).
  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) {
      return send_error_and_drain(
          413, "body_too_large",
          fmt::format("the request body is over the limit of {} bytes", state_->options.body_limit_bytes));
    }
    if (ec == http::error::header_limit)
      return send_error_and_drain(431, "header_too_large", "the request header is too large");
    if (ec.category() == http::make_error_code(http::error::bad_method).category())
      return send_error_and_drain(400, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()));
    fail(ec, "read");
    do_close();
  }

  /// The header is in: everything that can be refused is refused now, before any body byte is read.
  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    try {
      busy_ = true;
      request_started_ = Clock::now();
      const auto& header = parser_->get();
      const unsigned version = header.version();
      method_ = std::string(header.method_string());
      if (method_.size() > 16 || method_.empty()) method_ = "other";
      handler_ = handler_label(header.target().substr(0, header.target().find('?')));
      if (state_->options.log_requests)
        request_line_ = fmt::format("{} {}", header.method_string(), printable(video::redact_url(header.target())));
      if (!parse_target(header.target(), target_))
        return reject(400, "bad_path",
                      "malformed request target (bad escape, invalid UTF-8, backslash or '..' segment)");
      const std::string& path = target_.path;
      if (over_capacity()) {
        if ((path == "/healthz" || path == "/readyz") && parser_->is_done() &&
            (header.method() == http::verb::get || header.method() == http::verb::head)) {
          Response res = path == "/healthz" ? health_response(version, false) : readiness_response(version, false);
          return send(std::move(res), header.method() == http::verb::head);
        }
        const std::string message =
            admission_ == ServerState::Admission::client_full
                ? fmt::format("this client already has {} connections open", state_->options.max_sessions_per_client)
                : fmt::format("the server already has {} sessions open", state_->options.max_sessions);
        return reject(503, "too_many_sessions", message);
      }
      if ((path.starts_with("/api/") || path == "/metrics") &&
          !authorized(state_->options.token, header[http::field::authorization], target_.param("token"))) {
        Response res = make_error(401, "unauthorized", "a valid bearer token is required (Authorization: Bearer ...)",
                                  version, parser_->is_done() && header.keep_alive());
        res.set(http::field::www_authenticate, "Bearer realm=\"maskdetect\"");
        if (parser_->is_done()) return send(std::move(res));
        drain_ = true;
        res.keep_alive(false);
        return send(std::move(res));
      }
      if (parser_->is_done()) return on_read({}, 0);
      stream_.expires_after(state_->options.read_timeout);
      if (beast::iequals(header[http::field::expect], "100-continue")) {
        // curl and others wait for this before sending a large body.
        return net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                                beast::bind_front_handler(&HttpSession::on_continue, shared_from_this()));
      }
      do_read_body();
    } catch (const std::exception& e) {
      internal_error(e);
    }
  }

  void on_continue(beast::error_code ec, std::size_t) {
    if (ec) {
      fail(ec, "write");
      return do_close();
    }
    do_read_body();
  }

  void do_read_body() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    try {
      route(parser_->release());
    } catch (const std::exception& e) {  // nothing escapes a handler
      internal_error(e);
    }
  }

  void internal_error(const std::exception& e) {
    log_line(fmt::format("internal error on {}: {}", request_line_, e.what()));
    if (!res_ && !closed_) send_error_and_drain(500, "internal", "internal error");
  }

  /// Answers an error for a request whose body may not have been read.
  void reject(unsigned status, std::string_view code, std::string_view message) {
    if (parser_->is_done()) {
      const auto& header = parser_->get();
      return send(make_error(status, code, message, header.version(), header.keep_alive() && !over_capacity()));
    }
    send_error_and_drain(status, code, std::string(message));
  }

  static Response health_response(unsigned version, bool keep_alive) {
    const nlohmann::json doc = {{"status", "ok"}, {"version", kVersion}};
    return make_response(200, version, keep_alive, kJson, doc.dump());
  }

  [[nodiscard]] Response readiness_response(unsigned version, bool keep_alive) const {
    const ApiAnswer a = readiness(*state_);
    return make_response(a.status, version, keep_alive, a.content_type, a.body);
  }

  /// An API answer as a response (with its Allow header).
  static Response answer(const ApiAnswer& a, unsigned version, bool keep_alive) {
    Response res = make_response(a.status, version, keep_alive, a.content_type, a.body);
    if (!a.allow.empty()) res.set(http::field::allow, a.allow);
    return res;
  }

  /// A camera this server does not run: its live view comes from its owner in the fleet (the request is
  /// proxied to the owner's --advertise-url), else 404 (no such camera) or 503 (it waits for a worker).
  void remote_camera(Request&& req, std::string_view name) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive() && !websocket::is_upgrade(req);
    auto error = [&](unsigned status, std::string_view code, const std::string& message) {
      Response res = make_error(status, code, message, version, keep_alive);
      if (status == 503) res.set(http::field::retry_after, "2");
      send(std::move(res));
    };
    if (!state_->fleet) return error(404, "not_found", fmt::format("there is no camera '{}'", name));
    const FleetSnapshot snapshot = state_->fleet->snapshot();
    const FleetCamera* camera = snapshot.find(name);
    if (camera == nullptr) return error(404, "not_found", fmt::format("there is no camera '{}'", name));
    if (camera->mine)  // taken or handed back a moment ago
      return error(503, "no_frame_yet", fmt::format("camera '{}' is starting on this worker", name));
    if (!camera->enabled) return error(503, "camera_disabled", fmt::format("camera '{}' is disabled", name));
    if (camera->owner.empty())
      return error(503, "camera_unowned", fmt::format("camera '{}' waits for a worker to run it", name));
    if (!req[kViaHeader].empty())  // the owner we asked does not have it either: never proxy twice
      return error(503, "camera_moving", fmt::format("camera '{}' is moving between workers", name));
    const auto endpoint = parse_advertise_url(camera->owner_url);
    if (!endpoint)
      return error(502, "bad_owner_url",
                   fmt::format("camera '{}' runs on worker {} whose advertised URL '{}' cannot be used", name,
                               camera->owner, camera->owner_url));
    req.set(kViaHeader, state_->fleet->worker());
    busy_ = false;
    closed_ = true;  // the socket is the proxy's now
    stream_.expires_never();
    if (state_->options.log_requests)
      log_line(fmt::format("{} -> proxied to {} ({})", request_line_, camera->owner, camera->owner_url));
    start_proxy_session(stream_.release_socket(), std::move(req), state_, std::move(slot_), endpoint->host,
                        endpoint->port);
  }

  void route(Request&& req) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    auto error = [&](unsigned status, std::string_view code, std::string_view message) {
      send(make_error(status, code, message, version, keep_alive));
    };
    auto require = [&](http::verb verb) {
      if (req.method() == verb || (verb == http::verb::get && req.method() == http::verb::head)) return true;
      Response res =
          make_error(405, "method_not_allowed",
                     fmt::format("{} is not allowed here; use {}", req.method_string(), http::to_string(verb)), version,
                     keep_alive);
      res.set(http::field::allow, http::to_string(verb));
      send(std::move(res));
      return false;
    };
    auto upgrade_required = [&] {
      Response res = make_error(426, "upgrade_required", "this endpoint speaks WebSocket only", version, keep_alive);
      res.set(http::field::upgrade, "websocket");
      send(std::move(res));
    };

    const Target& target = target_;
    const std::string& path = target.path;
    const bool api = path.starts_with("/api/");

    if (websocket::is_upgrade(req)) return upgrade(std::move(req), target);

    if (path == "/healthz") {
      if (!require(http::verb::get)) return;
      return send(health_response(version, keep_alive), req.method() == http::verb::head);
    }
    if (path == "/readyz") {
      if (!require(http::verb::get)) return;
      return send(readiness_response(version, keep_alive), req.method() == http::verb::head);
    }
    if (path == "/metrics") {
      if (!require(http::verb::get)) return;
      return send(make_response(200, version, keep_alive, "text/plain; version=0.0.4; charset=utf-8",
                                state_->stats.to_prometheus(state_->gauges())),
                  req.method() == http::verb::head);
    }
    if (path == "/api/v1/stats") {
      if (!require(http::verb::get)) return;
      return send(make_response(200, version, keep_alive, kJson, state_->stats.to_json(state_->gauges())));
    }
    if (path == "/api/v1/info") {
      if (!require(http::verb::get)) return;
      return send(make_response(200, version, keep_alive, kJson, info_json()));
    }
    const bool token_configured = !state_->options.token.empty();
    if (path == "/api/v1/cameras") {
      if (req.method() == http::verb::post)
        return send(
            answer(handle_camera_change(*state_, "POST", "", req.body(), token_configured), version, keep_alive));
      if (req.method() != http::verb::get && req.method() != http::verb::head)
        return send(
            answer(ApiAnswer{405, std::string(kJson),
                             error_json(405, "method_not_allowed",
                                        fmt::format("{} is not allowed here; use GET or POST", req.method_string())),
                             "GET, POST"},
                   version, keep_alive));
      return send(make_response(200, version, keep_alive, kJson, cameras_json(*state_)),
                  req.method() == http::verb::head);
    }
    if (path == "/api/v1/history") {
      if (!require(http::verb::get)) return;
      const ApiAnswer a = handle_history_api(*state_, target, unix_now());
      return send(make_response(a.status, version, keep_alive, a.content_type, a.body),
                  req.method() == http::verb::head);
    }
    constexpr std::string_view kCameras = "/api/v1/cameras/";
    if (path.starts_with(kCameras)) {
      const std::string_view rest = std::string_view(path).substr(kCameras.size());
      const auto slash = rest.find('/');
      const std::string_view name = rest.substr(0, slash);
      if (slash == std::string_view::npos) {  // the camera itself: GET, PUT, DELETE
        if (req.method() == http::verb::get || req.method() == http::verb::head)
          return send(answer(camera_answer(*state_, name), version, keep_alive), req.method() == http::verb::head);
        if (req.method() == http::verb::put || req.method() == http::verb::delete_)
          return send(answer(handle_camera_change(*state_, req.method_string(), name, req.body(), token_configured),
                             version, keep_alive));
        return send(answer(
            ApiAnswer{405, std::string(kJson),
                      error_json(405, "method_not_allowed",
                                 fmt::format("{} is not allowed here; use GET, PUT or DELETE", req.method_string())),
                      "GET, PUT, DELETE"},
            version, keep_alive));
      }
      const std::string_view what = rest.substr(slash + 1);
      if (what != "mjpeg" && what != "snapshot.jpg" && what != "ws")
        return error(404, "not_found", fmt::format("no endpoint at {}", path));
      if (what == "ws") return upgrade_required();
      if (!require(http::verb::get)) return;
      const auto id = state_->camera_index(name);
      if (!id) return remote_camera(std::move(req), name);
      if (what == "mjpeg") return start_mjpeg(*id, version);
      const StreamFrame frame = state_->hub.latest(*id);
      if (!frame.jpeg) return error(503, "no_frame_yet", "the camera has not produced a frame yet");
      return send(make_response(200, version, keep_alive, "image/jpeg", *frame.jpeg), req.method() == http::verb::head);
    }
    if (path == "/api/v1/detect") {
      if (!require(http::verb::post)) return;
      return detect(std::move(req), target);
    }
    if (path == "/api/v1/ws") return upgrade_required();
    constexpr std::string_view kStreams = "/api/v1/streams/";
    if (path.starts_with(kStreams)) {
      std::size_t id = 0;
      std::string_view rest;
      if (!split_stream_path(std::string_view(path).substr(kStreams.size()), id, rest) ||
          (rest != "mjpeg" && rest != "snapshot.jpg" && rest != "ws"))
        return error(404, "not_found", fmt::format("no endpoint at {}", path));
      if (!state_->hub.contains(id))
        return error(404, "no_such_stream", fmt::format("there is no stream {} ({} running)", id, state_->hub.size()));
      if (rest == "ws") return upgrade_required();
      if (!require(http::verb::get)) return;
      if (rest == "mjpeg") return start_mjpeg(id, version);
      const StreamFrame frame = state_->hub.latest(id);
      if (!frame.jpeg) return error(503, "no_frame_yet", "the source has not produced a frame yet");
      return send(make_response(200, version, keep_alive, "image/jpeg", *frame.jpeg));
    }
    // Monitoring (issue 12): the events API lives in api_events.cpp.
    if (is_events_path(path)) {
      const ApiAnswer a =
          handle_events_api(state_->options.events.get(), req.method_string(), target, !state_->options.token.empty());
      Response res = make_response(a.status, version, keep_alive, a.content_type, a.body);
      if (!a.allow.empty()) res.set(http::field::allow, a.allow);
      return send(std::move(res), req.method() == http::verb::head);
    }
    if (api) return error(404, "not_found", fmt::format("no endpoint at {}", path));

    // The embedded web UI.
    const Asset* asset = find_asset(path == "/" ? std::string_view("/index.html") : std::string_view(path));
    if (asset == nullptr) return error(404, "not_found", fmt::format("no file at {}", path));
    if (!require(http::verb::get)) return;
    Response res = make_response(200, version, keep_alive, asset->content_type,
                                 std::string(reinterpret_cast<const char*>(asset->data), asset->size));
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    send(std::move(res), req.method() == http::verb::head);
  }

  std::string info_json() const {
    const ServerOptions& o = state_->options;
    nlohmann::json doc = {{"version", kVersion},
                          {"threshold", state_->default_threshold()},
                          {"auth", !o.token.empty()},
                          {"workers", state_->pool.workers()},
                          {"limits",
                           {{"body_bytes", o.body_limit_bytes},
                            {"max_sessions", o.max_sessions},
                            {"max_sessions_per_client", o.max_sessions_per_client},
                            {"max_image_pixels", o.max_image_pixels},
                            {"max_fps", o.max_fps},
                            {"read_timeout_ms", o.read_timeout.count()},
                            {"header_timeout_ms", o.header_timeout.count()},
                            {"idle_timeout_ms", o.idle_timeout.count()}}},
                          {"streams", nlohmann::json::array()}};
    if (state_->fleet) {
      const FleetSnapshot snapshot = state_->fleet->snapshot();
      doc["worker"] = snapshot.worker;
      doc["streams"] = fleet_streams_json(*state_, snapshot);
      return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    for (const std::size_t i : state_->hub.ids()) {
      const auto options = state_->hub.camera(i);
      if (!options) continue;
      const CameraOptions& camera = *options;
      nlohmann::json stream = {{"id", i},
                               {"name", camera.name},
                               {"source", state_->hub.description(i)},
                               {"threshold", state_->hub.threshold(i)},
                               {"fps_cap", camera.fps},
                               {"detector",
                                {{"backend", to_string(camera.config.detector.backend)},
                                 {"score_threshold", camera.config.detector.score_threshold},
                                 {"nms_threshold", camera.config.detector.nms_threshold},
                                 {"input_size", camera.config.detector.input_size}}},
                               {"mjpeg", fmt::format("/api/v1/streams/{}/mjpeg", i)},
                               {"snapshot", fmt::format("/api/v1/streams/{}/snapshot.jpg", i)},
                               {"ws", fmt::format("/api/v1/streams/{}/ws", i)}};
      // Cameras and streams are reopened with backoff: whether frames flow, and their outages so far.
      const StreamState source = state_->hub.state(i);
      stream["state"] = source.name();
      if (source.live) {
        stream["outages"] = source.status.outages;
        stream["downtime_s"] = source.status.downtime_s;
        stream["last_error"] = source.status.last_error;
      }
      doc["streams"].push_back(std::move(stream));
    }
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  void upgrade(Request&& req, const Target& target) {
    const unsigned version = req.version();
    WebSocketRoute ws;
    std::size_t id = 0;
    std::string_view rest;
    constexpr std::string_view kStreams = "/api/v1/streams/";
    if (target.path == "/api/v1/ws") {
      ws.camera = true;
      if (!parse_threshold(target.param("threshold"), state_->default_threshold(), ws.threshold))
        return send(make_error(400, "bad_parameter", "threshold must be a number in [0, 1]", version, false));
    } else if (target.path.starts_with(kStreams) &&
               split_stream_path(std::string_view(target.path).substr(kStreams.size()), id, rest) && rest == "ws") {
      if (!state_->hub.contains(id))
        return send(make_error(404, "no_such_stream", fmt::format("there is no stream {}", id), version, false));
      ws.camera = false;
      ws.stream_id = id;
    } else if (constexpr std::string_view kCameras = "/api/v1/cameras/";
               target.path.starts_with(kCameras) && target.path.ends_with("/ws") &&
               target.path.find('/', kCameras.size()) == target.path.size() - 3) {
      const std::string_view name =
          std::string_view(target.path).substr(kCameras.size(), target.path.size() - 3 - kCameras.size());
      const auto local = state_->camera_index(name);
      if (!local) {
        if (state_->stopping) return send(make_error(503, "stopping", "the server is stopping", version, false));
        return remote_camera(std::move(req), name);
      }
      ws.camera = false;
      ws.stream_id = *local;
    } else {
      return send(
          make_error(404, "not_found", fmt::format("no WebSocket endpoint at {}", target.path), version, false));
    }
    if (state_->stopping) return send(make_error(503, "stopping", "the server is stopping", version, false));
    busy_ = false;
    stream_.expires_never();
    state_->stats.add_response(method_, handler_, 101);
    if (state_->options.log_requests) log_line(fmt::format("{} -> 101", request_line_));
    start_websocket_session(stream_.release_socket(), std::move(req), state_, std::move(slot_), ws);
  }

  void detect(Request&& req, const Target& target) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const std::string type = media_type(req[http::field::content_type]);
    std::string body;
    if (type == "multipart/form-data") {
      std::string problem;
      const auto part = multipart_image(req[http::field::content_type], req.body(), problem);
      if (!part) return send(make_error(400, "bad_multipart", problem, version, keep_alive));
      body = std::string(*part);
    } else if (type == "image/jpeg" || type == "image/png" || type == "image/jpg" || type == "image/webp") {
      body = std::move(req.body());
    } else {
      return send(make_error(415, "unsupported_media_type",
                             fmt::format("POST a JPEG, PNG or WebP image with Content-Type image/jpeg, image/png or "
                                         "image/webp, or a multipart/form-data form with an image part, not '{}'",
                                         type),
                             version, keep_alive));
    }
    if (body.empty()) return send(make_error(400, "empty_body", "the request has no image", version, keep_alive));
    float threshold = 0.0f;
    if (!parse_threshold(target.param("threshold"), state_->default_threshold(), threshold))
      return send(make_error(400, "bad_parameter", "threshold must be a number in [0, 1]", version, keep_alive));
    const std::string annotated_param = target.param("annotated");
    const bool annotated = annotated_param == "1" || annotated_param == "true";
    // Format and size from the header, here on the I/O thread: nothing refused takes a worker or a decoder.
    if (auto rejection = check_image_bytes(body, "the request body", state_->options.max_image_pixels))
      return send(make_error(rejection->status, rejection->code, rejection->message, version, keep_alive));

    auto self = shared_from_this();
    auto job = [self, body = std::move(body), version, keep_alive, threshold, annotated,
                started = request_started_](Detector& detector) mutable {
      Response res = run_detect(*self->state_, detector, body, version, keep_alive, threshold, annotated, started);
      net::post(self->stream_.get_executor(), [self, r = std::move(res)]() mutable { self->send(std::move(r)); });
    };
    if (!state_->pool.submit(std::move(job))) {
      Response res = make_error(503, "busy", "the inference queue is full; retry shortly", version, keep_alive);
      res.set(http::field::retry_after, "1");
      send(std::move(res));
    }
  }

  void send(Response&& res, bool head_only = false) {
    if (closed_) return;
    if (state_->stopping || over_capacity()) res.keep_alive(false);
    state_->stats.add_response(method_, handler_, res.result_int());
    if (state_->options.log_requests) {
      log_line(fmt::format("{} -> {} ({:.1f} ms)", request_line_, res.result_int(),
                           std::chrono::duration<double, std::milli>(Clock::now() - request_started_).count()));
    }
    if (head_only) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    res_ = std::make_shared<Response>(std::move(res));
    stream_.expires_after(state_->options.read_timeout);
    const bool close = res_->need_eof();
    if (head_only) {
      head_sr_ = std::make_shared<http::response_serializer<http::string_body>>(*res_);
      return http::async_write_header(stream_, *head_sr_,
                                      beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), close));
    }
    http::async_write(stream_, *res_, beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, std::size_t) {
    busy_ = false;
    res_.reset();
    head_sr_.reset();
    if (ec) {
      fail(ec, "write");
      return do_close();
    }
    if (drain_) return do_drain();
    if (close || state_->stopping) return do_close();
    do_read();
  }

  /// Answers an error for a request whose body was not read, then reads and drops what the client still
  /// sends (bounded) before closing, so that the client sees the answer rather than a reset.
  void send_error_and_drain(unsigned status, std::string_view code, const std::string& message) {
    busy_ = true;
    drain_ = true;
    if (request_started_ == Clock::time_point{}) request_started_ = Clock::now();
    unsigned version = 11;
    if (parser_ && parser_->is_header_done()) version = parser_->get().version();
    send(make_error(status, code, message, version, false));
  }

  void do_drain() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(5));
    buffer_.consume(buffer_.size());
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > kDrainLimit) return do_close();
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::on_drain, shared_from_this()));
  }

  // --- MJPEG: multipart/x-mixed-replace, one part per new frame of the source, at most max_fps.
  void start_mjpeg(std::size_t id, unsigned version) {
    mjpeg_ = true;
    busy_ = false;
    ++state_->mjpeg_viewers;
    stream_id_ = id;
    mjpeg_header_ = std::make_shared<http::response<http::empty_body>>(http::status::ok, version);
    mjpeg_header_->set(http::field::server, server_header());
    mjpeg_header_->set(http::field::content_type, fmt::format("multipart/x-mixed-replace; boundary={}", kBoundary));
    mjpeg_header_->set(http::field::cache_control, "no-cache, no-store");
    mjpeg_header_->set(http::field::pragma, "no-cache");
    mjpeg_header_->keep_alive(false);
    mjpeg_sr_ = std::make_shared<http::response_serializer<http::empty_body>>(*mjpeg_header_);
    state_->stats.add_response(method_, handler_, 200);
    stream_.expires_after(state_->options.read_timeout);
    http::async_write_header(stream_, *mjpeg_sr_,
                             beast::bind_front_handler(&HttpSession::on_mjpeg_write, shared_from_this()));
  }

  void on_mjpeg_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "mjpeg write");
    if (closed_ || state_->stopping) return do_close();
    do_mjpeg_wait();
  }

  void do_mjpeg_wait() {
    const double fps = state_->options.max_fps > 0.0 ? state_->options.max_fps : 60.0;
    timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps)));
    timer_.async_wait(beast::bind_front_handler(&HttpSession::on_mjpeg_timer, shared_from_this()));
  }

  void on_mjpeg_timer(beast::error_code ec) {
    if (ec || closed_ || state_->stopping || !state_->hub.contains(stream_id_)) return do_close();
    StreamFrame frame = state_->hub.latest(stream_id_);
    if (!frame.jpeg || frame.seq == last_seq_) return do_mjpeg_wait();
    last_seq_ = frame.seq;
    part_jpeg_ = std::move(frame.jpeg);
    part_head_ =
        fmt::format("--{}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", kBoundary, part_jpeg_->size());
    const std::array<net::const_buffer, 3> buffers{net::buffer(part_head_), net::buffer(*part_jpeg_),
                                                   net::buffer(kCrlf.data(), kCrlf.size())};
    stream_.expires_after(state_->options.read_timeout);
    net::async_write(stream_, buffers, beast::bind_front_handler(&HttpSession::on_mjpeg_write, shared_from_this()));
  }

  void do_close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  net::steady_timer timer_;
  SessionSlot slot_;
  ServerState::Admission admission_ = ServerState::Admission::ok;
  std::uint64_t key_ = 0;
  Target target_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Response> res_;
  std::shared_ptr<http::response_serializer<http::string_body>> head_sr_;
  bool busy_ = false;
  bool closed_ = false;
  bool drain_ = false;
  std::size_t drained_ = 0;
  std::array<char, 16384> drain_buffer_{};
  Clock::time_point request_started_;
  std::string request_line_;
  std::string method_ = "other";  ///< metrics label of the request being answered
  std::string handler_ = "other";
  // MJPEG
  bool mjpeg_ = false;
  std::size_t stream_id_ = 0;
  std::uint64_t last_seq_ = 0;
  std::shared_ptr<http::response<http::empty_body>> mjpeg_header_;
  std::shared_ptr<http::response_serializer<http::empty_body>> mjpeg_sr_;
  std::string part_head_;
  std::shared_ptr<const std::string> part_jpeg_;
};

}  // namespace

void start_http_session(tcp::socket socket, std::shared_ptr<ServerState> state, SessionSlot slot,
                        ServerState::Admission admission) {
  std::make_shared<HttpSession>(std::move(socket), std::move(state), std::move(slot), admission)->run();
}

}  // namespace maskdetect::server::detail
