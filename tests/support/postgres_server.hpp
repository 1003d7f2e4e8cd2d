// A real PostgreSQL server for tests: Debian's `postgresql` binaries (initdb, pg_ctl) run a throw-away cluster
// in a temporary folder on a free loopback port, with trust authentication; stopped (immediate) and removed at
// the end of scope. Under root (CI) the cluster runs as the `postgres` system user (initdb refuses root).
//
//   auto pg = maskdetect::test::PostgresServer::start();   // nullopt (with a WARN) when PostgreSQL is absent;
//   if (!pg) return;                                       // under CI=true that is a FAIL instead
//   std::string url = pg->url();                           // postgresql://postgres@127.0.0.1:PORT/postgres
//   pg->create_database("events");                         // a fresh database per test when needed
//
// Starting a cluster costs seconds (initdb), so tests that only need a database share one cluster:
//
//   auto db = maskdetect::test::TestDatabase::create();    // a fresh database on the shared cluster
//   if (!db) return;                                       // (nullopt, WARN / FAIL as above)
//   open_store(db->url());
//
// The shared cluster is the ctest fixture `postgres_cluster` (tests/CMakeLists.txt: maskdetect_discover_tests
// starts it once per ctest run in $MASKDETECT_TEST_POSTGRES_DIR and stops it after the last test), or, when a
// test binary runs on its own, one cluster started by the binary on first use and stopped when it exits.
#pragma once

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../cli/run_process.hpp"
#include "test_support.hpp"

namespace maskdetect::test {

class PostgresServer {
 public:
  /// The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl; empty when none.
  static std::filesystem::path bin_dir() {
    std::filesystem::path best;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const std::filesystem::path bin = entry.path() / "bin";
      if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "pg_ctl") &&
          (best.empty() || entry.path().filename().string() > best.parent_path().filename().string()))
        best = bin;
    }
    return best;
  }

  /// Starts a cluster of its own (in a temporary folder, stopped and removed at the end of scope). Returns
  /// nullopt (after a WARN) when PostgreSQL is not installed; under CI=true that FAILs the test instead. Throws
  /// std::runtime_error when it is installed but does not start.
  static std::optional<PostgresServer> start() {
    if (!installed()) return std::nullopt;
    PostgresServer server;
    server.temp_ = std::make_unique<TempDir>();
    server.launch(server.temp_->path());
    server.owner_ = true;
    return server;
  }

  /// Starts a cluster in `dir` (created) that outlives this process: the ctest fixture's. A cluster left there
  /// by an earlier run is stopped and replaced. Returns false (after a WARN; a FAIL under CI=true) when
  /// PostgreSQL is not installed.
  static bool start_in(const std::filesystem::path& dir) {
    if (!installed()) return false;
    stop_in(dir);
    std::filesystem::create_directories(dir);
    PostgresServer server;
    server.launch(dir);
    server.running_ = false;  // detached: stop_in() stops it
    return true;
  }

  /// Stops the cluster start_in() started in `dir` and removes the folder; nothing when there is none.
  static void stop_in(const std::filesystem::path& dir) {
    if (std::filesystem::exists(dir / "data" / "postmaster.pid")) {
      PostgresServer server;
      server.root_ = dir;
      server.data_ = dir / "data";
      server.bin_ = bin_dir();
      server.as_user_ = user_prefix();
      server.running_ = true;
      server.stop();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// The cluster shared by the tests of this run (see the top of this file); nullptr (after a WARN; a FAIL
  /// under CI=true) when there is none: PostgreSQL is not installed or the fixture could not start it.
  static PostgresServer* shared() {
    static std::optional<PostgresServer> server = []() -> std::optional<PostgresServer> {
      if (const char* dir = std::getenv("MASKDETECT_TEST_POSTGRES_DIR"); dir != nullptr && *dir != '\0')
        return attach(dir);
      return start();
    }();
    return server ? &*server : nullptr;
  }

  PostgresServer(PostgresServer&& other) noexcept
      : bin_(std::move(other.bin_)),
        temp_(std::move(other.temp_)),
        root_(std::move(other.root_)),
        data_(std::move(other.data_)),
        port_(other.port_),
        as_user_(std::move(other.as_user_)),
        running_(std::exchange(other.running_, false)),
        owner_(std::exchange(other.owner_, false)) {}
  PostgresServer& operator=(PostgresServer&&) = delete;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer() {
    if (owner_) stop();
  }

  /// Stops the server at once (pg_ctl stop -m immediate); safe to call twice.
  void stop() {
    if (!running_) return;
    running_ = false;
    (void)run(bin_ / "pg_ctl", {"-D", data_.string(), "-m", "immediate", "-w", "-t", "20", "stop"});
  }
  /// Starts it again after stop() (same data, same port): a database that comes back after an outage.
  void restart() {
    if (running_) return;
    const ProcessResult started = run(
        bin_ / "pg_ctl", {"-D", data_.string(), "-o", options(), "-l", (root_ / "server.log").string(), "-w", "start"});
    if (started.exit_code != 0) throw std::runtime_error("pg_ctl start failed: " + started.err + started.out);
    running_ = true;
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  /// A URL of database `database` as the superuser `postgres` (no password: trust authentication).
  [[nodiscard]] std::string url(const std::string& database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }
  /// Runs SQL through psql as the superuser; throws std::runtime_error with psql's message on failure.
  std::string psql(const std::string& sql, const std::string& database = "postgres") const {
    const ProcessResult result =
        run(bin_ / "psql", {"-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                            std::to_string(port_), "-U", "postgres", "-d", database, "-c", sql});
    if (result.exit_code != 0) throw std::runtime_error("psql failed: " + result.err);
    return result.out;
  }
  /// Creates an empty database and returns its URL.
  std::string create_database(const std::string& name) const {
    psql("CREATE DATABASE \"" + name + "\"");
    return url(name);
  }
  /// Adds a login role `user` with `password` that must give it over TCP (scram-sha-256), owner of `database`
  /// (the other connections keep trust authentication).
  void add_password_user(const std::string& user, const std::string& password, const std::string& database) const {
    psql("CREATE ROLE \"" + user + "\" LOGIN PASSWORD '" + password + "'");
    psql("ALTER DATABASE \"" + database + "\" OWNER TO \"" + user + "\"");
    psql("GRANT ALL ON SCHEMA public TO \"" + user + "\"", database);
    const std::filesystem::path hba = data_ / "pg_hba.conf";
    const std::string rules = read_text(hba);
    std::ofstream(hba, std::ios::trunc) << "host all " << user << " 127.0.0.1/32 scram-sha-256\n" << rules;
    psql("SELECT pg_reload_conf()");
  }
  /// The server's log (for a failing test's message).
  [[nodiscard]] std::string log() const { return read_text(root_ / "server.log"); }

 private:
  PostgresServer() = default;

  /// True when initdb and pg_ctl are there; else WARN (FAIL under CI=true) and false.
  static bool installed() {
    if (!bin_dir().empty()) return true;
    if (in_ci()) FAIL("PostgreSQL is not installed (CI=true): scripts/setup.sh installs Debian's postgresql");
    WARN("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb), test not run: run scripts/setup.sh");
    return false;
  }

  /// runuser -u postgres -- under root (initdb refuses to run as root); nothing otherwise.
  static std::vector<std::string> user_prefix() {
    if (geteuid() != 0) return {};
    return {"/usr/sbin/runuser", "-u", "postgres", "--"};
  }

  /// The cluster start_in() left in `dir`, not stopped by this object.
  static std::optional<PostgresServer> attach(const std::filesystem::path& dir) {
    const std::string port = read_text(dir / "port");
    if (port.empty()) {
      if (in_ci()) FAIL("the shared PostgreSQL test cluster did not start (" + dir.string() + ")");
      WARN("no shared PostgreSQL test cluster in " + dir.string() + " (PostgreSQL missing?), test not run");
      return std::nullopt;
    }
    PostgresServer server;
    server.bin_ = bin_dir();
    server.root_ = dir;
    server.data_ = dir / "data";
    server.port_ = std::stoi(port);
    server.as_user_ = user_prefix();
    server.running_ = true;  // owner_ stays false: the fixture stops it
    return server;
  }

  /// initdb and pg_ctl start in `root` (its data/, socket, server.log and a `port` file).
  void launch(const std::filesystem::path& root) {
    bin_ = bin_dir();
    root_ = root;
    data_ = root / "data";
    port_ = free_local_port();
    as_user_ = user_prefix();
    if (!as_user_.empty()) {
      const passwd* user = getpwnam("postgres");
      if (user == nullptr) throw std::runtime_error("running as root, but there is no 'postgres' user to run initdb");
      // The folder (0700, root's) must let the cluster's owner in.
      if (chown(root.c_str(), user->pw_uid, user->pw_gid) != 0)
        throw std::runtime_error("cannot hand " + root.string() + " to the postgres user");
    }
    const ProcessResult init = run(bin_ / "initdb", {"-D", data_.string(), "-U", "postgres", "-A", "trust", "-E",
                                                     "UTF8", "--no-locale", "--no-sync"});
    if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.err + init.out);
    const ProcessResult started = run(bin_ / "pg_ctl", {"-D", data_.string(), "-o", options(), "-l",
                                                        (root / "server.log").string(), "-w", "-t", "30", "start"});
    if (started.exit_code != 0)
      throw std::runtime_error("pg_ctl start failed: " + started.err + started.out + read_text(root / "server.log"));
    running_ = true;
    std::ofstream(root / "port") << port_ << '\n';
  }

  /// Loopback TCP only, the socket in the cluster's folder; fsync off (a test cluster: what a killed server
  /// committed is still in the page cache and survives, an OS crash would lose it).
  [[nodiscard]] std::string options() const {
    return "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
           " -c unix_socket_directories=" + root_.string() +
           " -c fsync=off -c full_page_writes=off -c max_connections=200";
  }

  [[nodiscard]] ProcessResult run(const std::filesystem::path& program, const std::vector<std::string>& args) const {
    if (as_user_.empty()) return run_process(program.string(), args);
    std::vector<std::string> full(as_user_.begin() + 1, as_user_.end());
    full.push_back(program.string());
    full.insert(full.end(), args.begin(), args.end());
    return run_process(as_user_.front(), full);
  }

  std::filesystem::path bin_;
  std::unique_ptr<TempDir> temp_;  ///< the folder of a cluster of its own
  std::filesystem::path root_;
  std::filesystem::path data_;
  int port_ = 0;
  std::vector<std::string> as_user_;  ///< runuser -u postgres -- under root
  bool running_ = false;
  bool owner_ = false;  ///< stops the cluster on destruction
};

/// A fresh, empty database on the shared cluster for one test, dropped at the end of scope.
class TestDatabase {
 public:
  /// nullopt (after a WARN; a FAIL under CI=true) when there is no PostgreSQL.
  static std::optional<TestDatabase> create() {
    PostgresServer* server = PostgresServer::shared();
    if (server == nullptr) return std::nullopt;
    static std::atomic<int> counter{0};
    const std::string name = "test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    TestDatabase db;
    db.server_ = server;
    db.name_ = name;
    db.url_ = server->create_database(name);
    return db;
  }
  TestDatabase(TestDatabase&& other) noexcept
      : server_(std::exchange(other.server_, nullptr)), name_(std::move(other.name_)), url_(std::move(other.url_)) {}
  TestDatabase& operator=(TestDatabase&&) = delete;
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase() {
    if (server_ == nullptr) return;
    try {
      server_->psql("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
    } catch (const std::exception&) {  // the cluster goes at the end of the run anyway
    }
  }

  [[nodiscard]] const std::string& url() const noexcept { return url_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] PostgresServer& server() const noexcept { return *server_; }
  /// psql in this database.
  std::string psql(const std::string& sql) const { return server_->psql(sql, name_); }

 private:
  TestDatabase() = default;
  PostgresServer* server_ = nullptr;
  std::string name_;
  std::string url_;
};

}  // namespace maskdetect::test
