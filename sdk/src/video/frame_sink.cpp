#include "maskdetect/video/frame_sink.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "video/h264_writer.hpp"

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
  const char* name;  ///< for people: "MPEG-4 Part 2 (mp4v)"
};

class VideoSink final : public FrameSink {
 public:
  VideoSink(fs::path path, const SinkOptions& options)
      : path_(std::move(path)), options_(options), fps_(options.fps > 0.0 ? options.fps : 25.0) {
    std::error_code ec;
    if (!options.force && fs::exists(path_, ec))
      throw Error(Errc::bad_input, fmt::format("output video '{}' exists (use --force to overwrite)", path_.string()));
    const std::string ext = lower_ext(path_);
    if (ext == ".mp4") {
      // H.264 plays in every browser; it is written through FFmpeg's libraries with libx264 (the preset is ours to
      // choose, docs/performance.md). MPEG-4 Part 2 (mp4v) plays in none, so it is only the fallback for an FFmpeg
      // build without libx264.
      h264_ = detail::h264_available();
      if (!h264_) codecs_ = {{cv::VideoWriter::fourcc('m', 'p', '4', 'v'), "MPEG-4 Part 2 (mp4v)"}};
    } else if (ext == ".avi") {
      codecs_ = {{cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), "Motion JPEG (MJPG)"}};
    } else {
      throw Error(Errc::bad_input, fmt::format("output video '{}': use .mp4 or .avi", path_.string()));
    }
  }
  ~VideoSink() override {
    try {
      close();
    } catch (const Error&) {  // NOLINT(bugprone-empty-catch): a destructor cannot report; close() does
    }
  }
  VideoSink(const VideoSink&) = delete;
  VideoSink& operator=(const VideoSink&) = delete;

  void write(const Frame&, const cv::Mat& image) override {
    if (!opened_) open(image.size());
    const cv::Mat* out = &image;
    if (image.size() != size_) {
      cv::resize(image, resized_, size_, 0, 0, cv::INTER_AREA);
      out = &resized_;
    }
    if (h264_writer_) {
      h264_writer_->write(*out);
    } else {
      writer_.write(*out);
    }
  }
  void close() override {
    if (h264_writer_) {
      // Once: a failed close() is reported once, and the destructor does not report it again.
      const std::unique_ptr<detail::H264Writer> writer = std::move(h264_writer_);
      writer->close();
    }
    if (writer_.isOpened()) writer_.release();
  }
  std::string description() const override {
    std::string text = "video '" + path_.string() + "'";
    if (!codec_name_.empty()) text += ", " + codec_name_;
    return text;
  }

 private:
  void open(cv::Size size) {
    if (const fs::path parent = path_.parent_path(); !parent.empty()) {
      std::error_code ec;
      fs::create_directories(parent, ec);
    }
    size_ = size;
    opened_ = true;
    if (h264_) {
      try {
        h264_writer_ = std::make_unique<detail::H264Writer>(path_, size, fps_, options_.h264_preset, options_.h264_crf,
                                                            options_.h264_threads);
      } catch (const Error&) {
        std::error_code ec;
        fs::remove(path_, ec);  // an empty or partial file the failed attempt may have left
        throw;
      }
      codec_name_ = fmt::format("H.264 (libx264, preset {}, crf {})", options_.h264_preset, options_.h264_crf);
      return;
    }
    std::string failures;
    for (const VideoCodec& codec : codecs_) {
      bool ok = false;
      try {
        ok = writer_.open(path_.string(), codec.fourcc, fps_, size_, true);
      } catch (const cv::Exception& e) {
        failures += fmt::format("; {}: {}", codec.name, e.what());
      }
      if (ok) {
        codec_name_ = codec.name;
        if (lower_ext(path_) == ".mp4")
          std::cerr << fmt::format(
              "note: this FFmpeg build has no libx264 (H.264) encoder; '{}' is written as {}, which browsers do not "
              "play\n",
              path_.string(), codec.name);
        return;
      }
    }
    std::error_code ec;
    fs::remove(path_, ec);  // an empty file the failed attempts may have left
    throw Error(Errc::io, fmt::format("cannot write video '{}'{}", path_.string(), failures));
  }

  fs::path path_;
  SinkOptions options_;
  double fps_;
  bool h264_ = false;
  std::vector<VideoCodec> codecs_;  // OpenCV's writer: .avi, and .mp4 without libx264
  std::string codec_name_;          // the codec in use, once open
  bool opened_ = false;
  cv::Size size_;
  cv::Mat resized_;
  std::unique_ptr<detail::H264Writer> h264_writer_;
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

std::unique_ptr<FrameSink> make_video_sink(fs::path path, const SinkOptions& options) {
  return std::make_unique<VideoSink>(std::move(path), options);
}

std::unique_ptr<FrameSink> make_video_sink(fs::path path, double fps, bool force) {
  return make_video_sink(std::move(path), SinkOptions{.fps = fps, .force = force});
}

std::unique_ptr<FrameSink> make_sink(const fs::path& path, const SinkOptions& options) {
  if (is_video_path(path)) return make_video_sink(path, options);
  return make_image_folder_sink(path, options.force);
}

std::unique_ptr<FrameSink> make_sink(const fs::path& path, double fps, bool force) {
  return make_sink(path, SinkOptions{.fps = fps, .force = force});
}

std::unique_ptr<ThreadedSink> make_threaded_sink(const fs::path& path, const SinkOptions& options,
                                                 std::size_t capacity) {
  return std::make_unique<ThreadedSink>(make_sink(path, options), capacity);
}

// ---- ThreadedSink ----------------------------------------------------------------------------------------------

ThreadedSink::ThreadedSink(std::unique_ptr<FrameSink> inner, std::size_t capacity)
    : inner_(std::move(inner)), capacity_(capacity) {
  if (!inner_) throw Error(Errc::internal, "ThreadedSink: no sink given");
  if (capacity_ < 1) throw Error(Errc::internal, "ThreadedSink: the queue needs room for at least one frame");
  description_ = inner_->description();
  thread_ = std::thread([this] { run(); });
}

ThreadedSink::~ThreadedSink() { stop_and_join(); }

void ThreadedSink::stop_and_join() {
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  ready_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ThreadedSink::write(const Frame& frame, const cv::Mat& image) {
  Item item;
  {
    std::unique_lock lock(mutex_);
    if (error_) std::rethrow_exception(error_);
    if (closing_) throw Error(Errc::internal, fmt::format("{}: write after close", description_));
    if (queue_.size() >= capacity_) {
      const auto start = std::chrono::steady_clock::now();
      room_.wait(lock, [this] { return queue_.size() < capacity_ || error_; });
      stats_.wait_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      if (error_) std::rethrow_exception(error_);
    }
    if (!spare_.empty()) {
      item.image = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  item.frame.index = frame.index;
  item.frame.name = frame.name;
  item.frame.path = frame.path;
  image.copyTo(item.image);  // into the reused buffer: no allocation once the sizes settle
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(std::move(item));
  }
  ready_.notify_one();
}

void ThreadedSink::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return !queue_.empty() || closing_; });
      if (queue_.empty()) break;  // closing, and every frame written
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr error;
    try {
      inner_->write(item.frame, item.image);
    } catch (...) {
      error = std::current_exception();
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::string description = inner_->description();
    {
      const std::lock_guard lock(mutex_);
      description_ = std::move(description);
      stats_.write_ms += ms;
      if (error) {
        error_ = error;
        queue_.clear();  // nothing after a failed frame is written
      } else {
        ++stats_.frames;
        spare_.push_back(std::move(item.image));
      }
    }
    room_.notify_all();
    if (error) break;
  }
  // Drained (or failed): finish the output, as the inner sink's close() does, and keep its error.
  std::exception_ptr error;
  try {
    inner_->close();
  } catch (...) {
    error = std::current_exception();
  }
  const std::lock_guard lock(mutex_);
  if (error && !error_) error_ = error;
  description_ = inner_->description();
}

void ThreadedSink::close() {
  if (closed_) return;
  closed_ = true;
  stop_and_join();
  const std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

std::string ThreadedSink::description() const {
  const std::lock_guard lock(mutex_);
  return description_;
}

SinkStats ThreadedSink::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
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
