// maskdetect/face_detector.hpp - the face-detector interface and its factory.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

/// Finds faces in a BGR frame. One instance is not safe to call from two threads at once
/// (it owns a cv::dnn::Net); create one per thread.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  FaceDetector() = default;
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  /// Faces in `bgr` (CV_8UC3), boxes in its pixels, sorted by descending score.
  /// Throws Error(bad_input) for an empty or non-8-bit-3-channel image.
  [[nodiscard]] virtual std::vector<FaceBox> detect(const cv::Mat& bgr) = 0;

  /// The network input size: fixed for BlazeFace; for YuNet, the size used for the last frame
  /// (its long side is DetectorConfig::input_size).
  [[nodiscard]] virtual cv::Size input_size() const = 0;

  /// Changes the confidence threshold from the next detect() on.
  virtual void set_score_threshold(float threshold) = 0;

  /// "blazeface_front", "blazeface_back", "yunet" or "mask_detector".
  [[nodiscard]] virtual std::string_view name() const = 0;

  /// Builds the back end `config.backend`, loading its model (config.model or the default file).
  /// Throws Error(model_not_found / model_load / invalid_config).
  [[nodiscard]] static std::unique_ptr<FaceDetector> create(const DetectorConfig& config);
};

}  // namespace maskdetect
