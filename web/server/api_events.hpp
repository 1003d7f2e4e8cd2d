// api_events.hpp - the events API (docs/server.md "Events"), independent of the connection code:
//   GET    /api/v1/events?camera=&label=&since=&until=&limit=&before=   newest first, paged by `before`
//   GET    /api/v1/events/{id}
//   GET    /api/v1/events/{id}/snapshot.jpg | crop.jpg
//   DELETE /api/v1/events/{id}        only when the server has a token (the caller has checked it)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "event_store.hpp"
#include "state.hpp"

namespace maskdetect::server {

struct ApiAnswer {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  ///< the Allow header of a 405
};

/// True for paths the events API answers (/api/v1/events and below).
[[nodiscard]] bool is_events_path(std::string_view path) noexcept;

/// Answers a request under /api/v1/events from `store` (either back end); null: 404 on every path.
/// `method` is "GET", "HEAD" or "DELETE" (others: 405). `token_configured`: DELETE is refused (403) without one.
[[nodiscard]] ApiAnswer handle_events_api(EventStore* store, std::string_view method, const detail::Target& target,
                                          bool token_configured);

}  // namespace maskdetect::server
