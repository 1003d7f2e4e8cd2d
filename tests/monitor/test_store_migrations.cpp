// Schema versions and migrations: a data folder made before versioning (today's main) opens with its events and
// history; reopening changes nothing; a database newer than the binary is refused; on PostgreSQL, workers that
// start at once against an empty database migrate it once.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "event_store.hpp"
#include "event_store_pg.hpp"
#include "history_store.hpp"
#include "migrations.hpp"
#include "monitor_support.hpp"
#include "pg.hpp"
#include "store_backends.hpp"

namespace fs = std::filesystem;
using maskdetect::server::EventQuery;
using maskdetect::server::EventStore;
using maskdetect::server::HistoryQuery;
using maskdetect::server::HistoryStore;
using maskdetect::server::Privacy;

namespace {

/// Runs SQL on a SQLite file with plain SQLite (as another program would).
void sqlite_exec(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message != nullptr ? message : "";
  sqlite3_free(message);
  sqlite3_close(db);
  INFO(text);
  REQUIRE(rc == SQLITE_OK);
}

std::string sqlite_text(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// The schemas main had before versioning (web/server/event_store.cpp and history_store.cpp at b846bed), as a
// data folder made then holds them: WAL, no schema_version, no auto-vacuum.
constexpr const char* kMainEventsSchema = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  camera TEXT NOT NULL,
  track_id INTEGER NOT NULL,
  label TEXT NOT NULL,
  confidence REAL NOT NULL,
  first_seen REAL NOT NULL,
  last_seen REAL NOT NULL,
  created REAL NOT NULL,
  privacy TEXT NOT NULL,
  has_snapshot INTEGER NOT NULL,
  has_crop INTEGER NOT NULL,
  bytes INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_camera_id ON events(camera, id);
CREATE INDEX IF NOT EXISTS events_last_seen ON events(last_seen);
CREATE TABLE IF NOT EXISTS event_counts(
  camera TEXT NOT NULL,
  label TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(camera, label));
)sql";

constexpr const char* kMainHistorySchema = R"sql(
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS history(
  camera TEXT NOT NULL,
  t INTEGER NOT NULL,
  frames INTEGER NOT NULL DEFAULT 0,
  in_view_sum REAL NOT NULL DEFAULT 0,
  seconds REAL NOT NULL DEFAULT 0,
  mask INTEGER NOT NULL DEFAULT 0,
  no_mask INTEGER NOT NULL DEFAULT 0,
  incorrect INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(camera, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_t ON history(t);
)sql";

}  // namespace

TEST_CASE("a data folder made before schema versions opens with its events and images and counts and history",
          "[monitor]") {
  MASKDETECT_REQUIRE_DATA(maskdetect::test::sample_image());
  const cv::Mat frame = cv::imread(maskdetect::test::sample_image().string());
  REQUIRE(!frame.empty());
  std::vector<unsigned char> jpeg;
  REQUIRE(cv::imencode(".jpg", frame, jpeg));
  const maskdetect::test::TempDir dir;
  const double now = maskdetect::server::unix_now();
  // The folder as the old server left it: three events (one with its snapshot file), counts, two minutes.
  sqlite_exec(dir / "events.db", kMainEventsSchema);
  for (int i = 1; i <= 3; ++i)
    sqlite_exec(dir / "events.db",
                fmt::format("INSERT INTO events(camera, track_id, label, confidence, first_seen, last_seen, created, "
                            "privacy, has_snapshot, has_crop, bytes) VALUES('door', {0}, 'no_mask', 0.9, {1}, {2}, "
                            "{2}, 'full', {3}, 0, {4})",
                            i, now - 60.0 + i, now - 58.0 + i, i == 3 ? 1 : 0, i == 3 ? jpeg.size() : 0));
  sqlite_exec(dir / "events.db", "INSERT INTO event_counts VALUES('door', 'no_mask', 5)");
  fs::create_directories(dir / "media");
  std::ofstream(dir / "media" / "3-snapshot.jpg", std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  const auto minute = static_cast<std::int64_t>(now / 60.0) * 60;
  sqlite_exec(dir / "history.db", kMainHistorySchema);
  sqlite_exec(dir / "history.db",
              fmt::format("INSERT INTO history VALUES('door', {}, 10, 5.0, 10.0, 1, 2, 0)", minute - 60));
  CHECK(sqlite_text(dir / "events.db", "PRAGMA auto_vacuum") == "0");

  std::set<std::string> uids;
  for (int open = 0; open < 2; ++open) {  // the second open finds everything migrated: changes nothing
    auto store = maskdetect::server::open_event_store(EventStore::Options{.dir = dir.path(), .max_age_s = 0.0});
    const auto page = store->list(EventQuery{});
    REQUIRE(page.events.size() == 3);
    CHECK(page.events.front().id == 3);
    CHECK(page.events.front().has_snapshot);
    CHECK(store->image(3, "snapshot").value().size() == jpeg.size());
    CHECK(store->counts().at({"door", "no_mask"}) == 5 + open);  // and the one recorded by the first open
    for (const auto& e : page.events) {
      CHECK(e.box.area() == 0);  // not known before: null in the JSON
      CHECK(e.previous_label.empty());
      CHECK(std::regex_match(e.uid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
      if (open == 0)
        uids.insert(e.uid);
      else
        CHECK(uids.contains(e.uid));  // made once, kept
    }
    CHECK(uids.size() == 3);
    // New events go on after the old ones, with everything new.
    const auto e = store->record(maskdetect::test::sample_track(frame, "door", 9, "no_mask", now), Privacy::full);
    CHECK(e.id == 4 + open);
    CHECK(store->get(e.id).value().box.area() > 0);
    store->remove(e.id);

    HistoryStore history(HistoryStore::Options{.dir = dir.path(), .max_age_s = 0.0});
    const auto series = history.query(HistoryQuery{.since = minute - 120, .until = minute + 60});
    REQUIRE(series.at("door").size() == 1);
    CHECK(series.at("door")[0].frames == 10);
  }
  CHECK(sqlite_text(dir / "events.db", "SELECT version FROM schema_version WHERE component = 'events'") == "2");
  CHECK(sqlite_text(dir / "history.db", "SELECT version FROM schema_version WHERE component = 'history'") == "1");
  CHECK(sqlite_text(dir / "events.db", "PRAGMA auto_vacuum") == "2");  // converted once: files shrink now
  CHECK(sqlite_text(dir / "events.db", "PRAGMA integrity_check") == "ok");
}

TEST_CASE("a SQLite database newer than this binary is refused and not written to", "[monitor]") {
  const maskdetect::test::TempDir dir;
  { (void)maskdetect::server::open_event_store(EventStore::Options{.dir = dir.path()}); }
  sqlite_exec(dir / "events.db", "UPDATE schema_version SET version = 99 WHERE component = 'events'");
  try {
    (void)maskdetect::server::open_event_store(EventStore::Options{.dir = dir.path()});
    FAIL("a newer schema was opened");
  } catch (const maskdetect::Error& e) {
    const std::string message = e.what();
    CHECK(message.find("events.db") != std::string::npos);
    CHECK(message.find("version 99") != std::string::npos);
  }
  CHECK(sqlite_text(dir / "events.db", "SELECT version FROM schema_version WHERE component = 'events'") == "99");
}

TEST_CASE("PostgreSQL: workers starting at once against an empty database migrate it once", "[monitor][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  constexpr int kWorkers = 6;
  std::atomic<int> ready{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      ++ready;
      while (ready.load() < kWorkers) std::this_thread::yield();  // all start together
      try {
        auto store = maskdetect::server::open_event_store(EventStore::Options{.database = database->url()});
        HistoryStore history(HistoryStore::Options{.database = database->url()});
      } catch (const std::exception& e) {
        const std::lock_guard lock(mutex);
        failures.emplace_back(e.what());
      }
    });
  }
  for (auto& t : workers) t.join();
  CHECK(failures.empty());
  for (const std::string& failure : failures) UNSCOPED_INFO(failure);
  maskdetect::server::pg::Connection db(database->url());
  CHECK(maskdetect::server::pg::schema_version(db, "events") == 1);
  CHECK(maskdetect::server::pg::schema_version(db, "history") == 1);
  CHECK(db.exec("SELECT count(*) FROM schema_version").int64(0, 0) == 2);
  CHECK(db.exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN "
                "('events', 'event_images', 'event_counts', 'event_uids', 'history')")
            .int64(0, 0) == 5);
  // Migrating again is a no-op (the version before is returned).
  CHECK(maskdetect::server::pg::migrate(db, "events", maskdetect::server::pg_event_migrations()) == 1);

  // A database at a newer version than this binary knows is refused, unchanged.
  db.exec("UPDATE schema_version SET version = 42 WHERE component = 'events'");
  try {
    (void)maskdetect::server::open_event_store(EventStore::Options{.database = database->url()});
    FAIL("a newer schema was opened");
  } catch (const maskdetect::Error& e) {
    CHECK(std::string(e.what()).find("version 42") != std::string::npos);
  }
  CHECK(maskdetect::server::pg::schema_version(db, "events") == 42);
}

TEST_CASE("migrations of another component sit beside the store's and are versioned on their own",
          "[monitor][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  maskdetect::server::pg::Connection db(database->url());
  constexpr maskdetect::server::Migration kFleet[] = {
      {1, "cameras", "CREATE TABLE cameras(name text PRIMARY KEY)"},
      {2, "owner", "ALTER TABLE cameras ADD COLUMN owner text"},
  };
  CHECK(maskdetect::server::pg::migrate(db, "fleet", std::span(kFleet).first(1)) == 0);
  { auto store = maskdetect::server::open_event_store(EventStore::Options{.database = database->url()}); }
  CHECK(maskdetect::server::pg::migrate(db, "fleet", kFleet) == 1);
  CHECK(maskdetect::server::pg::schema_version(db, "fleet") == 2);
  CHECK(maskdetect::server::pg::schema_version(db, "events") == 1);
  db.exec("INSERT INTO cameras(name, owner) VALUES('door', 'worker-1')");
  // A failing migration changes nothing: neither its statements nor the version.
  constexpr maskdetect::server::Migration kBroken[] = {
      {1, "cameras", "CREATE TABLE cameras(name text PRIMARY KEY)"},
      {2, "owner", "ALTER TABLE cameras ADD COLUMN owner text"},
      {3, "zone, then a typo", "ALTER TABLE cameras ADD COLUMN zone text; ALTER TABLE camras ADD COLUMN x int"},
  };
  try {
    (void)maskdetect::server::pg::migrate(db, "fleet", kBroken);
    FAIL("a broken migration was applied");
  } catch (const maskdetect::server::pg::Error& e) {
    CHECK(std::string(e.what()).find("migration 3 of 'fleet'") != std::string::npos);
  }
  CHECK(maskdetect::server::pg::schema_version(db, "fleet") == 2);
  CHECK(db.exec("SELECT count(*) FROM information_schema.columns WHERE table_name = 'cameras' AND "
                "column_name = 'zone'")
            .int64(0, 0) == 0);
}
