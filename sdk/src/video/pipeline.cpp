#include "maskdetect/video/pipeline.hpp"

#include <chrono>
#include <utility>

namespace maskdetect::video {

FramePipeline::FramePipeline(Reader reader, PipelineOptions options) : reader_(std::move(reader)), options_(options) {
  if (options_.capacity == 0) options_.capacity = 1;
  thread_ = std::thread([this] { run(); });
}

FramePipeline::~FramePipeline() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void FramePipeline::run() {
  for (;;) {
    PipelineItem item;
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) break;
      if (!spare_.empty()) {
        item.frame = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    bool last = false;
    try {
      const auto start = std::chrono::steady_clock::now();
      item.status = reader_(item.frame);
      item.read_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      last = item.status == ReadStatus::end || item.status == ReadStatus::failed;
    } catch (...) {
      const std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      finished_ = true;
      ready_.notify_all();
      return;
    }

    std::unique_lock lock(mutex_);
    if (!last && queue_.size() >= options_.capacity) {
      if (options_.drop_oldest) {
        // A live source: the consumer is behind, so the oldest frame is stale. Only frames are dropped.
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
          if (it->status == ReadStatus::ok) {
            spare_.push_back(std::move(it->frame));
            queue_.erase(it);
            ++dropped_;
            break;
          }
        }
      } else {
        room_.wait(lock, [this] { return stopping_ || queue_.size() < options_.capacity; });
      }
    }
    if (stopping_) break;
    queue_.push_back(std::move(item));
    if (last) finished_ = true;
    ready_.notify_one();
    if (last) return;
  }
  const std::lock_guard lock(mutex_);
  finished_ = true;
  ready_.notify_all();
}

bool FramePipeline::next(PipelineItem& item) {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [this] { return stopping_ || !queue_.empty() || finished_; });
  return take(item) == Wait::item;
}

FramePipeline::Wait FramePipeline::next_for(PipelineItem& item, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [this] { return stopping_ || !queue_.empty() || finished_; }))
    return Wait::timeout;
  return take(item);
}

FramePipeline::Wait FramePipeline::take(PipelineItem& item) {
  if (stopping_) return Wait::done;
  if (queue_.empty()) {
    // Finished with nothing left: the end item was already delivered, or the reader threw.
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return Wait::done;
  }
  item = std::move(queue_.front());
  queue_.pop_front();
  room_.notify_one();
  return Wait::item;
}

void FramePipeline::recycle(PipelineItem& item) {
  if (item.frame.bgr.empty()) return;
  const std::lock_guard lock(mutex_);
  if (spare_.size() < options_.capacity + 1) spare_.push_back(std::move(item.frame));
  item.frame = Frame{};
}

void FramePipeline::stop() {
  const std::lock_guard lock(mutex_);
  stopping_ = true;
  queue_.clear();
  ready_.notify_all();
  room_.notify_all();
}

std::int64_t FramePipeline::dropped() const {
  const std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace maskdetect::video
