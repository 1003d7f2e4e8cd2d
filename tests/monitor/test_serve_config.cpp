// The serve config file: cameras, server settings, MQTT, webhooks; errors name file, line and key.
#include <array>
#include <fstream>
#include <string>

#include "maskdetect/error.hpp"
#include "serve_config.hpp"
#include "test_support.hpp"

using maskdetect::Error;
using maskdetect::server::parse_serve_config;
using maskdetect::server::Privacy;

namespace {

/// The message of the Error that parsing `yaml` throws ("" when it does not throw).
std::string error_of(const std::string& yaml) {
  try {
    (void)parse_serve_config(yaml, "serve.yaml");
  } catch (const Error& e) {
    CHECK(e.code() == maskdetect::Errc::invalid_config);
    return e.what();
  }
  return "";
}

constexpr const char* kFull = R"(listen: 0.0.0.0:9000
token: s3cret
data_dir: state
retention:
  max_age_days: 7
  max_size: 500MB
detector:
  score_threshold: 0.6
mqtt:
  host: broker.local
  port: 1884
  home_assistant: true
  max_queued_events: 20
webhooks:
  - url: http://127.0.0.1:8123/hook
    secret: abc
    retries: 2
  - url: https://example.org/hook
    name: alerts
    max_pending: 50
cameras:
  - name: front-door
    source: rtsp://user:pw@10.0.0.5/stream
    fps: 5
    preset: crowd
    detector:
      input_size: 800
    events:
      labels: [no_mask]
      min_seen_s: 2
      cooldown_s: 60
    privacy: blur
  - name: hall_2
    source: "0"
    enabled: false
)";

}  // namespace

TEST_CASE("serve config: every section is read", "[monitor]") {
  const auto c = parse_serve_config(kFull, "serve.yaml", "/etc/maskdetect");
  CHECK(c.listen == "0.0.0.0:9000");
  CHECK(c.token == "s3cret");
  CHECK(c.data_dir == "/etc/maskdetect/state");
  CHECK(c.max_age_days == 7.0);
  CHECK(c.max_size_bytes == 500'000'000);
  CHECK(c.mqtt.enabled);
  CHECK(c.mqtt.host == "broker.local");
  CHECK(c.mqtt.port == 1884);
  CHECK(c.mqtt.home_assistant);
  CHECK(c.mqtt.max_queued_events == 20);
  REQUIRE(c.webhooks.size() == 2);
  CHECK(c.webhooks[0].secret == "abc");
  CHECK(c.webhooks[0].retries == 2);
  CHECK(c.webhooks[0].name.empty());  // named webhook0 by the sender
  CHECK(c.webhooks[0].max_pending == 1000);
  CHECK(c.webhooks[1].name == "alerts");
  CHECK(c.webhooks[1].max_pending == 50);
  REQUIRE(c.cameras.size() == 2);
  const auto& door = c.cameras[0];
  CHECK(door.name == "front-door");
  CHECK(door.fps == 5.0);
  CHECK(door.line == 22);
  CHECK(door.privacy == Privacy::blur);
  CHECK(door.events.labels == std::set<std::string>{"no_mask"});
  CHECK(door.events.cooldown_s == 60.0);
  CHECK_FALSE(c.cameras[1].enabled);

  // The server's pipeline keys apply to cameras without a preset; a camera's preset and overrides win.
  const maskdetect::Config server_pipeline = maskdetect::parse_config(c.pipeline_yaml, "serve.yaml");
  CHECK(server_pipeline.detector.score_threshold == 0.6f);
  const auto door_pipeline = maskdetect::server::camera_pipeline(door, server_pipeline);
  CHECK(door_pipeline.detector.backend == maskdetect::DetectorBackend::yunet);  // preset crowd
  CHECK(door_pipeline.detector.input_size == 800);
  CHECK(maskdetect::server::camera_pipeline(c.cameras[1], server_pipeline).detector.score_threshold == 0.6f);
}

TEST_CASE("serve config: each camera's people section over the server's and events as the people alerts", "[monitor]") {
  const auto c = parse_serve_config(R"(people:
  threshold: 0.6
  confirm_s: 1.5
  alerts:
    cooldown_s: 12
cameras:
  - name: door
    source: x
    detect_every: 3
    people:
      confirm_s: 0.4
      ignore_zones: ["0.7,0, 1,0, 1,0.3"]
  - name: hall
    source: y
    preset: webcam
    events:
      labels: [no_mask]
      min_seen_s: 2
      cooldown_s: 5
)",
                                    "serve.yaml");
  const maskdetect::Config server = maskdetect::parse_config(c.pipeline_yaml, "serve.yaml");
  CHECK(server.people.threshold == 0.6f);
  REQUIRE(c.cameras.size() == 2);
  CHECK(c.cameras[0].detect_every == 3);
  CHECK(c.cameras[1].detect_every == 1);
  // door: its own keys over the server's people section; alerts from the server's.
  const auto door = maskdetect::server::camera_pipeline(c.cameras[0], server);
  CHECK(door.people.threshold == 0.6f);
  CHECK(door.people.confirm_s == 0.4);
  REQUIRE(door.people.ignore_zones.size() == 1);
  CHECK(door.people.ignore_zones[0].size() == 3);
  CHECK(door.people.alerts.cooldown_s == 12.0);
  CHECK(door.people.alerts.labels == std::array<bool, 3>{false, true, true});
  // hall: a preset changes the detector, not the people rules (the server's); its events: are its alerts.
  const auto hall = maskdetect::server::camera_pipeline(c.cameras[1], server);
  CHECK(hall.people.confirm_s == 1.5);
  CHECK(hall.people.alerts.labels == std::array<bool, 3>{false, true, false});
  CHECK(hall.people.alerts.min_seen_s == 2.0);
  CHECK(hall.people.alerts.cooldown_s == 5.0);
  // A camera without people or events: the server's people section as it is.
  const auto plain = parse_serve_config("people:\n  min_face_px: 40\ncameras:\n  - name: a\n    source: x\n", "s");
  const auto a =
      maskdetect::server::camera_pipeline(plain.cameras[0], maskdetect::parse_config(plain.pipeline_yaml, "s"));
  CHECK(a.people.min_face_px == 40.0f);
  CHECK(a.people.alerts.min_seen_s == maskdetect::AlertConfig{}.min_seen_s);

  // Errors name the file, the camera's line and the key; events and people.alerts are one setting.
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    people:\n      threshold: 2\n")
            .find("key 'people.threshold': 2 is not in [0, 1]") != std::string::npos);
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    people:\n      colour: 1\n")
            .starts_with("serve.yaml:5: camera"));
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    people: 3\n") ==
        "serve.yaml:4: key 'cameras[0].people': expected a mapping of keys");
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    events:\n      cooldown_s: 1\n    people:\n"
                 "      alerts:\n        cooldown_s: 2\n")
            .starts_with("serve.yaml:5: key 'cameras[0].events': the camera also has people.alerts"));
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    detect_every: 0\n") ==
        "serve.yaml:4: key 'cameras[0].detect_every': 0 is not in [1, 100]");
  CHECK(error_of("people:\n  confirm_s: -1\n").find("people.confirm_s") != std::string::npos);
}

TEST_CASE("serve config: errors name the file, the line and the key", "[monitor]") {
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    colour: red\n") ==
        "serve.yaml:4: key 'cameras[0].colour': unknown key (expected name, source, fps, enabled, preset, detector, "
        "people, events, privacy, detect_every)");
  CHECK(error_of("listen: x\nbogus: 1\n").starts_with("serve.yaml:2: key 'bogus': unknown key"));
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n  - name: a\n    source: y\n") ==
        "serve.yaml:4: key 'cameras[1].name': camera 'a' is declared twice");
  CHECK(error_of("cameras:\n  - name: a/b\n    source: x\n")
            .starts_with("serve.yaml:2: key 'cameras[0].name': 'a/b' is not"));
  CHECK(error_of("cameras:\n  - name: a\n") == "serve.yaml:2: key 'cameras[0].source': is required");
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    fps: fast\n") ==
        "serve.yaml:4: key 'cameras[0].fps': expected a number, got 'fast'");
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    privacy: partial\n")
            .starts_with("serve.yaml:4: key 'cameras[0].privacy': unknown privacy mode 'partial'"));
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    events:\n      labels: [nomask]\n")
            .starts_with("serve.yaml:5: key 'cameras[0].events.labels': unknown label 'nomask'"));
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    preset: fast\n")
            .starts_with("serve.yaml:4: key 'cameras[0].preset': unknown preset 'fast'"));
  // Detector overrides are checked by the SDK's config reader, which names where they are.
  CHECK(error_of("cameras:\n  - name: a\n    source: x\n    detector:\n      colour: 1\n").find("detector.colour") !=
        std::string::npos);
  CHECK(error_of("mqtt:\n  port: 70000\n") == "serve.yaml:2: key 'mqtt.port': 70000 is not in [1, 65535]");
  CHECK(error_of("mqtt:\n  topic_prefix: a/#\n").starts_with("serve.yaml:2: key 'mqtt.topic_prefix'"));
  CHECK(error_of("webhooks:\n  - url: ftp://x\n") ==
        "serve.yaml:2: key 'webhooks[0].url': expected an http:// or https:// URL");
  CHECK(error_of("webhooks:\n  - secret: x\n") == "serve.yaml:2: key 'webhooks[0].url': is required");
  CHECK(error_of("webhooks:\n  - url: http://a\n    name: a b\n") ==
        "serve.yaml:3: key 'webhooks[0].name': expected 1 to 64 characters among A-Z a-z 0-9 _ -");
  CHECK(error_of("webhooks:\n  - {url: 'http://a', name: x}\n  - {url: 'http://b', name: x}\n") ==
        "serve.yaml:3: key 'webhooks[1].name': the name 'x' is taken by another webhook");
  CHECK(error_of("webhooks:\n  - url: http://a\n    max_pending: 0\n") ==
        "serve.yaml:3: key 'webhooks[0].max_pending': 0 is not in [1, 1000000]");
  CHECK(error_of("mqtt:\n  max_queued_events: 0\n") ==
        "serve.yaml:2: key 'mqtt.max_queued_events': 0 is not in [1, 100000]");
  CHECK(error_of("retention:\n  max_size: lots\n").starts_with("serve.yaml:2: key 'retention.max_size'"));
  CHECK(error_of("detector:\n  score_threshold: 2\n").find("score_threshold") != std::string::npos);
  CHECK(error_of("cameras: [\n").starts_with("serve.yaml:"));
  // A key that is itself a mapping or a list (found by tests/fuzz/server, serve_config): an error, not a YAML
  // exception escaping the reader.
  CHECK(error_of("cameras:\n  - {name: a, source: x}: 1\n") ==
        "serve.yaml:2: key 'cameras[0]': a key must be a plain name, not a list or a mapping");
  CHECK(error_of("[listen]: x\n") ==
        "serve.yaml:1: key '(top level)': a key must be a plain name, not a list or a "
        "mapping");
}

TEST_CASE("serve config: a file is told from a pipeline config and sizes parse", "[monitor]") {
  maskdetect::test::TempDir dir;
  std::ofstream(dir / "serve.yaml") << kFull;
  std::ofstream(dir / "pipeline.yaml") << "detector:\n  score_threshold: 0.4\n";
  CHECK(maskdetect::server::is_serve_config(dir / "serve.yaml"));
  CHECK_FALSE(maskdetect::server::is_serve_config(dir / "pipeline.yaml"));
  CHECK_FALSE(maskdetect::server::is_serve_config(dir / "missing.yaml"));
  const auto c = maskdetect::server::load_serve_config(dir / "serve.yaml");
  CHECK(c.data_dir == dir / "state");
  CHECK(maskdetect::server::parse_size("2GB") == 2'000'000'000);
  CHECK(maskdetect::server::parse_size("1.5 MiB") == 1'572'864);
  CHECK(maskdetect::server::parse_size("1024") == 1024);
  CHECK_FALSE(maskdetect::server::parse_size("-1GB").has_value());
  CHECK_FALSE(maskdetect::server::parse_size("1 parsec").has_value());
}

TEST_CASE("serve config: the database and its password file", "[monitor]") {
  const maskdetect::test::TempDir dir;
  const auto c = parse_serve_config(
      "database: postgresql://app@db:5432/maskdetect\ndatabase_password_file: secrets/db\n", "serve.yaml", dir.path());
  CHECK(c.database == "postgresql://app@db:5432/maskdetect");
  CHECK(c.database_password_file == dir / "secrets/db");  // relative to the file's folder
  CHECK(maskdetect::server::is_serve_config([&] {
    std::ofstream(dir / "only-db.yaml") << "database: postgres://db/x\n";
    return dir / "only-db.yaml";
  }()));
  // Not PostgreSQL: the line, the key, and the URL without its password.
  const std::string message = error_of("listen: 127.0.0.1:8080\ndatabase: mysql://root:hunter2@db/x\n");
  CHECK(message.find("serve.yaml:2: key 'database'") != std::string::npos);
  CHECK(message.find("mysql://root:***@db/x") != std::string::npos);
  CHECK(message.find("hunter2") == std::string::npos);

  // The password file: its content without the trailing newline; errors name the file, never a content.
  std::ofstream(dir / "pw") << "s3cret pass\n";
  CHECK(maskdetect::server::read_password_file(dir / "pw") == "s3cret pass");
  std::ofstream(dir / "empty") << "\n";
  for (const auto& [file, what] : {std::pair{dir / "empty", "is empty"}, std::pair{dir / "missing", "cannot read"}}) {
    try {
      (void)maskdetect::server::read_password_file(file);
      FAIL("accepted " << file);
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(file.string()) != std::string::npos);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  }
}
