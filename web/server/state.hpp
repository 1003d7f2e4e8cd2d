// state.hpp - what every session shares: options, counters, the inference pool, the sources, the session list.
// Internal to the server library.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "inference_pool.hpp"
#include "server.hpp"
#include "stats.hpp"
#include "stream_hub.hpp"

namespace maskdetect::server::detail {

/// A connection the server can ask to close (on its own strand) when stopping.
class Session {
 public:
  virtual ~Session() = default;
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  /// Thread-safe: posts the close to the session's strand.
  virtual void shutdown() = 0;
};

struct ServerState {
  explicit ServerState(ServerOptions opts);

  ServerOptions options;
  Stats stats;
  InferencePool pool;
  StreamHub hub;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> sessions{0};  ///< all connections that hold a SessionSlot
  std::atomic<std::size_t> websocket_sessions{0};
  std::atomic<std::size_t> mjpeg_viewers{0};

  /// Registers a session for shutdown_all(); returns its key for untrack().
  std::uint64_t track(std::weak_ptr<Session> session);
  void untrack(std::uint64_t key);
  /// Asks every live session to close.
  void shutdown_all();

  [[nodiscard]] Gauges gauges() const;
  [[nodiscard]] float default_threshold() const noexcept { return options.config.detector.score_threshold; }

 private:
  std::mutex registry_mutex_;
  std::uint64_t next_key_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> registry_;
};

/// Counts one connection against ServerOptions::max_sessions for as long as it lives. Movable (an HTTP
/// session hands its slot to the WebSocket session it upgrades to).
class SessionSlot {
 public:
  SessionSlot() = default;
  explicit SessionSlot(std::shared_ptr<ServerState> state) : state_(std::move(state)) {
    if (state_) ++state_->sessions;
  }
  ~SessionSlot() {
    if (state_) --state_->sessions;
  }
  SessionSlot(SessionSlot&& other) noexcept = default;
  SessionSlot& operator=(SessionSlot&& other) noexcept {
    if (this != &other) {
      if (state_) --state_->sessions;
      state_ = std::move(other.state_);
    }
    return *this;
  }
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;

 private:
  std::shared_ptr<ServerState> state_;
};

/// A request target split into a percent-decoded path and query parameters.
struct Target {
  std::string path;
  std::unordered_map<std::string, std::string> query;
  [[nodiscard]] std::string param(const std::string& key) const {
    const auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

/// Parses an origin-form target. False for a malformed one: not starting with '/', a bad %-escape, a NUL or
/// backslash, or a ".." path segment (no path traversal, escaped or not).
[[nodiscard]] bool parse_target(std::string_view raw, Target& target);

/// {"error": {"status": 404, "code": "not_found", "message": "..."}}
[[nodiscard]] std::string error_json(unsigned status, std::string_view code, std::string_view message);

/// Constant-time comparison of a presented token with the configured one; true when no token is configured.
/// `authorization` is the Authorization header ("Bearer <token>"); `query_token` the ?token= parameter
/// (browsers cannot set headers on a WebSocket or an <img>).
[[nodiscard]] bool authorized(const ServerOptions& options, std::string_view authorization,
                              std::string_view query_token) noexcept;

/// A threshold parameter: empty text gives `fallback`; false for a value that is not a number in [0, 1].
[[nodiscard]] bool parse_threshold(const std::string& text, float fallback, float& out);

/// One stderr line, serialised with other log lines.
void log_line(const std::string& line);

}  // namespace maskdetect::server::detail
