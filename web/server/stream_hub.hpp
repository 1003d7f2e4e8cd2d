// stream_hub.hpp - the server's cameras: a capture thread per camera reads frames (files loop), detects and
// tracks faces with the camera's own Detector (its own pipeline settings, its `people:` rules) and routes the
// events of the SDK's people component (maskdetect::People, people.hpp: the one definition of a person that run and
// eval --video use too): `alert` -> the monitor (events, MQTT, webhooks) with the person's box and the clean frame
// it is in; `ended` -> the people counted (Stats) and the history (each minute of the visit, by the label held
// longest in it); `counted` / `state_changed` -> the live counts. It keeps the latest frame and its JSON for the
// MJPEG and WebSocket viewers (the annotated JPEG is drawn and encoded only while someone watches).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/people.hpp"
#include "maskdetect/types.hpp"
#include "maskdetect/video/reconnect.hpp"
#include "server.hpp"
#include "stats.hpp"

namespace maskdetect::server {

/// The latest processed frame of a source. `seq` grows by one per frame (0: none yet).
struct StreamFrame {
  std::uint64_t seq = 0;
  std::shared_ptr<const std::string> jpeg;  ///< annotated frame (null when not asked for: latest(id, false))
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
  std::function<void(const PersonTrack&)> on_track;  ///< each alert of a person (maskdetect::People)
  std::shared_ptr<HistoryStore> history;             ///< frames, people in view, people counted per minute
  /// Asked before each frame is analysed (the fleet's lease: false once this worker may no longer be sure it
  /// owns its cameras); false: the frame is dropped unanalysed. Empty: always true.
  std::function<bool()> may_analyse;
};

/// The cameras of a server. Cameras can be added and removed while it runs (the fleet moves them between
/// workers); every method is thread-safe. A camera's id is its Stats bucket minus one: stable for its name
/// in this process (a camera removed and added again keeps its id), never reused for another name.
class StreamHub {
 public:
  /// add()s each camera (throws maskdetect::Error as add() does). Threads start in start().
  StreamHub(const std::vector<CameraOptions>& cameras, Stats& stats, int jpeg_quality, StreamHooks hooks);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  /// Starts the capture threads of the cameras added so far; cameras added later start at once.
  void start();
  /// Stops and joins the capture threads; people still tracked end (Detector::end_tracking) and are counted.
  /// Idempotent.
  /// add() throws afterwards.
  void stop();

  /// Adds a camera: loads its Detector from its own config and opens a file source (throws maskdetect::Error;
  /// Error(bad_input) when a camera of that name is already here, or after stop()). Cameras and streams are
  /// opened by the camera's thread and reopened with backoff (1 s doubling to 30 s) whenever they fail, also
  /// when absent at first; each outage is logged once on stderr with its duration. Returns the camera's id.
  std::size_t add(const CameraOptions& camera);
  /// Stops the camera called `name` and joins its thread: when this returns, no frame of it is analysed any
  /// more. The people it tracked end as at an outage (counted); viewers
  /// of it see no new frame. False when there is no such camera.
  bool remove(std::string_view name);

  /// The ids of the cameras here now, in increasing order (the order they were first added).
  [[nodiscard]] std::vector<std::size_t> ids() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] bool contains(std::size_t id) const;
  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const;
  /// The camera's options (nullopt: no such camera now).
  [[nodiscard]] std::optional<CameraOptions> camera(std::size_t id) const;
  /// Frames analysed by camera `id` since it was last added (0 for an unknown id).
  [[nodiscard]] std::int64_t frames(std::size_t id) const;
  // For an id not here (never, or removed since): "", an empty frame, 0, a "starting" state; set_threshold
  // does nothing.
  [[nodiscard]] std::string description(std::size_t id) const;  ///< the source, URL credentials redacted
  [[nodiscard]] std::string name(std::size_t id) const;         ///< the camera's name
  /// The latest frame; with `jpeg`, annotated (the people drawing: person ids and states, unconfirmed faces
  /// faint, the ignore zones). Asking for the JPEG makes the camera's thread encode each frame for the next 3 s
  /// (viewers are watching); a frame not encoded yet is encoded here. Without `jpeg`, nothing is encoded.
  [[nodiscard]] StreamFrame latest(std::size_t id, bool jpeg = true) const;
  [[nodiscard]] float threshold(std::size_t id) const;
  [[nodiscard]] StreamState state(std::size_t id) const;
  void set_threshold(std::size_t id, float threshold);

 private:
  struct Source;
  [[nodiscard]] std::shared_ptr<Source> source(std::size_t id) const;
  void start_thread(const std::shared_ptr<Source>& source);
  /// True once the hub stops or `source` is removed.
  [[nodiscard]] bool ending(const Source& source) const;
  void capture(Source& source);
  /// After a tracked frame: routes the people's events, counts people in view.
  void follow_people(Source& source, const FrameResult& result, double t);
  /// Routes the people component's events (see the top of this file); `unix_offset`: Unix time minus frame time.
  void route(Source& source, const std::vector<PersonEvent>& events, double unix_offset);
  void report(const Source& source, const PersonEvent& alert, double unix_offset) const;
  void publish_people(Source& source, std::int64_t in_view);
  /// The frame drawn for the viewers (people drawing, the camera's zones) as a JPEG.
  [[nodiscard]] std::shared_ptr<const std::string> annotated_jpeg(const Source& source, const cv::Mat& clean,
                                                                  const FrameResult& result) const;
  /// A live camera sent no frame for a while, or it stops: everyone it tracked ends (Detector::end_tracking).
  void end_all_people(Source& source);

  Stats& stats_;
  int jpeg_quality_;
  StreamHooks hooks_;
  mutable std::shared_mutex sources_mutex_;  ///< sources_, started_
  std::map<std::size_t, std::shared_ptr<Source>> sources_;
  bool started_ = false;
  std::mutex add_mutex_;  ///< one add() or remove() at a time (a name is checked, then added)
  mutable std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace maskdetect::server
