#include "maskdetect/video/frame_source.hpp"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "maskdetect/error.hpp"

namespace fs = std::filesystem;

namespace maskdetect::video {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

/// Images from a list of files; an undecodable file is reported and skipped.
class ImageListSource final : public FrameSource {
 public:
  ImageListSource(std::vector<fs::path> files, std::vector<fs::path> dirs, std::string description)
      : files_(std::move(files)), dirs_(std::move(dirs)), description_(std::move(description)) {}

  ReadStatus read(Frame& frame) override {
    if (next_ >= files_.size()) return ReadStatus::end;
    const fs::path& path = files_[next_];
    frame.index = static_cast<std::int64_t>(next_);
    frame.path = path;
    frame.name = path.filename().string();
    ++next_;
    frame.bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
    return frame.bgr.empty() ? ReadStatus::unreadable : ReadStatus::ok;
  }
  SourceKind kind() const override { return SourceKind::images; }
  std::optional<std::int64_t> frame_count() const override { return static_cast<std::int64_t>(files_.size()); }
  std::string description() const override { return description_; }
  std::vector<fs::path> input_files() const override { return files_; }
  std::vector<fs::path> input_dirs() const override { return dirs_; }

 private:
  std::vector<fs::path> files_;
  std::vector<fs::path> dirs_;
  std::string description_;
  std::size_t next_ = 0;
};

/// A video file, a camera or a stream through cv::VideoCapture.
class CaptureSource final : public FrameSource {
 public:
  CaptureSource(const cv::VideoCapture& capture, SourceKind kind, std::string description, fs::path file)
      : capture_(capture), kind_(kind), description_(std::move(description)), file_(std::move(file)) {
    const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
    if (kind_ == SourceKind::video_file && count > 0) count_ = static_cast<std::int64_t>(count);
    fps_ = capture_.get(cv::CAP_PROP_FPS);
  }

  ReadStatus read(Frame& frame) override {
    bool ok = false;
    try {
      ok = capture_.read(frame.bgr);
    } catch (const cv::Exception&) {
      ok = false;
    }
    if (!ok || frame.bgr.empty()) return kind_ == SourceKind::video_file ? ReadStatus::end : ReadStatus::failed;
    frame.index = next_++;
    frame.name.clear();
    frame.path.clear();
    return ReadStatus::ok;
  }
  SourceKind kind() const override { return kind_; }
  std::optional<std::int64_t> frame_count() const override { return count_; }
  double fps() const override { return fps_ > 0.0 && fps_ < 1000.0 ? fps_ : 0.0; }
  std::string description() const override { return description_; }
  std::vector<fs::path> input_files() const override {
    if (file_.empty()) return {};
    return {file_};
  }

 private:
  cv::VideoCapture capture_;
  SourceKind kind_;
  std::string description_;
  fs::path file_;
  std::optional<std::int64_t> count_;
  double fps_ = 0.0;
  std::int64_t next_ = 0;
};

std::vector<fs::path> list_images(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    if (!it->is_regular_file(ec) && !it->is_symlink(ec)) continue;
    if (!is_image_file(path)) continue;
    files.push_back(path);
  }
  if (ec) throw Error(Errc::io, fmt::format("cannot list folder '{}': {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

/// True when `spec` holds a glob(3) wildcard: `*`, `?` or a bracket expression.
bool is_glob(std::string_view spec) { return spec.find_first_of("*?[") != std::string_view::npos; }

/// The image files (by is_image_file) that `pattern` matches with glob(3): `*`, `?`, bracket expressions
/// with ranges and classes ([0-9], [[:digit:]], [!a]), wildcards in folder names; sorted. Throws
/// Error(bad_input) when nothing matches.
std::vector<fs::path> glob_images(const std::string& pattern) {
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), GLOB_MARK, nullptr, &matches);
  std::vector<fs::path> files;
  if (rc == 0) {
    for (std::size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string_view match(matches.gl_pathv[i]);
      if (match.empty() || match.back() == '/') continue;  // GLOB_MARK: a folder
      std::error_code ec;
      const fs::path file(match);
      if (is_image_file(file) && fs::is_regular_file(file, ec)) files.push_back(file);
    }
  }
  globfree(&matches);
  if (rc == GLOB_NOSPACE)
    throw Error(Errc::io, fmt::format("source '{}': out of memory expanding the pattern", pattern));
  if (rc == GLOB_ABORTED)
    throw Error(Errc::io, fmt::format("source '{}': a folder of the pattern cannot be read", pattern));
  if (files.empty()) {
    const fs::path dir = fs::path(pattern).parent_path();
    std::error_code ec;
    if (!dir.empty() && !is_glob(dir.string()) && !fs::is_directory(dir, ec))
      throw Error(Errc::bad_input, fmt::format("source '{}': folder '{}' does not exist", pattern, dir.string()));
    throw Error(Errc::bad_input,
                fmt::format("source '{}': no image matches (.jpg, .jpeg, .png, .bmp, .webp)", pattern));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::unique_ptr<FrameSource> open_camera(const std::string& spec) {
  cv::VideoCapture capture;
  const std::string description = "camera " + spec;
  try {
    if (all_digits(spec)) {
      capture.open(std::stoi(spec), cv::CAP_ANY);
    } else {
      capture.open(spec, cv::CAP_V4L2);
    }
  } catch (const cv::Exception& e) {
    throw Error(Errc::io, fmt::format("cannot open {}: {}", description, e.what()));
  } catch (const std::out_of_range&) {
    throw Error(Errc::bad_input, fmt::format("cannot open {}: index out of range", description));
  }
  if (!capture.isOpened())
    throw Error(Errc::io, fmt::format("cannot open {}: no such device, or it is busy", description));
  return std::make_unique<CaptureSource>(std::move(capture), SourceKind::camera, description, fs::path{});
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  const std::size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  // Userinfo: between the authority start and the last '@' before the path.
  const std::size_t path_start = out.find_first_of("/?#", authority);
  const std::size_t at = out.rfind('@', path_start == std::string::npos ? std::string::npos : path_start);
  if (scheme != std::string::npos && at != std::string::npos && at >= authority) {
    const std::size_t colon = out.find(':', authority);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    } else if (at > authority) {
      out.replace(authority, at - authority, "***");  // a bare token as user name
    }
  }
  // Query parameters whose names say they carry a secret.
  static const std::vector<std::string> secret_names{"token",        "password",  "passwd", "pwd",     "pass",
                                                     "key",          "secret",    "auth",   "api_key", "apikey",
                                                     "access_token", "signature", "sig"};
  const std::size_t query = out.find('?');
  if (query == std::string::npos) return out;
  std::size_t pos = query + 1;
  while (pos < out.size()) {
    std::size_t end = out.find_first_of("&#", pos);
    if (end == std::string::npos) end = out.size();
    const std::size_t eq = out.find('=', pos);
    if (eq != std::string::npos && eq < end) {
      const std::string name = lower(out.substr(pos, eq - pos));
      if (std::find(secret_names.begin(), secret_names.end(), name) != secret_names.end() && end > eq + 1) {
        out.replace(eq + 1, end - eq - 1, "***");
        end = eq + 4;
      }
    }
    if (end >= out.size() || out[end] == '#') break;
    pos = end + 1;
  }
  return out;
}

bool is_image_file(const fs::path& path) {
  static const std::vector<std::string> extensions{".jpg", ".jpeg", ".png", ".bmp", ".webp"};
  const std::string ext = lower(path.extension().string());
  return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

std::unique_ptr<FrameSource> open_image_list(std::vector<fs::path> files, std::string description) {
  std::vector<fs::path> dirs;
  for (const fs::path& file : files) {
    fs::path dir = file.parent_path();
    if (dir.empty()) dir = ".";
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  return std::make_unique<ImageListSource>(std::move(files), std::move(dirs), std::move(description));
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& spec) {
  if (spec.empty()) throw Error(Errc::bad_input, "empty --source");
  if (all_digits(spec) || spec.rfind("/dev/", 0) == 0) return open_camera(spec);

  if (spec.find("://") != std::string::npos) {
    cv::VideoCapture capture;
    try {
      // A stream that hangs counts as failed after 10 s (OpenCV's default is 30 s), so it is reopened sooner.
      // FFmpeg reads every stream protocol (RTSP, HTTP, UDP, TCP); other back ends only add noise when it fails.
      capture.open(spec, cv::CAP_FFMPEG,
                   {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv::CAP_PROP_READ_TIMEOUT_MSEC, 10000});
    } catch (const cv::Exception& e) {
      throw Error(Errc::io, fmt::format("cannot open stream '{}': {}", redact_url(spec), e.what()));
    }
    if (!capture.isOpened()) throw Error(Errc::io, fmt::format("cannot open stream '{}'", redact_url(spec)));
    return std::make_unique<CaptureSource>(std::move(capture), SourceKind::stream, "stream '" + redact_url(spec) + "'",
                                           fs::path{});
  }

  const fs::path path(spec);
  std::error_code ec;
  if (!fs::exists(path, ec) && is_glob(spec)) return open_image_list(glob_images(spec), "images '" + spec + "'");

  if (!fs::exists(path, ec)) throw Error(Errc::bad_input, fmt::format("source '{}' does not exist", spec));
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files = list_images(path);
    if (files.empty())
      throw Error(Errc::bad_input, fmt::format("folder '{}' holds no images (.jpg, .jpeg, .png, .bmp, .webp)", spec));
    return std::make_unique<ImageListSource>(std::move(files), std::vector<fs::path>{path}, "folder '" + spec + "'");
  }
  if (is_image_file(path)) {
    // A single image: an unreadable one is an error at once.
    if (cv::imread(spec, cv::IMREAD_COLOR).empty())
      throw Error(Errc::bad_input, fmt::format("cannot read image '{}': not a decodable image", spec));
    return open_image_list({path}, "image '" + spec + "'");
  }
  cv::VideoCapture capture;
  try {
    capture.open(spec, cv::CAP_ANY);
  } catch (const cv::Exception& e) {
    throw Error(Errc::bad_input, fmt::format("cannot open video '{}': {}", spec, e.what()));
  }
  if (!capture.isOpened())
    throw Error(Errc::bad_input,
                fmt::format("cannot open video '{}': not a video or image this build can decode", spec));
  return std::make_unique<CaptureSource>(std::move(capture), SourceKind::video_file, "video '" + spec + "'", path);
}

}  // namespace maskdetect::video
