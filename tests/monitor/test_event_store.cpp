// The SQLite event store: persistence across reopen, a writer killed mid-write, retention, privacy, rules.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "event_store.hpp"
#include "monitor_support.hpp"

namespace fs = std::filesystem;
using maskdetect::server::EventQuery;
using maskdetect::server::EventRuleConfig;
using maskdetect::server::EventRules;
using maskdetect::server::EventStore;
using maskdetect::server::Privacy;
using maskdetect::test::sample_image;
using maskdetect::test::sample_track;
using maskdetect::test::TempDir;

namespace {

/// Opens the database read-only with plain SQLite and runs PRAGMA integrity_check.
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

}  // namespace

TEST_CASE("events persist across reopen with their JPEG files, newest first, filtered and paged", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  TempDir dir;
  const double now = maskdetect::server::unix_now();
  {
    EventStore store(EventStore::Options{.dir = dir.path()});
    for (int i = 0; i < 7; ++i) {
      const auto id = store.record(
          sample_track(frame, i % 2 == 0 ? "door" : "hall", i, i < 5 ? "no_mask" : "incorrect", now - 100.0 + i),
          Privacy::full);
      REQUIRE(id.has_value());
    }
  }
  EventStore store(EventStore::Options{.dir = dir.path()});
  CHECK(store.size() == 7);
  const auto all = store.list(EventQuery{});
  REQUIRE(all.events.size() == 7);
  CHECK(all.events.front().track_id == 6);  // newest first
  CHECK(all.events.back().track_id == 0);
  CHECK_FALSE(all.next_before.has_value());

  const auto door = store.list(EventQuery{.camera = "door"});
  CHECK(door.events.size() == 4);
  for (const auto& e : door.events) CHECK(e.camera == "door");
  CHECK(store.list(EventQuery{.label = "incorrect"}).events.size() == 2);
  CHECK(store.list(EventQuery{.since = now - 97.5}).events.size() == 4);  // last_seen -97..-94
  CHECK(store.list(EventQuery{.since = now - 97.5, .until = now - 95.5}).events.size() == 2);

  const auto first = store.list(EventQuery{.limit = 3});
  REQUIRE(first.events.size() == 3);
  REQUIRE(first.next_before.has_value());
  const auto second = store.list(EventQuery{.before_id = first.next_before, .limit = 3});
  REQUIRE(second.events.size() == 3);
  CHECK(second.events.front().id < first.events.back().id);

  const auto& e = all.events.front();
  CHECK(e.has_snapshot);
  CHECK(e.has_crop);
  const auto snapshot = store.file(e.id, "snapshot");
  REQUIRE(snapshot.has_value());
  const cv::Mat stored = cv::imread(snapshot->string());
  CHECK(stored.size() == frame.size());  // the whole analysed frame
  const cv::Mat crop = cv::imread(store.file(e.id, "crop")->string());
  CHECK(crop.size() == cv::Size(30, 37));

  CHECK(store.remove(e.id));
  CHECK_FALSE(store.remove(e.id));
  CHECK_FALSE(fs::exists(*snapshot));
  CHECK_FALSE(store.get(e.id).has_value());
  CHECK(store.counts().at({"hall", "no_mask"}) == 2);  // counts outlive deletions
}

TEST_CASE("a writer killed mid-write leaves a consistent database whose rows all have their files", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  TempDir dir;
  for (int round = 0; round < 3; ++round) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // the writer: records forever, one byte on the pipe per committed event
      ::close(pipe_fds[0]);
      try {
        EventStore store(EventStore::Options{.dir = dir.path()});
        for (std::int64_t i = 0;; ++i) {
          (void)store.record(sample_track(frame, "door", i, "no_mask", maskdetect::server::unix_now()), Privacy::full);
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

    CHECK(integrity(dir / "events.db") == "ok");
    EventStore store(EventStore::Options{.dir = dir.path()});
    const auto page = store.list(EventQuery{.limit = 1000});
    CHECK(page.events.size() >= static_cast<std::size_t>(wanted));  // committed events survived
    for (const auto& e : page.events) {
      const auto snapshot = store.file(e.id, "snapshot");
      const auto crop = store.file(e.id, "crop");
      REQUIRE(snapshot.has_value());
      REQUIRE(crop.has_value());
      CHECK(fs::exists(*snapshot));
      CHECK(fs::file_size(*snapshot) > 0);
      CHECK_FALSE(cv::imread(snapshot->string()).empty());
      CHECK(fs::exists(*crop));
    }
    // No orphan file either: the reopen removed what no row references.
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir / "media")) {
      (void)entry;
      ++files;
    }
    CHECK(files == 2 * page.events.size());
  }
}

TEST_CASE("retention: age and total size limits are enforced, oldest first", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  const double now = maskdetect::server::unix_now();

  SECTION("age") {
    TempDir dir;
    {
      EventStore store(EventStore::Options{.dir = dir.path(), .max_age_s = 3600.0});
      for (int i = 0; i < 5; ++i)
        (void)store.record(sample_track(frame, "door", i, "no_mask", now - 10.0), Privacy::full);
      // An event already older than the limit is deleted as soon as it is written.
      (void)store.record(sample_track(frame, "door", 99, "no_mask", now - 7200.0), Privacy::full);
      CHECK(store.size() == 5);
      // Two hours later, everything is past the limit.
      CHECK(store.enforce_retention(now + 7200.0) == 5);
      CHECK(store.size() == 0);
      CHECK(std::distance(fs::directory_iterator(dir / "media"), fs::directory_iterator()) == 0);
    }
    {
      // Retention is also enforced when a store is opened.
      EventStore store(EventStore::Options{.dir = dir.path(), .max_age_s = 0.0});
      (void)store.record(sample_track(frame, "door", 1, "no_mask", now - 7200.0), Privacy::full);
      CHECK(store.size() == 1);
    }
    EventStore store(EventStore::Options{.dir = dir.path(), .max_age_s = 3600.0});
    CHECK(store.size() == 0);
  }

  SECTION("size") {
    TempDir dir;
    const std::int64_t limit = 1 << 20;  // 1 MiB; one event (frame + crop) is ~60 kB
    EventStore store(EventStore::Options{.dir = dir.path(), .max_bytes = limit});
    for (int i = 0; i < 60; ++i) {
      (void)store.record(sample_track(frame, "door", i, "no_mask", now - 60.0 + i), Privacy::full);
      CHECK(store.stored_bytes() <= limit);
    }
    const auto page = store.list(EventQuery{.limit = 1000});
    REQUIRE(!page.events.empty());
    CHECK(page.events.size() < 60);
    CHECK(page.events.front().track_id == 59);  // the newest kept, the oldest gone
    CHECK(page.events.back().track_id == 60 - static_cast<std::int64_t>(page.events.size()));
    std::uintmax_t on_disk = 0;
    for (const auto& entry : fs::directory_iterator(dir / "media")) on_disk += entry.file_size();
    CHECK(on_disk <= static_cast<std::uintmax_t>(limit));
  }
}

TEST_CASE("privacy: blur stores a blurred frame and no crop, none_stored keeps counts only", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  TempDir dir;
  EventStore store(EventStore::Options{.dir = dir.path()});
  const double now = maskdetect::server::unix_now();
  auto track = sample_track(frame, "door", 1, "no_mask", now);
  const auto id = store.record(track, Privacy::blur);
  REQUIRE(id.has_value());
  const auto e = store.get(*id);
  REQUIRE(e.has_value());
  CHECK(e->privacy == Privacy::blur);
  CHECK(e->label == "no_mask");
  CHECK(e->has_snapshot);
  CHECK_FALSE(e->has_crop);
  CHECK_FALSE(store.file(*id, "crop").has_value());
  const cv::Mat stored = cv::imread(store.file(*id, "snapshot")->string());
  REQUIRE(stored.size() == frame.size());
  // The face is unrecognisable (its detail is gone); the rest of the frame is kept.
  CHECK(variance_of_laplacian(stored(track.box)) < 0.2 * variance_of_laplacian(frame(track.box)));
  const cv::Rect elsewhere(200, 20, 60, 60);
  CHECK(cv::norm(stored(elsewhere), frame(elsewhere), cv::NORM_L1) / elsewhere.area() < 10.0);

  const auto none = store.record(sample_track(frame, "door", 2, "incorrect", now), Privacy::none_stored);
  CHECK_FALSE(none.has_value());
  CHECK(store.size() == 1);
  CHECK(store.counts().at({"door", "incorrect"}) == 1);
  CHECK(std::distance(fs::directory_iterator(dir / "media"), fs::directory_iterator()) == 1);
}

TEST_CASE("event rules: labels, minimum time seen, once per track, cooldown per camera and label", "[monitor]") {
  EventRules rules;
  rules.set("door", EventRuleConfig{.labels = {"no_mask"}, .min_seen_s = 2.0, .cooldown_s = 10.0});
  maskdetect::server::PersonTrack t;
  t.camera = "door";
  t.label = "no_mask";
  t.track_id = 1;
  t.first_seen = 100.0;
  t.last_seen = 101.0;
  CHECK_FALSE(rules.admit(t));  // seen 1 s < 2 s
  t.last_seen = 102.5;
  CHECK(rules.admit(t));
  CHECK_FALSE(rules.admit(t));  // once per track
  t.track_id = 2;
  t.last_seen = 106.0;
  CHECK_FALSE(rules.admit(t));  // cooldown: 3.5 s after the last event
  t.last_seen = 113.0;
  CHECK(rules.admit(t));
  t.track_id = 3;
  t.label = "incorrect";  // not an event label on this camera
  CHECK_FALSE(rules.admit(t));
  t.camera = "hall";  // defaults: no_mask and incorrect, 1 s, 30 s cooldown
  CHECK(rules.admit(t));
  t.label = "mask";
  t.track_id = 4;
  CHECK_FALSE(rules.admit(t));
}
