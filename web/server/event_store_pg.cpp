// event_store_pg.cpp - events in PostgreSQL, JPEGs as bytea; see event_store_pg.hpp.
#include "event_store_pg.hpp"

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "log_line.hpp"
#include "maskdetect/error.hpp"
#include "migrations.hpp"

namespace maskdetect::server {

namespace {

constexpr Migration kMigrations[] = {
    {1, "events, their JPEGs, counts", R"sql(
CREATE TABLE events(
  id bigserial PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  camera text NOT NULL,
  track_id bigint NOT NULL,
  label text NOT NULL,
  confidence real NOT NULL,
  first_seen double precision NOT NULL,
  last_seen double precision NOT NULL,
  created double precision NOT NULL,
  privacy text NOT NULL,
  has_snapshot boolean NOT NULL,
  has_crop boolean NOT NULL,
  bytes bigint NOT NULL,
  box_x integer, box_y integer, box_w integer, box_h integer,
  frame_w integer, frame_h integer,
  previous_label text);
CREATE INDEX events_camera_id ON events(camera, id);
CREATE INDEX events_last_seen ON events(last_seen);
CREATE INDEX events_id_bytes ON events(id) INCLUDE (bytes);
CREATE TABLE event_images(
  event_id bigint NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('snapshot', 'crop')),
  jpeg bytea NOT NULL,
  PRIMARY KEY(event_id, kind));
ALTER TABLE event_images ALTER COLUMN jpeg SET STORAGE EXTERNAL;
CREATE TABLE event_counts(
  camera text NOT NULL,
  label text NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY(camera, label));
CREATE TABLE event_uids(
  uid uuid PRIMARY KEY,
  created double precision NOT NULL);
CREATE INDEX event_uids_created ON event_uids(created);
)sql"},
};

constexpr std::string_view kColumns =
    "id, uid, camera, track_id, label, confidence, first_seen, last_seen, created, privacy, has_snapshot, has_crop, "
    "bytes, box_x, box_y, box_w, box_h, frame_w, frame_h, previous_label";

int int_column(const pg::Result& r, int row, int column) { return static_cast<int>(r.int64(row, column)); }

Event read_event(const pg::Result& r, int row) {
  Event e;
  e.id = r.int64(row, 0);
  e.uid = std::string(r.text(row, 1));
  e.camera = std::string(r.text(row, 2));
  e.track_id = r.int64(row, 3);
  e.label = std::string(r.text(row, 4));
  e.confidence = static_cast<float>(r.real(row, 5));
  e.first_seen = r.real(row, 6);
  e.last_seen = r.real(row, 7);
  e.created = r.real(row, 8);
  e.privacy = parse_privacy(r.text(row, 9)).value_or(Privacy::full);
  e.has_snapshot = r.text(row, 10) == "t";
  e.has_crop = r.text(row, 11) == "t";
  e.bytes = r.int64(row, 12);
  if (!r.is_null(row, 13))
    e.box = cv::Rect(int_column(r, row, 13), int_column(r, row, 14), int_column(r, row, 15), int_column(r, row, 16));
  if (!r.is_null(row, 17)) e.frame_size = cv::Size(int_column(r, row, 17), int_column(r, row, 18));
  e.previous_label = std::string(r.text(row, 19));
  return e;
}

pg::Param bytes_param(const std::vector<unsigned char>& bytes) {
  return pg::Param::binary(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

pg::Param optional_int(bool present, int value) { return present ? pg::Param(value) : pg::Param(std::nullopt); }

}  // namespace

std::span<const Migration> pg_event_migrations() { return kMigrations; }

template <typename Work>
auto PgEventStore::with_db(Work&& work) const {
  const std::lock_guard lock(mutex_);
  try {
    return work(db_);
  } catch (const pg::Error&) {
    if (db_.ok()) throw;  // the statement failed, not the connection
  }
  db_.reconnect();  // throws when the server is still away
  return work(db_);
}

PgEventStore::PgEventStore(Options options)
    : options_(std::move(options)), db_(options_.database, "maskdetect", options_.password) {
  (void)pg::migrate(db_, "events", kMigrations);
  (void)enforce_retention(unix_now());
}

PgEventStore::~PgEventStore() = default;

Event PgEventStore::record(const PersonTrack& track, Privacy privacy) {
  const detail::EventImages images = detail::encode_images(track, privacy, options_.jpeg_quality);
  Event e = detail::event_of(track, privacy);  // its uid is made once: a repeated attempt finds the first's
  e.has_snapshot = !images.snapshot.empty();
  e.has_crop = !images.crop.empty();
  e.bytes = static_cast<std::int64_t>(images.snapshot.size() + images.crop.size());
  e.created = unix_now();
  Event stored = with_db([&](pg::Connection&) { return record_once(e, images); });
  if (stored.stored()) {
    try {  // the event is stored: a failing clean-up must not make it look lost to the caller
      (void)enforce_retention(unix_now());
    } catch (const std::exception& error) {
      detail::log_line(fmt::format("events: retention not enforced: {}", error.what()));
    }
  }
  return stored;
}

Event PgEventStore::record_once(const Event& e, const detail::EventImages& images) {
  // One statement each (atomic without BEGIN/COMMIT, one round trip): the row, its JPEGs and the count go
  // together, and a uid stored already (an attempt whose answer was lost) inserts and counts nothing.
  if (e.privacy == Privacy::none_stored) {
    db_.exec(
        "WITH u AS (INSERT INTO event_uids(uid, created) VALUES($1, $2) ON CONFLICT DO NOTHING RETURNING uid) "
        "INSERT INTO event_counts(camera, label, count) SELECT $3, $4, 1 FROM u "
        "ON CONFLICT(camera, label) DO UPDATE SET count = event_counts.count + 1",
        {pg::Param(e.uid), pg::Param(e.created), pg::Param(e.camera), pg::Param(e.label)});
    return e;
  }
  const bool box = e.box.area() > 0;
  const bool frame = e.frame_size.area() > 0;
  const pg::Result r = db_.exec(
      "WITH e AS (INSERT INTO events(uid, camera, track_id, label, confidence, first_seen, last_seen, created, "
      "privacy, has_snapshot, has_crop, bytes, box_x, box_y, box_w, box_h, frame_w, frame_h, previous_label) "
      "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) "
      "ON CONFLICT(uid) DO NOTHING RETURNING id), "
      "i AS (INSERT INTO event_images(event_id, kind, jpeg) "
      "SELECT id, 'snapshot', $20::bytea FROM e WHERE $20::bytea IS NOT NULL "
      "UNION ALL SELECT id, 'crop', $21::bytea FROM e WHERE $21::bytea IS NOT NULL), "
      "c AS (INSERT INTO event_counts(camera, label, count) SELECT $2, $4, 1 FROM e "
      "ON CONFLICT(camera, label) DO UPDATE SET count = event_counts.count + 1) "
      "SELECT id FROM e",
      {pg::Param(e.uid),
       pg::Param(e.camera),
       pg::Param(e.track_id),
       pg::Param(e.label),
       pg::Param(static_cast<double>(e.confidence)),
       pg::Param(e.first_seen),
       pg::Param(e.last_seen),
       pg::Param(e.created),
       pg::Param(to_string(e.privacy)),
       pg::Param(e.has_snapshot ? "true" : "false"),
       pg::Param(e.has_crop ? "true" : "false"),
       pg::Param(e.bytes),
       optional_int(box, e.box.x),
       optional_int(box, e.box.y),
       optional_int(box, e.box.width),
       optional_int(box, e.box.height),
       optional_int(frame, e.frame_size.width),
       optional_int(frame, e.frame_size.height),
       e.previous_label.empty() ? pg::Param(std::nullopt) : pg::Param(e.previous_label),
       e.has_snapshot ? bytes_param(images.snapshot) : pg::Param(std::nullopt),
       e.has_crop ? bytes_param(images.crop) : pg::Param(std::nullopt)});
  if (r.rows() == 0) {  // stored by an attempt whose answer was lost: that one, not a copy
    const pg::Result existing =
        db_.exec(fmt::format("SELECT {} FROM events WHERE uid = $1", kColumns), {pg::Param(e.uid)});
    if (existing.rows() == 0) return e;  // already deleted by retention
    return read_event(existing, 0);
  }
  Event stored = e;
  stored.id = r.int64(0, 0);
  return stored;
}

EventPage PgEventStore::list(const EventQuery& q) const {
  std::string sql = fmt::format("SELECT {} FROM events WHERE true", kColumns);
  std::vector<pg::Param> params;
  auto where = [&](std::string_view condition, pg::Param value) {
    params.push_back(std::move(value));
    sql += fmt::format(" AND {} ${}", condition, params.size());
  };
  if (!q.camera.empty()) where("camera =", q.camera);
  if (!q.label.empty()) where("label =", q.label);
  if (q.since) where("last_seen >=", *q.since);
  if (q.until) where("last_seen <", *q.until);
  if (q.before_id) where("id <", *q.before_id);
  const std::size_t limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  params.emplace_back(static_cast<std::int64_t>(limit + 1));
  sql += fmt::format(" ORDER BY id DESC LIMIT ${}", params.size());
  return with_db([&](pg::Connection& db) {
    const pg::Result r = db.exec(sql, params);
    EventPage page;
    for (int row = 0; row < r.rows(); ++row) page.events.push_back(read_event(r, row));
    if (page.events.size() > limit) {
      page.events.pop_back();
      page.next_before = page.events.back().id;
    }
    return page;
  });
}

std::optional<Event> PgEventStore::get(std::int64_t id) const {
  return with_db([&](pg::Connection& db) -> std::optional<Event> {
    const pg::Result r = db.exec(fmt::format("SELECT {} FROM events WHERE id = $1", kColumns), {pg::Param(id)});
    if (r.rows() == 0) return std::nullopt;
    return read_event(r, 0);
  });
}

std::optional<std::string> PgEventStore::image(std::int64_t id, std::string_view kind) const {
  if (kind != "snapshot" && kind != "crop") return std::nullopt;
  return with_db([&](pg::Connection& db) -> std::optional<std::string> {
    const pg::Result r = db.exec("SELECT jpeg FROM event_images WHERE event_id = $1 AND kind = $2",
                                 {pg::Param(id), pg::Param(kind)}, true);
    if (r.rows() == 0) return std::nullopt;
    return r.bytes(0, 0);
  });
}

bool PgEventStore::remove(std::int64_t id) {
  return with_db([&](pg::Connection& db) {
    return db.exec("DELETE FROM events WHERE id = $1", {pg::Param(id)}).affected() > 0;  // images: cascade
  });
}

std::map<std::pair<std::string, std::string>, std::int64_t> PgEventStore::counts() const {
  return with_db([&](pg::Connection& db) {
    const pg::Result r = db.exec("SELECT camera, label, count FROM event_counts");
    std::map<std::pair<std::string, std::string>, std::int64_t> out;
    for (int row = 0; row < r.rows(); ++row)
      out[{std::string(r.text(row, 0)), std::string(r.text(row, 1))}] = r.int64(row, 2);
    return out;
  });
}

std::int64_t PgEventStore::stored_bytes() const {
  return with_db([&](pg::Connection& db) { return db.exec("SELECT coalesce(sum(bytes), 0) FROM events").int64(0, 0); });
}

std::size_t PgEventStore::size() const {
  return with_db(
      [&](pg::Connection& db) { return static_cast<std::size_t>(db.exec("SELECT count(*) FROM events").int64(0, 0)); });
}

std::size_t PgEventStore::enforce_retention(double now) {
  return with_db([&](pg::Connection& db) {
    pg::Transaction tx(db);
    // One worker at a time (the lock is released at commit): two running at once would each delete what the
    // excess needs. The DELETE's snapshot is taken after the lock, so it sees what the previous holder did.
    db.exec("SELECT pg_advisory_xact_lock($1, $2)", {pg::Param(pg::kLockSpace), pg::Param(pg::kRetentionLock)});
    // Events past the age limit; then, of the others, the oldest whose bytes summed from the oldest first
    // cover the excess over max_bytes; never the newest event for its size.
    const double cutoff = options_.max_age_s > 0.0 ? now - options_.max_age_s : -1.0e300;
    const std::int64_t removed =
        db.exec(
              "WITH live AS (SELECT id, bytes FROM events WHERE last_seen >= $1::double precision), "
              "excess AS (SELECT coalesce(sum(bytes), 0) - $2::bigint AS b FROM live), "
              "oldest AS (SELECT id FROM (SELECT id, bytes, sum(bytes) OVER (ORDER BY id) AS running FROM live "
              "WHERE id < (SELECT max(id) FROM events)) o "
              "WHERE $2::bigint > 0 AND running - bytes < (SELECT b FROM excess)) "
              "DELETE FROM events WHERE last_seen < $1::double precision OR id IN (SELECT id FROM oldest)",
              {pg::Param(cutoff), pg::Param(options_.max_bytes)})
            .affected();
    // none_stored uids only guard repeated attempts of a moment ago.
    if (now - last_uid_cleanup_ > 600.0) {
      db.exec("DELETE FROM event_uids WHERE created < $1", {pg::Param(now - 86400.0)});
      last_uid_cleanup_ = now;
    }
    tx.commit();
    return static_cast<std::size_t>(removed);
  });
}

}  // namespace maskdetect::server
