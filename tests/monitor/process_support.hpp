// Real processes for the monitoring tests: a free loopback port, a mosquitto broker, mosquitto_sub.
// Also used by the server suite (tests/server/test_serve_delivery.cpp).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace maskdetect::test {

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// True once something accepts TCP connections on 127.0.0.1:port.
inline bool port_open(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// The mosquitto broker binary, or "" when it is not installed.
inline std::string mosquitto_binary() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"})
    if (std::filesystem::exists(p)) return p;
  return "";
}

/// A mosquitto broker on 127.0.0.1:port (config: listener PORT 127.0.0.1, allow_anonymous true; with
/// `persistent`, sessions and queued messages are saved in `dir` when it stops), killed on scope exit or by
/// kill(); stop() ends it gracefully (SIGTERM: a persistent broker saves its state).
class Broker {
 public:
  Broker(const std::filesystem::path& dir, unsigned short port, bool persistent = false) : port_(port) {
    const auto conf = dir / ("mosquitto-" + std::to_string(port) + ".conf");
    {
      std::ofstream out(conf);
      out << "listener " << port << " 127.0.0.1\nallow_anonymous true\nlog_dest none\n";
      // As root, mosquitto would write its state as the `mosquitto` user, who cannot enter the test's folder.
      if (persistent) out << "persistence true\npersistence_location " << dir.string() << "/\n";
      if (persistent && ::geteuid() == 0) out << "user root\n";
    }
    const std::string binary = mosquitto_binary();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execl(binary.c_str(), binary.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 500 && !port_open(port_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(port_open(port_));
  }
  ~Broker() { kill(); }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;
  void kill() { end(SIGKILL); }
  void stop() { end(SIGTERM); }
  [[nodiscard]] unsigned short port() const noexcept { return port_; }

 private:
  void end(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  unsigned short port_;
  pid_t pid_ = -1;
};

/// `mosquitto_sub -v` on a topic: one "topic payload" line per message; gives up after 120 s. With a
/// `client_id`, a persistent session (clean session off, QoS 1): a broker that keeps sessions queues what is
/// published while it is away, and a later Subscriber with the same id gets it. With `skip_retained`, the
/// broker's retained copies sent on subscribing are not shown (only messages published while subscribed).
class Subscriber {
 public:
  Subscriber(unsigned short port, const std::string& topic, const std::string& client_id = "",
             bool skip_retained = false) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::vector<std::string> args{"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port), "-v", "-W", "120"};
    if (!client_id.empty()) args.insert(args.end(), {"-c", "-i", client_id, "-q", "1"});
    if (skip_retained) args.emplace_back("-R");
    args.insert(args.end(), {"-t", topic});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execvp("mosquitto_sub", argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Subscriber() {
    kill();
    if (fd_ >= 0) ::close(fd_);
  }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  /// Ends mosquitto_sub (lines already read stay readable).
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  /// The next message line without its newline; "" when none comes within `timeout_s` (or at the end).
  std::string next(double timeout_s = 60.0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      if (const auto eol = buffer_.find('\n'); eol != std::string::npos) {
        std::string line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 1);
        return line;
      }
      if (fd_ < 0) return "";
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// Reads lines until one starts with `prefix`; returns it ("" if none came within `timeout_s`).
  std::string until(const std::string& prefix, double timeout_s = 60.0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0.0) return "";
      std::string line = next(left);
      if (line.empty() || line.starts_with(prefix)) return line;
    }
  }
  /// Every line that comes within `seconds`.
  std::vector<std::string> collect(double seconds) {
    std::vector<std::string> lines;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      const double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0.0) return lines;
      std::string line = next(left);
      if (!line.empty()) lines.push_back(std::move(line));
    }
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
};

/// Fails under CI=true, warns and returns elsewhere, when mosquitto or mosquitto_sub is missing.
#define MASKDETECT_REQUIRE_MOSQUITTO()                                                                               \
  do {                                                                                                               \
    if (::maskdetect::test::mosquitto_binary().empty() || std::system("command -v mosquitto_sub >/dev/null") != 0) { \
      if (::maskdetect::test::in_ci()) FAIL("mosquitto / mosquitto_sub missing (CI=true): run scripts/setup.sh");    \
      WARN("mosquitto / mosquitto_sub missing, test not run");                                                       \
      return;                                                                                                        \
    }                                                                                                                \
  } while (false)

}  // namespace maskdetect::test
