// `eval --video`: ground truth of a clip, a run's people and alerts, matching and scores (see video_eval.hpp).
#include "eval/video_eval.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "maskdetect/error.hpp"
#include "maskdetect/tracker.hpp"

namespace maskdetect::eval {
namespace {

[[noreturn]] void truth_error(const std::string& origin, const std::string& where, const std::string& what) {
  throw Error(Errc::bad_input, fmt::format("{}: {}: {}", origin, where, what));
}

double seconds_of(const nlohmann::json& j, const std::string& origin, const std::string& where) {
  if (!j.is_number()) truth_error(origin, where, "expected a number of seconds");
  const auto v = j.get<double>();
  if (!std::isfinite(v) || v < 0.0 || v > 1e7)
    truth_error(origin, where, fmt::format("{} is not a time in seconds", v));
  return v;
}

std::optional<MaskLabel> state_of(const nlohmann::json& j, const std::string& origin, const std::string& where,
                                  bool allow_ambiguous) {
  if (!j.is_string()) truth_error(origin, where, "expected a state name");
  const auto name = j.get<std::string>();
  if (allow_ambiguous && name == "ambiguous") return std::nullopt;
  const auto label = parse_label(name);
  if (!label)
    truth_error(origin, where,
                fmt::format("unknown state '{}' (expected mask, no_mask, incorrect{})", name,
                            allow_ambiguous ? " or ambiguous" : ""));
  return label;
}

TimeSpan span_of(const nlohmann::json& j, const std::string& origin, const std::string& where) {
  if (!j.is_array() || j.size() < 2) truth_error(origin, where, "expected [start, end]");
  TimeSpan span{seconds_of(j[0], origin, where + "[0]"), seconds_of(j[1], origin, where + "[1]")};
  if (span.end < span.start)
    truth_error(origin, where, fmt::format("ends ({}) before it starts ({})", span.end, span.start));
  return span;
}

TruthPerson person_of(const nlohmann::json& j, const std::string& origin, const std::string& where, bool secondary) {
  if (!j.is_object()) truth_error(origin, where, "expected an object");
  TruthPerson p;
  p.secondary = secondary;
  const auto id = j.find("id");
  if (id == j.end() || !id->is_string()) truth_error(origin, where + ".id", "expected a string");
  p.id = id->get<std::string>();
  const auto visible = j.find("visible");
  if (visible == j.end() || !visible->is_array() || visible->empty())
    truth_error(origin, where + ".visible", "expected a list of [start, end] spans");
  for (std::size_t i = 0; i < visible->size(); ++i)
    p.visible.push_back(span_of((*visible)[i], origin, fmt::format("{}.visible[{}]", where, i)));
  if (const auto states = j.find("states"); states != j.end()) {
    if (!states->is_array()) truth_error(origin, where + ".states", "expected a list of [start, end, state]");
    for (std::size_t i = 0; i < states->size(); ++i) {
      const std::string at = fmt::format("{}.states[{}]", where, i);
      const auto& s = (*states)[i];
      if (!s.is_array() || s.size() != 3) truth_error(origin, at, "expected [start, end, state]");
      const TimeSpan span = span_of(s, origin, at);
      p.states.push_back({span.start, span.end, state_of(s[2], origin, at + "[2]", true)});
    }
  } else if (const auto label = j.find("label"); label != j.end()) {
    const auto state = state_of(*label, origin, where + ".label", false);
    for (const TimeSpan& span : p.visible) p.states.push_back({span.start, span.end, state});
  } else if (!secondary) {
    truth_error(origin, where, "needs 'states' (or 'label')");
  }
  std::sort(p.states.begin(), p.states.end(),
            [](const TruthState& a, const TruthState& b) { return a.start < b.start; });
  if (const auto px = j.find("face_px"); px != j.end()) {
    if (!px->is_number() || px->get<double>() < 0.0) truth_error(origin, where + ".face_px", "expected pixels");
    p.face_px = px->get<float>();
  }
  return p;
}

bool is_alert_label(MaskLabel label) { return label != MaskLabel::mask; }

}  // namespace

// ------------------------------------------------------------------------------------------------ truth

std::optional<MaskLabel> TruthPerson::state_at(double t) const {
  for (const TruthState& s : states) {
    if (t >= s.start && t < s.end) return s.state;
  }
  return std::nullopt;
}

bool TruthPerson::visible_at(double t, double margin) const {
  return std::any_of(visible.begin(), visible.end(),
                     [t, margin](const TimeSpan& s) { return t >= s.start - margin && t < s.end + margin; });
}

std::size_t VideoTruth::primary() const {
  return static_cast<std::size_t>(
      std::count_if(people.begin(), people.end(), [](const TruthPerson& p) { return !p.secondary; }));
}

bool VideoTruth::everyone_masked() const {
  bool any = false;
  for (const TruthPerson& p : people) {
    if (p.secondary) continue;
    for (const TruthState& s : p.states) {
      if (!s.state) continue;
      if (*s.state != MaskLabel::mask) return false;
      any = true;
    }
  }
  return any;
}

std::vector<TruthRemoval> VideoTruth::removals() const {
  std::vector<TruthRemoval> out;
  for (std::size_t i = 0; i < people.size(); ++i) {
    const TruthPerson& p = people[i];
    if (p.secondary) continue;
    const auto& st = p.states;
    for (std::size_t a = 0; a < st.size(); ++a) {
      if (st[a].state != MaskLabel::mask) continue;
      std::size_t b = a + 1;
      while (b < st.size() && !st[b].state) ++b;
      if (b >= st.size() || st[b].state == MaskLabel::mask) continue;
      std::size_t c = b + 1;
      while (c < st.size() && st[c].state != MaskLabel::mask) ++c;
      const double end = c < st.size() ? st[c].start : st.back().end;
      out.push_back({i, st[a].end, end});
      a = c - 1;
    }
  }
  return out;
}

VideoTruth parse_video_truth(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::bad_input, fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  if (!j.is_object()) throw Error(Errc::bad_input, fmt::format("{}: expected a JSON object", origin));
  VideoTruth truth;
  truth.origin = origin;
  if (const auto clip = j.find("clip"); clip != j.end() && clip->is_string()) truth.clip = clip->get<std::string>();
  if (const auto d = j.find("duration_s"); d != j.end()) truth.duration_s = seconds_of(*d, origin, "duration_s");
  const auto people = j.find("people");
  if (people == j.end() || !people->is_array()) truth_error(origin, "people", "expected a list of people");
  for (std::size_t i = 0; i < people->size(); ++i)
    truth.people.push_back(person_of((*people)[i], origin, fmt::format("people[{}]", i), false));
  if (const auto sec = j.find("secondary_people"); sec != j.end()) {
    if (!sec->is_array()) truth_error(origin, "secondary_people", "expected a list of people");
    for (std::size_t i = 0; i < sec->size(); ++i)
      truth.people.push_back(person_of((*sec)[i], origin, fmt::format("secondary_people[{}]", i), true));
  }
  std::set<std::string> ids;
  for (const TruthPerson& p : truth.people) {
    if (!ids.insert(p.id).second) truth_error(origin, "people", fmt::format("id '{}' is used twice", p.id));
  }
  truth.people_count = static_cast<std::int64_t>(truth.primary());
  if (const auto n = j.find("people_count"); n != j.end()) {
    if (!n->is_number_integer() || n->get<std::int64_t>() < 0)
      truth_error(origin, "people_count", "expected a whole number");
    truth.people_count = n->get<std::int64_t>();
  }
  if (const auto n = j.find("people_count_with_secondary"); n != j.end()) {
    if (!n->is_number_integer() || n->get<std::int64_t>() < truth.people_count)
      truth_error(origin, "people_count_with_secondary", "expected a whole number, at least people_count");
    truth.people_with_secondary = n->get<std::int64_t>();
  }
  return truth;
}

VideoTruth read_video_truth(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::bad_input, fmt::format("{}: cannot read the truth file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return parse_video_truth(text.str(), path.string());
}

// ------------------------------------------------------------------------------------------------ runs

float SeenPerson::median_px() const {
  if (faces.empty()) return 0.0f;
  std::vector<float> px;
  px.reserve(faces.size());
  for (const SeenFace& f : faces) px.push_back(f.face_px);
  const auto mid = px.begin() + static_cast<std::ptrdiff_t>(px.size() / 2);
  std::nth_element(px.begin(), mid, px.end());
  return *mid;
}

VideoRunBuilder::VideoRunBuilder(double fps) { run_.frame_s = fps > 0.0 ? 1.0 / fps : 0.04; }

void VideoRunBuilder::add_faces(double t, const std::vector<Face>& faces) {
  ++run_.frames;
  for (const Face& face : faces) {
    if (face.track_id < 0) continue;
    auto [it, fresh] = index_.try_emplace(face.track_id, run_.people.size());
    if (fresh) {
      run_.people.push_back({face.track_id, {}});
      legacy_states_.emplace_back();
    }
    SeenPerson& person = run_.people[it->second];
    person.faces.push_back({t, std::max(face.box.width, face.box.height), face.label, face.person_state});
    if (face.person_state) any_state_ = true;
    // Legacy: the running vote (mean class probabilities), and the serve rule of before issue 17.
    Vote& vote = votes_[face.track_id];
    if (vote.n == 0) vote.first_seen = t;
    if (std::any_of(face.probs.begin(), face.probs.end(), [](float p) { return p > 0.0f; })) {
      for (std::size_t c = 0; c < kNumLabels; ++c) vote.sum[c] += face.probs[c];
      ++vote.n;
    }
    std::optional<MaskLabel> voted;
    if (vote.n > 0)
      voted = static_cast<MaskLabel>(std::max_element(vote.sum.begin(), vote.sum.end()) - vote.sum.begin());
    legacy_states_[it->second].push_back(voted);
    if (!voted || !is_alert_label(*voted) || t - vote.first_seen < 1.0) continue;
    if (std::find(legacy_recorded_.begin(), legacy_recorded_.end(), face.track_id) != legacy_recorded_.end()) continue;
    auto& last = legacy_last_[static_cast<std::size_t>(*voted)];
    if (last && t - *last < 30.0) continue;
    legacy_recorded_.push_back(face.track_id);
    last = t;
    legacy_alerts_.push_back({t, face.track_id, *voted, false});
  }
}

void VideoRunBuilder::add_frame(double t, const std::vector<Face>& faces, const std::vector<PersonEvent>& events) {
  add_faces(t, faces);
  any_state_ = true;  // the pipeline itself: never legacy
  for (const PersonEvent& e : events) {
    if (e.kind != PersonEventKind::alert) continue;
    run_.alerts.push_back({e.t, e.person.id, e.label, e.mask_removed});
  }
}

void VideoRunBuilder::add_frame_json(double t, const std::vector<Face>& faces, const nlohmann::json& events) {
  add_faces(t, faces);
  if (!events.is_array()) return;
  any_events_ = true;
  for (const auto& e : events) {
    if (!e.is_object() || e.value("event", std::string()) != "alert") continue;
    const auto label = parse_label(e.value("label", std::string()));
    if (!label || !e.contains("person_id") || !e["person_id"].is_number_integer()) continue;
    run_.alerts.push_back(
        {e.value("t", t), e["person_id"].get<std::int64_t>(), *label, e.value("mask_removed", false)});
  }
}

VideoRun VideoRunBuilder::finish(std::string system, double wall_s) {
  VideoRun run = std::move(run_);
  run.system = std::move(system);
  run.wall_s = wall_s;
  run.legacy = !any_state_ && !any_events_;
  if (run.legacy) {
    for (std::size_t i = 0; i < run.people.size(); ++i) {
      for (std::size_t k = 0; k < run.people[i].faces.size(); ++k) run.people[i].faces[k].state = legacy_states_[i][k];
    }
    run.alerts = legacy_alerts_;
  }
  std::sort(run.people.begin(), run.people.end(), [](const SeenPerson& a, const SeenPerson& b) { return a.id < b.id; });
  return run;
}

VideoRun read_video_run(const std::filesystem::path& path, double fps) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::bad_input, fmt::format("{}: cannot read the predictions", path.string()));
  VideoRunBuilder builder(fps);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string origin = fmt::format("{}:{}", path.string(), number);
    const FrameRecord record = frame_from_json(line, origin);
    double t = 0.0;
    if (record.info.t) {
      t = *record.info.t;
    } else if (record.info.frame) {
      t = static_cast<double>(*record.info.frame) / (fps > 0.0 ? fps : 25.0);
    } else {
      throw Error(Errc::bad_input, fmt::format("{}: a video frame needs 't' or 'frame'", origin));
    }
    const nlohmann::json j = nlohmann::json::parse(line);
    builder.add_frame_json(t, record.result.faces, j.contains("events") ? j["events"] : nlohmann::json());
  }
  return builder.finish("predictions " + path.string(), 0.0);
}

// ------------------------------------------------------------------------------------------------ scores

bool VideoScore::count_ok() const {
  return static_cast<double>(count_error) <= std::max(1.0, 0.1 * static_cast<double>(truth_people));
}

std::size_t TruthPersonScore::spans_right() const {
  return static_cast<std::size_t>(
      std::count_if(spans.begin(), spans.end(), [](const SpanScore& s) { return s.right(); }));
}

VideoScore score_video(const VideoTruth& truth, const VideoRun& run, double min_removal_s) {
  VideoScore score;
  score.clip = truth.clip;
  score.system = run.system;
  score.legacy = run.legacy;
  score.min_removal_s = min_removal_s;
  score.people = static_cast<std::int64_t>(run.people.size());
  score.truth_people = truth.people_count;
  score.truth_with_secondary = truth.people_with_secondary;
  const std::int64_t upper = truth.people_with_secondary.value_or(truth.people_count);
  score.count_error = score.people < truth.people_count ? truth.people_count - score.people
                      : score.people > upper            ? score.people - upper
                                                        : 0;
  score.fps = run.wall_s > 0.0 ? static_cast<double>(run.frames) / run.wall_s : 0.0;

  // Matching: predicted people x truth people by time overlap, face size and state agreement (docs/tracking.md).
  const std::size_t np = run.people.size();
  const std::size_t nt = truth.people.size();
  std::vector<std::vector<float>> weight(np, std::vector<float>(nt, -1.0f));
  std::vector<std::vector<double>> overlap(np, std::vector<double>(nt, 0.0));
  float best = 0.0f;
  for (std::size_t i = 0; i < np; ++i) {
    const SeenPerson& p = run.people[i];
    const double seen_s = static_cast<double>(p.faces.size()) * run.frame_s;
    const float px = p.median_px();
    for (std::size_t g = 0; g < nt; ++g) {
      const TruthPerson& tp = truth.people[g];
      double both = 0.0;
      std::int64_t scored = 0;
      std::int64_t agree = 0;
      for (const SeenFace& f : p.faces) {
        if (!tp.visible_at(f.t)) continue;
        both += run.frame_s;
        if (const auto state = tp.state_at(f.t)) {
          ++scored;
          if (f.state.value_or(f.label) == *state) ++agree;
        }
      }
      overlap[i][g] = both;
      const float size = tp.face_px > 0.0f && px > 0.0f ? std::min(px, tp.face_px) / std::max(px, tp.face_px) : 1.0f;
      if (both < std::min(0.3, 0.5 * seen_s) || size < 0.4f) continue;
      const double agreement = scored > 0 ? static_cast<double>(agree) / static_cast<double>(scored) : 0.5;
      weight[i][g] = static_cast<float>(both * size * (0.5 + 0.5 * agreement));
      best = std::max(best, weight[i][g]);
    }
  }
  for (auto& row : weight) {
    for (float& w : row) w = w < 0.0f || best <= 0.0f ? -1.0f : w / best;
  }
  const std::vector<int> assigned = match_rows(weight, 1e-9f, TrackMatching::hungarian);
  std::vector<std::vector<std::size_t>> of_truth(nt);
  score.matches.resize(np);
  for (std::size_t i = 0; i < np; ++i) {
    score.matches[i].seen_id = run.people[i].id;
    if (assigned[i] >= 0) {
      const auto g = static_cast<std::size_t>(assigned[i]);
      score.matches[i].truth = g;
      score.matches[i].overlap_s = overlap[i][g];
      of_truth[g].push_back(i);
    }
  }
  // Fragments: a truth person seen as several people one after the other (left and came back, a cut).
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < np; ++i) {
    if (!score.matches[i].truth) rest.push_back(i);
  }
  std::sort(rest.begin(), rest.end(),
            [&](std::size_t a, std::size_t b) { return run.people[a].faces.size() > run.people[b].faces.size(); });
  for (const std::size_t i : rest) {
    const SeenPerson& p = run.people[i];
    std::optional<std::size_t> pick;
    for (std::size_t g = 0; g < nt; ++g) {
      if (weight[i][g] < 0.0f) continue;
      const bool clash = std::any_of(of_truth[g].begin(), of_truth[g].end(), [&](std::size_t k) {
        const SeenPerson& q = run.people[k];
        return std::min(p.last(), q.last()) - std::max(p.first(), q.first()) > 0.2;
      });
      if (!clash && (!pick || weight[i][g] > weight[i][*pick])) pick = g;
    }
    if (!pick) continue;
    score.matches[i].truth = pick;
    score.matches[i].fragment = true;
    score.matches[i].overlap_s = overlap[i][*pick];
    of_truth[*pick].push_back(i);
  }

  // Labels: the majority of the predicted states in each scored span of each primary truth person.
  for (std::size_t g = 0; g < nt; ++g) {
    const TruthPerson& tp = truth.people[g];
    if (tp.secondary) continue;
    TruthPersonScore ps;
    ps.truth = g;
    for (const std::size_t i : of_truth[g]) ps.seen_ids.push_back(run.people[i].id);
    for (const TruthState& span : tp.states) {
      if (!span.state) continue;
      SpanScore s;
      s.span = span;
      std::array<std::int64_t, kNumLabels> votes{};
      for (const std::size_t i : of_truth[g]) {
        for (const SeenFace& f : run.people[i].faces) {
          if (f.t < span.start || f.t >= span.end) continue;
          ++votes[static_cast<std::size_t>(f.state.value_or(f.label))];
          ++s.frames;
        }
      }
      if (s.frames > 0) {
        s.majority = static_cast<MaskLabel>(std::max_element(votes.begin(), votes.end()) - votes.begin());
        s.frames_right = votes[static_cast<std::size_t>(*span.state)];
      }
      score.spans += 1;
      if (s.right()) ++score.spans_right;
      score.frames_scored += s.frames;
      score.frames_right += s.frames_right;
      ps.spans.push_back(s);
    }
    score.persons.push_back(std::move(ps));
  }

  // Removals: alerts of the person's predicted people during the removal (0.5 s before to 1 s after).
  auto person_of_alert = [&](const SeenAlert& a) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < np; ++i) {
      if (run.people[i].id == a.person) return i;
    }
    return std::nullopt;
  };
  const std::vector<TruthRemoval> removals = truth.removals();
  auto in_removal = [&](const SeenAlert& a, const TruthRemoval& r) {
    const auto i = person_of_alert(a);
    return i && score.matches[*i].truth == r.person && is_alert_label(a.label) && a.t >= r.start - 0.5 &&
           a.t <= r.end + 1.0;
  };
  for (const TruthRemoval& r : removals) {
    RemovalScore rs;
    rs.removal = r;
    rs.alerts =
        std::count_if(run.alerts.begin(), run.alerts.end(), [&](const SeenAlert& a) { return in_removal(a, r); });
    (r.held_s() >= min_removal_s ? score.removals : score.short_removals).push_back(rs);
  }

  // Alerts: false when the person is masked at the time, or is nobody of the truth.
  score.everyone_masked = truth.everyone_masked();
  for (const SeenAlert& a : run.alerts) {
    ++score.alerts;
    if (a.label == MaskLabel::no_mask) ++score.no_mask_alerts;
    if (!is_alert_label(a.label)) continue;
    const auto i = person_of_alert(a);
    if (!i || !score.matches[*i].truth) {
      score.false_alerts.push_back({a, "not a person of the truth (an extra track)"});
      continue;
    }
    const TruthPerson& tp = truth.people[*score.matches[*i].truth];
    if (tp.secondary) continue;
    if (std::any_of(removals.begin(), removals.end(), [&](const TruthRemoval& r) { return in_removal(a, r); }))
      continue;
    if (tp.state_at(a.t) == MaskLabel::mask)
      score.false_alerts.push_back({a, fmt::format("{} is masked at the time", tp.id)});
  }
  return score;
}

namespace {

std::string label_name(std::optional<MaskLabel> label) {
  return label ? std::string(to_string(*label)) : std::string("ambiguous");
}

}  // namespace

std::string format_video_score(const VideoScore& s, const VideoTruth& truth) {
  std::string out =
      fmt::format("clip: {} (truth {})\nsystem: {}{}\n", s.clip.empty() ? "?" : s.clip, truth.origin, s.system,
                  s.legacy ? " [legacy output: states are running votes, alerts follow the serve rule "
                             "of before issue 17]"
                           : "");
  out += fmt::format("people: counted {}, truth {}", s.people, s.truth_people);
  if (s.truth_with_secondary) out += fmt::format(" ({} with optional people)", *s.truth_with_secondary);
  out += fmt::format(": error {} -> {} (target: within 10% or 1)\n", s.count_error, s.count_ok() ? "ok" : "MISSED");
  out += fmt::format(
      "labels: {}/{} state spans right ({:.1f}%), per-frame state accuracy {:.1f}% (ambiguous spans not "
      "scored)\n",
      s.spans_right, s.spans,
      s.spans > 0 ? 100.0 * static_cast<double>(s.spans_right) / static_cast<double>(s.spans) : 0.0,
      s.frames_scored > 0 ? 100.0 * static_cast<double>(s.frames_right) / static_cast<double>(s.frames_scored) : 0.0);
  for (const TruthPersonScore& ps : s.persons) {
    const TruthPerson& tp = truth.people[ps.truth];
    std::string ids;
    for (const std::int64_t id : ps.seen_ids) ids += fmt::format("{}#{}", ids.empty() ? "" : ",", id);
    out += fmt::format("  {:<5} seen as {:<12} spans {}/{}", tp.id, ids.empty() ? "-" : ids, ps.spans_right(),
                       ps.spans.size());
    for (const SpanScore& span : ps.spans) {
      out += fmt::format("  [{:.2f}-{:.2f} {}: {}", span.span.start, span.span.end, label_name(span.span.state),
                         span.majority ? std::string(to_string(*span.majority)) : std::string("unseen"));
      if (span.frames > 0) out += fmt::format(" {}/{}", span.frames_right, span.frames);
      out += "]";
    }
    out += '\n';
  }
  std::int64_t recalled = 0;
  std::int64_t duplicates = 0;
  for (const RemovalScore& r : s.removals) {
    recalled += r.alerts > 0 ? 1 : 0;
    duplicates += std::max<std::int64_t>(0, r.alerts - 1);
  }
  out += fmt::format("mask removals held >= {:.1f} s: {}/{} raised an alert, {} more than one", s.min_removal_s,
                     recalled, s.removals.size(), duplicates);
  for (const RemovalScore& r : s.removals)
    out += fmt::format("  [{} {:.2f}-{:.2f}: {} alert(s)]", truth.people[r.removal.person].id, r.removal.start,
                       r.removal.end, r.alerts);
  out += fmt::format("; shorter: {}\n", s.short_removals.size());
  out += fmt::format("alerts: {}, false {}", s.alerts, s.false_alerts.size());
  if (s.everyone_masked) out += fmt::format(", no_mask alerts on this all-masked clip {}", s.no_mask_alerts);
  out += '\n';
  for (const FalseAlert& f : s.false_alerts)
    out += fmt::format("  false: #{} {} at {:.2f} s: {}\n", f.alert.person, to_string(f.alert.label), f.alert.t, f.why);
  std::string extra;
  std::size_t n_extra = 0;
  for (const PersonMatch& m : s.matches) {
    if (m.truth) continue;
    ++n_extra;
    if (n_extra <= 12) extra += fmt::format(" #{}", m.seen_id);
  }
  if (n_extra > 0) out += fmt::format("people not in the truth: {}:{}{}\n", n_extra, extra, n_extra > 12 ? " ..." : "");
  if (s.fps > 0.0) out += fmt::format("speed: {:.1f} fps (wall clock, decoding included)\n", s.fps);
  return out;
}

nlohmann::json video_score_json(const VideoScore& s, const VideoTruth& truth) {
  nlohmann::json j;
  j["clip"] = s.clip;
  j["truth"] = truth.origin;
  j["system"] = s.system;
  j["legacy"] = s.legacy;
  j["people"] = {{"counted", s.people},
                 {"truth", s.truth_people},
                 {"truth_with_secondary", s.truth_with_secondary ? nlohmann::json(*s.truth_with_secondary) : nullptr},
                 {"error", s.count_error},
                 {"ok", s.count_ok()}};
  nlohmann::json per_person = nlohmann::json::array();
  for (const TruthPersonScore& ps : s.persons) {
    nlohmann::json spans = nlohmann::json::array();
    for (const SpanScore& span : ps.spans)
      spans.push_back({{"start", span.span.start},
                       {"end", span.span.end},
                       {"state", label_name(span.span.state)},
                       {"majority", span.majority ? nlohmann::json(to_string(*span.majority)) : nullptr},
                       {"frames", span.frames},
                       {"frames_right", span.frames_right}});
    per_person.push_back({{"id", truth.people[ps.truth].id},
                          {"seen_as", ps.seen_ids},
                          {"spans", ps.spans.size()},
                          {"right", ps.spans_right()},
                          {"detail", spans}});
  }
  j["labels"] = {
      {"spans", s.spans},
      {"right", s.spans_right},
      {"accuracy",
       s.spans > 0 ? nlohmann::json(static_cast<double>(s.spans_right) / static_cast<double>(s.spans)) : nullptr},
      {"frame_accuracy",
       s.frames_scored > 0 ? nlohmann::json(static_cast<double>(s.frames_right) / static_cast<double>(s.frames_scored))
                           : nullptr},
      {"per_person", per_person}};
  std::int64_t recalled = 0;
  std::int64_t duplicates = 0;
  nlohmann::json removals = nlohmann::json::array();
  for (const RemovalScore& r : s.removals) {
    recalled += r.alerts > 0 ? 1 : 0;
    duplicates += std::max<std::int64_t>(0, r.alerts - 1);
    removals.push_back({{"person", truth.people[r.removal.person].id},
                        {"start", r.removal.start},
                        {"end", r.removal.end},
                        {"alerts", r.alerts}});
  }
  nlohmann::json shorter = nlohmann::json::array();
  for (const RemovalScore& r : s.short_removals)
    shorter.push_back({{"person", truth.people[r.removal.person].id},
                       {"start", r.removal.start},
                       {"end", r.removal.end},
                       {"alerts", r.alerts}});
  j["removals"] = {{"min_held_s", s.min_removal_s},
                   {"truth", s.removals.size()},
                   {"recalled", recalled},
                   {"recall", s.removals.empty() ? nullptr
                                                 : nlohmann::json(static_cast<double>(recalled) /
                                                                  static_cast<double>(s.removals.size()))},
                   {"duplicates", duplicates},
                   {"list", removals},
                   {"short", shorter}};
  nlohmann::json false_list = nlohmann::json::array();
  for (const FalseAlert& f : s.false_alerts)
    false_list.push_back(
        {{"person_id", f.alert.person}, {"t", f.alert.t}, {"label", to_string(f.alert.label)}, {"why", f.why}});
  j["alerts"] = {{"total", s.alerts},
                 {"false", s.false_alerts.size()},
                 {"everyone_masked", s.everyone_masked},
                 {"no_mask", s.no_mask_alerts},
                 {"false_list", false_list}};
  nlohmann::json matches = nlohmann::json::array();
  for (const PersonMatch& m : s.matches)
    matches.push_back({{"person_id", m.seen_id},
                       {"truth", m.truth ? nlohmann::json(truth.people[*m.truth].id) : nullptr},
                       {"fragment", m.fragment},
                       {"overlap_s", m.overlap_s}});
  j["matches"] = matches;
  j["fps"] = s.fps > 0.0 ? nlohmann::json(s.fps) : nullptr;
  return j;
}

}  // namespace maskdetect::eval
