// MQTT against a real mosquitto broker started by the test on a free loopback port.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
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
  CHECK(sub.next() == "maskdetect/status online");  // retained
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(sub.next() == "maskdetect/status offline");
  CHECK(sub.next(1.0).empty());

  // A graceful stop says "offline" itself, once: its clean DISCONNECT keeps the broker from sending the will.
  for (int round = 0; round < 5; ++round) {
    {
      MqttPublisher publisher(config_for(port), {"door"});
      CHECK(sub.next() == "maskdetect/status online");
      publisher.publish_event("door", R"({"id":1})");  // traffic just before the stop
    }
    CHECK(sub.next() == "maskdetect/status offline");
    CHECK(sub.next(1.0).empty());  // no second "offline" from the will
  }
}

TEST_CASE("Monitor: an event is stored and published on MQTT, statistics every interval", "[monitor]") {
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
  track.previous_label = "mask";  // a mask removal (maskdetect::People decided it is an event)
  const auto id = monitor.on_track(track);
  REQUIRE(id.has_value());
  const std::string line = sub.until("maskdetect/door/event");
  REQUIRE(!line.empty());
  const json event = json::parse(line.substr(line.find(' ') + 1));
  CHECK(event["id"] == *id);
  CHECK(event["track_id"] == 7);
  CHECK(event["previous_label"] == "mask");
  CHECK(event["box"] == json::array({79, 105, 30, 37}));
  CHECK(event["snapshot"] == fmt::format("/api/v1/events/{}/snapshot.jpg", *id));
  CHECK(monitor.store()->get(*id).has_value());

  const std::string stats = sub.until("maskdetect/door/stats");
  REQUIRE(!stats.empty());
  const json doc = json::parse(stats.substr(stats.find(' ') + 1));
  CHECK(doc["camera"] == "door");
  CHECK(doc["fps"] == 3.0);
  CHECK(doc["events"] == 1);
}

TEST_CASE("MQTT: a broker outage keeps a bounded queue of events and no stale statistics and each event once",
          "[monitor]") {
  MASKDETECT_REQUIRE_MOSQUITTO();
  maskdetect::test::TempDir dir;
  Broker broker(dir.path(), maskdetect::test::free_port());
  // The server reaches the broker through a proxy that the test cuts: the broker is unreachable for the server
  // while the subscriber stays connected and sees exactly what the server publishes.
  maskdetect::test::TcpProxy proxy(broker.port());
  maskdetect::server::ServeConfig config = maskdetect::server::parse_serve_config(
      "mqtt:\n  port: " + std::to_string(proxy.port()) +
          "\n  stats_interval_s: 5\n  reconnect_min_s: 1\n  reconnect_max_s: 2\n  max_queued_events: 5\n"
          "cameras:\n  - name: door\n    source: x\n    events:\n      labels: [no_mask]\n      min_seen_s: 0\n"
          "      cooldown_s: 0\n",
      "test");
  config.data_dir = dir / "state";
  Subscriber sub(broker.port(), "maskdetect/#");
  maskdetect::server::Monitor monitor(config);
  monitor.set_stats_source([](const std::string&) { return std::string(R"({"fps":1.0})"); });
  REQUIRE(sub.until("maskdetect/status", 30.0) == "maskdetect/status online");

  auto event = [&](std::int64_t track) {  // an event without a frame: a row without images
    maskdetect::server::PersonTrack t;
    t.camera = "door";
    t.track_id = track;
    t.label = "no_mask";
    t.last_seen = maskdetect::server::unix_now();
    t.first_seen = t.last_seen - 1.0;
    return monitor.on_track(t).value();
  };
  std::vector<std::string> lines;  // every message the subscriber gets
  auto read = [&](double seconds) {
    for (std::string& line : sub.collect(seconds)) lines.push_back(std::move(line));
  };
  std::vector<std::int64_t> before{event(1), event(2)};
  read(1.0);

  // The broker becomes unreachable for 6 s: 12 events, and the statistics due every 5 s, while it is.
  proxy.cut();
  REQUIRE(eventually([&] { return !monitor.mqtt()->connected(); }));
  const double cut = maskdetect::server::unix_now();
  const auto dropped_before = monitor.mqtt()->counters().stats_dropped;
  std::vector<std::int64_t> during;
  for (int i = 10; i < 22; ++i) during.push_back(event(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(6000));
  auto c = monitor.mqtt()->counters();
  CHECK(c.events_queued == 5);
  CHECK(c.events_dropped == 7);
  CHECK(c.stats_dropped > dropped_before);  // statistics are not kept while disconnected
  CHECK_FALSE(c.connected);
  read(0.1);
  const std::size_t seen_before_restore = lines.size();

  const double restored = maskdetect::server::unix_now();
  const auto restore_clock = std::chrono::steady_clock::now();
  proxy.restore();
  REQUIRE(eventually([&] { return monitor.mqtt()->connected(); }));
  const double reconnected = maskdetect::server::unix_now();
  const double back_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_clock).count();
  WARN("MQTT back " << back_s << " s after the broker");
  CHECK(back_s < 4.0);  // reconnect_max_s 2, plus the connection
  read(2.5);

  // Events: each before the cut once, then the 5 newest of the outage, each once, nothing else.
  std::vector<std::int64_t> ids;
  std::vector<json> stats_after;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string topic = lines[i].substr(0, lines[i].find(' '));
    const std::string payload = lines[i].substr(lines[i].find(' ') + 1);
    if (topic == "maskdetect/door/event") ids.push_back(json::parse(payload)["id"].get<std::int64_t>());
    if (topic == "maskdetect/door/stats" && i >= seen_before_restore) stats_after.push_back(json::parse(payload));
  }
  std::vector<std::int64_t> expected = before;
  expected.insert(expected.end(), during.end() - 5, during.end());
  CHECK(ids == expected);
  // Statistics: none made during the outage; fresh ones at once after the reconnection, not at the next
  // 5 s tick.
  REQUIRE(!stats_after.empty());
  for (const json& doc : stats_after) {
    const double t = doc["time"].get<double>();
    CHECK((t >= restored || t < cut));  // older than the cut: in flight when it came (sent again, QoS 1)
  }
  const auto fresh = std::find_if(stats_after.begin(), stats_after.end(),
                                  [&](const json& doc) { return doc["time"].get<double>() >= restored; });
  REQUIRE(fresh != stats_after.end());
  CHECK((*fresh)["time"].get<double>() - reconnected < 0.5);
  c = monitor.mqtt()->counters();
  CHECK(c.events_queued == 0);
  CHECK(c.events_published == 2 + 5);
  CHECK(c.connections == 2);
}
