// maskdetect/video/reconnect.hpp - live sources (cameras, stream URLs) that survive faults: a FrameSource
// decorator that reopens a camera or stream that fails to open or stops delivering frames, with exponential
// backoff, and reports each outage once (start, end, duration, attempts, last error).
//
//   video::ReconnectOptions options;
//   options.policy.max_retries = -1;                          // forever (the default)
//   options.on_outage = [](video::OutageEvent event, const video::Outage& outage) { ... log once ... };
//   auto source = video::open_frame_source("rtsp://cam/stream", options);   // files: opened as usual
//   while (source->read(frame) == video::ReadStatus::ok) { ... }          // outages are waited out inside
//
// read() blocks while the source is down; stop() (any thread) ends a backoff wait at once and makes read()
// return ReadStatus::end. When the retries are spent read() returns ReadStatus::failed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::video {

/// When and how often a live source is reopened.
struct RetryPolicy {
  int max_retries = -1;                           ///< reopen attempts per outage; -1: forever, 0: never
  std::chrono::milliseconds initial_delay{1000};  ///< wait before the first reopen attempt
  std::chrono::milliseconds max_delay{30000};     ///< the wait doubles after each failed attempt, up to this
  bool retry_initial_open = false;                ///< true: a source that cannot be opened at first is an
                                                  ///< outage (retried); false: the first open throws
};

/// The wait before reopen attempt `attempt` (1-based): initial_delay * 2^(attempt - 1), at most max_delay.
[[nodiscard]] std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) noexcept;

/// One period without frames.
struct Outage {
  std::string source;                           ///< the source's description (URL credentials redacted)
  std::chrono::system_clock::time_point start;  ///< when the source stopped (or first failed to open)
  double duration_s = 0.0;                      ///< start to recovery (recovered) or to giving up (gave_up)
  int attempts = 0;                             ///< reopen attempts made so far
  std::int64_t frames_before = 0;               ///< frames delivered before the outage
  std::string error;                            ///< what failed last (URLs redacted)
};

enum class OutageEvent {
  started,    ///< the source stopped delivering frames or could not be opened; reopening begins
  recovered,  ///< a frame arrived again; duration_s and attempts are final
  gave_up,    ///< the retries are spent; read() returns ReadStatus::failed
};

/// Called on the thread that calls read(), once per event of each outage.
using OutageHandler = std::function<void(OutageEvent, const Outage&)>;

struct ReconnectOptions {
  RetryPolicy policy;
  OutageHandler on_outage;  ///< optional
  /// Optional: polled every 100 ms during a backoff wait; true ends it as stop() does (e.g. a flag set by a
  /// signal handler, which cannot call stop() itself).
  std::function<bool()> should_stop;
};

/// Totals of a reconnecting source; safe to read from any thread.
struct ReconnectStatus {
  bool up = false;           ///< frames are flowing (false while an outage is open or before the first frame)
  std::int64_t outages = 0;  ///< outages so far, the open one included
  double downtime_s = 0.0;   ///< their total duration, the open one up to now
  int attempts = 0;          ///< reopen attempts of the open outage (0 when up)
  std::string last_error;    ///< the last failure (empty if none); URLs redacted
};

/// A camera or stream reopened on failure. Thread-safe only as documented (read() from one thread).
class ReconnectingSource final : public FrameSource {
 public:
  /// Opens `spec` (a camera index or device, or a URL). Throws like open_frame_source when the first open
  /// fails, unless policy.retry_initial_open (then the first read() waits the outage out).
  ReconnectingSource(std::string spec, ReconnectOptions options);
  ~ReconnectingSource() override;
  ReconnectingSource(const ReconnectingSource&) = delete;
  ReconnectingSource& operator=(const ReconnectingSource&) = delete;

  /// The next frame; waits out outages. Frame indices keep counting across outages.
  [[nodiscard]] ReadStatus read(Frame& frame) override;
  [[nodiscard]] SourceKind kind() const override { return kind_; }
  [[nodiscard]] std::optional<std::int64_t> frame_count() const override { return std::nullopt; }
  [[nodiscard]] double fps() const override { return fps_; }
  [[nodiscard]] std::string description() const override { return description_; }
  [[nodiscard]] std::vector<std::filesystem::path> input_files() const override { return {}; }

  /// Ends a backoff wait now and makes read() return ReadStatus::end (any thread; an open or read in
  /// progress finishes first; stream opens and reads time out after 10 s).
  void stop();
  [[nodiscard]] ReconnectStatus status() const;
  /// The outage that made read() return failed (gave up), if any.
  [[nodiscard]] std::optional<Outage> final_outage() const;

 private:
  bool open_inner(std::string& error);
  bool wait_for(std::chrono::milliseconds delay);  // true when stopped
  ReadStatus recover(Frame& frame);
  void emit(OutageEvent event, const Outage& outage) const;

  std::string spec_;
  ReconnectOptions options_;
  SourceKind kind_;
  std::string description_;
  double fps_ = 0.0;
  std::unique_ptr<FrameSource> inner_;
  std::int64_t next_index_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool up_ = false;
  std::int64_t outages_ = 0;
  double closed_downtime_s_ = 0.0;
  std::optional<Outage> open_outage_;
  std::chrono::steady_clock::time_point outage_started_;
  std::optional<Outage> final_outage_;
  std::string last_error_;
};

/// True for specs read as live sources: a camera index ("0"), a device ("/dev/video0") or a stream URL. URLs of
/// recorded files (file://, or a path ending in .mp4, .mkv, .avi, .mov, .webm...) are not live: they end.
[[nodiscard]] bool is_live_spec(std::string_view spec) noexcept;

/// Opens `spec` like open_frame_source(spec); cameras and streams come back as a ReconnectingSource with
/// `options`. Files, images, folders and globs are opened as usual (they end, they are not retried).
[[nodiscard]] std::unique_ptr<FrameSource> open_frame_source(const std::string& spec, const ReconnectOptions& options);

}  // namespace maskdetect::video
