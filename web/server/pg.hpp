// pg.hpp - a thin RAII layer over libpq (Debian libpq-dev) for the PostgreSQL back end of `maskdetect serve`:
// the event and history store and the fleet's camera leases. Internal to the server.
//
//   pg::Connection db("postgresql://maskdetect@db:5432/maskdetect");    // throws pg::Error, password redacted
//   db.exec("CREATE TABLE IF NOT EXISTS t (id bigserial PRIMARY KEY, name text, jpeg bytea)");
//   pg::Transaction tx(db);
//   pg::Result r = db.exec("INSERT INTO t (name, jpeg) VALUES ($1, $2) RETURNING id",
//                          {pg::Param("door"), pg::Param::binary(bytes)});
//   tx.commit();
//   std::int64_t id = r.int64(0, 0);
//
// Parameters are always sent separately from the SQL text ($1, $2, ...), never spliced into it. Results come
// back in text format, except with `binary_result` (bytea columns as raw bytes: Result::bytes). A Connection
// is not thread-safe: one per thread, or guard it with a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "maskdetect/error.hpp"

struct pg_conn;
struct pg_result;

namespace maskdetect::server::pg {

/// A PostgreSQL failure: Error(io) whose message names the (redacted) database and the statement's verb, with
/// the server's SQLSTATE code ("23505" unique violation, "40001" serialization failure, ...; "" when the
/// connection itself failed).
class Error : public maskdetect::Error {
 public:
  Error(const std::string& message, std::string sqlstate)
      : maskdetect::Error(Errc::io, message), sqlstate_(std::move(sqlstate)) {}
  [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
  /// True for failures of the connection (server gone, network down), as opposed to a bad statement.
  [[nodiscard]] bool connection_lost() const noexcept { return sqlstate_.empty() || sqlstate_.starts_with("08"); }

 private:
  std::string sqlstate_;
};

/// `url` with any password replaced by "***": "postgresql://app:***@db/maskdetect", "host=db password=***".
/// For logs and error messages: a password never leaves the process in text.
[[nodiscard]] std::string redact(std::string_view url);

/// True when `text` names a PostgreSQL database: a postgresql:// or postgres:// URL.
[[nodiscard]] bool is_postgres_url(std::string_view text) noexcept;

/// One statement parameter: text (also numbers, in their text form), raw bytes (bytea), or SQL NULL.
class Param {
 public:
  Param(std::string text) : value_(std::move(text)) {}          // NOLINT(google-explicit-constructor)
  Param(const char* text) : value_(std::string(text)) {}        // NOLINT(google-explicit-constructor)
  Param(std::string_view text) : value_(std::string(text)) {}   // NOLINT(google-explicit-constructor)
  Param(std::int64_t value) : value_(std::to_string(value)) {}  // NOLINT(google-explicit-constructor)
  Param(int value) : value_(std::to_string(value)) {}           // NOLINT(google-explicit-constructor)
  Param(double value);                                          // NOLINT(google-explicit-constructor)
  Param(std::nullopt_t /*null*/) {}                             // NOLINT(google-explicit-constructor)
  /// Raw bytes for a bytea parameter (sent in binary format, not escaped).
  [[nodiscard]] static Param binary(std::string_view bytes);

  [[nodiscard]] bool is_null() const noexcept { return !value_.has_value(); }
  [[nodiscard]] bool is_binary() const noexcept { return binary_; }
  [[nodiscard]] const std::optional<std::string>& value() const noexcept { return value_; }

 private:
  Param() = default;
  std::optional<std::string> value_;
  bool binary_ = false;
};

/// The result of one statement. Rows and columns count from 0.
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result) noexcept;
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  [[nodiscard]] int rows() const noexcept;
  [[nodiscard]] int columns() const noexcept;
  [[nodiscard]] bool is_null(int row, int column) const noexcept;
  /// The value as text (a text-format result), or the raw bytes (a binary-format one). "" for NULL.
  [[nodiscard]] std::string_view text(int row, int column) const noexcept;
  /// A text-format integer column. Throws pg::Error when it is NULL or not an integer.
  [[nodiscard]] std::int64_t int64(int row, int column) const;
  /// A text-format numeric column. Throws pg::Error when it is NULL or not a number.
  [[nodiscard]] double real(int row, int column) const;
  /// A bytea column of a text-format result (hex-escaped by the server), decoded to raw bytes.
  [[nodiscard]] std::string bytes(int row, int column) const;
  /// Rows an INSERT, UPDATE or DELETE touched.
  [[nodiscard]] std::int64_t affected() const noexcept;

 private:
  pg_result* result_ = nullptr;
};

/// One connection to a PostgreSQL server, closed on destruction.
class Connection {
 public:
  /// Connects to `url` (postgresql:// URL or "key=value" conninfo; libpq's PG* environment variables fill in
  /// what it leaves out, PGPASSWORD and ~/.pgpass included). connect_timeout is 5 s and application_name
  /// `application_name` unless the URL sets them. A non-empty `password` (read from a password file) is used
  /// instead of one in the URL or the environment. `settings`: further libpq connection keywords
  /// ("keepalives_idle", "5"), applied unless the URL sets them. Throws pg::Error naming the redacted URL and
  /// libpq's reason (never the password).
  explicit Connection(const std::string& url, const std::string& application_name = "maskdetect",
                      const std::string& password = {},
                      const std::vector<std::pair<std::string, std::string>>& settings = {});
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements without parameters (schema, BEGIN/COMMIT); the last one's result.
  Result exec(const std::string& sql);
  /// Runs one statement with $1.. parameters. `binary_result`: results in binary format (for bytea columns).
  /// Throws pg::Error with the server's message and SQLSTATE.
  Result exec(const std::string& sql, const std::vector<Param>& params, bool binary_result = false);

  /// True while the connection is up (as far as libpq knows: a lost server shows at the next statement).
  [[nodiscard]] bool ok() const noexcept;
  /// Asks the server whether the connection is alive ("SELECT 1"); false when it is not.
  [[nodiscard]] bool ping() noexcept;
  /// Reconnects with the same parameters. Throws pg::Error when the server cannot be reached.
  void reconnect();
  /// The URL given, password redacted.
  [[nodiscard]] const std::string& description() const noexcept { return description_; }
  /// The libpq handle, for what this layer does not wrap (LISTEN/NOTIFY, the socket for poll()).
  [[nodiscard]] pg_conn* native() const noexcept { return conn_; }

 private:
  [[noreturn]] void fail(std::string_view what, pg_result* result);
  pg_conn* conn_ = nullptr;
  std::string description_;
};

/// BEGIN on construction; ROLLBACK on destruction unless commit() was called (or the connection is gone).
class Transaction {
 public:
  explicit Transaction(Connection& connection, std::string_view begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

}  // namespace maskdetect::server::pg
