// fleet_proxy.cpp - the live view of a camera that another fleet worker runs (MJPEG, snapshot, WebSocket):
// the request goes to that worker's --advertise-url and the bytes are relayed both ways, so that one
// Kubernetes Service in front of all the workers serves every camera. See session.hpp.
#include <array>
#include <chrono>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "maskdetect/version.hpp"
#include "session.hpp"

namespace maskdetect::server::detail {

namespace {

class ProxySession : public Session, public std::enable_shared_from_this<ProxySession> {
 public:
  ProxySession(tcp::socket&& client, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
               std::string host, unsigned short port)
      : client_(std::move(client)),
        upstream_(client_.get_executor()),
        resolver_(client_.get_executor()),
        request_(std::move(request)),
        state_(std::move(state)),
        slot_(std::move(slot)),
        host_(std::move(host)),
        port_(port) {}
  ~ProxySession() override {
    if (key_ != 0) state_->untrack(key_);
  }
  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  void run() {
    key_ = state_->track(weak_from_this());
    net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->do_resolve(); });
  }

  void shutdown() override {
    net::post(client_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  void do_resolve() {
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [self = shared_from_this()](beast::error_code ec, const tcp::resolver::results_type& results) {
          self->on_resolve(ec, results);
        });
  }

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec) return refuse(ec);
    upstream_.expires_after(std::chrono::seconds(5));
    upstream_.async_connect(
        results, [self = shared_from_this()](beast::error_code e, const tcp::endpoint&) { self->on_connect(e); });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return refuse(ec);
    // One request per connection: the relay ends when either side closes.
    if (!beast::websocket::is_upgrade(request_)) request_.keep_alive(false);
    upstream_.expires_after(state_->options.read_timeout);
    http::async_write(upstream_, request_,
                      [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_sent(e); });
  }

  void on_sent(beast::error_code ec) {
    if (ec) return refuse(ec);
    upstream_.expires_never();
    client_.expires_never();
    relay(client_, upstream_, to_upstream_);
    relay(upstream_, client_, to_client_);
  }

  /// Copies what `from` sends to `to`, until either closes.
  void relay(beast::tcp_stream& from, beast::tcp_stream& to, std::array<char, 16384>& buffer) {
    from.async_read_some(net::buffer(buffer),
                         [self = shared_from_this(), &from, &to, &buffer](beast::error_code ec, std::size_t n) {
                           if (ec || self->closed_) return self->close();
                           net::async_write(to, net::buffer(buffer.data(), n),
                                            [self, &from, &to, &buffer](beast::error_code e, std::size_t) {
                                              if (e || self->closed_) return self->close();
                                              self->relay(from, to, buffer);
                                            });
                         });
  }

  /// The owner cannot be reached: 502 to the client.
  void refuse(beast::error_code ec) {
    log_line(fmt::format("fleet: the camera's owner at {}:{} cannot be reached: {}", host_, port_, ec.message()));
    auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_gateway, request_.version());
    res->set(http::field::server, std::string("maskdetect/") + kVersion);
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    res->set(http::field::retry_after, "2");
    res->keep_alive(false);
    res->body() = error_json(
        502, "owner_unreachable",
        fmt::format("the worker running this camera ({}:{}) does not answer: {}", host_, port_, ec.message()));
    res->prepare_payload();
    state_->stats.add_response(request_.method_string(), "proxy", 502);
    client_.expires_after(state_->options.read_timeout);
    http::async_write(client_, *res,
                      [self = shared_from_this(), res](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    resolver_.cancel();
    client_.socket().shutdown(tcp::socket::shutdown_both, ec);
    client_.close();
    upstream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    upstream_.close();
  }

  beast::tcp_stream client_;
  beast::tcp_stream upstream_;
  tcp::resolver resolver_;
  Request request_;
  std::shared_ptr<ServerState> state_;
  SessionSlot slot_;
  std::string host_;
  unsigned short port_;
  std::uint64_t key_ = 0;
  bool closed_ = false;
  std::array<char, 16384> to_upstream_{};
  std::array<char, 16384> to_client_{};
};

}  // namespace

void start_proxy_session(tcp::socket socket, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
                         std::string host, unsigned short port) {
  std::make_shared<ProxySession>(std::move(socket), std::move(request), std::move(state), std::move(slot),
                                 std::move(host), port)
      ->run();
}

}  // namespace maskdetect::server::detail
