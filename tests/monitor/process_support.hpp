// Real processes for the monitoring tests: a free loopback port, a mosquitto broker, mosquitto_sub.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
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

/// A mosquitto broker on 127.0.0.1:port (config: listener PORT 127.0.0.1, allow_anonymous true), killed on
/// scope exit or by kill().
class Broker {
 public:
  Broker(const std::filesystem::path& dir, unsigned short port) : port_(port) {
    const auto conf = dir / ("mosquitto-" + std::to_string(port) + ".conf");
    std::ofstream(conf) << "listener " << port << " 127.0.0.1\nallow_anonymous true\nlog_dest none\n";
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
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  [[nodiscard]] unsigned short port() const noexcept { return port_; }

 private:
  unsigned short port_;
  pid_t pid_ = -1;
};

/// `mosquitto_sub -v` on some topics: one "topic payload" line per message; gives up after 60 s.
class Subscriber {
 public:
  Subscriber(unsigned short port, const std::string& topic) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const std::string p = std::to_string(port);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execlp("mosquitto_sub", "mosquitto_sub", "-h", "127.0.0.1", "-p", p.c_str(), "-v", "-W", "60", "-t",
               topic.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    pipe_ = ::fdopen(fds[0], "r");
    REQUIRE(pipe_ != nullptr);
  }
  ~Subscriber() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::fclose(pipe_);
  }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  /// The next message line without its newline; "" at the end (timeout or broker gone).
  std::string next() {
    char buffer[65536];
    if (std::fgets(buffer, sizeof buffer, pipe_) == nullptr) return "";
    std::string line(buffer);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  }
  /// Reads lines until one starts with `prefix`; returns it ("" if none came).
  std::string until(const std::string& prefix) {
    for (;;) {
      std::string line = next();
      if (line.empty() || line.starts_with(prefix)) return line;
    }
  }

 private:
  pid_t pid_ = -1;
  FILE* pipe_ = nullptr;
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
