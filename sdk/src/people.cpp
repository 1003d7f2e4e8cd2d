// The people component: evidence before a track counts, stationary faces, ignore zones, states with hysteresis,
// alerts and the end of a visit (see maskdetect/people.hpp).
#include "maskdetect/people.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <iterator>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"

namespace maskdetect {
namespace {

/// Evidence faces remembered per track for the medians (the latest ones).
constexpr std::size_t kMaxHistory = 512;
/// Faces whose centres give a track's start position and its latest position (median of this many).
constexpr std::size_t kMoveSamples = 3;
/// Time between two matched faces above this is not counted as seen in a state (the person was away).
constexpr double kMaxStep = 1.0;

template <typename T>
T median_of(const std::deque<T>& values) {
  if (values.empty()) return T{};
  std::vector<T> v(values.begin(), values.end());
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

cv::Point2f median_point(const std::deque<cv::Point2f>& points) {
  std::deque<float> xs;
  std::deque<float> ys;
  for (const cv::Point2f& p : points) {
    xs.push_back(p.x);
    ys.push_back(p.y);
  }
  return {median_of(xs), median_of(ys)};
}

bool classified(const LabelProbs& probs) {
  return std::any_of(probs.begin(), probs.end(), [](float p) { return p > 0.0f; });
}

MaskLabel argmax(const LabelProbs& probs) {
  return static_cast<MaskLabel>(std::max_element(probs.begin(), probs.end()) - probs.begin());
}

std::size_t index(MaskLabel label) { return static_cast<std::size_t>(label); }

}  // namespace

std::string_view to_string(PersonEventKind kind) noexcept {
  switch (kind) {
    case PersonEventKind::counted:
      return "counted";
    case PersonEventKind::state_changed:
      return "state_changed";
    case PersonEventKind::alert:
      return "alert";
    case PersonEventKind::ended:
      return "ended";
  }
  return "?";
}

MaskLabel Person::longest() const noexcept {
  MaskLabel best = vote;
  for (const MaskLabel label : kAllLabels) {
    if (seconds[index(label)] > seconds[index(best)]) best = label;
  }
  if (seconds[index(best)] <= 0.0) return state;
  return best;
}

double PeopleSummary::compliance() const noexcept {
  return total == 0 ? -1.0 : static_cast<double>(longest[index(MaskLabel::mask)]) / static_cast<double>(total);
}

/// A live track of the Tracker, counted or not yet.
struct People::Candidate {
  std::int64_t key = 0;
  std::int64_t track_id = -1;  // the Tracker's id once it confirmed the track
  bool tracker_confirmed = false;
  bool counted = false;
  Person person;
  // Evidence: faces outside the ignore zones.
  std::deque<float> scores;
  std::deque<float> sizes;
  std::optional<double> first_strong;  // first evidence face at or above min_score
  bool strong_now = false;             // the face of the latest update is one
  // Movement.
  std::deque<cv::Point2f> first_centres;
  std::deque<float> first_sizes;
  std::deque<cv::Point2f> recent_centres;
  std::deque<float> recent_sizes;
  bool anchored = false;
  cv::Point2f anchor;
  float anchor_size = 0.0f;
  double still_since = 0.0;
  bool moved = false;
  // State.
  LabelProbs smoothed{};
  bool smoothing_started = false;
  double smoothed_t = 0.0;
  std::optional<MaskLabel> challenger;
  double challenger_since = 0.0;
  std::optional<double> previous_match;
  double visible_s = 0.0;  // seen before being counted
  std::vector<StateSpan> spans;
  std::optional<MaskLabel> state_before;  // the state before the current one
  bool alerted = false;                   // the current state's period raised its alert
  // Time of the latest alert by label: [label] plain, [kNumLabels + label] mask removals.
  std::array<std::optional<double>, 2 * kNumLabels> last_alert{};
};

float person_threshold(DetectorBackend backend) noexcept {
  switch (backend) {
    case DetectorBackend::yunet:
      return 0.75f;
    case DetectorBackend::blazeface_back:  // measured (docs/tracking.md)
      return 0.3f;
    case DetectorBackend::mask_detector:  // 0.2.0, measured on the shared clips (docs/results.md)
      return 0.45f;
    case DetectorBackend::blazeface_front:
      return 0.5f;
  }
  return 0.5f;
}

PeopleConfig people_config(const Config& config) {
  PeopleConfig p = config.people;
  if (!p.threshold) p.threshold = person_threshold(config.detector.backend);
  return p;
}

People::People(const PeopleConfig& config, bool keep_frames)
    : config_(config), threshold_(config.threshold.value_or(0.5f)), keep_frames_(keep_frames) {
  Config whole;
  whole.people = config;
  validate(whole);  // names the key: "config key 'people.threshold': ..."
}

People::~People() = default;
People::People(const People&) = default;
People::People(People&&) noexcept = default;
People& People::operator=(const People&) = default;
People& People::operator=(People&&) noexcept = default;

bool People::in_zones(const std::vector<Zone>& zones, cv::Point2f normalised) {
  return std::any_of(zones.begin(), zones.end(), [normalised](const Zone& zone) {
    return zone.size() >= 3 && cv::pointPolygonTest(zone, normalised, false) >= 0.0;
  });
}

void People::sync_track(Candidate& c, const Track& track) {
  c.track_id = track.id;
  c.tracker_confirmed = track.confirmed;
  Person& p = c.person;
  p.first_seen = track.first_seen;
  p.last_seen = track.last_seen;
  p.vote = track.label;
  p.vote_confidence = track.confidence;
  p.best_crop = track.best_crop;
  p.best_crop_t = track.best_crop_time;
}

void People::emit(PersonEventKind kind, const Candidate& c, double t) {
  PersonEvent e;
  e.kind = kind;
  e.t = t;
  e.person = c.person;
  e.person.median_face_score = median_of(c.scores);
  e.person.face_px = median_of(c.sizes);
  switch (kind) {
    case PersonEventKind::counted:
    case PersonEventKind::state_changed:
      e.label = c.person.state;
      e.previous_state = kind == PersonEventKind::state_changed ? c.state_before : std::nullopt;
      break;
    case PersonEventKind::alert:
      e.label = c.person.state;
      e.previous_state = c.state_before;
      e.mask_removed = c.state_before == MaskLabel::mask;
      break;
    case PersonEventKind::ended:
      e.label = c.person.longest();
      e.states = c.spans;
      break;
  }
  events_.push_back(std::move(e));
}

void People::observe(Candidate& c, const Track& track, const Face& face, double t, cv::Size frame_size,
                     const cv::Mat& frame) {
  sync_track(c, track);
  Person& p = c.person;
  p.box = face.box;
  p.box_t = t;
  p.frame_size = frame_size;
  if (keep_frames_) p.frame = frame;

  // Evidence: faces outside the ignore zones.
  const cv::Point2f centre(face.box.x + face.box.width / 2.0f, face.box.y + face.box.height / 2.0f);
  const bool in_zone = frame_size.width > 0 && frame_size.height > 0 && !config_.ignore_zones.empty() &&
                       in_zones(config_.ignore_zones, {centre.x / static_cast<float>(frame_size.width),
                                                       centre.y / static_cast<float>(frame_size.height)});
  const float size = std::max(face.box.width, face.box.height);
  c.strong_now = !in_zone && face.face_score >= config_.min_score;
  if (!in_zone) {
    c.scores.push_back(face.face_score);
    c.sizes.push_back(size);
    if (c.scores.size() > kMaxHistory) {
      c.scores.pop_front();
      c.sizes.pop_front();
    }
    if (c.strong_now && !c.first_strong) c.first_strong = t;
    // Movement: the median of the latest faces against the median of the first (or of those at the latest move).
    if (c.first_centres.size() < kMoveSamples) {
      c.first_centres.push_back(centre);
      c.first_sizes.push_back(size);
      if (c.first_centres.size() == 1) c.still_since = t;
    }
    c.recent_centres.push_back(centre);
    c.recent_sizes.push_back(size);
    if (c.recent_centres.size() > kMoveSamples) {
      c.recent_centres.pop_front();
      c.recent_sizes.pop_front();
    }
    if (!c.anchored && c.first_centres.size() == kMoveSamples) {
      c.anchor = median_point(c.first_centres);
      c.anchor_size = median_of(c.first_sizes);
      c.anchored = true;
    }
    if (c.anchored && c.recent_centres.size() == kMoveSamples) {
      const cv::Point2f now = median_point(c.recent_centres);
      const float now_size = median_of(c.recent_sizes);
      const float tol = config_.stationary_tolerance;
      const float ratio =
          c.anchor_size > 0.0f && now_size > 0.0f ? std::max(now_size / c.anchor_size, c.anchor_size / now_size) : 1.0f;
      if (cv::norm(now - c.anchor) > tol * c.anchor_size || ratio - 1.0f > tol) {
        c.moved = true;
        c.anchor = now;
        c.anchor_size = now_size;
        c.still_since = t;
      }
    }
  }
  p.stationary = config_.stationary_s > 0.0 && !c.first_centres.empty() && t - c.still_since >= config_.stationary_s;

  // Time seen, by state.
  if (c.previous_match) {
    const double step = std::clamp(t - *c.previous_match, 0.0, kMaxStep);
    if (c.counted) {
      p.seconds[index(p.state)] += step;
    } else {
      c.visible_s += step;
    }
  }
  c.previous_match = t;

  // The smoothed probabilities that decide which label leads.
  if (classified(face.probs)) {
    if (!c.smoothing_started || config_.state_smoothing_s <= 0.0) {
      c.smoothed = face.probs;
      c.smoothing_started = true;
    } else {
      const double dt = std::max(0.0, t - c.smoothed_t);
      const auto alpha = static_cast<float>(1.0 - std::exp(-dt / config_.state_smoothing_s));
      for (std::size_t i = 0; i < kNumLabels; ++i) c.smoothed[i] += alpha * (face.probs[i] - c.smoothed[i]);
    }
    c.smoothed_t = t;
  }
}

void People::decide(Candidate& c, const Track& track, double t) {
  Person& p = c.person;
  if (!c.counted) {
    // Evidence: only a face at or above min_score, outside the zones, confirms a person.
    const bool still_rule = config_.stationary_s > 0.0 && !config_.count_stationary;
    if (!track.confirmed || !c.strong_now || !c.first_strong || t - *c.first_strong < config_.confirm_s) return;
    if (median_of(c.scores) < threshold_ || median_of(c.sizes) < config_.min_face_px) return;
    if (still_rule && !c.moved) return;
    c.counted = true;
    p.id = next_id_++;
    p.state = c.smoothing_started ? argmax(c.smoothed) : track.label;
    p.state_since = p.first_seen;
    p.seconds[index(p.state)] = c.visible_s;
    c.spans.push_back({p.first_seen, t, p.state});
    emit(PersonEventKind::counted, c, t);
  } else if (c.smoothing_started) {
    // Hysteresis: a new leader must lead state_hold_s before it becomes the state.
    const MaskLabel leader = argmax(c.smoothed);
    if (leader == p.state) {
      c.challenger.reset();
    } else {
      if (c.challenger != leader) {
        c.challenger = leader;
        c.challenger_since = t;
      }
      if (t - c.challenger_since >= config_.state_hold_s) {
        const MaskLabel before = p.state;
        const double since = c.challenger_since;
        // The time since the new label began to lead was seen in the new state.
        const double moved_s = std::min(t - since, p.seconds[index(before)]);
        p.seconds[index(before)] -= moved_s;
        p.seconds[index(leader)] += moved_s;
        c.spans.back().end = since;
        c.spans.push_back({since, t, leader});
        if (before == MaskLabel::mask) ++p.mask_removals;
        c.state_before = before;
        p.state = leader;
        p.state_since = since;
        c.alerted = false;
        c.challenger.reset();
        emit(PersonEventKind::state_changed, c, t);
      }
    }
    c.spans.back().end = t;
  }

  // Alert: an alert label held min_seen_s, once per period of that state; cooldown per person, label and kind
  // (a mask removal is not held back by an alert the person raised before putting the mask on).
  if (c.alerted || !config_.alerts.labels[index(p.state)]) return;
  if (t - p.state_since < config_.alerts.min_seen_s) return;
  const bool removal = c.state_before == MaskLabel::mask;
  auto& last = c.last_alert[index(p.state) + (removal ? kNumLabels : 0)];
  if (last && t - *last < config_.alerts.cooldown_s) return;
  c.alerted = true;
  last = t;
  ++ended_totals_.alerts[index(p.state)];
  emit(PersonEventKind::alert, c, t);
}

void People::reject(const Candidate& c) {
  if (!c.tracker_confirmed) return;  // the Tracker's own noise filter (min_hits) ended it
  const bool still_rule = config_.stationary_s > 0.0 && !config_.count_stationary;
  // The first rule it failed; no evidence at all (or enough of it, but too brief) is `short`.
  const bool evidence = !c.scores.empty() && c.first_strong;
  if (evidence && median_of(c.scores) < threshold_) {
    ++ended_totals_.rejected_score;
  } else if (evidence && median_of(c.sizes) < config_.min_face_px) {
    ++ended_totals_.rejected_size;
  } else if (evidence && still_rule && !c.moved) {
    ++ended_totals_.rejected_stationary;
  } else {
    ++ended_totals_.rejected_short;
  }
}

void People::end(Candidate& c, double t) {
  if (!c.counted) {
    reject(c);
    return;
  }
  if (!c.spans.empty()) c.spans.back().end = std::max(c.spans.back().end, c.person.last_seen);
  emit(PersonEventKind::ended, c, t);
  const Person& p = c.person;
  ++ended_totals_.total;
  ++ended_totals_.longest[index(p.longest())];
  ++ended_totals_.vote[index(p.vote)];
  ended_totals_.mask_removals += p.mask_removals;
}

void People::update(const Tracker& tracker, std::vector<Face>& faces, double t, cv::Size frame_size,
                    const cv::Mat& frame) {
  events_.clear();
  for (Face& face : faces) {
    face.counted = false;
    face.person_state.reset();
    face.track_id = -1;
  }
  const std::vector<Track>& tracks = tracker.tracks();
  // Tracks that ended (in creation order, like the tracker's list).
  for (Candidate& c : candidates_) {
    const bool live =
        std::any_of(tracks.begin(), tracks.end(), [&c](const Track& track) { return track.key == c.key; });
    if (!live) end(c, t);
  }
  std::erase_if(candidates_, [&tracks](const Candidate& c) {
    return std::none_of(tracks.begin(), tracks.end(), [&c](const Track& track) { return track.key == c.key; });
  });
  for (const Track& track : tracks) {
    auto it = std::find_if(candidates_.begin(), candidates_.end(),
                           [&track](const Candidate& c) { return c.key == track.key; });
    if (it == candidates_.end()) {
      Candidate fresh;
      fresh.key = track.key;
      candidates_.push_back(std::move(fresh));
      it = std::prev(candidates_.end());
    }
    Candidate& c = *it;
    sync_track(c, track);
    if (track.matched_face < 0 || static_cast<std::size_t>(track.matched_face) >= faces.size()) continue;
    Face& face = faces[static_cast<std::size_t>(track.matched_face)];
    observe(c, track, face, t, frame_size, frame);
    decide(c, track, t);
    if (c.counted) {
      face.counted = true;
      face.person_state = c.person.state;
      face.track_id = c.person.id;
    }
  }
}

void People::update_predicted(const Tracker& tracker, std::vector<Face>& faces, double t) {
  events_.clear();
  const std::vector<Track>& tracks = tracker.tracks();
  for (Candidate& c : candidates_) {
    const bool live =
        std::any_of(tracks.begin(), tracks.end(), [&c](const Track& track) { return track.key == c.key; });
    if (!live) end(c, t);
  }
  std::erase_if(candidates_, [&tracks](const Candidate& c) {
    return std::none_of(tracks.begin(), tracks.end(), [&c](const Track& track) { return track.key == c.key; });
  });
  for (Face& face : faces) {
    const std::int64_t tracker_id = face.track_id;
    face.counted = false;
    face.person_state.reset();
    face.track_id = -1;
    if (tracker_id < 0) continue;
    const auto it = std::find_if(candidates_.begin(), candidates_.end(),
                                 [tracker_id](const Candidate& c) { return c.track_id == tracker_id; });
    if (it == candidates_.end() || !it->counted) continue;
    face.counted = true;
    face.person_state = it->person.state;
    face.track_id = it->person.id;
  }
}

void People::finish(double t) {
  events_.clear();
  for (Candidate& c : candidates_) end(c, t);
  candidates_.clear();
}

std::vector<Person> People::people() const {
  std::vector<Person> out;
  for (const Candidate& c : candidates_) {
    if (!c.counted) continue;
    Person p = c.person;
    p.median_face_score = median_of(c.scores);
    p.face_px = median_of(c.sizes);
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const Person& a, const Person& b) { return a.id < b.id; });
  return out;
}

PeopleSummary People::summary() const {
  PeopleSummary s = ended_totals_;
  for (const Candidate& c : candidates_) {
    if (!c.counted) continue;
    ++s.total;
    ++s.longest[index(c.person.longest())];
    ++s.vote[index(c.person.vote)];
    s.mask_removals += c.person.mask_removals;
  }
  return s;
}

void People::reset() {
  candidates_.clear();
  events_.clear();
  ended_totals_ = {};
  next_id_ = 1;
}

}  // namespace maskdetect
