// event_store_sqlite.cpp - SQLite (WAL) events with JPEG files beside the database; see event_store_sqlite.hpp.
#include "event_store_sqlite.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_set>

#include <fmt/format.h>

#include "log_line.hpp"
#include "maskdetect/error.hpp"
#include "migrations.hpp"
#include "sqlite_statement.hpp"

namespace maskdetect::server {

namespace fs = std::filesystem;

namespace {

using detail::Statement;

/// A random version 4 UUID per row, for rows made before events had one.
#define MASKDETECT_SQLITE_UUID                                                                                  \
  "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), " \
  "2) || '-' || substr('89ab', 1 + abs(random() % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || "    \
  "lower(hex(randomblob(6)))"

/// The schema of events.db. Version 1 is the schema before versioning (a data folder made then has these
/// tables and no schema_version: it starts at 0 and version 1 changes nothing in it).
constexpr Migration kMigrations[] = {
    {1, "events and counts", R"sql(
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
)sql"},
    {2, "event uid, face box, frame size, previous label",
     "ALTER TABLE events ADD COLUMN uid TEXT;"
     "ALTER TABLE events ADD COLUMN box_x INTEGER;"
     "ALTER TABLE events ADD COLUMN box_y INTEGER;"
     "ALTER TABLE events ADD COLUMN box_w INTEGER;"
     "ALTER TABLE events ADD COLUMN box_h INTEGER;"
     "ALTER TABLE events ADD COLUMN frame_w INTEGER;"
     "ALTER TABLE events ADD COLUMN frame_h INTEGER;"
     "ALTER TABLE events ADD COLUMN previous_label TEXT;"
     "UPDATE events SET uid = " MASKDETECT_SQLITE_UUID " WHERE uid IS NULL;"
     "CREATE UNIQUE INDEX events_uid ON events(uid);"
     "CREATE TABLE event_uids(uid TEXT PRIMARY KEY, created REAL NOT NULL);"
     "CREATE INDEX event_uids_created ON event_uids(created);"},
};

#undef MASKDETECT_SQLITE_UUID

constexpr std::string_view kColumns =
    "id, uid, camera, track_id, label, confidence, first_seen, last_seen, created, privacy, has_snapshot, has_crop, "
    "bytes, box_x, box_y, box_w, box_h, frame_w, frame_h, previous_label";

Event read_event(const Statement& s) {
  Event e;
  e.id = s.integer(0);
  e.uid = s.text(1);
  e.camera = s.text(2);
  e.track_id = s.integer(3);
  e.label = s.text(4);
  e.confidence = static_cast<float>(s.real(5));
  e.first_seen = s.real(6);
  e.last_seen = s.real(7);
  e.created = s.real(8);
  e.privacy = parse_privacy(s.text(9)).value_or(Privacy::full);
  e.has_snapshot = s.integer(10) != 0;
  e.has_crop = s.integer(11) != 0;
  e.bytes = s.integer(12);
  if (!s.is_null(13))
    e.box = cv::Rect(static_cast<int>(s.integer(13)), static_cast<int>(s.integer(14)), static_cast<int>(s.integer(15)),
                     static_cast<int>(s.integer(16)));
  if (!s.is_null(17)) e.frame_size = cv::Size(static_cast<int>(s.integer(17)), static_cast<int>(s.integer(18)));
  e.previous_label = s.text(19);
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

void unlink_all(const std::vector<fs::path>& files) {
  std::error_code ec;
  for (const fs::path& f : files) fs::remove(f, ec);
}

std::int64_t file_bytes(const fs::path& path) {
  std::error_code ec;
  const std::uintmax_t n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::int64_t>(n);
}

}  // namespace

struct SqliteEventStore::Db : detail::Database {};

SqliteEventStore::SqliteEventStore(Options options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec)
    throw Error(Errc::io, fmt::format("{}: cannot create the data folder: {}", options_.dir.string(), ec.message()));
  db_path_ = options_.dir / kSqliteEventsFile;
  media_dir_ = options_.dir / "media";
  fs::create_directories(media_dir_, ec);
  if (ec) throw Error(Errc::io, fmt::format("{}: cannot create the folder: {}", media_dir_.string(), ec.message()));

  db_ = std::make_unique<Db>();
  db_->open(db_path_);
  db_->use_incremental_vacuum();
  (void)detail::migrate(*db_, "events", kMigrations);

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

SqliteEventStore::~SqliteEventStore() = default;

Event SqliteEventStore::record(const PersonTrack& track, Privacy privacy) {
  // Encode outside the lock: the slow part.
  const detail::EventImages images = detail::encode_images(track, privacy, options_.jpeg_quality);
  Event e = detail::event_of(track, privacy);
  e.has_snapshot = !images.snapshot.empty();
  e.has_crop = !images.crop.empty();
  e.bytes = static_cast<std::int64_t>(images.snapshot.size() + images.crop.size());

  const std::lock_guard lock(mutex_);
  e.created = unix_now();
  db_->exec("BEGIN IMMEDIATE");
  try {
    auto count = [&] {
      Statement s(db_->handle,
                  "INSERT INTO event_counts(camera, label, count) VALUES(?1, ?2, 1) "
                  "ON CONFLICT(camera, label) DO UPDATE SET count = count + 1",
                  db_path_);
      s.bind(1, track.camera);
      s.bind(2, track.label);
      s.step(db_path_);
    };
    if (privacy == Privacy::none_stored) {
      Statement s(db_->handle, "INSERT INTO event_uids(uid, created) VALUES(?1, ?2) ON CONFLICT DO NOTHING", db_path_);
      s.bind(1, e.uid);
      s.bind(2, e.created);
      s.step(db_path_);
      if (sqlite3_changes(db_->handle) == 1) count();  // else: this event was counted already
      db_->exec("COMMIT");
      return e;
    }
    if (std::optional<Event> existing = get_by_uid_locked(e.uid)) {  // recorded already: that one, not a copy
      db_->exec("COMMIT");
      return *existing;
    }
    count();
    Statement s(db_->handle,
                "INSERT INTO events(uid, camera, track_id, label, confidence, first_seen, last_seen, created, "
                "privacy, has_snapshot, has_crop, bytes, box_x, box_y, box_w, box_h, frame_w, frame_h, "
                "previous_label) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
                "?18, ?19)",
                db_path_);
    s.bind(1, e.uid);
    s.bind(2, e.camera);
    s.bind(3, e.track_id);
    s.bind(4, e.label);
    s.bind(5, static_cast<double>(e.confidence));
    s.bind(6, e.first_seen);
    s.bind(7, e.last_seen);
    s.bind(8, e.created);
    s.bind(9, to_string(privacy));
    s.bind(10, std::int64_t{e.has_snapshot ? 1 : 0});
    s.bind(11, std::int64_t{e.has_crop ? 1 : 0});
    s.bind(12, e.bytes);
    if (e.box.area() > 0) {
      s.bind(13, std::int64_t{e.box.x});
      s.bind(14, std::int64_t{e.box.y});
      s.bind(15, std::int64_t{e.box.width});
      s.bind(16, std::int64_t{e.box.height});
    }
    if (e.frame_size.area() > 0) {
      s.bind(17, std::int64_t{e.frame_size.width});
      s.bind(18, std::int64_t{e.frame_size.height});
    }
    if (!e.previous_label.empty()) s.bind(19, e.previous_label);
    s.step(db_path_);
    e.id = sqlite3_last_insert_rowid(db_->handle);
    // The files are on disk before the row is committed: a crash leaves a row with its files or no row
    // (and orphan files, removed at the next open).
    if (e.has_snapshot) write_durable(media_dir_ / jpeg_name(e.id, "snapshot"), images.snapshot);
    if (e.has_crop) write_durable(media_dir_ / jpeg_name(e.id, "crop"), images.crop);
    db_->exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  media_bytes_ += e.bytes;
  try {  // the event is stored: a failing clean-up must not make it look lost to the caller
    enforce_locked(unix_now());
  } catch (const std::exception& error) {
    detail::log_line(fmt::format("events: retention not enforced: {}", error.what()));
  }
  return e;
}

EventPage SqliteEventStore::list(const EventQuery& q) const {
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

std::optional<Event> SqliteEventStore::get_locked(std::int64_t id) const {
  Statement s(db_->handle, fmt::format("SELECT {} FROM events WHERE id = ?1", kColumns), db_path_);
  s.bind(1, id);
  if (s.step(db_path_) != SQLITE_ROW) return std::nullopt;
  return read_event(s);
}

std::optional<Event> SqliteEventStore::get_by_uid_locked(const std::string& uid) const {
  Statement s(db_->handle, fmt::format("SELECT {} FROM events WHERE uid = ?1", kColumns), db_path_);
  s.bind(1, uid);
  if (s.step(db_path_) != SQLITE_ROW) return std::nullopt;
  return read_event(s);
}

std::optional<Event> SqliteEventStore::get(std::int64_t id) const {
  const std::lock_guard lock(mutex_);
  return get_locked(id);
}

std::optional<fs::path> SqliteEventStore::file(std::int64_t id, std::string_view kind) const {
  const std::optional<Event> e = get(id);
  if (!e) return std::nullopt;
  if ((kind == "snapshot" && e->has_snapshot) || (kind == "crop" && e->has_crop))
    return media_dir_ / jpeg_name(id, kind);
  return std::nullopt;
}

std::optional<std::string> SqliteEventStore::image(std::int64_t id, std::string_view kind) const {
  const std::optional<fs::path> path = file(id, kind);
  if (!path) return std::nullopt;
  std::ifstream in(*path, std::ios::binary);
  if (!in) return std::nullopt;  // deleted meanwhile
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

void SqliteEventStore::remove_locked(std::int64_t id, std::vector<fs::path>& files) {
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

void SqliteEventStore::remove_batch_locked(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return;
  std::vector<fs::path> files;
  const std::int64_t media_before = media_bytes_;
  db_->exec("BEGIN IMMEDIATE");
  try {
    for (const std::int64_t id : ids) remove_locked(id, files);
    db_->exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    media_bytes_ = media_before;
    throw;
  }
  unlink_all(files);
  db_->incremental_vacuum();  // the freed pages leave the file at the next checkpoint
}

bool SqliteEventStore::remove(std::int64_t id) {
  const std::lock_guard lock(mutex_);
  if (!get_locked(id)) return false;
  remove_batch_locked({id});
  return true;
}

std::map<std::pair<std::string, std::string>, std::int64_t> SqliteEventStore::counts() const {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "SELECT camera, label, count FROM event_counts", db_path_);
  std::map<std::pair<std::string, std::string>, std::int64_t> out;
  while (s.step(db_path_) == SQLITE_ROW) out[{s.text(0), s.text(1)}] = s.integer(2);
  return out;
}

std::int64_t SqliteEventStore::stored_bytes_locked() const {
  std::int64_t total = media_bytes_;
  for (const char* name : {kSqliteEventsFile, kSqliteHistoryFile, kSqliteOutboxFile})
    for (const char* suffix : {"", "-wal", "-shm"}) total += file_bytes(options_.dir / (std::string(name) + suffix));
  return total;
}

std::int64_t SqliteEventStore::stored_bytes() const {
  const std::lock_guard lock(mutex_);
  return stored_bytes_locked();
}

std::size_t SqliteEventStore::size() const {
  const std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(db_->integer("SELECT count(*) FROM events"));
}

std::size_t SqliteEventStore::enforce_locked(double now) {
  std::size_t removed = 0;
  {  // none_stored uids only guard repeated attempts of a moment ago
    Statement s(db_->handle, "DELETE FROM event_uids WHERE created < ?1", db_path_);
    s.bind(1, now - 86400.0);
    s.step(db_path_);
  }
  if (options_.max_age_s > 0.0) {
    std::vector<std::int64_t> doomed;
    {
      Statement s(db_->handle, "SELECT id FROM events WHERE last_seen < ?1", db_path_);
      s.bind(1, now - options_.max_age_s);
      while (s.step(db_path_) == SQLITE_ROW) doomed.push_back(s.integer(0));
    }
    remove_batch_locked(doomed);
    removed += doomed.size();
  }
  if (options_.max_bytes <= 0) return removed;
  // Over the limit: what a checkpoint gives back (the WAL folded into the database and truncated, with the
  // pages freed by deletions) goes first, as it loses nothing; then the oldest events, as few as cover the
  // rest, never the newest; measured again after each step.
  bool checkpointed = false;
  for (;;) {
    const std::int64_t excess = stored_bytes_locked() - options_.max_bytes;
    if (excess <= 0) break;
    const std::int64_t wal = checkpointed ? 0 : file_bytes(options_.dir / (std::string(kSqliteEventsFile) + "-wal"));
    if (wal >= excess) {
      db_->checkpoint_truncate();
      checkpointed = true;
      continue;
    }
    std::vector<std::int64_t> doomed;
    {
      Statement s(db_->handle, "SELECT id, bytes FROM events WHERE id < (SELECT max(id) FROM events) ORDER BY id",
                  db_path_);
      std::int64_t freed = 0;
      while (freed < excess - wal && s.step(db_path_) == SQLITE_ROW) {
        doomed.push_back(s.integer(0));
        freed += s.integer(1);
      }
    }
    if (doomed.empty()) {  // only the newest event is left: it stays, over the limit
      if (checkpointed) break;
      db_->checkpoint_truncate();
      checkpointed = true;
      continue;
    }
    remove_batch_locked(doomed);
    removed += doomed.size();
    db_->checkpoint_truncate();  // the WAL's share, the deletion's own frames and the shrink of the file
    checkpointed = true;
  }
  return removed;
}

std::size_t SqliteEventStore::enforce_retention(double now) {
  const std::lock_guard lock(mutex_);
  return enforce_locked(now);
}

}  // namespace maskdetect::server
