// event_store.cpp - SQLite (WAL) events with JPEG files beside the database; see event_store.hpp.
#include "event_store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <system_error>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "sqlite_statement.hpp"

namespace maskdetect::server {

namespace fs = std::filesystem;

std::string_view to_string(Privacy privacy) noexcept {
  switch (privacy) {
    case Privacy::full:
      return "full";
    case Privacy::blur:
      return "blur";
    case Privacy::none_stored:
      return "none_stored";
  }
  return "full";
}

std::optional<Privacy> parse_privacy(std::string_view name) noexcept {
  if (name == "full") return Privacy::full;
  if (name == "blur") return Privacy::blur;
  if (name == "none_stored") return Privacy::none_stored;
  return std::nullopt;
}

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

fs::path default_data_dir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/')
    return fs::path(state) / "maskdetect";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : ".") / ".local/state/maskdetect";
}

// ---------------------------------------------------------------------------------------------- rules

void EventRules::set(const std::string& camera, EventRuleConfig rules) {
  const std::lock_guard lock(mutex_);
  rules_[camera] = std::move(rules);
}

bool EventRules::admit(const PersonTrack& track) {
  const std::lock_guard lock(mutex_);
  const auto it = rules_.find(track.camera);
  const EventRuleConfig rules = it == rules_.end() ? EventRuleConfig{} : it->second;
  if (!rules.labels.contains(track.label)) return false;
  if (track.last_seen - track.first_seen < rules.min_seen_s) return false;
  const auto key = std::make_pair(track.camera, track.track_id);
  if (recorded_.contains(key)) return false;
  const auto cooldown_key = std::make_pair(track.camera, track.label);
  if (const auto last = last_event_.find(cooldown_key);
      last != last_event_.end() && track.last_seen - last->second < rules.cooldown_s)
    return false;
  recorded_[key] = track.last_seen;
  if (recorded_.size() > 10000) {  // forget tracks not seen for an hour: ids are not reused that soon
    std::erase_if(recorded_, [&](const auto& item) { return item.second < track.last_seen - 3600.0; });
  }
  last_event_[cooldown_key] = track.last_seen;
  return true;
}

// ---------------------------------------------------------------------------------------------- JSON

namespace {

std::string iso_utc(double t) {
  const auto seconds = static_cast<std::time_t>(std::floor(t));
  const auto millis = static_cast<int>(std::lround((t - std::floor(t)) * 1000.0)) % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace

std::string event_json(const Event& e) {
  nlohmann::json doc = {{"id", e.id},
                        {"camera", e.camera},
                        {"track_id", e.track_id},
                        {"label", e.label},
                        {"confidence", e.confidence},
                        {"first_seen", e.first_seen},
                        {"last_seen", e.last_seen},
                        {"time", iso_utc(e.last_seen)},
                        {"duration_s", e.last_seen - e.first_seen},
                        {"created", e.created},
                        {"privacy", to_string(e.privacy)},
                        {"snapshot", nullptr},
                        {"crop", nullptr}};
  if (e.has_snapshot) doc["snapshot"] = fmt::format("/api/v1/events/{}/snapshot.jpg", e.id);
  if (e.has_crop) doc["crop"] = fmt::format("/api/v1/events/{}/crop.jpg", e.id);
  return doc.dump();
}

// ---------------------------------------------------------------------------------------------- SQLite

namespace {

using detail::Statement;

constexpr std::string_view kSchema = R"sql(
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

constexpr std::string_view kColumns =
    "id, camera, track_id, label, confidence, first_seen, last_seen, created, privacy, has_snapshot, has_crop, bytes";

Event read_event(const Statement& s) {
  Event e;
  e.id = s.integer(0);
  e.camera = s.text(1);
  e.track_id = s.integer(2);
  e.label = s.text(3);
  e.confidence = static_cast<float>(s.real(4));
  e.first_seen = s.real(5);
  e.last_seen = s.real(6);
  e.created = s.real(7);
  e.privacy = parse_privacy(s.text(8)).value_or(Privacy::full);
  e.has_snapshot = s.integer(9) != 0;
  e.has_crop = s.integer(10) != 0;
  e.bytes = s.integer(11);
  return e;
}

std::string jpeg_name(std::int64_t id, std::string_view kind) { return fmt::format("{}-{}.jpg", id, kind); }

/// Writes `bytes` to `path` and flushes it to disk (so that a committed row's file survives a power cut).
void write_durable(const fs::path& path, const std::vector<unsigned char>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw Error(Errc::io, fmt::format("{}: cannot create the file", path.string()));
  const bool ok =
      std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  if (std::fclose(f) != 0 || !ok) throw Error(Errc::io, fmt::format("{}: cannot write the file", path.string()));
}

std::vector<unsigned char> encode(const cv::Mat& image, int quality) {
  std::vector<unsigned char> out;
  if (!image.empty()) cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, quality});
  return out;
}

/// Pixelates and blurs `box` in `image` so that the face cannot be recognised.
void blur_region(cv::Mat& image, cv::Rect box) {
  box &= cv::Rect(0, 0, image.cols, image.rows);
  if (box.area() <= 0) return;
  cv::Mat roi = image(box);
  cv::Mat small;
  cv::resize(roi, small, cv::Size(std::max(1, box.width / 12), std::max(1, box.height / 12)), 0, 0, cv::INTER_AREA);
  cv::resize(small, roi, box.size(), 0, 0, cv::INTER_NEAREST);
  const int k = std::max(3, (std::min(box.width, box.height) / 4) | 1);
  cv::GaussianBlur(roi, roi, cv::Size(k, k), 0);
}

}  // namespace

struct EventStore::Db : detail::Database {};

EventStore::EventStore(Options options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec)
    throw Error(Errc::io, fmt::format("{}: cannot create the data folder: {}", options_.dir.string(), ec.message()));
  db_path_ = options_.dir / "events.db";
  media_dir_ = options_.dir / "media";
  fs::create_directories(media_dir_, ec);
  if (ec) throw Error(Errc::io, fmt::format("{}: cannot create the folder: {}", media_dir_.string(), ec.message()));

  db_ = std::make_unique<Db>();
  db_->open(db_path_);
  db_->exec("PRAGMA foreign_keys=ON;");
  db_->exec(kSchema);

  // Files that no row references were left by a crash between writing them and committing: remove them.
  std::unordered_set<std::string> referenced;
  {
    Statement s(db_->handle, "SELECT id, has_snapshot, has_crop, bytes FROM events", db_path_);
    while (s.step(db_path_) == SQLITE_ROW) {
      if (s.integer(1) != 0) referenced.insert(jpeg_name(s.integer(0), "snapshot"));
      if (s.integer(2) != 0) referenced.insert(jpeg_name(s.integer(0), "crop"));
      media_bytes_ += s.integer(3);
    }
  }
  for (const auto& entry : fs::directory_iterator(media_dir_, ec)) {
    if (!referenced.contains(entry.path().filename().string())) fs::remove(entry.path(), ec);
  }
  const std::lock_guard lock(mutex_);
  enforce_locked(unix_now());
}

EventStore::~EventStore() = default;

std::optional<std::int64_t> EventStore::record(const PersonTrack& track, Privacy privacy) {
  // Encode outside the lock: the slow part.
  std::vector<unsigned char> snapshot;
  std::vector<unsigned char> crop;
  if (privacy == Privacy::full) {
    snapshot = encode(track.frame, options_.jpeg_quality);
    crop = encode(track.crop, options_.jpeg_quality);
  } else if (privacy == Privacy::blur && !track.frame.empty()) {
    cv::Mat blurred = track.frame.clone();
    if (track.box.area() > 0 || !track.others.empty()) {
      blur_region(blurred, track.box);
      for (const cv::Rect& r : track.others) blur_region(blurred, r);
    } else {
      blur_region(blurred, cv::Rect(0, 0, blurred.cols, blurred.rows));  // no box known: blur everything
    }
    snapshot = encode(blurred, options_.jpeg_quality);
  }

  const std::lock_guard lock(mutex_);
  db_->exec("BEGIN IMMEDIATE");
  try {
    {
      Statement s(db_->handle,
                  "INSERT INTO event_counts(camera, label, count) VALUES(?1, ?2, 1) "
                  "ON CONFLICT(camera, label) DO UPDATE SET count = count + 1",
                  db_path_);
      s.bind(1, track.camera);
      s.bind(2, track.label);
      s.step(db_path_);
    }
    if (privacy == Privacy::none_stored) {
      db_->exec("COMMIT");
      return std::nullopt;
    }
    const auto bytes = static_cast<std::int64_t>(snapshot.size() + crop.size());
    Statement s(db_->handle,
                "INSERT INTO events(camera, track_id, label, confidence, first_seen, last_seen, created, privacy, "
                "has_snapshot, has_crop, bytes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                db_path_);
    s.bind(1, track.camera);
    s.bind(2, track.track_id);
    s.bind(3, track.label);
    s.bind(4, static_cast<double>(track.confidence));
    s.bind(5, track.first_seen);
    s.bind(6, track.last_seen);
    s.bind(7, unix_now());
    s.bind(8, to_string(privacy));
    s.bind(9, std::int64_t{snapshot.empty() ? 0 : 1});
    s.bind(10, std::int64_t{crop.empty() ? 0 : 1});
    s.bind(11, bytes);
    s.step(db_path_);
    const std::int64_t id = sqlite3_last_insert_rowid(db_->handle);
    // The files are on disk before the row is committed: a crash leaves a row with its files or no row
    // (and orphan files, removed at the next open).
    if (!snapshot.empty()) write_durable(media_dir_ / jpeg_name(id, "snapshot"), snapshot);
    if (!crop.empty()) write_durable(media_dir_ / jpeg_name(id, "crop"), crop);
    db_->exec("COMMIT");
    media_bytes_ += bytes;
    enforce_locked(unix_now());
    return id;
  } catch (...) {
    sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

EventPage EventStore::list(const EventQuery& q) const {
  std::string sql = fmt::format("SELECT {} FROM events WHERE 1", kColumns);
  if (!q.camera.empty()) sql += " AND camera = ?1";
  if (!q.label.empty()) sql += " AND label = ?2";
  if (q.since) sql += " AND last_seen >= ?3";
  if (q.until) sql += " AND last_seen < ?4";
  if (q.before_id) sql += " AND id < ?5";
  sql += " ORDER BY id DESC LIMIT ?6";
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, sql, db_path_);
  if (!q.camera.empty()) s.bind(1, q.camera);
  if (!q.label.empty()) s.bind(2, q.label);
  if (q.since) s.bind(3, *q.since);
  if (q.until) s.bind(4, *q.until);
  if (q.before_id) s.bind(5, *q.before_id);
  s.bind(6, static_cast<std::int64_t>(limit + 1));
  EventPage page;
  while (s.step(db_path_) == SQLITE_ROW) page.events.push_back(read_event(s));
  if (page.events.size() > limit) {
    page.events.pop_back();
    page.next_before = page.events.back().id;
  }
  return page;
}

std::optional<Event> EventStore::get(std::int64_t id) const {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, fmt::format("SELECT {} FROM events WHERE id = ?1", kColumns), db_path_);
  s.bind(1, id);
  if (s.step(db_path_) != SQLITE_ROW) return std::nullopt;
  return read_event(s);
}

std::optional<fs::path> EventStore::file(std::int64_t id, std::string_view kind) const {
  const std::optional<Event> e = get(id);
  if (!e) return std::nullopt;
  if ((kind == "snapshot" && e->has_snapshot) || (kind == "crop" && e->has_crop))
    return media_dir_ / jpeg_name(id, kind);
  return std::nullopt;
}

void EventStore::remove_locked(std::int64_t id, std::vector<fs::path>& files) {
  std::int64_t bytes = 0;
  {
    Statement s(db_->handle, "DELETE FROM events WHERE id = ?1 RETURNING bytes", db_path_);
    s.bind(1, id);
    if (s.step(db_path_) == SQLITE_ROW) bytes = s.integer(0);
    while (s.step(db_path_) == SQLITE_ROW) {
    }
  }
  // The caller unlinks the files once the deletion is committed: never a row without its files.
  files.push_back(media_dir_ / jpeg_name(id, "snapshot"));
  files.push_back(media_dir_ / jpeg_name(id, "crop"));
  media_bytes_ -= bytes;
}

namespace {
void unlink_all(const std::vector<fs::path>& files) {
  std::error_code ec;
  for (const fs::path& f : files) fs::remove(f, ec);
}
}  // namespace

bool EventStore::remove(std::int64_t id) {
  const std::lock_guard lock(mutex_);
  {
    Statement s(db_->handle, "SELECT 1 FROM events WHERE id = ?1", db_path_);
    s.bind(1, id);
    if (s.step(db_path_) != SQLITE_ROW) return false;
  }
  std::vector<fs::path> files;
  remove_locked(id, files);  // autocommit
  unlink_all(files);
  return true;
}

std::map<std::pair<std::string, std::string>, std::int64_t> EventStore::counts() const {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "SELECT camera, label, count FROM event_counts", db_path_);
  std::map<std::pair<std::string, std::string>, std::int64_t> out;
  while (s.step(db_path_) == SQLITE_ROW) out[{s.text(0), s.text(1)}] = s.integer(2);
  return out;
}

std::int64_t EventStore::stored_bytes_locked() const {
  std::int64_t pages = 0;
  std::int64_t free_pages = 0;
  std::int64_t page_size = 0;
  {
    Statement s(db_->handle, "PRAGMA page_count", db_path_);
    if (s.step(db_path_) == SQLITE_ROW) pages = s.integer(0);
  }
  {
    Statement s(db_->handle, "PRAGMA freelist_count", db_path_);
    if (s.step(db_path_) == SQLITE_ROW) free_pages = s.integer(0);
  }
  {
    Statement s(db_->handle, "PRAGMA page_size", db_path_);
    if (s.step(db_path_) == SQLITE_ROW) page_size = s.integer(0);
  }
  return (pages - free_pages) * page_size + media_bytes_;
}

std::int64_t EventStore::stored_bytes() const {
  const std::lock_guard lock(mutex_);
  return stored_bytes_locked();
}

std::size_t EventStore::size() const {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "SELECT COUNT(*) FROM events", db_path_);
  s.step(db_path_);
  return static_cast<std::size_t>(s.integer(0));
}

std::size_t EventStore::enforce_locked(double now) {
  std::vector<std::int64_t> doomed;
  if (options_.max_age_s > 0.0) {
    Statement s(db_->handle, "SELECT id FROM events WHERE last_seen < ?1", db_path_);
    s.bind(1, now - options_.max_age_s);
    while (s.step(db_path_) == SQLITE_ROW) doomed.push_back(s.integer(0));
  }
  std::size_t removed = 0;
  auto remove_batch = [&] {
    if (doomed.empty()) return;
    std::vector<fs::path> files;
    db_->exec("BEGIN IMMEDIATE");
    try {
      for (std::int64_t id : doomed) remove_locked(id, files);
      db_->exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    unlink_all(files);
    removed += doomed.size();
    doomed.clear();
  };
  remove_batch();
  if (options_.max_bytes > 0) {
    while (stored_bytes_locked() > options_.max_bytes) {
      Statement s(db_->handle, "SELECT id FROM events ORDER BY id LIMIT 16", db_path_);
      while (s.step(db_path_) == SQLITE_ROW) doomed.push_back(s.integer(0));
      if (doomed.empty()) break;
      remove_batch();
    }
  }
  return removed;
}

std::size_t EventStore::enforce_retention(double now) {
  const std::lock_guard lock(mutex_);
  return enforce_locked(now);
}

}  // namespace maskdetect::server
