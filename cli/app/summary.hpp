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

#include "maskdetect/people.hpp"
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
  std::int64_t frames = 0;      ///< frames processed
  std::int64_t unreadable = 0;  ///< image files that could not be decoded (skipped)
  /// Face-frames: one per face per frame. On tracked sources only faces of counted people (Face::counted):
  /// faces that never became a person count nowhere.
  std::array<std::int64_t, kNumLabels> faces_per_label{};
  bool tracked = false;  ///< a tracked source (video, camera, stream): see faces_per_label
  /// People (people.hpp) by the label each held longest, mask removals, alerts; set for tracked sources,
  /// empty for images.
  std::optional<PeopleSummary> people;
  std::array<double, kNumStages> stage_total_ms{};
  std::array<std::int64_t, kNumStages> stage_count{};
  double wall_s = 0.0;  ///< wall-clock seconds of the whole run (first frame read to the last written)

  /// Counts a processed frame: its faces per label and its detect/classify times.
  void add_result(const FrameResult& result);
  /// Frames per second of the whole run (wall clock); 0 before wall_s is set.
  [[nodiscard]] double fps() const noexcept;
  void add_time(Stage stage, double ms);

  /// Face-frames (a person seen in 150 frames counts 150 times).
  [[nodiscard]] std::int64_t faces() const noexcept;
  /// mask face-frames / face-frames; empty when no face was seen.
  [[nodiscard]] std::optional<double> compliance() const noexcept;
  [[nodiscard]] double mean_ms(Stage stage) const noexcept;

  /// Human-readable lines, each starting with "summary: ", e.g.
  ///   summary: frames 6, unreadable 0
  ///   summary: people 3 (mask 2, no_mask 1, incorrect 0), compliance 66.7% (masked people / people, by the
  ///            label each held longest)
  ///   summary: mask removals 1; alerts 2 (no_mask 2, incorrect 0); tracks not counted 4 (weak 3, small 0,
  ///            stationary 1, brief 0)
  ///   summary: face-frames 23 (mask 18, no_mask 4, incorrect 1), compliance per face-frame 78.3%
  ///   summary: mean ms per frame: decode 3.10, detect 18.20, classify 1.00, draw 0.30, encode 4.20
  ///   summary: 6 frames in 0.41 s: 14.6 fps (wall clock)
  /// (the people lines only when `people` is set; each line is one line).
  [[nodiscard]] std::string format() const;

  /// The JSON written by `run --summary FILE`:
  ///   {"people": {"total", "mask", "no_mask", "incorrect"} (by the label held longest) | null,
  ///    "compliance": masked people / people | null, "people_by_vote": {...} | null, "mask_removals" | null,
  ///    "alerts": {"total", "mask", "no_mask", "incorrect"} | null,
  ///    "not_counted": {"total", "weak", "small", "stationary", "brief"} | null,
  ///    "frames", "unreadable", "faces": {"total", "mask", "no_mask", "incorrect"} (face-frames),
  ///    "face_frame_compliance", "mean_ms": {"decode", "detect", "classify", "draw", "encode"}, "wall_s", "fps"}
  [[nodiscard]] nlohmann::ordered_json to_json() const;
};

}  // namespace maskdetect::app
