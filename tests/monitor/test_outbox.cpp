// The SQLite outbox (web/server/sqlite_outbox.hpp) against the Outbox contract of outbox.hpp: order per target,
// the per-target bound, attempts kept across a reopen, a push that survives a killed process.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "maskdetect/error.hpp"
#include "sqlite_outbox.hpp"
#include "test_support.hpp"

using maskdetect::server::SqliteOutbox;

TEST_CASE("outbox: oldest first per target with targets apart and remove and attempts", "[monitor]") {
  const maskdetect::test::TempDir dir;
  SqliteOutbox outbox(dir / "outbox.db");
  CHECK_FALSE(outbox.oldest("a").has_value());
  CHECK(outbox.size("a") == 0);
  const auto a1 = outbox.push("a", R"({"id":1})", 100.0, 10);
  const auto b1 = outbox.push("b", R"({"id":2})", 101.0, 10);
  const auto a2 = outbox.push("a", R"({"id":3})", 102.0, 10);
  CHECK(a1.dropped == 0);
  CHECK(a1.id < b1.id);
  CHECK(b1.id < a2.id);
  CHECK(outbox.size("a") == 2);
  CHECK(outbox.size("b") == 1);
  CHECK(outbox.targets() == std::vector<std::string>{"a", "b"});

  auto head = outbox.oldest("a");
  REQUIRE(head.has_value());
  CHECK(head->id == a1.id);
  CHECK(head->target == "a");
  CHECK(head->body == R"({"id":1})");
  CHECK(head->created == 100.0);
  CHECK(head->attempts == 0);
  CHECK(head->next_attempt == 0.0);

  CHECK(outbox.record_attempt(a1.id, 200.0));
  CHECK(outbox.record_attempt(a1.id, 300.0));
  head = outbox.oldest("a");
  REQUIRE(head.has_value());
  CHECK(head->attempts == 2);
  CHECK(head->next_attempt == 300.0);

  CHECK(outbox.remove(a1.id));
  CHECK_FALSE(outbox.remove(a1.id));  // already gone
  CHECK_FALSE(outbox.record_attempt(a1.id, 1.0));
  head = outbox.oldest("a");
  REQUIRE(head.has_value());
  CHECK(head->id == a2.id);
  CHECK(outbox.oldest("b")->id == b1.id);  // untouched by a's changes

  CHECK(outbox.clear("a") == 1);
  CHECK(outbox.targets() == std::vector<std::string>{"b"});
  CHECK_THROWS_AS(outbox.push("", "{}", 1.0, 10), maskdetect::Error);
  CHECK_THROWS_AS(outbox.push(std::string(201, 'x'), "{}", 1.0, 10), maskdetect::Error);
}

TEST_CASE("outbox: a target over its bound loses its oldest items (counted) and no other target's", "[monitor]") {
  const maskdetect::test::TempDir dir;
  SqliteOutbox outbox(dir / "outbox.db");
  for (int i = 0; i < 3; ++i) outbox.push("other", "x", 1.0, 3);
  std::vector<std::int64_t> ids;
  std::int64_t dropped = 0;
  for (int i = 0; i < 7; ++i) {
    const auto pushed = outbox.push("hook", std::to_string(i), 1.0, 4);
    ids.push_back(pushed.id);
    dropped += pushed.dropped;
  }
  CHECK(dropped == 3);
  CHECK(outbox.size("hook") == 4);
  CHECK(outbox.size("other") == 3);
  const auto head = outbox.oldest("hook");
  REQUIRE(head.has_value());
  CHECK(head->id == ids[3]);  // 0, 1, 2 dropped: the newest 4 are kept, in order
  CHECK(head->body == "3");
  // A bound of 0 still keeps the item just pushed.
  const auto last = outbox.push("hook", "7", 1.0, 0);
  CHECK(last.dropped == 4);
  CHECK(outbox.oldest("hook")->id == last.id);
}

TEST_CASE("outbox: items and attempts and order survive a reopen and a killed writer", "[monitor]") {
  const maskdetect::test::TempDir dir;
  const auto file = dir / "data" / "outbox.db";  // the folder is created
  std::int64_t first = 0;
  {
    SqliteOutbox outbox(file);
    first = outbox.push("hook", "one", 10.0, 100).id;
    outbox.push("hook", "two", 11.0, 100);
    outbox.record_attempt(first, 1234.5);
  }
  // A process pushes, then is killed without closing anything: the push was committed.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      SqliteOutbox outbox(file);
      outbox.push("hook", "three", 12.0, 100);
    } catch (...) {
      ::_exit(1);
    }
    ::kill(::getpid(), SIGKILL);  // the destructor never runs
    ::_exit(2);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  SqliteOutbox outbox(file);
  CHECK(outbox.size("hook") == 3);
  const auto head = outbox.oldest("hook");
  REQUIRE(head.has_value());
  CHECK(head->id == first);
  CHECK(head->body == "one");
  CHECK(head->attempts == 1);
  CHECK(head->next_attempt == 1234.5);
  outbox.remove(first);
  CHECK(outbox.oldest("hook")->body == "two");
  outbox.remove(outbox.oldest("hook")->id);
  CHECK(outbox.oldest("hook")->body == "three");
  // Ids keep growing after the newest item is deleted (push order is id order across restarts).
  const std::int64_t three = outbox.oldest("hook")->id;
  outbox.remove(three);
  CHECK(outbox.push("hook", "four", 13.0, 100).id > three);
}

TEST_CASE("outbox: concurrent pushes and removals from several threads lose nothing", "[monitor]") {
  const maskdetect::test::TempDir dir;
  SqliteOutbox outbox(dir / "outbox.db");
  std::vector<std::thread> threads;
  threads.reserve(4);
  // Targets "t0".."t3" (fmt, not "t" + std::to_string: GCC 12's -O3 -Wrestrict false positive on that).
  const auto target_of = [](int t) { return fmt::format("t{}", t); };
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&outbox, &target_of, t] {
      const std::string target = target_of(t);
      for (int i = 0; i < 50; ++i) outbox.push(target, std::to_string(i), 1.0, 1000);
      for (int i = 0; i < 20; ++i) outbox.remove(outbox.oldest(target)->id);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    const std::string target = target_of(t);
    CHECK(outbox.size(target) == 30);
    CHECK(outbox.oldest(target)->body == "20");
  }
}
