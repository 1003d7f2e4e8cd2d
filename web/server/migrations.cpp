// migrations.cpp - the schema_version table and the migration runner for SQLite and PostgreSQL; see
// migrations.hpp.
#include "migrations.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "event_store.hpp"
#include "maskdetect/error.hpp"
#include "pg.hpp"
#include "sqlite_statement.hpp"

namespace maskdetect::server {

namespace {

constexpr std::string_view kVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_version("
    "component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated DOUBLE PRECISION NOT NULL)";

/// Versions must count 1, 2, 3, ...: a gap or a repeat is a programming error.
void check_order(std::string_view component, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1)
      throw std::logic_error(
          fmt::format("migrations of '{}': version {} at position {}", component, migrations[i].version, i + 1));
  }
}

[[noreturn]] void too_new(std::string_view where, std::string_view component, int current, int latest) {
  throw Error(Errc::io, fmt::format("{}: the '{}' tables are at schema version {}, newer than this maskdetect "
                                    "knows ({}): run the newer maskdetect (a database is never migrated back)",
                                    where, component, current, latest));
}

}  // namespace

namespace pg {

int schema_version(Connection& db, std::string_view component) {
  const Result exists = db.exec("SELECT to_regclass('schema_version') IS NOT NULL");
  if (exists.text(0, 0) != "t") return 0;
  const Result r = db.exec("SELECT version FROM schema_version WHERE component = $1", {Param(component)});
  return r.rows() > 0 ? static_cast<int>(r.int64(0, 0)) : 0;
}

int migrate(Connection& db, std::string_view component, std::span<const Migration> migrations) {
  check_order(component, migrations);
  const int latest = static_cast<int>(migrations.size());
  Transaction tx(db);
  // Serialises every worker's migrations (released at commit or rollback); CREATE TABLE IF NOT EXISTS is not
  // safe against a concurrent creator on its own.
  db.exec("SELECT pg_advisory_xact_lock($1, $2)", {Param(kLockSpace), Param(kMigrationLock)});
  if (db.exec("SELECT to_regclass('schema_version') IS NULL").text(0, 0) == "t") db.exec(std::string(kVersionTable));
  const Result r = db.exec("SELECT version FROM schema_version WHERE component = $1", {Param(component)});
  const int current = r.rows() > 0 ? static_cast<int>(r.int64(0, 0)) : 0;
  if (current > latest) too_new(fmt::format("database '{}'", db.description()), component, current, latest);
  if (current == latest) return current;  // the transaction rolls back: nothing was changed
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    try {
      db.exec(std::string(m.sql));
    } catch (const pg::Error& e) {
      throw pg::Error(fmt::format("{} (migration {} of '{}': {})", e.what(), m.version, component, m.description),
                      e.sqlstate());
    }
  }
  db.exec(
      "INSERT INTO schema_version(component, version, updated) VALUES($1, $2, $3) "
      "ON CONFLICT(component) DO UPDATE SET version = excluded.version, updated = excluded.updated",
      {Param(component), Param(latest), Param(unix_now())});
  tx.commit();
  return current;
}

}  // namespace pg

namespace detail {

int schema_version(Database& db, std::string_view component) {
  if (db.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") == 0) return 0;
  Statement s(db.handle, "SELECT version FROM schema_version WHERE component = ?1", db.path);
  s.bind(1, component);
  return s.step(db.path) == SQLITE_ROW ? static_cast<int>(s.integer(0)) : 0;
}

int migrate(Database& db, std::string_view component, std::span<const Migration> migrations) {
  check_order(component, migrations);
  const int latest = static_cast<int>(migrations.size());
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(kVersionTable);
    const int current = schema_version(db, component);
    if (current > latest) too_new(db.path.string(), component, current, latest);
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      try {
        db.exec(m.sql);
      } catch (const Error& e) {
        throw Error(Errc::io,
                    fmt::format("{} (migration {} of '{}': {})", e.what(), m.version, component, m.description));
      }
    }
    if (current < latest) {
      Statement s(db.handle,
                  "INSERT INTO schema_version(component, version, updated) VALUES(?1, ?2, ?3) "
                  "ON CONFLICT(component) DO UPDATE SET version = excluded.version, updated = excluded.updated",
                  db.path);
      s.bind(1, component);
      s.bind(2, std::int64_t{latest});
      s.bind(3, unix_now());
      s.step(db.path);
    }
    db.exec("COMMIT");
    return current;
  } catch (...) {
    sqlite3_exec(db.handle, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace detail

}  // namespace maskdetect::server
