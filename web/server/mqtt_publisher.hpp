// mqtt_publisher.hpp - events and per-camera statistics to an MQTT broker with libmosquitto.
//
// Topics (prefix "maskdetect" by default): <prefix>/<camera>/event (one JSON per event, QoS 1),
// <prefix>/<camera>/stats (JSON, QoS 1, retained), <prefix>/status ("online" / "offline", retained; "offline"
// is also the last will, sent by the broker when the server vanishes). Optional Home Assistant discovery.
// The network runs on libmosquitto's own thread, which reconnects with exponential backoff; publishing never
// blocks (a message published while disconnected is dropped: the events are kept in SQLite).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "serve_config.hpp"

namespace maskdetect::server {

class MqttPublisher {
 public:
  /// Starts connecting in the background. Throws Error(invalid_config) for a bad setting.
  MqttPublisher(MqttConfig config, std::vector<std::string> cameras);
  /// Publishes "offline" and disconnects.
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  void publish_event(const std::string& camera, const std::string& json);
  void publish_stats(const std::string& camera, const std::string& json);

  [[nodiscard]] bool connected() const noexcept;
  /// Connections made so far (the first and every reconnect).
  [[nodiscard]] std::int64_t connections() const noexcept;
  [[nodiscard]] std::string status_topic() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskdetect::server
