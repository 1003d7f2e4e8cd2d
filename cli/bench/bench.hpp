// bench/bench.hpp - `maskdetect bench`: per-stage latency, end-to-end frames per second with 1 and N
// threads, peak RSS, and the AIZOO peer measured on the same frames.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskdetect/config.hpp"

namespace maskdetect::bench {

struct BenchOptions {
  std::vector<std::filesystem::path> images;   ///< folders the frames are composed from
  int threads = 2;                             ///< N for the N-thread figures (>= 2)
  double seconds = 3.0;                        ///< wall time of each measurement
  std::string cases = "all";                   ///< webcam, crowd, video or all
  std::string yunet;                           ///< YuNet model file (empty: the model search path)
  std::optional<std::filesystem::path> aizoo;  ///< AIZOO model folder; nullopt: skip the peer
  ClassifierConfig classifier;                 ///< the classifier card (empty: the shipped one)
  int frames = 24;                             ///< distinct frames per case
};

/// Per-stage mean wall time in milliseconds (1 thread, sequential).
struct StageMs {
  double decode = 0.0;
  double detect = 0.0;
  double classify = 0.0;  ///< per frame (one batch of all its faces)
  double classify_per_face = 0.0;
  double classify_per_batch = 0.0;  ///< mean over frames with at least one face
  double draw = 0.0;
  double encode = 0.0;
};

struct CaseResult {
  std::string name;
  std::string detector;
  std::string recipe;
  int width = 0;
  int height = 0;
  double faces_placed = 0.0;    ///< faces composed into a frame, mean
  double faces_detected = 0.0;  ///< faces our detector found per frame, mean
  StageMs stages;               ///< wall time, 1 thread
  StageMs cpu;                  ///< thread CPU time, 1 thread (load-independent; detect/classify split by wall ratio)
  double cpu_ms_per_frame = 0.0;
  double ms_per_frame = 0.0;    ///< end to end, 1 thread: decode + detect + classify + draw + encode
  double fps_1t = 0.0;          ///< end to end, 1 thread
  double fps_pipelined = 0.0;   ///< N threads: decode thread + inference thread (OpenCV N-1 threads)
  double fps_cv_threads = 0.0;  ///< 1 pipeline thread, cv::setNumThreads(N)
  double fps_workers = 0.0;     ///< N whole pipelines in parallel, one model instance each, OpenCV 1 thread
  double fps = 0.0;             ///< the best of the N-thread figures
  double aizoo_fps_1t = 0.0;
  double aizoo_fps = 0.0;  ///< N threads, same scheme as `fps`; 0 when the peer was skipped
  double aizoo_faces = 0.0;
  double peak_rss_mb = 0.0;
  double classify_ms_per_face_batch8 = 0.0;
  double cpu_classify_ms_per_face_batch8 = 0.0;
  double aizoo_cpu_fps = 0.0;  ///< 1000 / AIZOO CPU ms per frame, 1 thread
  int threads = 2;
};

/// Runs the chosen cases; prints progress notes on stderr. Throws Error.
[[nodiscard]] std::vector<CaseResult> run_bench(const BenchOptions& options);

/// The terminal table (metrics as rows, cases as columns).
[[nodiscard]] std::string format_table(const std::vector<CaseResult>& results);

/// One object per case.
[[nodiscard]] nlohmann::json to_json(const std::vector<CaseResult>& results);

/// Peak resident set size of this process in MiB (VmHWM), and a reset of it (false if unsupported).
[[nodiscard]] double peak_rss_mb();
bool reset_peak_rss();

}  // namespace maskdetect::bench
