// eval/evaluate.hpp - runs a detector (or reads another system's predictions) over a dataset and scores it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/dataset.hpp"
#include "eval/metrics.hpp"
#include "maskdetect/config.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect::eval {

/// Predictions read from a JSON Lines file in the SDK's JSON shape (maskdetect/json.hpp), by image name.
struct Predictions {
  std::map<std::string, FrameResult> by_name;                                   ///< "image" as written in the file
  [[nodiscard]] const FrameResult* find(const std::string& sample_name) const;  ///< by name, file name or stem
  std::size_t faces = 0;                                                        ///< faces in the file
  std::size_t faces_ranked_by_confidence = 0;                                   ///< without face_score, with confidence
  std::size_t faces_ranked_by_score = 0;                                        ///< with neither: ranked by score alone
  /// How detections are ranked for AP: "face_score x score", "score alone (no face_score)", or a mix.
  [[nodiscard]] std::string ranking() const;
};

/// Parses JSON Lines predictions text; each non-blank line is one frame with an "image" name. Throws
/// Error(bad_input) naming `origin`:line for a line that is not valid JSON of that shape (numbers out of
/// range included), lacks "image", or repeats an image.
[[nodiscard]] Predictions parse_predictions(std::string_view text, std::string_view origin);

/// parse_predictions on a file. Throws Error(bad_input) when it cannot be read.
[[nodiscard]] Predictions read_predictions(const std::filesystem::path& path);

/// Called from the calling thread with the number of images done so far.
using ProgressFn = std::function<void(std::size_t done)>;

/// Per sample: the detector's result, or std::nullopt when the image could not be decoded.
/// `workers` threads each decode images (cv::imread) and run their own Detector.
[[nodiscard]] std::vector<std::optional<FrameResult>> run_detector(const std::vector<Sample>& samples,
                                                                   const Config& config, float run_threshold,
                                                                   int workers, const ProgressFn& progress);

/// Classification datasets: the shipped classifier on each whole image (the box is the whole image, as
/// in training). std::nullopt for an undecodable image.
[[nodiscard]] std::vector<std::optional<LabelProbs>> run_classifier(const std::vector<Sample>& samples,
                                                                    const ClassifierConfig& config, int workers,
                                                                    const ProgressFn& progress);

/// Everything one evaluation produced.
struct Evaluation {
  Dataset dataset;                          ///< samples with resolved pixel boxes
  std::vector<bool> scored;                 ///< per sample: part of the metrics
  std::vector<FrameResult> results;         ///< per sample (detection)
  std::vector<MaskLabel> predicted_labels;  ///< per sample (classification; only where scored)
  std::optional<DetectionMetrics> detection;
  std::optional<ClassificationMetrics> classification;
  std::vector<std::size_t> truth_sample;  ///< Truth index -> sample index
  std::vector<Truth> truths;
  std::vector<Detection> detections;
  double seconds = 0.0;  ///< wall time of the detector / classifier pass
};

/// Scores detection results (one per sample; std::nullopt: unreadable image, not scored) against a dataset.
/// Boxes are resolved against each image's size (from the result, or the annotation).
[[nodiscard]] Evaluation score_detection(Dataset dataset, const std::vector<std::optional<FrameResult>>& results,
                                         float operating_threshold);

/// Scores classification results against a folders dataset.
[[nodiscard]] Evaluation score_classification(Dataset dataset, const std::vector<std::optional<LabelProbs>>& results);

/// Per-sample results from a predictions file; samples without an entry get an empty result and a
/// `no_prediction` note. The image size comes from the annotation, the predictions file, or the image.
[[nodiscard]] std::vector<std::optional<FrameResult>> results_from_predictions(Dataset& dataset,
                                                                               const Predictions& predictions);

}  // namespace maskdetect::eval
