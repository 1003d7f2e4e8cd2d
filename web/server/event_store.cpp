// event_store.cpp - what every event store shares: privacy names, the event rules, the event JSON, JPEG
// encoding with privacy applied, event ids made by the writer; see event_store.hpp.
#include "event_store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace maskdetect::server {

namespace fs = std::filesystem;

std::string_view to_string(Privacy privacy) noexcept {
  switch (privacy) {
    case Privacy::full:
      return "full";
    case Privacy::blur:
      return "blur";
    case Privacy::none_stored:
      return "none_stored";
  }
  return "full";
}

std::optional<Privacy> parse_privacy(std::string_view name) noexcept {
  if (name == "full") return Privacy::full;
  if (name == "blur") return Privacy::blur;
  if (name == "none_stored") return Privacy::none_stored;
  return std::nullopt;
}

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

fs::path default_data_dir() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state == '/')
    return fs::path(state) / "maskdetect";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr && *home != '\0' ? home : ".") / ".local/state/maskdetect";
}

// ---------------------------------------------------------------------------------------------- JSON

namespace {

std::string iso_utc(double t) {
  const auto seconds = static_cast<std::time_t>(std::floor(t));
  const auto millis = static_cast<int>(std::lround((t - std::floor(t)) * 1000.0)) % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace

std::string event_json(const Event& e) {
  nlohmann::json doc = {{"id", nullptr},
                        {"uid", e.uid.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.uid)},
                        {"camera", e.camera},
                        {"track_id", e.track_id},
                        {"label", e.label},
                        {"confidence", e.confidence},
                        {"first_seen", e.first_seen},
                        {"last_seen", e.last_seen},
                        {"time", iso_utc(e.last_seen)},
                        {"duration_s", e.last_seen - e.first_seen},
                        {"created", e.created},
                        {"privacy", to_string(e.privacy)},
                        {"box", nullptr},
                        {"frame_size", nullptr},
                        {"previous_label", nullptr},
                        {"snapshot", nullptr},
                        {"crop", nullptr}};
  if (e.stored()) doc["id"] = e.id;
  if (e.box.width > 0 && e.box.height > 0) doc["box"] = {e.box.x, e.box.y, e.box.width, e.box.height};
  if (e.frame_size.width > 0 && e.frame_size.height > 0) doc["frame_size"] = {e.frame_size.width, e.frame_size.height};
  if (!e.previous_label.empty()) doc["previous_label"] = e.previous_label;
  if (e.stored() && e.has_snapshot) doc["snapshot"] = fmt::format("/api/v1/events/{}/snapshot.jpg", e.id);
  if (e.stored() && e.has_crop) doc["crop"] = fmt::format("/api/v1/events/{}/crop.jpg", e.id);
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------- shared

namespace {

std::vector<unsigned char> encode(const cv::Mat& image, int quality) {
  std::vector<unsigned char> out;
  if (!image.empty()) cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, quality});
  return out;
}

/// Pixelates and blurs `box` in `image` so that the face cannot be recognised.
void blur_region(cv::Mat& image, cv::Rect box) {
  box &= cv::Rect(0, 0, image.cols, image.rows);
  if (box.area() <= 0) return;
  cv::Mat roi = image(box);
  cv::Mat small;
  cv::resize(roi, small, cv::Size(std::max(1, box.width / 12), std::max(1, box.height / 12)), 0, 0, cv::INTER_AREA);
  cv::resize(small, roi, box.size(), 0, 0, cv::INTER_NEAREST);
  const int k = std::max(3, (std::min(box.width, box.height) / 4) | 1);
  cv::GaussianBlur(roi, roi, cv::Size(k, k), 0);
}

}  // namespace

namespace detail {

EventImages encode_images(const PersonTrack& track, Privacy privacy, int jpeg_quality) {
  EventImages out;
  if (privacy == Privacy::full) {
    out.snapshot = encode(track.frame, jpeg_quality);
    out.crop = encode(track.crop, jpeg_quality);
  } else if (privacy == Privacy::blur && !track.frame.empty()) {
    cv::Mat blurred = track.frame.clone();
    if (track.box.area() > 0 || !track.others.empty()) {
      blur_region(blurred, track.box);
      for (const cv::Rect& r : track.others) blur_region(blurred, r);
    } else {
      blur_region(blurred, cv::Rect(0, 0, blurred.cols, blurred.rows));  // no box known: blur everything
    }
    out.snapshot = encode(blurred, jpeg_quality);
  }
  return out;
}

Event event_of(const PersonTrack& track, Privacy privacy) {
  Event e;
  e.camera = track.camera;
  e.track_id = track.track_id;
  e.label = track.label;
  e.confidence = track.confidence;
  e.first_seen = track.first_seen;
  e.last_seen = track.last_seen;
  e.privacy = privacy;
  e.frame_size = track.frame_size.area() > 0 ? track.frame_size : track.frame.size();
  if (track.box.width > 0 && track.box.height > 0) e.box = track.box;
  e.previous_label = track.previous_label;
  e.uid = track.event_uid.empty() ? new_uid() : track.event_uid;
  return e;
}

std::string new_uid() {
  static std::mutex mutex;
  static std::mt19937_64 engine = [] {
    std::random_device device;  // /dev/urandom: seeds a generator per process, 128 bits
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  {
    const std::lock_guard lock(mutex);
    hi = engine();
    lo = engine();
  }
  hi = (hi & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};            // version 4
  lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);  // variant 10xx
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48,
                     lo & 0xFFFFFFFFFFFF);
}

}  // namespace detail

}  // namespace maskdetect::server
