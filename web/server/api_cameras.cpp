// api_cameras.cpp - the cameras and history API; see api_cameras.hpp.
#include "api_cameras.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_store.hpp"
#include "history_store.hpp"

namespace maskdetect::server {

namespace {

ApiAnswer bad_request(std::string_view message) {
  return ApiAnswer{400, "application/json", detail::error_json(400, "bad_request", message), {}};
}

nlohmann::json optional_json(double value) { return value < 0.0 ? nlohmann::json(nullptr) : nlohmann::json(value); }

}  // namespace

std::string cameras_json(const detail::ServerState& state) {
  nlohmann::json doc = {{"cameras", nlohmann::json::array()}};
  for (std::size_t i = 0; i < state.cameras.size(); ++i) {
    const std::string& name = state.cameras[i].name;
    const CameraFigures figures = state.stats.camera(i);
    const auto people = figures.people.all();
    nlohmann::json last_event = nullptr;
    if (state.options.events) {
      const EventPage page = state.options.events->list(EventQuery{.camera = name, .limit = 1});
      if (!page.events.empty()) last_event = nlohmann::json::parse(event_json(page.events.front()));
    }
    doc["cameras"].push_back({{"name", name},
                              {"source", state.hub.description(i)},
                              {"state", state.hub.state(i).name()},
                              {"fps", figures.fps},
                              {"people",
                               {{"total", figures.people.total()},
                                {"mask", people[static_cast<std::size_t>(MaskLabel::mask)]},
                                {"no_mask", people[static_cast<std::size_t>(MaskLabel::no_mask)]},
                                {"incorrect", people[static_cast<std::size_t>(MaskLabel::incorrect)]}}},
                              {"in_view", figures.people.in_view},
                              {"compliance", optional_json(figures.people.compliance())},
                              {"last_event", std::move(last_event)},
                              {"mjpeg", fmt::format("/api/v1/cameras/{}/mjpeg", name)},
                              {"snapshot", fmt::format("/api/v1/cameras/{}/snapshot.jpg", name)}});
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiAnswer handle_history_api(const detail::ServerState& state, const detail::Target& target, double now) {
  detail::HistoryParams params;
  if (auto error = detail::parse_history_params(target, now, params)) return bad_request(*error);
  const HistoryQuery q{.camera = params.camera, .since = params.since, .until = params.until, .step_s = params.step_s};
  if (!q.camera.empty() && !state.camera_index(q.camera))
    return ApiAnswer{404,
                     "application/json",
                     detail::error_json(404, "not_found", fmt::format("there is no camera '{}'", q.camera)),
                     {}};
  std::map<std::string, std::vector<HistoryPoint>> series;
  if (state.options.history) series = state.options.history->query(q);
  nlohmann::json doc = {
      {"step", q.step_s}, {"since", q.since}, {"until", q.until}, {"cameras", nlohmann::json::array()}};
  for (const CameraOptions& camera : state.cameras) {
    if (!q.camera.empty() && camera.name != q.camera) continue;
    nlohmann::json points = nlohmann::json::array();
    if (const auto it = series.find(camera.name); it != series.end()) {
      for (const HistoryPoint& p : it->second) {
        const auto compliance = p.compliance();
        points.push_back({{"t", p.t},
                          {"people", p.people_total()},
                          {"mask", p.people[static_cast<std::size_t>(MaskLabel::mask)]},
                          {"no_mask", p.people[static_cast<std::size_t>(MaskLabel::no_mask)]},
                          {"incorrect", p.people[static_cast<std::size_t>(MaskLabel::incorrect)]},
                          {"in_view", p.in_view()},
                          {"compliance", compliance ? nlohmann::json(*compliance) : nlohmann::json(nullptr)},
                          {"fps", p.fps()}});
      }
    }
    doc["cameras"].push_back({{"name", camera.name}, {"points", std::move(points)}});
  }
  return ApiAnswer{200, "application/json", doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

}  // namespace maskdetect::server
