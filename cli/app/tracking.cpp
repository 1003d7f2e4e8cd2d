#include "app/tracking.hpp"

#include <ctime>

#include <fmt/format.h>

#include "maskdetect/error.hpp"

namespace maskdetect::app {

RunTracking::RunTracking(Detector& detector, const video::FrameSource& source, int detect_every)
    : detector_(detector),
      tracking_(source.kind() != video::SourceKind::images),
      live_(source.is_live()),
      fps_(source.fps()) {
  if (detect_every < 1)
    throw Error(Errc::invalid_config, fmt::format("--detect-every {}: must be at least 1", detect_every));
  if (tracking_) {
    TrackingOptions options;
    options.detect_every = detect_every;
    detector_.set_tracking(options);
  }
}

FrameResult RunTracking::process(const video::Frame& frame, FrameInfo& info) {
  if (!tracking_) {
    info.image = frame.name;
    return detector_.detect(frame.bgr);
  }
  info.frame = frame.index;
  const auto now = std::chrono::steady_clock::now();
  if (!start_) start_ = now;
  double t = 0.0;
  if (live_ || fps_ <= 0.0) {
    t = std::chrono::duration<double>(now - *start_).count();
  } else {
    t = static_cast<double>(frame.index) / fps_;
  }
  info.t = t;
  last_t_ = t;
  if (live_) info.time = iso8601_utc(std::chrono::system_clock::now());
  return detector_.track(frame.bgr, t);
}

const std::vector<PersonEvent>& RunTracking::events() const {
  static const std::vector<PersonEvent> none;
  return tracking_ ? detector_.people().events() : none;
}

void RunTracking::finish() {
  if (tracking_) detector_.end_tracking(last_t_);
}

std::optional<PeopleSummary> RunTracking::people() const {
  if (!tracking_) return std::nullopt;
  return detector_.people().summary();
}

std::string iso8601_utc(std::chrono::system_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, ms % 1000);
}

}  // namespace maskdetect::app
