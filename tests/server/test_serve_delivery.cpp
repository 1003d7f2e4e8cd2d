// Delivery you can trust, end to end (issue 17): the real `maskdetect serve` binary with a camera whose people
// become events, a real mosquitto broker and real HTTP receivers on loopback. A receiver that accepts and never
// answers, listed first, does not hold back a working one; the new metrics; SIGTERM exits at once with one MQTT
// "offline" (no last will); what the slow receiver did not get is in the outbox and delivered after a restart;
// kill -9 leaves the will to the broker.
#include <set>

#include "process_support.hpp"
#include "serve_process.hpp"
#include "server_client.hpp"
#include "sqlite_outbox.hpp"
#include "webhook_receiver.hpp"
#include "webhook_sender.hpp"

#ifdef MASKDETECT_TEST_CLI

using namespace server_test;  // NOLINT(google-build-using-namespace)
using maskdetect::server::SqliteOutbox;
using maskdetect::server::WebhookSender;
using maskdetect::test::Broker;
using maskdetect::test::Receiver;
using maskdetect::test::Subscriber;

namespace {

template <typename F>
bool eventually(F done, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return done();
}

/// A clip made here from a dataset picture (never committed): 1 s of the picture, then 2.8 s of grey, so that
/// people come and go and each becomes an event.
fs::path make_clip(const fs::path& dir) {
  cv::Mat picture = cv::imread((images_dir() / sample_names().at(0)).string());
  REQUIRE(!picture.empty());
  cv::resize(picture, picture, cv::Size(640, 480));
  fs::path clip = dir / "clip.avi";
  cv::VideoWriter writer(clip.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 12.0,
                         picture.size());
  REQUIRE(writer.isOpened());
  const cv::Mat grey(picture.size(), CV_8UC3, cv::Scalar(128, 128, 128));
  for (int i = 0; i < 12; ++i) writer.write(picture);
  for (int i = 0; i < 34; ++i) writer.write(grey);
  return clip;
}

/// MQTT lines of a topic.
std::vector<std::string> on_topic(const std::vector<std::string>& lines, const std::string& topic) {
  std::vector<std::string> out;
  for (const std::string& line : lines)
    if (line.starts_with(topic + " ")) out.push_back(line.substr(topic.size() + 1));
  return out;
}

}  // namespace

TEST_CASE("serve: a hanging webhook does not hold back another and its events survive a restart and MQTT stops cleanly",
          "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  MASKDETECT_REQUIRE_MOSQUITTO();
  const fs::path dir = fs::path(MASKDETECT_TEST_BINARY_DIR) / "serve_delivery";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path clip = make_clip(dir);
  const unsigned short mqtt_port = maskdetect::test::free_port();
  Broker broker(dir, mqtt_port);
  Subscriber sub(mqtt_port, "maskdetect/#");
  auto silent = std::make_unique<Receiver>(0, Receiver::Mode::silent);
  Receiver working;
  const std::string silent_url = silent->url();
  const fs::path config = dir / "serve.yaml";
  std::ofstream(config) << "mqtt:\n  port: " << mqtt_port << "\n  stats_interval_s: 1\n"
                        << "webhooks:\n"
                        << "  - url: " << silent_url << "\n    name: slow\n    timeout_s: 5\n    retries: 3\n"
                        << "  - url: " << working.url() << "\n    name: good\n"
                        << "cameras:\n"
                        << "  - name: door\n    source: " << clip.string()
                        << "\n    fps: 12\n"
                        // A still picture: its faces never move, so they count only with count_stationary.
                        << "    people:\n      count_stationary: true\n      confirm_s: 0.3\n      min_face_px: 10\n"
                        << "    events:\n      labels: [mask, no_mask, incorrect]\n      min_seen_s: 0.3\n"
                        << "      cooldown_s: 0\n";
  std::vector<std::string> mqtt;  // every MQTT line seen
  auto serve = std::make_unique<ServeProcess>(dir, config);
  const unsigned short port = serve->port();

  // The working receiver gets every event promptly, although the first webhook never answers.
  REQUIRE(eventually([&] { return working.count() >= 4; }, 90.0));
  const auto got = working.received();
  double worst_s = 0.0;
  std::set<std::int64_t> webhook_ids;
  for (const auto& g : got) {
    const json event = json::parse(g.body);
    worst_s = std::max(worst_s, g.unix - event["created"].get<double>());
    webhook_ids.insert(event["id"].get<std::int64_t>());
  }
  WARN("events to the working receiver: " << got.size() << ", slowest " << worst_s << " s after being stored");
  CHECK(worst_s < 2.0);
  CHECK(webhook_ids.size() == got.size());
  CHECK(silent->count() <= 2);  // attempts of its first delivery only (5 s each, 1 s apart)

  // The new metrics, with the right values.
  REQUIRE(eventually(
      [&] {
        for (std::string& line : sub.collect(0.2)) mqtt.push_back(std::move(line));
        return !on_topic(mqtt, "maskdetect/door/event").empty() &&
               metric_value(get(port, "/metrics").body(),
                            R"(maskdetect_mqtt_messages_total{kind="event",result="published"})")
                       .value_or(0.0) >= 1.0;
      },
      30.0));
  const std::size_t received_before = working.count();
  const std::string metrics = get(port, "/metrics").body();
  const std::size_t received_after = working.count();
  INFO(metrics);
  const auto good = metric_value(metrics, R"(maskdetect_webhook_deliveries_total{webhook="good",result="delivered"})");
  REQUIRE(good.has_value());
  CHECK(*good >= static_cast<double>(received_before) - 1.0);  // one may be between its answer and the count
  CHECK(*good <= static_cast<double>(received_after));
  CHECK(metric_value(metrics, R"(maskdetect_webhook_deliveries_total{webhook="slow",result="delivered"})") == 0.0);
  CHECK(metric_value(metrics, R"(maskdetect_webhook_deliveries_total{webhook="good",result="failed"})") == 0.0);
  CHECK(metric_value(metrics, R"(maskdetect_webhook_deliveries_total{webhook="good",result="dropped"})") == 0.0);
  CHECK(metric_value(metrics, R"(maskdetect_webhook_outbox_depth{webhook="slow"})").value_or(0.0) >= 3.0);
  CHECK(metric_value(metrics, R"(maskdetect_webhook_outbox_depth{webhook="good"})").value_or(9.0) <= 1.0);
  CHECK(metric_value(metrics, R"(maskdetect_camera_up{camera="door"})") == 1.0);
  CHECK(metric_value(metrics, R"(maskdetect_camera_outages_total{camera="door"})") == 0.0);
  CHECK(metric_value(metrics, "maskdetect_mqtt_connected") == 1.0);
  CHECK(metric_value(metrics, "maskdetect_mqtt_connections_total") == 1.0);
  CHECK(metric_value(metrics, R"(maskdetect_mqtt_messages_total{kind="event",result="published"})").value_or(0.0) >=
        1.0);
  CHECK(metric_value(metrics, R"(maskdetect_mqtt_messages_total{kind="event",result="dropped"})") == 0.0);
  CHECK(metric_value(metrics, "maskdetect_mqtt_queued_events") == 0.0);
  CHECK(metric_value(metrics, "maskdetect_events_dropped_total") == 0.0);
  CHECK(metrics.find(silent_url) == std::string::npos);  // webhooks are named, never shown by URL
  CHECK(metrics.find(std::to_string(silent->port())) == std::string::npos);

  // SIGTERM: out at once (the hanging POST is abandoned), exit 0, "offline" once and no last will.
  const ServeProcess::Exit exit = serve->terminate(10.0);
  INFO(serve->log());
  CHECK(exit.exited);
  CHECK(exit.code == 0);
  WARN("SIGTERM to exit: " << exit.seconds << " s");
  CHECK(exit.seconds < 3.0);
  for (std::string& line : sub.collect(2.0)) mqtt.push_back(std::move(line));
  const auto status_lines = on_topic(mqtt, "maskdetect/status");
  CHECK(std::count(status_lines.begin(), status_lines.end(), "offline") == 1);
  CHECK(status_lines.back() == "offline");

  // What the slow receiver did not get waits in the outbox.
  const std::string slow_target = WebhookSender::target_for(silent_url, 0);
  std::size_t pending = 0;
  std::int64_t first_pending = 0;
  {
    SqliteOutbox outbox(dir / "data" / "outbox.db");
    pending = outbox.size(slow_target);
    REQUIRE(outbox.oldest(slow_target).has_value());
    first_pending = outbox.oldest(slow_target)->id;
    CHECK(outbox.size(WebhookSender::target_for(working.url(), 0)) == 0);
  }
  CHECK(pending >= 3);

  // Restart with the slow receiver replaced by a working one on its port: the pending events go out first.
  const unsigned short slow_port = silent->port();
  silent.reset();
  Receiver revived(0, Receiver::Mode::answer, 500, slow_port);
  serve = std::make_unique<ServeProcess>(dir, config);
  REQUIRE(eventually([&] { return revived.count() >= pending; }, 30.0));
  const auto delivered = revived.received();
  CHECK(delivered.front().delivery == std::to_string(first_pending));
  for (std::size_t i = 1; i < pending; ++i)
    CHECK(std::stoll(delivered[i].delivery) > std::stoll(delivered[i - 1].delivery));  // in order
  REQUIRE(eventually(
      [&] {
        return metric_value(get(serve->port(), "/metrics").body(), R"(maskdetect_webhook_outbox_depth{webhook="slow"})")
                   .value_or(9.0) <= 1.0;
      },
      10.0));

  // kill -9: nothing runs in the server, the broker sends the will.
  for (std::string& line : sub.collect(1.0)) mqtt.push_back(std::move(line));
  serve->kill();
  std::vector<std::string> after_kill = sub.collect(2.0);
  const auto will = on_topic(after_kill, "maskdetect/status");
  CHECK(will == std::vector<std::string>{"offline"});
  for (std::string& line : after_kill) mqtt.push_back(std::move(line));

  // Each event went out on MQTT once.
  std::multiset<std::int64_t> mqtt_ids;
  for (const std::string& payload : on_topic(mqtt, "maskdetect/door/event"))
    mqtt_ids.insert(json::parse(payload)["id"].get<std::int64_t>());
  CHECK(!mqtt_ids.empty());
  CHECK(std::set<std::int64_t>(mqtt_ids.begin(), mqtt_ids.end()).size() == mqtt_ids.size());
}

#endif
