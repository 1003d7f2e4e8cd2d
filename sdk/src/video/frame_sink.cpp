#include "maskdetect/video/frame_sink.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"

namespace fs = std::filesystem;

namespace maskdetect::video {

namespace {

std::string lower_ext(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

/// The path made absolute and normalised, following links where the file exists.
fs::path normal(const fs::path& path) {
  std::error_code ec;
  fs::path result = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return fs::absolute(path).lexically_normal();
  // "dir/" and "dir" are the same folder.
  if (!result.has_filename() && result.has_parent_path()) result = result.parent_path();
  return result;
}

class ImageFolderSink final : public FrameSink {
 public:
  ImageFolderSink(fs::path dir, bool force) : dir_(std::move(dir)), force_(force) {}

  void write(const Frame& frame, const cv::Mat& image) override {
    std::error_code ec;
    if (!created_) {
      fs::create_directories(dir_, ec);
      if (ec) throw Error(Errc::io, fmt::format("cannot create output folder '{}': {}", dir_.string(), ec.message()));
      created_ = true;
    }
    const fs::path target = dir_ / output_name(frame);
    if (!force_ && fs::exists(target, ec))
      throw Error(Errc::bad_input, fmt::format("output file '{}' exists (use --force to overwrite)", target.string()));
    bool ok = false;
    try {
      ok = cv::imwrite(target.string(), image);
    } catch (const cv::Exception& e) {
      throw Error(Errc::io, fmt::format("cannot write '{}': {}", target.string(), e.what()));
    }
    if (!ok) throw Error(Errc::io, fmt::format("cannot write '{}'", target.string()));
  }
  std::string description() const override { return "folder '" + dir_.string() + "'"; }

 private:
  fs::path dir_;
  bool force_;
  bool created_ = false;
};

/// A codec the video sink can ask OpenCV's FFmpeg back end for.
struct VideoCodec {
  int fourcc;
  const char* name;  ///< for people: "H.264 (avc1)"
};

class VideoSink final : public FrameSink {
 public:
  VideoSink(fs::path path, double fps, bool force) : path_(std::move(path)), fps_(fps > 0.0 ? fps : 25.0) {
    std::error_code ec;
    if (!force && fs::exists(path_, ec))
      throw Error(Errc::bad_input, fmt::format("output video '{}' exists (use --force to overwrite)", path_.string()));
    const std::string ext = lower_ext(path_);
    if (ext == ".mp4") {
      // H.264 plays in every browser; MPEG-4 Part 2 (mp4v) in none, so it is only the fallback for an
      // OpenCV/FFmpeg build without an H.264 encoder (Debian's has libx264).
      codecs_ = {{cv::VideoWriter::fourcc('a', 'v', 'c', '1'), "H.264 (avc1)"},
                 {cv::VideoWriter::fourcc('m', 'p', '4', 'v'), "MPEG-4 Part 2 (mp4v)"}};
    } else if (ext == ".avi") {
      codecs_ = {{cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), "Motion JPEG (MJPG)"}};
    } else {
      throw Error(Errc::bad_input, fmt::format("output video '{}': use .mp4 or .avi", path_.string()));
    }
  }
  ~VideoSink() override { close(); }
  VideoSink(const VideoSink&) = delete;
  VideoSink& operator=(const VideoSink&) = delete;

  void write(const Frame&, const cv::Mat& image) override {
    if (!writer_.isOpened()) open(image.size());
    if (image.size() == size_) {
      writer_.write(image);
    } else {
      cv::Mat resized;
      cv::resize(image, resized, size_, 0, 0, cv::INTER_AREA);
      writer_.write(resized);
    }
  }
  void close() override {
    if (writer_.isOpened()) writer_.release();
  }
  std::string description() const override {
    std::string text = "video '" + path_.string() + "'";
    if (codec_ != nullptr) text += fmt::format(", {}", codec_->name);
    return text;
  }

 private:
  void open(cv::Size size) {
    if (const fs::path parent = path_.parent_path(); !parent.empty()) {
      std::error_code ec;
      fs::create_directories(parent, ec);
    }
    size_ = size;
    std::string failures;
    for (const VideoCodec& codec : codecs_) {
      bool ok = false;
      try {
        ok = writer_.open(path_.string(), codec.fourcc, fps_, size_, true);
      } catch (const cv::Exception& e) {
        failures += fmt::format("; {}: {}", codec.name, e.what());
      }
      if (ok) {
        codec_ = &codec;
        if (&codec != &codecs_.front())
          std::cerr << fmt::format(
              "note: this OpenCV/FFmpeg build cannot write {}; '{}' is written as {}, which browsers do not play\n",
              codecs_.front().name, path_.string(), codec.name);
        return;
      }
    }
    std::error_code ec;
    fs::remove(path_, ec);  // an empty file the failed attempts may have left
    throw Error(Errc::io, fmt::format("cannot write video '{}'{}", path_.string(), failures));
  }

  fs::path path_;
  double fps_;
  std::vector<VideoCodec> codecs_;
  const VideoCodec* codec_ = nullptr;  // the codec in use, once open
  cv::Size size_;
  cv::VideoWriter writer_;
};

}  // namespace

bool is_video_path(const fs::path& path) {
  const std::string ext = lower_ext(path);
  return ext == ".mp4" || ext == ".avi";
}

std::string output_name(const Frame& frame) {
  if (!frame.name.empty()) return frame.name;
  return fmt::format("frame_{:06d}.jpg", frame.index);
}

std::unique_ptr<FrameSink> make_image_folder_sink(fs::path dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error(Errc::bad_input,
                fmt::format("--output '{}' is a file, not a folder (videos end in .mp4 or .avi)", dir.string()));
  return std::make_unique<ImageFolderSink>(std::move(dir), force);
}

std::unique_ptr<FrameSink> make_video_sink(fs::path path, double fps, bool force) {
  return std::make_unique<VideoSink>(std::move(path), fps, force);
}

std::unique_ptr<FrameSink> make_sink(const fs::path& path, double fps, bool force) {
  if (is_video_path(path)) return make_video_sink(path, fps, force);
  return make_image_folder_sink(path, force);
}

JsonLinesWriter::JsonLinesWriter(const std::string& path) : path_(path), to_stdout_(path == "-") {
  if (to_stdout_) return;
  file_.open(path, std::ios::out | std::ios::trunc);
  if (!file_) throw Error(Errc::io, fmt::format("cannot write JSON file '{}'", path));
}

void JsonLinesWriter::write(const std::string& line) {
  std::ostream& out = to_stdout_ ? std::cout : file_;
  out << line << '\n';
  out.flush();
  if (!out) throw Error(Errc::io, fmt::format("cannot write JSON to '{}'", path_));
}

void JsonLinesWriter::flush() {
  std::ostream& out = to_stdout_ ? std::cout : file_;
  out.flush();
}

void check_not_input(const FrameSource& source, const fs::path& output, bool is_folder, std::string_view what) {
  // By device and inode (a hard link, a symlink or another spelling of the same file), and by path for
  // outputs that do not exist yet.
  const auto same_file = [](const fs::path& a, const fs::path& b) {
    std::error_code ec;
    if (fs::equivalent(a, b, ec) && !ec) return true;
    return normal(a) == normal(b);
  };
  for (const fs::path& input : source.input_files()) {
    if (same_file(input, output))
      throw Error(Errc::bad_input,
                  fmt::format("{} '{}' would overwrite the input '{}'", what, output.string(), input.string()));
    if (!is_folder) continue;
    // An image-folder sink writes each image under its file name (output_name()).
    const fs::path target = output / input.filename();
    if (same_file(input, target))
      throw Error(Errc::bad_input, fmt::format("{} '{}': '{}' would overwrite the input '{}'", what, output.string(),
                                               target.string(), input.string()));
  }
  if (!is_folder) return;
  for (const fs::path& dir : source.input_dirs()) {
    if (same_file(dir, output))
      throw Error(Errc::bad_input,
                  fmt::format("{} '{}' is the input folder; its images would be overwritten", what, output.string()));
  }
}

}  // namespace maskdetect::video
