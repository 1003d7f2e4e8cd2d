// Fuzz target: the events API as a network client drives it (GET, HEAD, DELETE, POST on /api/v1/events and
// /api/v1/events/{id}[/snapshot.jpg|/crop.jpg], any query), on a real event store holding a few events: SQLite
// in a temporary folder, or the PostgreSQL database $MASKDETECT_FUZZ_DATABASE names (an empty one: its tables
// are made and filled).
// Input: byte 0 picks the method (bits 0-1) and whether the server has a token (bit 2); the rest is the raw
// request target, parsed by the server's own parse_target. Invariants: nothing throws, every status is a real
// HTTP status, every JSON answer parses (the "next" link included), a 405 names what is allowed, a DELETE
// without a configured token is refused.
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "api_events.hpp"
#include "event_store.hpp"
#include "http_parse.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::server;  // NOLINT(google-build-using-namespace)

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

/// Enough events for several pages at limit=1, on two cameras, with and without images.
void seed(EventStore& store) {
  static std::int64_t next_track = 1;
  const cv::Mat frame(48, 64, CV_8UC3, cv::Scalar(40, 120, 200));
  const cv::Mat crop(16, 16, CV_8UC3, cv::Scalar(90, 60, 30));
  for (const char* camera : {"door", "hall", "door"}) {
    PersonTrack track;
    track.camera = camera;
    track.track_id = next_track++;
    track.label = "no_mask";
    track.confidence = 0.9f;
    track.first_seen = 1.7e9 + static_cast<double>(track.track_id);
    track.last_seen = track.first_seen + 2.0;
    track.box = cv::Rect(8, 8, 16, 16);
    track.frame = frame;
    track.crop = crop;
    (void)store.record(track, track.track_id % 3 == 0 ? Privacy::blur : Privacy::full);
  }
}

struct Fixture {
  fs::path dir;
  std::unique_ptr<EventStore> store;
  Fixture() {
    dir = fs::temp_directory_path() / ("maskdetect-fuzz-events-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    EventStore::Options options{.dir = dir};
    if (const char* url = std::getenv("MASKDETECT_FUZZ_DATABASE"); url != nullptr) options.database = url;
    store = open_event_store(options);
    seed(*store);
  }
  ~Fixture() {
    store.reset();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
};

Fixture& fixture() {
  static Fixture f;  // destroyed at exit: the temporary store goes with it
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::array<std::string_view, 4> kMethods{"GET", "HEAD", "DELETE", "POST"};
  const std::string_view method = kMethods[data[0] & 3U];
  const bool token = (data[0] & 4U) != 0;
  const std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);  // NOLINT: libFuzzer's bytes
  detail::Target target;
  if (!detail::parse_target(raw, target) || !is_events_path(target.path)) return 0;
  EventStore& store = *fixture().store;
  const ApiAnswer answer = handle_events_api(&store, method, target, token);
  check(answer.status >= 200 && answer.status < 600);
  if (answer.content_type == "application/json") {
    const auto doc = nlohmann::json::parse(answer.body, nullptr, false);
    check(!doc.is_discarded());
    if (answer.status == 200 && doc.contains("next") && doc["next"].is_string()) {
      detail::Target next;  // the link to the next page is a target the server itself accepts
      check(detail::parse_target(doc["next"].get<std::string>(), next) && is_events_path(next.path));
    }
  } else {
    check(answer.status == 200 && answer.content_type == "image/jpeg" && !answer.body.empty());
  }
  if (answer.status == 405) check(!answer.allow.empty());
  if (method == "DELETE" && !token) check(answer.status != 200);
  if (store.size() < 2) seed(store);  // DELETEs must not empty the store for the inputs that follow
  return 0;
}
