// Config: defaults, presets, YAML loading and the one place values are validated.
#include "maskdetect/config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "maskdetect/error.hpp"
#include "maskdetect/models.hpp"

namespace maskdetect {
namespace {

constexpr std::string_view kBackendNames[] = {"blazeface_front", "blazeface_back", "yunet", "mask_detector"};

[[noreturn]] void config_error(std::string_view origin, const YAML::Node& node, std::string_view key,
                               std::string_view what) {
  const auto mark = node.Mark();
  const std::string where = mark.line >= 0 ? fmt::format("{}:{}", origin, mark.line + 1) : std::string(origin);
  throw Error(Errc::invalid_config, fmt::format("{}: key '{}': {}", where, key, what));
}

template <typename T>
T read_value(std::string_view origin, const YAML::Node& node, std::string_view key, std::string_view expected) {
  if (!node.IsScalar()) config_error(origin, node, key, fmt::format("expected {}", expected));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    config_error(origin, node, key, fmt::format("expected {}, got '{}'", expected, node.Scalar()));
  }
}

DetectorBackend parse_backend(std::string_view origin, const YAML::Node& node, std::string_view key) {
  const auto name = read_value<std::string>(origin, node, key, "a back-end name");
  for (std::size_t i = 0; i < std::size(kBackendNames); ++i) {
    if (kBackendNames[i] == name) return static_cast<DetectorBackend>(i);
  }
  config_error(
      origin, node, key,
      fmt::format("unknown back end '{}' (expected blazeface_front, blazeface_back, yunet or mask_detector)", name));
}

// A path in a config file is relative to the file's folder.
std::string resolve_path(const std::string& value, const std::filesystem::path& base_dir) {
  if (value.empty() || base_dir.empty()) return value;
  const std::filesystem::path path(value);
  return path.is_absolute() ? value : (base_dir / path).lexically_normal().string();
}

void expect_map(std::string_view origin, const YAML::Node& node, std::string_view key) {
  if (!node.IsMap()) config_error(origin, node, key, "expected a mapping of keys");
}

/// The key of a mapping entry: a plain scalar, seen once in its mapping. `prefix` is "" or "detector.".
std::string key_of(std::string_view origin, const YAML::Node& key_node, std::string_view prefix,
                   std::set<std::string>& seen) {
  if (!key_node.IsScalar())
    config_error(origin, key_node, fmt::format("{}?", prefix), "a key must be a plain name, not a list or mapping");
  std::string key = key_node.Scalar();
  if (!seen.insert(key).second)
    config_error(origin, key_node, fmt::format("{}{}", prefix, key), "duplicate key (each key may appear once)");
  return key;
}

/// The first bad value of the people section: (key, what is wrong).
std::optional<std::pair<std::string, std::string>> people_problem(const PeopleConfig& p) {
  const auto fraction = [](float v) { return std::isfinite(v) && v >= 0.0f && v <= 1.0f; };
  const auto seconds = [](double v, double hi) { return std::isfinite(v) && v >= 0.0 && v <= hi; };
  if (!fraction(p.min_score)) return std::pair{"people.min_score", fmt::format("{} is not in [0, 1]", p.min_score)};
  if (p.threshold && !fraction(*p.threshold))
    return std::pair{"people.threshold", fmt::format("{} is not in [0, 1] (or auto)", *p.threshold)};
  if (!seconds(p.confirm_s, 3600.0))
    return std::pair{"people.confirm_s", fmt::format("{} is not in [0, 3600] seconds", p.confirm_s)};
  if (!std::isfinite(p.min_face_px) || p.min_face_px < 0.0f || p.min_face_px > 10000.0f)
    return std::pair{"people.min_face_px", fmt::format("{} is not in [0, 10000] pixels", p.min_face_px)};
  if (!std::isfinite(p.stationary_tolerance) || p.stationary_tolerance <= 0.0f || p.stationary_tolerance > 1.0f)
    return std::pair{"people.stationary_tolerance", fmt::format("{} is not in (0, 1]", p.stationary_tolerance)};
  if (!seconds(p.stationary_s, 86400.0))
    return std::pair{"people.stationary_s", fmt::format("{} is not in [0, 86400] seconds (0: off)", p.stationary_s)};
  for (std::size_t i = 0; i < p.ignore_zones.size(); ++i) {
    const Zone& zone = p.ignore_zones[i];
    if (zone.size() < 3)
      return std::pair{"people.ignore_zones",
                       fmt::format("zone {} has {} point(s); a zone needs at least 3", i + 1, zone.size())};
    for (const cv::Point2f& point : zone) {
      if (!fraction(point.x) || !fraction(point.y))
        return std::pair{"people.ignore_zones",
                         fmt::format("zone {}: point ({}, {}) is not in [0, 1] x [0, 1]", i + 1, point.x, point.y)};
    }
  }
  if (!seconds(p.state_hold_s, 3600.0))
    return std::pair{"people.state_hold_s", fmt::format("{} is not in [0, 3600] seconds", p.state_hold_s)};
  if (!seconds(p.state_smoothing_s, 60.0))
    return std::pair{"people.state_smoothing_s", fmt::format("{} is not in [0, 60] seconds", p.state_smoothing_s)};
  if (!seconds(p.alerts.min_seen_s, 86400.0))
    return std::pair{"people.alerts.min_seen_s", fmt::format("{} is not in [0, 86400] seconds", p.alerts.min_seen_s)};
  if (!seconds(p.alerts.cooldown_s, 86400.0))
    return std::pair{"people.alerts.cooldown_s", fmt::format("{} is not in [0, 86400] seconds", p.alerts.cooldown_s)};
  return std::nullopt;
}

/// The first bad value of a config: (key, what is wrong).
std::optional<std::pair<std::string, std::string>> first_problem(const Config& config) {
  const auto& d = config.detector;
  if (!std::isfinite(d.score_threshold) || d.score_threshold < 0.0f || d.score_threshold > 1.0f)
    return std::pair{"detector.score_threshold", fmt::format("{} is not in [0, 1]", d.score_threshold)};
  if (!std::isfinite(d.nms_threshold) || d.nms_threshold <= 0.0f || d.nms_threshold > 1.0f)
    return std::pair{"detector.nms_threshold", fmt::format("{} is not in (0, 1]", d.nms_threshold)};
  if (d.tiles < 1 || d.tiles > 4) return std::pair{"detector.tiles", fmt::format("{} is not in 1..4", d.tiles)};
  if (d.tiles > 1 && d.backend == DetectorBackend::blazeface_front)
    return std::pair{"detector.tiles", std::string("tiling is only available with backends blazeface_back and yunet")};
  if (!std::isfinite(d.min_face_px) || d.min_face_px < 0.0f)
    return std::pair{"detector.min_face_px", fmt::format("{} is negative", d.min_face_px)};
  if (d.max_faces < 0 || d.max_faces > 100000)
    return std::pair{"detector.max_faces", fmt::format("{} is not in 0..100000 (0 = no cap)", d.max_faces)};
  for (const auto& [key, value] :
       {std::pair{"detector.box_scale_x", d.box_scale_x}, {"detector.box_scale_y", d.box_scale_y}})
    if (!std::isfinite(value) || value <= 0.0f || value > 4.0f)
      return std::pair{std::string(key), fmt::format("{} is not in (0, 4]", value)};
  for (const auto& [key, value] :
       {std::pair{"detector.box_shift_x", d.box_shift_x}, {"detector.box_shift_y", d.box_shift_y}})
    if (!std::isfinite(value) || value < -1.0f || value > 1.0f)
      return std::pair{std::string(key), fmt::format("{} is not in [-1, 1]", value)};
  if (d.backend == DetectorBackend::yunet) {
    if (d.input_size != 0 && (d.input_size < 64 || d.input_size > 4096))
      return std::pair{"detector.input_size", fmt::format("{} is not 0 (default 640) or in 64..4096", d.input_size)};
  } else {
    const int fixed = d.backend == DetectorBackend::blazeface_front ? 128
                      : d.backend == DetectorBackend::mask_detector ? 512
                                                                    : 256;
    if (d.input_size != 0 && d.input_size != fixed)
      return std::pair{"detector.input_size",
                       fmt::format("{} is fixed at {} for {} (use 0)", d.input_size, fixed, to_string(d.backend))};
  }
  if (config.threads < 0 || config.threads > 256)
    return std::pair{"threads", fmt::format("{} is not in 0..256", config.threads)};
  return people_problem(config.people);
}

/// The node of a dotted key ("detector.tiles") in a parsed config; std::nullopt when the file lacks it.
std::optional<YAML::Node> find_key(const YAML::Node& node, std::string_view dotted) {
  if (!node.IsMap()) return std::nullopt;
  const auto dot = dotted.find('.');
  const std::string_view part = dotted.substr(0, dot);
  for (const auto& item : node) {
    if (!item.first.IsScalar() || item.first.Scalar() != part) continue;
    if (dot == std::string_view::npos) return item.second;
    return find_key(item.second, dotted.substr(dot + 1));
  }
  return std::nullopt;
}

void apply_detector(std::string_view origin, const YAML::Node& map, DetectorConfig& d,
                    const std::filesystem::path& base_dir) {
  expect_map(origin, map, "detector");
  std::set<std::string> seen;
  // A file that changes the back end gets that back end's tuning (input size, max_faces, box calibration)
  // first; the other keys of the file then apply over it, whatever their order.
  if (const YAML::Node backend = map["backend"]; backend) {
    const DetectorBackend chosen = parse_backend(origin, backend, "detector.backend");
    if (chosen != d.backend) {
      d.tiles = 1;
      apply_tuning(d, chosen);
    }
  }
  for (const auto& item : map) {
    const auto key = key_of(origin, item.first, "detector.", seen);
    const auto full = "detector." + key;
    const YAML::Node& v = item.second;
    if (key == "backend")
      d.backend = parse_backend(origin, v, full);
    else if (key == "model")
      d.model = resolve_path(read_value<std::string>(origin, v, full, "a path"), base_dir);
    else if (key == "input_size")
      d.input_size = read_value<int>(origin, v, full, "an integer");
    else if (key == "score_threshold")
      d.score_threshold = read_value<float>(origin, v, full, "a number");
    else if (key == "nms_threshold")
      d.nms_threshold = read_value<float>(origin, v, full, "a number");
    else if (key == "tiles")
      d.tiles = read_value<int>(origin, v, full, "an integer");
    else if (key == "min_face_px")
      d.min_face_px = read_value<float>(origin, v, full, "a number");
    else if (key == "max_faces")
      d.max_faces = read_value<int>(origin, v, full, "an integer");
    else if (key == "box_scale_x")
      d.box_scale_x = read_value<float>(origin, v, full, "a number");
    else if (key == "box_scale_y")
      d.box_scale_y = read_value<float>(origin, v, full, "a number");
    else if (key == "box_shift_x")
      d.box_shift_x = read_value<float>(origin, v, full, "a number");
    else if (key == "box_shift_y")
      d.box_shift_y = read_value<float>(origin, v, full, "a number");
    else if (key == "add_mask_detector")
      d.add_mask_detector = read_value<bool>(origin, v, full, "true or false");
    else
      config_error(origin, item.first, full,
                   "unknown key (known: backend, model, input_size, score_threshold, nms_threshold, tiles, "
                   "min_face_px, max_faces, box_scale_x, box_scale_y, box_shift_x, box_shift_y, add_mask_detector)");
  }
}

void apply_classifier(std::string_view origin, const YAML::Node& map, ClassifierConfig& c,
                      const std::filesystem::path& base_dir) {
  expect_map(origin, map, "classifier");
  std::set<std::string> seen;
  for (const auto& item : map) {
    const auto key = key_of(origin, item.first, "classifier.", seen);
    const auto full = "classifier." + key;
    if (key == "card")
      c.card = resolve_path(read_value<std::string>(origin, item.second, full, "a path"), base_dir);
    else
      config_error(origin, item.first, full, "unknown key (known: card)");
  }
}

/// A zone in a config file: the text form of parse_zone, or a list of [x, y] pairs.
Zone read_zone(std::string_view origin, const YAML::Node& node, std::string_view key) {
  if (node.IsScalar()) {
    try {
      return parse_zone(node.Scalar());
    } catch (const Error& e) {
      config_error(origin, node, key, e.what());
    }
  }
  if (!node.IsSequence())
    config_error(origin, node, key, "expected a zone: \"x,y, x,y, x,y, ...\" or a list of [x, y] pairs");
  Zone zone;
  for (const auto& point : node) {
    if (!point.IsSequence() || point.size() != 2)
      config_error(origin, point, key, "expected a point [x, y] (normalised coordinates in [0, 1])");
    const auto x = read_value<float>(origin, point[0], key, "a number in [0, 1]");
    const auto y = read_value<float>(origin, point[1], key, "a number in [0, 1]");
    if (!(x >= 0.0f && x <= 1.0f && y >= 0.0f && y <= 1.0f))
      config_error(origin, point, key, fmt::format("point [{}, {}] is not in [0, 1] x [0, 1]", x, y));
    zone.emplace_back(x, y);
  }
  if (zone.size() < 3)
    config_error(origin, node, key, fmt::format("a zone needs at least 3 points, got {}", zone.size()));
  return zone;
}

MaskLabel read_label(std::string_view origin, const YAML::Node& node, std::string_view key) {
  const auto name = read_value<std::string>(origin, node, key, "a label");
  const auto label = parse_label(name);
  if (!label)
    config_error(origin, node, key, fmt::format("unknown label '{}' (expected mask, no_mask or incorrect)", name));
  return *label;
}

void apply_alerts(std::string_view origin, const YAML::Node& map, AlertConfig& a) {
  expect_map(origin, map, "people.alerts");
  std::set<std::string> seen;
  for (const auto& item : map) {
    const auto key = key_of(origin, item.first, "people.alerts.", seen);
    const auto full = "people.alerts." + key;
    const YAML::Node& v = item.second;
    if (key == "labels") {
      if (!v.IsSequence()) config_error(origin, v, full, "expected a list of labels, e.g. [no_mask, incorrect]");
      a.labels.fill(false);
      for (const auto& label : v) a.labels[static_cast<std::size_t>(read_label(origin, label, full))] = true;
    } else if (key == "min_seen_s") {
      a.min_seen_s = read_value<double>(origin, v, full, "a number of seconds");
    } else if (key == "cooldown_s") {
      a.cooldown_s = read_value<double>(origin, v, full, "a number of seconds");
    } else {
      config_error(origin, item.first, full, "unknown key (known: labels, min_seen_s, cooldown_s)");
    }
  }
}

void apply_people(std::string_view origin, const YAML::Node& map, PeopleConfig& p) {
  expect_map(origin, map, "people");
  std::set<std::string> seen;
  for (const auto& item : map) {
    const auto key = key_of(origin, item.first, "people.", seen);
    const auto full = "people." + key;
    const YAML::Node& v = item.second;
    if (key == "min_score")
      p.min_score = read_value<float>(origin, v, full, "a number");
    else if (key == "threshold") {
      if (v.IsScalar() && v.Scalar() == "auto")
        p.threshold.reset();
      else
        p.threshold = read_value<float>(origin, v, full, "a number or auto");
    } else if (key == "confirm_s")
      p.confirm_s = read_value<double>(origin, v, full, "a number of seconds");
    else if (key == "min_face_px")
      p.min_face_px = read_value<float>(origin, v, full, "a number of pixels");
    else if (key == "stationary_tolerance")
      p.stationary_tolerance = read_value<float>(origin, v, full, "a number");
    else if (key == "stationary_s")
      p.stationary_s = read_value<double>(origin, v, full, "a number of seconds");
    else if (key == "count_stationary")
      p.count_stationary = read_value<bool>(origin, v, full, "true or false");
    else if (key == "ignore_zones") {
      if (!v.IsSequence()) config_error(origin, v, full, "expected a list of zones");
      p.ignore_zones.clear();
      for (const auto& zone : v) p.ignore_zones.push_back(read_zone(origin, zone, full));
    } else if (key == "state_hold_s")
      p.state_hold_s = read_value<double>(origin, v, full, "a number of seconds");
    else if (key == "state_smoothing_s")
      p.state_smoothing_s = read_value<double>(origin, v, full, "a number of seconds");
    else if (key == "alerts")
      apply_alerts(origin, v, p.alerts);
    else
      config_error(origin, item.first, full,
                   "unknown key (known: min_score, threshold, confirm_s, min_face_px, stationary_tolerance, "
                   "stationary_s, count_stationary, ignore_zones, state_hold_s, state_smoothing_s, alerts)");
  }
}

[[noreturn]] void invalid(std::string_view key, std::string_view what) {
  throw Error(Errc::invalid_config, fmt::format("config key '{}': {}", key, what));
}

}  // namespace

Zone parse_zone(std::string_view text) {
  auto bad = [text](std::string_view what) {
    throw Error(Errc::invalid_config, fmt::format("ignore zone '{}': {}", text, what));
  };
  std::vector<float> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string part(text.substr(start, comma - start));
    std::erase_if(part, [](char c) { return c == ' ' || c == '\t'; });
    if (part.empty())
      bad(fmt::format("value {} is empty (expected comma-separated x,y pairs, e.g. \"0.7,0, 1,0, 1,0.3\")",
                      values.size() + 1));
    float value = 0.0f;
    std::size_t used = 0;
    try {
      value = std::stof(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size()) bad(fmt::format("'{}' is not a number", part));
    if (!(value >= 0.0f && value <= 1.0f))
      bad(fmt::format("{} is not in [0, 1] (coordinates are fractions of the frame's width and height)", part));
    values.push_back(value);
    start = comma + 1;
  }
  if (values.size() % 2 != 0) bad(fmt::format("{} values: expected x,y pairs (an even count)", values.size()));
  if (values.size() < 6) bad(fmt::format("{} point(s): a zone needs at least 3", values.size() / 2));
  Zone zone;
  for (std::size_t i = 0; i < values.size(); i += 2) zone.emplace_back(values[i], values[i + 1]);
  return zone;
}

std::string to_string(const Zone& zone) {
  std::string text;
  for (const cv::Point2f& p : zone) text += fmt::format("{}{},{}", text.empty() ? "" : ", ", p.x, p.y);
  return text;
}

std::string_view to_string(DetectorBackend backend) noexcept {
  return kBackendNames[static_cast<std::size_t>(backend)];
}

std::vector<std::string> preset_names() { return {"default", "webcam", "crowd", "mask_detector"}; }

namespace {

// Caps the faces classified per frame (docs/performance.md, "Classify only the faces that can matter").
constexpr int kMaxFaces = 100;

// Box calibration (docs/results.md, "Box calibration across sources"): chosen on the VAL splits of both
// detection sources (andrewmvd's tight face boxes, moxa3k's head boxes) by the worst source's gain in face
// AP@0.5 over no calibration (tests/tools/box_calibration_worst.py), so that it is fitted to neither
// annotation style. A fit to andrewmvd alone (the values before issue 18) lost .10 face AP@0.5 on moxa3k.

// YuNet 2022mar as the presets use it. Input size: docs/results.md.
void use_yunet(DetectorConfig& d, int long_side) {
  d.backend = DetectorBackend::yunet;
  d.add_mask_detector = false;
  d.input_size = long_side;
  d.max_faces = kMaxFaces;
  // Val face AP@0.5: andrewmvd .731 -> .766, moxa3k .336 -> .367 (both +.03); its boxes are narrow and high.
  d.box_scale_x = 1.2f;
  d.box_scale_y = 0.95f;
  d.box_shift_x = 0.0f;
  d.box_shift_y = 0.125f;
}

void use_blazeface_back(DetectorConfig& d) {
  d.backend = DetectorBackend::blazeface_back;
  d.add_mask_detector = false;
  d.input_size = 0;
  d.max_faces = kMaxFaces;
  // Val face AP@0.5: andrewmvd .361 -> .378, moxa3k .196 -> .213 (both +.017).
  d.box_scale_x = 0.95f;
  d.box_scale_y = 1.25f;
  d.box_shift_x = 0.0f;
  d.box_shift_y = 0.1f;
}

void use_blazeface_front(DetectorConfig& d) {
  d.backend = DetectorBackend::blazeface_front;
  d.add_mask_detector = false;
  d.input_size = 0;
  d.max_faces = kMaxFaces;  // box calibration not fitted (it finds too few andrewmvd faces to fit on)
  d.box_scale_x = 1.0f;
  d.box_scale_y = 1.0f;
  d.box_shift_x = 0.0f;
  d.box_shift_y = 0.0f;
}

// The project's own detector (docs/detector.md). Its scores are sqrt(class x centerness), lower than
// BlazeFace's or YuNet's for the same face: 0.3 (5.7 faces per andrewmvd test image) costs about a fifth of
// the classifier work of 0.05 for 0.02 less mAP@0.5 with the classifier (0.621 vs 0.643). Boxes are not
// calibrated: it was trained on the datasets' own boxes.
void use_mask_detector(DetectorConfig& d) {
  d.backend = DetectorBackend::mask_detector;
  d.add_mask_detector = false;
  d.input_size = 0;
  // 0.2.0's operating point: the face threshold with the best worst-source face F1 on the val splits (andrewmvd
  // at IoU 0.5, moxa3k at IoU 0.3): 0.3 gives .543 / .420 (two detections per face), 0.45 .762 / .721, 0.5
  // .763 / .730, 0.55 .716 / .689 (docs/results.md, "Operating point of the own detector").
  d.score_threshold = 0.5f;
  d.nms_threshold = 0.45f;
  d.max_faces = kMaxFaces;
  d.box_scale_x = 1.0f;
  d.box_scale_y = 1.0f;
  d.box_shift_x = 0.0f;
  d.box_shift_y = 0.0f;
}

constexpr int kDefaultYuNetSide = 640;
// 960 and 1280 lose large faces; 2x2 tiles (detector.tiles) raise the AP of faces under 32 px but cost
// about 4x the detector time, which would break crowd's 30 fps target (docs/results.md, "Small faces").
constexpr int kCrowdYuNetSide = 640;

}  // namespace

void apply_tuning(DetectorConfig& detector, DetectorBackend backend) {
  switch (backend) {
    case DetectorBackend::blazeface_front:
      use_blazeface_front(detector);
      return;
    case DetectorBackend::blazeface_back:
      use_blazeface_back(detector);
      return;
    case DetectorBackend::yunet:
      use_yunet(detector, kDefaultYuNetSide);
      return;
    case DetectorBackend::mask_detector:
      use_mask_detector(detector);
      return;
  }
}

PresetChoice resolve_preset(std::string_view name) {
  PresetChoice choice;
  DetectorConfig& d = choice.config.detector;
  if (name == "default") {
    // The best detector that is installed: YuNet when its model is on the search path (it is not in any
    // package registry, so a fresh install may lack it), otherwise the project's own detector, which the package
    // ships. On the val splits, worst source: YuNet .575, own detector 0.2.0 .448 (at its 0.5), BlazeFace back .354; on
    // the shared clips the own detector holds the people-count target with its people threshold (docs/results.md,
    // "Which detector without YuNet").
    try {
      const std::filesystem::path yunet = find_model(kYuNetFile);
      use_yunet(d, kDefaultYuNetSide);
      choice.description = fmt::format("YuNet 2022mar (long side {}): {} found in {}", d.input_size, kYuNetFile,
                                       yunet.parent_path().string());
    } catch (const Error& e) {
      if (e.code() != Errc::model_not_found) throw;
      use_mask_detector(d);
      choice.description = fmt::format(
          "the project's mask detector (512x512): {} is not on the model search path, so the default preset "
          "uses the shipped detector",
          kYuNetFile);
      choice.fallback = true;
      choice.hint = "maskdetect models fetch yunet";
    }
    return choice;
  }
  if (name == "webcam") {
    // Near faces: BlazeFace front finds 95% of faces over 96 px at a quarter of the back model's cost.
    use_blazeface_front(d);
    choice.description = "BlazeFace front (128x128): the webcam preset";
    return choice;
  }
  if (name == "crowd") {
    // Small faces: YuNet has the best recall measured on andrewmvd (docs/results.md).
    use_yunet(d, kCrowdYuNetSide);
    choice.description = fmt::format("YuNet 2022mar (long side {}): the crowd preset", d.input_size);
    return choice;
  }
  if (name == "mask_detector") {
    // The project's own detector in front of the classifier (docs/detector.md): shipped in the package,
    // between BlazeFace back and YuNet on andrewmvd's test split.
    use_mask_detector(d);
    choice.description = "the project's mask detector (512x512): the mask_detector preset";
    return choice;
  }
  throw Error(Errc::invalid_config,
              fmt::format("unknown preset '{}' (known: default, webcam, crowd, mask_detector)", name));
}

Config preset(std::string_view name) { return resolve_preset(name).config; }

Config parse_config(std::string_view yaml, std::string_view origin, const Config& base,
                    const std::filesystem::path& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_config, fmt::format("{}: not valid YAML: {}", origin, e.what()));
  }
  Config config = base;
  if (root.IsNull()) return config;
  if (!root.IsMap()) throw Error(Errc::invalid_config, fmt::format("{}: expected a mapping of keys", origin));
  std::set<std::string> seen;
  for (const auto& item : root) {
    const auto key = key_of(origin, item.first, "", seen);
    if (key == "detector")
      apply_detector(origin, item.second, config.detector, base_dir);
    else if (key == "classifier")
      apply_classifier(origin, item.second, config.classifier, base_dir);
    else if (key == "threads")
      config.threads = read_value<int>(origin, item.second, key, "an integer");
    else if (key == "people")
      apply_people(origin, item.second, config.people);
    else
      config_error(origin, item.first, key, "unknown key (known: detector, classifier, people, threads)");
  }
  if (const auto problem = first_problem(config)) {
    const auto& [key, what] = *problem;
    if (const auto node = find_key(root, key)) config_error(origin, *node, key, what);
    // The value comes from the base (preset) but conflicts with a key of this file.
    throw Error(Errc::invalid_config,
                fmt::format("{}: key '{}': {} (value from the preset; set it in this file)", origin, key, what));
  }
  return config;
}

Config load_config(const std::filesystem::path& path, const Config& base) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(Errc::invalid_config, fmt::format("{}: is a folder, not a config file", path.string()));
  std::ifstream in(path);
  if (!in) throw Error(Errc::invalid_config, fmt::format("{}: cannot read config file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path.string(), base, path.parent_path());
}

void validate(const Config& config) {
  if (const auto problem = first_problem(config)) invalid(problem->first, problem->second);
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "detector" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "backend" << YAML::Value << std::string(to_string(config.detector.backend));
  out << YAML::Key << "model" << YAML::Value << config.detector.model;
  out << YAML::Key << "input_size" << YAML::Value << config.detector.input_size;
  out << YAML::Key << "score_threshold" << YAML::Value << config.detector.score_threshold;
  out << YAML::Key << "nms_threshold" << YAML::Value << config.detector.nms_threshold;
  out << YAML::Key << "tiles" << YAML::Value << config.detector.tiles;
  out << YAML::Key << "min_face_px" << YAML::Value << config.detector.min_face_px;
  out << YAML::Key << "max_faces" << YAML::Value << config.detector.max_faces;
  out << YAML::Key << "box_scale_x" << YAML::Value << config.detector.box_scale_x;
  out << YAML::Key << "box_scale_y" << YAML::Value << config.detector.box_scale_y;
  out << YAML::Key << "box_shift_x" << YAML::Value << config.detector.box_shift_x;
  out << YAML::Key << "box_shift_y" << YAML::Value << config.detector.box_shift_y;
  out << YAML::Key << "add_mask_detector" << YAML::Value << config.detector.add_mask_detector;
  out << YAML::EndMap;
  out << YAML::Key << "classifier" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "card" << YAML::Value << config.classifier.card;
  out << YAML::EndMap;
  const PeopleConfig& p = config.people;
  out << YAML::Key << "people" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "min_score" << YAML::Value << p.min_score;
  if (p.threshold) {
    out << YAML::Key << "threshold" << YAML::Value << *p.threshold;
  } else {
    out << YAML::Key << "threshold" << YAML::Value << "auto";
  }
  out << YAML::Key << "confirm_s" << YAML::Value << p.confirm_s;
  out << YAML::Key << "min_face_px" << YAML::Value << p.min_face_px;
  out << YAML::Key << "stationary_tolerance" << YAML::Value << p.stationary_tolerance;
  out << YAML::Key << "stationary_s" << YAML::Value << p.stationary_s;
  out << YAML::Key << "count_stationary" << YAML::Value << p.count_stationary;
  out << YAML::Key << "ignore_zones" << YAML::Value << YAML::BeginSeq;
  for (const Zone& zone : p.ignore_zones) out << to_string(zone);
  out << YAML::EndSeq;
  out << YAML::Key << "state_hold_s" << YAML::Value << p.state_hold_s;
  out << YAML::Key << "state_smoothing_s" << YAML::Value << p.state_smoothing_s;
  out << YAML::Key << "alerts" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "labels" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const MaskLabel label : kAllLabels) {
    if (p.alerts.labels[static_cast<std::size_t>(label)]) out << std::string(to_string(label));
  }
  out << YAML::EndSeq;
  out << YAML::Key << "min_seen_s" << YAML::Value << p.alerts.min_seen_s;
  out << YAML::Key << "cooldown_s" << YAML::Value << p.alerts.cooldown_s;
  out << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "threads" << YAML::Value << config.threads;
  out << YAML::EndMap;
  return out.c_str();
}

}  // namespace maskdetect
