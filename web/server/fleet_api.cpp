// fleet_api.cpp - the cameras API over the fleet's database; see fleet_api.hpp.
#include "fleet_api.hpp"

#include <fmt/format.h>

#include "api_cameras.hpp"
#include "camera_registry.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "pg.hpp"
#include "stream_hub.hpp"

namespace maskdetect::server {

namespace {

ApiAnswer json_answer(unsigned status, const nlohmann::json& doc) {
  return ApiAnswer{status, "application/json", doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

ApiAnswer error_answer(unsigned status, std::string_view code, std::string_view message) {
  return ApiAnswer{status, "application/json", detail::error_json(status, code, message), {}};
}

CameraView fleet_view(const detail::ServerState& state, const FleetCamera& camera) {
  CameraView view;
  view.name = camera.name;
  view.source = video::redact_url(camera.config.source);
  view.state = camera.state;
  view.fps = camera.fps;
  for (std::size_t i = 0; i < kNumLabels; ++i) view.people[i] = camera.counted[i] + camera.tracked[i];
  view.in_view = camera.in_view;
  if (camera.mine) {  // this worker's own camera: its live figures
    if (const auto id = state.hub.find(camera.name)) view.source = state.hub.description(*id);
  }
  return view;
}

nlohmann::json fleet_entry(const detail::ServerState& state, const FleetCamera& camera) {
  nlohmann::json entry = camera_json(state, fleet_view(state, camera));
  entry["enabled"] = camera.enabled;
  entry["owner"] = camera.owner.empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json{{"worker", camera.owner}, {"url", camera.owner_url}};
  entry["reported"] = camera.reported > 0.0 ? nlohmann::json(camera.reported) : nlohmann::json(nullptr);
  return entry;
}

}  // namespace

std::string fleet_cameras_json(const detail::ServerState& state, const FleetSnapshot& snapshot) {
  nlohmann::json doc = {{"cameras", nlohmann::json::array()},
                        {"worker", snapshot.worker},
                        {"workers", nlohmann::json::array()},
                        {"unowned", snapshot.unowned}};
  for (const FleetCamera& camera : snapshot.cameras) doc["cameras"].push_back(fleet_entry(state, camera));
  for (const FleetWorker& worker : snapshot.workers) {
    doc["workers"].push_back({{"name", worker.name},
                              {"url", worker.url},
                              {"cameras", worker.owned},
                              {"max_cameras", worker.max_cameras},
                              {"draining", worker.draining}});
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiAnswer camera_answer(const detail::ServerState& state, std::string_view name) {
  if (state.fleet) {
    const FleetSnapshot snapshot = state.fleet->snapshot();
    const FleetCamera* camera = snapshot.find(name);
    if (camera == nullptr) return error_answer(404, "not_found", fmt::format("there is no camera '{}'", name));
    nlohmann::json entry = fleet_entry(state, *camera);
    entry["definition"] = fleet::redacted(nlohmann::json::parse(camera->definition, nullptr, false));
    return json_answer(200, entry);
  }
  const auto id = state.hub.find(name);
  if (!id) return error_answer(404, "not_found", fmt::format("there is no camera '{}'", name));
  return json_answer(200, camera_json(state, local_view(state, *id)));
}

ApiAnswer handle_camera_change(detail::ServerState& state, std::string_view method, std::string_view name,
                               const std::string& body, bool token_configured) {
  if (!token_configured)
    return error_answer(403, "forbidden", "changing cameras needs a server started with a token (--token)");
  if (!state.fleet)
    return error_answer(409, "no_database",
                        "this server has no database (--database): its cameras come from its config file");
  Fleet& fleet = *state.fleet;
  try {
    if (method == "DELETE") {
      if (fleet.delete_camera(std::string(name)) == Fleet::Change::missing)
        return error_answer(404, "not_found", fmt::format("there is no camera '{}'", name));
      return json_answer(200, {{"deleted", name}});
    }
    // The body: a camera as JSON (or YAML), checked as the config file checks its cameras.
    std::string text = body;
    if (!name.empty()) {  // PUT: the name is the path's
      nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
      if (doc.is_object()) {
        if (!doc.contains("name")) doc["name"] = name;
        if (doc["name"] != name)
          return error_answer(
              400, "bad_camera",
              fmt::format("request body: key 'name': '{}' differs from the camera '{}' of the path "
                          "(to rename a camera, DELETE it and POST the new one)",
                          doc["name"].is_string() ? doc["name"].get<std::string>() : doc["name"].dump(), name));
        text = doc.dump();
      }
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
      return error_answer(400, "bad_camera", "request body: empty: send the camera as JSON (name, source, ...)");
    CameraConfig camera;
    try {
      camera = parse_camera_config(text, "request body", fleet.server_pipeline());
    } catch (const Error& e) {
      return error_answer(400, "bad_camera", e.what());
    }
    const nlohmann::json definition = fleet::redacted(fleet::definition_json(camera));
    if (method == "POST") {
      if (fleet.create_camera(camera) == Fleet::Change::exists)
        return error_answer(409, "camera_exists",
                            fmt::format("there is already a camera '{}' (PUT /api/v1/cameras/{} changes it)",
                                        camera.name, camera.name));
      return json_answer(201, {{"camera", definition}});
    }
    if (fleet.update_camera(camera) == Fleet::Change::missing)
      return error_answer(404, "not_found", fmt::format("there is no camera '{}'", name));
    return json_answer(200, {{"camera", definition}});
  } catch (const pg::Error& e) {
    return error_answer(503, "database_unavailable", e.what());
  }
}

nlohmann::json fleet_streams_json(const detail::ServerState& state, const FleetSnapshot& snapshot) {
  nlohmann::json streams = nlohmann::json::array();
  std::size_t index = 0;
  for (const FleetCamera& camera : snapshot.cameras) {
    if (!camera.enabled) continue;
    const auto id = camera.mine ? state.hub.find(camera.name) : std::nullopt;
    streams.push_back({{"id", index++},
                       {"name", camera.name},
                       {"source", video::redact_url(camera.config.source)},
                       {"threshold", id ? state.hub.threshold(*id) : state.default_threshold()},
                       {"fps_cap", camera.config.fps},
                       {"state", camera.state},
                       {"owner", camera.owner.empty() ? nlohmann::json(nullptr) : nlohmann::json(camera.owner)},
                       {"mjpeg", fmt::format("/api/v1/cameras/{}/mjpeg", camera.name)},
                       {"snapshot", fmt::format("/api/v1/cameras/{}/snapshot.jpg", camera.name)},
                       {"ws", fmt::format("/api/v1/cameras/{}/ws", camera.name)}});
  }
  return streams;
}

ApiAnswer readiness(const detail::ServerState& state) {
  if (state.stopping)
    return json_answer(503,
                       {{"status", "draining"}, {"message", "the server is stopping: its cameras are handed back"}});
  if (state.fleet && !state.fleet->ready())
    return json_answer(503, {{"status", "database_unreachable"},
                             {"message", "the fleet's database has not answered within the lease timeout"}});
  return json_answer(200, {{"status", "ready"}});
}

}  // namespace maskdetect::server
