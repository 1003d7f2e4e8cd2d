// The facade: face detection, then one classifier batch per frame.
#include "maskdetect/detector.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string_view>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"

namespace maskdetect {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void check_image(const cv::Mat& bgr, std::string_view what) {
  if (bgr.empty()) throw Error(Errc::bad_input, fmt::format("{}: the image is empty", what));
  if (bgr.type() != CV_8UC3)
    throw Error(Errc::bad_input,
                fmt::format("{}: expected an 8-bit BGR image (CV_8UC3), got type {}", what, bgr.type()));
}

}  // namespace

void set_inference_threads(int threads) {
  if (threads < 0) throw Error(Errc::invalid_config, fmt::format("threads: must be >= 0, got {}", threads));
  // OpenCV: a negative count restores its default.
  cv::setNumThreads(threads == 0 ? -1 : threads);
}

struct Detector::Impl {
  Config config;
  std::unique_ptr<FaceDetector> faces;
  std::unique_ptr<MaskClassifier> classifier;
  std::vector<cv::Rect2f> boxes;  // reused between frames

  /// Classifies `found` (boxes of `bgr`) into result.faces, timing it.
  void classify(const cv::Mat& bgr, std::vector<FaceBox>& found, FrameResult& result) {
    const auto start = Clock::now();
    boxes.clear();
    for (const auto& f : found) boxes.push_back(f.box);
    const std::vector<LabelProbs> probs = classifier->classify(bgr, boxes);
    result.faces.reserve(found.size());
    for (std::size_t i = 0; i < found.size(); ++i) {
      Face face;
      face.box = found[i].box;
      face.face_score = found[i].score;
      face.landmarks = std::move(found[i].landmarks);
      face.probs = probs[i];
      const auto best = std::max_element(face.probs.begin(), face.probs.end());
      face.label = static_cast<MaskLabel>(best - face.probs.begin());
      face.score = *best;
      result.faces.push_back(std::move(face));
    }
    result.times.classify_ms = ms_since(start);
  }
};

Detector::Impl& Detector::impl() const {
  if (!impl_) throw Error(Errc::internal, "Detector: used after it was moved from (assign a new Detector first)");
  return *impl_;
}

Detector::Detector(const Config& config) : impl_(std::make_unique<Impl>()) {
  validate(config);
  impl_->config = config;
  if (config.threads > 0) set_inference_threads(config.threads);
  impl_->faces = FaceDetector::create(config.detector);
  impl_->classifier = MaskClassifier::create(config.classifier);
}

Detector::~Detector() = default;
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;

FrameResult Detector::detect(const cv::Mat& bgr) {
  Impl& self = impl();
  check_image(bgr, "detect");
  FrameResult result;
  result.frame_size = bgr.size();

  const auto start = Clock::now();
  std::vector<FaceBox> found = self.faces->detect(bgr);
  const float min_px = self.config.detector.min_face_px;
  if (min_px > 0.0f) {
    std::erase_if(found, [min_px](const FaceBox& f) { return std::max(f.box.width, f.box.height) < min_px; });
  }
  // Classify only the faces that can matter: the highest-scoring max_faces (found is sorted by score).
  const int max_faces = impl_->config.detector.max_faces;
  if (max_faces > 0 && found.size() > static_cast<std::size_t>(max_faces))
    found.resize(static_cast<std::size_t>(max_faces));
  result.times.detect_ms = ms_since(start);
  self.classify(bgr, found, result);
  return result;
}

FrameResult Detector::classify(const cv::Mat& bgr, std::vector<FaceBox> boxes) {
  Impl& self = impl();
  check_image(bgr, "classify");
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const cv::Rect2f& b = boxes[i].box;
    const bool finite = std::isfinite(b.x) && std::isfinite(b.y) && std::isfinite(b.width) && std::isfinite(b.height);
    if (!finite || !(b.width > 0.0f) || !(b.height > 0.0f))
      throw Error(Errc::bad_input, fmt::format("classify: box {} ({}, {}, {}, {}) is empty or not finite", i, b.x, b.y,
                                               b.width, b.height));
    if (!(boxes[i].score >= 0.0f && boxes[i].score <= 1.0f))
      throw Error(Errc::bad_input, fmt::format("classify: box {} has score {}, not in [0, 1]", i, boxes[i].score));
  }
  std::stable_sort(boxes.begin(), boxes.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
  FrameResult result;
  result.frame_size = bgr.size();
  self.classify(bgr, boxes, result);
  return result;
}

void Detector::set_face_threshold(float threshold) {
  Impl& self = impl();
  if (!(threshold >= 0.0f && threshold <= 1.0f))
    throw Error(Errc::bad_input, fmt::format("face threshold {} is not in [0, 1]", threshold));
  self.config.detector.score_threshold = threshold;
  self.faces->set_score_threshold(threshold);
}

const Config& Detector::config() const { return impl().config; }
const ModelCard& Detector::classifier_card() const { return impl().classifier->card(); }

}  // namespace maskdetect
