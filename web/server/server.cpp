// server.cpp - the listener, the Server (threads, graceful stop) and run_server (signals).
#include "server.hpp"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "fleet.hpp"
#include "maskdetect/error.hpp"
#include "session.hpp"

namespace maskdetect::server {

namespace detail {
namespace {

/// Accepts connections, each on its own strand, and starts an HTTP session for each.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, const tcp::endpoint& endpoint, std::shared_ptr<ServerState> state)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)), state_(std::move(state)) {
    beast::error_code ec;
    const std::string where = fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
    auto check = [&](std::string_view what) {
      if (ec) throw Error(Errc::io, fmt::format("cannot listen on {}: {}: {}", where, what, ec.message()));
    };
    acceptor_.open(endpoint.protocol(), ec);
    check("open");
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    check("set_option");
    acceptor_.bind(endpoint, ec);
    check("bind");
    acceptor_.listen(net::socket_base::max_listen_connections, ec);
    check("listen");
    port_ = acceptor_.local_endpoint(ec).port();
    check("local_endpoint");
  }

  [[nodiscard]] unsigned short port() const noexcept { return port_; }

  void run() { do_accept(); }

  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      fail(ec, "accept");
    } else if (state_->stopping) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      beast::error_code peer_ec;
      const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
      const std::string client = peer_ec ? std::string("unknown") : peer.address().to_string();
      const ServerState::Admission admission = state_->admit(client);
      if (admission == ServerState::Admission::ok) {
        start_http_session(std::move(socket), state_, SessionSlot(state_, client), admission);
      } else if (state_->overflow.load() >= 4 * state_->options.max_sessions + 64) {
        beast::error_code ignored;  // over the caps and as many short-lived answers pending: refuse outright
        socket.close(ignored);
      } else {
        start_http_session(std::move(socket), state_, SessionSlot{}, admission);
      }
    }
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<ServerState> state_;
  unsigned short port_ = 0;
};

}  // namespace
}  // namespace detail

namespace beast = boost::beast;
namespace net = boost::asio;

struct Server::Impl {
  explicit Impl(ServerOptions options)
      : state(std::make_shared<detail::ServerState>(std::move(options))),
        ioc(state->options.io_threads > 0 ? state->options.io_threads : 1) {
    beast::error_code ec;
    const auto address = net::ip::make_address(state->options.address, ec);
    if (ec) throw Error(Errc::bad_input, fmt::format("--listen: bad address '{}'", state->options.address));
    listener = std::make_shared<detail::Listener>(ioc, detail::tcp::endpoint(address, state->options.port), state);
    FleetOptions& fleet = state->options.fleet;
    if (!fleet.database.empty()) {
      // Without --advertise-url: the listening address, where it is one another worker can reach.
      if (fleet.advertise_url.empty()) {
        std::string host = state->options.address;
        if (address.is_unspecified()) host = net::ip::host_name();
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        fleet.advertise_url = fmt::format("http://{}:{}", host, listener->port());
      }
      state->fleet = std::make_unique<Fleet>(fleet, state->options.config, state->hub, state->stats);
    }
  }

  std::shared_ptr<detail::ServerState> state;
  detail::net::io_context ioc;
  std::shared_ptr<detail::Listener> listener;
  std::vector<std::thread> threads;
  /// Keeps the I/O threads running while sessions wait for an inference worker during a drain.
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::mutex mutex;
  std::condition_variable changed;
  bool started = false;
  bool stop_requested = false;
  bool joined = false;
  int running = 0;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  try {
    stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve: error while stopping: %s\n", e.what());
  }
}

unsigned short Server::port() const noexcept { return impl_->listener->port(); }

const ServerOptions& Server::options() const noexcept { return impl_->state->options; }

std::string Server::stats_json() const { return impl_->state->stats.to_json(impl_->state->gauges()); }

void Server::start() {
  const std::lock_guard lock(impl_->mutex);
  if (impl_->started) return;
  impl_->started = true;
  impl_->state->hub.start();
  if (impl_->state->fleet) impl_->state->fleet->start();
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->listener->run();
  const int n = impl_->state->options.io_threads > 0 ? impl_->state->options.io_threads : 1;
  impl_->running = n;
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] {
      for (;;) {
        try {
          impl->ioc.run();
          break;
        } catch (const std::exception& e) {  // nothing should escape a handler; keep serving if it does
          detail::log_line(fmt::format("unexpected exception in a handler: {}", e.what()));
        }
      }
      const std::lock_guard guard(impl->mutex);
      --impl->running;
      impl->changed.notify_all();
    });
  }
}

void Server::request_stop() {
  {
    const std::lock_guard lock(impl_->mutex);
    if (impl_->stop_requested) return;
    impl_->stop_requested = true;
  }
  impl_->state->stopping = true;
  if (impl_->state->fleet) impl_->state->fleet->drain();  // every camera handed back at once
  impl_->listener->stop();
  impl_->state->shutdown_all();
  impl_->changed.notify_all();
}

void Server::wait() {
  std::unique_lock lock(impl_->mutex);
  if (impl_->joined) return;
  if (!impl_->started) {
    lock.unlock();
    if (impl_->state->fleet) impl_->state->fleet->stop();
    impl_->state->pool.stop();
    impl_->state->hub.stop();
    lock.lock();
    impl_->joined = true;
    return;
  }
  impl_->changed.wait(lock, [this] { return impl_->stop_requested; });
  lock.unlock();
  // Drain: every request already received is answered (the inference pool still runs for them) and idle
  // sessions close; bounded by drain_timeout.
  const auto drain_deadline = std::chrono::steady_clock::now() + impl_->state->options.drain_timeout;
  while (impl_->state->live_sessions() > 0 && std::chrono::steady_clock::now() < drain_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (const std::size_t left = impl_->state->live_sessions(); left > 0)
    detail::log_line(fmt::format("stop: {} session(s) still open after the drain timeout", left));
  if (impl_->state->fleet) impl_->state->fleet->stop();
  // Workers finish the frames already queued (their answers are posted to the sessions' strands).
  impl_->state->pool.stop();
  impl_->state->hub.stop();
  impl_->work.reset();
  lock.lock();
  // Sessions close on their own (close handshakes, drains); give them a moment, then cut.
  if (!impl_->changed.wait_for(lock, std::chrono::seconds(3), [this] { return impl_->running == 0; })) {
    detail::log_line("stop: sessions still open after 3 s; closing them");
    impl_->ioc.stop();
  }
  lock.unlock();
  for (std::thread& thread : impl_->threads) {
    if (thread.joinable()) thread.join();
  }
  lock.lock();
  impl_->joined = true;
}

void Server::stop() {
  request_stop();
  wait();
}

int run_server(ServerOptions options, const std::function<void(const Server&)>& on_ready,
               const std::function<void()>& on_stopped) {
  Server server(std::move(options));
  boost::asio::io_context signal_ioc;
  boost::asio::signal_set signals(signal_ioc, SIGINT, SIGTERM);
  signals.async_wait([&server](const beast::error_code& ec, int signal) {
    if (ec) return;
    detail::log_line(fmt::format("signal {} received: stopping", signal));
    server.request_stop();
  });
  server.start();
  if (on_ready) on_ready(server);
  signal_ioc.run();
  server.wait();
  if (on_stopped) on_stopped();
  detail::log_line("stopped");
  return 0;
}

}  // namespace maskdetect::server
