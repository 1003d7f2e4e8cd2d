// The event store on both back ends (SQLite and PostgreSQL): persistence across reopen, a writer killed
// mid-write, retention (issue 17: never the newest, only what it must, the WAL and the history counted),
// privacy, the JPEGs byte for byte, who the event is about, idempotent writes; and the rules.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "event_store.hpp"
#include "event_store_sqlite.hpp"
#include "history_store.hpp"
#include "monitor_support.hpp"
#include "store_backends.hpp"

namespace fs = std::filesystem;
using maskdetect::server::Event;
using maskdetect::server::EventQuery;
using maskdetect::server::EventRuleConfig;
using maskdetect::server::EventStore;
using maskdetect::server::Privacy;
using maskdetect::test::Backend;
using maskdetect::test::sample_image;
using maskdetect::test::sample_track;
using maskdetect::test::StoreLocation;

namespace {

/// Opens the database with plain SQLite and runs PRAGMA integrity_check.
std::string integrity(const fs::path& db) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(handle, "PRAGMA integrity_check", -1, &stmt, nullptr);
  std::string result;
  if (sqlite3_step(stmt) == SQLITE_ROW) result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(handle);
  return result;
}

double variance_of_laplacian(const cv::Mat& bgr) {
  cv::Mat gray, lap;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

cv::Mat decode(const std::string& jpeg) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(jpeg.size()), CV_8UC1, const_cast<char*>(jpeg.data())),
                      cv::IMREAD_COLOR);
}

cv::Mat sample_frame() {
  cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  return frame;
}

/// Apparent sizes of every file under `dir` (what `du --apparent-size` counts).
std::int64_t folder_bytes(const fs::path& dir) {
  std::int64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) total += static_cast<std::int64_t>(entry.file_size());
  return total;
}

std::size_t media_files(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir / "media"), fs::directory_iterator()));
}

// ------------------------------------------------------------------------------------------------ tests

void events_persist(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  const double now = maskdetect::server::unix_now();
  {
    auto store = where->open();
    for (int i = 0; i < 7; ++i) {
      const Event e = store->record(
          sample_track(frame, i % 2 == 0 ? "door" : "hall", i, i < 5 ? "no_mask" : "incorrect", now - 100.0 + i),
          Privacy::full);
      REQUIRE(e.stored());
    }
  }
  auto store = where->open();
  CHECK(store->size() == 7);
  const auto all = store->list(EventQuery{});
  REQUIRE(all.events.size() == 7);
  CHECK(all.events.front().track_id == 6);  // newest first
  CHECK(all.events.back().track_id == 0);
  CHECK_FALSE(all.next_before.has_value());

  const auto door = store->list(EventQuery{.camera = "door"});
  CHECK(door.events.size() == 4);
  for (const auto& e : door.events) CHECK(e.camera == "door");
  CHECK(store->list(EventQuery{.label = "incorrect"}).events.size() == 2);
  CHECK(store->list(EventQuery{.since = now - 97.5}).events.size() == 4);  // last_seen -97..-94
  CHECK(store->list(EventQuery{.since = now - 97.5, .until = now - 95.5}).events.size() == 2);

  const auto first = store->list(EventQuery{.limit = 3});
  REQUIRE(first.events.size() == 3);
  REQUIRE(first.next_before.has_value());
  const auto second = store->list(EventQuery{.before_id = first.next_before, .limit = 3});
  REQUIRE(second.events.size() == 3);
  CHECK(second.events.front().id < first.events.back().id);

  const auto& e = all.events.front();
  CHECK(e.has_snapshot);
  CHECK(e.has_crop);
  CHECK(e.bytes > 0);
  const auto snapshot = store->image(e.id, "snapshot");
  REQUIRE(snapshot.has_value());
  CHECK(decode(*snapshot).size() == frame.size());  // the whole analysed frame
  const auto crop = store->image(e.id, "crop");
  REQUIRE(crop.has_value());
  CHECK(decode(*crop).size() == cv::Size(30, 37));
  CHECK(static_cast<std::int64_t>(snapshot->size() + crop->size()) == e.bytes);
  CHECK_FALSE(store->image(e.id, "face").has_value());

  std::optional<fs::path> file;
  if (auto* sqlite = dynamic_cast<maskdetect::server::SqliteEventStore*>(store.get())) {
    file = sqlite->file(e.id, "snapshot");
    REQUIRE(file.has_value());
    CHECK(fs::exists(*file));
  }
  CHECK(store->remove(e.id));
  CHECK_FALSE(store->remove(e.id));
  if (file) CHECK_FALSE(fs::exists(*file));
  CHECK_FALSE(store->get(e.id).has_value());
  CHECK_FALSE(store->image(e.id, "snapshot").has_value());
  CHECK(store->counts().at({"hall", "no_mask"}) == 2);  // counts outlive deletions
}
STORE_TEST("events persist across reopen with their JPEGs: newest first and filtered and paged", events_persist)

void killed_writer(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  for (int round = 0; round < 3; ++round) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the writer: records forever, one byte on the pipe per committed event
      ::close(pipe_fds[0]);
      try {
        auto store = where->open();
        for (std::int64_t i = 0;; ++i) {
          (void)store->record(sample_track(frame, "door", i, "no_mask", maskdetect::server::unix_now()), Privacy::full);
          const char byte = 'x';
          if (::write(pipe_fds[1], &byte, 1) != 1) ::_exit(3);
        }
      } catch (...) {
        ::_exit(2);
      }
    }
    ::close(pipe_fds[1]);
    // Wait for 20 + 7 * round committed events, then kill the writer wherever it is.
    const int wanted = 20 + 7 * round;
    int seen = 0;
    char byte = 0;
    while (seen < wanted && ::read(pipe_fds[0], &byte, 1) == 1) ++seen;
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(pipe_fds[0]);
    REQUIRE(seen == wanted);
    CHECK(WIFSIGNALED(status));

    if (!where->postgres()) CHECK(integrity(where->dir() / "events.db") == "ok");
    auto store = where->open();
    const auto page = store->list(EventQuery{.limit = 1000});
    CHECK(page.events.size() >= static_cast<std::size_t>(wanted));  // committed events survived
    for (const auto& e : page.events) {
      const auto snapshot = store->image(e.id, "snapshot");
      const auto crop = store->image(e.id, "crop");
      REQUIRE(snapshot.has_value());
      REQUIRE(crop.has_value());
      CHECK(static_cast<std::int64_t>(snapshot->size() + crop->size()) == e.bytes);
      CHECK_FALSE(decode(*snapshot).empty());
      CHECK_FALSE(decode(*crop).empty());
    }
    // No orphan file either: the reopen removed what no row references.
    if (!where->postgres()) CHECK(media_files(where->dir()) == 2 * page.events.size());
  }
}
STORE_TEST("a writer killed mid-write leaves a consistent store whose events all have their JPEGs", killed_writer)

void retention_age_and_size(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  const double now = maskdetect::server::unix_now();

  SECTION("age") {
    auto where = StoreLocation::make(backend);
    if (!where) return;
    {
      auto store = where->open({.max_age_s = 3600.0});
      for (int i = 0; i < 5; ++i)
        (void)store->record(sample_track(frame, "door", i, "no_mask", now - 10.0), Privacy::full);
      // An event already older than the limit is deleted as soon as it is written.
      (void)store->record(sample_track(frame, "door", 99, "no_mask", now - 7200.0), Privacy::full);
      CHECK(store->size() == 5);
      // Two hours later, everything is past the limit.
      CHECK(store->enforce_retention(now + 7200.0) == 5);
      CHECK(store->size() == 0);
      if (where->postgres()) CHECK(store->stored_bytes() == 0);  // SQLite: the databases' files remain
      if (!where->postgres()) CHECK(media_files(where->dir()) == 0);
    }
    {
      // Retention is also enforced when a store is opened.
      auto store = where->open({.max_age_s = 0.0});
      (void)store->record(sample_track(frame, "door", 1, "no_mask", now - 7200.0), Privacy::full);
      CHECK(store->size() == 1);
    }
    auto store = where->open({.max_age_s = 3600.0});
    CHECK(store->size() == 0);
  }

  SECTION("size") {
    auto where = StoreLocation::make(backend);
    if (!where) return;
    const std::int64_t limit = 1 << 20;  // 1 MiB; one event (frame + crop) is ~60 kB
    auto store = where->open({.max_bytes = limit});
    for (int i = 0; i < 60; ++i) {
      (void)store->record(sample_track(frame, "door", i, "no_mask", now - 60.0 + i), Privacy::full);
      CHECK(store->stored_bytes() <= limit);
    }
    const auto page = store->list(EventQuery{.limit = 1000});
    REQUIRE(!page.events.empty());
    CHECK(page.events.size() < 60);
    CHECK(page.events.front().track_id == 59);  // the newest kept, the oldest gone
    CHECK(page.events.back().track_id == 60 - static_cast<std::int64_t>(page.events.size()));
    if (!where->postgres()) CHECK(folder_bytes(where->dir()) <= limit);
  }
}
STORE_TEST("retention: age and total size limits are enforced oldest first", retention_age_and_size)

/// Issue 17: with max_size 400KB the count fell from 14 to 0 in batches of 16 and MQTT said "id": 0.
void retention_keeps_newest(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  const std::int64_t limit = 400'000;
  auto store = where->open({.max_bytes = limit});
  const double now = maskdetect::server::unix_now();
  std::map<std::int64_t, std::int64_t> kept;  // id -> bytes, as the store held them before each record
  std::size_t deletions = 0;
  for (int i = 0; i < 40; ++i) {
    const Event e = store->record(sample_track(frame, "door", i, "no_mask", now - 40.0 + i), Privacy::full);
    REQUIRE(e.stored());
    const auto stored = store->get(e.id);
    REQUIRE(stored.has_value());  // the event just recorded is there: never deleted by its own retention
    CHECK(stored->uid == e.uid);
    CHECK(store->size() >= 1);
    const std::int64_t bytes = store->stored_bytes();
    CHECK(bytes <= limit);
    // Only what it must: the oldest first, and keeping the youngest of those deleted would not have fit.
    std::map<std::int64_t, std::int64_t> now_kept;
    for (const Event& k : store->list(EventQuery{.limit = 1000}).events) now_kept[k.id] = k.bytes;
    std::vector<std::int64_t> deleted;
    for (const auto& [id, b] : kept)
      if (!now_kept.contains(id)) deleted.push_back(id);
    if (!deleted.empty()) {
      ++deletions;
      CHECK(deleted.back() < now_kept.begin()->first);  // all older than every event kept
      // Page accounting of SQLite's rows: a few kB of slack.
      CHECK(bytes + kept.at(deleted.back()) > limit - (where->postgres() ? 0 : 8192));
    }
    kept = now_kept;
  }
  CHECK(deletions > 20);  // the limit was reached early and held
  CHECK(store->size() >= 3);

  // A limit below one event keeps the newest one.
  auto tiny = StoreLocation::make(backend);
  REQUIRE(tiny);
  auto small = tiny->open({.max_bytes = 10'000});
  for (int i = 0; i < 4; ++i) {
    const Event e = small->record(sample_track(frame, "door", i, "no_mask", now), Privacy::full);
    CHECK(small->size() == 1);
    CHECK(small->get(e.id).has_value());
    CHECK(nlohmann::json::parse(maskdetect::server::event_json(e))["id"] == e.id);
  }
}
STORE_TEST("retention never deletes the newest event and deletes only what it must", retention_keeps_newest)

void privacy_modes(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  auto store = where->open();
  const double now = maskdetect::server::unix_now();
  auto track = sample_track(frame, "door", 1, "no_mask", now);
  const Event recorded = store->record(track, Privacy::blur);
  REQUIRE(recorded.stored());
  const auto e = store->get(recorded.id);
  REQUIRE(e.has_value());
  CHECK(e->privacy == Privacy::blur);
  CHECK(e->label == "no_mask");
  CHECK(e->has_snapshot);
  CHECK_FALSE(e->has_crop);
  CHECK_FALSE(store->image(e->id, "crop").has_value());
  const cv::Mat stored = decode(store->image(e->id, "snapshot").value());
  REQUIRE(stored.size() == frame.size());
  // The face is unrecognisable (its detail is gone); the rest of the frame is kept.
  CHECK(variance_of_laplacian(stored(track.box)) < 0.2 * variance_of_laplacian(frame(track.box)));
  const cv::Rect elsewhere(200, 20, 60, 60);
  CHECK(cv::norm(stored(elsewhere), frame(elsewhere), cv::NORM_L1) / elsewhere.area() < 10.0);

  const Event none = store->record(sample_track(frame, "door", 2, "incorrect", now), Privacy::none_stored);
  CHECK_FALSE(none.stored());
  CHECK_FALSE(none.uid.empty());
  CHECK(nlohmann::json::parse(maskdetect::server::event_json(none))["id"].is_null());
  CHECK(store->size() == 1);
  CHECK(store->counts().at({"door", "incorrect"}) == 1);
  if (!where->postgres()) CHECK(media_files(where->dir()) == 1);
}
STORE_TEST("privacy: blur stores a blurred frame and no crop while none_stored keeps counts only", privacy_modes)

void jpeg_round_trip(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  auto store = where->open({.jpeg_quality = 85});
  const auto track = sample_track(frame, "door", 1, "no_mask", maskdetect::server::unix_now());
  const Event e = store->record(track, Privacy::full);
  const auto expected = maskdetect::server::detail::encode_images(track, Privacy::full, 85);
  const auto snapshot = store->image(e.id, "snapshot");
  const auto crop = store->image(e.id, "crop");
  REQUIRE(snapshot.has_value());
  REQUIRE(crop.has_value());
  // Byte for byte what the encoder made (bytea or file: every byte value, NULs included).
  CHECK(*snapshot == std::string(expected.snapshot.begin(), expected.snapshot.end()));
  CHECK(*crop == std::string(expected.crop.begin(), expected.crop.end()));
  CHECK(snapshot->find('\0') != std::string::npos);
}
STORE_TEST("JPEGs come back byte for byte", jpeg_round_trip)

void events_say_who(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  const double now = maskdetect::server::unix_now();
  std::int64_t with_previous = 0;
  std::int64_t without_box = 0;
  {
    auto store = where->open();
    auto track = sample_track(frame, "door", 7, "no_mask", now);
    track.previous_label = "mask";  // a mask removed
    with_previous = store->record(track, Privacy::full).id;
    auto unknown = sample_track(frame, "door", 8, "no_mask", now);
    unknown.box = cv::Rect();
    unknown.frame = cv::Mat();
    unknown.frame_size = cv::Size(1280, 720);  // the size given, without the frame
    without_box = store->record(unknown, Privacy::full).id;
  }
  auto store = where->open();  // read back after a reopen
  const auto e = store->get(with_previous);
  REQUIRE(e.has_value());
  CHECK(e->box == cv::Rect(79, 105, 30, 37));
  CHECK(e->frame_size == frame.size());
  CHECK(e->previous_label == "mask");
  const auto doc = nlohmann::json::parse(maskdetect::server::event_json(*e));
  CHECK(doc["box"] == nlohmann::json::array({79, 105, 30, 37}));
  CHECK(doc["frame_size"] == nlohmann::json::array({frame.cols, frame.rows}));
  CHECK(doc["previous_label"] == "mask");
  CHECK(std::regex_match(doc["uid"].get<std::string>(),
                         std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));

  const auto other = store->get(without_box);
  REQUIRE(other.has_value());
  CHECK(other->box.area() == 0);
  CHECK(other->frame_size == cv::Size(1280, 720));
  CHECK_FALSE(other->has_snapshot);
  const auto other_doc = nlohmann::json::parse(maskdetect::server::event_json(*other));
  CHECK(other_doc["box"].is_null());
  CHECK(other_doc["previous_label"].is_null());
  CHECK(other_doc["snapshot"].is_null());
}
STORE_TEST("events say who: the face box and frame size and previous label are stored and in the JSON", events_say_who)

void idempotent_writes(Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  auto where = StoreLocation::make(backend);
  if (!where) return;
  auto store = where->open();
  const double now = maskdetect::server::unix_now();
  auto track = sample_track(frame, "door", 1, "no_mask", now);
  track.event_uid = maskdetect::server::detail::new_uid();
  const Event first = store->record(track, Privacy::full);
  // A retry of the same event (its answer was lost): the stored event, not a copy; counted once.
  const Event again = store->record(track, Privacy::full);
  CHECK(again.id == first.id);
  CHECK(again.uid == first.uid);
  if (where->postgres()) CHECK(where->open()->record(track, Privacy::full).id == first.id);  // another worker
  CHECK(store->size() == 1);
  CHECK(store->counts().at({"door", "no_mask"}) == 1);

  auto hidden = sample_track(frame, "door", 2, "incorrect", now);
  hidden.event_uid = maskdetect::server::detail::new_uid();
  (void)store->record(hidden, Privacy::none_stored);
  (void)store->record(hidden, Privacy::none_stored);
  CHECK(store->counts().at({"door", "incorrect"}) == 1);
  CHECK(store->size() == 1);
}
STORE_TEST("a retried write stores and counts the event once", idempotent_writes)

}  // namespace

// SQLite only: what max_size counts on disk.
TEST_CASE("SQLite retention counts the WAL files and the history database in max_size", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = sample_frame();
  const maskdetect::test::TempDir dir;
  const std::int64_t limit = 700'000;
  const double now = maskdetect::server::unix_now();
  // A history of a few thousand minutes in the same folder.
  maskdetect::server::HistoryStore history(
      maskdetect::server::HistoryStore::Options{.dir = dir.path(), .max_age_s = 0.0, .flush_interval_s = 3600.0});
  for (int minute = 0; minute < 4000; ++minute) history.add_frame("door", now - 60.0 * minute, 1, 1.0);
  history.flush();
  const std::int64_t history_bytes = static_cast<std::int64_t>(fs::file_size(dir / "history.db"));
  CHECK(history_bytes > 100'000);

  maskdetect::server::SqliteEventStore store(EventStore::Options{.dir = dir.path(), .max_bytes = limit});
  for (int i = 0; i < 30; ++i) {
    (void)store.record(sample_track(frame, "door", i, "no_mask", now - 30.0 + i), Privacy::full);
    // Everything in the data folder (databases, -wal, -shm, media) fits: du --apparent-size <= max_size.
    CHECK(folder_bytes(dir.path()) <= limit);
    CHECK(store.stored_bytes() == folder_bytes(dir.path()));
    CHECK(store.stored_bytes() >= history_bytes);
  }
  CHECK(store.size() >= 2);
  CHECK(static_cast<std::int64_t>(store.size()) <= (limit - history_bytes) / 60'000 + 1);
  CHECK(integrity(dir / "events.db") == "ok");
}
