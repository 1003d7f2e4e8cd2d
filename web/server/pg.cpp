#include "pg.hpp"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "log_line.hpp"

namespace maskdetect::server::pg {

std::string redact(std::string_view url) {
  std::string out(url);
  // URL form: scheme://user:password@host... -> scheme://user:***@host...
  static const std::regex url_password(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*):[^@/?#]*@)");
  out = std::regex_replace(out, url_password, "$1:***@");
  // Query or conninfo form: password=... (up to & or whitespace), quoted conninfo values included.
  static const std::regex keyword_password(R"((^|[?&\s])password\s*=\s*('([^'\\]|\\.)*'|[^&\s]*))");
  out = std::regex_replace(out, keyword_password, "$1password=***");
  return out;
}

bool is_postgres_url(std::string_view text) noexcept {
  return text.starts_with("postgresql://") || text.starts_with("postgres://");
}

Param::Param(double value) : value_(fmt::format("{:.17g}", value)) {}

Param Param::binary(std::string_view bytes) {
  Param p;
  p.value_ = std::string(bytes);
  p.binary_ = true;
  return p;
}

Result::Result(pg_result* result) noexcept : result_(result) {}

Result::~Result() { PQclear(result_); }

Result::Result(Result&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}

Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int Result::rows() const noexcept { return result_ != nullptr ? PQntuples(result_) : 0; }

int Result::columns() const noexcept { return result_ != nullptr ? PQnfields(result_) : 0; }

bool Result::is_null(int row, int column) const noexcept {
  return result_ == nullptr || PQgetisnull(result_, row, column) != 0;
}

std::string_view Result::text(int row, int column) const noexcept {
  if (is_null(row, column)) return {};
  return {PQgetvalue(result_, row, column), static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

std::int64_t Result::int64(int row, int column) const {
  const std::string_view value = text(row, column);
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (is_null(row, column) || ec != std::errc{} || end != value.data() + value.size())
    throw Error(fmt::format("PostgreSQL: column {} of row {} is not an integer: '{}'", column, row, value), "");
  return out;
}

double Result::real(int row, int column) const {
  const std::string text_value(text(row, column));
  char* end = nullptr;
  const double out = std::strtod(text_value.c_str(), &end);
  if (is_null(row, column) || text_value.empty() || end != text_value.c_str() + text_value.size())
    throw Error(fmt::format("PostgreSQL: column {} of row {} is not a number: '{}'", column, row, text_value), "");
  return out;
}

std::string Result::bytes(int row, int column) const {
  if (is_null(row, column)) return {};
  if (PQfformat(result_, column) == 1) return std::string(text(row, column));  // binary format: raw already
  std::size_t length = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)), &length);
  if (raw == nullptr) throw Error("PostgreSQL: out of memory decoding a bytea value", "");
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::int64_t Result::affected() const noexcept {
  if (result_ == nullptr) return 0;
  const char* tuples = PQcmdTuples(result_);
  std::int64_t out = 0;
  std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), out);
  return out;
}

namespace {

/// libpq's connection message without its trailing newline.
std::string connection_message(const pg_conn* conn) {
  std::string message = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

void receive_notice(void* /*context*/, const pg_result* result) {
  const char* severity = PQresultErrorField(result, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity == nullptr || std::string_view(severity) != "WARNING") return;
  std::string message = PQresultErrorMessage(result);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  detail::log_line(fmt::format("PostgreSQL: {}", message));
}

pg_conn* connect(const std::string& url, const std::string& application_name, const std::string& password,
                 const std::string& description, const std::vector<std::pair<std::string, std::string>>& settings) {
  // libpq processes the keywords in order and keeps the last value of each: the defaults come before
  // `dbname` (the URL, expanded) so that the URL's own application_name or connect_timeout win; a password
  // given apart (a password file) comes after it and wins over one in the URL.
  // client_encoding is a connection parameter (not a SET after connecting), so that reconnect() keeps it.
  std::vector<const char*> keywords = {"application_name", "connect_timeout", "client_encoding"};
  std::vector<const char*> values = {application_name.c_str(), "5", "UTF8"};
  for (const auto& [key, value] : settings) {  // before dbname, so that the URL's own values win
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back("dbname");
  values.push_back(url.c_str());
  if (!password.empty()) {
    keywords.push_back("password");
    values.push_back(password.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* conn = PQconnectdbParams(keywords.data(), values.data(), 1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    const std::string reason = connection_message(conn);
    PQfinish(conn);
    throw Error(fmt::format("cannot connect to the database '{}': {}", description, redact(reason)), "");
  }
  // libpq prints the server's notices on stderr by default; warnings go to the server's log, notices
  // ("relation already exists, skipping") nowhere.
  PQsetNoticeReceiver(conn, &receive_notice, nullptr);
  return conn;
}

}  // namespace

Connection::Connection(const std::string& url, const std::string& application_name, const std::string& password,
                       const std::vector<std::pair<std::string, std::string>>& settings)
    : description_(redact(url)) {
  conn_ = connect(url, application_name, password, description_, settings);
}

Connection::~Connection() { PQfinish(conn_); }

Connection::Connection(Connection&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)), description_(std::move(other.description_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
    description_ = std::move(other.description_);
  }
  return *this;
}

void Connection::fail(std::string_view what, pg_result* result) {
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE); state != nullptr) sqlstate = state;
    message = PQresultErrorMessage(result);
  }
  if (message.empty()) message = connection_message(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  PQclear(result);
  if (PQstatus(conn_) != CONNECTION_OK && sqlstate.empty()) sqlstate = "08006";  // connection failure
  throw Error(fmt::format("database '{}': {} failed: {}", description_, what, message), sqlstate);
}

namespace {

/// The statement's first word, for error messages ("INSERT", "SELECT", ...): never its parameters.
std::string_view verb(std::string_view sql) {
  std::size_t start = 0;
  while (start < sql.size() && (std::isspace(static_cast<unsigned char>(sql[start])) != 0)) ++start;
  std::size_t end = start;
  while (end < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[end])) != 0)) ++end;
  return sql.substr(start, end - start);
}

}  // namespace

Result Connection::exec(const std::string& sql) {
  if (conn_ == nullptr) throw Error(fmt::format("database '{}': not connected", description_), "08003");
  pg_result* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(verb(sql), result);
  return Result(result);
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params, bool binary_result) {
  if (conn_ == nullptr) throw Error(fmt::format("database '{}': not connected", description_), "08003");
  if (params.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error("PostgreSQL: too many parameters", "");
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<int> lengths(params.size(), 0);
  std::vector<int> formats(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_null()) continue;
    const std::string& value = *params[i].value();
    if (value.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw Error("PostgreSQL: a parameter is over 2 GB", "");
    values[i] = value.data();
    lengths[i] = static_cast<int>(value.size());
    formats[i] = params[i].is_binary() ? 1 : 0;
  }
  pg_result* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                   lengths.data(), formats.data(), binary_result ? 1 : 0);
  const ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(verb(sql), result);
  return Result(result);
}

bool Connection::ok() const noexcept { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

bool Connection::ping() noexcept {
  if (!ok()) return false;
  pg_result* result = PQexec(conn_, "SELECT 1");
  const bool alive = result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK;
  PQclear(result);
  return alive;
}

void Connection::reconnect() {
  if (conn_ == nullptr) throw Error(fmt::format("database '{}': not connected", description_), "08003");
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    throw Error(
        fmt::format("cannot reconnect to the database '{}': {}", description_, redact(connection_message(conn_))),
        "08001");
}

Transaction::Transaction(Connection& connection, std::string_view begin) : connection_(connection) {
  connection_.exec(std::string(begin));
}

Transaction::~Transaction() {
  if (done_ || !connection_.ok()) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (const Error&) {  // the connection broke meanwhile: the server rolls back by itself
  }
}

void Transaction::commit() {
  connection_.exec("COMMIT");
  done_ = true;
}

}  // namespace maskdetect::server::pg
