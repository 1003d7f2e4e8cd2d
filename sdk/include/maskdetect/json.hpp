// maskdetect/json.hpp - the one JSON shape of results, used by run, eval and serve.
//
//   {"image": "a.jpg" | "frame": 12, "t": 0.48, "time": "2026-12-03T06:00:00.480Z", "width": 640, "height": 480,
//    "faces": [{"box": [x, y, w, h], "face_score": 0.97, "label": "mask", "score": 0.99, "confidence": 0.9603,
//               "track_id": 3, "probs": {"mask": 0.99, "no_mask": 0.01, "incorrect": 0.0},
//               "landmarks": [[x, y], ...]}],
//    "timing_ms": {"detect": 3.1, "classify": 0.4}}
//
// Boxes are in pixels of the original frame. `landmarks` is present when the detector gives them. Video
// frames carry `t` (seconds from the start of the source); live sources also `time` (wall clock, ISO 8601
// UTC). `track_id` is present on faces of a tracked person (Face::track_id >= 0).
// `confidence` = face_score x score: the detection's confidence, what `maskdetect eval` ranks by (and what a
// COCO results file's "score" holds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "maskdetect/types.hpp"

namespace maskdetect {

/// Which input a result belongs to: an image file name, or a frame index of a video or camera.
struct FrameInfo {
  std::optional<std::string> image;
  std::optional<std::int64_t> frame;
  std::optional<double> t;          ///< video: seconds from the start of the source
  std::optional<std::string> time;  ///< live sources: wall-clock time of the frame, ISO 8601 UTC
};

struct JsonOptions {
  bool landmarks = true;
  bool timing = true;
};

/// One line of JSON (no newline) for a frame's result.
[[nodiscard]] std::string to_json(const FrameResult& result, const FrameInfo& info, const JsonOptions& options = {});

/// A frame's result read back from JSON (e.g. another system's detections for `eval --predictions`).
struct FrameRecord {
  FrameInfo info;
  FrameResult result;
  /// Faces without `face_score` but with `confidence` (face_score x score): face_score is set from it.
  std::size_t faces_ranked_by_confidence = 0;
  /// Faces with neither (another system's output): face_score is taken as 1, so they rank by `score` alone.
  std::size_t faces_ranked_by_score = 0;
};

/// Parses one JSON object of the shape above; `probs` and `landmarks` are optional. Throws
/// Error(bad_input) naming `origin` and the offending field.
[[nodiscard]] FrameRecord frame_from_json(std::string_view json, std::string_view origin);

}  // namespace maskdetect
