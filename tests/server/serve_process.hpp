// The real `maskdetect serve` binary as a child process (a serve config, a data folder, port 0), stopped with
// SIGTERM (timed) or SIGKILL; killed at scope exit. For the end-to-end tests of tests/server.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "test_support.hpp"

#ifdef MASKDETECT_TEST_CLI

namespace server_test {

class ServeProcess {
 public:
  /// Starts `maskdetect --detector blazeface_back serve --config CONFIG --workers 1 --data-dir DIR/data` and
  /// waits (up to 60 s) until it listens. stderr goes to DIR/stderr-N.txt (N counts the processes started).
  ServeProcess(const std::filesystem::path& dir, const std::filesystem::path& config) {
    static int started = 0;
    const std::filesystem::path port_file = dir / "port";
    err_file_ = dir / ("stderr-" + std::to_string(++started) + ".txt");
    std::filesystem::remove(port_file);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = ::open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) ::dup2(fd, STDERR_FILENO);
      ::execl(MASKDETECT_TEST_CLI, MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "serve", "--config",
              config.c_str(), "--listen", "127.0.0.1:0", "--workers", "1", "--data-dir", (dir / "data").c_str(),
              "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 1200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(port_file);
      in >> port_;
      int status = 0;
      if (port_ == 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("maskdetect serve exited: " << maskdetect::test::read_text(err_file_));
      }
    }
    if (port_ == 0) kill();
    REQUIRE(port_ != 0);
  }
  ~ServeProcess() {
    if (pid_ > 0) (void)terminate(10.0);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  [[nodiscard]] std::string log() const { return maskdetect::test::read_text(err_file_); }

  struct Exit {
    bool exited = false;   ///< on its own, within the time given (else killed)
    int code = -1;         ///< exit status when it exited
    double seconds = 0.0;  ///< from the signal to its end
  };
  /// SIGTERM, then waits up to `timeout_s` for the exit (SIGKILL after that).
  Exit terminate(double timeout_s) {
    Exit out;
    if (pid_ <= 0) return out;
    const auto start = std::chrono::steady_clock::now();
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
        kill();
        out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return out;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.exited = WIFEXITED(status);
    out.code = out.exited ? WEXITSTATUS(status) : -1;
    pid_ = -1;
    return out;
  }
  /// SIGKILL: no shutdown code runs (a crash).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::filesystem::path err_file_;
};

/// The value of one Prometheus sample, `series` being the name with its labels as printed
/// (`maskdetect_camera_up{camera="door"}`); nullopt when absent.
inline std::optional<double> metric_value(const std::string& text, const std::string& series) {
  std::size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const std::size_t start = at + series.size() + 1;
      return std::stod(text.substr(start, text.find('\n', start) - start));
    }
    at += series.size();
  }
  return std::nullopt;
}

}  // namespace server_test

#endif
