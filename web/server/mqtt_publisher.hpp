// mqtt_publisher.hpp - events and per-camera statistics to an MQTT broker with libmosquitto.
//
// Topics (prefix "maskdetect" by default): <prefix>/<camera>/event (one JSON per event, QoS 1),
// <prefix>/<camera>/stats (JSON, QoS 1, retained), <prefix>/status ("online" / "offline", retained; "offline"
// is also the last will, sent by the broker when the server vanishes without saying goodbye). Optional Home
// Assistant discovery. libmosquitto's thread runs the network and reconnects with exponential backoff; a
// thread of the publisher hands messages over, so publishing never blocks the caller.
//
// What is kept while the broker is unreachable (docs/server.md "MQTT"):
// - events: up to `max_queued_events`, sent oldest first once the connection is back; beyond, the oldest is
//   dropped and counted (events are in the event store in any case);
// - statistics: nothing. A statistics message is dropped (counted) while disconnected, and on every
//   (re)connection on_connect() is called so that fresh statistics go out at once: a stale one is never replayed.
// At most 20 messages are handed to libmosquitto unacknowledged; the rest wait in the publisher's own bounded
// queue, so that the client library never holds an unbounded backlog either.
// The destructor publishes "offline" (retained), waits for the broker's acknowledgement, then sends a clean
// DISCONNECT, so that the broker discards the last will: subscribers read "offline" once. A crash or kill -9
// leaves the will to the broker.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serve_config.hpp"

namespace maskdetect::server {

class MqttPublisher {
 public:
  struct Counters {
    std::int64_t events_published = 0;  ///< events acknowledged by the broker
    std::int64_t stats_published = 0;   ///< statistics acknowledged by the broker
    std::int64_t events_dropped = 0;    ///< events dropped: the queue was full (or libmosquitto refused one)
    std::int64_t stats_dropped = 0;     ///< statistics not sent: disconnected, or replaced by a newer one
    std::size_t events_queued = 0;      ///< events waiting for the connection (or for acknowledgements)
    std::size_t in_flight = 0;          ///< messages sent and not yet acknowledged
    bool connected = false;
    std::int64_t connections = 0;  ///< connections made so far (the first and every reconnect)
  };

  /// Starts connecting in the background. Throws Error(invalid_config) for a bad setting.
  MqttPublisher(MqttConfig config, std::vector<std::string> cameras);
  /// "offline" (retained, acknowledged), then a clean DISCONNECT; bounded (about 2 s at most).
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  /// Queues an event (see above). Never blocks.
  void publish_event(const std::string& camera, const std::string& json);
  /// Publishes a camera's statistics if connected (a newer one replaces one not yet sent); dropped otherwise.
  void publish_stats(const std::string& camera, const std::string& json);
  /// Called on the publisher's thread after each (re)connection, once "online" is published: publish fresh
  /// statistics from it. Replaces the previous callback; after set_on_connect({}) returns it is not called.
  void set_on_connect(std::function<void()> callback);

  [[nodiscard]] bool connected() const noexcept;
  /// Connections made so far (the first and every reconnect).
  [[nodiscard]] std::int64_t connections() const noexcept;
  [[nodiscard]] Counters counters() const;
  [[nodiscard]] std::string status_topic() const;

  /// Messages handed to libmosquitto without acknowledgement at most.
  static constexpr std::size_t kMaxInFlight = 20;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskdetect::server
