#include "inference_pool.hpp"

#include <cstdio>
#include <exception>

namespace maskdetect::server {

InferencePool::InferencePool(const Config& config, int workers, std::size_t max_queue) : max_queue_(max_queue) {
  const int n = workers > 0 ? workers : 1;
  for (int i = 0; i < n; ++i) detectors_.push_back(std::make_unique<Detector>(config));
  for (auto& detector : detectors_) threads_.emplace_back([this, d = detector.get()] { work(*d); });
}

InferencePool::~InferencePool() { stop(); }

bool InferencePool::submit(Job job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_queue_) return false;
    jobs_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

void InferencePool::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::size_t InferencePool::queue_depth() const {
  const std::lock_guard lock(mutex_);
  return jobs_.size();
}

void InferencePool::work(Detector& detector) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job(detector);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: inference job failed: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "serve: inference job failed\n");
    }
  }
}

}  // namespace maskdetect::server
