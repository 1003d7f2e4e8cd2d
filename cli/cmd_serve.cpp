// maskdetect serve: the HTTP/WebSocket server with the live web UI (web/server, docs/server.md).
#include <CLI/CLI.hpp>

#include "commands.hpp"

#ifdef MASKDETECT_HAS_SERVER

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "camera_registry.hpp"
#include "fleet.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "monitor.hpp"
#include "pg.hpp"
#include "serve_config.hpp"
#include "server.hpp"

namespace maskdetect::cli {

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> sources;
  std::string token;
  int io_threads = 2;
  int workers = 2;
  std::size_t max_body = std::size_t{8} << 20;
  std::size_t max_sessions = 64;
  std::size_t max_sessions_per_client = 16;
  double max_fps = 30.0;
  double source_fps = 15.0;
  double read_timeout_s = 10.0;
  double header_timeout_s = 5.0;
  double drain_timeout_s = 10.0;
  double idle_timeout_s = 60.0;
  int jpeg_quality = 80;
  bool log_requests = false;
  std::string port_file;
  std::string data_dir;                ///< --data-dir (empty: the config file's, else the default)
  std::string database;                ///< --database (empty: the config file's, else SQLite in the data folder)
  std::string database_password_file;  ///< --database-password-file (empty: the config file's)
  CLI::Option* listen_opt = nullptr;   ///< given on the command line: wins over the config file
  // The fleet (docs/fleet.md).
  std::string advertise_url;  ///< --advertise-url
  int max_cameras = 0;        ///< --max-cameras
  std::string worker_id;      ///< --worker-id
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

int run_serve(const ServeOptions& o, const app::ConfigOptions& config_options) {
  server::ServerOptions options;
  // `--config serve.yaml` with cameras and server settings (docs/server.md "Config file"); a plain pipeline
  // config file keeps working as before.
  server::ServeConfig serve;
  app::ConfigOptions pipeline_options = config_options;
  if (!config_options.config_file.empty() && server::is_serve_config(config_options.config_file)) {
    serve = server::load_serve_config(config_options.config_file);
    pipeline_options.config_file.clear();
    pipeline_options.config_yaml = serve.pipeline_yaml;
    pipeline_options.config_origin = config_options.config_file;
    pipeline_options.config_base_dir = serve.file.parent_path().string();
  }
  server::parse_listen(o.listen_opt != nullptr && o.listen_opt->count() == 0 && serve.listen ? *serve.listen : o.listen,
                       options);
  options.config = app::resolve_config(pipeline_options);
  app::announce_detector();
  options.source_fps = o.source_fps;
  // Cameras of the config file, each with its own pipeline (its preset or the server's, then its detector
  // overrides) and fps cap; --source quick starts are further cameras named from their source.
  for (const server::CameraConfig& camera : serve.cameras) {
    if (!camera.enabled) continue;
    options.cameras.push_back(server::CameraOptions{.name = camera.name,
                                                    .source = camera.source,
                                                    .config = server::camera_pipeline(camera, options.config),
                                                    .fps = camera.fps,
                                                    .detect_every = camera.detect_every});
  }
  options.sources = o.sources;
  options.cameras = server::resolve_cameras(options);
  options.sources.clear();
  options.token = !o.token.empty() ? o.token : serve.token.value_or("");
  if (!o.data_dir.empty()) serve.data_dir = o.data_dir;
  if (!o.database.empty()) {
    if (!server::pg::is_postgres_url(o.database))
      throw Error(Errc::bad_input,
                  fmt::format("--database: expected a postgresql:// URL, got '{}'", server::pg::redact(o.database)));
    serve.database = o.database;
  }
  if (!o.database_password_file.empty()) serve.database_password_file = o.database_password_file;
  for (const server::CameraOptions& camera : options.cameras) {  // --source cameras: the server's people rules
    const bool declared = std::any_of(serve.cameras.begin(), serve.cameras.end(),
                                      [&](const server::CameraConfig& c) { return c.name == camera.name; });
    if (!declared)
      serve.cameras.push_back(server::CameraConfig{.name = camera.name, .source = camera.source, .fps = camera.fps});
  }
  // A fleet worker (docs/fleet.md): the cameras of the file and --source are stored in the database, and this
  // worker runs its share of the database's cameras; the monitor learns each camera's privacy as it starts here.
  // The same database keeps the events and history (the Monitor's stores).
  const std::string& database = serve.database;
  server::ServeConfig monitor_config = serve;
  if (!database.empty()) {
    options.fleet.database = database;
    if (!serve.database_password_file.empty())
      options.fleet.password = server::read_password_file(serve.database_password_file);
    options.fleet.advertise_url = o.advertise_url;
    options.fleet.max_cameras = o.max_cameras;
    options.fleet.worker_id = o.worker_id.empty() ? server::default_worker_id() : o.worker_id;
    for (const server::CameraConfig& camera : serve.cameras)
      options.fleet.import.push_back(server::fleet::definition_json(camera).dump());
    options.cameras.clear();
    monitor_config.cameras.clear();
    // Each worker has its own MQTT client and availability topic: a dead worker's last will is its own.
    monitor_config.mqtt.client_id += "-" + options.fleet.worker_id;
    monitor_config.mqtt.status_topic =
        fmt::format("{}/workers/{}/status", monitor_config.mqtt.topic_prefix, options.fleet.worker_id);
  } else if (!o.advertise_url.empty() || o.max_cameras != 0 || !o.worker_id.empty()) {
    throw Error(Errc::bad_input, "--advertise-url, --max-cameras and --worker-id need --database (a fleet worker)");
  }
  server::Monitor monitor(monitor_config);
  if (!database.empty()) {
    options.fleet.on_camera_started = [&monitor](const server::CameraConfig& camera) { monitor.set_camera(camera); };
    options.fleet.on_camera_stopped = [&monitor](const std::string& name) { monitor.remove_camera(name); };
  }
  options.events = monitor.store();
  options.on_track = [&monitor](const server::PersonTrack& track) { monitor.post_track(track); };
  options.history = monitor.history();
  options.delivery = [&monitor] { return monitor.delivery_figures(); };
  options.io_threads = o.io_threads;
  options.inference_workers = o.workers;
  options.body_limit_bytes = o.max_body;
  options.max_sessions = o.max_sessions;
  options.max_sessions_per_client = o.max_sessions_per_client;
  options.max_image_pixels = config_options.max_image_pixels;  // the global --max-image-pixels
  options.max_fps = o.max_fps;
  options.read_timeout = to_ms(o.read_timeout_s);
  options.header_timeout = to_ms(o.header_timeout_s);
  options.drain_timeout = to_ms(o.drain_timeout_s);
  options.idle_timeout = to_ms(o.idle_timeout_s);
  options.jpeg_quality = o.jpeg_quality;
  options.log_requests = o.log_requests;
  const bool loopback = options.address == "127.0.0.1" || options.address == "::1" || options.address == "localhost";
  auto on_stopped = [&monitor] { monitor.set_stats_source({}); };
  return server::run_server(
      options,
      [&](const server::Server& server) {
        monitor.set_stats_source([&server](const std::string& camera) -> std::string {
          const auto doc = nlohmann::json::parse(server.stats_json());
          for (const auto& source : doc["sources"]) {
            if (source["name"] != camera) continue;
            // MQTT stats (docs/server.md "MQTT"): people per voted label and compliance over people.
            const nlohmann::json out = {{"fps", source["fps"]},
                                        {"frames", source["frames"]},
                                        {"people", source["people"]},
                                        {"in_view", source["in_view"]},
                                        {"compliance", source["people_compliance"]},
                                        {"faces", source["faces"]},
                                        {"face_compliance", source["compliance"]}};
            return out.dump();
          }
          return "";
        });
        // The database URL without its password (pg::redact), or the SQLite file.
        std::fprintf(stderr, "serve: events in %s\n", monitor.store()->description().c_str());
        const std::string host =
            options.address.find(':') != std::string::npos ? "[" + options.address + "]" : options.address;
        const std::string cameras = options.fleet.database.empty()
                                        ? fmt::format("{} camera(s)", options.cameras.size())
                                        : fmt::format("fleet worker {}, database {}", options.fleet.worker_id,
                                                      server::pg::redact(options.fleet.database));
        std::fprintf(stderr, "serve: listening on http://%s:%u/ (%s, %d worker(s)%s)\n", host.c_str(),
                     static_cast<unsigned>(server.port()), cameras.c_str(), options.inference_workers,
                     options.token.empty() ? "" : ", bearer token required");
        if (!loopback && options.token.empty())
          std::fprintf(stderr, "serve: warning: listening beyond loopback without --token\n");
        if (!o.port_file.empty()) {
          std::ofstream(o.port_file) << server.port() << '\n';
        }
      },
      on_stopped);
}

}  // namespace

void add_serve_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd =
      app.add_subcommand("serve", "Serve the REST API, WebSocket live detections and the web UI (see docs/server.md)");
  options->listen_opt =
      cmd->add_option("--listen", options->listen, "Address and port to listen on (port 0: any free port)")
          ->capture_default_str();
  cmd->add_option("--source", options->sources,
                  "A server stream: camera index/device, stream URL, video file (looped) or images; repeatable");
  cmd->add_option("--token", options->token, "Bearer token required by /api/* and /metrics")
      ->envname("MASKDETECT_TOKEN");
  cmd->add_option("--io-threads", options->io_threads, "Network threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--workers", options->workers, "Inference workers, each with its own detector")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-body", options->max_body, "Largest request body / WebSocket message (e.g. 8MB)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  cmd->add_option("--max-sessions", options->max_sessions, "Open connections at most")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
      ->capture_default_str();
  cmd->add_option("--max-sessions-per-client", options->max_sessions_per_client,
                  "Open connections from one client address at most (0: no cap)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100000}))
      ->capture_default_str();
  cmd->add_option("--max-fps", options->max_fps, "Frames per second per WebSocket/MJPEG session (0: no cap)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("--source-fps", options->source_fps, "Frames per second processed per source at most (0: no cap)")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  cmd->add_option("--read-timeout", options->read_timeout_s, "Seconds to read one HTTP request")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--header-timeout", options->header_timeout_s,
                  "Seconds to read a request's header (also the keep-alive idle limit)")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--drain-timeout", options->drain_timeout_s,
                  "On SIGINT/SIGTERM: seconds to answer the requests already received before exiting")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", options->idle_timeout_s, "Seconds a silent WebSocket stays open")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--jpeg-quality", options->jpeg_quality, "Quality of the annotated JPEGs")
      ->check(CLI::Range(10, 100))
      ->capture_default_str();
  cmd->add_flag("--log-requests", options->log_requests, "Log each HTTP request on stderr");
  cmd->add_option("--port-file", options->port_file, "Write the bound port to this file once listening");
  cmd->add_option("--data-dir", options->data_dir,
                  "Folder of the events database and images (default: $XDG_STATE_HOME/maskdetect or "
                  "~/.local/state/maskdetect)");
  cmd->add_option("--database", options->database,
                  "PostgreSQL database of the events and history (postgresql://user@host/db), and a fleet worker: "
                  "the cameras live in it, shared with the other workers (docs/fleet.md). Default: SQLite in the "
                  "data folder, the cameras of this process")
      ->envname("MASKDETECT_DATABASE");
  cmd->add_option("--database-password-file", options->database_password_file,
                  "File holding the database password (else the URL's, $PGPASSWORD or ~/.pgpass)");
  cmd->add_option("--advertise-url", options->advertise_url,
                  "A fleet worker: http://host:port where the other workers reach this one (default: the listening "
                  "address)");
  cmd->add_option("--max-cameras", options->max_cameras,
                  "A fleet worker: cameras it runs at most (0: its fair share, no cap)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--worker-id", options->worker_id,
                  "A fleet worker: its name, unique among the live workers (default: <hostname>-<pid>)");
  cmd->callback(
      [options, &context] { context.action = [options, &context] { return run_serve(*options, context.config); }; });
}

}  // namespace maskdetect::cli

#else  // built with MASKDETECT_BUILD_SERVER=OFF

namespace maskdetect::cli {
void add_serve_command(CLI::App&, CommandContext&) {}
}  // namespace maskdetect::cli

#endif
