#include "app/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace maskdetect::app {

Progress::Progress(std::optional<std::int64_t> total, bool force) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {
  enabled_ = tty_ || force;
}

Progress::~Progress() { finish(); }

void Progress::update(std::int64_t done) {
  last_done_ = done;
  if (!enabled_) return;
  const double now = since_start_.elapsed_ms();
  const double interval_ms = tty_ ? 100.0 : 1000.0;
  if (now - last_draw_ms_ < interval_ms && !(total_ && done == *total_)) return;
  last_draw_ms_ = now;
  draw(done);
}

void Progress::draw(std::int64_t done) {
  const double seconds = since_start_.elapsed_ms() / 1000.0;
  const double fps = seconds > 0.0 ? static_cast<double>(done) / seconds : 0.0;
  std::string line;
  if (total_ && *total_ > 0) {
    constexpr int kWidth = 30;
    const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(*total_), 0.0, 1.0);
    const int filled = static_cast<int>(fraction * kWidth);
    line = fmt::format("[{}{}] {}/{} {:.1f} fps", std::string(static_cast<std::size_t>(filled), '#'),
                       std::string(static_cast<std::size_t>(kWidth - filled), '-'), done, *total_, fps);
  } else {
    line = fmt::format("{} frames {:.1f} fps", done, fps);
  }
  if (tty_) {
    std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  } else {
    std::fprintf(stderr, "progress: %s\n", line.c_str());
  }
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::pause() {
  if (enabled_ && tty_ && drawn_) {
    std::fputc('\n', stderr);
    drawn_ = false;
  }
}

void Progress::finish() {
  if (!enabled_) return;
  if (tty_ && drawn_) {
    draw(last_done_);
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
  enabled_ = false;
}

}  // namespace maskdetect::app
