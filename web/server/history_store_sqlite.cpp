// history_store_sqlite.cpp - the SQLite back end of the history: history.db (WAL) in the data folder.
#include <sqlite3.h>

#include <system_error>

#include <fmt/format.h>

#include "event_store_sqlite.hpp"
#include "history_store.hpp"
#include "maskdetect/error.hpp"
#include "migrations.hpp"
#include "sqlite_statement.hpp"

namespace maskdetect::server {

namespace {

namespace fs = std::filesystem;
using detail::Statement;

/// The schema of history.db. Version 1 is the schema before versioning (a file made then starts at 0 and
/// version 1 changes nothing in it).
constexpr Migration kMigrations[] = {
    {1, "minutes per camera", R"sql(
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
)sql"},
};

class SqliteHistoryBackend final : public HistoryBackend {
 public:
  explicit SqliteHistoryBackend(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error(Errc::io, fmt::format("{}: cannot create the data folder: {}", dir.string(), ec.message()));
    path_ = dir / kSqliteHistoryFile;
    db_.open(path_);
    db_.use_incremental_vacuum();
    (void)detail::migrate(db_, "history", kMigrations);
  }

  void add(const HistoryRows& rows) override {
    db_.exec("BEGIN");
    try {
      Statement s(db_.handle,
                  "INSERT INTO history(camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect) "
                  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(camera, t) DO UPDATE SET "
                  "frames = frames + excluded.frames, in_view_sum = in_view_sum + excluded.in_view_sum, "
                  "seconds = seconds + excluded.seconds, mask = mask + excluded.mask, "
                  "no_mask = no_mask + excluded.no_mask, incorrect = incorrect + excluded.incorrect",
                  path_);
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
        s.step(path_);
      }
      db_.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_.handle, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    // A few pages every flush: folded into history.db at once, so that the WAL (counted in the events'
    // max_size) stays near 0 bytes instead of growing to SQLite's 4 MB checkpoint.
    db_.checkpoint_truncate();
  }

  HistoryRows read(const std::string& camera, std::int64_t since, std::int64_t until) override {
    std::string sql =
        "SELECT camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect FROM history "
        "WHERE t >= ?1 AND t < ?2";
    if (!camera.empty()) sql += " AND camera = ?3";
    Statement s(db_.handle, sql, path_);
    s.bind(1, since);
    s.bind(2, until);
    if (!camera.empty()) s.bind(3, camera);
    HistoryRows out;
    while (s.step(path_) == SQLITE_ROW) {
      HistoryPoint& p = out[{s.text(0), s.integer(1)}];
      p.t = s.integer(1);
      p.frames = s.integer(2);
      p.in_view_sum = s.real(3);
      p.seconds = s.real(4);
      p.people[static_cast<std::size_t>(MaskLabel::mask)] = s.integer(5);
      p.people[static_cast<std::size_t>(MaskLabel::no_mask)] = s.integer(6);
      p.people[static_cast<std::size_t>(MaskLabel::incorrect)] = s.integer(7);
    }
    return out;
  }

  std::size_t remove_before(std::int64_t t) override {
    Statement s(db_.handle, "DELETE FROM history WHERE t < ?1", path_);
    s.bind(1, t);
    s.step(path_);
    const auto removed = static_cast<std::size_t>(sqlite3_changes(db_.handle));
    if (removed > 0) {
      db_.incremental_vacuum();
      db_.checkpoint_truncate();
    }
    return removed;
  }

  [[nodiscard]] std::string description() const override { return path_.string(); }

 private:
  fs::path path_;
  detail::Database db_;
};

}  // namespace

std::unique_ptr<HistoryBackend> sqlite_history_backend(const std::filesystem::path& dir) {
  return std::make_unique<SqliteHistoryBackend>(dir);
}

}  // namespace maskdetect::server
