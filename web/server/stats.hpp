// stats.hpp - counters of the server: frames and faces per source, requests, latency; /api/v1/stats and /metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "maskdetect/types.hpp"

namespace maskdetect::server {

/// Numbers read at the moment of a report, from outside Stats.
struct Gauges {
  std::size_t http_sessions = 0;
  std::size_t websocket_sessions = 0;
  std::size_t mjpeg_viewers = 0;
  std::size_t queue_depth = 0;
};

/// Thread-safe counters. Bucket 0 is "api" (POST /api/v1/detect and the browser-camera WebSocket);
/// bucket i + 1 is server source i.
class Stats {
 public:
  explicit Stats(std::vector<std::string> source_names);

  /// One frame processed in `bucket` (0 = api, i + 1 = source i), with its end-to-end latency.
  void add_frame(std::size_t bucket, const FrameResult& result, double latency_ms);
  /// One HTTP response sent with `status`.
  void add_response(unsigned status);

  /// The JSON document of GET /api/v1/stats (shape in docs/server.md).
  [[nodiscard]] std::string to_json(const Gauges& gauges) const;
  /// Prometheus text exposition format 0.0.4 (GET /metrics).
  [[nodiscard]] std::string to_prometheus(const Gauges& gauges) const;

 private:
  struct Bucket {
    std::string key;   ///< "api" or the source index
    std::string name;  ///< human-readable
    std::int64_t frames = 0;
    std::array<std::int64_t, kNumLabels> faces{};
    std::deque<std::chrono::steady_clock::time_point> recent;  ///< frame times of the last few seconds
    double latency_sum_ms = 0.0;
    [[nodiscard]] double fps(std::chrono::steady_clock::time_point now) const;
  };

  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<unsigned, std::int64_t>> responses_;  ///< status -> count, small
};

}  // namespace maskdetect::server
