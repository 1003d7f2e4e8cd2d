// mask_detector.cpp - the project's own face-and-mask detector (models/mask_detector.onnx, docs/detector.md).
//
// The network decodes its boxes itself: output `detections` [1, N, 7] = x1, y1, x2, y2 in input pixels,
// then one score per label (mask, no_mask, incorrect). Here: letterbox (long side to 512, top-left on a
// black square, as the recipe's scenes.letterbox), one forward, the best label's score per row, the score
// threshold, class-agnostic NMS (cv::dnn::NMSBoxes), boxes back to frame pixels. As a FaceDetector it
// reports faces; the classifier labels them (the better figure in docs/detector.md).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "detectors.hpp"
#include "maskdetect/error.hpp"

namespace maskdetect::detail {
namespace {

constexpr int kInputSize = 512;
constexpr int kColumns = 7;  // x1, y1, x2, y2, 3 label scores
constexpr int kLabels = 3;

class MaskDetector final : public FaceDetector {
 public:
  MaskDetector(const DetectorConfig& config, const std::filesystem::path& model)
      : score_threshold_(config.score_threshold),
        nms_threshold_(config.nms_threshold),
        min_face_px_(config.min_face_px),
        max_faces_(config.max_faces),
        calibration_(config) {
    if (config.input_size != 0 && config.input_size != kInputSize)
      throw Error(Errc::invalid_config,
                  fmt::format("detector.input_size: mask_detector needs {} (the model's fixed input), or 0; got {}",
                              kInputSize, config.input_size));
    const std::string file = model.string();
    try {
      net_ = cv::dnn::readNetFromONNX(file);
    } catch (const cv::Exception& e) {
      throw Error(Errc::model_load, fmt::format("{}: cannot load the mask detector: {}", file, e.what()));
    }
    if (net_.empty()) throw Error(Errc::model_load, fmt::format("{}: cannot load the mask detector", file));
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    // Trial forward: another network (wrong input size or outputs) fails here, at load time.
    cv::Mat out;
    try {
      out = forward(cv::Mat(kInputSize, kInputSize, CV_8UC3, cv::Scalar::all(0)));
    } catch (const cv::Exception& e) {
      throw Error(Errc::model_load, fmt::format("{}: not a mask detector network ({}x{} input): {}", file, kInputSize,
                                                kInputSize, e.what()));
    }
    if (out.dims != 3 || out.size[0] != 1 || out.size[2] != kColumns)
      throw Error(Errc::model_load,
                  fmt::format("{}: not a mask detector network (expected a [1, N, {}] output)", file, kColumns));
  }

  std::vector<FaceBox> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(Errc::bad_input,
                  fmt::format("mask_detector: expected a non-empty 8-bit 3-channel BGR image, got {}x{} type {}",
                              bgr.cols, bgr.rows, bgr.type()));
    const double scale = static_cast<double>(kInputSize) / std::max(bgr.cols, bgr.rows);
    const cv::Size size(std::max(1, static_cast<int>(std::lround(bgr.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(bgr.rows * scale))));
    canvas_.create(kInputSize, kInputSize, CV_8UC3);
    canvas_.setTo(cv::Scalar::all(0));
    cv::Mat out;
    try {
      cv::Mat roi = canvas_(cv::Rect(0, 0, size.width, size.height));
      cv::resize(bgr, roi, size, 0.0, 0.0, cv::INTER_LINEAR);
      out = forward(canvas_);
    } catch (const cv::Exception& e) {
      throw Error(Errc::internal, fmt::format("mask_detector: inference failed: {}", e.what()));
    }
    const int rows = out.size[1];
    const auto* data = reinterpret_cast<const float*>(out.data);
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    const double inv = 1.0 / scale;
    const auto clip = [](double v, int hi) { return std::clamp(v, 0.0, static_cast<double>(hi)); };
    for (int i = 0; i < rows; ++i) {
      const float* r = data + static_cast<std::ptrdiff_t>(i) * kColumns;
      const float score = *std::max_element(r + 4, r + 4 + kLabels);
      if (!(score >= score_threshold_)) continue;
      // Frame pixels, clipped to the frame before NMS (as the recipe's evaldet.postprocess).
      const double x1 = clip(r[0] * inv, bgr.cols), y1 = clip(r[1] * inv, bgr.rows);
      const double x2 = clip(r[2] * inv, bgr.cols), y2 = clip(r[3] * inv, bgr.rows);
      boxes.emplace_back(x1, y1, x2 - x1, y2 - y1);
      scores.push_back(score);
    }
    std::vector<int> keep;
    // NMS over every candidate, then at most max_faces: NMSBoxes' top_k would cut the candidates BEFORE
    // suppression, and each face has several points above the threshold, so a crowd lost faces (found by the
    // parity test against the recipe's evaldet.postprocess).
    cv::dnn::NMSBoxes(boxes, scores, score_threshold_, nms_threshold_, keep);
    if (max_faces_ > 0 && keep.size() > static_cast<std::size_t>(max_faces_))
      keep.resize(static_cast<std::size_t>(max_faces_));
    const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    std::vector<FaceBox> faces;
    faces.reserve(keep.size());
    for (const int k : keep) {
      FaceBox face;
      const auto i = static_cast<std::size_t>(k);
      face.box = calibrate_box(cv::Rect2f(boxes[i]), calibration_) & frame;
      if (face.box.empty()) continue;
      if (std::max(face.box.width, face.box.height) < min_face_px_) continue;
      face.score = std::clamp(scores[i], 0.0f, 1.0f);
      faces.push_back(std::move(face));
    }
    std::stable_sort(faces.begin(), faces.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
    return faces;
  }

  cv::Size input_size() const override { return {kInputSize, kInputSize}; }
  void set_score_threshold(float threshold) override { score_threshold_ = threshold; }
  std::string_view name() const override { return "mask_detector"; }

 private:
  // RGB, (x / 255 - 0.5) / 0.5, NCHW: the recipe's scenes.to_input.
  cv::Mat forward(const cv::Mat& canvas) {
    cv::dnn::blobFromImage(canvas, blob_, 1.0 / 127.5, cv::Size(), cv::Scalar::all(127.5), true, false, CV_32F);
    net_.setInput(blob_);
    return net_.forward();
  }

  float score_threshold_;
  float nms_threshold_;
  float min_face_px_;
  int max_faces_;
  DetectorConfig calibration_;  // only its box_* fields are used
  cv::dnn::Net net_;
  cv::Mat canvas_;
  cv::Mat blob_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_mask_detector(const DetectorConfig& config, const std::filesystem::path& model) {
  return std::make_unique<MaskDetector>(config, model);
}

}  // namespace maskdetect::detail
