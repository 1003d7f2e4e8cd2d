// app/tracking.hpp - what `run` does per frame: detection, or detection + tracking for video sources, and the
// frame's place in time (t, and the wall clock for live sources).
#pragma once

#include <chrono>
#include <optional>

#include "maskdetect/detector.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/people.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::app {

/// Tracking applies to video files, cameras and streams; image sources (unrelated stills) are never tracked
/// across files, and --detect-every does not apply to them.
class RunTracking {
 public:
  /// `detect_every` >= 1 (Error(invalid_config) otherwise).
  RunTracking(Detector& detector, const video::FrameSource& source, int detect_every);

  /// Detects (and tracks) one frame; `info` gets the image name or the frame index, `t` and `time`.
  [[nodiscard]] FrameResult process(const video::Frame& frame, FrameInfo& info);

  [[nodiscard]] bool tracking() const noexcept { return tracking_; }
  /// The person events (people.hpp) the latest process() or finish() raised; empty when not tracking.
  [[nodiscard]] const std::vector<PersonEvent>& events() const;
  /// The end of the run: everyone still tracked ends (their `ended` events in events()). Not tracking: nothing.
  void finish();
  /// People so far (by the label each held longest, removals, alerts); empty when not tracking.
  [[nodiscard]] std::optional<PeopleSummary> people() const;

 private:
  Detector& detector_;
  bool tracking_ = false;
  bool live_ = false;
  double fps_ = 0.0;
  double last_t_ = 0.0;
  std::optional<std::chrono::steady_clock::time_point> start_;
};

/// `tp` as ISO 8601 UTC with milliseconds: "2026-12-03T06:00:00.480Z".
[[nodiscard]] std::string iso8601_utc(std::chrono::system_clock::time_point tp);

}  // namespace maskdetect::app
