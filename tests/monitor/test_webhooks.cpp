// Webhooks against real HTTP receivers on loopback (webhook_receiver.hpp) with the real SQLite outbox: retries
// and signatures, a dead port, a 4xx refusal, a receiver that never answers next to a working one, the bound,
// and deliveries left in the outbox by a stopped sender made by the next one.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "process_support.hpp"
#include "sqlite_outbox.hpp"
#include "webhook_receiver.hpp"
#include "webhook_sender.hpp"

using maskdetect::server::SqliteOutbox;
using maskdetect::server::WebhookConfig;
using maskdetect::server::WebhookSender;
using maskdetect::test::Receiver;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<SqliteOutbox> outbox_in(const maskdetect::test::TempDir& dir) {
  return std::make_shared<SqliteOutbox>(dir / "outbox.db");
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

template <typename F>
bool eventually(F done, double seconds = 30.0) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

}  // namespace

TEST_CASE("webhook HMAC-SHA256 matches RFC 4231 test case 2", "[monitor]") {
  CHECK(maskdetect::server::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhooks: retried with backoff until the receiver accepts (signed with one delivery id)", "[monitor]") {
  const maskdetect::test::TempDir dir;
  Receiver receiver(2);  // two 500s, then 200
  WebhookConfig hook;
  hook.url = receiver.url();
  hook.secret = "shh";
  hook.retries = 3;
  hook.backoff_s = 0.05;
  WebhookSender sender({hook}, outbox_in(dir));
  const std::string body = R"({"id":1,"camera":"door","label":"no_mask"})";
  CHECK(sender.send("door", body) == 1);
  sender.drain();
  const auto counters = sender.counters(0);
  CHECK(counters.delivered == 1);
  CHECK(counters.failed == 0);
  CHECK(counters.attempts == 3);
  CHECK(counters.pending == 0);
  CHECK(sender.name(0) == "webhook0");
  const auto got = receiver.received();
  REQUIRE(got.size() == 3);
  for (const auto& g : got) {
    CHECK(g.body == body);
    CHECK(g.content_type == "application/json");
    CHECK(g.signature == "sha256=" + maskdetect::server::hmac_sha256_hex("shh", body));
    CHECK(g.delivery == got.front().delivery);  // the same delivery on every attempt
  }
  CHECK(!got.front().delivery.empty());
  // The backoff doubles: 0.05 s, then 0.1 s.
  CHECK(std::chrono::duration<double>(got[1].at - got[0].at).count() >= 0.045);
  CHECK(std::chrono::duration<double>(got[2].at - got[1].at).count() >= 0.095);
}

TEST_CASE("webhooks: a dead port is given up after the retries and camera filters apply", "[monitor]") {
  const maskdetect::test::TempDir dir;
  WebhookConfig dead;
  dead.url = "http://127.0.0.1:" + std::to_string(maskdetect::test::free_port()) + "/hook";
  dead.retries = 2;
  dead.backoff_s = 0.01;
  dead.cameras = {"door"};
  WebhookSender sender({dead}, outbox_in(dir));
  CHECK(sender.send("hall", "{}") == 0);  // not this hook's camera: nothing queued
  CHECK(sender.send("door", "{}") == 1);
  sender.drain();
  const auto counters = sender.counters(0);
  CHECK(counters.delivered == 0);
  CHECK(counters.failed == 1);
  CHECK(counters.attempts == 3);
  CHECK(counters.pending == 0);  // given up: out of the outbox
}

TEST_CASE("webhooks: a 4xx refusal is given up at once while a 429 is retried", "[monitor]") {
  const maskdetect::test::TempDir dir;
  Receiver refusing(5, Receiver::Mode::answer, 400);
  Receiver busy(1, Receiver::Mode::answer, 429);
  WebhookConfig a;
  a.url = refusing.url();
  a.name = "refusing";
  a.retries = 3;
  a.backoff_s = 0.01;
  WebhookConfig b = a;
  b.url = busy.url();
  b.name = "busy";
  WebhookSender sender({a, b}, outbox_in(dir));
  sender.send("door", "{}");
  sender.drain();
  CHECK(sender.name(0) == "refusing");
  CHECK(sender.counters(0).attempts == 1);
  CHECK(sender.counters(0).failed == 1);
  CHECK(sender.counters(1).attempts == 2);
  CHECK(sender.counters(1).delivered == 1);
  CHECK(refusing.count() == 1);
  CHECK(busy.count() == 2);
}

TEST_CASE("webhooks: a receiver that never answers listed first does not delay a working one", "[monitor]") {
  const maskdetect::test::TempDir dir;
  Receiver silent(0, Receiver::Mode::silent);
  Receiver working;
  WebhookConfig slow;  // the settings of the failed soak: 5 s timeout, 3 retries
  slow.url = silent.url();
  slow.timeout_s = 5.0;
  slow.retries = 3;
  slow.backoff_s = 1.0;
  WebhookConfig good = slow;
  good.url = working.url();
  auto outbox = outbox_in(dir);
  constexpr int kEvents = 20;
  double worst_s = 0.0;
  {
    WebhookSender sender({slow, good}, outbox);
    for (int i = 0; i < kEvents; ++i) {
      const auto sent = Clock::now();
      REQUIRE(sender.send("door", fmt::format(R"({{"id":{}}})", i)) == 2);
      // The working receiver gets each event promptly, while the first webhook hangs.
      REQUIRE(eventually([&] { return working.count() == static_cast<std::size_t>(i + 1); }, 10.0));
      worst_s = std::max(worst_s, seconds_since(sent));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto got = working.received();
    for (int i = 0; i < kEvents; ++i) CHECK(got[static_cast<std::size_t>(i)].body == fmt::format(R"({{"id":{}}})", i));
    CHECK(sender.counters(1).delivered == kEvents);
    CHECK(sender.counters(0).delivered == 0);
    CHECK(sender.counters(0).pending == kEvents);
    CHECK(silent.count() == 1);  // its first attempt still waits for an answer
  }                              // the sender stops with that attempt in progress and keeps what it did not deliver
  WARN("slowest delivery to the working receiver: " << worst_s << " s");
  CHECK(worst_s < 1.0);
  const auto head = outbox->oldest(WebhookSender::target_for(silent.url(), 0));
  REQUIRE(head.has_value());
  CHECK(head->body == R"({"id":0})");
  CHECK(head->attempts == 0);  // the interrupted attempt is not counted
  CHECK(outbox->size(WebhookSender::target_for(silent.url(), 0)) == kEvents);
  CHECK(outbox->size(WebhookSender::target_for(working.url(), 0)) == 0);
}

TEST_CASE("webhooks: stopping does not wait for a hanging receiver", "[monitor]") {
  const maskdetect::test::TempDir dir;
  Receiver silent(0, Receiver::Mode::silent);
  WebhookConfig slow;
  slow.url = silent.url();
  slow.timeout_s = 30.0;
  auto sender = std::make_unique<WebhookSender>(std::vector<WebhookConfig>{slow}, outbox_in(dir));
  sender->send("door", "{}");
  REQUIRE(eventually([&] { return silent.count() == 1; }));
  const auto start = Clock::now();
  sender.reset();
  const double stop_s = seconds_since(start);
  WARN("stopped in " << stop_s << " s with an attempt in progress");
  CHECK(stop_s < 0.5);
}

TEST_CASE("webhooks: beyond max_pending the oldest deliveries are dropped and counted", "[monitor]") {
  const maskdetect::test::TempDir dir;
  Receiver silent(0, Receiver::Mode::silent);
  WebhookConfig hook;
  hook.url = silent.url();
  hook.timeout_s = 10.0;
  hook.max_pending = 4;
  auto outbox = outbox_in(dir);
  WebhookSender sender({hook}, outbox);
  for (int i = 0; i < 10; ++i) sender.send("door", std::to_string(i));
  const auto c = sender.counters(0);
  CHECK(c.dropped == 6);
  CHECK(c.pending == 4);
  CHECK(outbox->oldest(WebhookSender::target_for(hook.url, 0))->body == "6");
}

TEST_CASE("webhooks: deliveries left by a stopped sender are made by the next with their retries", "[monitor]") {
  const maskdetect::test::TempDir dir;
  auto outbox = outbox_in(dir);
  const unsigned short port = maskdetect::test::free_port();
  WebhookConfig hook;
  hook.url = fmt::format("http://127.0.0.1:{}/hook", port);  // nothing listens yet
  hook.retries = 20;
  hook.backoff_s = 0.1;
  const std::string target = WebhookSender::target_for(hook.url, 0);
  {
    WebhookSender sender({hook}, outbox);
    for (int i = 0; i < 3; ++i) sender.send("door", std::to_string(i));
    REQUIRE(eventually([&] {
      const auto head = outbox->oldest(target);
      return head && head->attempts >= 2;
    }));
  }
  const auto head = outbox->oldest(target);
  REQUIRE(head.has_value());
  const int attempts_before = head->attempts;
  CHECK(attempts_before >= 2);
  CHECK(outbox->size(target) == 3);
  outbox->push("webhook:0000000000000000", "{}", 1.0, 10);  // a webhook no longer configured

  Receiver receiver(0, Receiver::Mode::answer, 500, port);  // the receiver is back
  WebhookSender sender({hook}, outbox);
  CHECK(outbox->targets() == std::vector<std::string>{target});  // the unconfigured one was deleted
  sender.drain();
  const auto got = receiver.received();
  REQUIRE(got.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(got[i].body == std::to_string(i));
  CHECK(got[0].delivery == std::to_string(head->id));
  CHECK(sender.counters(0).delivered == 3);
  CHECK(outbox->size(target) == 0);
}

TEST_CASE("webhooks: a delivery that keeps failing is given up with the attempts of earlier runs", "[monitor]") {
  const maskdetect::test::TempDir dir;
  auto outbox = outbox_in(dir);
  WebhookConfig hook;
  hook.url = "http://127.0.0.1:" + std::to_string(maskdetect::test::free_port()) + "/hook";
  hook.retries = 3;
  hook.backoff_s = 0.0;
  const std::string target = WebhookSender::target_for(hook.url, 0);
  const auto pushed = outbox->push(target, "{}", 1.0, 10);
  outbox->record_attempt(pushed.id, 0.0);
  outbox->record_attempt(pushed.id, 0.0);
  outbox->record_attempt(pushed.id, 0.0);  // three attempts made before a restart: one is left
  WebhookSender sender({hook}, outbox);
  sender.drain();
  CHECK(sender.counters(0).attempts == 1);
  CHECK(sender.counters(0).failed == 1);
  CHECK(outbox->size(target) == 0);
}
