// monitor.hpp - what `maskdetect serve` does with people's alerts: the event and history stores (SQLite in the
// data folder, or PostgreSQL), MQTT and webhooks, behind one call per event. Which person raises an event, and
// when, is the SDK's people component's decision (maskdetect::People, people.hpp: the camera's people.alerts, which
// its serve.yaml `events:` keys set): the camera threads (StreamHub) call post_track() for each `alert`; neither
// call blocks on the network.
//
//   Monitor monitor(serve_config, data_dir);
//   monitor.on_track(track);            // store -> MQTT <camera>/event -> webhooks, on this thread
//   monitor.post_track(track);          // the store's JPEG and SQLite writes on the monitor's thread
//   monitor.set_stats_source(fn);       // per-camera statistics published on MQTT every stats_interval_s
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "event_store.hpp"
#include "history_store.hpp"
#include "mqtt_publisher.hpp"
#include "outbox.hpp"
#include "serve_config.hpp"
#include "stats.hpp"
#include "webhook_sender.hpp"

namespace maskdetect::server {

class Monitor {
 public:
  /// Opens the event and history stores: in the PostgreSQL database config.database when set (password from
  /// config.database_password_file, else the URL's, PGPASSWORD or ~/.pgpass), else SQLite in config.data_dir
  /// (default_data_dir() when empty); with webhooks the outbox beside them (PostgreSQL's `outbox` table, or
  /// outbox.db in the data folder); connects MQTT when configured, starts a worker per webhook. Throws
  /// maskdetect::Error.
  explicit Monitor(const ServeConfig& config);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Stores the event (under the camera's privacy mode), publishes it on MQTT and queues it for the webhooks.
  /// Returns the stored event's id (nullopt: none_stored).
  std::optional<std::int64_t> on_track(const PersonTrack& track);

  /// on_track() for capture threads: the event is stored and published by the monitor's own thread, so that
  /// writing its JPEGs never delays a frame.
  /// At most kMaxQueued events wait; beyond that one is dropped (logged, counted in dropped()).
  /// Every track queued is stored before the destructor returns.
  void post_track(PersonTrack track);
  /// Returns once every track posted so far is stored and published (tests, shutdown).
  void drain();
  /// Events dropped because the queue was full.
  [[nodiscard]] std::int64_t dropped() const;
  static constexpr std::size_t kMaxQueued = 64;

  /// `stats(camera)` returns the camera's statistics JSON object (or "" to skip); published on
  /// <prefix>/<camera>/stats every mqtt.stats_interval_s and at once after each MQTT (re)connection, with
  /// "camera", "events" (stored + counted) and "time" added. Without a source nothing is published.
  /// After set_stats_source({}) returns, the previous source is no longer called.
  void set_stats_source(std::function<std::string(const std::string& camera)> stats);

  /// A camera this server starts running (a fleet worker's cameras come and go): its privacy and its MQTT
  /// statistics. Replaces the settings of a camera of that name.
  void set_camera(const CameraConfig& camera);
  /// A camera this server stopped running: no more MQTT statistics for it (events already queued are stored).
  void remove_camera(const std::string& name);

  [[nodiscard]] const std::shared_ptr<EventStore>& store() const noexcept { return store_; }
  /// Per-camera minutes (GET /api/v1/history), same folder and age limit as the events.
  [[nodiscard]] const std::shared_ptr<HistoryStore>& history() const noexcept { return history_; }
  [[nodiscard]] MqttPublisher* mqtt() noexcept { return mqtt_.get(); }
  [[nodiscard]] WebhookSender* webhooks() noexcept { return webhooks_.get(); }
  /// Webhook deliveries waiting (null without webhooks).
  [[nodiscard]] const std::shared_ptr<Outbox>& outbox() const noexcept { return outbox_; }
  /// Webhook, MQTT and queue figures for /metrics (ServerOptions::delivery).
  [[nodiscard]] DeliveryFigures delivery_figures() const;

 private:
  void publish_stats_loop();
  void record_loop();
  std::optional<std::int64_t> record(const PersonTrack& track);  // store, MQTT, webhooks

  mutable std::mutex cameras_mutex_;   ///< cameras_, running_
  std::vector<CameraConfig> cameras_;  ///< every camera's settings (kept after remove_camera: events still queued)
  std::set<std::string> running_;      ///< the cameras whose statistics are published
  MqttConfig mqtt_config_;
  std::shared_ptr<EventStore> store_;
  std::shared_ptr<HistoryStore> history_;
  std::shared_ptr<Outbox> outbox_;
  std::unique_ptr<MqttPublisher> mqtt_;
  std::unique_ptr<WebhookSender> webhooks_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool stats_now_ = false;  ///< MQTT (re)connected: publish fresh statistics without waiting for the interval
  std::mutex stats_mutex_;  ///< held while stats_ runs: set_stats_source({}) waits for a call in progress
  std::function<std::string(const std::string&)> stats_;
  std::thread stats_thread_;
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  ///< a track was queued, or stopping
  std::condition_variable idle_cv_;   ///< the queue emptied and nothing is being recorded
  std::deque<PersonTrack> queue_;
  bool recording_ = false;  ///< the record thread is storing a track
  bool queue_stopping_ = false;
  std::int64_t dropped_ = 0;
  std::thread record_thread_;
};

}  // namespace maskdetect::server
