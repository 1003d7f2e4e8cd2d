// The facade: face detection, then one classifier batch per frame.
#include "maskdetect/detector.hpp"

#include <algorithm>
#include <chrono>

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

}  // namespace

struct Detector::Impl {
  Config config;
  std::unique_ptr<FaceDetector> faces;
  std::unique_ptr<MaskClassifier> classifier;
  std::vector<cv::Rect2f> boxes;  // reused between frames
};

Detector::Detector(const Config& config) : impl_(std::make_unique<Impl>()) {
  validate(config);
  impl_->config = config;
  if (config.threads > 0) cv::setNumThreads(config.threads);
  impl_->faces = FaceDetector::create(config.detector);
  impl_->classifier = MaskClassifier::create(config.classifier);
}

Detector::~Detector() = default;
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;

FrameResult Detector::detect(const cv::Mat& bgr) {
  if (bgr.empty()) throw Error(Errc::bad_input, "detect: the image is empty");
  if (bgr.type() != CV_8UC3)
    throw Error(Errc::bad_input, fmt::format("detect: expected an 8-bit BGR image (CV_8UC3), got type {}", bgr.type()));
  FrameResult result;
  result.frame_size = bgr.size();

  auto start = Clock::now();
  std::vector<FaceBox> found = impl_->faces->detect(bgr);
  const float min_px = impl_->config.detector.min_face_px;
  if (min_px > 0.0f) {
    std::erase_if(found, [min_px](const FaceBox& f) { return std::max(f.box.width, f.box.height) < min_px; });
  }
  // Classify only the faces that can matter: the highest-scoring max_faces (found is sorted by score).
  const int max_faces = impl_->config.detector.max_faces;
  if (max_faces > 0 && found.size() > static_cast<std::size_t>(max_faces))
    found.resize(static_cast<std::size_t>(max_faces));
  result.times.detect_ms = ms_since(start);

  start = Clock::now();
  auto& boxes = impl_->boxes;
  boxes.clear();
  for (const auto& f : found) boxes.push_back(f.box);
  const std::vector<LabelProbs> probs = impl_->classifier->classify(bgr, boxes);
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
  return result;
}

void Detector::set_face_threshold(float threshold) {
  if (!(threshold >= 0.0f && threshold <= 1.0f))
    throw Error(Errc::bad_input, fmt::format("face threshold {} is not in [0, 1]", threshold));
  impl_->config.detector.score_threshold = threshold;
  impl_->faces->set_score_threshold(threshold);
}

const Config& Detector::config() const noexcept { return impl_->config; }
const ModelCard& Detector::classifier_card() const noexcept { return impl_->classifier->card(); }

}  // namespace maskdetect
