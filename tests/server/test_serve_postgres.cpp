// `maskdetect serve --database postgresql://...` end to end (issue 19): the real binary keeps its events and
// history in PostgreSQL, with the password from a file or the environment, and never prints the password;
// a bad database stops it at start with a clear error.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "../cli/run_process.hpp"
#include "postgres_server.hpp"
#include "server_client.hpp"

#ifdef MASKDETECT_TEST_CLI

using namespace server_test;  // NOLINT(google-build-using-namespace)

namespace {

/// `maskdetect serve ARGS --port-file` as a child process with `env` added, stderr to a file; stopped with
/// SIGTERM at scope exit. port() is 0 when it exited before listening.
class Serve {
 public:
  Serve(const fs::path& dir, std::vector<std::string> args, const std::vector<std::pair<std::string, std::string>>& env)
      : err_file_(dir / "stderr.txt") {
    const fs::path port_file = dir / "port";
    fs::remove(port_file);
    args.insert(args.begin(), {"--detector", "blazeface_back", "serve", "--listen", "127.0.0.1:0", "--workers", "1",
                               "--port-file", port_file.string()});
    const maskdetect::test::Argv argv(MASKDETECT_TEST_CLI, args);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) dup2(fd, STDERR_FILENO);
      for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
      execv(MASKDETECT_TEST_CLI, argv.get());
      _exit(127);
    }
    for (int i = 0; i < 1200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(port_file);
      in >> port_;
      if (port_ == 0 && waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
    }
  }
  ~Serve() { stop(); }
  Serve(const Serve&) = delete;
  Serve& operator=(const Serve&) = delete;

  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  /// Exit status once stopped or exited (WEXITSTATUS).
  [[nodiscard]] int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1; }
  [[nodiscard]] std::string log() const { return read_text(err_file_); }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
  }

 private:
  fs::path err_file_;
  pid_t pid_ = -1;
  int status_ = 0;
  unsigned short port_ = 0;
};

}  // namespace

TEST_CASE("serve --database keeps events and history in PostgreSQL and never prints the password",
          "[server][postgres]") {
  auto database = maskdetect::test::TestDatabase::create();
  if (!database) return;
  const std::string password = "Pa55-w0rd-in-a-file";
  database->server().add_password_user("maskd", password, database->name());
  const std::string url =
      "postgresql://maskd@127.0.0.1:" + std::to_string(database->server().port()) + "/" + database->name();
  const maskdetect::test::TempDir dir;
  const fs::path password_file = dir / "db-password";
  std::ofstream(password_file) << password << '\n';

  {  // The password from a file named in serve.yaml.
    std::ofstream(dir / "serve.yaml") << "database: " << url << "\ndatabase_password_file: db-password\n"
                                      << "data_dir: " << (dir / "data").string() << "\n";
    Serve serve(dir.path(), {"--config", (dir / "serve.yaml").string()}, {});
    REQUIRE(serve.port() != 0);
    const Response res = get(serve.port(), "/api/v1/events");
    CHECK(res.result_int() == 200);
    CHECK(json::parse(res.body())["events"].empty());
    CHECK(get(serve.port(), "/api/v1/history").result_int() == 200);
    serve.stop();
    CHECK(serve.exit_code() == 0);
    const std::string log = serve.log();
    CHECK(log.find("events in " + url) != std::string::npos);
    CHECK(log.find(password) == std::string::npos);
    CHECK_FALSE(fs::exists(dir / "data" / "events.db"));  // nothing in SQLite
  }
  CHECK(database->psql("SELECT component || '=' || version FROM schema_version ORDER BY component") ==
        "events=1\nhistory=1\n");

  {  // The password in the URL on the command line, or in PGPASSWORD: the log shows neither.
    const std::string with_password = "postgresql://maskd:" + password +
                                      "@127.0.0.1:" + std::to_string(database->server().port()) + "/" +
                                      database->name();
    Serve serve(dir.path(), {"--database", with_password}, {});
    REQUIRE(serve.port() != 0);
    serve.stop();
    CHECK(serve.log().find(password) == std::string::npos);
    CHECK(serve.log().find("postgresql://maskd:***@") != std::string::npos);
    Serve from_env(dir.path(), {"--database", url}, {{"PGPASSWORD", password}});
    CHECK(from_env.port() != 0);
  }

  {  // A wrong password: exit at start, non-zero, naming the database and the reason, not the password.
    std::ofstream(password_file, std::ios::trunc) << "not-" << password << '\n';
    Serve serve(dir.path(), {"--database", url, "--database-password-file", password_file.string()}, {});
    CHECK(serve.port() == 0);
    CHECK(serve.exit_code() != 0);
    const std::string log = serve.log();
    CHECK(log.find("password authentication failed") != std::string::npos);
    CHECK(log.find(url) != std::string::npos);
    CHECK(log.find(password) == std::string::npos);
  }
  {  // Not a PostgreSQL URL.
    Serve serve(dir.path(), {"--database", "mysql://root:" + password + "@db/x"}, {});
    CHECK(serve.port() == 0);
    CHECK(serve.exit_code() != 0);
    CHECK(serve.log().find("postgresql://") != std::string::npos);
    CHECK(serve.log().find(password) == std::string::npos);
  }
}

#endif
