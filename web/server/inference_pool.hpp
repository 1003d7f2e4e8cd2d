// inference_pool.hpp - worker threads, each owning its own maskdetect::Detector (a Detector is not thread-safe).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "maskdetect/config.hpp"
#include "maskdetect/detector.hpp"

namespace maskdetect::server {

/// A bounded queue of jobs served by `workers` threads. A job runs on one worker with that worker's
/// Detector; it must not throw (the pool logs and drops anything that escapes).
class InferencePool {
 public:
  using Job = std::function<void(Detector&)>;

  /// Loads one Detector per worker (throws maskdetect::Error) and starts the threads.
  InferencePool(const Config& config, int workers, std::size_t max_queue);
  ~InferencePool();
  InferencePool(const InferencePool&) = delete;
  InferencePool& operator=(const InferencePool&) = delete;

  /// Queues `job`; false when the queue is full or the pool is stopping (the caller answers 503).
  [[nodiscard]] bool submit(Job job);
  /// Runs the jobs already queued, then joins the threads. Idempotent.
  void stop();

  [[nodiscard]] std::size_t queue_depth() const;
  [[nodiscard]] std::size_t workers() const noexcept { return detectors_.size(); }

 private:
  void work(Detector& detector);

  std::vector<std::unique_ptr<Detector>> detectors_;
  std::vector<std::thread> threads_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  std::size_t max_queue_;
  bool stopping_ = false;
};

}  // namespace maskdetect::server
