// api_events.cpp - the events API; see api_events.hpp.
#include "api_events.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace maskdetect::server {

namespace {

constexpr std::string_view kPrefix = "/api/v1/events";

ApiAnswer error(unsigned status, std::string_view code, std::string_view message) {
  return ApiAnswer{status, "application/json", detail::error_json(status, code, message), {}};
}

bool parse_int(std::string_view text, std::int64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

/// A time parameter: Unix seconds (a number). False when malformed.
bool parse_time(const std::string& text, std::optional<double>& out) {
  if (text.empty()) return true;
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) return false;
    out = v;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

bool is_events_path(std::string_view path) noexcept {
  return path == kPrefix || (path.starts_with(kPrefix) && path.size() > kPrefix.size() && path[kPrefix.size()] == '/');
}

ApiAnswer handle_events_api(EventStore* store, std::string_view method, const detail::Target& target,
                            bool token_configured) {
  if (store == nullptr) return error(404, "no_event_store", "this server keeps no events (no data folder)");
  const bool get = method == "GET" || method == "HEAD";
  std::string_view rest = std::string_view(target.path).substr(kPrefix.size());
  if (rest.empty() || rest == "/") {
    if (!get)
      return ApiAnswer{405, "application/json", detail::error_json(405, "method_not_allowed", "use GET"), "GET"};
    EventQuery q;
    q.camera = target.param("camera");
    q.label = target.param("label");
    if (!q.label.empty() && q.label != "mask" && q.label != "no_mask" && q.label != "incorrect")
      return error(400, "bad_parameter", "label must be mask, no_mask or incorrect");
    if (!parse_time(target.param("since"), q.since) || !parse_time(target.param("until"), q.until))
      return error(400, "bad_parameter", "since and until are Unix times in seconds");
    if (const std::string limit = target.param("limit"); !limit.empty()) {
      std::int64_t n = 0;
      if (!parse_int(limit, n) || n < 1 || n > 1000) return error(400, "bad_parameter", "limit must be in [1, 1000]");
      q.limit = static_cast<std::size_t>(n);
    }
    if (const std::string before = target.param("before"); !before.empty()) {
      std::int64_t n = 0;
      if (!parse_int(before, n)) return error(400, "bad_parameter", "before must be an event id");
      q.before_id = n;
    }
    const EventPage page = store->list(q);
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < page.events.size(); ++i) {
      if (i > 0) body += ',';
      body += event_json(page.events[i]);
    }
    body += "],\"next\":";
    if (page.next_before) {
      nlohmann::json next = fmt::format("/api/v1/events?limit={}&before={}", q.limit, *page.next_before);
      for (const char* key : {"camera", "label", "since", "until"})
        if (const std::string v = target.param(key); !v.empty())
          next = next.get<std::string>() + "&" + key + "=" + detail::percent_encode(v);
      body += next.dump();
    } else {
      body += "null";
    }
    body += '}';
    return ApiAnswer{200, "application/json", std::move(body), {}};
  }

  rest.remove_prefix(1);  // the '/'
  const auto slash = rest.find('/');
  const std::string_view id_text = rest.substr(0, slash);
  const std::string_view file = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  std::int64_t id = 0;
  if (!parse_int(id_text, id) || (slash != std::string_view::npos && file != "snapshot.jpg" && file != "crop.jpg"))
    return error(404, "not_found", fmt::format("no endpoint at {}", target.path));

  if (file.empty()) {
    if (method == "DELETE") {
      if (!token_configured)
        return error(403, "forbidden", "deleting events needs a server started with a token (--token or token:)");
      if (!store->remove(id)) return error(404, "no_such_event", fmt::format("there is no event {}", id));
      return ApiAnswer{200, "application/json", nlohmann::json{{"deleted", id}}.dump(), {}};
    }
    if (!get)
      return ApiAnswer{405, "application/json", detail::error_json(405, "method_not_allowed", "use GET or DELETE"),
                       "GET, DELETE"};
    const auto event = store->get(id);
    if (!event) return error(404, "no_such_event", fmt::format("there is no event {}", id));
    return ApiAnswer{200, "application/json", event_json(*event), {}};
  }
  if (!get) return ApiAnswer{405, "application/json", detail::error_json(405, "method_not_allowed", "use GET"), "GET"};
  if (!store->get(id)) return error(404, "no_such_event", fmt::format("there is no event {}", id));
  std::optional<std::string> bytes = store->image(id, file == "crop.jpg" ? "crop" : "snapshot");
  if (!bytes)
    return error(404, "no_image", fmt::format("event {} has no {} (privacy mode, or a frame was not given)", id, file));
  if (bytes->empty()) return error(404, "no_image", fmt::format("event {}: the image is gone", id));
  return ApiAnswer{200, "image/jpeg", std::move(*bytes), {}};
}

}  // namespace maskdetect::server
