// eval/metrics.hpp - detection and classification metrics of `maskdetect eval`.
//
// Conventions (tested by hand-computed cases in tests/eval/test_eval_metrics.cpp):
// - Matching: per image and class, detections in descending score order (ties: input order) each take the
//   not-yet-matched ground-truth box with the highest IoU >= the threshold (COCO rule). A second detection
//   of an already matched face is a false positive.
// - Ties in score: the precision/recall curve gets one point per distinct score (all detections with that
//   score enter together), so AP does not depend on the order of tied detections.
// - AP@0.5: PASCAL VOC 2010+ all-point interpolation (area under the precision envelope).
//   COCO AP: 101 recall points 0, 0.01, ..., 1, precision envelope at each (0 beyond the last recall);
//   mAP@[.5:.95] averages IoU 0.50, 0.55, ..., 0.95. AP@0.3 is the same all-point AP at IoU 0.3: where a
//   set boxes whole heads (moxa3k) and a detector boxes faces, the same person matches at 0.3 but often not
//   at 0.5 (docs/results.md, "Two sources, two box styles").
// - A class with ground truth but no detection has AP 0 and counts in the mean. A class without ground
//   truth has no AP (NaN, "n/a") and is left out of the mean (as COCO does).
// - Two-stage systems: a face is one detection of its most probable label, scored face_score * score.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include <opencv2/core/types.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect::eval {

struct Detection {
  std::size_t image = 0;
  cv::Rect2f box;
  MaskLabel label = MaskLabel::mask;
  float score = 0.0f;       ///< ranking score for per-class AP
  float face_score = 0.0f;  ///< ranking score for class-agnostic face AP, and the operating threshold
};

struct Truth {
  std::size_t image = 0;
  cv::Rect2f box;
  MaskLabel label = MaskLabel::mask;
};

[[nodiscard]] float iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept;

/// Precision/recall after each distinct score (descending).
struct PrCurve {
  std::vector<double> recall;
  std::vector<double> precision;
  std::vector<float> score;
};

/// Area under the precision envelope (VOC all-point interpolation).
[[nodiscard]] double ap_all_point(const PrCurve& curve);
/// COCO 101-point interpolated AP.
[[nodiscard]] double ap_101_point(const PrCurve& curve);

/// The per-detection outcome of matching (true positive or not), in the order of `detections`.
/// Each truth is matched at most once. Boxes of different images never match. Labels are ignored:
/// filter by class first for class-aware matching.
[[nodiscard]] std::vector<bool> match(const std::vector<Detection>& detections, const std::vector<Truth>& truths,
                                      float iou_threshold, bool by_face_score = false,
                                      std::vector<int>* truth_of_detection = nullptr);

/// The PR curve of single-class detections against truths (scores: Detection::score, or face_score).
[[nodiscard]] PrCurve pr_curve(const std::vector<Detection>& detections, const std::vector<Truth>& truths,
                               float iou_threshold, bool by_face_score = false);

struct ApStats {
  double ap = 0.0;  ///< NaN when there is no ground truth
  std::size_t truths = 0;
  std::size_t detections = 0;
  PrCurve curve;
};

/// AP of single-class detections (all-point or 101-point).
[[nodiscard]] ApStats average_precision(const std::vector<Detection>& detections, const std::vector<Truth>& truths,
                                        float iou_threshold, bool coco101, bool by_face_score = false);

/// Mean of the non-NaN values; NaN when all are NaN.
[[nodiscard]] double nan_mean(const std::vector<double>& values);

inline constexpr std::size_t kNumBuckets = 3;  ///< small (< 32 px), medium, large (> 96 px): sqrt(area)
[[nodiscard]] std::size_t size_bucket(const cv::Rect2f& box) noexcept;
[[nodiscard]] const char* bucket_name(std::size_t bucket) noexcept;

/// AP (VOC all-point) of the truths of one size bucket, with COCO's area-range rule: truths of the other
/// buckets are ignored (a detection matched to one is neither a true nor a false positive; detections take
/// a truth of the bucket first), and so is an unmatched detection whose own box is outside the bucket.
/// Single-class (filter by class first); NaN when the bucket has no truth.
[[nodiscard]] ApStats bucket_average_precision(const std::vector<Detection>& detections,
                                               const std::vector<Truth>& truths, std::size_t bucket,
                                               float iou_threshold, bool by_face_score = false);

struct Prf {
  std::size_t tp = 0, predicted = 0, actual = 0;
  [[nodiscard]] double precision() const noexcept;
  [[nodiscard]] double recall() const noexcept;
  [[nodiscard]] double f1() const noexcept;
};

/// Per-image errors at the operating threshold, for the gallery.
struct ImageErrors {
  std::vector<std::size_t> missed;        ///< truth indices not matched by any face
  std::vector<std::size_t> wrong_label;   ///< truth indices matched by a face of another label
  std::vector<std::size_t> false_alarms;  ///< detection indices matching no truth
};

struct DetectionMetrics {
  std::array<ApStats, kNumLabels> ap50;      ///< per class, VOC all-point, IoU 0.5
  std::array<double, kNumLabels> ap50_95{};  ///< per class, COCO 101-point, mean over IoU .5:.95
  std::array<ApStats, kNumLabels> ap30;      ///< per class, VOC all-point, IoU 0.3
  double map50 = 0.0;
  double map50_95 = 0.0;
  double map30 = 0.0;
  ApStats face_ap50;             ///< class-agnostic, ranked by face_score
  ApStats face_ap30;             ///< the same at IoU 0.3
  double face_recall_all = 0.0;  ///< faces matched by any detection given (any score)
  float operating_threshold = 0.0f;
  std::array<Prf, kNumLabels> per_class;  ///< at the operating threshold, class-aware, IoU 0.5
  Prf overall;                            ///< micro over classes
  Prf faces;                              ///< class-agnostic at the operating threshold
  /// rows: truth mask, no_mask, incorrect, (none = spurious); columns: predicted mask, no_mask, incorrect,
  /// (none = missed). Class-agnostic matching at IoU 0.5, operating threshold.
  std::array<std::array<std::size_t, kNumLabels + 1>, kNumLabels + 1> confusion{};
  std::array<std::size_t, kNumBuckets> bucket_truths{};
  std::array<std::size_t, kNumBuckets> bucket_found{};        ///< matched by a face
  std::array<std::size_t, kNumBuckets> bucket_right_label{};  ///< matched with the right label
  /// Per size bucket (bucket_average_precision, IoU 0.5): mean over the classes with truths in the bucket,
  /// and class-agnostic face AP ranked by face_score.
  std::array<double, kNumBuckets> bucket_map50{};
  std::array<double, kNumBuckets> bucket_face_ap50{};
  std::vector<ImageErrors> images;  ///< indexed by Detection::image
};

/// All detection metrics. `num_images` sizes DetectionMetrics::images.
[[nodiscard]] DetectionMetrics evaluate_detection(const std::vector<Truth>& truths,
                                                  const std::vector<Detection>& detections, std::size_t num_images,
                                                  float operating_threshold);

struct ClassificationMetrics {
  std::size_t samples = 0;
  double accuracy = 0.0;
  std::array<Prf, kNumLabels> per_class;
  /// Mean F1 over the classes that have samples (a class absent from the truth is left out).
  double macro_f1 = 0.0;
  std::array<std::array<std::size_t, kNumLabels>, kNumLabels> confusion{};  ///< [truth][predicted]
};

[[nodiscard]] ClassificationMetrics evaluate_classification(const std::vector<MaskLabel>& truth,
                                                            const std::vector<MaskLabel>& predicted);

}  // namespace maskdetect::eval
