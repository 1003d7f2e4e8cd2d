// The PostgreSQL store as a fleet uses it: several workers (each its own connection) writing events and history
// at once, running retention at once, paging across all cameras; a connection that drops; passwords never in
// errors.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"
#include "history_store.hpp"
#include "monitor_support.hpp"
#include "pg.hpp"
#include "store_backends.hpp"

using maskdetect::server::Event;
using maskdetect::server::EventQuery;
using maskdetect::server::EventStore;
using maskdetect::server::HistoryQuery;
using maskdetect::server::HistoryStore;
using maskdetect::server::Privacy;
using maskdetect::test::sample_image;
using maskdetect::test::sample_track;

namespace {

/// Runs `work(i)` on `n` threads started together; returns the messages of those that threw.
template <typename Work>
std::vector<std::string> run_together(int n, Work work) {
  std::atomic<int> ready{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < n) std::this_thread::yield();
      try {
        work(i);
      } catch (const std::exception& e) {
        const std::lock_guard lock(mutex);
        failures.emplace_back(e.what());
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures;
}

/// Every event of the store, page by page (limit 7), as the events API pages them.
std::vector<Event> all_pages(const EventStore& store, const std::string& camera = {}) {
  std::vector<Event> out;
  EventQuery q{.camera = camera, .limit = 7};
  for (;;) {
    const auto page = store.list(q);
    out.insert(out.end(), page.events.begin(), page.events.end());
    if (!page.next_before) return out;
    q.before_id = page.next_before;
  }
}

}  // namespace

TEST_CASE("PostgreSQL: two workers write at once: unique ids with nothing lost or doubled and consistent paging",
          "[monitor][postgres]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  auto where = maskdetect::test::StoreLocation::make(maskdetect::test::Backend::postgres);
  if (!where) return;
  constexpr int kWorkers = 2;
  constexpr int kEach = 30;
  std::vector<std::unique_ptr<EventStore>> workers;
  workers.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) workers.push_back(where->open());
  const double now = maskdetect::server::unix_now();
  std::mutex mutex;
  std::vector<Event> recorded;
  const auto failures = run_together(kWorkers, [&](int w) {
    const std::string camera = w == 0 ? "door" : "hall";
    for (int i = 0; i < kEach; ++i) {
      // Worker 1 also writes some of the same camera: a camera can move between workers.
      const Event e = workers[static_cast<std::size_t>(w)]->record(
          sample_track(frame, i % 5 == 0 ? "door" : camera, w * 1000 + i, i % 2 == 0 ? "no_mask" : "incorrect",
                       now - 100.0 + i),
          i % 3 == 0 ? Privacy::blur : Privacy::full);
      const std::lock_guard lock(mutex);
      recorded.push_back(e);
    }
  });
  REQUIRE(failures.empty());
  REQUIRE(recorded.size() == std::size_t{kWorkers} * kEach);
  std::set<std::int64_t> ids;
  std::set<std::string> uids;
  for (const Event& e : recorded) {
    CHECK(e.stored());
    ids.insert(e.id);
    uids.insert(e.uid);
  }
  CHECK(ids.size() == recorded.size());
  CHECK(uids.size() == recorded.size());

  // Any worker sees all events, newest first, each once across pages; per camera too.
  for (const auto& store : workers) {
    const auto events = all_pages(*store);
    REQUIRE(events.size() == recorded.size());
    std::set<std::int64_t> seen;
    for (const Event& e : events) seen.insert(e.id);
    CHECK(seen == ids);
    CHECK(std::is_sorted(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.id > b.id; }));
    const auto door = all_pages(*store, "door");
    const auto hall = all_pages(*store, "hall");
    CHECK(door.size() + hall.size() == recorded.size());
    CHECK(std::all_of(door.begin(), door.end(), [](const Event& e) { return e.camera == "door"; }));
  }
  std::int64_t counted = 0;
  for (const auto& [key, n] : workers[0]->counts()) counted += n;
  CHECK(counted == std::int64_t{kWorkers} * kEach);
  CHECK(workers[1]->size() == recorded.size());
  // Images of another worker's event.
  const Event& other = recorded.front();
  CHECK(workers[1]->image(other.id, "snapshot").has_value());
}

TEST_CASE("PostgreSQL: retention run by several workers at once deletes only what is needed and only once",
          "[monitor][postgres]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  auto where = maskdetect::test::StoreLocation::make(maskdetect::test::Backend::postgres);
  if (!where) return;
  const double now = maskdetect::server::unix_now();
  const auto images =
      maskdetect::server::detail::encode_images(sample_track(frame, "door", 0, "no_mask", now), Privacy::full, 90);
  const auto one_event = static_cast<std::int64_t>(images.snapshot.size() + images.crop.size());
  // Four workers with an age limit of an hour and a size limit of 12.5 events, opened on the empty database.
  const std::int64_t limit = 12 * one_event + one_event / 2;
  std::vector<std::unique_ptr<EventStore>> workers;
  workers.reserve(4);
  for (int w = 0; w < 4; ++w) workers.push_back(where->open({.max_age_s = 3600.0, .max_bytes = limit}));
  {  // Another worker without limits stores 10 events older than an hour, then 20 recent ones.
    auto filler = where->open({.max_age_s = 0.0, .max_bytes = 0});
    for (int i = 0; i < 10; ++i)
      (void)filler->record(sample_track(frame, "hall", i, "no_mask", now - 7200.0), Privacy::full);
    for (int i = 10; i < 30; ++i)
      (void)filler->record(sample_track(frame, "door", i, "no_mask", now - 100.0 + i), Privacy::full);
  }
  std::atomic<std::size_t> removed{0};
  const auto failures =
      run_together(4, [&](int w) { removed += workers[static_cast<std::size_t>(w)]->enforce_retention(now); });
  REQUIRE(failures.empty());
  const auto left = workers[0]->list(EventQuery{.limit = 1000}).events;
  CHECK(left.size() == 12);  // 20 recent events of the same size; 12.5 fit
  CHECK(workers[0]->stored_bytes() <= limit);
  CHECK(left.front().track_id == 29);  // the newest kept
  CHECK(left.back().track_id == 18);   // the oldest went first
  CHECK(std::none_of(left.begin(), left.end(), [](const Event& e) { return e.camera == "hall"; }));  // by age
  CHECK(removed.load() == 10 + 8);  // each deleted once, by one of the workers
}

TEST_CASE("PostgreSQL: history minutes from several workers add up", "[monitor][postgres]") {
  auto where = maskdetect::test::StoreLocation::make(maskdetect::test::Backend::postgres);
  if (!where) return;
  const double t0 = 1'800'000'000.0;
  const auto failures = run_together(3, [&](int w) {
    HistoryStore history(where->history({.max_age_s = 0.0, .flush_interval_s = 0.01}));
    for (int i = 0; i < 200; ++i) {
      history.add_frame("door", t0 + (i % 120), 1 + w, 0.5);
      if (i % 50 == 0) history.add_person("door", t0 + 5, maskdetect::MaskLabel::mask);
      if (i % 20 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // several flushes
    }
  });
  REQUIRE(failures.empty());
  HistoryStore reader(where->history({.max_age_s = 0.0}));
  const auto series = reader.query(HistoryQuery{
      .since = static_cast<std::int64_t>(t0), .until = static_cast<std::int64_t>(t0) + 120, .step_s = 120});
  REQUIRE(series.at("door").size() == 1);
  const auto& p = series.at("door")[0];
  CHECK(p.frames == std::int64_t{3} * 200);
  CHECK(p.seconds == Approx(3 * 200 * 0.5));
  CHECK(p.in_view_sum == Approx(200.0 * (1 + 2 + 3)));
  CHECK(p.people_total() == std::int64_t{3} * 4);
}

TEST_CASE("PostgreSQL: a dropped connection is reopened", "[monitor][postgres]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  auto where = maskdetect::test::StoreLocation::make(maskdetect::test::Backend::postgres);
  if (!where) return;
  auto store = where->open();
  HistoryStore history(where->history({.flush_interval_s = 3600.0}));
  const double now = maskdetect::server::unix_now();
  (void)store->record(sample_track(frame, "door", 1, "no_mask", now), Privacy::full);
  // An administrator (or a failover) ends every connection of the database.
  where->database().psql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()");
  CHECK(store->size() == 1);  // reconnected
  const Event e = store->record(sample_track(frame, "door", 2, "no_mask", now), Privacy::full);
  CHECK(e.stored());
  history.add_frame("door", now, 1, 1.0);
  history.flush();
  CHECK(history
            .query(HistoryQuery{.since = static_cast<std::int64_t>(now) - 60,
                                .until = static_cast<std::int64_t>(now) + 60})
            .at("door")[0]
            .frames == 1);
  CHECK(store->size() == 2);
}

TEST_CASE("PostgreSQL: the password is never in an error or a description", "[monitor][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  database->server().add_password_user("worker", "Sw0rdfish-9", database->name());
  const std::string host = "127.0.0.1:" + std::to_string(database->server().port()) + "/" + database->name();
  // The right password, in the URL or given apart (a password file): works; the description hides it.
  for (const auto& options :
       {EventStore::Options{.database = "postgresql://worker:Sw0rdfish-9@" + host},
        EventStore::Options{.database = "postgresql://worker@" + host, .password = "Sw0rdfish-9"}}) {
    auto store = maskdetect::server::open_event_store(options);
    CHECK(store->description().find("Sw0rdfish") == std::string::npos);
    CHECK(store->description().find("worker") != std::string::npos);
    HistoryStore history(HistoryStore::Options{.database = options.database, .password = options.password});
    CHECK(history.description().find("Sw0rdfish") == std::string::npos);
  }
  // A wrong one: the error names the database and the reason, not the password.
  for (const auto& options :
       {EventStore::Options{.database = "postgresql://worker:Wr0ng-Secret@" + host},
        EventStore::Options{.database = "postgresql://worker@" + host, .password = "Wr0ng-Secret"},
        EventStore::Options{.database = "postgres://worker:Wr0ng-Secret@127.0.0.1:1/x"}}) {
    try {
      (void)maskdetect::server::open_event_store(options);
      FAIL("connected with a wrong password");
    } catch (const maskdetect::Error& e) {
      const std::string message = e.what();
      CHECK(message.find("Wr0ng-Secret") == std::string::npos);
      CHECK(message.find("worker") != std::string::npos);
    }
  }
  try {
    (void)maskdetect::server::open_event_store(EventStore::Options{.database = "mysql://root:Wr0ng-Secret@db/x"});
    FAIL("a database that is not PostgreSQL was accepted");
  } catch (const maskdetect::Error& e) {
    CHECK(std::string(e.what()).find("Wr0ng-Secret") == std::string::npos);
    CHECK(std::string(e.what()).find("postgresql://") != std::string::npos);
  }
}
