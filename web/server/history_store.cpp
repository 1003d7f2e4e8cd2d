// history_store.cpp - per-camera minutes in SQLite (WAL); see history_store.hpp.
#include "history_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

#include "maskdetect/error.hpp"
#include "sqlite_statement.hpp"
#include "state.hpp"

namespace maskdetect::server {

namespace fs = std::filesystem;
using detail::Statement;

namespace {

constexpr std::string_view kSchema = R"sql(
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

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::int64_t minute_of(double t) { return static_cast<std::int64_t>(std::floor(t / 60.0)) * 60; }

std::int64_t floor_to(std::int64_t t, std::int64_t step) {
  const std::int64_t q = t / step;
  return (t % step != 0 && t < 0 ? q - 1 : q) * step;
}

}  // namespace

std::int64_t HistoryPoint::people_total() const noexcept {
  std::int64_t total = 0;
  for (const std::int64_t n : people) total += n;
  return total;
}

std::optional<double> HistoryPoint::compliance() const noexcept {
  const std::int64_t total = people_total();
  if (total == 0) return std::nullopt;
  return static_cast<double>(people[static_cast<std::size_t>(MaskLabel::mask)]) / static_cast<double>(total);
}

struct HistoryStore::Db : detail::Database {};

HistoryStore::HistoryStore(Options options) : options_(std::move(options)) {
  std::error_code ec;
  fs::create_directories(options_.dir, ec);
  if (ec)
    throw Error(Errc::io, fmt::format("{}: cannot create the data folder: {}", options_.dir.string(), ec.message()));
  db_path_ = options_.dir / "history.db";
  db_ = std::make_unique<Db>();
  db_->open(db_path_);
  db_->exec(kSchema);
  enforce_retention(unix_now());
  writer_ = std::thread([this] { writer_loop(); });
}

HistoryStore::~HistoryStore() {
  {
    const std::lock_guard lock(pending_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  try {
    flush();
  } catch (const std::exception& e) {
    detail::log_line(fmt::format("history: not stored on exit: {}", e.what()));
  }
}

void HistoryStore::add_frame(const std::string& camera, double t, int in_view, double dt_s) {
  const std::lock_guard lock(pending_mutex_);
  HistoryPoint& p = pending_[{camera, minute_of(t)}];
  ++p.frames;
  p.in_view_sum += in_view;
  p.seconds += dt_s;
}

void HistoryStore::add_person(const std::string& camera, double t, MaskLabel label) {
  const std::lock_guard lock(pending_mutex_);
  ++pending_[{camera, minute_of(t)}].people[static_cast<std::size_t>(label)];
}

void HistoryStore::relabel_person(const std::string& camera, double t, MaskLabel from, MaskLabel to) {
  if (from == to || (options_.max_age_s > 0.0 && t < unix_now() - options_.max_age_s)) return;
  const std::lock_guard lock(pending_mutex_);
  HistoryPoint& p = pending_[{camera, minute_of(t)}];
  --p.people[static_cast<std::size_t>(from)];  // the upsert adds these deltas to the stored minute
  ++p.people[static_cast<std::size_t>(to)];
}

void HistoryStore::flush() {
  const std::lock_guard lock(db_mutex_);
  flush_locked_db();
}

void HistoryStore::flush_locked_db() {
  std::map<std::pair<std::string, std::int64_t>, HistoryPoint> rows;
  {
    const std::lock_guard lock(pending_mutex_);
    rows.swap(pending_);
  }
  if (rows.empty()) return;
  db_->exec("BEGIN");
  try {
    Statement s(db_->handle,
                "INSERT INTO history(camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(camera, t) DO UPDATE SET "
                "frames = frames + excluded.frames, in_view_sum = in_view_sum + excluded.in_view_sum, "
                "seconds = seconds + excluded.seconds, mask = mask + excluded.mask, "
                "no_mask = no_mask + excluded.no_mask, incorrect = incorrect + excluded.incorrect",
                db_path_);
    for (const auto& [key, p] : rows) {
      s.reset();
      s.bind(1, key.first);
      s.bind(2, key.second);
      s.bind(3, p.frames);
      s.bind(4, p.in_view_sum);
      s.bind(5, p.seconds);
      s.bind(6, p.people[static_cast<std::size_t>(MaskLabel::mask)]);
      s.bind(7, p.people[static_cast<std::size_t>(MaskLabel::no_mask)]);
      s.bind(8, p.people[static_cast<std::size_t>(MaskLabel::incorrect)]);
      s.step(db_path_);
    }
    db_->exec("COMMIT");
  } catch (...) {
    db_->exec("ROLLBACK");
    throw;
  }
}

std::size_t HistoryStore::enforce_retention(double now) {
  if (options_.max_age_s <= 0.0) return 0;
  const std::lock_guard lock(db_mutex_);
  Statement s(db_->handle, "DELETE FROM history WHERE t < ?1", db_path_);
  s.bind(1, static_cast<std::int64_t>(std::floor(now - options_.max_age_s)));
  s.step(db_path_);
  return static_cast<std::size_t>(sqlite3_changes(db_->handle));
}

std::map<std::string, std::vector<HistoryPoint>> HistoryStore::query(const HistoryQuery& q) {
  const std::int64_t step = q.step_s >= 60 ? q.step_s : 60;
  const std::lock_guard lock(db_mutex_);
  flush_locked_db();
  std::string sql =
      "SELECT camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect FROM history "
      "WHERE t >= ?1 AND t < ?2";
  if (!q.camera.empty()) sql += " AND camera = ?3";
  sql += " ORDER BY camera, t";
  Statement s(db_->handle, sql, db_path_);
  s.bind(1, q.since);
  s.bind(2, q.until);
  if (!q.camera.empty()) s.bind(3, q.camera);
  std::map<std::string, std::vector<HistoryPoint>> out;
  while (s.step(db_path_) == SQLITE_ROW) {
    std::vector<HistoryPoint>& points = out[s.text(0)];
    const std::int64_t bucket = floor_to(s.integer(1), step);
    if (points.empty() || points.back().t != bucket) points.push_back(HistoryPoint{.t = bucket});
    HistoryPoint& p = points.back();
    p.frames += s.integer(2);
    p.in_view_sum += s.real(3);
    p.seconds += s.real(4);
    p.people[static_cast<std::size_t>(MaskLabel::mask)] += s.integer(5);
    p.people[static_cast<std::size_t>(MaskLabel::no_mask)] += s.integer(6);
    p.people[static_cast<std::size_t>(MaskLabel::incorrect)] += s.integer(7);
  }
  return out;
}

void HistoryStore::writer_loop() {
  const auto interval = std::chrono::duration<double>(options_.flush_interval_s);
  auto last_retention = std::chrono::steady_clock::now();
  std::unique_lock lock(pending_mutex_);
  while (!stop_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    try {
      flush();
      if (std::chrono::steady_clock::now() - last_retention > std::chrono::minutes(10)) {
        last_retention = std::chrono::steady_clock::now();
        enforce_retention(unix_now());
      }
    } catch (const std::exception& e) {
      detail::log_line(fmt::format("history: not stored: {}", e.what()));
    }
    lock.lock();
  }
}

}  // namespace maskdetect::server
