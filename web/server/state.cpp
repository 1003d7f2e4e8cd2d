#include "state.hpp"

#include <cmath>
#include <cstdio>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_store.hpp"
#include "fleet.hpp"

#include "maskdetect/error.hpp"

namespace maskdetect::server {

namespace detail {

namespace {
std::vector<std::string> names_of(const std::vector<CameraOptions>& cameras) {
  std::vector<std::string> names;
  names.reserve(cameras.size());
  for (const CameraOptions& camera : cameras) names.push_back(camera.name);
  return names;
}
/// The cameras the hub starts with: none in a fleet (the fleet adds its share).
std::vector<CameraOptions> own_cameras(const ServerOptions& options) {
  return options.fleet.database.empty() ? resolve_cameras(options) : std::vector<CameraOptions>{};
}

}  // namespace

ServerState::ServerState(ServerOptions opts)
    : options(std::move(opts)),
      stats(names_of(own_cameras(options))),
      pool(options.config, options.inference_workers, options.max_queue),
      hub(own_cameras(options), stats, options.jpeg_quality,
          StreamHooks{options.on_track, options.history, [this] { return !fleet || fleet->may_analyse(); }}) {}

ServerState::~ServerState() = default;

std::optional<std::size_t> ServerState::camera_index(std::string_view name) const { return hub.find(name); }

std::vector<std::string> ServerState::camera_names() const {
  std::vector<std::string> names;
  if (fleet) {
    for (const FleetCamera& camera : fleet->snapshot().cameras) names.push_back(camera.name);
    return names;
  }
  for (const std::size_t id : hub.ids()) names.push_back(hub.name(id));
  return names;
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
  g.cameras_owned = hub.size();
  if (fleet && fleet->unowned() >= 0) g.cameras_unowned = fleet->unowned();
  for (const std::size_t i : hub.ids()) {
    const StreamState state = hub.state(i);
    g.cameras.push_back(CameraHealth{.name = hub.name(i),
                                     .up = state.name() == "up",
                                     .outages = state.live ? state.status.outages : 0,
                                     .downtime_s = state.live ? state.status.downtime_s : 0.0});
  }
  if (options.delivery) {
    try {
      g.delivery = options.delivery();
    } catch (const std::exception& e) {
      log_line(fmt::format("delivery figures not read: {}", e.what()));
    }
  }
  if (options.events) {
    try {
      g.events = options.events->counts();
    } catch (const std::exception& e) {
      log_line(fmt::format("events: counts not read: {}", e.what()));
    }
  }
  return g;
}

}  // namespace detail
}  // namespace maskdetect::server
