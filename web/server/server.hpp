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
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "maskdetect/config.hpp"

namespace maskdetect::server {

class EventStore;  // event_store.hpp

struct ServerOptions {
  std::string address = "127.0.0.1";  ///< loopback unless told otherwise
  unsigned short port = 8080;         ///< 0: an ephemeral port (Server::port() tells which)
  std::vector<std::string> sources;   ///< --source: camera, stream URL, video file (looped), images
  Config config;                      ///< pipeline settings; config.detector.score_threshold is the default
  int io_threads = 2;                 ///< threads running the io_context
  int inference_workers = 2;          ///< threads with their own Detector for REST and browser-camera frames
  std::size_t max_queue = 64;         ///< frames waiting for a worker; beyond it 503
  std::string token;                  ///< non-empty: bearer token required by /api/* and /metrics
  std::size_t body_limit_bytes = std::size_t{8} << 20;  ///< request body and WebSocket message limit
  std::chrono::milliseconds read_timeout{10000};        ///< to read one HTTP request (also keep-alive idle)
  std::chrono::milliseconds idle_timeout{60000};        ///< WebSocket without any traffic (pings included)
  std::size_t max_sessions = 64;                        ///< open connections (HTTP, WebSocket, MJPEG)
  double max_fps = 30.0;                                ///< frames per second per WebSocket / MJPEG session; 0: no cap
  double source_fps = 15.0;                             ///< cap on the rate a server source is processed at; 0: no cap
  int jpeg_quality = 80;                                ///< annotated JPEGs (MJPEG, ?annotated=1)
  bool log_requests = false;                            ///< one stderr line per HTTP request
  /// Monitoring (issue 12): the events served under /api/v1/events (null: none). Owned with the caller.
  std::shared_ptr<EventStore> events;
};

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
  /// Begins a graceful stop from any thread (also from a completion handler): stops accepting and
  /// closes every session (WebSockets with a "going away" close frame). Returns at once.
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
