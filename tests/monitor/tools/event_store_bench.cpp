// Measures the event store: events written per second sustained and database size per 1,000 events.
//   event_store_bench IMAGE [EVENTS] [full|blur|none_stored]
// Each event stores IMAGE as the analysed frame and a 30x37 crop of it (as a tracker would), in a fresh
// temporary data folder. Prints the figures; removes the folder.
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::server;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: event_store_bench IMAGE [EVENTS] [full|blur|none_stored]\n");
    return 2;
  }
  const cv::Mat frame = cv::imread(argv[1]);
  if (frame.empty()) {
    std::fprintf(stderr, "%s: cannot read the image\n", argv[1]);
    return 1;
  }
  const int events = argc > 2 ? std::stoi(argv[2]) : 2000;
  const Privacy privacy = parse_privacy(argc > 3 ? argv[3] : "full").value_or(Privacy::full);
  std::string pattern = (fs::temp_directory_path() / "maskdetect-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return 1;
  const fs::path dir = pattern;
  {
    const auto opened = open_event_store(EventStore::Options{.dir = dir, .max_age_s = 0.0, .max_bytes = 0});
    EventStore& store = *opened;
    const cv::Rect box(std::min(79, frame.cols - 30), std::min(105, frame.rows - 37), 30, 37);
    PersonTrack t;
    t.camera = "bench";
    t.label = "no_mask";
    t.confidence = 0.9f;
    t.box = box;
    t.frame = frame;
    t.crop = frame(box).clone();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < events; ++i) {
      t.track_id = i;
      t.last_seen = unix_now();
      t.first_seen = t.last_seen - 2.0;
      (void)store.record(t, privacy);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::uintmax_t db_bytes = fs::file_size(dir / "events.db");
    std::error_code ec;
    const std::uintmax_t wal_bytes = fs::file_size(dir / "events.db-wal", ec);
    std::uintmax_t media_bytes = 0;
    for (const auto& entry : fs::directory_iterator(dir / "media")) media_bytes += entry.file_size();
    std::printf("%s", fmt::format("image {} ({}x{}), {} events, privacy {}\n", argv[1], frame.cols, frame.rows, events,
                                  to_string(privacy))
                          .c_str());
    std::printf("%s", fmt::format("events written per second (sustained, JPEG encoding + fsync + commit): {:.1f}\n",
                                  events / seconds)
                          .c_str());
    std::printf("%s", fmt::format("events.db per 1,000 events: {:.1f} kB (write-ahead log now {:.1f} kB, bounded by "
                                  "checkpoints); JPEG files per 1,000 events: {:.1f} MB; "
                                  "store's own count {:.1f} MB in all\n",
                                  static_cast<double>(db_bytes) / events, static_cast<double>(wal_bytes) / 1000.0,
                                  static_cast<double>(media_bytes) / events / 1000.0,
                                  static_cast<double>(store.stored_bytes()) / 1e6)
                          .c_str());
  }
  fs::remove_all(dir);
  return 0;
}
