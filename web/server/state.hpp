// state.hpp - what every session shares: options, counters, the inference pool, the sources, the session list.
// Internal to the server library.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http_parse.hpp"
#include "inference_pool.hpp"
#include "log_line.hpp"
#include "server.hpp"
#include "stats.hpp"
#include "stream_hub.hpp"

namespace maskdetect::server {
class Fleet;  // fleet.hpp
}  // namespace maskdetect::server

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
  ~ServerState();
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  ServerOptions options;
  Stats stats;
  InferencePool pool;
  StreamHub hub;  ///< this server's cameras: resolve_cameras(options), or the fleet's share of them
  /// With options.fleet.database: the fleet worker that runs this server's share of the database's cameras.
  std::unique_ptr<Fleet> fleet;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> sessions{0};  ///< all connections that hold a SessionSlot
  std::atomic<std::size_t> overflow{0};  ///< connections over a cap, served one short answer (503, /healthz)
  std::atomic<std::size_t> websocket_sessions{0};
  std::atomic<std::size_t> mjpeg_viewers{0};

  /// Registers a session for shutdown_all(); returns its key for untrack().
  std::uint64_t track(std::weak_ptr<Session> session);
  void untrack(std::uint64_t key);
  /// Asks every live session to close.
  void shutdown_all();
  /// Sessions registered and not yet destroyed.
  [[nodiscard]] std::size_t live_sessions();

  /// Why a connection gets no SessionSlot.
  enum class Admission { ok, server_full, client_full };
  /// Counts a new connection from `client` against max_sessions and max_sessions_per_client, unless over one.
  [[nodiscard]] Admission admit(const std::string& client);
  /// Undoes an admit() that returned ok.
  void release(const std::string& client);

  [[nodiscard]] Gauges gauges() const;
  /// The hub id of the camera called `name`, when this server runs it.
  [[nodiscard]] std::optional<std::size_t> camera_index(std::string_view name) const;
  /// Every camera's name: the fleet's (from the database) or this server's.
  [[nodiscard]] std::vector<std::string> camera_names() const;
  [[nodiscard]] float default_threshold() const noexcept { return options.config.detector.score_threshold; }

 private:
  std::mutex registry_mutex_;
  std::uint64_t next_key_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> registry_;
  std::mutex clients_mutex_;
  std::unordered_map<std::string, std::size_t> clients_;  ///< open sessions per client address
};

/// One connection admitted by ServerState::admit, released when the slot dies. Movable (an HTTP session hands
/// its slot to the WebSocket session it upgrades to).
class SessionSlot {
 public:
  SessionSlot() = default;
  /// Adopts an admission that returned ok for `client`.
  SessionSlot(std::shared_ptr<ServerState> state, std::string client)
      : state_(std::move(state)), client_(std::move(client)) {}
  ~SessionSlot() { reset(); }
  SessionSlot(SessionSlot&& other) noexcept = default;
  SessionSlot& operator=(SessionSlot&& other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::move(other.state_);
      client_ = std::move(other.client_);
    }
    return *this;
  }
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;

 private:
  void reset() noexcept {
    if (state_) state_->release(client_);
    state_.reset();
  }
  std::shared_ptr<ServerState> state_;
  std::string client_;
};

}  // namespace maskdetect::server::detail
