// bench/frames.hpp - benchmark frames composed from dataset images, JPEG-encoded in memory so that
// decoding is part of what is measured. No media ships with the project.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace maskdetect::bench {

/// An image with face boxes read from a PASCAL VOC file (andrewmvd layout: images/x.jpg beside
/// annotations/x.xml).
struct AnnotatedImage {
  std::filesystem::path path;
  std::vector<cv::Rect> boxes;
};

/// Images found under the given folders (recursively, sorted, sampled evenly down to `max_each`).
struct ImagePools {
  std::vector<std::filesystem::path> plain;  ///< no annotation: face crops (e.g. chandrikadeb7)
  std::vector<AnnotatedImage> annotated;     ///< with face boxes (andrewmvd)
};

[[nodiscard]] ImagePools collect_images(const std::vector<std::filesystem::path>& dirs, std::size_t max_each);

/// Face boxes of a PASCAL VOC annotation file (empty when it has none or cannot be read).
[[nodiscard]] std::vector<cv::Rect> read_voc_boxes(const std::filesystem::path& xml);

struct FrameSet {
  cv::Size size;
  std::vector<std::vector<unsigned char>> jpegs;  ///< the frames, JPEG-encoded
  double faces_placed = 0.0;                      ///< faces composed into a frame, mean
  std::string recipe;                             ///< how the frames were made, for the report
};

/// 640x480 frames with 1 to 3 near faces (140..260 px) on a blurred background.
/// Throws Error(bad_input) when the pools hold no usable image.
[[nodiscard]] FrameSet make_webcam_frames(const ImagePools& pools, int count);

/// Webcam-like video: `count` successive 640x480 frames (at least 90) of one scene, 2 faces of 150-200 px
/// walking across a fixed blurred background, for tracking with and without --detect-every.
[[nodiscard]] FrameSet make_video_frames(const ImagePools& pools, int count);

/// 1920x1080 frames with 10 to 30 faces: a 3x2 grid of annotated photos (or a 6x4 grid of face crops
/// when no annotated image was given).
[[nodiscard]] FrameSet make_crowd_frames(const ImagePools& pools, int count);

}  // namespace maskdetect::bench
