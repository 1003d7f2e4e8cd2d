// MQTT against a real mosquitto broker started by the test on a free loopback port.
#include <chrono>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "monitor.hpp"
#include "monitor_support.hpp"
#include "mqtt_publisher.hpp"
#include "process_support.hpp"

using maskdetect::server::MqttConfig;
using maskdetect::server::MqttPublisher;
using maskdetect::test::Broker;
using maskdetect::test::Subscriber;
using nlohmann::json;

namespace {

MqttConfig config_for(unsigned short port) {
  MqttConfig c;
  c.enabled = true;
  c.port = port;
  c.reconnect_min_s = 1.0;
  c.reconnect_max_s = 2.0;
  return c;
}

/// Waits (bounded) until `done()`; the caller asserts the outcome.
template <typename F>
bool eventually(F done) {
  for (int i = 0; i < 600 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return done();
}

}  // namespace

TEST_CASE("MQTT: availability, events, statistics, Home Assistant discovery and reconnect", "[monitor]") {
  MASKDETECT_REQUIRE_MOSQUITTO();
  maskdetect::test::TempDir dir;
  const unsigned short port = maskdetect::test::free_port();
  auto broker = std::make_unique<Broker>(dir.path(), port);
  MqttConfig config = config_for(port);
  config.home_assistant = true;
  MqttPublisher publisher(config, {"door", "hall"});

  Subscriber status(port, "maskdetect/#");
  CHECK(status.until("maskdetect/status") == "maskdetect/status online");  // retained
  // The subscription is active (the retained message came through it): a live event reaches it.
  const std::string event = R"({"id":1,"camera":"door","label":"no_mask"})";
  publisher.publish_event("door", event);
  CHECK(status.until("maskdetect/door/event") == "maskdetect/door/event " + event);
  publisher.publish_stats("hall", R"({"fps":4.5})");
  CHECK(status.until("maskdetect/hall/stats") == R"(maskdetect/hall/stats {"fps":4.5})");

  {
    Subscriber discovery(port, "homeassistant/#");
    const std::string line = discovery.until("homeassistant/sensor/maskdetect_door_compliance/config");
    REQUIRE(!line.empty());
    const json doc = json::parse(line.substr(line.find(' ') + 1));
    CHECK(doc["state_topic"] == "maskdetect/door/stats");
    CHECK(doc["availability_topic"] == "maskdetect/status");
    CHECK(doc["unique_id"] == "maskdetect_door_compliance");
  }

  // The broker dies and comes back on the same port: the publisher reconnects (with backoff) by itself.
  CHECK(publisher.connections() == 1);
  broker->kill();
  CHECK(eventually([&] { return !publisher.connected(); }));
  publisher.publish_event("door", event);  // dropped while disconnected; must not block or throw
  broker = std::make_unique<Broker>(dir.path(), port);
  REQUIRE(eventually([&] { return publisher.connected(); }));
  CHECK(publisher.connections() == 2);
  Subscriber again(port, "maskdetect/#");
  CHECK(again.until("maskdetect/status") == "maskdetect/status online");
  publisher.publish_event("hall", event);
  CHECK(again.until("maskdetect/hall/event") == "maskdetect/hall/event " + event);
}

TEST_CASE("MQTT: the broker publishes the last will when the server process is killed", "[monitor]") {
  MASKDETECT_REQUIRE_MOSQUITTO();
  maskdetect::test::TempDir dir;
  const unsigned short port = maskdetect::test::free_port();
  Broker broker(dir.path(), port);
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();  // before this process has any MQTT thread
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    MqttPublisher publisher(config_for(port), {"door"});
    while (!publisher.connected()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const char byte = 'x';
    (void)!::write(fds[1], &byte, 1);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ::close(fds[1]);
  char byte = 0;
  REQUIRE(::read(fds[0], &byte, 1) == 1);
  ::close(fds[0]);
  Subscriber sub(port, "maskdetect/status");
  CHECK(sub.next() == "maskdetect/status online");
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(sub.next() == "maskdetect/status offline");

  // A graceful stop says "offline" itself.
  {
    MqttPublisher publisher(config_for(port), {"door"});
    CHECK(sub.next() == "maskdetect/status online");
  }
  CHECK(sub.next() == "maskdetect/status offline");
}

TEST_CASE("Monitor: an admitted track is stored and published on MQTT, statistics every interval", "[monitor]") {
  MASKDETECT_REQUIRE_MOSQUITTO();
  MASKDETECT_REQUIRE_DATA(maskdetect::test::sample_image());
  const cv::Mat frame = cv::imread(maskdetect::test::sample_image().string());
  maskdetect::test::TempDir dir;
  const unsigned short port = maskdetect::test::free_port();
  Broker broker(dir.path(), port);
  maskdetect::server::ServeConfig config = maskdetect::server::parse_serve_config(
      "mqtt:\n  port: " + std::to_string(port) +
          "\n  stats_interval_s: 0.2\ncameras:\n  - name: door\n    source: x\n    events:\n      min_seen_s: 2\n",
      "test");
  config.data_dir = dir / "state";
  maskdetect::server::Monitor monitor(config);
  monitor.set_stats_source([](const std::string& camera) {
    return camera == "door" ? std::string(R"({"fps":3.0,"faces":{"no_mask":2}})") : std::string();
  });
  Subscriber sub(port, "maskdetect/#");
  CHECK(sub.until("maskdetect/status") == "maskdetect/status online");

  auto track = maskdetect::test::sample_track(frame, "door", 7, "no_mask", maskdetect::server::unix_now());
  track.first_seen = track.last_seen - 1.0;  // seen 1 s < min_seen_s 2: not an event yet
  CHECK_FALSE(monitor.on_track(track).has_value());
  track.first_seen = track.last_seen - 2.5;
  const auto id = monitor.on_track(track);
  REQUIRE(id.has_value());
  CHECK_FALSE(monitor.on_track(track).has_value());  // once per track
  const std::string line = sub.until("maskdetect/door/event");
  REQUIRE(!line.empty());
  const json event = json::parse(line.substr(line.find(' ') + 1));
  CHECK(event["id"] == *id);
  CHECK(event["track_id"] == 7);
  CHECK(event["snapshot"] == fmt::format("/api/v1/events/{}/snapshot.jpg", *id));
  CHECK(monitor.store()->get(*id).has_value());

  const std::string stats = sub.until("maskdetect/door/stats");
  REQUIRE(!stats.empty());
  const json doc = json::parse(stats.substr(stats.find(' ') + 1));
  CHECK(doc["camera"] == "door");
  CHECK(doc["fps"] == 3.0);
  CHECK(doc["events"] == 1);
}
