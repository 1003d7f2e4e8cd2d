// detectors.hpp - internal: the face-detector back ends and the BlazeFace decoding steps (tested directly).
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include <opencv2/core/types.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/face_detector.hpp"

namespace maskdetect::detail {

// ---------------------------------------------------------------------------------------------------------
// Factories (FaceDetector::create resolves the model path and dispatches here). Both throw Error(model_load)
// naming `model` when the file is not a usable network of that kind.

/// BlazeFace front (config.backend == blazeface_front, 128x128) or back (blazeface_back, 256x256, tiling).
[[nodiscard]] std::unique_ptr<FaceDetector> make_blazeface_detector(const DetectorConfig& config,
                                                                    const std::filesystem::path& model);
/// YuNet 2022mar through cv::FaceDetectorYN (OpenCV 4.6 cannot run the 2023mar and later models).
[[nodiscard]] std::unique_ptr<FaceDetector> make_yunet_detector(const DetectorConfig& config,
                                                                const std::filesystem::path& model);
/// The project's own detector (models/mask_detector.onnx, 512x512, decoding in the graph; docs/detector.md).
[[nodiscard]] std::unique_ptr<FaceDetector> make_mask_detector(const DetectorConfig& config,
                                                               const std::filesystem::path& model);
/// Both detectors on every frame, their faces merged: the second's scores mapped onto the first's scale
/// (monotone, piecewise linear, second_reference -> first_reference), the union suppressed greedily at
/// merge_iou (highest score first), at most max_faces (0 = all). Starts at `threshold` (first's scale).
[[nodiscard]] std::unique_ptr<FaceDetector> make_merged_detector(std::unique_ptr<FaceDetector> first,
                                                                 float first_reference,
                                                                 std::unique_ptr<FaceDetector> second,
                                                                 float second_reference, float merge_iou, int max_faces,
                                                                 float threshold);

/// `box` calibrated by config.box_scale_x/y (about its centre) and box_shift_x/y (fractions of its size).
[[nodiscard]] inline cv::Rect2f calibrate_box(const cv::Rect2f& box, const DetectorConfig& config) noexcept {
  const float w = box.width * config.box_scale_x;
  const float h = box.height * config.box_scale_y;
  const float cx = box.x + 0.5f * box.width + config.box_shift_x * box.width;
  const float cy = box.y + 0.5f * box.height + config.box_shift_y * box.height;
  return {cx - 0.5f * w, cy - 0.5f * h, w, h};
}

// ---------------------------------------------------------------------------------------------------------
// BlazeFace decoding.

inline constexpr int kBlazeFaceAnchors = 896;    ///< 16*16*2 + 8*8*6
inline constexpr int kBlazeFaceKeypoints = 6;    ///< right eye, left eye, nose, mouth, right ear, left ear
inline constexpr int kBlazeFaceRegressors = 16;  ///< dx, dy, w, h, then 6 (x, y) keypoints

/// One detection: a box, keypoints and a score, all in the same coordinate frame (normalised [0,1]
/// network-input coordinates after decoding, frame pixels after mapping).
struct FaceCandidate {
  cv::Rect2f box;  ///< top-left x, y, width, height
  std::array<cv::Point2f, kBlazeFaceKeypoints> keypoints{};
  float score = 0.0f;  ///< sigmoid of the logit, in [0, 1]
};

/// The 896 anchor centres, normalised to [0, 1]: a 16x16 grid with 2 anchors per cell (row major), then
/// an 8x8 grid with 6 per cell; centres at (col + 0.5) / grid, (row + 0.5) / grid.
[[nodiscard]] std::vector<cv::Point2f> blazeface_anchors();

/// Decodes `anchors.size()` rows: scores[i] is a logit (clipped to [-100, 100], then sigmoid), regressors
/// has 16 floats per row in input pixels relative to the anchor: box centre (dx, dy), size (w, h), then
/// 6 keypoints. Returns the rows whose score >= score_threshold, in row order, normalised coordinates.
[[nodiscard]] std::vector<FaceCandidate> decode_blazeface(const float* scores, const float* regressors,
                                                          std::span<const cv::Point2f> anchors, int input_size,
                                                          float score_threshold);

/// Intersection over union of two boxes (0 when either is empty).
[[nodiscard]] float box_iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept;

/// MediaPipe's weighted non-maximum suppression: repeatedly take the highest-scoring candidate left,
/// gather every remaining one whose IoU with it is > iou_threshold (itself included), and output the
/// score-weighted mean of their boxes and keypoints with the top score. Output is sorted by descending score.
[[nodiscard]] std::vector<FaceCandidate> weighted_nms(std::vector<FaceCandidate> candidates, float iou_threshold);

// ---------------------------------------------------------------------------------------------------------
// Letterboxing: a region of the frame scaled (aspect kept) into a square network input and centred, the
// rest padded. input = (frame - origin) * scale + pad.

struct Letterbox {
  cv::Point2f origin;             ///< top-left of the region in frame pixels
  cv::Point2f scale{1.0f, 1.0f};  ///< input pixels per frame pixel, per axis (equal up to rounding)
  cv::Point2f pad;                ///< offset of the scaled region inside the input, input pixels
  cv::Size scaled;                ///< size of the scaled region inside the input, input pixels
  int input_size = 0;             ///< side of the square input
};

/// The letterbox of `region` (frame pixels) into an input_size x input_size square.
[[nodiscard]] Letterbox make_letterbox(const cv::Rect& region, int input_size);

/// A normalised input point ([0,1] of the square input) in frame pixels.
[[nodiscard]] cv::Point2f letterbox_to_frame(const Letterbox& lb, cv::Point2f normalised) noexcept;
/// A frame pixel point in normalised input coordinates (inverse of letterbox_to_frame).
[[nodiscard]] cv::Point2f frame_to_letterbox(const Letterbox& lb, cv::Point2f frame_px) noexcept;

/// `n` x `n` tiles covering a frame, neighbours overlapping by `overlap` (a fraction of the tile side).
/// n = 1 gives the whole frame.
[[nodiscard]] std::vector<cv::Rect> make_tiles(cv::Size frame, int n, float overlap);

}  // namespace maskdetect::detail
