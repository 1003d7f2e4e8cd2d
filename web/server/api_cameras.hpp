// api_cameras.hpp - the cameras and history API (docs/server.md "Cameras", "History"), independent of the
// connection code:
//   GET /api/v1/cameras                                   every camera: state, fps, people, last event, URLs
//   GET /api/v1/history?camera=&since=&until=&step=       per-camera buckets of people, in view, fps
// /api/v1/cameras/{name}/mjpeg and /snapshot.jpg are served by the HTTP session (streaming).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "api_events.hpp"
#include "state.hpp"

namespace maskdetect::server {

/// What /api/v1/cameras shows of one camera (from this server's counters, or a fleet worker's report).
struct CameraView {
  std::string name;
  std::string source;  ///< credentials hidden
  std::string state;   ///< starting, up, down (fleet: also unowned, disabled)
  double fps = 0.0;
  std::array<std::int64_t, kNumLabels> people{};  ///< counted + tracked now, per label
  std::int64_t in_view = 0;
};

/// A camera of this server's hub.
[[nodiscard]] CameraView local_view(const detail::ServerState& state, std::size_t id);
/// One entry of GET /api/v1/cameras (docs/server.md): the view, people, compliance, its last event, its URLs.
[[nodiscard]] nlohmann::json camera_json(const detail::ServerState& state, const CameraView& view);

/// The document of GET /api/v1/cameras.
[[nodiscard]] std::string cameras_json(const detail::ServerState& state);

/// Answers GET /api/v1/history. `now` is the current Unix time (the defaults of since and until).
[[nodiscard]] ApiAnswer handle_history_api(const detail::ServerState& state, const detail::Target& target, double now);

}  // namespace maskdetect::server
