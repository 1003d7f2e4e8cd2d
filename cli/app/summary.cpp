#include "app/summary.hpp"

#include <fmt/format.h>

namespace maskdetect::app {

std::string_view to_string(Stage stage) noexcept {
  switch (stage) {
    case Stage::decode:
      return "decode";
    case Stage::detect:
      return "detect";
    case Stage::classify:
      return "classify";
    case Stage::draw:
      return "draw";
    case Stage::encode:
      return "encode";
  }
  return "?";
}

void RunSummary::add_result(const FrameResult& result) {
  ++frames;
  for (const Face& face : result.faces) ++faces_per_label.at(static_cast<std::size_t>(face.label));
  add_time(Stage::detect, result.times.detect_ms);
  add_time(Stage::classify, result.times.classify_ms);
}

void RunSummary::add_time(Stage stage, double ms) {
  const auto i = static_cast<std::size_t>(stage);
  stage_total_ms.at(i) += ms;
  ++stage_count.at(i);
}

std::int64_t RunSummary::faces() const noexcept {
  std::int64_t total = 0;
  for (const std::int64_t n : faces_per_label) total += n;
  return total;
}

std::optional<double> RunSummary::compliance() const noexcept {
  const std::int64_t total = faces();
  if (total == 0) return std::nullopt;
  return static_cast<double>(faces_per_label[static_cast<std::size_t>(MaskLabel::mask)]) / static_cast<double>(total);
}

double RunSummary::mean_ms(Stage stage) const noexcept {
  const auto i = static_cast<std::size_t>(stage);
  return stage_count[i] == 0 ? 0.0 : stage_total_ms[i] / static_cast<double>(stage_count[i]);
}

std::string RunSummary::format() const {
  std::string text = fmt::format("summary: frames {}, unreadable {}\n", frames, unreadable);
  text += fmt::format("summary: faces {} ({} {}, {} {}, {} {})", faces(), to_string(MaskLabel::mask),
                      faces_per_label[0], to_string(MaskLabel::no_mask), faces_per_label[1],
                      to_string(MaskLabel::incorrect), faces_per_label[2]);
  if (const auto rate = compliance()) {
    text += fmt::format(", compliance {:.1f}%\n", *rate * 100.0);
  } else {
    text += ", compliance n/a\n";
  }
  text += "summary: mean ms per frame:";
  for (std::size_t i = 0; i < kNumStages; ++i) {
    const auto stage = static_cast<Stage>(i);
    text += fmt::format("{} {} {:.2f}", i == 0 ? "" : ",", to_string(stage), mean_ms(stage));
  }
  text += '\n';
  return text;
}

}  // namespace maskdetect::app
