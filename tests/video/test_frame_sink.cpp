// Video and image-folder sinks, and ThreadedSink (writes on a thread of their own): every frame written in order,
// close() drains, write errors surface as the inner sink threw them, no deadlock when the writer stops early.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_sink.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::Errc;
using maskdetect::Error;
using maskdetect::test::TempDir;
using maskdetect::video::Frame;
using maskdetect::video::SinkOptions;
using maskdetect::video::ThreadedSink;

namespace {

/// Frame `i` of a clip: uniform grey 20 + 10 i (so that its place can be read back from any codec), named
/// f_00i.png for image folders.
Frame numbered_frame(int i, cv::Size size = {160, 120}) {
  Frame frame;
  frame.index = i;
  frame.name = fmt::format("f_{:03d}.png", i);
  frame.bgr = cv::Mat(size, CV_8UC3, cv::Scalar::all(20 + 10 * i));
  return frame;
}

/// The grey level of each frame of a video, in order.
std::vector<double> frame_levels(const fs::path& video, cv::Size* size = nullptr) {
  cv::VideoCapture capture(video.string());
  std::vector<double> levels;
  cv::Mat frame;
  while (capture.read(frame)) {
    levels.push_back(cv::mean(frame)[1]);
    if (size != nullptr) *size = frame.size();
  }
  return levels;
}

/// Aborts the test binary if `done` is not set within `seconds`: a deadlock fails loudly instead of hanging.
class Watchdog {
 public:
  explicit Watchdog(int seconds)
      : thread_([this, seconds] {
          for (int i = 0; i < seconds * 10 && !done_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          if (!done_) {
            std::fputs("deadlock: the sink did not return within the watchdog's time\n", stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    done_ = true;
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

TEST_CASE("threaded sink: an H.264 video gets every frame in order, and close drains the queue", "[sink]") {
  TempDir tmp;
  const fs::path out = tmp / "out.mp4";
  constexpr int kFrames = 20;
  ThreadedSink sink(maskdetect::video::make_video_sink(out, SinkOptions{.fps = 10.0}), 1);  // a queue of one
  for (int i = 0; i < kFrames; ++i) sink.write(numbered_frame(i), numbered_frame(i).bgr);
  sink.close();  // at once: the queued frames and the encoder's delayed ones must all land
  CHECK(sink.stats().frames == kFrames);
  CHECK(sink.description().find("H.264 (libx264, preset ultrafast, crf 23)") != std::string::npos);
  const std::vector<double> levels = frame_levels(out);
  REQUIRE(levels.size() == static_cast<std::size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) CHECK(levels[static_cast<std::size_t>(i)] == Approx(20 + 10 * i).margin(4.0));
}

TEST_CASE("video sink: odd sizes lose a column and a row, other sizes are resized, the preset is checked", "[sink]") {
  TempDir tmp;
  SECTION("H.264 of an odd size") {
    auto sink = maskdetect::video::make_video_sink(tmp / "odd.mp4", SinkOptions{.fps = 10.0});
    for (int i = 0; i < 3; ++i) sink->write(numbered_frame(i), numbered_frame(i, {161, 121}).bgr);
    sink->write(numbered_frame(3), numbered_frame(3, {320, 240}).bgr);  // resized to the first frame's size
    sink->close();
    cv::Size size;
    CHECK(frame_levels(tmp / "odd.mp4", &size).size() == 4);
    CHECK(size == cv::Size(160, 120));
  }
  SECTION("a preset x264 does not know is an error naming the file") {
    auto sink = maskdetect::video::make_video_sink(tmp / "bad.mp4", SinkOptions{.h264_preset = "warpspeed"});
    try {
      sink->write(numbered_frame(0), numbered_frame(0).bgr);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::io);
      CHECK(std::string(e.what()).find("bad.mp4") != std::string::npos);
      CHECK(std::string(e.what()).find("warpspeed") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(tmp / "bad.mp4"));
  }
  SECTION("Motion JPEG .avi through OpenCV") {
    ThreadedSink sink(maskdetect::video::make_video_sink(tmp / "out.avi", SinkOptions{.fps = 10.0}), 2);
    for (int i = 0; i < 8; ++i) sink.write(numbered_frame(i), numbered_frame(i).bgr);
    sink.close();
    const std::vector<double> levels = frame_levels(tmp / "out.avi");
    REQUIRE(levels.size() == 8);
    for (int i = 0; i < 8; ++i) CHECK(levels[static_cast<std::size_t>(i)] == Approx(20 + 10 * i).margin(3.0));
  }
}

TEST_CASE("threaded sink: an image folder gets every frame, also when the sink is dropped without close", "[sink]") {
  TempDir tmp;
  {
    ThreadedSink sink(maskdetect::video::make_image_folder_sink(tmp / "out", false), 2);
    for (int i = 0; i < 12; ++i) sink.write(numbered_frame(i), numbered_frame(i).bgr);
    // The loop stopped early (an exception, Ctrl-C): the destructor drains and closes, without hanging.
  }
  for (int i = 0; i < 12; ++i) {
    const cv::Mat image = cv::imread((tmp / "out" / fmt::format("f_{:03d}.png", i)).string());
    REQUIRE_FALSE(image.empty());
    CHECK(image.at<cv::Vec3b>(5, 5)[0] == 20 + 10 * i);
  }
}

TEST_CASE("threaded sink: a write error surfaces as thrown, later frames are not written, no deadlock", "[sink]") {
  TempDir tmp;
  const fs::path dir = tmp / "out";
  fs::create_directories(dir / "f_003.png");  // a folder where frame 3's file goes: imwrite fails there
  const Watchdog watchdog(60);
  ThreadedSink sink(maskdetect::video::make_image_folder_sink(dir, true), 1);
  bool thrown = false;
  int written = 0;
  try {
    // Far more frames than the queue holds: once the writer has failed, a write() waiting for room must wake.
    for (int i = 0; i < 200; ++i) {
      sink.write(numbered_frame(i), numbered_frame(i).bgr);
      ++written;
    }
    sink.close();
  } catch (const Error& e) {
    thrown = true;
    CHECK(e.code() == Errc::io);
    CHECK(std::string(e.what()).find("f_003.png") != std::string::npos);
  }
  CHECK(thrown);
  CHECK(written < 200);
  CHECK(fs::exists(dir / "f_002.png"));
  CHECK_FALSE(fs::exists(dir / "f_004.png"));  // queued after the failure: discarded
  CHECK_THROWS_AS(sink.close(), Error);        // close() reports it too
  CHECK(sink.stats().frames == 3);
}

TEST_CASE("threaded sink: an H.264 video on a full disk fails with the file's name", "[sink]") {
  MASKDETECT_REQUIRE_DATA(fs::path("/dev/full"));
  TempDir tmp;
  const fs::path out = tmp / "full.mp4";
  fs::create_symlink("/dev/full", out);  // every write: ENOSPC
  const Watchdog watchdog(60);
  ThreadedSink sink(maskdetect::video::make_video_sink(out, SinkOptions{.fps = 10.0, .force = true}), 2);
  std::string message;
  try {
    for (int i = 0; i < 100; ++i) sink.write(numbered_frame(i), numbered_frame(i, {320, 240}).bgr);
    sink.close();
  } catch (const Error& e) {
    CHECK(e.code() == Errc::io);
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("full.mp4") != std::string::npos);
  CHECK(message.find("No space left on device") != std::string::npos);
  CHECK(fs::exists("/dev/full"));  // the failed file's clean-up removed the link at most
}
