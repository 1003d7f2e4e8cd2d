// stats.hpp - counters of the server: frames, faces and people per camera, requests, latency;
// /api/v1/stats, /api/v1/cameras and /metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "maskdetect/types.hpp"

namespace maskdetect::server {

/// A camera's health (StreamHub::state), for /metrics.
struct CameraHealth {
  std::string name;
  bool up = false;           ///< frames flow (files: always); false while starting or down
  std::int64_t outages = 0;  ///< outages so far, the open one included (one absent at start-up counts)
  double downtime_s = 0.0;   ///< their total duration, the open one up to now
};

/// One webhook's deliveries (WebhookSender::Counters), labelled by the webhook's name, never its URL.
struct WebhookFigures {
  std::string name;
  std::int64_t delivered = 0;
  std::int64_t failed = 0;   ///< given up
  std::int64_t dropped = 0;  ///< the oldest beyond max_pending
  std::int64_t attempts = 0;
  std::size_t pending = 0;  ///< in the outbox now
};

/// The MQTT publisher's figures (MqttPublisher::Counters).
struct MqttFigures {
  bool connected = false;
  std::int64_t connections = 0;
  std::int64_t events_published = 0;
  std::int64_t stats_published = 0;
  std::int64_t events_dropped = 0;
  std::int64_t stats_dropped = 0;
  std::size_t events_queued = 0;
  std::size_t in_flight = 0;
};

/// Where events go besides the store: webhooks and MQTT (Monitor::delivery_figures()).
struct DeliveryFigures {
  std::vector<WebhookFigures> webhooks;  ///< in configuration order; empty without webhooks
  std::optional<MqttFigures> mqtt;       ///< nullopt without MQTT
  std::int64_t events_not_recorded = 0;  ///< admitted events dropped: the monitor's queue was full
};

/// Numbers read at the moment of a report, from outside Stats.
struct Gauges {
  std::size_t http_sessions = 0;
  std::size_t websocket_sessions = 0;
  std::size_t mjpeg_viewers = 0;
  std::size_t queue_depth = 0;
  /// Events recorded per (camera, label) (EventStore::counts()); empty without an event store.
  std::map<std::pair<std::string, std::string>, std::int64_t> events;
  std::size_t cameras_owned = 0;                ///< cameras this server runs now
  std::optional<std::int64_t> cameras_unowned;  ///< the fleet's cameras that no worker runs (with a database)
  /// Every camera in order (empty: no camera families in /metrics).
  std::vector<CameraHealth> cameras;
  /// Webhooks and MQTT; nullopt without a monitor (no delivery families in /metrics).
  std::optional<DeliveryFigures> delivery;
};

/// People of one camera: those counted (their track ended, by final voted label) plus those tracked now.
struct PeopleFigures {
  std::array<std::int64_t, kNumLabels> counted{};  ///< people who ended, per label held longest (indexed by MaskLabel)
  std::array<std::int64_t, kNumLabels> tracked{};  ///< counted people live now, per current state
  std::int64_t in_view = 0;                        ///< people seen in the latest frames
  [[nodiscard]] std::array<std::int64_t, kNumLabels> all() const noexcept;
  [[nodiscard]] std::int64_t total() const noexcept;
  /// masked people / people (counted + tracked); negative when no one was seen.
  [[nodiscard]] double compliance() const noexcept;
};

/// What /api/v1/cameras shows of a camera's counters.
struct CameraFigures {
  double fps = 0.0;  ///< over the last seconds
  PeopleFigures people;
};

/// Thread-safe counters. Bucket 0 is "api" (POST /api/v1/detect and the browser-camera WebSocket);
/// bucket i + 1 is camera i.
class Stats {
 public:
  explicit Stats(std::vector<std::string> camera_names);

  /// The bucket of camera `name`: its existing one (a camera removed and added again), else a new one.
  /// The camera is active again (listed in to_json's sources).
  std::size_t add_camera(const std::string& name);
  /// A removed camera is left out of to_json's sources; its counters stay in to_prometheus.
  void set_active(std::size_t bucket, bool active);

  /// One frame processed in `bucket` (0 = api, i + 1 = camera i), with its end-to-end latency.
  void add_frame(std::size_t bucket, const FrameResult& result, double latency_ms);
  /// The people tracked now by camera `bucket` (i + 1): counted people per current state, in view.
  void set_tracked(std::size_t bucket, const std::array<std::int64_t, kNumLabels>& tracked, std::int64_t in_view);
  /// One person counted by camera `bucket`: they ended, having held this label longest.
  void add_person(std::size_t bucket, MaskLabel label);
  /// One HTTP response: its method ("GET"), handler (the route, e.g. "/api/v1/events/{id}") and status.
  void add_response(std::string_view method, std::string_view handler, unsigned status);

  [[nodiscard]] CameraFigures camera(std::size_t index) const;

  /// The JSON document of GET /api/v1/stats (shape in docs/server.md).
  [[nodiscard]] std::string to_json(const Gauges& gauges) const;
  /// Prometheus text exposition format 0.0.4 (GET /metrics; names in docs/server.md "Metrics").
  [[nodiscard]] std::string to_prometheus(const Gauges& gauges) const;

  /// Upper bounds of the latency histogram, in seconds (+Inf is implied).
  static constexpr std::array<double, 11> kLatencyBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

 private:
  struct Bucket {
    std::string name;  ///< "api" or the camera's name
    std::int64_t frames = 0;
    std::array<std::int64_t, kNumLabels> faces{};
    std::deque<std::chrono::steady_clock::time_point> recent;  ///< frame times of the last few seconds
    double latency_sum_ms = 0.0;
    std::array<std::int64_t, kLatencyBounds.size()> latency_le{};  ///< frames at or under each bound
    PeopleFigures people;
    bool active = true;
    [[nodiscard]] double fps(std::chrono::steady_clock::time_point now) const;
  };
  struct RequestKey {
    std::string method;
    std::string handler;
    unsigned code = 0;
    bool operator<(const RequestKey& other) const {
      return std::tie(method, handler, code) < std::tie(other.method, other.handler, other.code);
    }
  };

  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point start_;
  std::vector<Bucket> buckets_;
  std::map<RequestKey, std::int64_t> requests_;
};

}  // namespace maskdetect::server
