// stream_hub.hpp - the server's cameras: a capture thread per camera reads frames (files loop), detects and
// tracks people with the camera's own Detector (its own pipeline settings) and Tracker, keeps the latest
// annotated JPEG and JSON for the MJPEG and WebSocket viewers, counts people (Stats, HistoryStore) and hands
// each tracked person to the monitor (events, MQTT, webhooks) with the clean frame that was analysed.
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

#include <functional>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/types.hpp"
#include "maskdetect/video/reconnect.hpp"
#include "server.hpp"
#include "stats.hpp"

namespace maskdetect::server {

namespace detail {
struct TrackedPerson;  // stream_hub.cpp
}  // namespace detail

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

/// What the capture threads feed besides Stats (each may be empty/null).
struct StreamHooks {
  std::function<void(const PersonTrack&)> on_track;  ///< while a person is seen, and when their track ends
  std::shared_ptr<HistoryStore> history;             ///< frames, people in view, people counted per minute
};

class StreamHub {
 public:
  /// Opens every file source and loads a Detector for each camera from its own config (throws
  /// maskdetect::Error). Cameras and streams are opened by their thread and reopened with backoff (1 s
  /// doubling to 30 s) whenever they fail, also when absent at start-up; each outage is logged once on stderr
  /// with its duration. Camera i is Stats bucket i + 1. Threads start in start().
  StreamHub(const std::vector<CameraOptions>& cameras, Stats& stats, int jpeg_quality, StreamHooks hooks);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  void start();
  /// Stops and joins the capture threads; people still tracked are counted and reported as ended. Idempotent.
  void stop();

  [[nodiscard]] std::size_t size() const noexcept { return sources_.size(); }
  [[nodiscard]] std::string description(std::size_t id) const;  ///< the source, URL credentials redacted
  [[nodiscard]] const std::string& name(std::size_t id) const;  ///< the camera's name
  [[nodiscard]] StreamFrame latest(std::size_t id) const;
  [[nodiscard]] float threshold(std::size_t id) const;
  [[nodiscard]] StreamState state(std::size_t id) const;
  void set_threshold(std::size_t id, float threshold);

 private:
  struct Source;
  void capture(Source& source);
  /// After a tracked frame: people tracked and ended, counts, on_track.
  void follow_people(Source& source, const FrameResult& result, const cv::Mat& clean, double t);
  void report(const Source& source, const detail::TrackedPerson& person) const;
  /// A person's track ended (or the server stops): counted, reported a last time.
  void end_person(Source& source, detail::TrackedPerson& person);
  /// A live camera sent no frame for a while: everyone it tracked ends, and its tracker starts again.
  void end_all_people(Source& source);
  /// A new tracker; person ids go on from the old one's.
  void restart_tracker(Source& source);

  Stats& stats_;
  int jpeg_quality_;
  StreamHooks hooks_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace maskdetect::server
