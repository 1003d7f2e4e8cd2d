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

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

bool parse_target(std::string_view raw, Target& target) {
  const auto qmark = raw.find('?');
  const std::string_view path = raw.substr(0, qmark);
  if (path.empty() || path.front() != '/') return false;
  if (!percent_decode(path, false, target.path)) return false;
  for (const char c : target.path) {
    if (c == '\0' || c == '\\') return false;
  }
  // Reject any ".." segment.
  std::size_t start = 0;
  while (start <= target.path.size()) {
    const auto slash = target.path.find('/', start);
    const auto end = slash == std::string::npos ? target.path.size() : slash;
    if (target.path.compare(start, end - start, "..") == 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  target.query.clear();
  if (qmark == std::string_view::npos) return true;
  std::string_view query = raw.substr(qmark + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), true, key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value)) return false;
    target.query[key] = value;
  }
  return true;
}

std::string error_json(unsigned status, std::string_view code, std::string_view message) {
  const nlohmann::json doc = {{"error", {{"status", status}, {"code", code}, {"message", message}}}};
  return doc.dump();
}

bool authorized(const ServerOptions& options, std::string_view authorization, std::string_view query_token) noexcept {
  if (options.token.empty()) return true;
  std::string_view presented = query_token;
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer)
    presented = authorization.substr(kBearer.size());
  const std::string_view expected = options.token;
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char p = i < presented.size() ? presented[i] : '\0';
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(p) ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0;
}

bool parse_threshold(const std::string& text, float fallback, float& out) {
  if (text.empty()) {
    out = fallback;
    return true;
  }
  float value = 0.0f;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0.0f || value > 1.0f)
    return false;
  out = value;
  return true;
}

void log_line(const std::string& line) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::fprintf(stderr, "serve: %s\n", line.c_str());
}

}  // namespace detail
}  // namespace maskdetect::server
