// migrations.hpp - versioned schema migrations of the server's databases (SQLite files and PostgreSQL), run by
// the server when it opens a store. One `schema_version` table per database holds, per component ("events",
// "history", and whatever else keeps tables there: "fleet", "outbox", ...), the version its tables are at.
//
//   constexpr Migration kMine[] = {
//       {1, "cameras table", "CREATE TABLE cameras(name text PRIMARY KEY, ...)"},
//       {2, "cameras.owner", "ALTER TABLE cameras ADD COLUMN owner text"},
//   };
//   pg::migrate(connection, "fleet", kMine);          // PostgreSQL: under an advisory lock, in one transaction
//   detail::migrate(database, "fleet", kMine);        // SQLite: in one BEGIN IMMEDIATE transaction
//
// Rules for a migration: versions count 1, 2, 3, ... per component; a released migration is never edited
// (add a new one); each runs in the same transaction as the version update, so it is applied whole or not at
// all; a database at a newer version than the binary knows is refused (an older worker never writes to a
// schema it does not know). Several workers starting at once against one PostgreSQL are serialised by a
// transaction-scoped advisory lock: the first applies, the others wait and find the work done.
//
// PostgreSQL advisory locks of maskdetect use the two-int form pg_advisory_*(kLockSpace, key): key 1 is the
// migrations, 2 the events' retention. Other components pick keys from 100 up (or the one-bigint form, a
// separate key space in PostgreSQL).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace maskdetect::server {

/// One step of a component's schema.
struct Migration {
  int version = 0;               ///< 1, 2, 3, ... in order
  std::string_view description;  ///< for logs and errors
  std::string_view sql;          ///< one or more statements
};

namespace pg {
class Connection;

/// The first key of maskdetect's advisory locks ('mask' in ASCII).
inline constexpr std::int32_t kLockSpace = 0x6d61736b;
/// Second keys: the migrations and the events' retention.
inline constexpr std::int32_t kMigrationLock = 1;
inline constexpr std::int32_t kRetentionLock = 2;

/// Brings `component`'s tables to the last of `migrations` in one transaction under the migration lock.
/// Returns the version before. Throws pg::Error; maskdetect::Error(io) when the database is at a newer
/// version than `migrations` reach. Idempotent.
int migrate(Connection& db, std::string_view component, std::span<const Migration> migrations);
/// The version of `component` (0: none yet).
[[nodiscard]] int schema_version(Connection& db, std::string_view component);
}  // namespace pg

namespace detail {
struct Database;

/// As pg::migrate, for a SQLite database (BEGIN IMMEDIATE: one writer at a time).
int migrate(Database& db, std::string_view component, std::span<const Migration> migrations);
[[nodiscard]] int schema_version(Database& db, std::string_view component);
}  // namespace detail

}  // namespace maskdetect::server
