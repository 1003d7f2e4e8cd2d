// blazeface.cpp - MediaPipe BlazeFace front (128) and back (256) through OpenCV DNN.
//
// Model I/O (keijiro's Barracuda re-export, checked with OpenCV 4.6): input NHWC float (1,S,S,3) RGB in
// [-1, 1]; outputs two score heads (1,512,1), (1,384,1) (logits) and two regressor heads (1,512,16),
// (1,384,16). The output order is not relied on: heads are told apart by shape.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "detectors.hpp"
#include "maskdetect/error.hpp"

namespace maskdetect::detail {

// ----------------------------------------------------------------------------------------- decoding

std::vector<cv::Point2f> blazeface_anchors() {
  struct Layer {
    int grid;
    int per_cell;
  };
  constexpr std::array<Layer, 2> layers{{{16, 2}, {8, 6}}};
  std::vector<cv::Point2f> anchors;
  anchors.reserve(kBlazeFaceAnchors);
  for (const Layer& layer : layers) {
    const auto grid = static_cast<float>(layer.grid);
    for (int row = 0; row < layer.grid; ++row)
      for (int col = 0; col < layer.grid; ++col)
        for (int k = 0; k < layer.per_cell; ++k)
          anchors.emplace_back((static_cast<float>(col) + 0.5f) / grid, (static_cast<float>(row) + 0.5f) / grid);
  }
  return anchors;
}

std::vector<FaceCandidate> decode_blazeface(const float* scores, const float* regressors,
                                            std::span<const cv::Point2f> anchors, int input_size,
                                            float score_threshold) {
  std::vector<FaceCandidate> out;
  const float inv = 1.0f / static_cast<float>(input_size);
  for (std::size_t i = 0; i < anchors.size(); ++i) {
    const float logit = std::clamp(scores[i], -100.0f, 100.0f);
    const float score = 1.0f / (1.0f + std::exp(-logit));
    if (score < score_threshold) continue;
    const float* r = regressors + i * kBlazeFaceRegressors;
    const cv::Point2f& a = anchors[i];
    const float cx = r[0] * inv + a.x;
    const float cy = r[1] * inv + a.y;
    const float w = r[2] * inv;
    const float h = r[3] * inv;
    FaceCandidate c;
    c.box = cv::Rect2f(cx - 0.5f * w, cy - 0.5f * h, w, h);
    for (std::size_t k = 0; k < c.keypoints.size(); ++k)
      c.keypoints[k] = cv::Point2f(r[4 + 2 * k] * inv + a.x, r[5 + 2 * k] * inv + a.y);
    c.score = score;
    out.push_back(c);
  }
  return out;
}

float box_iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept {
  const float ix = std::max(0.0f, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
  const float iy = std::max(0.0f, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
  const float inter = ix * iy;
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

std::vector<FaceCandidate> weighted_nms(std::vector<FaceCandidate> candidates, float iou_threshold) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FaceCandidate& a, const FaceCandidate& b) { return a.score > b.score; });
  std::vector<FaceCandidate> out;
  std::vector<bool> used(candidates.size(), false);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (used[i]) continue;
    const FaceCandidate& top = candidates[i];
    float total = 0.0f;
    int members = 0;
    float x0 = 0.0f, y0 = 0.0f, x1 = 0.0f, y1 = 0.0f;
    std::array<cv::Point2f, kBlazeFaceKeypoints> kps{};
    for (std::size_t j = i; j < candidates.size(); ++j) {
      if (used[j]) continue;
      const FaceCandidate& c = candidates[j];
      if (j != i && box_iou(top.box, c.box) <= iou_threshold) continue;
      used[j] = true;
      ++members;
      const float w = c.score;
      total += w;
      x0 += w * c.box.x;
      y0 += w * c.box.y;
      x1 += w * (c.box.x + c.box.width);
      y1 += w * (c.box.y + c.box.height);
      for (std::size_t k = 0; k < kps.size(); ++k) kps[k] += w * c.keypoints[k];
    }
    FaceCandidate merged = top;
    if (members > 1 && total > 0.0f) {  // a lone candidate is kept bit-exact
      const float inv = 1.0f / total;
      merged.box = cv::Rect2f(x0 * inv, y0 * inv, (x1 - x0) * inv, (y1 - y0) * inv);
      for (std::size_t k = 0; k < kps.size(); ++k) merged.keypoints[k] = kps[k] * inv;
    }
    out.push_back(merged);
  }
  return out;  // tops are visited in descending score order
}

// ----------------------------------------------------------------------------------------- geometry

Letterbox make_letterbox(const cv::Rect& region, int input_size) {
  Letterbox lb;
  lb.origin = cv::Point2f(static_cast<float>(region.x), static_cast<float>(region.y));
  lb.input_size = input_size;
  const int width = std::max(region.width, 1);
  const int height = std::max(region.height, 1);
  const double fit = static_cast<double>(input_size) / std::max(width, height);
  lb.scaled = cv::Size(std::clamp(static_cast<int>(std::lround(width * fit)), 1, input_size),
                       std::clamp(static_cast<int>(std::lround(height * fit)), 1, input_size));
  // The resize maps the region onto exactly `scaled` pixels, so these per-axis scales (not `fit`) make
  // the mapping back exact; the pad is integral, as the placement in the input is.
  lb.scale = cv::Point2f(static_cast<float>(lb.scaled.width) / static_cast<float>(width),
                         static_cast<float>(lb.scaled.height) / static_cast<float>(height));
  const int pad_x = (input_size - lb.scaled.width) / 2;  // whole pixels
  const int pad_y = (input_size - lb.scaled.height) / 2;
  lb.pad = cv::Point2f(static_cast<float>(pad_x), static_cast<float>(pad_y));
  return lb;
}

cv::Point2f letterbox_to_frame(const Letterbox& lb, cv::Point2f normalised) noexcept {
  const auto s = static_cast<float>(lb.input_size);
  return {lb.origin.x + (normalised.x * s - lb.pad.x) / lb.scale.x,
          lb.origin.y + (normalised.y * s - lb.pad.y) / lb.scale.y};
}

cv::Point2f frame_to_letterbox(const Letterbox& lb, cv::Point2f frame_px) noexcept {
  const auto s = static_cast<float>(lb.input_size);
  return {((frame_px.x - lb.origin.x) * lb.scale.x + lb.pad.x) / s,
          ((frame_px.y - lb.origin.y) * lb.scale.y + lb.pad.y) / s};
}

std::vector<cv::Rect> make_tiles(cv::Size frame, int n, float overlap) {
  std::vector<cv::Rect> tiles;
  if (n <= 1) {
    tiles.emplace_back(0, 0, frame.width, frame.height);
    return tiles;
  }
  const auto axis = [&](int length) {
    // n tiles of side t with step t * (1 - overlap) span length: t * (n - (n - 1) * overlap) = length
    const float t = static_cast<float>(length) / (static_cast<float>(n) - static_cast<float>(n - 1) * overlap);
    const int side = std::min(length, static_cast<int>(std::ceil(t)));
    std::vector<std::pair<int, int>> spans;
    for (int i = 0; i < n; ++i) {
      const int start =
          (i == n - 1) ? length - side : static_cast<int>(std::lround(static_cast<float>(i) * t * (1.0f - overlap)));
      spans.emplace_back(std::clamp(start, 0, std::max(length - side, 0)), side);
    }
    return spans;
  };
  const auto xs = axis(frame.width);
  const auto ys = axis(frame.height);
  for (const auto& [y, h] : ys)
    for (const auto& [x, w] : xs) tiles.emplace_back(x, y, w, h);
  return tiles;
}

// ----------------------------------------------------------------------------------------- detector

namespace {

constexpr float kTileOverlap = 0.25f;

class BlazeFaceDetector final : public FaceDetector {
 public:
  BlazeFaceDetector(const DetectorConfig& config, const std::filesystem::path& model, bool back)
      : back_(back),
        input_size_(back ? 256 : 128),
        score_threshold_(config.score_threshold),
        nms_threshold_(config.nms_threshold),
        tiles_(back ? std::max(config.tiles, 1) : 1),
        min_face_px_(config.min_face_px),
        calibration_(config),
        anchors_(blazeface_anchors()) {
    if (config.input_size != 0 && config.input_size != input_size_)
      throw Error(Errc::invalid_config,
                  fmt::format("detector.input_size: {} needs {} (the model's fixed input), or 0; got {}", name(),
                              input_size_, config.input_size));
    const std::string file = model.string();
    try {
      net_ = cv::dnn::readNetFromONNX(file);
    } catch (const cv::Exception& e) {
      throw Error(Errc::model_load, fmt::format("{}: cannot load the BlazeFace model: {}", file, e.what()));
    }
    if (net_.empty()) throw Error(Errc::model_load, fmt::format("{}: cannot load the BlazeFace model", file));
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    out_names_ = net_.getUnconnectedOutLayersNames();
    const int dims[] = {1, input_size_, input_size_, 3};
    blob_.create(4, dims, CV_32F);
    canvas_.create(input_size_, input_size_, CV_8UC3);
    // Trial run: a wrong network (or one for the other input size) fails here, at load, not mid-stream.
    blob_.setTo(cv::Scalar::all(0));
    try {
      forward();
    } catch (const cv::Exception& e) {
      throw Error(Errc::model_load, fmt::format("{}: not a BlazeFace {} model for {}x{} input: {}", file,
                                                back_ ? "back" : "front", input_size_, input_size_, e.what()));
    } catch (const Error& e) {
      throw Error(Errc::model_load, fmt::format("{}: {}", file, e.what()));
    }
  }

  std::vector<FaceBox> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(Errc::bad_input, fmt::format("{}: expected a non-empty 8-bit 3-channel BGR image, got {}x{} type {}",
                                               name(), bgr.cols, bgr.rows, bgr.type()));
    std::vector<FaceCandidate> all;
    try {
      // The whole frame, then (back end, tiles > 1) the overlapping tiles; all merged by one weighted NMS.
      std::vector<cv::Rect> regions = make_tiles(bgr.size(), 1, 0.0f);
      if (tiles_ > 1) {
        const std::vector<cv::Rect> tiles = make_tiles(bgr.size(), tiles_, kTileOverlap);
        regions.insert(regions.end(), tiles.begin(), tiles.end());
      }
      for (const cv::Rect& region : regions) {
        const Letterbox lb = prepare(bgr(region), region);
        const std::vector<FaceCandidate> found = forward();
        for (FaceCandidate c : found) {
          map_to_frame(c, lb);
          all.push_back(c);
        }
      }
    } catch (const cv::Exception& e) {
      throw Error(Errc::internal, fmt::format("{}: inference failed: {}", name(), e.what()));
    }
    const std::vector<FaceCandidate> merged = weighted_nms(std::move(all), nms_threshold_);
    std::vector<FaceBox> faces;
    faces.reserve(merged.size());
    const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    for (const FaceCandidate& c : merged) {
      FaceBox face = to_face(c, calibration_);
      face.box &= frame;
      if (face.box.empty()) continue;
      if (std::max(face.box.width, face.box.height) < min_face_px_) continue;
      faces.push_back(std::move(face));
    }
    return faces;  // weighted_nms already sorted by descending score
  }

  cv::Size input_size() const override { return {input_size_, input_size_}; }
  void set_score_threshold(float threshold) override { score_threshold_ = threshold; }
  std::string_view name() const override { return back_ ? "blazeface_back" : "blazeface_front"; }

 private:
  // Letterboxes `image` (the pixels of `region`) into the reused NHWC blob.
  Letterbox prepare(const cv::Mat& image, const cv::Rect& region) {
    const Letterbox lb = make_letterbox(region, input_size_);
    canvas_.setTo(cv::Scalar::all(0));
    cv::Mat inner =
        canvas_(cv::Rect(static_cast<int>(lb.pad.x), static_cast<int>(lb.pad.y), lb.scaled.width, lb.scaled.height));
    const bool shrink = lb.scaled.width < image.cols;
    cv::resize(image, resized_, lb.scaled, 0.0, 0.0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    cv::cvtColor(resized_, inner, cv::COLOR_BGR2RGB);
    // NHWC float (1,S,S,3) has the memory layout of an S x S CV_32FC3 image.
    cv::Mat hwc(input_size_, input_size_, CV_32FC3, blob_.ptr<float>());
    canvas_.convertTo(hwc, CV_32F, 1.0 / 127.5, -1.0);
    return lb;
  }

  // Runs the network on blob_ and decodes both heads (normalised input coordinates).
  std::vector<FaceCandidate> forward() {
    net_.setInput(blob_);
    net_.forward(outs_, out_names_);
    const cv::Mat* score_heads[2] = {nullptr, nullptr};
    const cv::Mat* reg_heads[2] = {nullptr, nullptr};
    std::size_t n_scores = 0, n_regs = 0;
    for (const cv::Mat& out : outs_) {
      if (out.dims < 2 || out.depth() != CV_32F) continue;
      const bool is_reg = out.size[out.dims - 1] == kBlazeFaceRegressors;
      if (is_reg && n_regs < 2)
        reg_heads[n_regs++] = &out;
      else if (!is_reg && n_scores < 2)
        score_heads[n_scores++] = &out;
    }
    const auto rows = [](const cv::Mat* m, std::size_t per_row) { return m->total() / per_row; };
    if (n_scores != 2 || n_regs != 2)
      throw Error(Errc::model_load, fmt::format("unexpected outputs ({} score heads, {} regressor heads; want 2 and 2)",
                                                n_scores, n_regs));
    // Larger head first: its anchors (16x16 grid) come first.
    if (rows(score_heads[0], 1) < rows(score_heads[1], 1)) std::swap(score_heads[0], score_heads[1]);
    if (rows(reg_heads[0], kBlazeFaceRegressors) < rows(reg_heads[1], kBlazeFaceRegressors))
      std::swap(reg_heads[0], reg_heads[1]);
    const std::size_t big = rows(score_heads[0], 1);
    const std::size_t small = rows(score_heads[1], 1);
    if (big + small != anchors_.size() || rows(reg_heads[0], kBlazeFaceRegressors) != big ||
        rows(reg_heads[1], kBlazeFaceRegressors) != small || big != 512)
      throw Error(Errc::model_load,
                  fmt::format("unexpected output shapes ({} + {} anchors; want 512 + 384)", big, small));
    const std::span<const cv::Point2f> anchors(anchors_);
    std::vector<FaceCandidate> found = decode_blazeface(score_heads[0]->ptr<float>(), reg_heads[0]->ptr<float>(),
                                                        anchors.first(big), input_size_, score_threshold_);
    std::vector<FaceCandidate> more = decode_blazeface(score_heads[1]->ptr<float>(), reg_heads[1]->ptr<float>(),
                                                       anchors.subspan(big), input_size_, score_threshold_);
    found.insert(found.end(), more.begin(), more.end());
    return found;
  }

  static void map_to_frame(FaceCandidate& c, const Letterbox& lb) {
    const cv::Point2f tl = letterbox_to_frame(lb, c.box.tl());
    const cv::Point2f br = letterbox_to_frame(lb, c.box.br());
    c.box = cv::Rect2f(tl, br);
    for (cv::Point2f& k : c.keypoints) k = letterbox_to_frame(lb, k);
  }

  // The box calibrated to the datasets' annotation style (DetectorConfig::box_*; docs/results.md).
  static FaceBox to_face(const FaceCandidate& c, const DetectorConfig& calibration) {
    FaceBox face;
    face.box = calibrate_box(c.box, calibration);
    face.score = c.score;
    face.landmarks.assign(c.keypoints.begin(), c.keypoints.end());
    return face;
  }

  bool back_;
  int input_size_;
  float score_threshold_;
  float nms_threshold_;
  int tiles_;
  float min_face_px_;
  DetectorConfig calibration_;  // only its box_* fields are used
  std::vector<cv::Point2f> anchors_;
  cv::dnn::Net net_;
  std::vector<cv::String> out_names_;
  std::vector<cv::Mat> outs_;
  cv::Mat blob_;    // (1,S,S,3) float, reused
  cv::Mat canvas_;  // S x S BGR->RGB letterbox, reused
  cv::Mat resized_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_blazeface_detector(const DetectorConfig& config,
                                                      const std::filesystem::path& model) {
  return std::make_unique<BlazeFaceDetector>(config, model, config.backend == DetectorBackend::blazeface_back);
}

}  // namespace maskdetect::detail
