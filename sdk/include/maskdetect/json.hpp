// maskdetect/json.hpp - the one JSON shape of results, used by run, eval and serve.
//
//   {"image": "a.jpg" | "frame": 12, "t": 0.48, "time": "2026-12-03T06:00:00.480Z", "width": 640, "height": 480,
//    "faces": [{"box": [x, y, w, h], "face_score": 0.97, "label": "mask", "score": 0.99, "confidence": 0.9603,
//               "track_id": 3, "person_state": "mask", "probs": {"mask": 0.99, "no_mask": 0.01, "incorrect": 0.0},
//               "landmarks": [[x, y], ...]}],
//    "timing_ms": {"detect": 3.1, "classify": 0.4}}
//
// Boxes are in pixels of the original frame. `landmarks` is present when the detector gives them. Video
// frames carry `t` (seconds from the start of the source); live sources also `time` (wall clock, ISO 8601
// UTC). `track_id` (the person id) and `person_state` (the person's current state, people.hpp; `label` stays the
// frame's own decision) are present on faces of a counted person (Face::counted).
// Video frames that raised person events (people.hpp) may carry them: "events": [{"event": "alert", "t": 3.2,
// "person_id": 2, "label": "no_mask", "previous_state": "mask", "mask_removed": true, "state": "no_mask",
// "state_since": 2.7, "box": [x, y, w, h], "box_t": 3.2, "width": 640, "height": 480, "first_seen": 0.4,
// "last_seen": 3.2, "seen_s": 2.8, "median_face_score": 0.91, "face_px": 96.5, "stationary": false,
// "vote": "mask", "vote_confidence": 0.7, "seconds": {"mask": 2.3, "no_mask": 0.5, "incorrect": 0.0},
// "longest": "mask", "mask_removals": 1}, ...]; `ended` events add "states": [[start, end, state], ...].
// `confidence` = face_score x score: the detection's confidence, what `maskdetect eval` ranks by (and what a
// COCO results file's "score" holds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "maskdetect/people.hpp"
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
/// As above, with the person events the frame raised under "events" (none: no key).
[[nodiscard]] std::string to_json(const FrameResult& result, const FrameInfo& info, const JsonOptions& options,
                                  const std::vector<PersonEvent>& events);
/// One person event as a JSON object (no newline), the shape of the "events" entries above.
[[nodiscard]] std::string to_json(const PersonEvent& event);

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
