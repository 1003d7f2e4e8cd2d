#include "maskdetect/video/reconnect.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <utility>

#include "maskdetect/error.hpp"

namespace maskdetect::video {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) noexcept {
  const std::chrono::milliseconds cap = std::max(policy.max_delay, std::chrono::milliseconds(0));
  std::chrono::milliseconds delay = std::max(policy.initial_delay, std::chrono::milliseconds(0));
  for (int i = 1; i < attempt && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

bool is_live_spec(std::string_view spec) noexcept {
  const bool digits =
      !spec.empty() && std::all_of(spec.begin(), spec.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (digits || spec.starts_with("/dev/")) return true;
  const std::size_t scheme_end = spec.find("://");
  if (scheme_end == std::string_view::npos) return false;
  if (spec.substr(0, scheme_end) == "file") return false;
  // A URL of a recorded file (http://host/clip.mp4) ends where the file does: not live. Streams
  // (rtsp://, MJPEG and HLS over http, anything without such an extension) are.
  std::string_view path = spec.substr(scheme_end + 3);
  path = path.substr(0, path.find_first_of("?#"));
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) return true;
  const std::string_view ext = path.substr(dot + 1);
  static constexpr std::array<std::string_view, 8> recorded{"mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg"};
  return std::none_of(recorded.begin(), recorded.end(), [ext](std::string_view known) {
    return std::equal(ext.begin(), ext.end(), known.begin(), known.end(),
                      [](unsigned char a, unsigned char b) { return std::tolower(a) == b; });
  });
}

ReconnectingSource::ReconnectingSource(std::string spec, ReconnectOptions options)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      kind_(spec_.find("://") != std::string::npos ? SourceKind::stream : SourceKind::camera),
      description_(kind_ == SourceKind::stream ? "stream '" + redact_url(spec_) + "'" : "camera " + spec_) {
  if (!options_.policy.retry_initial_open) {
    inner_ = open_frame_source(spec_);  // throws: a source that never worked is the user's to fix
    fps_ = inner_->fps();
    description_ = inner_->description();
  }
}

ReconnectingSource::~ReconnectingSource() = default;

bool ReconnectingSource::open_inner(std::string& error) {
  try {
    inner_ = open_frame_source(spec_);
    if (fps_ <= 0.0) fps_ = inner_->fps();
    return true;
  } catch (const std::exception& e) {
    error = e.what();  // open_frame_source redacts the URL in its messages
    inner_.reset();
    return false;
  }
}

bool ReconnectingSource::wait_for(std::chrono::milliseconds delay) {
  const auto until = Clock::now() + delay;
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto slice = options_.should_stop ? std::min(until, Clock::now() + std::chrono::milliseconds(100)) : until;
    if (stop_cv_.wait_until(lock, slice, [this] { return stopping_; })) return true;
    if (options_.should_stop && options_.should_stop()) {
      stopping_ = true;
      return true;
    }
    if (Clock::now() >= until) return false;
  }
}

void ReconnectingSource::emit(OutageEvent event, const Outage& outage) const {
  if (!options_.on_outage) return;
  try {
    options_.on_outage(event, outage);
  } catch (...) {
    // A logging callback must not take the source down.
  }
}

ReadStatus ReconnectingSource::read(Frame& frame) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return ReadStatus::end;
    if (final_outage_) return ReadStatus::failed;
  }
  if (inner_) {
    const ReadStatus status = inner_->read(frame);
    if (status == ReadStatus::ok) {
      frame.index = next_index_++;
      if (!up_) {
        const std::lock_guard lock(mutex_);
        up_ = true;
      }
      return status;
    }
  }
  return recover(frame);
}

ReadStatus ReconnectingSource::recover(Frame& frame) {
  const bool first_open = inner_ == nullptr && next_index_ == 0 && !open_outage_;
  inner_.reset();  // let go of the device or connection before waiting
  Outage outage;
  outage.source = description_;
  outage.start = std::chrono::system_clock::now();
  outage.frames_before = next_index_;
  outage.error = first_open ? ""
                            : (kind_ == SourceKind::stream ? "the stream ended or stopped sending frames"
                                                           : "the camera stopped delivering frames");
  if (first_open && !open_inner(outage.error)) {
    // Absent at start-up (retry_initial_open): an outage from the start.
  } else if (first_open) {
    // Opened now: read its first frame like any other.
    const ReadStatus status = inner_->read(frame);
    if (status == ReadStatus::ok) {
      frame.index = next_index_++;
      const std::lock_guard lock(mutex_);
      up_ = true;
      return status;
    }
    inner_.reset();
    outage.error = "opened, but no frame arrived";
  }
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return ReadStatus::end;
    up_ = false;
    ++outages_;
    outage_started_ = Clock::now();
    last_error_ = outage.error;
    open_outage_ = outage;
  }
  emit(OutageEvent::started, outage);

  const RetryPolicy& policy = options_.policy;
  for (int attempt = 1;; ++attempt) {
    if (policy.max_retries >= 0 && attempt > policy.max_retries) {
      outage.duration_s = seconds_since(outage_started_);
      {
        const std::lock_guard lock(mutex_);
        closed_downtime_s_ += outage.duration_s;
        open_outage_.reset();
        final_outage_ = outage;
      }
      emit(OutageEvent::gave_up, outage);
      return ReadStatus::failed;
    }
    if (wait_for(backoff_delay(policy, attempt))) {
      // Stopped: the outage ends with the run.
      const std::lock_guard lock(mutex_);
      closed_downtime_s_ += seconds_since(outage_started_);
      open_outage_.reset();
      return ReadStatus::end;
    }
    outage.attempts = attempt;
    std::string error;
    if (open_inner(error)) {
      if (inner_->read(frame) == ReadStatus::ok) {
        frame.index = next_index_++;
        outage.duration_s = seconds_since(outage_started_);
        {
          const std::lock_guard lock(mutex_);
          up_ = true;
          closed_downtime_s_ += outage.duration_s;
          open_outage_.reset();
        }
        emit(OutageEvent::recovered, outage);
        return ReadStatus::ok;
      }
      inner_.reset();
      error = description_ + " opened, but no frame arrived";
    }
    outage.error = error;
    const std::lock_guard lock(mutex_);
    last_error_ = error;
    if (open_outage_) *open_outage_ = outage;
  }
}

void ReconnectingSource::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
}

ReconnectStatus ReconnectingSource::status() const {
  const std::lock_guard lock(mutex_);
  ReconnectStatus status;
  status.up = up_;
  status.outages = outages_;
  status.downtime_s = closed_downtime_s_;
  if (open_outage_) {
    status.downtime_s += seconds_since(outage_started_);
    status.attempts = open_outage_->attempts;
  }
  status.last_error = last_error_;
  return status;
}

std::optional<Outage> ReconnectingSource::final_outage() const {
  const std::lock_guard lock(mutex_);
  return final_outage_;
}

std::unique_ptr<FrameSource> open_frame_source(const std::string& spec, const ReconnectOptions& options) {
  if (!is_live_spec(spec)) return open_frame_source(spec);
  return std::make_unique<ReconnectingSource>(spec, options);
}

}  // namespace maskdetect::video
