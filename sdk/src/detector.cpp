// The facade: face detection, then one classifier batch per frame.
#include "maskdetect/detector.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"

namespace maskdetect {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// A face as last detected, for template matching between detections: gray, at most kTemplateSide high.
struct FaceTemplate {
  cv::Mat gray;
  double scale = 1.0;  // template pixels per frame pixel
};

constexpr double kTemplateSide = 32.0;
constexpr double kMinCorrelation = 0.8;

cv::Rect clamp_to(const cv::Rect2f& box, cv::Size size) {
  const cv::Rect r(
      cv::Point(static_cast<int>(std::floor(box.x)), static_cast<int>(std::floor(box.y))),
      cv::Point(static_cast<int>(std::ceil(box.x + box.width)), static_cast<int>(std::ceil(box.y + box.height))));
  return r & cv::Rect(cv::Point(0, 0), size);
}

std::optional<FaceTemplate> make_template(const cv::Mat& bgr, const cv::Rect2f& box) {
  const cv::Rect r = clamp_to(box, bgr.size());
  if (r.width < 8 || r.height < 8) return std::nullopt;
  FaceTemplate t;
  t.scale = std::min(1.0, kTemplateSide / static_cast<double>(r.height));
  cv::Mat gray;
  cv::cvtColor(bgr(r), gray, cv::COLOR_BGR2GRAY);
  cv::resize(gray, t.gray, cv::Size(), t.scale, t.scale, cv::INTER_AREA);
  return t;
}

/// The predicted box moved to where the template correlates best within a window of 1.5x its size around
/// it; nullopt when the best correlation is weak (occlusion, the face turned).
std::optional<cv::Rect2f> refine_box(const cv::Mat& bgr, const cv::Rect2f& predicted, const FaceTemplate& t) {
  const cv::Rect2f window(predicted.x - predicted.width * 0.5f, predicted.y - predicted.height * 0.5f,
                          predicted.width * 2.0f, predicted.height * 2.0f);
  const cv::Rect r = clamp_to(window, bgr.size());
  const auto w = static_cast<int>(std::lround(r.width * t.scale));
  const auto h = static_cast<int>(std::lround(r.height * t.scale));
  if (w < t.gray.cols + 1 || h < t.gray.rows + 1) return std::nullopt;
  cv::Mat gray;
  cv::Mat small;
  cv::cvtColor(bgr(r), gray, cv::COLOR_BGR2GRAY);
  cv::resize(gray, small, cv::Size(w, h), 0, 0, cv::INTER_AREA);
  cv::Mat response;
  cv::matchTemplate(small, t.gray, response, cv::TM_CCOEFF_NORMED);
  double best = 0.0;
  cv::Point at;
  cv::minMaxLoc(response, nullptr, &best, nullptr, &at);
  if (best < kMinCorrelation) return std::nullopt;
  const double cx = r.x + (at.x + t.gray.cols / 2.0) / t.scale;
  const double cy = r.y + (at.y + t.gray.rows / 2.0) / t.scale;
  return cv::Rect2f(static_cast<float>(cx) - predicted.width / 2.0f, static_cast<float>(cy) - predicted.height / 2.0f,
                    predicted.width, predicted.height);
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
  TrackingOptions tracking;
  Tracker tracker;
  People people;
  std::int64_t tracked_frames = 0;
  std::int64_t tracks_since_reset = 0;  // the largest Track::id since the tracker was last restarted
  std::unordered_map<std::int64_t, FaceTemplate> templates;  // by the tracker's track id

  /// The tracker keeps every track that ended (Tracker::people()): on a long-running source it is restarted
  /// now and then, when it tracks nobody (People follow tracks by Track::key, which is never reused).
  void bound_tracker() {
    for (const Track& track : tracker.tracks()) tracks_since_reset = std::max(tracks_since_reset, track.id);
    if (tracks_since_reset >= kTracksPerTracker && tracker.tracks().empty()) {
      tracker.reset();
      tracks_since_reset = 0;
      templates.clear();
    }
  }
  static constexpr std::int64_t kTracksPerTracker = 1024;

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
  impl_->people = People(people_config(config));
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

FrameResult Detector::track(const cv::Mat& bgr, double t) {
  Impl& impl = this->impl();
  const bool detect_now = impl.tracked_frames++ % impl.tracking.detect_every == 0;
  if (detect_now) {
    const float threshold = impl.config.detector.score_threshold;
    const float low = std::min(threshold, impl.tracking.tracker.low_score);
    if (low < threshold) impl.faces->set_score_threshold(low);
    FrameResult result;
    try {
      result = detect(bgr);
    } catch (...) {
      impl.faces->set_score_threshold(threshold);
      throw;
    }
    impl.faces->set_score_threshold(threshold);
    const auto start = Clock::now();
    impl.tracker.update(result.faces, t, bgr);
    if (impl.tracking.refine && impl.tracking.detect_every > 1) {
      std::erase_if(impl.templates, [&impl](const auto& entry) {
        return std::none_of(impl.tracker.tracks().begin(), impl.tracker.tracks().end(),
                            [&entry](const Track& track) { return track.id == entry.first; });
      });
      for (const Track& track : impl.tracker.tracks()) {
        if (!track.confirmed || track.matched_face < 0) continue;
        const Face& face = result.faces.at(static_cast<std::size_t>(track.matched_face));
        if (auto made = make_template(bgr, face.box)) impl.templates[track.id] = std::move(*made);
      }
    }
    impl.people.update(impl.tracker, result.faces, t, bgr.size(), impl.tracking.keep_frames ? bgr : cv::Mat());
    std::erase_if(result.faces, [threshold](const Face& f) { return f.track_id < 0 && f.face_score < threshold; });
    impl.bound_tracker();
    result.times.detect_ms += ms_since(start);
    return result;
  }
  if (bgr.empty()) throw Error(Errc::bad_input, "track: the image is empty");
  if (bgr.type() != CV_8UC3)
    throw Error(Errc::bad_input, fmt::format("track: expected an 8-bit BGR image (CV_8UC3), got type {}", bgr.type()));
  const auto start = Clock::now();
  FrameResult result;
  result.frame_size = bgr.size();
  result.faces = impl.tracker.predict();
  if (impl.tracking.refine) {
    for (Face& face : result.faces) {
      // Faces that overlap another person are left to the prediction: their template would lock onto the other.
      const bool crowded = std::any_of(result.faces.begin(), result.faces.end(), [&face](const Face& other) {
        return other.track_id != face.track_id && (other.box & face.box).area() > 0.0f;
      });
      if (crowded) continue;
      const auto found = impl.templates.find(face.track_id);
      if (found == impl.templates.end()) continue;
      if (const auto refined = refine_box(bgr, face.box, found->second)) {
        const cv::Rect2f corrected = impl.tracker.correct(face.track_id, *refined);
        if (!corrected.empty()) face.box = corrected;
      }
    }
  }
  impl.people.update_predicted(impl.tracker, result.faces, t);
  const float threshold = impl.config.detector.score_threshold;
  std::erase_if(result.faces, [threshold](const Face& f) { return f.track_id < 0 && f.face_score < threshold; });
  impl.bound_tracker();
  result.times.detect_ms = ms_since(start);
  return result;
}

void Detector::end_tracking(double t) {
  Impl& state = impl();
  state.people.finish(t);
  state.tracker = Tracker(state.tracking.tracker);
  state.tracks_since_reset = 0;
  state.tracked_frames = 0;
  state.templates.clear();
}

void Detector::set_tracking(const TrackingOptions& options) {
  if (options.detect_every < 1)
    throw Error(Errc::invalid_config,
                fmt::format("tracking option 'detect_every' = {}: must be at least 1", options.detect_every));
  Impl& state = impl();
  state.tracker = Tracker(options.tracker);
  state.people = People(people_config(state.config), options.keep_frames);
  state.tracks_since_reset = 0;
  state.tracking = options;
  state.tracked_frames = 0;
  state.templates.clear();
}

const Tracker& Detector::tracker() const { return impl().tracker; }
const People& Detector::people() const { return impl().people; }

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
