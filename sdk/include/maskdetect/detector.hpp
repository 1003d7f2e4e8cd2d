// maskdetect/detector.hpp - the facade: frame in, faces with mask decisions out.
#pragma once

#include <memory>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/mask_classifier.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

/// Face detection followed by batched mask classification.
///
/// Thread safety: one Detector must not be used by two threads at once (its networks keep state
/// between calls). Create one Detector per worker thread; they share nothing. Construction loads the
/// models (tens of milliseconds); detect() allocates little once the first frame has been seen.
class Detector {
 public:
  /// Validates `config` and loads both models. Throws Error.
  explicit Detector(const Config& config);
  ~Detector();
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  /// Faces in a BGR frame (CV_8UC3), with boxes in its pixels. Throws Error(bad_input) for an empty
  /// or wrongly typed image.
  [[nodiscard]] FrameResult detect(const cv::Mat& bgr);

  /// Changes the face-detector confidence threshold from the next frame on.
  void set_face_threshold(float threshold);

  [[nodiscard]] const Config& config() const noexcept;
  [[nodiscard]] const ModelCard& classifier_card() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskdetect
