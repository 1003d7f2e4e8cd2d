#include "state.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskdetect/error.hpp"

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

namespace detail {

ServerState::ServerState(ServerOptions opts)
    : options(std::move(opts)),
      stats(StreamHub::names(options.sources)),
      pool(options.config, options.inference_workers, options.max_queue),
      hub(options.sources, options.config, stats, options.jpeg_quality, options.source_fps) {}

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
  return g;
}

void log_line(const std::string& line) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::fprintf(stderr, "serve: %s\n", line.c_str());
}

}  // namespace detail
}  // namespace maskdetect::server
