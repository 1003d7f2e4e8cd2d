#include "state.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_store.hpp"

#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::server {

void parse_listen(std::string_view text, ServerOptions& options) {
  std::string_view host;
  std::string_view port = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw Error(Errc::bad_input, "--listen '" + std::string(text) + "': expected [address]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw Error(Errc::bad_input, "--listen '" + std::string(text) + "': bad port '" + std::string(port) + "'");
  if (!host.empty()) options.address = std::string(host);
  options.port = static_cast<unsigned short>(value);
}

std::string camera_name_for_source(std::string_view spec) {
  std::string text = video::redact_url(spec);
  if (const auto scheme = text.find("://"); scheme != std::string::npos) {
    text = text.substr(scheme + 3);
    if (const auto at = text.rfind('@'); at != std::string::npos) text = text.substr(at + 1);  // credentials
    if (const auto query = text.find('?'); query != std::string::npos) text.resize(query);
  } else if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    text = "camera" + text;  // a camera index
  } else {
    std::filesystem::path path(text);
    if (!path.has_filename()) path = path.parent_path();  // "frames/"
    text = path.has_extension() && path.extension() != "." ? path.stem().string() : path.filename().string();
  }
  std::string name;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 48) name.resize(48);
  return name.empty() ? std::string("camera") : name;
}

std::vector<CameraOptions> resolve_cameras(const ServerOptions& options) {
  std::vector<CameraOptions> cameras = options.cameras;
  std::set<std::string> taken;
  for (const CameraOptions& camera : cameras) taken.insert(camera.name);
  for (const std::string& source : options.sources) {
    const std::string base = camera_name_for_source(source);
    std::string name = base;
    for (int n = 2; taken.contains(name); ++n) name = base + "-" + std::to_string(n);
    taken.insert(name);
    cameras.push_back(
        CameraOptions{.name = name, .source = source, .config = options.config, .fps = options.source_fps});
  }
  return cameras;
}

namespace detail {

namespace {
std::vector<std::string> camera_names(const std::vector<CameraOptions>& cameras) {
  std::vector<std::string> names;
  names.reserve(cameras.size());
  for (const CameraOptions& camera : cameras) names.push_back(camera.name);
  return names;
}
}  // namespace

ServerState::ServerState(ServerOptions opts)
    : options(std::move(opts)),
      cameras(resolve_cameras(options)),
      stats(camera_names(cameras)),
      pool(options.config, options.inference_workers, options.max_queue),
      hub(cameras, stats, options.jpeg_quality, StreamHooks{options.on_track, options.history}) {}

std::optional<std::size_t> ServerState::camera_index(std::string_view name) const {
  for (std::size_t i = 0; i < cameras.size(); ++i)
    if (cameras[i].name == name) return i;
  return std::nullopt;
}

std::uint64_t ServerState::track(std::weak_ptr<Session> session) {
  const std::lock_guard lock(registry_mutex_);
  const std::uint64_t key = next_key_++;
  registry_.emplace(key, std::move(session));
  return key;
}

void ServerState::untrack(std::uint64_t key) {
  const std::lock_guard lock(registry_mutex_);
  registry_.erase(key);
}

void ServerState::shutdown_all() {
  std::vector<std::shared_ptr<Session>> live;
  {
    const std::lock_guard lock(registry_mutex_);
    for (const auto& [key, weak] : registry_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (const auto& session : live) session->shutdown();
}

std::size_t ServerState::live_sessions() {
  const std::lock_guard lock(registry_mutex_);
  return registry_.size();
}

ServerState::Admission ServerState::admit(const std::string& client) {
  const std::lock_guard lock(clients_mutex_);
  if (sessions.load() >= options.max_sessions) return Admission::server_full;
  std::size_t& count = clients_[client];
  if (options.max_sessions_per_client > 0 && count >= options.max_sessions_per_client) {
    if (count == 0) clients_.erase(client);
    return Admission::client_full;
  }
  ++count;
  ++sessions;
  return Admission::ok;
}

void ServerState::release(const std::string& client) {
  const std::lock_guard lock(clients_mutex_);
  --sessions;
  const auto it = clients_.find(client);
  if (it != clients_.end() && --it->second == 0) clients_.erase(it);
}

Gauges ServerState::gauges() const {
  Gauges g;
  const std::size_t all = sessions.load();
  g.websocket_sessions = websocket_sessions.load();
  g.mjpeg_viewers = mjpeg_viewers.load();
  const std::size_t other = g.websocket_sessions + g.mjpeg_viewers;
  g.http_sessions = all > other ? all - other : 0;
  g.queue_depth = pool.queue_depth();
  if (options.events) {
    try {
      g.events = options.events->counts();
    } catch (const std::exception& e) {
      log_line(fmt::format("events: counts not read: {}", e.what()));
    }
  }
  return g;
}

void log_line(const std::string& line) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::fprintf(stderr, "serve: %s\n", line.c_str());
}

}  // namespace detail
}  // namespace maskdetect::server
