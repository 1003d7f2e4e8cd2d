// A real PostgreSQL server for tests: Debian's `postgresql` binaries (initdb, pg_ctl) run a throw-away cluster
// in a temporary folder on a free loopback port, with trust authentication; stopped (immediate) and removed at
// the end of scope. Under root (CI) the cluster runs as the `postgres` system user (initdb refuses root).
//
//   auto pg = maskdetect::test::PostgresServer::start();   // nullopt (with a WARN) when PostgreSQL is absent;
//   if (!pg) return;                                       // under CI=true that is a FAIL instead
//   std::string url = pg->url();                           // postgresql://postgres@127.0.0.1:PORT/postgres
//   pg->create_database("events");                         // a fresh database per test when needed
#pragma once

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
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

  /// Starts a cluster. Returns nullopt (after a WARN) when PostgreSQL is not installed; under CI=true that
  /// FAILs the test instead. Throws std::runtime_error when it is installed but does not start.
  static std::optional<PostgresServer> start() {
    const std::filesystem::path bin = bin_dir();
    if (bin.empty()) {
      if (in_ci()) FAIL("PostgreSQL is not installed (CI=true): scripts/setup.sh installs Debian's postgresql");
      WARN("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb), test not run: run scripts/setup.sh");
      return std::nullopt;
    }
    PostgresServer server;
    server.bin_ = bin;
    server.dir_ = std::make_unique<TempDir>();
    server.data_ = server.dir_->path() / "data";
    server.port_ = free_local_port();
    const bool root = geteuid() == 0;
    if (root) {
      const passwd* user = getpwnam("postgres");
      if (user == nullptr) throw std::runtime_error("running as root, but there is no 'postgres' user to run initdb");
      // The temporary folder (0700, root's) must let the cluster's owner in.
      if (chown(server.dir_->path().c_str(), user->pw_uid, user->pw_gid) != 0)
        throw std::runtime_error("cannot hand the temporary folder to the postgres user");
      server.as_user_ = {"/usr/sbin/runuser", "-u", "postgres", "--"};
    }
    const ProcessResult init = server.run(bin / "initdb", {"-D", server.data_.string(), "-U", "postgres", "-A", "trust",
                                                           "-E", "UTF8", "--no-locale", "--no-sync"});
    if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.err + init.out);
    // Loopback TCP only, the socket in the temporary folder; fsync off (a test cluster: what a killed server
    // committed is still in the page cache and survives, an OS crash would lose it).
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(server.port_) +
                                " -c unix_socket_directories=" + server.dir_->path().string() +
                                " -c fsync=off -c full_page_writes=off"
                                " -c max_connections=100";
    const ProcessResult started =
        server.run(bin / "pg_ctl", {"-D", server.data_.string(), "-o", options, "-l",
                                    (server.dir_->path() / "server.log").string(), "-w", "-t", "30", "start"});
    if (started.exit_code != 0)
      throw std::runtime_error("pg_ctl start failed: " + started.err + started.out +
                               read_text(server.dir_->path() / "server.log"));
    server.running_ = true;
    return server;
  }

  PostgresServer(PostgresServer&& other) noexcept
      : bin_(std::move(other.bin_)),
        dir_(std::move(other.dir_)),
        data_(std::move(other.data_)),
        port_(other.port_),
        as_user_(std::move(other.as_user_)),
        running_(std::exchange(other.running_, false)) {}
  PostgresServer& operator=(PostgresServer&&) = delete;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer() { stop(); }

  /// Stops the server at once (pg_ctl stop -m immediate); safe to call twice.
  void stop() {
    if (!running_) return;
    running_ = false;
    (void)run(bin_ / "pg_ctl", {"-D", data_.string(), "-m", "immediate", "-w", "-t", "20", "stop"});
  }
  /// Starts it again after stop() (same data, same port): a database that comes back after an outage.
  void restart() {
    if (running_) return;
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) +
                                " -c unix_socket_directories=" + dir_->path().string() +
                                " -c fsync=off -c full_page_writes=off";
    const ProcessResult started = run(bin_ / "pg_ctl", {"-D", data_.string(), "-o", options, "-l",
                                                        (dir_->path() / "server.log").string(), "-w", "start"});
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
  /// The server's log (for a failing test's message).
  [[nodiscard]] std::string log() const { return read_text(dir_->path() / "server.log"); }

 private:
  PostgresServer() = default;

  [[nodiscard]] ProcessResult run(const std::filesystem::path& program, const std::vector<std::string>& args) const {
    if (as_user_.empty()) return run_process(program.string(), args);
    std::vector<std::string> full(as_user_.begin() + 1, as_user_.end());
    full.push_back(program.string());
    full.insert(full.end(), args.begin(), args.end());
    return run_process(as_user_.front(), full);
  }

  std::filesystem::path bin_;
  std::unique_ptr<TempDir> dir_;
  std::filesystem::path data_;
  int port_ = 0;
  std::vector<std::string> as_user_;  ///< runuser -u postgres -- under root
  bool running_ = false;
};

}  // namespace maskdetect::test
