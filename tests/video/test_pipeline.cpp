// video::FramePipeline: order, never dropping for files, dropping the oldest for live sources, errors.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>

#include "maskdetect/video/pipeline.hpp"

using maskdetect::video::Frame;
using maskdetect::video::FramePipeline;
using maskdetect::video::PipelineItem;
using maskdetect::video::ReadStatus;

namespace {

/// A reader of `count` 4x4 frames whose index is also the pixel value; frame 3 is unreadable.
FramePipeline::Reader counting_reader(int count, std::atomic<int>& reads) {
  return [count, &reads](Frame& frame) {
    const int i = reads++;
    if (i >= count) return ReadStatus::end;
    frame.index = i;
    if (i == 3) {
      frame.bgr.release();
      frame.name = "three.jpg";
      return ReadStatus::unreadable;
    }
    frame.bgr.create(4, 4, CV_8UC3);
    frame.bgr.setTo(cv::Scalar::all(i));
    return ReadStatus::ok;
  };
}

}  // namespace

TEST_CASE("pipeline delivers every frame of a file source in order, then the end") {
  std::atomic<int> reads{0};
  FramePipeline pipeline(counting_reader(50, reads), {.capacity = 2, .drop_oldest = false});
  PipelineItem item;
  std::vector<std::int64_t> seen;
  bool unreadable = false;
  bool ended = false;
  while (pipeline.next(item)) {
    if (item.status == ReadStatus::end) {
      ended = true;
      continue;
    }
    if (item.status == ReadStatus::unreadable) {
      unreadable = item.frame.name == "three.jpg";
    } else {
      REQUIRE(item.status == ReadStatus::ok);
      CHECK(item.frame.bgr.at<cv::Vec3b>(0, 0)[0] == static_cast<unsigned char>(item.frame.index));
      CHECK(item.read_ms >= 0.0);
    }
    seen.push_back(item.frame.index);
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // a slow consumer: the reader must wait
    pipeline.recycle(item);
  }
  CHECK(ended);
  CHECK(unreadable);
  REQUIRE(seen.size() == 50);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == static_cast<std::int64_t>(i));
  CHECK(pipeline.dropped() == 0);
}

TEST_CASE("pipeline drops the oldest frames of a live source when the consumer is slow") {
  std::atomic<int> reads{0};
  FramePipeline pipeline(counting_reader(200, reads), {.capacity = 2, .drop_oldest = true});
  PipelineItem item;
  std::int64_t last = -1;
  int delivered = 0;
  while (pipeline.next(item)) {
    if (item.status == ReadStatus::end) continue;
    CHECK(item.frame.index > last);  // still in order
    last = item.frame.index;
    ++delivered;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    pipeline.recycle(item);
  }
  CHECK(pipeline.dropped() > 0);
  CHECK(delivered + pipeline.dropped() == 200);
}

TEST_CASE("pipeline rethrows a reader's exception after the frames read before it") {
  int reads = 0;
  FramePipeline pipeline(
      [&reads](Frame& frame) {
        if (reads == 2) throw std::runtime_error("camera unplugged");
        frame.index = reads++;
        frame.bgr = cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(0));
        return ReadStatus::ok;
      },
      {});
  PipelineItem item;
  REQUIRE(pipeline.next(item));
  REQUIRE(pipeline.next(item));
  CHECK(item.frame.index == 1);
  CHECK_THROWS_WITH(pipeline.next(item), "camera unplugged");
  CHECK_FALSE(pipeline.next(item));
}

TEST_CASE("pipeline stop() ends next() and a blocked reader") {
  std::atomic<int> reads{0};
  auto pipeline = std::make_unique<FramePipeline>(counting_reader(1000000, reads),
                                                  maskdetect::video::PipelineOptions{.capacity = 1});
  PipelineItem item;
  REQUIRE(pipeline->next(item));
  pipeline->stop();
  CHECK_FALSE(pipeline->next(item));
  pipeline.reset();  // joins the reader, which was waiting for room
  CHECK(reads.load() < 10);
}

TEST_CASE("pipeline next_for() times out while a read blocks, then delivers, then reports the end") {
  // A live source in an outage: its read blocks until the camera is back (here: until `back` is set).
  std::atomic<bool> back{false};
  std::atomic<int> reads{0};
  FramePipeline pipeline(
      [&](Frame& frame) {
        const int i = reads++;
        if (i == 1) {
          while (!back.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (i == 2) return ReadStatus::end;
        frame.index = i;
        frame.bgr = cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(i));
        return ReadStatus::ok;
      },
      {.capacity = 2, .drop_oldest = true});
  using Wait = FramePipeline::Wait;
  using std::chrono::milliseconds;
  PipelineItem item;
  REQUIRE(pipeline.next_for(item, milliseconds(5000)) == Wait::item);
  CHECK(item.frame.index == 0);
  const auto start = std::chrono::steady_clock::now();
  CHECK(pipeline.next_for(item, milliseconds(100)) == Wait::timeout);
  CHECK(std::chrono::steady_clock::now() - start >= milliseconds(100));
  CHECK(item.frame.index == 0);  // untouched by a timeout
  back = true;
  REQUIRE(pipeline.next_for(item, milliseconds(5000)) == Wait::item);
  CHECK(item.frame.index == 1);
  REQUIRE(pipeline.next_for(item, milliseconds(5000)) == Wait::item);
  CHECK(item.status == ReadStatus::end);
  CHECK(pipeline.next_for(item, milliseconds(5000)) == Wait::done);
  CHECK_FALSE(pipeline.next(item));
}

TEST_CASE("pipeline next_for() rethrows a reader's exception and returns done after stop()") {
  FramePipeline failing([](Frame&) -> ReadStatus { throw std::runtime_error("camera unplugged"); }, {});
  PipelineItem item;
  CHECK_THROWS_WITH(failing.next_for(item, std::chrono::milliseconds(5000)), "camera unplugged");

  std::atomic<int> reads{0};
  FramePipeline pipeline(counting_reader(1000000, reads), {.capacity = 1});
  pipeline.stop();
  CHECK(pipeline.next_for(item, std::chrono::milliseconds(5000)) == FramePipeline::Wait::done);
}
