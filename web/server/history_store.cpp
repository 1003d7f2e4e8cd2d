// history_store.cpp - per-camera minutes: the in-memory buffer and writer thread over a HistoryBackend; see
// history_store.hpp. The back ends are in history_store_sqlite.cpp and history_store_pg.cpp.
#include "history_store.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "event_store.hpp"
#include "log_line.hpp"
#include "maskdetect/error.hpp"
#include "pg.hpp"

namespace maskdetect::server {

namespace {

std::int64_t minute_of(double t) { return static_cast<std::int64_t>(std::floor(t / 60.0)) * 60; }

std::int64_t floor_to(std::int64_t t, std::int64_t step) {
  const std::int64_t q = t / step;
  return (t % step != 0 && t < 0 ? q - 1 : q) * step;
}

std::unique_ptr<HistoryBackend> backend_for(const HistoryStore::Options& options) {
  if (options.database.empty()) return sqlite_history_backend(options.dir);
  if (!pg::is_postgres_url(options.database))
    throw Error(Errc::bad_input,
                fmt::format("database '{}': expected a postgresql:// URL", pg::redact(options.database)));
  return pg_history_backend(options.database, options.password);
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

HistoryStore::HistoryStore(const Options& options) : HistoryStore(options, backend_for(options)) {}

HistoryStore::HistoryStore(Options options, std::unique_ptr<HistoryBackend> backend)
    : options_(std::move(options)), backend_(std::move(backend)) {
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

std::string HistoryStore::description() const { return backend_->description(); }

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
  --p.people[static_cast<std::size_t>(from)];  // the back end adds these deltas to the stored minute
  ++p.people[static_cast<std::size_t>(to)];
}

void HistoryStore::flush() {
  const std::lock_guard lock(db_mutex_);
  flush_locked_db();
}

void HistoryStore::flush_locked_db() {
  HistoryRows rows;
  {
    const std::lock_guard lock(pending_mutex_);
    rows.swap(pending_);
  }
  if (rows.empty()) return;
  try {
    backend_->add(rows);
  } catch (...) {
    // Not stored: put the rows back (added to what came meanwhile), so a database that is away for a while
    // loses nothing; the next flush tries again.
    const std::lock_guard lock(pending_mutex_);
    for (const auto& [key, p] : rows) {
      HistoryPoint& into = pending_[key];
      into.frames += p.frames;
      into.in_view_sum += p.in_view_sum;
      into.seconds += p.seconds;
      for (std::size_t i = 0; i < p.people.size(); ++i) into.people[i] += p.people[i];
    }
    throw;
  }
}

std::size_t HistoryStore::enforce_retention(double now) {
  if (options_.max_age_s <= 0.0) return 0;
  const std::lock_guard lock(db_mutex_);
  return backend_->remove_before(static_cast<std::int64_t>(std::floor(now - options_.max_age_s)));
}

std::map<std::string, std::vector<HistoryPoint>> HistoryStore::query(const HistoryQuery& q) {
  const std::int64_t step = q.step_s >= 60 ? q.step_s : 60;
  const std::lock_guard lock(db_mutex_);
  flush_locked_db();
  std::map<std::string, std::vector<HistoryPoint>> out;
  for (const auto& [key, minute] : backend_->read(q.camera, q.since, q.until)) {
    std::vector<HistoryPoint>& points = out[key.first];
    const std::int64_t bucket = floor_to(key.second, step);
    if (points.empty() || points.back().t != bucket) points.push_back(HistoryPoint{.t = bucket});
    HistoryPoint& p = points.back();
    p.frames += minute.frames;
    p.in_view_sum += minute.in_view_sum;
    p.seconds += minute.seconds;
    for (std::size_t i = 0; i < p.people.size(); ++i) p.people[i] += minute.people[i];
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
