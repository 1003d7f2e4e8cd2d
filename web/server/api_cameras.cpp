// api_cameras.cpp - the cameras and history API; see api_cameras.hpp.
#include "api_cameras.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_store.hpp"
#include "fleet_api.hpp"
#include "history_store.hpp"
#include "stream_hub.hpp"

namespace maskdetect::server {

namespace {

ApiAnswer bad_request(std::string_view message) {
  return ApiAnswer{400, "application/json", detail::error_json(400, "bad_request", message), {}};
}

nlohmann::json optional_json(double value) { return value < 0.0 ? nlohmann::json(nullptr) : nlohmann::json(value); }

}  // namespace

CameraView local_view(const detail::ServerState& state, std::size_t id) {
  const CameraFigures figures = state.stats.camera(id);
  return CameraView{.name = state.hub.name(id),
                    .source = state.hub.description(id),
                    .state = std::string(state.hub.state(id).name()),
                    .fps = figures.fps,
                    .people = figures.people.all(),
                    .in_view = figures.people.in_view};
}

nlohmann::json camera_json(const detail::ServerState& state, const CameraView& view) {
  nlohmann::json last_event = nullptr;
  if (state.options.events) {
    const EventPage page = state.options.events->list(EventQuery{.camera = view.name, .limit = 1});
    if (!page.events.empty()) last_event = nlohmann::json::parse(event_json(page.events.front()));
  }
  PeopleFigures people;
  people.counted = view.people;
  const auto& all = view.people;
  return {{"name", view.name},
          {"source", view.source},
          {"state", view.state},
          {"fps", view.fps},
          {"people",
           {{"total", people.total()},
            {"mask", all[static_cast<std::size_t>(MaskLabel::mask)]},
            {"no_mask", all[static_cast<std::size_t>(MaskLabel::no_mask)]},
            {"incorrect", all[static_cast<std::size_t>(MaskLabel::incorrect)]}}},
          {"in_view", view.in_view},
          {"compliance", optional_json(people.compliance())},
          {"last_event", std::move(last_event)},
          {"mjpeg", fmt::format("/api/v1/cameras/{}/mjpeg", view.name)},
          {"snapshot", fmt::format("/api/v1/cameras/{}/snapshot.jpg", view.name)}};
}

std::string cameras_json(const detail::ServerState& state) {
  if (state.fleet) return fleet_cameras_json(state, state.fleet->snapshot());
  nlohmann::json doc = {{"cameras", nlohmann::json::array()}};
  for (const std::size_t id : state.hub.ids()) doc["cameras"].push_back(camera_json(state, local_view(state, id)));
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiAnswer handle_history_api(const detail::ServerState& state, const detail::Target& target, double now) {
  detail::HistoryParams params;
  if (auto error = detail::parse_history_params(target, now, params)) return bad_request(*error);
  const HistoryQuery q{.camera = params.camera, .since = params.since, .until = params.until, .step_s = params.step_s};
  const std::vector<std::string> names = state.camera_names();
  if (!q.camera.empty() && std::find(names.begin(), names.end(), q.camera) == names.end())
    return ApiAnswer{404,
                     "application/json",
                     detail::error_json(404, "not_found", fmt::format("there is no camera '{}'", q.camera)),
                     {}};
  std::map<std::string, std::vector<HistoryPoint>> series;
  if (state.options.history) series = state.options.history->query(q);
  nlohmann::json doc = {
      {"step", q.step_s}, {"since", q.since}, {"until", q.until}, {"cameras", nlohmann::json::array()}};
  for (const std::string& name : names) {
    if (!q.camera.empty() && name != q.camera) continue;
    nlohmann::json points = nlohmann::json::array();
    if (const auto it = series.find(name); it != series.end()) {
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
    doc["cameras"].push_back({{"name", name}, {"points", std::move(points)}});
  }
  return ApiAnswer{200, "application/json", doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

}  // namespace maskdetect::server
