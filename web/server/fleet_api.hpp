// fleet_api.hpp - the cameras API over the fleet's database (docs/server.md "Cameras", docs/fleet.md), independent
// of the connection code:
//   GET    /api/v1/cameras            every camera of the fleet: owner, state, people, compliance, last event
//   GET    /api/v1/cameras/{name}     one camera, with its definition (source credentials hidden)
//   POST   /api/v1/cameras            a new camera (JSON: the keys of a serve.yaml camera)
//   PUT    /api/v1/cameras/{name}     its new definition (its owner restarts it)
//   DELETE /api/v1/cameras/{name}     its owner stops it
// Changes need a server with a token (403 without one: the caller has checked the token itself) and a
// database (409 no_database without one: the cameras come from the config file).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api_events.hpp"
#include "fleet.hpp"
#include "state.hpp"

namespace maskdetect::server {

/// The document of GET /api/v1/cameras for a fleet worker.
[[nodiscard]] std::string fleet_cameras_json(const detail::ServerState& state, const FleetSnapshot& snapshot);

/// GET /api/v1/cameras/{name} (both with and without a database).
[[nodiscard]] ApiAnswer camera_answer(const detail::ServerState& state, std::string_view name);

/// POST /api/v1/cameras (`name` empty), PUT or DELETE /api/v1/cameras/{name}.
[[nodiscard]] ApiAnswer handle_camera_change(detail::ServerState& state, std::string_view method, std::string_view name,
                                             const std::string& body, bool token_configured);

/// The `streams` of /api/v1/info for a fleet worker: every enabled camera of the fleet, by name (their live
/// views are served by their owner through whichever worker is asked).
[[nodiscard]] nlohmann::json fleet_streams_json(const detail::ServerState& state, const FleetSnapshot& snapshot);

/// GET /readyz: {status, code}. 200 "ready" while serving (and, in a fleet, while the database answers);
/// 503 "draining" after SIGTERM, 503 "database_unreachable" in a fleet whose database does not answer.
[[nodiscard]] ApiAnswer readiness(const detail::ServerState& state);

}  // namespace maskdetect::server
