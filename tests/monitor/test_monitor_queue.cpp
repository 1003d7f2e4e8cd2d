// Monitor::post_track: storing on the monitor's own thread, nothing queued lost when the monitor closes. Which
// person is an event is decided before (maskdetect::People in the camera's thread): every event posted is stored.
#include <cstdint>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "monitor.hpp"
#include "monitor_support.hpp"

using maskdetect::server::EventStore;
using maskdetect::server::Monitor;
using maskdetect::test::sample_image;
using maskdetect::test::sample_track;
using maskdetect::test::TempDir;

namespace {

std::int64_t stored(const EventStore& store) {
  std::int64_t n = 0;
  for (const auto& [key, count] : store.counts()) n += count;
  return n;
}

}  // namespace

TEST_CASE("Monitor::post_track: events are stored by the monitor's thread, all before it closes", "[monitor]") {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  const TempDir dir;
  maskdetect::server::ServeConfig config = maskdetect::server::parse_serve_config(
      "cameras:\n  - name: door\n    source: x\n    events:\n      labels: [no_mask]\n      min_seen_s: 0\n"
      "      cooldown_s: 0\n",
      "test");
  config.data_dir = dir / "state";
  const double now = maskdetect::server::unix_now();
  {
    Monitor monitor(config);
    for (int i = 1; i <= 20; ++i) monitor.post_track(sample_track(frame, "door", i, "no_mask", now));
    auto removal = sample_track(frame, "door", 3, "no_mask", now + 10.0);  // the same person's second alert
    removal.previous_label = "mask";
    monitor.post_track(removal);
    monitor.post_track(sample_track(frame, "hall", 1, "incorrect", now));  // another camera
    monitor.drain();
    CHECK(stored(*monitor.store()) == 22);
    CHECK(monitor.store()->counts().at({"door", "no_mask"}) == 21);
    CHECK(monitor.store()->counts().at({"hall", "incorrect"}) == 1);
    const auto latest = monitor.store()->list({.camera = "door", .limit = 1}).events;
    REQUIRE(latest.size() == 1);
    CHECK(latest[0].track_id == 3);
    CHECK(latest[0].previous_label == "mask");
    CHECK(monitor.dropped() == 0);
    // Queued just before the monitor closes: stored all the same.
    for (int i = 21; i <= 40; ++i) monitor.post_track(sample_track(frame, "door", i, "no_mask", now));
  }
  const auto reopened = maskdetect::server::open_event_store(EventStore::Options{.dir = dir / "state"});
  CHECK(stored(*reopened) == 42);
  CHECK(reopened->counts().at({"door", "no_mask"}) == 41);
}
