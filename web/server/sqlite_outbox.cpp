// sqlite_outbox.cpp - the outbox table in SQLite (WAL); see sqlite_outbox.hpp and outbox.hpp.
#include "sqlite_outbox.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "maskdetect/error.hpp"
#include "sqlite_statement.hpp"

namespace maskdetect::server {

namespace {

using detail::Statement;

// AUTOINCREMENT: ids are never reused, also after the newest item is deleted, so push order is id order
// across restarts.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  body TEXT NOT NULL,
  created REAL NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_target_id ON outbox(target, id);
)sql";

constexpr std::size_t kMaxTargetBytes = 200;

void check_target(std::string_view target, const std::filesystem::path& path) {
  if (target.empty() || target.size() > kMaxTargetBytes)
    throw Error(Errc::bad_input, fmt::format("{}: an outbox target must be 1 to {} bytes, got {}", path.string(),
                                             kMaxTargetBytes, target.size()));
}

}  // namespace

struct SqliteOutbox::Db : detail::Database {};

SqliteOutbox::SqliteOutbox(const std::filesystem::path& file) : path_(file), db_(std::make_unique<Db>()) {
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  if (ec)
    throw Error(Errc::io,
                fmt::format("{}: cannot create the data folder: {}", file.parent_path().string(), ec.message()));
  db_->open(file);
  db_->exec(kSchema);
}

SqliteOutbox::~SqliteOutbox() = default;

OutboxPush SqliteOutbox::push(std::string_view target, std::string_view body, double now, std::size_t max_items) {
  check_target(target, path_);
  const std::lock_guard lock(mutex_);
  OutboxPush out;
  db_->exec("BEGIN IMMEDIATE");
  try {
    {
      Statement s(db_->handle, "INSERT INTO outbox(target, body, created) VALUES(?1, ?2, ?3)", path_);
      s.bind(1, target);
      s.bind(2, body);
      s.bind(3, now);
      s.step(path_);
      out.id = sqlite3_last_insert_rowid(db_->handle);
    }
    {
      // Keep the newest max_items of this target (at least the new one).
      Statement s(db_->handle,
                  "DELETE FROM outbox WHERE target = ?1 AND id < (SELECT id FROM outbox WHERE target = ?1 "
                  "ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                  path_);
      s.bind(1, target);
      s.bind(2, static_cast<std::int64_t>(std::max<std::size_t>(1, max_items) - 1));
      s.step(path_);
      out.dropped = sqlite3_changes(db_->handle);
    }
    db_->exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_->handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

std::optional<OutboxItem> SqliteOutbox::oldest(std::string_view target) {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle,
              "SELECT id, target, body, created, attempts, next_attempt FROM outbox WHERE target = ?1 "
              "ORDER BY id LIMIT 1",
              path_);
  s.bind(1, target);
  if (s.step(path_) != SQLITE_ROW) return std::nullopt;
  OutboxItem item;
  item.id = s.integer(0);
  item.target = s.text(1);
  item.body = s.text(2);
  item.created = s.real(3);
  item.attempts = static_cast<int>(s.integer(4));
  item.next_attempt = s.real(5);
  return item;
}

bool SqliteOutbox::record_attempt(std::int64_t id, double next_attempt) {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?2 WHERE id = ?1", path_);
  s.bind(1, id);
  s.bind(2, next_attempt);
  s.step(path_);
  return sqlite3_changes(db_->handle) > 0;
}

bool SqliteOutbox::remove(std::int64_t id) {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "DELETE FROM outbox WHERE id = ?1", path_);
  s.bind(1, id);
  s.step(path_);
  return sqlite3_changes(db_->handle) > 0;
}

std::size_t SqliteOutbox::size(std::string_view target) {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "SELECT count(*) FROM outbox WHERE target = ?1", path_);
  s.bind(1, target);
  s.step(path_);
  return static_cast<std::size_t>(s.integer(0));
}

std::vector<std::string> SqliteOutbox::targets() {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "SELECT DISTINCT target FROM outbox ORDER BY target", path_);
  std::vector<std::string> out;
  while (s.step(path_) == SQLITE_ROW) out.push_back(s.text(0));
  return out;
}

std::size_t SqliteOutbox::clear(std::string_view target) {
  const std::lock_guard lock(mutex_);
  Statement s(db_->handle, "DELETE FROM outbox WHERE target = ?1", path_);
  s.bind(1, target);
  s.step(path_);
  return static_cast<std::size_t>(sqlite3_changes(db_->handle));
}

}  // namespace maskdetect::server
