// monitor.cpp - store, MQTT and webhooks behind on_track(); see monitor.hpp.
#include "monitor.hpp"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "event_store_sqlite.hpp"
#include "pg_outbox.hpp"
#include "sqlite_outbox.hpp"
#include "state.hpp"

namespace maskdetect::server {

Monitor::Monitor(const ServeConfig& config) : cameras_(config.cameras), mqtt_config_(config.mqtt) {
  for (const CameraConfig& camera : cameras_) running_.insert(camera.name);
  // The stores: PostgreSQL when the config names a database, else SQLite in the data folder.
  EventStore::Options options;
  options.dir = config.data_dir.empty() ? default_data_dir() : config.data_dir;
  options.database = config.database;
  if (!config.database_password_file.empty()) options.password = read_password_file(config.database_password_file);
  options.max_age_s = config.max_age_days * 86400.0;
  options.max_bytes = config.max_size_bytes;
  store_ = open_event_store(options);
  history_ = std::make_shared<HistoryStore>(HistoryStore::Options{
      .dir = options.dir, .database = options.database, .password = options.password, .max_age_s = options.max_age_s});
  std::vector<std::string> names;
  for (const CameraConfig& camera : cameras_) names.push_back(camera.name);
  if (config.mqtt.enabled) mqtt_ = std::make_unique<MqttPublisher>(config.mqtt, names);
  if (!config.webhooks.empty()) {
    // Beside the events: a fleet's worker keeps what it has not delivered in PostgreSQL, where the next worker
    // to start finds it should this one die.
    if (options.database.empty())
      outbox_ = std::make_shared<SqliteOutbox>(options.dir / kSqliteOutboxFile);
    else
      outbox_ = std::make_shared<PgOutbox>(options.database, options.password, PgOutbox::make_owner());
    webhooks_ = std::make_unique<WebhookSender>(config.webhooks, outbox_);
  }
  if (mqtt_) {
    mqtt_->set_on_connect([this] {  // fresh statistics at once: none were kept while disconnected
      {
        const std::lock_guard lock(mutex_);
        stats_now_ = true;
      }
      stop_cv_.notify_all();
    });
    stats_thread_ = std::thread([this] { publish_stats_loop(); });
  }
  record_thread_ = std::thread([this] { record_loop(); });
}

Monitor::~Monitor() {
  {
    const std::lock_guard lock(queue_mutex_);
    queue_stopping_ = true;  // the record thread stores what is queued, then ends
  }
  queue_cv_.notify_all();
  if (record_thread_.joinable()) record_thread_.join();
  if (mqtt_) mqtt_->set_on_connect({});
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (stats_thread_.joinable()) stats_thread_.join();
  // Then the members: the webhook workers stop (their outbox keeps what is not delivered), MQTT says
  // "offline" and disconnects cleanly.
}

std::optional<std::int64_t> Monitor::on_track(const PersonTrack& track) { return record(track); }

void Monitor::post_track(PersonTrack track) {
  {
    const std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= kMaxQueued) {
      ++dropped_;
      detail::log_line(fmt::format("camera {}: event of person {} not recorded: {} events are waiting to be stored",
                                   track.camera, track.track_id, kMaxQueued));
      return;
    }
    queue_.push_back(std::move(track));
  }
  queue_cv_.notify_one();
}

void Monitor::drain() {
  std::unique_lock lock(queue_mutex_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !recording_; });
}

std::int64_t Monitor::dropped() const {
  const std::lock_guard lock(queue_mutex_);
  return dropped_;
}

void Monitor::record_loop() {
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    queue_cv_.wait(lock, [this] { return queue_stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is stored
    PersonTrack track = std::move(queue_.front());
    queue_.pop_front();
    recording_ = true;
    lock.unlock();
    try {
      (void)record(track);
    } catch (const std::exception& e) {  // a full disk must not stop the monitor
      detail::log_line(fmt::format("camera {}: event not recorded: {}", track.camera, e.what()));
    }
    lock.lock();
    recording_ = false;
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

void Monitor::set_camera(const CameraConfig& camera) {
  const std::lock_guard lock(cameras_mutex_);
  std::erase_if(cameras_, [&](const CameraConfig& c) { return c.name == camera.name; });
  cameras_.push_back(camera);
  running_.insert(camera.name);
}

void Monitor::remove_camera(const std::string& name) {
  const std::lock_guard lock(cameras_mutex_);
  running_.erase(name);
}

std::optional<std::int64_t> Monitor::record(const PersonTrack& track) {
  Privacy privacy = Privacy::full;
  {
    const std::lock_guard lock(cameras_mutex_);
    for (const CameraConfig& camera : cameras_)
      if (camera.name == track.camera) privacy = camera.privacy;
  }
  // The event as stored (its id, images, uid), whatever retention did since: never a re-read that may miss it.
  // Under none_stored it has no id (null in the payload) and no image.
  const Event event = store_->record(track, privacy);
  const std::string json = event_json(event);
  if (mqtt_) mqtt_->publish_event(track.camera, json);
  if (webhooks_) webhooks_->send(track.camera, json);
  if (!event.stored()) return std::nullopt;
  return event.id;
}

DeliveryFigures Monitor::delivery_figures() const {
  DeliveryFigures d;
  d.events_not_recorded = dropped();
  if (webhooks_) {
    for (std::size_t i = 0; i < webhooks_->size(); ++i) {
      const WebhookSender::Counters c = webhooks_->counters(i);
      d.webhooks.push_back(WebhookFigures{.name = webhooks_->name(i),
                                          .delivered = c.delivered,
                                          .failed = c.failed,
                                          .dropped = c.dropped,
                                          .attempts = c.attempts,
                                          .pending = c.pending});
    }
  }
  if (mqtt_) {
    const MqttPublisher::Counters c = mqtt_->counters();
    d.mqtt = MqttFigures{.connected = c.connected,
                         .connections = c.connections,
                         .events_published = c.events_published,
                         .stats_published = c.stats_published,
                         .events_dropped = c.events_dropped,
                         .stats_dropped = c.stats_dropped,
                         .events_queued = c.events_queued,
                         .in_flight = c.in_flight};
  }
  return d;
}

void Monitor::set_stats_source(std::function<std::string(const std::string&)> stats) {
  const std::lock_guard lock(stats_mutex_);
  stats_ = std::move(stats);
}

void Monitor::publish_stats_loop() {
  const auto interval = std::chrono::duration<double>(mqtt_config_.stats_interval_s);
  std::unique_lock lock(mutex_);
  for (;;) {
    // Every interval, or at once after MQTT (re)connected.
    stop_cv_.wait_for(lock, interval, [this] { return stopping_ || stats_now_; });
    if (stopping_) return;
    stats_now_ = false;
    lock.unlock();
    try {
      const auto counts = store_->counts();
      std::vector<CameraConfig> cameras;
      {
        const std::lock_guard guard(cameras_mutex_);
        for (const CameraConfig& camera : cameras_)
          if (running_.contains(camera.name)) cameras.push_back(camera);
      }
      for (const CameraConfig& camera : cameras) {
        nlohmann::json doc = nlohmann::json::object();
        {
          const std::lock_guard guard(stats_mutex_);
          if (!stats_) continue;  // no source (yet, or any more): nothing to say
          const std::string text = stats_(camera.name);
          if (text.empty()) continue;
          doc = nlohmann::json::parse(text);
        }
        std::int64_t events = 0;
        for (const auto& [key, n] : counts)
          if (key.first == camera.name) events += n;
        doc["camera"] = camera.name;
        doc["events"] = events;
        doc["time"] = unix_now();
        mqtt_->publish_stats(camera.name, doc.dump());
      }
    } catch (const std::exception& e) {
      detail::log_line(fmt::format("mqtt: statistics not published: {}", e.what()));
    }
    lock.lock();
  }
}

}  // namespace maskdetect::server
