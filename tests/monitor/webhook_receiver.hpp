// A real HTTP webhook receiver on 127.0.0.1 for the monitoring tests (a small Beast server on its own thread):
// answers 200, or an error status to the first requests, or never answers (accepts, reads, holds the
// connection). Records what it got and when.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace maskdetect::test {

class Receiver {
 public:
  enum class Mode { answer, silent };
  struct Got {
    std::string body;
    std::string signature;
    std::string content_type;
    std::string delivery;  ///< X-Maskdetect-Delivery
    std::chrono::steady_clock::time_point at;
    double unix = 0.0;  ///< when it came, Unix seconds (to compare with an event's "created")
  };

  /// Answers `fail_status` to the first `failures` requests, then 200; in silent mode never answers. Listens on
  /// `port` (0: a free one).
  explicit Receiver(int failures = 0, Mode mode = Mode::answer, unsigned fail_status = 500, unsigned short port = 0)
      : acceptor_(ioc_), failures_(failures), mode_(mode), fail_status_(fail_status) {
    namespace net = boost::asio;
    const net::ip::tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stopping_ = true;
    boost::beast::error_code ec;
    boost::asio::ip::tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes accept()
    thread_.join();
    {
      const std::lock_guard lock(mutex_);
      for (const auto& socket : sockets_) socket->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
    for (std::thread& t : connections_) t.join();
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  [[nodiscard]] unsigned short port() const { return acceptor_.local_endpoint().port(); }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
  std::vector<Got> received() {
    const std::lock_guard lock(mutex_);
    return received_;
  }
  std::size_t count() {
    const std::lock_guard lock(mutex_);
    return received_.size();
  }

 private:
  void serve() {
    while (!stopping_) {
      boost::beast::error_code ec;
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) break;
      {
        const std::lock_guard lock(mutex_);
        sockets_.push_back(socket);
      }
      connections_.emplace_back([this, socket] { serve_connection(*socket); });
    }
  }

  /// Keep-alive: every request of the connection until the client closes it (silent: read, never answered).
  void serve_connection(boost::asio::ip::tcp::socket& socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    for (;;) {
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      {
        const std::lock_guard lock(mutex_);
        received_.push_back(
            Got{req.body(), std::string(req["X-Maskdetect-Signature"]), std::string(req[http::field::content_type]),
                std::string(req["X-Maskdetect-Delivery"]), std::chrono::steady_clock::now(),
                std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()});
      }
      if (mode_ == Mode::silent) continue;  // the client gives up at its timeout
      unsigned status = 200;
      {
        const std::lock_guard lock(mutex_);
        if (failures_ > 0) {
          status = fail_status_;
          --failures_;
        }
      }
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.body() = "ok";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int failures_;
  Mode mode_;
  unsigned fail_status_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<Got> received_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> connections_;  ///< accept thread only, joined after it
  std::thread thread_;
};

}  // namespace maskdetect::test
