// monitor.hpp - what `maskdetect serve` does with tracked people: the event rules, the SQLite store, MQTT
// and webhooks, behind one call per track. The tracker (or whatever produces PersonTrack) calls
// on_track() for every live or finished track; on_track never blocks on the network.
//
//   Monitor monitor(serve_config, data_dir);
//   monitor.on_track(track);            // rules -> store -> MQTT <camera>/event -> webhooks
//   monitor.set_stats_source(fn);       // per-camera statistics published on MQTT every stats_interval_s
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "event_store.hpp"
#include "history_store.hpp"
#include "mqtt_publisher.hpp"
#include "serve_config.hpp"
#include "webhook_sender.hpp"

namespace maskdetect::server {

class Monitor {
 public:
  /// Opens the event and history stores in config.data_dir (default_data_dir() when empty), connects MQTT
  /// when configured, starts the webhook worker. Throws maskdetect::Error.
  explicit Monitor(const ServeConfig& config);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  /// Applies the camera's rules; an admitted track is stored (under the camera's privacy mode), published on
  /// MQTT and queued for the webhooks. Returns the stored event's id (nullopt: not an event, or none_stored).
  std::optional<std::int64_t> on_track(const PersonTrack& track);

  /// `stats(camera)` returns the camera's statistics JSON object (or "" to skip); published on
  /// <prefix>/<camera>/stats every mqtt.stats_interval_s, with "events" (stored + counted) added.
  /// After set_stats_source({}) returns, the previous source is no longer called.
  void set_stats_source(std::function<std::string(const std::string& camera)> stats);

  [[nodiscard]] const std::shared_ptr<EventStore>& store() const noexcept { return store_; }
  /// Per-camera minutes (GET /api/v1/history), same folder and age limit as the events.
  [[nodiscard]] const std::shared_ptr<HistoryStore>& history() const noexcept { return history_; }
  [[nodiscard]] MqttPublisher* mqtt() noexcept { return mqtt_.get(); }
  [[nodiscard]] WebhookSender* webhooks() noexcept { return webhooks_.get(); }

 private:
  void publish_stats_loop();

  std::vector<CameraConfig> cameras_;
  MqttConfig mqtt_config_;
  EventRules rules_;
  std::shared_ptr<EventStore> store_;
  std::shared_ptr<HistoryStore> history_;
  std::unique_ptr<MqttPublisher> mqtt_;
  std::unique_ptr<WebhookSender> webhooks_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::mutex stats_mutex_;  ///< held while stats_ runs: set_stats_source({}) waits for a call in progress
  std::function<std::string(const std::string&)> stats_;
  std::thread stats_thread_;
};

}  // namespace maskdetect::server
