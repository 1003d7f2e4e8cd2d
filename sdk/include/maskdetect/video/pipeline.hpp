// maskdetect/video/pipeline.hpp - a two-stage frame pipeline: capture + decode on a thread of its own, the rest
// (inference, drawing, encoding, writing) on the caller's thread, a bounded queue between them.
//
// On a 2-core machine decoding the next frame overlaps inference on the current one. Frames come out
// in the order they were read. Live sources drop the oldest queued frame when the consumer falls behind
// (a camera must not lag); files never drop a frame (the producer waits for room instead).
//
//   video::FramePipeline pipeline([&](video::Frame& f) { return source->read(f); }, {.drop_oldest = live});
//   video::PipelineItem item;
//   while (pipeline.next(item)) { ... item.frame, item.status, item.read_ms ...; pipeline.recycle(item); }
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::video {

struct PipelineOptions {
  std::size_t capacity = 2;  ///< frames decoded ahead at most (>= 1)
  bool drop_oldest = false;  ///< live sources: replace the oldest queued frame when full
};

/// One result of the reader: a frame (status ok), an unreadable image (name/path set), or the end.
struct PipelineItem {
  ReadStatus status = ReadStatus::end;
  Frame frame;
  double read_ms = 0.0;  ///< wall time the reader spent on this frame (capture + decode)
};

class FramePipeline {
 public:
  /// Reads the next frame into its argument; the same contract as FrameSource::read. Called on the
  /// pipeline's own thread only, never concurrently with itself.
  using Reader = std::function<ReadStatus(Frame&)>;

  /// Starts the reader thread.
  FramePipeline(Reader reader, PipelineOptions options);
  /// Stops the reader and waits for it (a read in progress finishes first).
  ~FramePipeline();
  FramePipeline(const FramePipeline&) = delete;
  FramePipeline& operator=(const FramePipeline&) = delete;

  /// The next item, in read order; blocks until one is ready. Items with status ok and unreadable are
  /// delivered; the final end or failed item is delivered once, then next() returns false. Returns
  /// false at once after stop(). An exception thrown by the reader is rethrown here.
  [[nodiscard]] bool next(PipelineItem& item);

  /// What next_for() found.
  enum class Wait {
    item,     ///< an item was delivered, as next() would have returned true
    timeout,  ///< none came within the time given: the reader is still reading (a camera in an outage)
    done,     ///< as next() would have returned false
  };
  /// next() that waits at most `timeout`: a live source whose reads block (a camera waiting out an outage)
  /// lets its consumer notice time passing without a frame. Rethrows the reader's exception like next().
  [[nodiscard]] Wait next_for(PipelineItem& item, std::chrono::milliseconds timeout);

  /// Hands a frame's buffers back to the reader so that the next decode reuses them (optional).
  void recycle(PipelineItem& item);

  /// Asks the reader to stop after its current read; queued frames are discarded.
  void stop();

  /// Frames dropped so far (drop_oldest only).
  [[nodiscard]] std::int64_t dropped() const;

 private:
  void run();
  [[nodiscard]] Wait take(PipelineItem& item);  // with mutex_ held, once ready_'s condition holds

  Reader reader_;
  PipelineOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // the queue gained an item (or the reader finished)
  std::condition_variable room_;   // the queue lost an item (or stop)
  std::deque<PipelineItem> queue_;
  std::vector<Frame> spare_;  // recycled frames for the reader
  bool stopping_ = false;
  bool finished_ = false;  // the reader has queued its last item
  std::exception_ptr error_;
  std::int64_t dropped_ = 0;
  std::thread thread_;
};

}  // namespace maskdetect::video
