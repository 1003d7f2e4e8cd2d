// maskdetect/types.hpp - plain value types that flow through the pipeline.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core/types.hpp>

namespace maskdetect {

/// Whether a face wears a mask. The numeric values index `Face::probs`.
enum class MaskLabel : std::uint8_t { mask = 0, no_mask = 1, incorrect = 2 };

inline constexpr std::size_t kNumLabels = 3;
inline constexpr std::array<MaskLabel, kNumLabels> kAllLabels{MaskLabel::mask, MaskLabel::no_mask,
                                                              MaskLabel::incorrect};

/// "mask", "no_mask" or "incorrect": the names used in JSON, configs and model cards.
[[nodiscard]] std::string_view to_string(MaskLabel label) noexcept;
/// Inverse of to_string(MaskLabel); std::nullopt for any other text.
[[nodiscard]] std::optional<MaskLabel> parse_label(std::string_view name) noexcept;

/// Probabilities indexed by MaskLabel (they sum to 1).
using LabelProbs = std::array<float, kNumLabels>;

/// One face as a face detector reports it, in pixels of the frame given to the detector.
struct FaceBox {
  cv::Rect2f box;                      ///< x, y, width, height
  float score = 0.0f;                  ///< detector confidence in [0, 1]
  std::vector<cv::Point2f> landmarks;  ///< empty, or the detector's keypoints (BlazeFace 6, YuNet 5)
};

/// One face with its mask decision.
struct Face {
  cv::Rect2f box;                        ///< in pixels of the original frame
  float face_score = 0.0f;               ///< detector confidence in [0, 1]
  std::vector<cv::Point2f> landmarks;    ///< as in FaceBox
  MaskLabel label = MaskLabel::no_mask;  ///< the most probable label
  float score = 0.0f;                    ///< probability of `label`
  LabelProbs probs{};                    ///< all label probabilities
  std::int64_t track_id = -1;            ///< video with tracking: the person (Tracker); -1 when not tracked
  /// Video with people (people.hpp): true for a face of a counted person (a track whose evidence is enough:
  /// median face score, time seen, size, not stationary, not started in an ignore zone); false otherwise.
  bool counted = false;
  /// Video with people: the person's current state (a label held long enough, with hysteresis) for a face of
  /// a counted person; nullopt otherwise. `label` stays this frame's own decision.
  std::optional<MaskLabel> person_state;

  /// Probability of `label`: probs[label], e.g. face.prob(MaskLabel::incorrect).
  [[nodiscard]] float prob(MaskLabel which) const noexcept { return probs[static_cast<std::size_t>(which)]; }
};

/// Wall time the SDK spent on one frame, per stage, in milliseconds.
struct StageTimes {
  double detect_ms = 0.0;
  double classify_ms = 0.0;
};

/// Everything detect() returns for one frame.
struct FrameResult {
  cv::Size frame_size;      ///< width and height of the frame
  std::vector<Face> faces;  ///< in descending face_score order
  StageTimes times;
};

}  // namespace maskdetect
