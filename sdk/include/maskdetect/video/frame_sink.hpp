// maskdetect/video/frame_sink.hpp - where annotated frames and results go: an image folder, a video file, JSON Lines.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <opencv2/core/mat.hpp>
#include <opencv2/videoio.hpp>

#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::video {

/// Receives annotated frames. Not thread-safe.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  FrameSink() = default;
  FrameSink(const FrameSink&) = delete;
  FrameSink& operator=(const FrameSink&) = delete;

  /// Writes `image` (the annotated copy of `frame`). Throws Error(io) on failure.
  virtual void write(const Frame& frame, const cv::Mat& image) = 0;
  /// Finishes the output (closes a video). Called once; also safe to skip (the destructor closes).
  virtual void close() {}
  [[nodiscard]] virtual std::string description() const = 0;
};

/// True for paths written as a video by make_sink (.mp4, .avi).
[[nodiscard]] bool is_video_path(const std::filesystem::path& path);

/// The file an image-folder sink writes for `frame`: its file name, or frame_000012.jpg for video frames.
[[nodiscard]] std::string output_name(const Frame& frame);

/// Images into `dir` (created on the first write) under output_name(). An existing file is replaced only
/// with `force`, otherwise Error(bad_input) naming it.
[[nodiscard]] std::unique_ptr<FrameSink> make_image_folder_sink(std::filesystem::path dir, bool force);

/// A video file, opened on the first frame at its size; later frames of another size are resized.
/// .mp4: H.264 (avc1), which browsers play, when the OpenCV/FFmpeg build can write it (Debian's can, through
/// libx264; odd widths and heights lose their last column or row); otherwise MPEG-4 Part 2 (mp4v), with
/// a note on stderr. .avi: Motion JPEG. description() names the codec once the first frame is written.
/// An existing file is refused unless `force` (checked here, before any frame).
[[nodiscard]] std::unique_ptr<FrameSink> make_video_sink(std::filesystem::path path, double fps, bool force);

/// A video sink for a video path, else an image-folder sink.
[[nodiscard]] std::unique_ptr<FrameSink> make_sink(const std::filesystem::path& path, double fps, bool force);

/// JSON Lines to a file, or to stdout for "-". Each line is flushed (live sources can be followed).
class JsonLinesWriter {
 public:
  explicit JsonLinesWriter(const std::string& path);
  void write(const std::string& line);
  void flush();
  [[nodiscard]] bool to_stdout() const noexcept { return to_stdout_; }

 private:
  std::string path_;
  bool to_stdout_ = false;
  std::ofstream file_;
};

/// Throws Error(bad_input) if writing `output` (a file, or a folder when `is_folder`: the folder itself and
/// each `output/<input file name>` it would write) could overwrite one of `source`'s inputs. Files are
/// compared by device and inode (hard links, symlinks, other spellings), and by normalised path when the
/// output does not exist yet. `what` names the option in the message ("--output").
void check_not_input(const FrameSource& source, const std::filesystem::path& output, bool is_folder,
                     std::string_view what);

}  // namespace maskdetect::video
