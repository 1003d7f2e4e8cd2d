// web/server/pg.hpp against a real PostgreSQL server (tests/support/postgres_server.hpp): statements with
// parameters, bytea round trips, transactions, errors with SQLSTATE, a lost server, password redaction, the
// URL's own settings, a password given apart; and the shared test cluster's ctest fixture (start, stop).
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "pg.hpp"
#include "postgres_server.hpp"

namespace pg = maskdetect::server::pg;

TEST_CASE("pg::redact hides passwords in URLs and conninfo strings", "[pg]") {
  CHECK(pg::redact("postgresql://app:s3cret@db:5432/maskdetect") == "postgresql://app:***@db:5432/maskdetect");
  CHECK(pg::redact("postgresql://app@db/maskdetect") == "postgresql://app@db/maskdetect");
  CHECK(pg::redact("postgres://db/x?user=app&password=s3cret&sslmode=require") ==
        "postgres://db/x?user=app&password=***&sslmode=require");
  CHECK(pg::redact("host=db user=app password='a b\\'c' dbname=x") == "host=db user=app password=*** dbname=x");
  CHECK(pg::is_postgres_url("postgresql://db/x"));
  CHECK(pg::is_postgres_url("postgres://db/x"));
  CHECK_FALSE(pg::is_postgres_url("/var/lib/maskdetect"));
}

namespace {

std::filesystem::path fixture_dir() {
  const char* dir = std::getenv("MASKDETECT_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0') FAIL("MASKDETECT_TEST_POSTGRES_DIR is not set (run through ctest)");
  return dir;
}

}  // namespace

// The ctest fixture `postgres_cluster` (tests/CMakeLists.txt): hidden, run by name only.
TEST_CASE("postgres test cluster: start", "[.cluster]") {
  (void)maskdetect::test::PostgresServer::start_in(fixture_dir());
}

TEST_CASE("postgres test cluster: stop", "[.cluster]") { maskdetect::test::PostgresServer::stop_in(fixture_dir()); }

TEST_CASE("pg::Connection runs statements with parameters and round-trips bytea", "[pg][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  pg::Connection db(database->url());
  REQUIRE(db.ok());
  db.exec("CREATE TABLE t (id bigserial PRIMARY KEY, name text, score double precision, jpeg bytea)");

  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));  // every byte value, NULs included
  const pg::Result inserted =
      db.exec("INSERT INTO t (name, score, jpeg) VALUES ($1, $2, $3) RETURNING id",
              {pg::Param("door'; DROP TABLE t; --"), pg::Param(0.25), pg::Param::binary(bytes)});
  REQUIRE(inserted.rows() == 1);
  const std::int64_t id = inserted.int64(0, 0);

  const pg::Result text = db.exec("SELECT name, score, jpeg FROM t WHERE id = $1", {pg::Param(id)});
  REQUIRE(text.rows() == 1);
  CHECK(text.text(0, 0) == "door'; DROP TABLE t; --");
  CHECK(text.real(0, 1) == 0.25);
  CHECK(text.bytes(0, 2) == bytes);
  const pg::Result binary = db.exec("SELECT jpeg FROM t WHERE id = $1", {pg::Param(id)}, true);
  CHECK(binary.bytes(0, 0) == bytes);

  const pg::Result nulls = db.exec("INSERT INTO t (name) VALUES ($1) RETURNING score", {pg::Param(std::nullopt)});
  CHECK(nulls.is_null(0, 0));
  CHECK_THROWS_AS(nulls.real(0, 0), pg::Error);
  CHECK(db.exec("DELETE FROM t").affected() == 2);
}

TEST_CASE("pg::Transaction rolls back unless committed", "[pg][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  pg::Connection db(database->url());
  db.exec("CREATE TABLE t (id int PRIMARY KEY)");
  {
    pg::Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
  }
  CHECK(db.exec("SELECT count(*) FROM t").int64(0, 0) == 0);
  {
    pg::Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
    tx.commit();
  }
  CHECK(db.exec("SELECT count(*) FROM t").int64(0, 0) == 1);
}

TEST_CASE("pg errors carry the SQLSTATE and a lost server is a connection failure", "[pg][postgres]") {
  auto server = maskdetect::test::PostgresServer::start();
  if (!server) return;
  // A database whose encoding is not UTF-8: the connection asks for UTF-8 all the same, also after reconnecting.
  server->psql("CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
  pg::Connection db(server->url("latin"));
  CHECK(db.exec("SHOW client_encoding").text(0, 0) == "UTF8");
  db.exec("CREATE TABLE t (id int PRIMARY KEY)");
  db.exec("INSERT INTO t VALUES (1)");
  try {
    db.exec("INSERT INTO t VALUES ($1)", {pg::Param(1)});
    FAIL("a duplicate key was accepted");
  } catch (const pg::Error& e) {
    CHECK(e.sqlstate() == "23505");
    CHECK_FALSE(e.connection_lost());
    CHECK(std::string(e.what()).find("INSERT") != std::string::npos);
  }
  CHECK(db.ping());  // a failed statement leaves the connection usable

  server->stop();
  CHECK_FALSE(db.ping());
  try {
    db.exec("SELECT 1");
    FAIL("a statement succeeded on a stopped server");
  } catch (const pg::Error& e) {
    CHECK(e.connection_lost());
  }
  server->restart();
  db.reconnect();
  CHECK(db.ping());
  CHECK(db.exec("SHOW client_encoding").text(0, 0) == "UTF8");  // the connection's settings came back with it
  CHECK(db.exec("SELECT count(*) FROM t").int64(0, 0) == 1);
}

TEST_CASE("pg::Connection names the database without its password when it cannot connect", "[pg]") {
  const int port = maskdetect::test::free_local_port();  // nothing listens there
  const std::string url = "postgresql://app:topsecret@127.0.0.1:" + std::to_string(port) + "/x";
  try {
    pg::Connection db(url);
    FAIL("connected to a closed port");
  } catch (const pg::Error& e) {
    const std::string message = e.what();
    CHECK(message.find("postgresql://app:***@127.0.0.1:" + std::to_string(port) + "/x") != std::string::npos);
    CHECK(message.find("topsecret") == std::string::npos);
    CHECK(e.connection_lost());
  }
}

TEST_CASE("pg::Connection keeps the URL's own settings and uses a password given apart", "[pg][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  {  // The URL's application_name and connect_timeout win over the defaults.
    pg::Connection db(database->url() + "?application_name=door-worker&connect_timeout=7");
    CHECK(db.exec("SELECT current_setting('application_name')").text(0, 0) == "door-worker");
  }
  {
    pg::Connection db(database->url(), "fleet-worker");
    CHECK(db.exec("SELECT current_setting('application_name')").text(0, 0) == "fleet-worker");
  }
  // A role that must give its password: the one given apart is used, and it wins over a wrong one in the URL.
  database->server().add_password_user("app", "s3cret-Pw", database->name());
  const std::string host = "127.0.0.1:" + std::to_string(database->server().port()) + "/" + database->name();
  CHECK_THROWS_AS(pg::Connection("postgresql://app@" + host), pg::Error);
  pg::Connection db("postgresql://app:wrong@" + host, "maskdetect", "s3cret-Pw");
  CHECK(db.exec("SELECT current_user").text(0, 0) == "app");
  try {
    pg::Connection refused("postgresql://app:not-it@" + host);
    FAIL("a wrong password was accepted");
  } catch (const pg::Error& e) {
    const std::string message = e.what();
    CHECK(message.find("not-it") == std::string::npos);
    CHECK(message.find("password authentication failed") != std::string::npos);
  }
}
