// maskdetect/video/frame_sink.hpp - where annotated frames and results go: an image folder, a video file, JSON Lines.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

/// How make_video_sink() and make_sink() write.
struct SinkOptions {
  double fps = 25.0;   ///< videos: frames per second (<= 0: 25)
  bool force = false;  ///< replace an existing file
  /// .mp4: the x264 preset (ultrafast, superfast, veryfast, faster, fast, medium, ...): encoding time against file
  /// size at the same quality. ultrafast: 4.5 CPU ms per 1280x720 frame against 25.5 for OpenCV's medium, files
  /// about 3x larger (docs/performance.md, "Encoding the output video").
  std::string h264_preset = "ultrafast";
  int h264_crf = 23;     ///< .mp4: x264's constant rate factor (quality; 23 is x264's default)
  int h264_threads = 0;  ///< .mp4: x264 threads (0: x264 chooses from the number of cores)
};

/// A video file, opened on the first frame at its size; later frames of another size are resized.
/// .mp4: H.264 through FFmpeg's libraries and libx264 (which browsers play; odd widths and heights lose their last
/// column or row), with `options`' preset and quality; without libx264 in the FFmpeg build, MPEG-4 Part 2 (mp4v)
/// through OpenCV, with a note on stderr. .avi: Motion JPEG through OpenCV. description() names the codec once the
/// first frame is written. An existing file is refused unless `force` (checked here, before any frame). Write
/// errors (a full disk) throw Error(io) naming the file, from write() or close().
[[nodiscard]] std::unique_ptr<FrameSink> make_video_sink(std::filesystem::path path, const SinkOptions& options);
[[nodiscard]] std::unique_ptr<FrameSink> make_video_sink(std::filesystem::path path, double fps, bool force);

/// A video sink for a video path, else an image-folder sink.
[[nodiscard]] std::unique_ptr<FrameSink> make_sink(const std::filesystem::path& path, const SinkOptions& options);
[[nodiscard]] std::unique_ptr<FrameSink> make_sink(const std::filesystem::path& path, double fps, bool force);

/// What a ThreadedSink did.
struct SinkStats {
  std::int64_t frames = 0;  ///< frames the inner sink wrote
  double write_ms = 0.0;    ///< wall time the writer thread spent in the inner sink's write(), in total
  double wait_ms = 0.0;     ///< time write() callers waited for room in the queue, in total
};

/// Another sink's writes (encoding a video, JPEG files) on a thread of its own, behind a bounded queue, so that
/// the caller's loop does not wait for them. write() copies the image into a free slot (buffers are reused) and
/// returns at once, unless the queue is full: then it waits for room. Frames are written in the order given.
/// The first error of the inner sink is rethrown, as it was thrown, by the next write() or by close(); frames
/// queued after it are discarded, and a write() waiting for room wakes up to throw it. close() drains the queue,
/// closes the inner sink and rethrows its error; the destructor does the same when close() was not called, but
/// drops errors. One caller at a time (like every FrameSink).
class ThreadedSink final : public FrameSink {
 public:
  /// `capacity`: frames queued at most (>= 1).
  ThreadedSink(std::unique_ptr<FrameSink> inner, std::size_t capacity);
  ~ThreadedSink() override;
  ThreadedSink(const ThreadedSink&) = delete;
  ThreadedSink& operator=(const ThreadedSink&) = delete;

  void write(const Frame& frame, const cv::Mat& image) override;
  void close() override;
  /// The inner sink's description as of its latest write.
  [[nodiscard]] std::string description() const override;
  [[nodiscard]] SinkStats stats() const;

 private:
  struct Item {
    Frame frame;  // index, name and path; the image is in `image`
    cv::Mat image;
  };
  void run();
  void stop_and_join();

  std::unique_ptr<FrameSink> inner_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // an item was queued, or closing
  std::condition_variable room_;   // an item was taken, or the writer failed
  std::deque<Item> queue_;
  std::vector<cv::Mat> spare_;  // buffers of written frames, for the next copies
  bool closing_ = false;
  bool closed_ = false;
  std::exception_ptr error_;
  std::string description_;
  SinkStats stats_;
  std::thread thread_;
};

/// make_sink() whose writes run on a thread of their own (ThreadedSink, a queue of `capacity` frames).
[[nodiscard]] std::unique_ptr<ThreadedSink> make_threaded_sink(const std::filesystem::path& path,
                                                               const SinkOptions& options, std::size_t capacity = 4);

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
