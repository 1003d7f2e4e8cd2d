// eval/video_eval.hpp - `maskdetect eval --video CLIP --truth TRUTH.json`: people, states and alerts of a video
// run scored against hand-made ground truth without boxes (docs/tracking.md "Evaluating people on a video").
//
//   VideoTruth truth = read_video_truth("clip.json");
//   VideoRun run = ...;                         // the pipeline on the clip, or read_video_run("run.jsonl", ...)
//   VideoScore score = score_video(truth, run);
//   std::cout << format_video_score(score);
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskdetect/json.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect::eval {

/// [start, end) in seconds.
struct TimeSpan {
  double start = 0.0;
  double end = 0.0;
};

/// A span of a truth person's state; `state` empty: ambiguous (not scored).
struct TruthState {
  double start = 0.0;
  double end = 0.0;
  std::optional<MaskLabel> state;
};

struct TruthPerson {
  std::string id;
  bool secondary = false;  ///< optional person: counting or missing them is both right
  std::vector<TimeSpan> visible;
  std::vector<TruthState> states;  ///< sorted by start
  float face_px = 0.0f;            ///< approximate face height in pixels (0: unknown)
  /// The state at time t (nullopt: ambiguous, or no span within 0.25 s of t).
  [[nodiscard]] std::optional<MaskLabel> state_at(double t) const;
  /// Whether any `visible` span holds t (within `margin` seconds).
  [[nodiscard]] bool visible_at(double t, double margin = 0.25) const;
};

/// A mask removal of the truth: the end of a `mask` span followed by no_mask or incorrect, until the next
/// `mask` span starts (or the person's last span ends).
struct TruthRemoval {
  std::size_t person = 0;  ///< index in VideoTruth::people
  double start = 0.0;
  double end = 0.0;
  [[nodiscard]] double held_s() const noexcept { return end - start; }
};

/// The ground truth of a clip (the format of ../shared/datasets/video/*.json; docs/tracking.md).
struct VideoTruth {
  std::string origin;  ///< the file
  std::string clip;
  double duration_s = 0.0;
  std::int64_t people_count = 0;                      ///< primary people
  std::optional<std::int64_t> people_with_secondary;  ///< the count with the optional people
  std::vector<TruthPerson> people;                    ///< primary then secondary
  [[nodiscard]] std::size_t primary() const;
  /// True when every primary person's scored states are `mask`.
  [[nodiscard]] bool everyone_masked() const;
  [[nodiscard]] std::vector<TruthRemoval> removals() const;
};

/// Reads a truth file; throws Error(bad_input) naming the file and the field for anything malformed.
[[nodiscard]] VideoTruth read_video_truth(const std::filesystem::path& path);
/// As read_video_truth, from text (`origin` names it in messages).
[[nodiscard]] VideoTruth parse_video_truth(const std::string& text, const std::string& origin);

/// One face of a predicted person in one frame.
struct SeenFace {
  double t = 0.0;
  float face_px = 0.0f;  ///< the box's longer side
  MaskLabel label = MaskLabel::no_mask;
  std::optional<MaskLabel> state;  ///< the person's state (people.hpp); legacy runs: the running vote
};

struct SeenPerson {
  std::int64_t id = 0;
  std::vector<SeenFace> faces;  ///< by time
  [[nodiscard]] double first() const { return faces.empty() ? 0.0 : faces.front().t; }
  [[nodiscard]] double last() const { return faces.empty() ? 0.0 : faces.back().t; }
  [[nodiscard]] float median_px() const;
};

struct SeenAlert {
  double t = 0.0;
  std::int64_t person = 0;
  MaskLabel label = MaskLabel::no_mask;
  bool mask_removed = false;
};

/// What a system reported on a clip.
struct VideoRun {
  std::string system;     ///< what produced it
  double frame_s = 0.04;  ///< seconds per frame (1 / fps)
  std::int64_t frames = 0;
  std::vector<SeenPerson> people;  ///< counted people (faces with a track_id), by id
  std::vector<SeenAlert> alerts;
  double wall_s = 0.0;  ///< wall clock of the run (0: unknown, e.g. read from a file)
  bool legacy = false;  ///< no person states or events in the input: states are running votes, alerts simulated
};

/// Collects a run frame by frame.
class VideoRunBuilder {
 public:
  explicit VideoRunBuilder(double fps);
  /// A frame of the pipeline: its faces (those with track_id >= 0 are counted people) and the events it raised.
  void add_frame(double t, const std::vector<Face>& faces, const std::vector<PersonEvent>& events);
  /// A frame read from JSON Lines: its faces, and its "events" list (null when the line has none).
  void add_frame_json(double t, const std::vector<Face>& faces, const nlohmann::json& events);
  /// The run. A builder fed only lines without person states or events gives a `legacy` run.
  [[nodiscard]] VideoRun finish(std::string system, double wall_s);

 private:
  void add_faces(double t, const std::vector<Face>& faces);
  struct Vote {
    LabelProbs sum{};
    std::int64_t n = 0;
    double first_seen = 0.0;
  };
  VideoRun run_;
  std::vector<SeenAlert> legacy_alerts_;
  std::vector<std::vector<std::optional<MaskLabel>>> legacy_states_;  // parallel to run_.people[i].faces
  std::map<std::int64_t, std::size_t> index_;                         // person id -> run_.people
  std::map<std::int64_t, Vote> votes_;
  std::vector<std::int64_t> legacy_recorded_;
  std::array<std::optional<double>, kNumLabels> legacy_last_{};
  bool any_state_ = false;
  bool any_events_ = false;
};

/// A JSON Lines run (`maskdetect run --json`, any version): faces with track_id are people. Lines with person
/// states and events are scored as they are; older output (no person_state, no events) is scored as `legacy`:
/// the state is the running vote of the person's class probabilities, and alerts follow the serve rule of
/// before issue 17 (once per track, voted label no_mask or incorrect, seen 1 s, cooldown 30 s per label).
/// Throws Error(bad_input) naming the file and line.
[[nodiscard]] VideoRun read_video_run(const std::filesystem::path& path, double fps);

/// How each predicted person was matched.
struct PersonMatch {
  std::int64_t seen_id = 0;
  std::optional<std::size_t> truth;  ///< index in VideoTruth::people; nullopt: an extra person
  bool fragment = false;             ///< a second (third...) predicted person of the same truth person
  double overlap_s = 0.0;
};

struct SpanScore {
  TruthState span;
  std::optional<MaskLabel> majority;  ///< of the predicted states in the span; nullopt: not seen in it
  std::int64_t frames = 0;
  std::int64_t frames_right = 0;
  [[nodiscard]] bool right() const { return majority && majority == span.state; }
};

struct TruthPersonScore {
  std::size_t truth = 0;
  std::vector<std::int64_t> seen_ids;
  std::vector<SpanScore> spans;  ///< scored spans (ambiguous ones left out)
  [[nodiscard]] std::size_t spans_right() const;
};

struct RemovalScore {
  TruthRemoval removal;
  std::int64_t alerts = 0;  ///< alerts of the person's predicted people within [start - 0.5, end + 1]
};

struct FalseAlert {
  SeenAlert alert;
  std::string why;  ///< "masked at the time", "not a person of the truth", ...
};

struct VideoScore {
  std::string clip;
  std::string system;
  std::int64_t people = 0;  ///< counted
  std::int64_t truth_people = 0;
  std::optional<std::int64_t> truth_with_secondary;
  std::int64_t count_error = 0;         ///< 0 within [truth, truth with secondary], else the distance to that range
  [[nodiscard]] bool count_ok() const;  ///< within 10% of the truth, or 1
  std::vector<PersonMatch> matches;
  std::vector<TruthPersonScore> persons;  ///< primary truth people
  std::size_t spans = 0;
  std::size_t spans_right = 0;
  std::int64_t frames_scored = 0;  ///< predicted faces inside scored spans
  std::int64_t frames_right = 0;
  std::vector<RemovalScore> removals;  ///< held >= min_removal_s
  std::vector<RemovalScore> short_removals;
  std::int64_t alerts = 0;
  std::vector<FalseAlert> false_alerts;
  bool everyone_masked = false;
  std::int64_t no_mask_alerts = 0;
  double fps = 0.0;  ///< frames / wall clock (0: unknown)
  bool legacy = false;
  double min_removal_s = 1.0;
};

/// Scores `run` against `truth` (matching: docs/tracking.md). Removals held at least `min_removal_s` are the
/// recall's; shorter ones are listed apart.
[[nodiscard]] VideoScore score_video(const VideoTruth& truth, const VideoRun& run, double min_removal_s = 1.0);

/// The text report.
[[nodiscard]] std::string format_video_score(const VideoScore& score, const VideoTruth& truth);
/// The JSON report: {"clip", "system", "people": {"counted", "truth", "truth_with_secondary", "error", "ok"},
/// "labels": {"spans", "right", "accuracy", "frame_accuracy", "per_person": [...]}, "removals": {"truth",
/// "recalled", "recall", "duplicates", "short": [...]}, "alerts": {"total", "false", "no_mask_on_all_masked",
/// "false_list": [...]}, "matches": [...], "fps"}.
[[nodiscard]] nlohmann::json video_score_json(const VideoScore& score, const VideoTruth& truth);

}  // namespace maskdetect::eval
