// maskdetect/video/frame_source.hpp - where frames come from: camera, video file, stream URL, image, folder or glob.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace maskdetect::video {

enum class SourceKind { camera, video_file, stream, images };

/// One decoded frame.
struct Frame {
  cv::Mat bgr;                 ///< CV_8UC3
  std::int64_t index = 0;      ///< 0-based position in the source
  std::string name;            ///< image sources: the file name ("a.jpg"); empty for video and cameras
  std::filesystem::path path;  ///< image sources: the file read
};

enum class ReadStatus {
  ok,          ///< `frame` holds the next frame
  end,         ///< a finite source has no more frames
  unreadable,  ///< image sources: `frame.name`/`frame.path` name a file that could not be decoded; go on
  failed,      ///< a live source (camera, stream) stopped delivering frames
};

/// A sequence of frames. Not thread-safe.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  FrameSource() = default;
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  /// Reads the next frame into `frame`.
  [[nodiscard]] virtual ReadStatus read(Frame& frame) = 0;
  [[nodiscard]] virtual SourceKind kind() const = 0;
  /// Number of frames when known in advance (images, most video files).
  [[nodiscard]] virtual std::optional<std::int64_t> frame_count() const = 0;
  /// Frames per second of a video or camera; 0 when unknown.
  [[nodiscard]] virtual double fps() const { return 0.0; }
  /// How to name the source in messages: "camera 0", "video 'a.mp4'", "folder 'imgs/'", ...
  [[nodiscard]] virtual std::string description() const = 0;
  /// Files read (images, video file): an output must not overwrite any of them.
  [[nodiscard]] virtual std::vector<std::filesystem::path> input_files() const = 0;
  /// Folders the inputs are in (image sources): an output folder must not be one of them.
  [[nodiscard]] virtual std::vector<std::filesystem::path> input_dirs() const { return {}; }

  [[nodiscard]] bool is_live() const { return kind() == SourceKind::camera || kind() == SourceKind::stream; }
};

/// `url` with its credentials replaced by "***": the password of the userinfo ("rtsp://admin:***@host/")
/// and the value of query parameters that carry secrets (token, password, passwd, pwd, pass, key, secret, auth,
/// access_token, api_key, signature, sig). Everything that shows a source to a person or a log goes through it.
[[nodiscard]] std::string redact_url(std::string_view url);

/// File extensions read as images (lower case, with the dot).
[[nodiscard]] bool is_image_file(const std::filesystem::path& path);

/// Opens `spec`: a camera index ("0") or device ("/dev/video0"), a URL ("rtsp://...", "http://..."),
/// an image file, a folder of images (sorted by name), a glob(3) pattern of images ("dir/*.jpg",
/// "shots/img_[0-9][0-9].png", "day*/cam1/*.jpg"; sorted, only image files) or a video file. A path that
/// exists is taken as a file even when its name holds glob characters.
/// Throws Error(bad_input) for a source that does not exist or cannot be decoded, Error(io) for a camera
/// or stream that cannot be opened.
[[nodiscard]] std::unique_ptr<FrameSource> open_frame_source(const std::string& spec);

/// A fixed list of image files (e.g. the built-in demo), read in the given order.
[[nodiscard]] std::unique_ptr<FrameSource> open_image_list(std::vector<std::filesystem::path> files,
                                                           std::string description);

}  // namespace maskdetect::video
