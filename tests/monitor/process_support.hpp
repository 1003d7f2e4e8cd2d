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
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
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
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
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
    {
      std::ofstream out(conf);
      out << "listener " << port << " 127.0.0.1\nallow_anonymous true\nlog_dest none\n";
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

/// `mosquitto_sub -v` on a topic: one "topic payload" line per message; gives up after 120 s.
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
      ::execlp("mosquitto_sub", "mosquitto_sub", "-h", "127.0.0.1", "-p", p.c_str(), "-v", "-W", "120", "-t",
               topic.c_str(), static_cast<char*>(nullptr));
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

/// A TCP proxy on 127.0.0.1 to a local port, on its own thread: what an unreachable broker looks like to a
/// client, while the broker and its subscribers stay up. cut() closes every connection, and closes new ones at
/// once until restore().
class TcpProxy {
 public:
  explicit TcpProxy(unsigned short target) : target_(target) {
    REQUIRE(::pipe(wake_) == 0);
    listen_fd_ = listen_on(0);
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~TcpProxy() {
    command('q');
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;
  [[nodiscard]] unsigned short port() const noexcept { return port_; }
  void cut() { command('c'); }
  void restore() { command('r'); }

 private:
  static int listen_on(unsigned short port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    return fd;
  }
  /// Sends a command to the thread and waits until it was carried out.
  void command(char c) {
    std::unique_lock lock(mutex_);
    done_ = false;
    (void)!::write(wake_[1], &c, 1);
    done_cv_.wait(lock, [this] { return done_; });
  }
  void close_all() {
    for (const auto& [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    pairs_.clear();
  }
  void run() {
    for (;;) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      const std::size_t first_pair = fds.size();
      for (const auto& [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        char c = 0;
        (void)!::read(wake_[0], &c, 1);
        if (c == 'c' || c == 'q') close_all();
        cut_ = c == 'c' || (cut_ && c != 'r');
        {
          const std::lock_guard lock(mutex_);
          done_ = true;
        }
        done_cv_.notify_all();
        if (c == 'q') return;
        continue;
      }
      if ((fds[1].revents & POLLIN) != 0) {
        const int client = ::accept(listen_fd_, nullptr, nullptr);
        if (cut_) {  // unreachable: the connection ends at once
          if (client >= 0) ::close(client);
          continue;
        }
        const int server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(target_);
        if (client >= 0 && ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
          pairs_.emplace_back(client, server);
        } else {
          if (client >= 0) ::close(client);
          ::close(server);
        }
        continue;
      }
      // Bytes one way or the other; a closed side closes the pair.
      std::vector<std::size_t> dead;
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        for (int side = 0; side < 2; ++side) {
          if ((fds[first_pair + 2 * i + static_cast<std::size_t>(side)].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
            continue;
          const int from = side == 0 ? pairs_[i].first : pairs_[i].second;
          const int to = side == 0 ? pairs_[i].second : pairs_[i].first;
          char buffer[65536];
          const ssize_t n = ::read(from, buffer, sizeof buffer);
          if (n <= 0 || ::write(to, buffer, static_cast<std::size_t>(n)) != n) {
            dead.push_back(i);
            break;
          }
        }
      }
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        ::close(pairs_[*it].first);
        ::close(pairs_[*it].second);
        pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(*it));
      }
    }
  }

  unsigned short target_;
  unsigned short port_ = 0;
  int listen_fd_ = -1;
  bool cut_ = false;  ///< thread only
  int wake_[2] = {-1, -1};
  std::vector<std::pair<int, int>> pairs_;  ///< (client side, broker side)
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
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
