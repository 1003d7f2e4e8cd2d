#include "app/summary.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
  for (const Face& face : result.faces) {
    if (!tracked || face.counted) ++faces_per_label.at(static_cast<std::size_t>(face.label));
  }
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

double RunSummary::fps() const noexcept { return wall_s > 0.0 ? static_cast<double>(frames) / wall_s : 0.0; }

double RunSummary::mean_ms(Stage stage) const noexcept {
  const auto i = static_cast<std::size_t>(stage);
  return stage_count[i] == 0 ? 0.0 : stage_total_ms[i] / static_cast<double>(stage_count[i]);
}

std::string RunSummary::format() const {
  std::string text = fmt::format("summary: frames {}, unreadable {}\n", frames, unreadable);
  if (people) {
    const PeopleSummary& p = *people;
    text += fmt::format("summary: people {} ({} {}, {} {}, {} {})", p.total, to_string(MaskLabel::mask), p.longest[0],
                        to_string(MaskLabel::no_mask), p.longest[1], to_string(MaskLabel::incorrect), p.longest[2]);
    if (p.total > 0) {
      text += fmt::format(", compliance {:.1f}% (masked people / people, by the label each held longest)\n",
                          p.compliance() * 100.0);
    } else {
      text += ", compliance n/a\n";
    }
    const std::int64_t alerts = p.alerts[0] + p.alerts[1] + p.alerts[2];
    const std::int64_t rejected = p.rejected_score + p.rejected_size + p.rejected_stationary + p.rejected_short;
    text += fmt::format(
        "summary: mask removals {}; alerts {} ({} {}, {} {}, {} {}); tracks not counted {} (weak {}, small {}, "
        "stationary {}, brief {})\n",
        p.mask_removals, alerts, to_string(MaskLabel::mask), p.alerts[0], to_string(MaskLabel::no_mask), p.alerts[1],
        to_string(MaskLabel::incorrect), p.alerts[2], rejected, p.rejected_score, p.rejected_size,
        p.rejected_stationary, p.rejected_short);
  }
  text += fmt::format("summary: face-frames {} ({} {}, {} {}, {} {})", faces(), to_string(MaskLabel::mask),
                      faces_per_label[0], to_string(MaskLabel::no_mask), faces_per_label[1],
                      to_string(MaskLabel::incorrect), faces_per_label[2]);
  if (const auto rate = compliance()) {
    text += fmt::format(", compliance per face-frame {:.1f}%\n", *rate * 100.0);
  } else {
    text += ", compliance per face-frame n/a\n";
  }
  text += "summary: mean ms per frame:";
  for (std::size_t i = 0; i < kNumStages; ++i) {
    const auto stage = static_cast<Stage>(i);
    text += fmt::format("{} {} {:.2f}", i == 0 ? "" : ",", to_string(stage), mean_ms(stage));
  }
  text += '\n';
  if (wall_s > 0.0)
    text += fmt::format("summary: {} frames in {:.2f} s: {:.1f} fps (wall clock)\n", frames, wall_s, fps());
  return text;
}

nlohmann::ordered_json RunSummary::to_json() const {
  auto counts = [](std::int64_t total, const std::array<std::int64_t, kNumLabels>& per_label) {
    nlohmann::ordered_json j;
    j["total"] = total;
    for (const MaskLabel label : kAllLabels)
      j[std::string(to_string(label))] = per_label[static_cast<std::size_t>(label)];
    return j;
  };
  nlohmann::ordered_json j;
  if (people) {
    const PeopleSummary& p = *people;
    j["people"] = counts(p.total, p.longest);
    j["compliance"] = p.total > 0 ? nlohmann::ordered_json(p.compliance()) : nlohmann::ordered_json();
    j["people_by_vote"] = counts(p.total, p.vote);
    j["mask_removals"] = p.mask_removals;
    j["alerts"] = counts(p.alerts[0] + p.alerts[1] + p.alerts[2], p.alerts);
    j["not_counted"] = {{"total", p.rejected_score + p.rejected_size + p.rejected_stationary + p.rejected_short},
                        {"weak", p.rejected_score},
                        {"small", p.rejected_size},
                        {"stationary", p.rejected_stationary},
                        {"brief", p.rejected_short}};
  } else {
    for (const char* key : {"people", "compliance", "people_by_vote", "mask_removals", "alerts", "not_counted"})
      j[key] = nullptr;
  }
  j["frames"] = frames;
  j["unreadable"] = unreadable;
  j["faces"] = counts(faces(), faces_per_label);
  const auto rate = compliance();
  j["face_frame_compliance"] = rate ? nlohmann::ordered_json(*rate) : nlohmann::ordered_json();
  nlohmann::ordered_json ms;
  for (std::size_t i = 0; i < kNumStages; ++i) {
    const auto stage = static_cast<Stage>(i);
    ms[std::string(to_string(stage))] = mean_ms(stage);
  }
  j["mean_ms"] = std::move(ms);
  j["wall_s"] = wall_s;
  j["fps"] = fps();
  return j;
}

}  // namespace maskdetect::app
