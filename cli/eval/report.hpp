// eval/report.hpp - the outputs of `maskdetect eval`: terminal table, JSON, HTML report with PNG plots.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/evaluate.hpp"

namespace maskdetect::eval {

/// What was evaluated, for the headers of every output.
struct RunInfo {
  std::string command;     ///< the command line
  std::string system;      ///< "detector blazeface_back (input 256, threshold 0.5) + classifier X 1.0" or
                           ///< "predictions FILE"
  std::string dataset;     ///< folder
  std::string split;       ///< split file or ""
  std::size_t images = 0;  ///< images scored
  double seconds = 0.0;    ///< detector pass wall time (0 for predictions)
  std::string ranking = "face_score x score";  ///< what detections are ranked by for AP (detection)
};

/// The detections as a standard COCO detection-results array: one {"image_id", "category_id",
/// "bbox": [x, y, w, h], "score"} per face of every scored image, score = face_score x score (the JSON's
/// `confidence`, what eval ranks by). image_id is the COCO file's id (other formats: Sample::image_id),
/// category_id the dataset's category of the label (Dataset::category_ids).
[[nodiscard]] nlohmann::json coco_results(const Evaluation& eval);

/// Counts of dataset issues by kind, then the first `max_listed` by name.
[[nodiscard]] std::string format_issues(const Dataset& dataset, std::size_t max_listed);

/// The terminal table: headline figures, per-class rows, confusion matrix, size buckets.
[[nodiscard]] std::string format_table(const Evaluation& eval, const RunInfo& info);

/// Headline keys map50, map50_95, macro_f1, accuracy (null where not applicable) beside the detail.
[[nodiscard]] nlohmann::json to_json(const Evaluation& eval, const RunInfo& info);

/// index.html with the tables, pr_<class>.png, pr_face.png, confusion.png and gallery images in `dir`.
/// `max_gallery` images of each kind (worst misses, worst false alarms). Throws Error(io).
void write_html_report(const Evaluation& eval, const RunInfo& info, const std::filesystem::path& dir,
                       std::size_t max_gallery = 12);

}  // namespace maskdetect::eval
