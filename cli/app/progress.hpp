// app/progress.hpp - a progress line on stderr.
#pragma once

#include <cstdint>
#include <optional>

#include "app/summary.hpp"

namespace maskdetect::app {

/// On a terminal: a bar redrawn in place (finite sources) or a frame counter (live ones), at most
/// 10 times a second. Not a terminal: nothing, unless `force`, then a plain line about once a second.
class Progress {
 public:
  Progress(std::optional<std::int64_t> total, bool force);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// `done` frames handled so far.
  void update(std::int64_t done);
  /// Ends the current line so that a message can be printed; drawing resumes on the next update().
  void pause();
  /// Ends the line for good (call before printing anything else to stderr).
  void finish();

 private:
  void draw(std::int64_t done);

  std::optional<std::int64_t> total_;
  bool enabled_ = false;
  bool tty_ = false;
  bool drawn_ = false;
  std::int64_t last_done_ = 0;
  Stopwatch since_start_;
  double last_draw_ms_ = -1e9;
};

}  // namespace maskdetect::app
