// sqlite_statement.hpp - an open SQLite database and a prepared statement, each released on scope exit; errors
// become maskdetect::Error(io) naming the database. Shared by the SQLite event and history stores (internal).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "maskdetect/error.hpp"

namespace maskdetect::server::detail {

/// An open database connection, closed on scope exit.
struct Database {
  sqlite3* handle = nullptr;
  std::filesystem::path path;  ///< named in errors
  Database() = default;
  ~Database() { sqlite3_close_v2(handle); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  /// Opens or creates `file` (read-write, one thread at a time), waits up to 5 s for another writer's lock,
  /// in WAL mode with synchronous=NORMAL: a crash loses at most the last transactions, never consistency.
  /// Throws Error(io) naming the file.
  void open(const std::filesystem::path& file) {
    path = file;
    if (sqlite3_open_v2(file.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      throw Error(Errc::io, fmt::format("{}: cannot open the database: {}", file.string(),
                                        handle != nullptr ? sqlite3_errmsg(handle) : "out of memory"));
    sqlite3_busy_timeout(handle, 5000);
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  }
  /// The first column of the first row of `sql` as an integer (0 when there is no row).
  [[nodiscard]] std::int64_t integer(std::string_view sql) const {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(handle, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
      throw Error(Errc::io, fmt::format("{}: SQL error: {} in '{}'", path.string(), sqlite3_errmsg(handle), sql));
    const int rc = sqlite3_step(stmt);
    const std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      throw Error(Errc::io, fmt::format("{}: SQLite error: {}", path.string(), sqlite3_errmsg(handle)));
    return value;
  }
  /// Makes deleted pages go back to the file system (auto_vacuum = INCREMENTAL and incremental_vacuum() after
  /// deletions), so that the file's size is what it holds. A database made without it (before this setting)
  /// is rewritten once with VACUUM. Call before creating tables.
  void use_incremental_vacuum() const {
    if (integer("PRAGMA auto_vacuum") == 2) return;
    exec("PRAGMA auto_vacuum=INCREMENTAL");
    if (integer("PRAGMA auto_vacuum") != 2) exec("VACUUM");  // tables exist: only a VACUUM changes the mode
  }
  /// Returns the free pages to the file system (in the WAL first: the file shrinks at the next checkpoint).
  void incremental_vacuum() const { exec("PRAGMA incremental_vacuum"); }
  /// Copies the WAL into the database and truncates it to 0 bytes (also applies a shrink). Best effort: a
  /// reader in another connection can keep part of it.
  void checkpoint_truncate() const {
    sqlite3_wal_checkpoint_v2(handle, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
  /// Runs SQL without results; throws Error(io) with SQLite's message.
  void exec(std::string_view sql) const {
    char* message = nullptr;
    if (sqlite3_exec(handle, std::string(sql).c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message != nullptr ? message : "unknown error";
      sqlite3_free(message);
      throw Error(Errc::io, fmt::format("{}: SQLite error: {}", path.string(), text));
    }
  }
};

/// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::filesystem::path& where) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
      throw Error(Errc::io, fmt::format("{}: SQL error: {} in '{}'", where.string(), sqlite3_errmsg(db), sql));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int index, std::int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void bind(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
  void bind_null(int index) { sqlite3_bind_null(stmt_, index); }
  /// SQLITE_ROW or SQLITE_DONE; throws on an error.
  int step(const std::filesystem::path& where) {
    const int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      throw Error(Errc::io, fmt::format("{}: SQLite error: {}", where.string(), sqlite3_errmsg(db_)));
    return rc;
  }
  /// Ready to bind and step again.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  [[nodiscard]] bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  [[nodiscard]] std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  [[nodiscard]] double real(int column) const { return sqlite3_column_double(stmt_, column); }
  [[nodiscard]] std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace maskdetect::server::detail
