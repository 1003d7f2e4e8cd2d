// merged_detector.cpp - two face detectors on the same frame, their faces merged (DetectorConfig::
// add_mask_detector): YuNet finds tight faces, the project's mask detector (0.1.0, trained on andrewmvd only)
// finds some faces YuNet misses; the union, suppressed, is better on both detection sources' val and test
// splits, at both detectors' cost (docs/results.md, "Two sources").
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "detectors.hpp"

namespace maskdetect::detail {
namespace {

/// Monotone piecewise-linear map of [0, 1] onto [0, 1] taking `from` to `to`.
float rescale(float v, float from, float to) {
  if (from <= 0.0f || from >= 1.0f) return v;
  return v < from ? v * to / from : to + (v - from) * (1.0f - to) / (1.0f - from);
}

class MergedDetector final : public FaceDetector {
 public:
  MergedDetector(std::unique_ptr<FaceDetector> first, float first_reference, std::unique_ptr<FaceDetector> second,
                 float second_reference, float merge_iou, int max_faces)
      : first_(std::move(first)),
        second_(std::move(second)),
        first_reference_(first_reference),
        second_reference_(second_reference),
        merge_iou_(merge_iou),
        max_faces_(max_faces),
        name_(std::string(first_->name()) + "+" + std::string(second_->name())) {}

  std::vector<FaceBox> detect(const cv::Mat& bgr) override {
    std::vector<FaceBox> all = first_->detect(bgr);
    std::vector<FaceBox> more = second_->detect(bgr);
    // The second detector's scores onto the first's scale (its reference threshold onto the first's), so that
    // one threshold (and the tracker's) means the same for both.
    for (FaceBox& face : more) face.score = rescale(face.score, second_reference_, first_reference_);
    all.insert(all.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    // Greedy NMS over the union, highest score first (stable: on a tie the first detector's face wins).
    std::stable_sort(all.begin(), all.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
    std::vector<FaceBox> kept;
    kept.reserve(all.size());
    for (FaceBox& face : all) {
      if (max_faces_ > 0 && static_cast<int>(kept.size()) >= max_faces_) break;
      const bool overlaps = std::any_of(kept.begin(), kept.end(),
                                        [&](const FaceBox& k) { return box_iou(k.box, face.box) > merge_iou_; });
      if (!overlaps) kept.push_back(std::move(face));
    }
    return kept;
  }

  cv::Size input_size() const override { return first_->input_size(); }

  // A threshold on the first detector's scale; the second gets the same point of its own scale.
  void set_score_threshold(float threshold) override {
    first_->set_score_threshold(threshold);
    second_->set_score_threshold(rescale(threshold, first_reference_, second_reference_));
  }

  std::string_view name() const override { return name_; }

 private:
  std::unique_ptr<FaceDetector> first_;
  std::unique_ptr<FaceDetector> second_;
  float first_reference_;
  float second_reference_;
  float merge_iou_;
  int max_faces_;
  std::string name_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_merged_detector(std::unique_ptr<FaceDetector> first, float first_reference,
                                                   std::unique_ptr<FaceDetector> second, float second_reference,
                                                   float merge_iou, int max_faces, float threshold) {
  auto merged = std::make_unique<MergedDetector>(std::move(first), first_reference, std::move(second), second_reference,
                                                 merge_iou, max_faces);
  merged->set_score_threshold(threshold);
  return merged;
}

}  // namespace maskdetect::detail
