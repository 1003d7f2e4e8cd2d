// stream_hub.hpp - server sources (--source): a capture thread per source reads frames (files loop), detects,
// and keeps the latest annotated JPEG and JSON for the MJPEG and WebSocket viewers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "maskdetect/config.hpp"
#include "maskdetect/video/reconnect.hpp"
#include "stats.hpp"

namespace maskdetect::server {

/// The latest processed frame of a source. `seq` grows by one per frame (0: none yet).
struct StreamFrame {
  std::uint64_t seq = 0;
  std::shared_ptr<const std::string> jpeg;  ///< annotated frame
  std::shared_ptr<const std::string> json;  ///< the SDK JSON of the frame
};

/// How a source is doing, for /api/v1/info.
struct StreamState {
  bool live = false;              ///< a camera or stream (reopened with backoff); files loop instead
  video::ReconnectStatus status;  ///< live sources: up or down, outages, downtime, last error
  [[nodiscard]] std::string_view name() const noexcept;  ///< "up", "down" or "starting"
};

class StreamHub {
 public:
  /// Opens every file source and loads a Detector for each (throws maskdetect::Error). Cameras and streams
  /// are opened by their thread and reopened with backoff (1 s doubling to 30 s) whenever they fail, also
  /// when absent at start-up; each outage is logged once on stderr with its duration. Threads start in start().
  StreamHub(const std::vector<std::string>& specs, const Config& config, Stats& stats, int jpeg_quality,
            double max_fps);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  /// Names of sources given to the constructor (URL credentials redacted), without opening anything (for Stats).
  [[nodiscard]] static std::vector<std::string> names(const std::vector<std::string>& specs);

  void start();
  /// Stops and joins the capture threads. Idempotent.
  void stop();

  [[nodiscard]] std::size_t size() const noexcept { return sources_.size(); }
  [[nodiscard]] std::string description(std::size_t id) const;
  [[nodiscard]] StreamFrame latest(std::size_t id) const;
  [[nodiscard]] float threshold(std::size_t id) const;
  [[nodiscard]] StreamState state(std::size_t id) const;
  void set_threshold(std::size_t id, float threshold);

 private:
  struct Source;
  void capture(Source& source);

  Stats& stats_;
  int jpeg_quality_;
  double max_fps_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace maskdetect::server
