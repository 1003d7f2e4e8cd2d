// Measures the event store: events written per second sustained and the space per 1,000 events, on SQLite or
// PostgreSQL, with one writer or several (a fleet's workers, each its own store and connection).
//   event_store_bench IMAGE [EVENTS] [full|blur|none_stored] [--max-size BYTES] [--writers N]
//                     [--database postgresql://...]
// Each event stores IMAGE as the analysed frame and a 30x37 crop of it (as a tracker would): in a fresh
// temporary data folder (SQLite, removed at the end), or in the PostgreSQL database given (which should be
// empty: its events are counted). EVENTS are written per writer. --max-size: retention by size runs after
// every event (0, the default: none), so with a small size the store is full and deletes at every write, as a
// long-running server does. Prints the figures.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::server;  // NOLINT(google-build-using-namespace)

namespace {

std::uintmax_t file_bytes(const fs::path& path) {
  std::error_code ec;
  const std::uintmax_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  std::int64_t max_size = 0;
  int writers = 1;
  std::string database;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--max-size" || arg == "--writers" || arg == "--database") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "--max-size") max_size = std::stoll(value);
      if (arg == "--writers") writers = std::max(1, std::stoi(value));
      if (arg == "--database") database = value;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.empty()) {
    std::fprintf(stderr,
                 "usage: event_store_bench IMAGE [EVENTS] [full|blur|none_stored] [--max-size BYTES] [--writers N] "
                 "[--database postgresql://...]\n");
    return 2;
  }
  const cv::Mat frame = cv::imread(positional[0]);
  if (frame.empty()) {
    std::fprintf(stderr, "%s: cannot read the image\n", positional[0].c_str());
    return 1;
  }
  const int events = positional.size() > 1 ? std::stoi(positional[1]) : 2000;
  const Privacy privacy = parse_privacy(positional.size() > 2 ? positional[2] : "full").value_or(Privacy::full);
  std::string pattern = (fs::temp_directory_path() / "maskdetect-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return 1;
  const fs::path dir = pattern;
  try {
    const EventStore::Options options{.dir = dir, .database = database, .max_age_s = 0.0, .max_bytes = max_size};
    std::vector<std::unique_ptr<EventStore>> stores;
    stores.reserve(static_cast<std::size_t>(writers));
    for (int w = 0; w < writers; ++w) stores.push_back(open_event_store(options));
    const cv::Rect box(std::min(79, frame.cols - 30), std::min(105, frame.rows - 37), 30, 37);
    std::atomic<int> failed{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(writers));
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back([&, w] {
        PersonTrack t;
        t.camera = fmt::format("bench{}", w);
        t.label = "no_mask";
        t.confidence = 0.9f;
        t.box = box;
        t.frame = frame;
        t.crop = frame(box).clone();
        for (int i = 0; i < events; ++i) {
          t.track_id = i;
          t.last_seen = unix_now();
          t.first_seen = t.last_seen - 2.0;
          try {
            (void)stores[static_cast<std::size_t>(w)]->record(t, privacy);
          } catch (const std::exception& e) {
            if (failed++ == 0) std::fprintf(stderr, "write failed: %s\n", e.what());
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int total = events * writers;
    EventStore& store = *stores.front();
    std::printf("%s", fmt::format("image {} ({}x{}), {} events by {} writer(s), privacy {}, store {}, max_size {}\n",
                                  positional[0], frame.cols, frame.rows, total, writers, to_string(privacy),
                                  store.description(), max_size)
                          .c_str());
    std::printf("%s", fmt::format("events written per second (sustained, JPEG encoding + commit + retention): {:.1f}"
                                  " ({} failed)\n",
                                  total / seconds, failed.load())
                          .c_str());
    std::printf("%s", fmt::format("events kept: {}; the store's own measure of max_size: {:.2f} MB\n", store.size(),
                                  static_cast<double>(store.stored_bytes()) / 1e6)
                          .c_str());
    if (database.empty()) {
      std::uintmax_t media_bytes = 0;
      for (const auto& entry : fs::directory_iterator(dir / "media")) media_bytes += entry.file_size();
      const auto kept = static_cast<double>(std::max<std::size_t>(1, store.size()));
      std::printf("%s", fmt::format("events.db per 1,000 events kept: {:.1f} kB (write-ahead log now {:.1f} kB); "
                                    "JPEG files per 1,000 events kept: {:.1f} MB\n",
                                    static_cast<double>(file_bytes(dir / "events.db")) / kept,
                                    static_cast<double>(file_bytes(dir / "events.db-wal")) / 1000.0,
                                    static_cast<double>(media_bytes) / kept / 1000.0)
                            .c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "event_store_bench: %s\n", e.what());
    fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
