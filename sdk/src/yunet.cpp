// yunet.cpp - OpenCV YuNet (2022mar) through cv::FaceDetectorYN.
//
// OpenCV 4.6's FaceDetectorYN only understands the 2022mar graph (outputs loc / conf / iou). The 2023mar
// and later models (outputs cls_* / obj_* / bbox_* / kps_*) need OpenCV >= 4.8: 4.6 throws while creating
// the detector ("Layer with requested id=-1 not found") or at the first detect. Both are caught here at
// load time and reported as Error(model_load) with the way out.
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "detectors.hpp"
#include "maskdetect/error.hpp"

namespace maskdetect::detail {
namespace {

constexpr int kDefaultLongSide = 640;
constexpr int kTopK = 5000;
constexpr float kTileOverlap = 0.25f;  // as BlazeFace back's tiles: a face under a quarter tile fits one whole
// Tiles are for the faces that are small in the whole frame's input: a tile's detection is kept only when its
// longer side, in the whole frame's input pixels, is below this. Larger ones come from the whole frame (a
// large face seen tiles x larger is often cut or mislocated; keeping them lost large faces on andrewmvd).
constexpr float kTileMaxSide = 64.0f;

// True when `file` is an ONNX network OpenCV can read whose outputs are not the 2022mar ones: a newer
// YuNet rather than a corrupt file.
bool is_newer_yunet(const std::string& file) {
  try {
    const cv::dnn::Net net = cv::dnn::readNetFromONNX(file);
    if (net.empty()) return false;
    const std::vector<cv::String> outs = net.getUnconnectedOutLayersNames();
    const auto has = [&](std::string_view prefix) {
      return std::any_of(outs.begin(), outs.end(), [&](const cv::String& n) { return n.rfind(prefix, 0) == 0; });
    };
    return !(has("loc") && has("conf") && has("iou")) && (has("cls") || has("obj") || has("bbox") || has("kps"));
  } catch (const cv::Exception&) {
    return false;
  }
}

[[noreturn]] void throw_load_error(const std::string& file, const cv::Exception& e) {
  if (is_newer_yunet(file))
    throw Error(Errc::model_load, fmt::format("{}: this YuNet model needs OpenCV >= 4.8 (this build has {}); use the "
                                              "2022mar model: maskdetect models fetch yunet",
                                              file, CV_VERSION));
  throw Error(Errc::model_load, fmt::format("{}: cannot load the YuNet model: {}", file, e.what()));
}

class YuNetDetector final : public FaceDetector {
 public:
  YuNetDetector(const DetectorConfig& config, const std::filesystem::path& model)
      : long_side_(config.input_size > 0 ? config.input_size : kDefaultLongSide),
        score_threshold_(config.score_threshold),
        nms_threshold_(config.nms_threshold),
        tiles_(std::max(config.tiles, 1)),
        top_k_(config.max_faces > 0 ? config.max_faces : kTopK),
        min_face_px_(config.min_face_px),
        calibration_(config) {
    const std::string file = model.string();
    // A small trial size; the real one is set per frame.
    size_ = cv::Size(160, 120);
    try {
      // OpenCV's top_k cuts the candidates BEFORE its NMS (cv::dnn::NMSBoxes), and each face has several
      // candidates: a top_k of max_faces (100) lost faces in crowds (andrewmvd val face AP@0.5 .749 against .765
      // with no cut). So the network keeps kTopK candidates and max_faces caps the faces after NMS (here with
      // tiles, and in the Detector for every back end), which bounds the classifier's work at low thresholds.
      net_ = cv::FaceDetectorYN::create(file, "", size_, score_threshold_, nms_threshold_, kTopK);
    } catch (const cv::Exception& e) {
      throw_load_error(file, e);
    }
    if (net_.empty()) throw Error(Errc::model_load, fmt::format("{}: cannot load the YuNet model", file));
    // Trial detect: some incompatible graphs only fail when run.
    try {
      const cv::Mat dummy(size_, CV_8UC3, cv::Scalar(127, 127, 127));
      cv::Mat faces;
      net_->detect(dummy, faces);
    } catch (const cv::Exception& e) {
      throw_load_error(file, e);
    }
  }

  std::vector<FaceBox> detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3)
      throw Error(Errc::bad_input,
                  fmt::format("yunet: expected a non-empty 8-bit 3-channel BGR image, got {}x{} type {}", bgr.cols,
                              bgr.rows, bgr.type()));
    std::vector<FaceBox> raw;  // frame pixels, as detected (not calibrated)
    try {
      const cv::Rect whole(0, 0, bgr.cols, bgr.rows);
      detect_region(bgr, whole, raw);
      if (tiles_ > 1) {
        // Each tile is scaled to the same long side as the whole frame, so its faces are seen tiles x larger.
        // A tile adds only small faces (kTileMaxSide); one that touches an inner edge of the tile is a face
        // cut by the tile and is dropped: the whole face comes from the neighbouring tile (25% overlap).
        const float max_side =
            kTileMaxSide * static_cast<float>(std::max(bgr.cols, bgr.rows)) / static_cast<float>(long_side_);
        std::vector<FaceBox> in_tile;
        for (const cv::Rect& tile : make_tiles(bgr.size(), tiles_, kTileOverlap)) {
          in_tile.clear();
          detect_region(bgr, tile, in_tile);
          for (FaceBox& face : in_tile)
            if (std::max(face.box.width, face.box.height) < max_side && !cut_by_tile(face.box, tile, whole))
              raw.push_back(std::move(face));
        }
        raw = suppress(std::move(raw));
      }
    } catch (const cv::Exception& e) {
      throw Error(Errc::internal, fmt::format("yunet: inference failed: {}", e.what()));
    }
    const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    std::vector<FaceBox> out;
    out.reserve(raw.size());
    for (FaceBox& face : raw) {
      // Calibrated to the datasets' annotation style (DetectorConfig::box_*), then clipped to the frame.
      face.box = calibrate_box(face.box, calibration_) & frame;
      if (face.box.empty()) continue;
      if (std::max(face.box.width, face.box.height) < min_face_px_) continue;
      out.push_back(std::move(face));
    }
    std::stable_sort(out.begin(), out.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
    return out;
  }

  cv::Size input_size() const override { return size_; }
  void set_score_threshold(float threshold) override { score_threshold_ = threshold; }
  std::string_view name() const override { return "yunet"; }

 private:
  // YuNet on `region` of `bgr`, scaled so that its long side is long_side_; the faces, in frame pixels, are
  // appended to `out`.
  void detect_region(const cv::Mat& bgr, const cv::Rect& region, std::vector<FaceBox>& out) {
    const double fit = static_cast<double>(long_side_) / std::max(region.width, region.height);
    const cv::Size size(std::max(1, static_cast<int>(std::lround(region.width * fit))),
                        std::max(1, static_cast<int>(std::lround(region.height * fit))));
    const cv::Mat pixels = bgr(region);
    const cv::Mat* input = &pixels;
    if (size != region.size()) {
      cv::resize(pixels, resized_, size, 0.0, 0.0, fit < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
      input = &resized_;
    }
    if (size != size_) {
      net_->setInputSize(size);
      size_ = size;
    }
    net_->setScoreThreshold(score_threshold_);
    cv::Mat faces;
    net_->detect(*input, faces);
    // Back to frame pixels; per axis, as the resize really scaled each one.
    const float sx = static_cast<float>(region.width) / static_cast<float>(size.width);
    const float sy = static_cast<float>(region.height) / static_cast<float>(size.height);
    const auto ox = static_cast<float>(region.x);
    const auto oy = static_cast<float>(region.y);
    for (int i = 0; i < faces.rows; ++i) {
      const float* r = faces.ptr<float>(i);  // x, y, w, h, 5 x (x, y) landmarks, score
      FaceBox face;
      face.box = cv::Rect2f(ox + r[0] * sx, oy + r[1] * sy, r[2] * sx, r[3] * sy);
      face.score = std::clamp(r[14], 0.0f, 1.0f);
      face.landmarks.reserve(5);
      for (int k = 0; k < 5; ++k) face.landmarks.emplace_back(ox + r[4 + 2 * k] * sx, oy + r[5 + 2 * k] * sy);
      out.push_back(std::move(face));
    }
  }

  // True when `box` reaches an edge of `tile` that is inside the frame (within a pixel).
  static bool cut_by_tile(const cv::Rect2f& box, const cv::Rect& tile, const cv::Rect& frame) {
    constexpr float kMargin = 1.0f;
    const auto left = static_cast<float>(tile.x);
    const auto top = static_cast<float>(tile.y);
    const auto right = static_cast<float>(tile.x + tile.width);
    const auto bottom = static_cast<float>(tile.y + tile.height);
    return (tile.x > frame.x && box.x <= left + kMargin) || (tile.y > frame.y && box.y <= top + kMargin) ||
           (tile.br().x < frame.br().x && box.x + box.width >= right - kMargin) ||
           (tile.br().y < frame.br().y && box.y + box.height >= bottom - kMargin);
  }

  // Greedy NMS over the passes' faces (each pass is already suppressed within itself), highest score first,
  // at most top_k_ kept.
  std::vector<FaceBox> suppress(std::vector<FaceBox> faces) const {
    std::stable_sort(faces.begin(), faces.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
    std::vector<FaceBox> kept;
    for (FaceBox& face : faces) {
      if (static_cast<int>(kept.size()) >= top_k_) break;
      const bool overlaps = std::any_of(kept.begin(), kept.end(),
                                        [&](const FaceBox& k) { return box_iou(k.box, face.box) > nms_threshold_; });
      if (!overlaps) kept.push_back(std::move(face));
    }
    return kept;
  }

  int long_side_;
  float score_threshold_;
  float nms_threshold_;
  int tiles_;
  int top_k_;
  float min_face_px_;
  DetectorConfig calibration_;  // only its box_* fields are used
  cv::Size size_;
  cv::Ptr<cv::FaceDetectorYN> net_;
  cv::Mat resized_;
};

}  // namespace

std::unique_ptr<FaceDetector> make_yunet_detector(const DetectorConfig& config, const std::filesystem::path& model) {
  return std::make_unique<YuNetDetector>(config, model);
}

}  // namespace maskdetect::detail
