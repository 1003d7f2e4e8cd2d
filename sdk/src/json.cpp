// The JSON shape of results (see maskdetect/json.hpp), written and read in one place.
#include "maskdetect/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "maskdetect/error.hpp"

namespace maskdetect {
namespace {

// Two decimals for pixels and four for probabilities keep lines short without losing anything useful.
double round_to(double value, double scale) { return std::round(value * scale) / scale; }

[[noreturn]] void json_error(std::string_view origin, std::string_view what) {
  throw Error(Errc::bad_input, fmt::format("{}: {}", origin, what));
}

// Any coordinate or score beyond this is not a real detection (and would not fit a float or an int).
constexpr double kMaxMagnitude = 1e9;

float number(const nlohmann::json& j, std::string_view origin, std::string_view field) {
  if (!j.is_number()) json_error(origin, fmt::format("'{}' must be a number", field));
  const auto value = j.get<double>();
  if (!std::isfinite(value) || std::abs(value) > kMaxMagnitude)
    json_error(origin, fmt::format("'{}' = {} is out of range (|value| <= {})", field, value, kMaxMagnitude));
  return static_cast<float>(value);
}

// An image side in pixels: a whole number in 0..kMaxSide.
int side(const nlohmann::json& j, std::string_view origin, std::string_view field) {
  constexpr double kMaxSide = 1'000'000;
  const double value = number(j, origin, field);
  if (value < 0 || value > kMaxSide || value != std::floor(value))
    json_error(origin, fmt::format("'{}' = {} is not a whole number of pixels in 0..{}", field, value, kMaxSide));
  return static_cast<int>(value);
}

}  // namespace

namespace {

nlohmann::ordered_json box_json(const cv::Rect2f& box) {
  return {round_to(box.x, 100), round_to(box.y, 100), round_to(box.width, 100), round_to(box.height, 100)};
}

nlohmann::ordered_json event_object(const PersonEvent& e) {
  const Person& p = e.person;
  nlohmann::ordered_json j;
  j["event"] = std::string(to_string(e.kind));
  j["t"] = round_to(e.t, 1000);
  j["person_id"] = p.id;
  j["label"] = std::string(to_string(e.label));
  if (e.previous_state) j["previous_state"] = std::string(to_string(*e.previous_state));
  if (e.kind == PersonEventKind::alert) j["mask_removed"] = e.mask_removed;
  j["state"] = std::string(to_string(p.state));
  j["state_since"] = round_to(p.state_since, 1000);
  j["box"] = box_json(p.box);
  j["box_t"] = round_to(p.box_t, 1000);
  j["width"] = p.frame_size.width;
  j["height"] = p.frame_size.height;
  j["first_seen"] = round_to(p.first_seen, 1000);
  j["last_seen"] = round_to(p.last_seen, 1000);
  j["seen_s"] = round_to(p.seen_s(), 1000);
  j["median_face_score"] = round_to(p.median_face_score, 1e4);
  j["face_px"] = round_to(p.face_px, 100);
  j["stationary"] = p.stationary;
  j["vote"] = std::string(to_string(p.vote));
  j["vote_confidence"] = round_to(p.vote_confidence, 1e4);
  nlohmann::ordered_json seconds;
  for (MaskLabel label : kAllLabels)
    seconds[std::string(to_string(label))] = round_to(p.seconds[static_cast<std::size_t>(label)], 1000);
  j["seconds"] = seconds;
  j["longest"] = std::string(to_string(p.longest()));
  j["mask_removals"] = p.mask_removals;
  if (e.kind == PersonEventKind::ended) {
    auto spans = nlohmann::ordered_json::array();
    for (const StateSpan& span : e.states)
      spans.push_back({round_to(span.start, 1000), round_to(span.end, 1000), std::string(to_string(span.state))});
    j["states"] = std::move(spans);
  }
  return j;
}

}  // namespace

std::string to_json(const PersonEvent& event) { return event_object(event).dump(); }

std::string to_json(const FrameResult& result, const FrameInfo& info, const JsonOptions& options,
                    const std::vector<PersonEvent>& events) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(to_json(result, info, options));
  if (!events.empty()) {
    auto list = nlohmann::ordered_json::array();
    for (const PersonEvent& e : events) list.push_back(event_object(e));
    j["events"] = std::move(list);
  }
  return j.dump();
}

std::string to_json(const FrameResult& result, const FrameInfo& info, const JsonOptions& options) {
  nlohmann::ordered_json j;
  if (info.image) j["image"] = *info.image;
  if (info.frame) j["frame"] = *info.frame;
  if (info.t) j["t"] = round_to(*info.t, 1000);
  if (info.time) j["time"] = *info.time;
  j["width"] = result.frame_size.width;
  j["height"] = result.frame_size.height;
  auto faces = nlohmann::ordered_json::array();
  for (const Face& face : result.faces) {
    nlohmann::ordered_json f;
    f["box"] = {round_to(face.box.x, 100), round_to(face.box.y, 100), round_to(face.box.width, 100),
                round_to(face.box.height, 100)};
    f["face_score"] = round_to(face.face_score, 1e4);
    f["label"] = std::string(to_string(face.label));
    f["score"] = round_to(face.score, 1e4);
    // What `maskdetect eval` ranks by, and what other evaluators (COCO tools) should rank by.
    f["confidence"] = round_to(static_cast<double>(face.face_score) * static_cast<double>(face.score), 1e4);
    if (face.track_id >= 0) f["track_id"] = face.track_id;
    if (face.person_state) f["person_state"] = std::string(to_string(*face.person_state));
    nlohmann::ordered_json probs;
    for (MaskLabel label : kAllLabels)
      probs[std::string(to_string(label))] = round_to(face.probs[static_cast<std::size_t>(label)], 1e4);
    f["probs"] = probs;
    if (options.landmarks && !face.landmarks.empty()) {
      auto points = nlohmann::ordered_json::array();
      for (const auto& p : face.landmarks) points.push_back({round_to(p.x, 100), round_to(p.y, 100)});
      f["landmarks"] = points;
    }
    faces.push_back(std::move(f));
  }
  j["faces"] = std::move(faces);
  if (options.timing) {
    j["timing_ms"] = {{"detect", round_to(result.times.detect_ms, 1000)},
                      {"classify", round_to(result.times.classify_ms, 1000)}};
  }
  return j.dump();
}

FrameRecord frame_from_json(std::string_view json, std::string_view origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like -1e30011
    json_error(origin, fmt::format("not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) json_error(origin, "expected a JSON object");
  FrameRecord record;
  if (auto it = j.find("image"); it != j.end()) {
    if (!it->is_string()) json_error(origin, "'image' must be a string");
    record.info.image = it->get<std::string>();
  }
  if (auto it = j.find("frame"); it != j.end()) {
    if (!it->is_number_integer() ||
        (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)))
      json_error(origin, "'frame' must be an integer (64-bit)");
    record.info.frame = it->get<std::int64_t>();
  }
  if (!record.info.image && !record.info.frame) json_error(origin, "needs 'image' or 'frame'");
  if (auto it = j.find("t"); it != j.end()) {
    if (!it->is_number()) json_error(origin, "'t' must be a number (seconds)");
    record.info.t = it->get<double>();
  }
  if (auto it = j.find("time"); it != j.end()) {
    if (!it->is_string()) json_error(origin, "'time' must be a string (ISO 8601)");
    record.info.time = it->get<std::string>();
  }
  if (auto it = j.find("width"); it != j.end()) record.result.frame_size.width = side(*it, origin, "width");
  if (auto it = j.find("height"); it != j.end()) record.result.frame_size.height = side(*it, origin, "height");
  const auto faces = j.find("faces");
  if (faces == j.end() || !faces->is_array()) json_error(origin, "'faces' must be a list");
  for (std::size_t i = 0; i < faces->size(); ++i) {
    const auto& f = (*faces)[i];
    const std::string where = fmt::format("faces[{}]", i);
    if (!f.is_object()) json_error(origin, where + " must be an object");
    Face face;
    const auto box = f.find("box");
    if (box == f.end() || !box->is_array() || box->size() != 4) json_error(origin, where + ".box must be [x, y, w, h]");
    face.box = {number((*box)[0], origin, where + ".box"), number((*box)[1], origin, where + ".box"),
                number((*box)[2], origin, where + ".box"), number((*box)[3], origin, where + ".box")};
    if (face.box.width < 0 || face.box.height < 0) json_error(origin, where + ".box has a negative size");
    const auto face_score = f.find("face_score");
    if (face_score != f.end()) face.face_score = number(*face_score, origin, where + ".face_score");
    const auto label = f.find("label");
    if (label == f.end() || !label->is_string()) json_error(origin, where + ".label must be a string");
    const auto parsed = parse_label(label->get<std::string>());
    if (!parsed)
      json_error(origin,
                 fmt::format("{}.label '{}' is not mask, no_mask or incorrect", where, label->get<std::string>()));
    face.label = *parsed;
    face.score = 1.0f;
    if (auto it = f.find("score"); it != f.end()) face.score = number(*it, origin, where + ".score");
    face.probs[static_cast<std::size_t>(face.label)] = face.score;
    // Ranking: face_score x score. Another system's output may carry only `confidence` (that product) or only
    // `score` (its detection confidence): face_score is then chosen so that the product is that value.
    if (face_score == f.end()) {
      if (auto it = f.find("confidence"); it != f.end()) {
        const float confidence = number(*it, origin, where + ".confidence");
        face.face_score = face.score > 0.0f ? std::min(confidence / face.score, 1e9f) : 0.0f;
        ++record.faces_ranked_by_confidence;
      } else {
        face.face_score = 1.0f;
        ++record.faces_ranked_by_score;
      }
    }
    if (auto it = f.find("probs"); it != f.end()) {
      if (!it->is_object()) json_error(origin, where + ".probs must be an object");
      for (MaskLabel l : kAllLabels) {
        if (auto p = it->find(std::string(to_string(l))); p != it->end())
          face.probs[static_cast<std::size_t>(l)] = number(*p, origin, where + ".probs");
      }
    }
    if (auto it = f.find("track_id"); it != f.end()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
        json_error(origin, where + ".track_id must be a non-negative integer");
      face.track_id = it->get<std::int64_t>();
    }
    if (auto it = f.find("person_state"); it != f.end()) {
      const auto state = it->is_string() ? parse_label(it->get<std::string>()) : std::nullopt;
      if (!state) json_error(origin, where + ".person_state must be mask, no_mask or incorrect");
      face.person_state = state;
      face.counted = true;
    }
    if (auto it = f.find("landmarks"); it != f.end() && it->is_array()) {
      for (const auto& p : *it) {
        if (!p.is_array() || p.size() != 2) json_error(origin, where + ".landmarks must be [[x, y], ...]");
        face.landmarks.emplace_back(number(p[0], origin, where + ".landmarks"),
                                    number(p[1], origin, where + ".landmarks"));
      }
    }
    record.result.faces.push_back(std::move(face));
  }
  return record;
}

}  // namespace maskdetect
