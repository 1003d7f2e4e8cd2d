// api_cameras.hpp - the cameras and history API (docs/server.md "Cameras", "History"), independent of the
// connection code:
//   GET /api/v1/cameras                                   every camera: state, fps, people, last event, URLs
//   GET /api/v1/history?camera=&since=&until=&step=       per-camera buckets of people, in view, fps
// /api/v1/cameras/{name}/mjpeg and /snapshot.jpg are served by the HTTP session (streaming).
#pragma once

#include <string>

#include "api_events.hpp"
#include "state.hpp"

namespace maskdetect::server {

/// The document of GET /api/v1/cameras.
[[nodiscard]] std::string cameras_json(const detail::ServerState& state);

/// Answers GET /api/v1/history. `now` is the current Unix time (the defaults of since and until).
[[nodiscard]] ApiAnswer handle_history_api(const detail::ServerState& state, const detail::Target& target, double now);

}  // namespace maskdetect::server
