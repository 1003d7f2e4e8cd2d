// app/summary.hpp - per-stage timing and the end-of-run summary: people per label and their compliance (video
// with tracking), face-frames per label, per-stage times; printed, and written as JSON by `run --summary FILE`.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "maskdetect/tracker.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect::app {

/// The stages of the read -> infer -> render -> write loop.
enum class Stage : std::uint8_t { decode = 0, detect, classify, draw, encode };
inline constexpr std::size_t kNumStages = 5;
[[nodiscard]] std::string_view to_string(Stage stage) noexcept;

/// Wall time since construction or the last restart().
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void restart() { start_ = std::chrono::steady_clock::now(); }
  [[nodiscard]] double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Totals over a run.
struct RunSummary {
  std::int64_t frames = 0;                                 ///< frames processed
  std::int64_t unreadable = 0;                             ///< image files that could not be decoded (skipped)
  std::array<std::int64_t, kNumLabels> faces_per_label{};  ///< face-frames: one per face per frame
  /// People (confirmed tracks) by voted label; set for tracked sources (video, camera, stream), empty for images.
  std::optional<PeopleCount> people;
  std::array<double, kNumStages> stage_total_ms{};
  std::array<std::int64_t, kNumStages> stage_count{};

  /// Counts a processed frame: its faces per label and its detect/classify times.
  void add_result(const FrameResult& result);
  void add_time(Stage stage, double ms);

  /// Face-frames (a person seen in 150 frames counts 150 times).
  [[nodiscard]] std::int64_t faces() const noexcept;
  /// mask face-frames / face-frames; empty when no face was seen.
  [[nodiscard]] std::optional<double> compliance() const noexcept;
  [[nodiscard]] double mean_ms(Stage stage) const noexcept;

  /// Human-readable lines, each starting with "summary: ", e.g.
  ///   summary: frames 6, unreadable 0
  ///   summary: people 3 (mask 2, no_mask 1, incorrect 0), compliance 66.7% (masked people / people)
  ///   summary: face-frames 23 (mask 18, no_mask 4, incorrect 1), compliance per face-frame 78.3%
  ///   summary: mean ms per frame: decode 3.10, detect 18.20, classify 1.00, draw 0.30, encode 4.20
  /// (the people line only when `people` is set).
  [[nodiscard]] std::string format() const;

  /// The JSON written by `run --summary FILE`:
  ///   {"people": {"total", "mask", "no_mask", "incorrect"} | null, "compliance": masked people / people | null,
  ///    "frames", "unreadable", "faces": {"total", "mask", "no_mask", "incorrect"} (face-frames),
  ///    "face_frame_compliance", "mean_ms": {"decode", "detect", "classify", "draw", "encode"}}
  [[nodiscard]] nlohmann::ordered_json to_json() const;
};

}  // namespace maskdetect::app
