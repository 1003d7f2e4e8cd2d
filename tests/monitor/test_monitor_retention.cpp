// Issue 17, end to end through the monitor: with `max_size: 400KB` the stored count fell from 14 to 0 in
// batches of 16 and events went out on MQTT with "id": 0. Now every published event carries the id of an
// event that is stored, and the store never empties. On both back ends, with a real mosquitto broker.
#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "monitor.hpp"
#include "monitor_support.hpp"
#include "process_support.hpp"
#include "store_backends.hpp"

using json = nlohmann::json;
using maskdetect::test::Backend;

namespace {

void published_ids_are_stored(Backend backend) {
  MASKDETECT_REQUIRE_MOSQUITTO();
  MASKDETECT_REQUIRE_DATA(maskdetect::test::sample_image());
  const cv::Mat frame = cv::imread(maskdetect::test::sample_image().string());
  REQUIRE(!frame.empty());
  auto where = maskdetect::test::StoreLocation::make(backend);
  if (!where) return;
  const unsigned short port = maskdetect::test::free_port();
  maskdetect::test::Broker broker(where->dir(), port);
  maskdetect::server::ServeConfig config = maskdetect::server::parse_serve_config(
      fmt::format("retention:\n  max_size: 400KB\nmqtt:\n  port: {}\n  stats_interval_s: 60\n"
                  "cameras:\n  - name: door\n    source: x\n    events:\n      min_seen_s: 0\n      cooldown_s: 0\n",
                  port),
      "test");
  config.data_dir = where->dir() / "state";
  if (where->postgres()) config.database = where->database().url();
  maskdetect::server::Monitor monitor(config);
  maskdetect::test::Subscriber sub(port, "maskdetect/#");
  // Subscribed (the retained status arrived) and the monitor connected before the first event is published.
  REQUIRE(sub.until("maskdetect/status") == "maskdetect/status online");
  const double now = maskdetect::server::unix_now();
  std::size_t smallest = 1000;
  for (int i = 0; i < 30; ++i) {
    const auto id = monitor.on_track(maskdetect::test::sample_track(frame, "door", i, "no_mask", now - 30.0 + i));
    REQUIRE(id.has_value());
    const std::string line = sub.until("maskdetect/door/event");
    REQUIRE(!line.empty());
    const json event = json::parse(line.substr(line.find(' ') + 1));
    CHECK(event["id"] == *id);  // never null, never 0
    CHECK(event["snapshot"] == fmt::format("/api/v1/events/{}/snapshot.jpg", *id));
    CHECK(monitor.store()->get(*id).has_value());  // and it is there to be fetched
    smallest = std::min(smallest, monitor.store()->size());
  }
  CHECK(smallest >= 1);
  CHECK(monitor.store()->size() >= 2);  // 400 KB hold a few events of ~65 kB: never emptied
  CHECK(monitor.store()->stored_bytes() <= 400'000);
}

}  // namespace

STORE_TEST("Monitor with max_size 400KB: every event published on MQTT has the id of a stored event",
           published_ids_are_stored)
