// serve_config.hpp - the `maskdetect serve --config serve.yaml` file: server settings, cameras, retention,
// MQTT and webhooks, next to the pipeline keys of an ordinary config file (detector, classifier, threads).
// Validated like every other config: errors name the file, the line and the key; unknown keys are rejected.
// Shape and defaults: docs/server.md "Config file".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event_store.hpp"
#include "maskdetect/config.hpp"

namespace maskdetect::server {

struct MqttConfig {
  bool enabled = false;  ///< true when the file has an `mqtt:` section
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username;
  std::string password;
  std::string client_id = "maskdetect";
  std::string topic_prefix = "maskdetect";  ///< topics: <prefix>/<camera>/event|stats, <prefix>/status
  /// The availability topic (and last will); empty: <prefix>/status. A fleet worker has its own
  /// (<prefix>/workers/<worker>/status), so that one worker's last will says nothing of the others.
  std::string status_topic;
  bool home_assistant = false;  ///< publish Home Assistant discovery messages
  std::string discovery_prefix = "homeassistant";
  double stats_interval_s = 10.0;  ///< how often each camera's statistics are published
  int keepalive_s = 30;
  double reconnect_min_s = 1.0;  ///< reconnect backoff: doubles from min to max
  double reconnect_max_s = 30.0;
  /// Events kept while the broker is unreachable (sent, oldest first, once it is back); beyond, the oldest is
  /// dropped and counted. Statistics are never kept: fresh ones are published on reconnecting.
  int max_queued_events = 100;
};

struct WebhookConfig {
  std::string name;    ///< metrics label and logs ([A-Za-z0-9_-], unique); empty: "webhook<index>"
  std::string url;     ///< http:// or https://
  std::string secret;  ///< non-empty: X-Maskdetect-Signature: sha256=<hex HMAC-SHA256 of the body>
  double timeout_s = 5.0;
  int retries = 3;                   ///< further attempts after the first
  double backoff_s = 1.0;            ///< wait before the first retry; doubles each time
  std::vector<std::string> cameras;  ///< empty: every camera
  int max_pending = 1000;            ///< deliveries kept in the outbox; beyond, the oldest is dropped
};

struct CameraConfig {
  std::string name;    ///< stable label: [A-Za-z0-9_-], 1..64 characters, unique
  std::string source;  ///< camera index/device, stream URL, video file or images (as --source)
  double fps = 15.0;   ///< frames per second processed at most (0: no cap)
  bool enabled = true;
  std::string preset;         ///< empty: the server's pipeline settings
  std::string detector_yaml;  ///< the camera's `detector:` overrides as YAML ("" when none)
  std::string detector_origin;
  std::filesystem::path base_dir;  ///< the config file's folder (relative model paths)
  /// The camera's `people:` section as YAML (a `people:` mapping, "" when none): over the server's people section
  /// (maskdetect::parse_config reads it, as it reads a config file's).
  std::string people_yaml;
  std::string people_origin;
  /// The camera's `events:` section. Events are the people component's alerts (people.hpp): when given, these
  /// keys set the camera's people.alerts (labels, min_seen_s, cooldown_s; camera_pipeline()); when not, the
  /// alerts are those of the camera's (or the server's) people section.
  EventRuleConfig events;
  bool events_given = false;  ///< the camera has an `events:` section
  int detect_every = 1;       ///< run the detector on every N-th frame (TrackingOptions::detect_every)
  Privacy privacy = Privacy::full;
  int line = 0;  ///< where the camera is declared (1-based)
};

struct ServeConfig {
  std::filesystem::path file;
  std::optional<std::string> listen;  ///< "host:port"
  std::optional<std::string> token;
  std::filesystem::path data_dir;  ///< empty: default_data_dir()
  std::string database;  ///< postgresql:// URL of the stores and, a fleet worker, the cameras (docs/fleet.md); empty:
                         ///< SQLite in data_dir
  std::filesystem::path database_password_file;         ///< the database password, in a file; empty: none
  double max_age_days = 30.0;                           ///< 0: no age limit
  std::int64_t max_size_bytes = std::int64_t{2} << 30;  ///< 0: no size limit
  std::string pipeline_yaml;  ///< detector/classifier/people/threads keys of the file, for maskdetect::parse_config
  MqttConfig mqtt;
  std::vector<WebhookConfig> webhooks;
  std::vector<CameraConfig> cameras;
};

/// Reads and checks a serve config file. Throws Error(invalid_config) naming file:line and the key.
[[nodiscard]] ServeConfig load_serve_config(const std::filesystem::path& path);
/// As load_serve_config, from text; `origin` names it in messages, `base_dir` resolves relative paths.
[[nodiscard]] ServeConfig parse_serve_config(std::string_view yaml, std::string_view origin,
                                             const std::filesystem::path& base_dir = {});

/// True when `path` is a serve config (it has a key that only serve configs have: cameras, listen, mqtt...).
/// False for a plain pipeline config or an unreadable file.
[[nodiscard]] bool is_serve_config(const std::filesystem::path& path);

/// One camera from JSON or YAML text: a mapping with the keys of a serve.yaml camera (name, source, fps, enabled,
/// preset, detector, people, events, privacy, detect_every), checked exactly as the config file checks its cameras, its
/// pipeline included. Errors name `origin`, the line and the key ("request body:1: key 'fps': 2000 is not in [0,
/// 1000]"). Throws Error(invalid_config).
[[nodiscard]] CameraConfig parse_camera_config(std::string_view text, std::string_view origin,
                                               const Config& server_pipeline,
                                               const std::filesystem::path& base_dir = {});

/// The pipeline settings of a camera: its preset (or `server_pipeline`), then its detector overrides; its people
/// section is the server's (also under a preset) with the camera's `people:` keys over it, and its `events:` keys
/// as people.alerts. Validated; throws Error(invalid_config).
[[nodiscard]] Config camera_pipeline(const CameraConfig& camera, const Config& server_pipeline);

/// The password in `path` (a password file: its content without the trailing newline). Throws
/// Error(invalid_config) naming the file (never its content) when it cannot be read or is empty.
[[nodiscard]] std::string read_password_file(const std::filesystem::path& path);

/// "2GB", "500MB", "1.5GiB", "1048576": bytes. nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_size(std::string_view text);

}  // namespace maskdetect::server
