// Webhooks against a local receiver (a small Beast server in a thread) that fails the first attempts, a dead
// port and a receiver that never answers.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "process_support.hpp"
#include "webhook_sender.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using maskdetect::server::WebhookConfig;
using maskdetect::server::WebhookSender;

namespace {

/// Answers 500 to the first `failures` requests, then 200 (or never answers when `silent`). Records what it got.
class Receiver {
 public:
  explicit Receiver(int failures, bool silent = false)
      : acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}), failures_(failures), silent_(silent) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wakes accept()
    thread_.join();
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }
  struct Got {
    std::string body;
    std::string signature;
    std::string content_type;
  };
  std::vector<Got> received() {
    const std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    std::vector<tcp::socket> held;  // silent mode: connections kept open, never answered
    while (!stopping_) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) break;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      {
        const std::lock_guard lock(mutex_);
        received_.push_back(
            Got{req.body(), std::string(req["X-Maskdetect-Signature"]), std::string(req[http::field::content_type])});
      }
      if (silent_) {
        held.push_back(std::move(socket));
        continue;
      }
      http::response<http::string_body> res{failures_ > 0 ? http::status::internal_server_error : http::status::ok, 11};
      if (failures_ > 0) --failures_;
      res.body() = "ok";
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  int failures_;
  bool silent_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<Got> received_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("webhook HMAC-SHA256 matches RFC 4231 test case 2", "[monitor]") {
  CHECK(maskdetect::server::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhooks: retried with backoff until the receiver accepts, signed with the secret", "[monitor]") {
  Receiver receiver(2);  // two 500s, then 200
  WebhookConfig hook;
  hook.url = receiver.url();
  hook.secret = "shh";
  hook.retries = 3;
  hook.backoff_s = 0.05;
  WebhookSender sender({hook});
  const std::string body = R"({"id":1,"camera":"door","label":"no_mask"})";
  CHECK(sender.send("door", body));
  sender.drain();
  const auto counters = sender.counters();
  CHECK(counters.delivered == 1);
  CHECK(counters.failed == 0);
  CHECK(counters.attempts == 3);
  const auto got = receiver.received();
  REQUIRE(got.size() == 3);
  for (const auto& g : got) {
    CHECK(g.body == body);
    CHECK(g.content_type == "application/json");
    CHECK(g.signature == "sha256=" + maskdetect::server::hmac_sha256_hex("shh", body));
  }
}

TEST_CASE("webhooks: a dead port is given up after the retries; camera filters apply", "[monitor]") {
  WebhookConfig dead;
  dead.url = "http://127.0.0.1:" + std::to_string(maskdetect::test::free_port()) + "/hook";
  dead.retries = 2;
  dead.backoff_s = 0.01;
  dead.cameras = {"door"};
  WebhookSender sender({dead});
  CHECK(sender.send("hall", "{}"));  // not this hook's camera: nothing queued
  CHECK(sender.send("door", "{}"));
  sender.drain();
  const auto counters = sender.counters();
  CHECK(counters.delivered == 0);
  CHECK(counters.failed == 1);
  CHECK(counters.attempts == 3);
}

TEST_CASE("webhooks: a receiver that never answers does not block send(); the bounded queue drops", "[monitor]") {
  Receiver receiver(0, true);
  WebhookConfig hook;
  hook.url = receiver.url();
  hook.timeout_s = 2.0;
  hook.retries = 0;
  WebhookSender sender({hook}, 4);
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += sender.send("door", "{}") ? 1 : 0;
  // At most the queue (4) plus the one the worker took; the rest dropped, counted, and send() returned.
  CHECK(accepted <= 5);
  CHECK(accepted >= 4);
  CHECK(sender.counters().dropped == 20 - accepted);
}
