// serve_config.cpp - reading and checking the serve config file; see serve_config.hpp.
#include "serve_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "maskdetect/error.hpp"
#include "pg.hpp"

namespace maskdetect::server {

namespace {

/// Reports a bad key or value at its line.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const YAML::Node& node, std::string_view key, std::string_view what) const {
    const auto mark = node.Mark();
    const std::string where = mark.line >= 0 ? fmt::format("{}:{}", origin_, mark.line + 1) : origin_;
    throw Error(Errc::invalid_config, fmt::format("{}: key '{}': {}", where, key, what));
  }

  void expect_map(const YAML::Node& node, std::string_view key) const {
    if (!node.IsMap()) fail(node, key, "expected a mapping of keys");
  }

  template <typename T>
  T value(const YAML::Node& node, std::string_view key, std::string_view expected) const {
    if (!node.IsScalar()) fail(node, key, fmt::format("expected {}", expected));
    try {
      return node.as<T>();
    } catch (const YAML::Exception&) {
      fail(node, key, fmt::format("expected {}, got '{}'", expected, node.Scalar()));
    }
  }

  /// A mapping's key: a plain scalar (`{a: 1}: x` or `[a]: x` is an error naming `where`, not a YAML exception).
  std::string key(const YAML::Node& node, std::string_view where) const {
    if (!node.IsScalar()) fail(node, where, "a key must be a plain name, not a list or a mapping");
    return node.Scalar();
  }

  std::string text(const YAML::Node& node, std::string_view key) const {
    return value<std::string>(node, key, "a string");
  }

  double number(const YAML::Node& node, std::string_view key, double lo, double hi) const {
    const auto v = value<double>(node, key, "a number");
    if (!std::isfinite(v) || v < lo || v > hi) fail(node, key, fmt::format("{} is not in [{}, {}]", v, lo, hi));
    return v;
  }

  int integer(const YAML::Node& node, std::string_view key, int lo, int hi) const {
    const auto v = value<long long>(node, key, "an integer");
    if (v < lo || v > hi) fail(node, key, fmt::format("{} is not in [{}, {}]", v, lo, hi));
    return static_cast<int>(v);
  }

  bool boolean(const YAML::Node& node, std::string_view key) const { return value<bool>(node, key, "true or false"); }

  [[nodiscard]] const std::string& origin() const noexcept { return origin_; }

 private:
  std::string origin_;
};

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
  });
}

bool valid_topic_part(std::string_view text) {
  return !text.empty() && text.find_first_of("#+") == std::string_view::npos && text.front() != '/' &&
         text.back() != '/';
}

std::string resolve(const std::string& value, const std::filesystem::path& base_dir) {
  if (value.empty() || base_dir.empty()) return value;
  const std::filesystem::path p(value);
  return p.is_absolute() ? value : (base_dir / p).lexically_normal().string();
}

void read_retention(const Reader& r, const YAML::Node& map, ServeConfig& c) {
  r.expect_map(map, "retention");
  for (const auto& item : map) {
    const auto key = r.key(item.first, "retention");
    const std::string full = "retention." + key;
    if (key == "max_age_days") {
      c.max_age_days = r.number(item.second, full, 0.0, 36500.0);
    } else if (key == "max_size") {
      const auto size = parse_size(r.text(item.second, full));
      if (!size)
        r.fail(item.second, full, fmt::format("expected a size such as 2GB or 500MB, got '{}'", item.second.Scalar()));
      c.max_size_bytes = *size;
    } else {
      r.fail(item.first, full, "unknown key (expected max_age_days, max_size)");
    }
  }
}

void read_mqtt(const Reader& r, const YAML::Node& map, MqttConfig& m) {
  r.expect_map(map, "mqtt");
  m.enabled = true;
  for (const auto& item : map) {
    const auto key = r.key(item.first, "mqtt");
    const std::string full = "mqtt." + key;
    const YAML::Node& v = item.second;
    if (key == "enabled")
      m.enabled = r.boolean(v, full);
    else if (key == "host")
      m.host = r.text(v, full);
    else if (key == "port")
      m.port = r.integer(v, full, 1, 65535);
    else if (key == "username")
      m.username = r.text(v, full);
    else if (key == "password")
      m.password = r.text(v, full);
    else if (key == "client_id")
      m.client_id = r.text(v, full);
    else if (key == "topic_prefix") {
      m.topic_prefix = r.text(v, full);
      if (!valid_topic_part(m.topic_prefix))
        r.fail(v, full, "must be non-empty, without '#', '+' or a leading/trailing '/'");
    } else if (key == "home_assistant")
      m.home_assistant = r.boolean(v, full);
    else if (key == "discovery_prefix") {
      m.discovery_prefix = r.text(v, full);
      if (!valid_topic_part(m.discovery_prefix))
        r.fail(v, full, "must be non-empty, without '#', '+' or a leading/trailing '/'");
    } else if (key == "stats_interval_s")
      m.stats_interval_s = r.number(v, full, 0.1, 86400.0);
    else if (key == "keepalive_s")
      m.keepalive_s = r.integer(v, full, 5, 3600);
    else if (key == "reconnect_min_s")
      m.reconnect_min_s = r.number(v, full, 0.01, 3600.0);
    else if (key == "reconnect_max_s")
      m.reconnect_max_s = r.number(v, full, 0.01, 3600.0);
    else if (key == "max_queued_events")
      m.max_queued_events = r.integer(v, full, 1, 100000);
    else
      r.fail(item.first, full,
             "unknown key (expected enabled, host, port, username, password, client_id, topic_prefix, home_assistant, "
             "discovery_prefix, stats_interval_s, keepalive_s, reconnect_min_s, reconnect_max_s, max_queued_events)");
  }
  if (m.host.empty()) r.fail(map, "mqtt.host", "must not be empty");
  if (m.reconnect_max_s < m.reconnect_min_s) r.fail(map, "mqtt.reconnect_max_s", "must not be below reconnect_min_s");
}

std::vector<std::string> read_names(const Reader& r, const YAML::Node& node, std::string_view key) {
  if (!node.IsSequence()) r.fail(node, key, "expected a list");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(r.text(item, key));
  return out;
}

void read_webhooks(const Reader& r, const YAML::Node& list, ServeConfig& c) {
  if (!list.IsSequence()) r.fail(list, "webhooks", "expected a list of webhooks");
  std::size_t i = 0;
  for (const auto& hook : list) {
    const std::string at = fmt::format("webhooks[{}]", i++);
    r.expect_map(hook, at);
    WebhookConfig w;
    for (const auto& item : hook) {
      const auto key = r.key(item.first, at);
      const std::string full = fmt::format("{}.{}", at, key);
      const YAML::Node& v = item.second;
      if (key == "name") {
        w.name = r.text(v, full);
        if (!valid_name(w.name)) r.fail(v, full, "expected 1 to 64 characters among A-Z a-z 0-9 _ -");
        for (const WebhookConfig& other : c.webhooks)
          if (other.name == w.name) r.fail(v, full, fmt::format("the name '{}' is taken by another webhook", w.name));
      } else if (key == "url") {
        w.url = r.text(v, full);
        if (!w.url.starts_with("http://") && !w.url.starts_with("https://"))
          r.fail(v, full, "expected an http:// or https:// URL");
      } else if (key == "secret")
        w.secret = r.text(v, full);
      else if (key == "timeout_s")
        w.timeout_s = r.number(v, full, 0.1, 300.0);
      else if (key == "retries")
        w.retries = r.integer(v, full, 0, 100);
      else if (key == "backoff_s")
        w.backoff_s = r.number(v, full, 0.0, 3600.0);
      else if (key == "cameras")
        w.cameras = read_names(r, v, full);
      else if (key == "max_pending")
        w.max_pending = r.integer(v, full, 1, 1000000);
      else
        r.fail(item.first, full,
               "unknown key (expected name, url, secret, timeout_s, retries, backoff_s, cameras, max_pending)");
    }
    if (w.url.empty()) r.fail(hook, at + ".url", "is required");
    c.webhooks.push_back(std::move(w));
  }
}

void read_events(const Reader& r, const YAML::Node& map, const std::string& at, EventRuleConfig& e) {
  r.expect_map(map, at);
  for (const auto& item : map) {
    const auto key = r.key(item.first, at);
    const std::string full = fmt::format("{}.{}", at, key);
    const YAML::Node& v = item.second;
    if (key == "labels") {
      e.labels.clear();
      for (const std::string& label : read_names(r, v, full)) {
        if (label != "mask" && label != "no_mask" && label != "incorrect")
          r.fail(v, full, fmt::format("unknown label '{}' (expected mask, no_mask, incorrect)", label));
        e.labels.insert(label);
      }
    } else if (key == "min_seen_s") {
      e.min_seen_s = r.number(v, full, 0.0, 86400.0);
    } else if (key == "cooldown_s") {
      e.cooldown_s = r.number(v, full, 0.0, 86400.0);
    } else {
      r.fail(item.first, full, "unknown key (expected labels, min_seen_s, cooldown_s)");
    }
  }
}

/// One camera (a mapping). `at` prefixes its keys in messages ("cameras[0]"; "" for a camera alone).
CameraConfig read_camera(const Reader& r, const YAML::Node& cam, const std::string& at,
                         const std::filesystem::path& base_dir) {
  const std::string where = at.empty() ? std::string("camera") : at;
  r.expect_map(cam, where);
  auto name_of = [&at](std::string_view key) { return at.empty() ? std::string(key) : fmt::format("{}.{}", at, key); };
  CameraConfig camera;
  YAML::Node people_node;
  YAML::Node events_node;
  camera.line = cam.Mark().line + 1;
  camera.base_dir = base_dir;
  for (const auto& item : cam) {
    const auto key = r.key(item.first, where);
    const std::string full = name_of(key);
    const YAML::Node& v = item.second;
    if (key == "name") {
      camera.name = r.text(v, full);
      if (!valid_name(camera.name))
        r.fail(v, full, fmt::format("'{}' is not a camera name (1 to 64 of A-Z a-z 0-9 _ -)", camera.name));
    } else if (key == "source") {
      camera.source = r.text(v, full);
    } else if (key == "fps") {
      camera.fps = r.number(v, full, 0.0, 1000.0);
    } else if (key == "enabled") {
      camera.enabled = r.boolean(v, full);
    } else if (key == "preset") {
      camera.preset = r.text(v, full);
      const auto known = preset_names();
      if (std::find(known.begin(), known.end(), camera.preset) == known.end())
        r.fail(v, full, fmt::format("unknown preset '{}' (expected {})", camera.preset, fmt::join(known, ", ")));
    } else if (key == "detector") {
      r.expect_map(v, full);
      YAML::Emitter out;
      out << YAML::BeginMap << YAML::Key << "detector" << YAML::Value << v << YAML::EndMap;
      camera.detector_yaml = out.c_str();
      camera.detector_origin = fmt::format("{}:{}: {}", r.origin(), v.Mark().line + 1, where);
    } else if (key == "people") {
      r.expect_map(v, full);
      YAML::Emitter out;
      out << YAML::BeginMap << YAML::Key << "people" << YAML::Value << v << YAML::EndMap;
      camera.people_yaml = out.c_str();
      camera.people_origin = fmt::format("{}:{}: {}", r.origin(), v.Mark().line + 1, where);
      people_node = v;
    } else if (key == "events") {
      read_events(r, v, full, camera.events);
      camera.events_given = true;
      events_node = v;
    } else if (key == "detect_every") {
      camera.detect_every = r.integer(v, full, 1, 100);
    } else if (key == "privacy") {
      const auto p = parse_privacy(r.text(v, full));
      if (!p) r.fail(v, full, fmt::format("unknown privacy mode '{}' (expected full, blur, none_stored)", v.Scalar()));
      camera.privacy = *p;
    } else {
      r.fail(item.first, full,
             "unknown key (expected name, source, fps, enabled, preset, detector, people, events, privacy, "
             "detect_every)");
    }
  }
  // `events:` is the serve.yaml name of people.alerts: one camera says it once.
  if (events_node && people_node && people_node["alerts"])
    r.fail(events_node, name_of("events"),
           "the camera also has people.alerts: events (labels, min_seen_s, cooldown_s) are the people alerts; "
           "give one of them");
  if (camera.name.empty()) r.fail(cam, name_of("name"), "is required");
  if (camera.source.empty()) r.fail(cam, name_of("source"), "is required");
  return camera;
}

void read_cameras(const Reader& r, const YAML::Node& list, ServeConfig& c, const std::filesystem::path& base_dir) {
  if (!list.IsSequence()) r.fail(list, "cameras", "expected a list of cameras");
  std::set<std::string> names;
  std::size_t i = 0;
  for (const auto& cam : list) {
    const std::string at = fmt::format("cameras[{}]", i++);
    CameraConfig camera = read_camera(r, cam, at, base_dir);
    if (!names.insert(camera.name).second)
      r.fail(cam["name"], at + ".name", fmt::format("camera '{}' is declared twice", camera.name));
    c.cameras.push_back(std::move(camera));
  }
}

constexpr std::string_view kServeKeys[] = {"listen",    "token", "data_dir", "database", "database_password_file",
                                           "retention", "mqtt",  "webhooks", "cameras"};
constexpr std::string_view kPipelineKeys[] = {"detector", "classifier", "people", "threads"};

}  // namespace

std::string read_password_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::invalid_config, fmt::format("{}: cannot read the database password file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  std::string password = text.str();
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  if (password.empty())
    throw Error(Errc::invalid_config, fmt::format("{}: the database password file is empty", path.string()));
  return password;
}

std::optional<std::int64_t> parse_size(std::string_view text) {
  std::string s(text);
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  std::size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(s, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = s.substr(used);
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](char ch) { return static_cast<char>(std::toupper(static_cast<unsigned char>(ch))); });
  double scale = 0.0;
  if (unit.empty() || unit == "B")
    scale = 1.0;
  else if (unit == "KB")
    scale = 1e3;
  else if (unit == "MB")
    scale = 1e6;
  else if (unit == "GB")
    scale = 1e9;
  else if (unit == "TB")
    scale = 1e12;
  else if (unit == "KIB")
    scale = 1024.0;
  else if (unit == "MIB")
    scale = 1024.0 * 1024.0;
  else if (unit == "GIB")
    scale = 1024.0 * 1024.0 * 1024.0;
  else
    return std::nullopt;
  const double bytes = value * scale;
  if (!std::isfinite(bytes) || bytes < 0.0 || bytes > 9.0e18) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

ServeConfig parse_serve_config(std::string_view yaml, std::string_view origin, const std::filesystem::path& base_dir) {
  const Reader r{std::string(origin)};
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw Error(Errc::invalid_config, fmt::format("{}:{}: malformed YAML: {}", origin, e.mark.line + 1, e.msg));
  }
  ServeConfig c;
  if (root.IsNull()) return c;
  r.expect_map(root, "(top level)");
  YAML::Node pipeline(YAML::NodeType::Map);
  for (const auto& item : root) {
    const auto key = r.key(item.first, "(top level)");
    const YAML::Node& v = item.second;
    if (key == "listen")
      c.listen = r.text(v, key);
    else if (key == "token")
      c.token = r.text(v, key);
    else if (key == "data_dir")
      c.data_dir = resolve(r.text(v, key), base_dir);
    else if (key == "database") {
      c.database = r.text(v, key);
      if (!c.database.empty() && !pg::is_postgres_url(c.database))
        r.fail(v, key, fmt::format("expected a postgresql:// URL, got '{}'", pg::redact(c.database)));
    } else if (key == "database_password_file")
      c.database_password_file = resolve(r.text(v, key), base_dir);
    else if (key == "retention")
      read_retention(r, v, c);
    else if (key == "mqtt")
      read_mqtt(r, v, c.mqtt);
    else if (key == "webhooks")
      read_webhooks(r, v, c);
    else if (key == "cameras")
      read_cameras(r, v, c, base_dir);
    else if (std::find(std::begin(kPipelineKeys), std::end(kPipelineKeys), key) != std::end(kPipelineKeys))
      pipeline[key] = v;
    else
      r.fail(item.first, key,
             "unknown key (expected listen, token, data_dir, database, database_password_file, retention, mqtt, "
             "webhooks, cameras, or the pipeline keys detector, classifier, people, threads)");
  }
  if (pipeline.size() > 0) {
    YAML::Emitter out;
    out << pipeline;
    c.pipeline_yaml = out.c_str();
  }
  // Checks the pipeline keys, then each camera's settings over its base.
  const Config server_pipeline = parse_config(c.pipeline_yaml, origin, {}, base_dir);
  for (const CameraConfig& camera : c.cameras) (void)camera_pipeline(camera, server_pipeline);
  return c;
}

ServeConfig load_serve_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(Errc::invalid_config, fmt::format("{}: cannot read the serve config file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  ServeConfig c = parse_serve_config(text.str(), path.string(), path.parent_path());
  c.file = path;
  return c;
}

bool is_serve_config(const std::filesystem::path& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path.string());
    if (!root.IsMap()) return false;
    for (const auto& item : root) {
      const auto key = item.first.as<std::string>();
      if (std::find(std::begin(kServeKeys), std::end(kServeKeys), key) != std::end(kServeKeys)) return true;
    }
  } catch (const std::exception&) {
  }
  return false;
}

CameraConfig parse_camera_config(std::string_view text, std::string_view origin, const Config& server_pipeline,
                                 const std::filesystem::path& base_dir) {
  const Reader r{std::string(origin)};
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    throw Error(Errc::invalid_config, fmt::format("{}:{}: malformed YAML or JSON: {}", origin, e.mark.line + 1, e.msg));
  }
  CameraConfig camera = read_camera(r, root, "", base_dir);
  (void)camera_pipeline(camera, server_pipeline);
  return camera;
}

Config camera_pipeline(const CameraConfig& camera, const Config& server_pipeline) {
  Config config = camera.preset.empty() ? server_pipeline : preset(camera.preset);
  config.people = server_pipeline.people;  // a preset tunes the detector, not who counts as a person
  if (!camera.detector_yaml.empty())
    config = parse_config(camera.detector_yaml, camera.detector_origin, config, camera.base_dir);
  if (!camera.people_yaml.empty())
    config = parse_config(camera.people_yaml, camera.people_origin, config, camera.base_dir);
  if (camera.events_given) {  // events: labels, min_seen_s, cooldown_s are people.alerts
    AlertConfig& alerts = config.people.alerts;
    alerts.labels.fill(false);
    for (const std::string& name : camera.events.labels)
      if (const auto label = parse_label(name)) alerts.labels[static_cast<std::size_t>(*label)] = true;
    alerts.min_seen_s = camera.events.min_seen_s;
    alerts.cooldown_s = camera.events.cooldown_s;
  }
  validate(config);
  return config;
}

}  // namespace maskdetect::server
