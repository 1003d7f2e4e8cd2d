// h264_writer.hpp - an H.264 .mp4 writer on FFmpeg's libraries (libavformat, libavcodec with libx264), for the
// video sink. OpenCV 4.6's writer always encodes with x264's `medium` preset (its FFmpeg back end passes no codec
// options: OPENCV_FFMPEG_WRITER_OPTIONS only selects hardware acceleration there), which on 720p costs more CPU per
// frame than detection; this writer takes the preset (docs/performance.md, "Encoding the output video").
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <opencv2/core/mat.hpp>

namespace maskdetect::video::detail {

/// True when this FFmpeg build has the libx264 encoder.
[[nodiscard]] bool h264_available();

class H264Writer {
 public:
  /// Opens `path` for frames of `size` (odd widths and heights lose their last column or row) at `fps`.
  /// `preset`: an x264 preset (ultrafast ... veryslow); `crf`: x264's constant rate factor (23: its default
  /// quality); `threads`: encoder threads (0: x264 chooses). Throws Error(io) naming the file on failure.
  H264Writer(const std::filesystem::path& path, cv::Size size, double fps, const std::string& preset, int crf,
             int threads);
  /// Finishes the file when close() was not called; errors are then lost.
  ~H264Writer();
  H264Writer(const H264Writer&) = delete;
  H264Writer& operator=(const H264Writer&) = delete;

  /// Encodes one BGR frame of the size given at opening. Throws Error(io) naming the file on failure.
  void write(const cv::Mat& bgr);
  /// Flushes the encoder, writes the trailer and closes the file. Throws Error(io) naming the file on failure.
  void close();

  [[nodiscard]] cv::Size size() const noexcept { return size_; }

 private:
  struct State;
  std::filesystem::path path_;
  cv::Size size_;
  std::unique_ptr<State> state_;
};

}  // namespace maskdetect::video::detail
