// Measuring tool (not a test): CPU and wall time per frame of the .mp4 video sink per x264 preset, and of OpenCV's
// own H.264 writer (fixed at x264's medium preset), on the first frames of a clip; the table of docs/performance.md
// "Encoding the output video".
//
//   encode_bench CLIP [--frames N] [PRESET[:THREADS] ...]      (default presets: ultrafast superfast veryfast medium)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/videoio.hpp>

#include "maskdetect/video/frame_sink.hpp"

namespace fs = std::filesystem;

namespace {

/// CPU seconds of the whole process (every thread: x264 encodes on threads of its own).
double process_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Figures {
  double cpu_ms = 0.0;
  double wall_ms = 0.0;
  double mb = 0.0;
};

template <typename Encode>
Figures measure(const std::vector<cv::Mat>& frames, const fs::path& out, Encode encode) {
  const double cpu = process_cpu_s();
  const auto start = std::chrono::steady_clock::now();
  encode();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const double n = static_cast<double>(frames.size());
  return {1000.0 * (process_cpu_s() - cpu) / n, wall / n, static_cast<double>(fs::file_size(out)) / 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: encode_bench CLIP [--frames N] [PRESET[:THREADS] ...]\n", stderr);
    return 2;
  }
  std::size_t count = 150;
  std::vector<std::string> presets;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--frames" && i + 1 < argc) {
      count = std::stoul(argv[++i]);
    } else {
      presets.push_back(arg);
    }
  }
  if (presets.empty()) presets = {"ultrafast", "superfast", "veryfast", "medium"};

  cv::VideoCapture capture(argv[1]);
  std::vector<cv::Mat> frames;
  for (cv::Mat frame; frames.size() < count && capture.read(frame);) frames.push_back(frame.clone());
  if (frames.empty()) {
    std::fprintf(stderr, "error: no frame read from '%s'\n", argv[1]);
    return 4;
  }
  const double fps = capture.get(cv::CAP_PROP_FPS) > 0.0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
  const fs::path out = fs::temp_directory_path() / "maskdetect_encode_bench.mp4";
  std::printf("%zu frames of %dx%d from %s\n", frames.size(), frames[0].cols, frames[0].rows, argv[1]);
  std::printf("%-28s %12s %13s %8s\n", "writer", "CPU ms/frame", "wall ms/frame", "MB");

  const Figures opencv = measure(frames, out, [&] {
    cv::VideoWriter writer(out.string(), cv::VideoWriter::fourcc('a', 'v', 'c', '1'), fps, frames[0].size());
    for (const cv::Mat& frame : frames) writer.write(frame);
  });
  std::printf("%-28s %12.1f %13.1f %8.2f\n", "OpenCV avc1 (x264 medium)", opencv.cpu_ms, opencv.wall_ms, opencv.mb);

  for (const std::string& spec : presets) {
    maskdetect::video::SinkOptions options{.fps = fps, .force = true};
    options.h264_preset = spec.substr(0, spec.find(':'));
    if (const auto colon = spec.find(':'); colon != std::string::npos)
      options.h264_threads = std::stoi(spec.substr(colon + 1));
    const Figures f = measure(frames, out, [&] {
      auto sink = maskdetect::video::make_video_sink(out, options);
      maskdetect::video::Frame meta;
      for (const cv::Mat& frame : frames) {
        sink->write(meta, frame);
        ++meta.index;
      }
      sink->close();
    });
    const std::string name = "sink " + options.h264_preset + " threads " + std::to_string(options.h264_threads);
    std::printf("%-28s %12.1f %13.1f %8.2f\n", name.c_str(), f.cpu_ms, f.wall_ms, f.mb);
  }
  fs::remove(out);
  return 0;
}
