// websocket_session.cpp - one WebSocket connection.
//
//  * /api/v1/ws (browser camera): each binary message is a JPEG/PNG frame; the answer is a text message with
//    the SDK JSON of its faces, or {"error": {...}} (rate_limited, busy, bad_image). One frame at a time.
//  * /api/v1/streams/<id>/ws: the server pushes the SDK JSON of each new frame of source <id>.
//  Both accept text messages {"threshold": 0.6} (answered {"threshold": 0.6}).
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/image_io.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/version.hpp"
#include "session.hpp"

namespace maskdetect::server::detail {

namespace {

namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using Message = std::shared_ptr<const std::string>;

constexpr std::size_t kMaxQueuedMessages = 16;

Message make_message(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

Message error_message(unsigned status, std::string_view code, std::string_view text) {
  return make_message(error_json(status, code, text));
}

class WebSocketSession : public Session, public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(tcp::socket&& socket, std::shared_ptr<ServerState> state, SessionSlot slot, WebSocketRoute route)
      : ws_(std::move(socket)),
        state_(std::move(state)),
        slot_(std::move(slot)),
        route_(route),
        timer_(ws_.get_executor()),
        threshold_(route.threshold) {
    ++state_->websocket_sessions;
  }
  ~WebSocketSession() override {
    --state_->websocket_sessions;
    if (key_ != 0) state_->untrack(key_);
  }
  WebSocketSession(const WebSocketSession&) = delete;
  WebSocketSession& operator=(const WebSocketSession&) = delete;

  void run(Request req) {
    key_ = state_->track(weak_from_this());
    const ServerOptions& o = state_->options;
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::duration_cast<websocket::stream_base::duration>(o.read_timeout);
    timeout.idle_timeout = std::chrono::duration_cast<websocket::stream_base::duration>(o.idle_timeout);
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, std::string("maskdetect/") + kVersion); }));
    ws_.read_message_max(o.body_limit_bytes);
    ws_.auto_fragment(false);
    request_ = std::move(req);
    net::dispatch(ws_.get_executor(), beast::bind_front_handler(&WebSocketSession::do_accept, shared_from_this()));
  }

  void shutdown() override {
    net::post(ws_.get_executor(), beast::bind_front_handler(&WebSocketSession::on_shutdown, shared_from_this()));
  }

 private:
  void do_accept() {
    ws_.async_accept(request_, beast::bind_front_handler(&WebSocketSession::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec) {
    request_ = {};
    if (ec) return fail(ec, "websocket accept");
    accepted_ = true;
    if (closing_) return do_close();
    do_read();
    if (!route_.camera) do_wait();
  }

  void on_shutdown() {
    closing_ = true;
    timer_.cancel();
    if (accepted_ && !writing_) do_close();
  }

  void do_read() { ws_.async_read(buffer_, beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this())); }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      timer_.cancel();
      return fail(ec, "websocket read");
    }
    if (closing_) return;
    if (ws_.got_text()) {
      on_text(beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      return do_read();
    }
    if (!route_.camera) {
      buffer_.consume(buffer_.size());
      send(error_message(400, "unexpected_frame", "a stream WebSocket takes only text messages ({\"threshold\": x})"));
      return do_read();
    }
    on_frame();
  }

  void on_text(const std::string& text) {
    const std::optional<float> parsed = parse_control_message(text);
    if (!parsed) return send(error_message(400, "bad_message", "expected {\"threshold\": x} with x in [0, 1]"));
    const float threshold = *parsed;
    if (route_.camera) {
      threshold_ = threshold;
    } else {
      state_->hub.set_threshold(route_.stream_id, threshold);
    }
    send(make_message(nlohmann::json{{"threshold", threshold}}.dump()));
  }

  /// A binary message on the camera endpoint: one image to detect on.
  void on_frame() {
    const double max_fps = state_->options.max_fps;
    const auto now = Clock::now();
    if (max_fps > 0.0 && frames_accepted_ > 0 &&
        std::chrono::duration<double>(now - last_frame_).count() < 1.0 / max_fps) {
      buffer_.consume(buffer_.size());
      send(error_message(429, "rate_limited",
                         fmt::format("more than {} frames per second on this session; frame dropped", max_fps)));
      return do_read();
    }
    last_frame_ = now;
    ++frames_accepted_;
    const std::int64_t index = frame_index_++;
    std::string bytes = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    // Format and size from the header: nothing refused takes a worker or a decoder.
    if (auto rejection = check_image_bytes(bytes, fmt::format("frame {}", index), state_->options.max_image_pixels)) {
      send(error_message(rejection->status, rejection->code, rejection->message));
      return do_read();
    }
    auto self = shared_from_this();
    auto job = [self, bytes = std::move(bytes), threshold = threshold_, index,
                started = now](Detector& detector) mutable {
      Message reply = self->detect(detector, bytes, threshold, index, started);
      net::post(self->ws_.get_executor(), [self, m = std::move(reply)]() mutable {
        self->send(std::move(m));
        if (!self->closing_) self->do_read();
      });
    };
    if (!state_->pool.submit(std::move(job))) {
      send(error_message(503, "busy", "the inference queue is full; frame dropped"));
      do_read();
    }
  }

  /// Runs on an inference worker.
  Message detect(Detector& detector, std::string& bytes, float threshold, std::int64_t index,
                 Clock::time_point started) {
    try {
      const cv::Mat image =
          decode_image({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()},
                       fmt::format("frame {}", index), ImageLimits::network(state_->options.max_image_pixels));
      detector.set_face_threshold(threshold);
      const FrameResult result = detector.detect(image);
      state_->stats.add_frame(0, result, std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      return make_message(to_json(result, FrameInfo{.image = {}, .frame = index}));
    } catch (const Error& e) {
      const bool bad = e.code() == Errc::bad_input;
      return error_message(bad ? 400 : 500, bad ? "bad_image" : to_string(e.code()), e.what());
    } catch (const std::exception& e) {
      return error_message(500, "internal", e.what());
    }
  }

  // --- stream mode: poll the source's latest frame at most max_fps times a second.
  void do_wait() {
    const double fps = state_->options.max_fps > 0.0 ? state_->options.max_fps : 60.0;
    timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps)));
    timer_.async_wait(beast::bind_front_handler(&WebSocketSession::on_timer, shared_from_this()));
  }

  void on_timer(beast::error_code ec) {
    if (ec || closing_) return;
    if (!state_->hub.contains(route_.stream_id)) return on_shutdown();  // the camera stopped (moved away)
    const StreamFrame frame = state_->hub.latest(route_.stream_id, false);
    if (frame.json && frame.seq != last_seq_ && queue_.empty()) {  // a slow viewer skips frames
      last_seq_ = frame.seq;
      send(frame.json);
    }
    do_wait();
  }

  // --- writes: one at a time, from a bounded queue.
  void send(Message message) {
    if (closing_ && !writing_) return;
    if (queue_.size() >= kMaxQueuedMessages) return;  // the viewer is not keeping up: drop
    queue_.push_back(std::move(message));
    if (!writing_) do_write();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      timer_.cancel();
      return fail(ec, "websocket write");
    }
    queue_.pop_front();
    if (closing_) return do_close();
    if (!queue_.empty()) do_write();
  }

  void do_close() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(websocket::close_reason(websocket::close_code::going_away, "server stopping"),
                    beast::bind_front_handler(&WebSocketSession::on_close, shared_from_this()));
  }

  void on_close(beast::error_code ec) {
    if (ec) fail(ec, "websocket close");
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::shared_ptr<ServerState> state_;
  SessionSlot slot_;
  WebSocketRoute route_;
  net::steady_timer timer_;
  Request request_;
  std::uint64_t key_ = 0;
  std::deque<Message> queue_;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  float threshold_ = 0.5f;
  std::int64_t frame_index_ = 0;
  std::int64_t frames_accepted_ = 0;
  Clock::time_point last_frame_{};
  std::uint64_t last_seq_ = 0;
};

}  // namespace

void start_websocket_session(tcp::socket socket, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
                             WebSocketRoute route) {
  std::make_shared<WebSocketSession>(std::move(socket), std::move(state), std::move(slot), route)
      ->run(std::move(request));
}

}  // namespace maskdetect::server::detail
