#include "bench/aizoo.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"

namespace maskdetect::bench {

std::vector<Anchor> aizoo_anchors() {
  struct Level {
    int size;
    std::array<float, 2> sizes;
  };
  static constexpr std::array<Level, 5> kLevels{
      {{33, {0.04f, 0.056f}}, {17, {0.08f, 0.11f}}, {9, {0.16f, 0.22f}}, {5, {0.32f, 0.45f}}, {3, {0.64f, 0.72f}}}};
  static constexpr std::array<float, 2> kRatios{0.62f, 0.42f};
  std::vector<Anchor> anchors;
  anchors.reserve(5972);
  for (const Level& level : kLevels) {
    const auto fm = static_cast<float>(level.size);
    for (int y = 0; y < level.size; ++y) {
      for (int x = 0; x < level.size; ++x) {
        const float cx = (static_cast<float>(x) + 0.5f) / fm;
        const float cy = (static_cast<float>(y) + 0.5f) / fm;
        for (const float s : level.sizes) anchors.push_back({cx, cy, s, s});
        for (const float r : kRatios) {
          const float root = std::sqrt(r);
          anchors.push_back({cx, cy, level.sizes[0] * root, level.sizes[0] / root});
        }
      }
    }
  }
  return anchors;
}

AizooDetector::AizooDetector(const std::filesystem::path& dir, float conf, float nms_iou)
    : anchors_(aizoo_anchors()), conf_(conf), nms_iou_(nms_iou) {
  const auto proto = dir / "face_mask_detection.prototxt";
  const auto weights = dir / "face_mask_detection.caffemodel";
  for (const auto& file : {proto, weights}) {
    if (!std::filesystem::is_regular_file(file))
      throw Error(Errc::model_not_found, fmt::format("AIZOO peer model '{}' not found", file.string()));
  }
  try {
    net_ = cv::dnn::readNetFromCaffe(proto.string(), weights.string());
  } catch (const cv::Exception& e) {
    throw Error(Errc::model_load, fmt::format("{}: cannot load the AIZOO network: {}", weights.string(), e.err));
  }
  net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
}

FrameResult AizooDetector::detect(const cv::Mat& bgr) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  FrameResult result;
  result.frame_size = bgr.size();
  // 260x260, BGR -> RGB, x / 255, no mean (PROVENANCE.txt).
  cv::dnn::blobFromImage(bgr, blob_, 1.0 / 255.0, cv::Size(kInputSize, kInputSize), cv::Scalar(), true, false, CV_32F);
  net_.setInput(blob_);
  net_.forward(outs_, std::vector<cv::String>(out_names_.begin(), out_names_.end()));
  const cv::Mat& loc = outs_[0];
  const cv::Mat& cls = outs_[1];
  const auto n = anchors_.size();
  if (loc.total() != n * 4 || cls.total() != n * 2)
    throw Error(Errc::model_load, fmt::format("AIZOO: expected {} anchors, got {} boxes", n, loc.total() / 4));
  const auto* l = loc.ptr<float>();
  const auto* c = cls.ptr<float>();

  std::vector<cv::Rect2d> boxes;
  std::vector<float> scores;
  std::vector<int> classes;
  const auto fw = static_cast<float>(bgr.cols);
  const auto fh = static_cast<float>(bgr.rows);
  for (std::size_t i = 0; i < n; ++i) {
    const float s0 = c[2 * i];
    const float s1 = c[2 * i + 1];
    const float best = std::max(s0, s1);
    if (best < conf_) continue;
    const Anchor& a = anchors_[i];
    // SSD centre-size decoding with variances 0.1, 0.1, 0.2, 0.2.
    const float cx = a.cx + l[4 * i] * 0.1f * a.w;
    const float cy = a.cy + l[4 * i + 1] * 0.1f * a.h;
    const float w = a.w * std::exp(l[4 * i + 2] * 0.2f);
    const float h = a.h * std::exp(l[4 * i + 3] * 0.2f);
    boxes.emplace_back((cx - w / 2) * fw, (cy - h / 2) * fh, w * fw, h * fh);
    scores.push_back(best);
    classes.push_back(s0 >= s1 ? 0 : 1);
  }
  std::vector<int> keep;
  cv::dnn::NMSBoxes(boxes, scores, conf_, nms_iou_, keep);
  result.times.detect_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  for (const int k : keep) {
    const auto i = static_cast<std::size_t>(k);
    Face face;
    face.box = cv::Rect2f(boxes[i]);
    face.face_score = scores[i];
    face.label = classes[i] == 0 ? MaskLabel::mask : MaskLabel::no_mask;
    face.score = scores[i];
    face.probs[static_cast<std::size_t>(face.label)] = scores[i];
    result.faces.push_back(std::move(face));
  }
  return result;
}

}  // namespace maskdetect::bench
