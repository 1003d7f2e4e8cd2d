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

#include "api_events.hpp"
#include "assets.hpp"
#include "maskdetect/annotate.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/version.hpp"
#include "session.hpp"

namespace maskdetect::server::detail {

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

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

/// The media type of a Content-Type value, lower case, without parameters or spaces.
std::string media_type(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return lower(value);
}

/// "<id>/<rest>" after /api/v1/streams/: the id and the rest; false when the id is not a number.
bool split_stream_path(std::string_view tail, std::size_t& id, std::string_view& rest) {
  const auto slash = tail.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view digits = tail.substr(0, slash);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  rest = tail.substr(slash + 1);
  return true;
}

/// Decodes `body`, detects, answers the SDK JSON or the annotated JPEG. Runs on an inference worker.
Response run_detect(ServerState& state, Detector& detector, std::string& body, unsigned version, bool keep_alive,
                    float threshold, bool annotated, Clock::time_point started) {
  try {
    const cv::Mat bytes(1, static_cast<int>(body.size()), CV_8UC1, body.data());
    cv::Mat image = cv::imdecode(bytes, cv::IMREAD_COLOR);
    if (image.empty())
      return make_error(400, "bad_image", "the body is not a decodable JPEG or PNG image", version, keep_alive);
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
  HttpSession(tcp::socket&& socket, std::shared_ptr<ServerState> state, bool over_capacity)
      : stream_(std::move(socket)),
        state_(std::move(state)),
        timer_(stream_.get_executor()),
        over_capacity_(over_capacity) {
    if (!over_capacity_) slot_ = SessionSlot(state_);
  }
  ~HttpSession() override {
    if (key_ != 0) state_->untrack(key_);
    if (mjpeg_) --state_->mjpeg_viewers;
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
  void on_shutdown() {
    if (busy_ && !mjpeg_) return;  // closes once its response is written (on_write checks stopping)
    do_close();
  }

  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->options.body_limit_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    stream_.expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) {
      return send_error_and_drain(
          413, "body_too_large",
          fmt::format("the request body is over the limit of {} bytes", state_->options.body_limit_bytes));
    }
    if (ec == http::error::header_limit)
      return send_error_and_drain(431, "header_too_large", "the request header is too large");
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category())
      return send_error_and_drain(400, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()));
    if (ec) return fail(ec, "read");

    busy_ = true;
    request_started_ = Clock::now();
    Request req = parser_->release();
    if (state_->options.log_requests) request_line_ = fmt::format("{} {}", req.method_string(), req.target());
    if (over_capacity_) {
      return send(make_error(503, "too_many_sessions",
                             fmt::format("the server already has {} sessions open", state_->options.max_sessions),
                             req.version(), false));
    }
    route(std::move(req));
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

    Target target;
    if (!parse_target(req.target(), target))
      return error(400, "bad_path", "malformed request target (bad escape, backslash or '..' segment)");
    const std::string& path = target.path;
    const bool api = path.starts_with("/api/");
    if ((api || path == "/metrics") &&
        !authorized(state_->options, req[http::field::authorization], target.param("token"))) {
      Response res = make_error(401, "unauthorized", "a valid bearer token is required (Authorization: Bearer ...)",
                                version, keep_alive);
      res.set(http::field::www_authenticate, "Bearer realm=\"maskdetect\"");
      return send(std::move(res));
    }

    if (websocket::is_upgrade(req)) return upgrade(std::move(req), target);

    if (path == "/healthz") {
      if (!require(http::verb::get)) return;
      const nlohmann::json doc = {{"status", "ok"}, {"version", kVersion}};
      return send(make_response(200, version, keep_alive, kJson, doc.dump()), req.method() == http::verb::head);
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
    if (path == "/api/v1/detect") {
      if (!require(http::verb::post)) return;
      return detect(std::move(req), target);
    }
    constexpr std::string_view kStreams = "/api/v1/streams/";
    if (path.starts_with(kStreams)) {
      std::size_t id = 0;
      std::string_view rest;
      if (!split_stream_path(std::string_view(path).substr(kStreams.size()), id, rest) ||
          (rest != "mjpeg" && rest != "snapshot.jpg" && rest != "ws"))
        return error(404, "not_found", fmt::format("no endpoint at {}", path));
      if (id >= state_->hub.size())
        return error(404, "no_such_stream",
                     fmt::format("there is no stream {} ({} configured)", id, state_->hub.size()));
      if (rest == "ws") return error(426, "upgrade_required", "this endpoint speaks WebSocket only");
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
                            {"max_fps", o.max_fps},
                            {"read_timeout_ms", o.read_timeout.count()},
                            {"idle_timeout_ms", o.idle_timeout.count()}}},
                          {"streams", nlohmann::json::array()}};
    for (std::size_t i = 0; i < state_->hub.size(); ++i) {
      nlohmann::json stream = {{"id", i},
                               {"name", state_->hub.description(i)},
                               {"threshold", state_->hub.threshold(i)},
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
    return doc.dump();
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
      if (id >= state_->hub.size())
        return send(make_error(404, "no_such_stream", fmt::format("there is no stream {}", id), version, false));
      ws.camera = false;
      ws.stream_id = id;
    } else {
      return send(
          make_error(404, "not_found", fmt::format("no WebSocket endpoint at {}", target.path), version, false));
    }
    busy_ = false;
    stream_.expires_never();
    state_->stats.add_response(101);
    start_websocket_session(stream_.release_socket(), std::move(req), state_, std::move(slot_), ws);
  }

  void detect(Request&& req, const Target& target) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const std::string type = media_type(req[http::field::content_type]);
    if (type != "image/jpeg" && type != "image/png" && type != "image/jpg") {
      return send(
          make_error(415, "unsupported_media_type",
                     fmt::format("POST a JPEG or PNG image with Content-Type image/jpeg or image/png, not '{}'", type),
                     version, keep_alive));
    }
    if (req.body().empty()) return send(make_error(400, "empty_body", "the request has no image", version, keep_alive));
    float threshold = 0.0f;
    if (!parse_threshold(target.param("threshold"), state_->default_threshold(), threshold))
      return send(make_error(400, "bad_parameter", "threshold must be a number in [0, 1]", version, keep_alive));
    const std::string annotated_param = target.param("annotated");
    const bool annotated = annotated_param == "1" || annotated_param == "true";

    auto self = shared_from_this();
    auto job = [self, body = std::move(req.body()), version, keep_alive, threshold, annotated,
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
    state_->stats.add_response(res.result_int());
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
    if (ec) return fail(ec, "write");
    if (drain_) return do_drain();
    if (close || state_->stopping) return do_close();
    do_read();
  }

  /// Answers an error for a request whose body was not read, then reads and drops what the client still
  /// sends (bounded) before closing, so that the client sees the answer rather than a reset.
  void send_error_and_drain(unsigned status, std::string_view code, const std::string& message) {
    busy_ = true;
    drain_ = true;
    request_started_ = Clock::now();
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
    state_->stats.add_response(200);
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
    if (ec || closed_ || state_->stopping) return do_close();
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
  bool over_capacity_ = false;
  std::uint64_t key_ = 0;
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

void start_http_session(tcp::socket socket, std::shared_ptr<ServerState> state, bool over_capacity) {
  std::make_shared<HttpSession>(std::move(socket), std::move(state), over_capacity)->run();
}

}  // namespace maskdetect::server::detail
