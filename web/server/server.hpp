// server.hpp - `maskdetect serve`: a Boost.Beast HTTP + WebSocket server over the maskdetect SDK.
//
//   maskdetect::server::ServerOptions options;
//   options.port = 0;                                  // ephemeral; read it back with port()
//   maskdetect::server::Server server(options);        // loads the models, opens sources, binds
//   server.start();                                    // I/O threads, inference workers, capture threads
//   ... http://127.0.0.1:<server.port()>/ ...
//   server.stop();                                     // graceful: closes sessions, joins every thread
//
// Endpoints and JSON shapes: docs/server.md. The SDK knows nothing of this library.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "maskdetect/config.hpp"
#include "maskdetect/image_io.hpp"

namespace maskdetect::server {

class EventStore;        // event_store.hpp
class HistoryStore;      // history_store.hpp
struct PersonTrack;      // event_store.hpp
struct CameraConfig;     // serve_config.hpp
struct DeliveryFigures;  // stats.hpp

/// A server camera: a source with its own name, pipeline and fps cap (one capture thread, Detector and
/// Tracker each).
struct CameraOptions {
  std::string name;      ///< stable label: API paths, metrics, MQTT topics, events ([A-Za-z0-9_-])
  std::string source;    ///< camera index/device, stream URL, video file (looped) or images
  Config config;         ///< the camera's pipeline settings (serve config: camera_pipeline())
  double fps = 15.0;     ///< frames per second processed at most (0: no cap)
  int detect_every = 1;  ///< run the detector on every N-th frame (TrackingOptions::detect_every)
  /// The fleet (docs/fleet.md): person ids of this camera start above this (unique per camera across the
  /// workers that owned it in turn), and no frame is analysed before `not_before` (steady clock).
  std::int64_t first_track_id = 0;
  std::chrono::steady_clock::time_point not_before{};
};

/// A fleet of workers sharing their cameras through PostgreSQL (docs/fleet.md; fleet.hpp).
struct FleetOptions {
  std::string database;       ///< postgresql:// URL; empty: no fleet (the server runs its own cameras)
  std::string password;       ///< the database password from a password file; empty: the URL's, PGPASSWORD, ~/.pgpass
  std::string advertise_url;  ///< http://host:port where the other workers reach this one (live views)
  int max_cameras = 0;        ///< cameras this worker runs at most (0: its fair share, no cap)
  std::string worker_id;      ///< unique among live workers (empty: <hostname>-<pid>)
  /// The config file's cameras (and --source ones) as JSON definitions (fleet::definition_json), imported into
  /// the database at start-up: upserted when their entry changed since they were last imported
  /// (camera_registry.hpp).
  std::vector<std::string> import;
  double tick_s = 1.0;           ///< how often a worker checks its leases and claims
  double lease_timeout_s = 5.0;  ///< no frame analysed this long after the last answer of the database
  double report_s = 2.0;         ///< how often a worker writes its cameras' figures to the database
  /// Called (on the fleet's thread) when this worker starts running a camera and after it stopped one: the
  /// monitor's event rules, privacy and MQTT statistics follow the cameras.
  std::function<void(const CameraConfig&)> on_camera_started;
  std::function<void(const std::string&)> on_camera_stopped;
};

struct ServerOptions {
  std::string address = "127.0.0.1";   ///< loopback unless told otherwise
  unsigned short port = 8080;          ///< 0: an ephemeral port (Server::port() tells which)
  std::vector<CameraOptions> cameras;  ///< named cameras (serve config), each with its own pipeline and fps
  std::vector<std::string> sources;    ///< --source quick starts: more cameras, named from the source
                                       ///< (camera_name_for_source), with `config` and `source_fps`
  Config config;                       ///< pipeline settings; config.detector.score_threshold is the default
  int io_threads = 2;                  ///< threads running the io_context
  int inference_workers = 2;           ///< threads with their own Detector for REST and browser-camera frames
  std::size_t max_queue = 64;          ///< frames waiting for a worker; beyond it 503
  std::string token;                   ///< non-empty: bearer token required by /api/* and /metrics
  std::size_t body_limit_bytes = std::size_t{8} << 20;      ///< request body and WebSocket message limit
  std::chrono::milliseconds read_timeout{10000};            ///< to read one HTTP request, body included
  std::chrono::milliseconds header_timeout{5000};           ///< to read a request's header (also keep-alive idle)
  std::chrono::milliseconds idle_timeout{60000};            ///< WebSocket without any traffic (pings included)
  std::chrono::milliseconds drain_timeout{10000};           ///< on stop: time to answer requests already read
  std::size_t max_sessions = 64;                            ///< open connections (HTTP, WebSocket, MJPEG)
  std::size_t max_sessions_per_client = 16;                 ///< open connections from one client address
  std::uint64_t max_image_pixels = kDefaultMaxImagePixels;  ///< width x height of an image sent, from its header
  double max_fps = 30.0;      ///< frames per second per WebSocket / MJPEG session; 0: no cap
  double source_fps = 15.0;   ///< cap on the rate a server source is processed at; 0: no cap
  int jpeg_quality = 80;      ///< annotated JPEGs (MJPEG, ?annotated=1)
  bool log_requests = false;  ///< one stderr line per HTTP request
  /// Monitoring (issue 12): the events served under /api/v1/events (null: none). Owned with the caller.
  std::shared_ptr<EventStore> events;
  /// Called from a camera's capture thread for each alert of a person (maskdetect::People: the camera's
  /// people.alerts): an event to store and deliver (Monitor::post_track). Must not block on the network.
  /// Empty: none.
  std::function<void(const PersonTrack&)> on_track;
  /// Per-camera minutes served under /api/v1/history (null: none). Owned with the caller.
  std::shared_ptr<HistoryStore> history;
  /// Webhook and MQTT figures for /metrics (Monitor::delivery_figures); called on an I/O thread per scrape,
  /// must not block. Empty: no delivery families.
  std::function<DeliveryFigures()> delivery;
  /// With fleet.database: the cameras come from the database (`cameras` and `sources` are ignored: put them
  /// in fleet.import).
  FleetOptions fleet;
};

/// A camera name made from a source spec: the file or device name, or the URL's host and path, with other
/// characters than [A-Za-z0-9_-] turned into '-' ("0" -> "camera0", "/data/door.mp4" -> "door",
/// "rtsp://user:pw@cam1/live" -> "cam1-live"). Not unique by itself: see resolve_cameras().
[[nodiscard]] std::string camera_name_for_source(std::string_view spec);

/// Every camera of `options`: `cameras`, then `sources` named by camera_name_for_source (with "-2", "-3"...
/// appended when a name is taken) with the server's `config` and `source_fps`.
[[nodiscard]] std::vector<CameraOptions> resolve_cameras(const ServerOptions& options);

/// Reads "host:port", "[v6addr]:port", ":port" or "port" into options.address / options.port.
/// Throws maskdetect::Error(bad_input).
void parse_listen(std::string_view text, ServerOptions& options);

class Server {
 public:
  /// Loads the models, opens the sources and binds the listening socket. Throws maskdetect::Error
  /// (io: the address cannot be bound).
  explicit Server(ServerOptions options);
  /// Stops if still running.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Starts the I/O threads, the inference workers' queue and the capture threads.
  void start();
  /// The bound port (useful with port 0).
  [[nodiscard]] unsigned short port() const noexcept;
  [[nodiscard]] const ServerOptions& options() const noexcept;
  /// The document of GET /api/v1/stats (for MQTT statistics).
  [[nodiscard]] std::string stats_json() const;
  /// Begins a graceful stop from any thread (also from a completion handler): stops accepting, closes idle
  /// sessions (WebSockets with a "going away" close frame) and lets every request already received be
  /// answered (wait() bounds it by drain_timeout). Returns at once.
  void request_stop();
  /// Blocks until a requested stop has completed and every thread has been joined.
  void wait();
  /// request_stop() then wait().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Runs a server until SIGINT or SIGTERM, then stops it gracefully. `on_ready` is called once listening.
/// `on_stopped` is called once the server has stopped, before it is destroyed. Returns 0. Throws
/// maskdetect::Error as Server does.
int run_server(ServerOptions options, const std::function<void(const Server&)>& on_ready = {},
               const std::function<void()>& on_stopped = {});

}  // namespace maskdetect::server
