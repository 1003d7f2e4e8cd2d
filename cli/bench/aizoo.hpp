// bench/aizoo.hpp - the AIZOO face-mask detector (a peer system) through OpenCV DNN, for side-by-side
// speed figures. Never part of the SDK. Model and decoding: ../shared/models/aizoo/PROVENANCE.txt.
#pragma once

#include <array>
#include <filesystem>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/dnn.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect::bench {

/// One SSD prior box, normalised centre and size.
struct Anchor {
  float cx = 0.0f;
  float cy = 0.0f;
  float w = 0.0f;
  float h = 0.0f;
};

/// The 5,972 anchors of PROVENANCE.txt, in the network's output order.
[[nodiscard]] std::vector<Anchor> aizoo_anchors();

class AizooDetector {
 public:
  static constexpr int kInputSize = 260;
  /// Loads face_mask_detection.{prototxt,caffemodel} from `dir`. Throws Error(model_not_found/model_load).
  explicit AizooDetector(const std::filesystem::path& dir, float conf = 0.5f, float nms_iou = 0.4f);

  /// Faces with their mask decision (mask or no_mask), boxes in frame pixels; times filled.
  [[nodiscard]] FrameResult detect(const cv::Mat& bgr);

 private:
  cv::dnn::Net net_;
  std::vector<Anchor> anchors_;
  std::array<cv::String, 2> out_names_{"loc_branch_concat", "cls_branch_concat"};
  std::vector<cv::Mat> outs_;
  cv::Mat blob_;
  float conf_;
  float nms_iou_;
};

}  // namespace maskdetect::bench
