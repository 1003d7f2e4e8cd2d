// fleet.hpp - a `maskdetect serve --database postgresql://...` worker of a fleet (docs/fleet.md): the cameras
// live in PostgreSQL; each worker claims its fair share of them with session advisory locks held on one
// dedicated connection, runs them in its StreamHub, writes their live figures to the database every few
// seconds, and hands them back when it drains (SIGTERM). A worker that loses its connection stops its cameras
// before it reconnects; a frame is analysed only while the worker's last round trip to the database is
// younger than the lease timeout, and a camera taken over from a worker that did not hand it back waits that
// long before its first frame, so that no camera is ever analysed by two workers at once.
//
//   Fleet fleet(options.fleet, options.config, hub, stats);
//   fleet.start();                       // the worker's thread: register, import, claim, report
//   FleetSnapshot now = fleet.snapshot(); // every camera, its owner and figures (refreshed every tick)
//   fleet.drain();                       // SIGTERM: every camera handed back at once
//   fleet.stop();                        // joins the thread
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "maskdetect/config.hpp"
#include "maskdetect/types.hpp"
#include "serve_config.hpp"
#include "server.hpp"

namespace maskdetect::server {

class StreamHub;
class Stats;
namespace pg {
class Connection;
}  // namespace pg

/// "<hostname>-<pid>": a worker's name when none is given (a Kubernetes pod's hostname is its name).
[[nodiscard]] std::string default_worker_id();

/// Where a worker listens for the others: its --advertise-url.
struct HttpEndpoint {
  std::string host;
  unsigned short port = 80;
};
/// "http://host:port" (or "http://[v6]:port", an optional trailing "/") ; nullopt for anything else.
[[nodiscard]] std::optional<HttpEndpoint> parse_advertise_url(std::string_view url);

/// One camera of the fleet as this worker's last tick saw it.
struct FleetCamera {
  std::string name;
  std::string definition;  ///< its canonical JSON (camera_registry.hpp), source with credentials
  CameraConfig config;     ///< the definition, parsed
  bool enabled = true;
  std::string owner;      ///< the worker running it; empty: none
  std::string owner_url;  ///< that worker's --advertise-url
  bool mine = false;      ///< this worker runs it
  // Its figures: from its owner's last report (this worker's own cameras: this tick's).
  std::string state = "unowned";  ///< up, down, starting (from its owner), unowned, disabled
  double fps = 0.0;
  std::int64_t in_view = 0;
  std::array<std::int64_t, kNumLabels> counted{};  ///< people counted (tracks ended), across its owners
  std::array<std::int64_t, kNumLabels> tracked{};  ///< people tracked now by its owner
  double reported = 0.0;                           ///< Unix seconds of those figures (0: never reported)
};

struct FleetWorker {
  std::string name;
  std::string url;
  int max_cameras = 0;
  bool draining = false;
  std::size_t owned = 0;
};

struct FleetSnapshot {
  std::string worker;                ///< this worker's name
  bool ready = false;                ///< registered, the database answered within the lease timeout, not draining
  double taken = 0.0;                ///< Unix seconds of the tick (0: none yet)
  std::vector<FleetCamera> cameras;  ///< not deleted, by name
  std::vector<FleetWorker> workers;  ///< live ones
  std::int64_t unowned = 0;          ///< enabled cameras without an owner
  [[nodiscard]] const FleetCamera* find(std::string_view name) const;
};

class Fleet {
 public:
  /// Checks the options (worker name, advertise URL); connects nothing yet (start() does, and keeps trying
  /// while the database is away). Throws maskdetect::Error(bad_input).
  Fleet(FleetOptions options, Config server_pipeline, StreamHub& hub, Stats& stats);
  /// stop().
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  /// Starts the worker's thread.
  void start();
  /// Hands every camera back at once (they are stopped, then released) and stops claiming; returns at once.
  void drain();
  /// drain(), then joins the thread.
  void stop();

  [[nodiscard]] const std::string& worker() const noexcept { return options_.worker_id; }
  [[nodiscard]] const FleetOptions& options() const noexcept { return options_; }
  /// False once this worker may no longer be sure it owns its cameras (no answer from the database within the
  /// lease timeout) or is draining: frames are then dropped unanalysed.
  [[nodiscard]] bool may_analyse() const noexcept;
  [[nodiscard]] bool ready() const noexcept;
  [[nodiscard]] FleetSnapshot snapshot() const;
  /// Enabled cameras without an owner at the last tick (-1 before the first).
  [[nodiscard]] std::int64_t unowned() const noexcept { return unowned_.load(); }
  /// Asks for a tick now (after a change through the API).
  void wake();

  /// The API's changes (camera_registry.hpp), on a connection of their own. Throw pg::Error.
  enum class Change { done, exists, missing };
  Change create_camera(const CameraConfig& camera);
  Change update_camera(const CameraConfig& camera);
  Change delete_camera(const std::string& name);
  /// The server's pipeline (what a camera without a preset uses): to check a camera sent to the API.
  [[nodiscard]] const Config& server_pipeline() const noexcept { return server_pipeline_; }

 private:
  struct Owned;
  void run();
  void connect();
  void tick();
  void claim(const std::vector<FleetCamera>& candidates, std::size_t count);
  void release(const std::string& name, bool clean, const char* why);
  void restart(Owned& owned, const FleetCamera& camera);
  /// Starts `camera` in the hub; false when it cannot start here.
  bool start_camera(Owned& owned);
  void stop_camera(Owned& owned, const char* why);
  /// The connection is gone: every camera stops now, before reconnecting.
  void lost_database(const std::string& why);
  void report();
  /// Logs a failure unless it is the one logged last (a loop that retries says it once).
  void log_once(const std::string& message);
  void refresh_figures(FleetCamera& camera, const Owned& owned) const;

  FleetOptions options_;
  Config server_pipeline_;
  StreamHub& hub_;
  Stats& stats_;
  std::unique_ptr<pg::Connection> db_;  ///< the leases' connection: worker thread only
  int worker_key_ = 0;
  std::map<std::string, std::unique_ptr<Owned>> owned_;                  ///< worker thread only
  std::map<std::string, std::chrono::steady_clock::time_point> failed_;  ///< cameras that did not start here
  std::chrono::steady_clock::time_point last_report_{};
  bool logged_down_ = false;
  std::string last_error_;
  std::atomic<std::int64_t> deadline_{0};  ///< steady clock (ns): frames may be analysed before it
  std::atomic<bool> draining_{false};
  std::atomic<bool> registered_{false};
  std::atomic<std::int64_t> unowned_{-1};
  mutable std::mutex snapshot_mutex_;
  FleetSnapshot snapshot_;
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stop_ = false;
  std::thread thread_;
  std::mutex api_mutex_;  ///< api_db_
  std::unique_ptr<pg::Connection> api_db_;
};

}  // namespace maskdetect::server
