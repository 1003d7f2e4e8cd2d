// The people component (people.hpp) on synthetic tracks: evidence before a person counts (in seconds, at any fps
// and detect_every), weak faces never confirm, stationary faces, ignore zones, state hysteresis, alerts with
// min_seen_s, mask removals, cooldown per person and label, the label held longest and `ended` events.
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>

#include "maskdetect/maskdetect.hpp"

using namespace maskdetect;

namespace {

LabelProbs probs_of(MaskLabel label, float p = 0.9f) {
  LabelProbs probs{};
  probs.fill((1.0f - p) / 2.0f);
  probs[static_cast<std::size_t>(label)] = p;
  return probs;
}

Face make_face(cv::Rect2f box, float score, MaskLabel label) {
  Face f;
  f.box = box;
  f.face_score = score;
  f.probs = probs_of(label);
  f.label = label;
  f.score = 0.9f;
  return f;
}

/// What one simulated face looks like at time t; nullopt: not in the picture.
using Script = std::function<std::optional<Face>(double t)>;

/// A Tracker and People fed frame by frame like Detector::track does (detect_every: predicted frames between).
struct Sim {
  explicit Sim(const PeopleConfig& config, double fps_ = 25.0, int every_ = 1)
      : people(config), fps(fps_), every(every_) {}
  Tracker tracker;
  People people;
  double fps;
  int every;
  std::int64_t frame = 0;
  std::vector<PersonEvent> events;
  std::vector<std::vector<Face>> outputs;

  double now() const { return static_cast<double>(frame) / fps; }

  void step(const std::vector<Script>& scripts) {
    const double t = now();
    std::vector<Face> faces;
    if (frame % every == 0) {
      for (const Script& s : scripts) {
        if (auto f = s(t)) faces.push_back(*f);
      }
      tracker.update(faces, t);
      people.update(tracker, faces, t, {640, 480});
    } else {
      faces = tracker.predict();
      people.update_predicted(tracker, faces, t);
    }
    events.insert(events.end(), people.events().begin(), people.events().end());
    outputs.push_back(faces);
    ++frame;
  }
  void run_until(double seconds, const std::vector<Script>& scripts) {
    while (now() < seconds - 1e-9) step(scripts);
  }
  void finish() {
    people.finish(now());
    events.insert(events.end(), people.events().begin(), people.events().end());
  }
  [[nodiscard]] std::vector<PersonEvent> of(PersonEventKind kind) const {
    std::vector<PersonEvent> out;
    for (const PersonEvent& e : events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
};

/// A face walking right at `speed` px/s from x0, `side` px, with score and label (optionally by time).
Script walker(float x0, float y, float side, float speed, std::function<float(double)> score,
              std::function<MaskLabel(double)> label, double from = 0.0, double to = 1e9) {
  return [=](double t) -> std::optional<Face> {
    if (t < from || t >= to) return std::nullopt;
    const float x = x0 + speed * static_cast<float>(t - from);
    return make_face({x, y, side, side}, score(t), label(t));
  };
}

std::function<float(double)> constant(float v) {
  return [v](double) { return v; };
}
std::function<MaskLabel(double)> always(MaskLabel l) {
  return [l](double) { return l; };
}

/// Rules only evidence (counted after 0.5 s): no hysteresis, no smoothing, alerts at once.
PeopleConfig plain() {
  PeopleConfig c;
  c.confirm_s = 0.5;
  c.state_hold_s = 0.0;
  c.state_smoothing_s = 0.0;
  c.alerts.min_seen_s = 0.0;
  c.alerts.cooldown_s = 0.0;
  return c;
}

}  // namespace

TEST_CASE("people: a track counts after confirm_s seconds of evidence at any fps and detect_every", "[people]") {
  const double fps = GENERATE(10.0, 25.0, 30.0);
  const int every = GENERATE(1, 3);
  INFO("fps " << fps << ", detect every " << every);
  PeopleConfig config;
  config.confirm_s = 0.8;
  Sim sim(config, fps, every);
  const Script person = walker(50, 100, 80, 60, constant(0.9f), always(MaskLabel::mask));
  sim.run_until(3.0, {person});
  const auto counted = sim.of(PersonEventKind::counted);
  REQUIRE(counted.size() == 1);
  const PersonEvent& e = counted[0];
  CHECK(e.person.id == 1);
  CHECK(e.t - e.person.first_seen >= 0.8 - 1e-9);
  CHECK(e.t - e.person.first_seen <= 0.8 + 2.0 * every / fps + 1e-9);  // the next detection or the one after
  CHECK(e.label == MaskLabel::mask);
  CHECK(e.person.median_face_score == Approx(0.9f));
  CHECK(e.person.face_px == Approx(80.0f));
  CHECK(e.person.frame_size == cv::Size(640, 480));
  CHECK(e.person.box.width == Approx(80.0f));
  // Faces before the count are not counted; faces after are, with the person id and state.
  bool seen_uncounted = false;
  bool seen_counted = false;
  for (std::size_t f = 0; f < sim.outputs.size(); ++f) {
    for (const Face& face : sim.outputs[f]) {
      const double t = static_cast<double>(f) / fps;
      if (t < e.t - 1e-9) {
        CHECK_FALSE(face.counted);
        CHECK(face.track_id == -1);
        seen_uncounted = true;
      } else {
        CHECK(face.counted);
        CHECK(face.track_id == 1);
        CHECK(face.person_state == MaskLabel::mask);
        seen_counted = true;
      }
    }
  }
  CHECK(seen_uncounted);
  CHECK(seen_counted);
  CHECK(sim.people.summary().total == 1);
}

TEST_CASE("people: the median face score decides and weak faces never confirm a person", "[people]") {
  SECTION("a track started by one face at 0.506 and continued by weak faces is never a person") {
    Sim sim(PeopleConfig{});
    // The track: 0.506 once, then 0.28, 0.27, 0.24 ... (the tracker's low score is 0.2).
    const Script weak = walker(
        50, 100, 80, 60, [](double t) { return t < 0.02 ? 0.506f : 0.27f; }, always(MaskLabel::no_mask));
    sim.run_until(4.0, {weak});
    sim.finish();
    CHECK(sim.of(PersonEventKind::counted).empty());
    CHECK(sim.of(PersonEventKind::alert).empty());
    CHECK(sim.people.summary().total == 0);
    CHECK(sim.people.summary().rejected_score == 1);
  }
  SECTION("with no median rule, weak faces still never confirm: only a strong face does") {
    PeopleConfig config;
    config.threshold = 0.0f;
    Sim sim(config);
    // Strong at first (0.0 to 0.2 s), then weak until 2 s, then strong again.
    const Script face = walker(
        50, 100, 80, 60, [](double t) { return t < 0.2 || t >= 2.0 ? 0.9f : 0.3f; }, always(MaskLabel::mask));
    sim.run_until(1.96, {face});
    CHECK(sim.of(PersonEventKind::counted).empty());  // 1.9 s seen, but only weak faces since 0.2 s
    sim.run_until(3.0, {face});
    const auto counted = sim.of(PersonEventKind::counted);
    REQUIRE(counted.size() == 1);
    CHECK(counted[0].t == Approx(2.0));  // the first strong face after confirm_s
  }
  SECTION("a face under min_face_px is never a person") {
    PeopleConfig config;
    config.min_face_px = 30.0f;
    Sim sim(config);
    sim.run_until(3.0, {walker(50, 100, 24, 60, constant(0.9f), always(MaskLabel::no_mask))});
    sim.finish();
    CHECK(sim.of(PersonEventKind::counted).empty());
    CHECK(sim.people.summary().rejected_size == 1);
  }
}

TEST_CASE("people: a face that never moves is stationary and not counted", "[people]") {
  SECTION("a still face with detector jitter") {
    PeopleConfig config;
    Sim sim(config);
    cv::RNG rng(7);
    const Script poster = [&rng](double) -> std::optional<Face> {
      return make_face(
          {400.0f + static_cast<float>(rng.gaussian(1.0)), 50.0f + static_cast<float>(rng.gaussian(1.0)), 90.0f, 90.0f},
          0.95f, MaskLabel::no_mask);
    };
    const Script person = walker(50, 250, 80, 60, constant(0.9f), always(MaskLabel::mask));
    sim.run_until(8.0, {poster, person});
    sim.finish();
    CHECK(sim.of(PersonEventKind::counted).size() == 1);  // the person, not the poster
    CHECK(sim.of(PersonEventKind::alert).empty());        // the poster is no_mask: no alert either
    CHECK(sim.people.summary().rejected_stationary == 1);
    for (const auto& faces : sim.outputs) {
      for (const Face& face : faces) {
        if (face.box.y < 150.0f) CHECK_FALSE(face.counted);  // the poster
      }
    }
  }
  SECTION("count_stationary counts it, flagged stationary after stationary_s") {
    PeopleConfig config;
    config.count_stationary = true;
    config.stationary_s = 3.0;
    Sim sim(config);
    const Script poster = walker(400, 50, 90, 0, constant(0.95f), always(MaskLabel::mask));
    sim.run_until(2.0, {poster});
    REQUIRE(sim.of(PersonEventKind::counted).size() == 1);
    CHECK_FALSE(sim.people.people().at(0).stationary);
    sim.run_until(3.5, {poster});
    CHECK(sim.people.people().at(0).stationary);
  }
  SECTION("the rule off (stationary_s 0) counts a still face") {
    PeopleConfig config;
    config.stationary_s = 0.0;
    Sim sim(config);
    sim.run_until(2.0, {walker(400, 50, 90, 0, constant(0.95f), always(MaskLabel::mask))});
    CHECK(sim.of(PersonEventKind::counted).size() == 1);
  }
  SECTION("a person who stands still for a while, then moves, counts once moved") {
    Sim sim(PeopleConfig{});
    const Script person = [](double t) -> std::optional<Face> {
      const float x = t < 2.0 ? 100.0f : 100.0f + 50.0f * static_cast<float>(t - 2.0);
      return make_face({x, 100, 80, 80}, 0.9f, MaskLabel::mask);
    };
    sim.run_until(4.0, {person});
    const auto counted = sim.of(PersonEventKind::counted);
    REQUIRE(counted.size() == 1);
    CHECK(counted[0].t > 2.0);
    CHECK(counted[0].t < 2.6);
  }
}

TEST_CASE("people: faces in an ignore zone never start a person", "[people]") {
  PeopleConfig config;
  config.ignore_zones = {parse_zone("0.5,0, 1,0, 1,0.5, 0.5,0.5")};  // the top right quarter of 640x480
  SECTION("a face that stays in the zone") {
    Sim sim(config);
    sim.run_until(5.0, {walker(400, 40, 80, 20, constant(0.95f), always(MaskLabel::no_mask))});
    sim.finish();
    CHECK(sim.of(PersonEventKind::counted).empty());
    CHECK(sim.of(PersonEventKind::alert).empty());
  }
  SECTION("a person counted outside walks through the zone and stays counted") {
    Sim sim(config);
    // Starts at x 100, reaches the zone (centre x >= 320) at about 2.6 s.
    sim.run_until(6.0, {walker(100, 60, 80, 70, constant(0.95f), always(MaskLabel::mask))});
    REQUIRE(sim.of(PersonEventKind::counted).size() == 1);
    CHECK(sim.of(PersonEventKind::counted)[0].t < 2.0);
    const auto& last = sim.outputs.back();
    REQUIRE(last.size() == 1);
    CHECK(last[0].box.x + 40 > 320);  // in the zone now
    CHECK(last[0].counted);
  }
  SECTION("a face born in the zone counts once it has confirm_s of evidence outside") {
    Sim sim(config);
    // Walks left out of the zone: centre x < 320 after about 1.2 s.
    sim.run_until(4.0, {walker(400, 60, 80, -70, constant(0.95f), always(MaskLabel::mask))});
    const auto counted = sim.of(PersonEventKind::counted);
    REQUIRE(counted.size() == 1);
    CHECK(counted[0].t >= 1.2 + config.confirm_s - 0.05);
  }
  SECTION("People::in_zones") {
    CHECK(People::in_zones(config.ignore_zones, {0.75f, 0.25f}));
    CHECK(People::in_zones(config.ignore_zones, {0.5f, 0.25f}));  // on the border
    CHECK_FALSE(People::in_zones(config.ignore_zones, {0.25f, 0.25f}));
    CHECK_FALSE(People::in_zones({}, {0.75f, 0.25f}));
  }
}

TEST_CASE("people: the state changes only when a label has led state_hold_s", "[people]") {
  SECTION("label noise (every 5th face no_mask) never changes a masked person's state") {
    Sim sim(PeopleConfig{});
    int n = 0;
    const Script person = [&n](double t) -> std::optional<Face> {
      const bool flip = n++ % 5 == 4;
      return make_face({50 + 60 * static_cast<float>(t), 100, 80, 80}, 0.9f,
                       flip ? MaskLabel::no_mask : MaskLabel::mask);
    };
    sim.run_until(6.0, {person});
    CHECK(sim.of(PersonEventKind::counted).size() == 1);
    CHECK(sim.of(PersonEventKind::state_changed).empty());
    CHECK(sim.of(PersonEventKind::alert).empty());
  }
  SECTION("a real change becomes the state state_hold_s after the new label leads") {
    PeopleConfig config;
    config.state_hold_s = 0.6;
    config.state_smoothing_s = 0.0;
    Sim sim(config);
    const Script person = walker(50, 100, 80, 40, constant(0.9f),
                                 [](double t) { return t < 2.0 ? MaskLabel::mask : MaskLabel::no_mask; });
    sim.run_until(4.0, {person});
    const auto changes = sim.of(PersonEventKind::state_changed);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].previous_state == MaskLabel::mask);
    CHECK(changes[0].label == MaskLabel::no_mask);
    CHECK(changes[0].t == Approx(2.6).margin(0.041));
    CHECK(changes[0].person.state_since == Approx(2.0).margin(0.041));
  }
  SECTION("a change shorter than state_hold_s is no change") {
    PeopleConfig config;
    config.state_hold_s = 0.6;
    Sim sim(config);
    const Script person = walker(50, 100, 80, 40, constant(0.9f),
                                 [](double t) { return t >= 2.0 && t < 2.4 ? MaskLabel::no_mask : MaskLabel::mask; });
    sim.run_until(4.0, {person});
    CHECK(sim.of(PersonEventKind::state_changed).empty());
  }
}

TEST_CASE("people: alerts after min_seen_s and mask removals with a cooldown per person and label", "[people]") {
  SECTION("a no_mask person: one alert once the state has held min_seen_s") {
    PeopleConfig config = plain();
    config.alerts.min_seen_s = 1.5;
    Sim sim(config);
    sim.run_until(5.0, {walker(50, 100, 80, 40, constant(0.9f), always(MaskLabel::no_mask))});
    const auto alerts = sim.of(PersonEventKind::alert);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].label == MaskLabel::no_mask);
    CHECK_FALSE(alerts[0].previous_state);
    CHECK_FALSE(alerts[0].mask_removed);
    CHECK(alerts[0].t == Approx(1.5).margin(0.041));  // from first_seen: the state was no_mask from the start
  }
  SECTION("a removal shorter than min_seen_s raises no alert; a longer one raises one, marked mask_removed") {
    PeopleConfig config = plain();
    config.alerts.min_seen_s = 1.0;
    Sim sim(config);
    const Script person = walker(50, 100, 80, 30, constant(0.9f), [](double t) {
      if (t >= 2.0 && t < 2.6) return MaskLabel::no_mask;  // 0.6 s
      if (t >= 4.0 && t < 5.5) return MaskLabel::no_mask;  // 1.5 s
      return MaskLabel::mask;
    });
    sim.run_until(7.0, {person});
    const auto alerts = sim.of(PersonEventKind::alert);
    REQUIRE(alerts.size() == 1);
    CHECK(alerts[0].t == Approx(5.0).margin(0.041));
    CHECK(alerts[0].mask_removed);
    CHECK(alerts[0].previous_state == MaskLabel::mask);
    CHECK(alerts[0].label == MaskLabel::no_mask);
    CHECK(sim.people.summary().mask_removals == 2);  // both were state changes from mask
    CHECK(sim.people.summary().alerts[static_cast<std::size_t>(MaskLabel::no_mask)] == 1);
  }
  SECTION("cooldown per person and label") {
    PeopleConfig config = plain();
    config.alerts.cooldown_s = 10.0;
    Sim sim(config);
    auto off_twice = [](double start) {
      return [start](double t) {
        const double s = t - start;
        return (s >= 1.0 && s < 2.0) || (s >= 3.0 && s < 4.0) ? MaskLabel::no_mask : MaskLabel::mask;
      };
    };
    // Two people remove their masks at the same times: one alert each (per person), the second removal of each
    // within the cooldown raises none.
    sim.run_until(6.0, {walker(50, 60, 80, 30, constant(0.9f), off_twice(0.0)),
                        walker(50, 300, 80, 30, constant(0.9f), off_twice(0.0))});
    const auto alerts = sim.of(PersonEventKind::alert);
    REQUIRE(alerts.size() == 2);
    CHECK(alerts[0].person.id != alerts[1].person.id);
    CHECK(alerts[0].t == Approx(1.0).margin(0.041));
    CHECK(sim.people.summary().mask_removals == 4);

    // Without the cooldown, every removal raises its alert.
    PeopleConfig no_cooldown = plain();
    Sim again(no_cooldown);
    again.run_until(6.0, {walker(50, 60, 80, 30, constant(0.9f), off_twice(0.0))});
    CHECK(again.of(PersonEventKind::alert).size() == 2);
  }
  SECTION("a mask removal is not held back by the person's no_mask alert on arrival") {
    PeopleConfig config = plain();
    config.alerts.cooldown_s = 30.0;
    Sim sim(config);
    sim.run_until(7.0, {walker(50, 60, 80, 30, constant(0.9f),
                               [](double t) { return t >= 2.0 && t < 4.0 ? MaskLabel::mask : MaskLabel::no_mask; })});
    const auto alerts = sim.of(PersonEventKind::alert);
    REQUIRE(alerts.size() == 2);
    CHECK_FALSE(alerts[0].mask_removed);
    CHECK(alerts[1].mask_removed);
    CHECK(alerts[1].t == Approx(4.0).margin(0.041));
  }
  SECTION("alert labels: incorrect is not alerted when only no_mask is") {
    PeopleConfig config = plain();
    config.alerts.labels = {false, true, false};  // no_mask only
    Sim sim(config);
    sim.run_until(3.0, {walker(50, 60, 80, 30, constant(0.9f), always(MaskLabel::incorrect))});
    CHECK(sim.of(PersonEventKind::alert).empty());
  }
}

TEST_CASE("people: ended events carry the label held longest and the vote and the seconds and the timeline",
          "[people]") {
  PeopleConfig config = plain();
  Sim sim(config);
  // Masked 0-3 s, no_mask 3-4.5 s, then gone (the tracker ends the track after max_lost_frames).
  const Script person = walker(
      50, 100, 80, 30, constant(0.9f), [](double t) { return t < 3.0 ? MaskLabel::mask : MaskLabel::no_mask; }, 0.0,
      4.5);
  const Script other = walker(50, 300, 80, 30, constant(0.9f), always(MaskLabel::no_mask), 0.0, 20.0);
  sim.run_until(7.0, {person, other});
  const auto ended = sim.of(PersonEventKind::ended);
  REQUIRE(ended.size() == 1);
  const PersonEvent& e = ended[0];
  CHECK(e.person.id == 1);
  CHECK(e.label == MaskLabel::mask);  // held 3 s against 1.5 s
  CHECK(e.person.longest() == MaskLabel::mask);
  CHECK(e.person.state == MaskLabel::no_mask);  // its state when it left
  CHECK(e.person.seconds[0] == Approx(3.0).margin(0.1));
  CHECK(e.person.seconds[1] == Approx(1.46).margin(0.1));
  CHECK(e.person.mask_removals == 1);
  CHECK(e.person.last_seen == Approx(4.48).margin(0.01));
  CHECK(e.t > e.person.last_seen);  // raised when the track ended
  CHECK(e.person.box_t == Approx(e.person.last_seen));
  REQUIRE(e.states.size() == 2);
  CHECK(e.states[0].state == MaskLabel::mask);
  CHECK(e.states[1].state == MaskLabel::no_mask);
  CHECK(e.states[1].start == Approx(3.0).margin(0.041));
  CHECK(e.states[1].end == Approx(4.48).margin(0.01));

  // finish(): the person still in view ends too; the summary counts both by the label each held longest.
  sim.finish();
  REQUIRE(sim.of(PersonEventKind::ended).size() == 2);
  const PeopleSummary s = sim.people.summary();
  CHECK(s.total == 2);
  CHECK(s.longest[0] == 1);
  CHECK(s.longest[1] == 1);
  CHECK(s.compliance() == Approx(0.5));
  CHECK(sim.people.people().empty());
}

TEST_CASE("people: options are checked and zones parsed with clear errors", "[people][config]") {
  PeopleConfig bad;
  bad.threshold = 1.5f;
  CHECK_THROWS_WITH(People(bad), Catch::Contains("people.threshold"));
  bad = {};
  bad.ignore_zones = {{{0.1f, 0.1f}, {0.2f, 0.2f}}};
  CHECK_THROWS_WITH(People(bad), Catch::Contains("at least 3"));
  CHECK_THROWS_WITH(parse_zone("0.1,0.2,0.3"), Catch::Contains("'0.1,0.2,0.3'") && Catch::Contains("even"));
  CHECK_THROWS_WITH(parse_zone("0.1,0.2,x,0.4,0.5,0.6"), Catch::Contains("'x' is not a number"));
  CHECK_THROWS_WITH(parse_zone("0.1,0.2,1.4,0.4,0.5,0.6"), Catch::Contains("1.4 is not in [0, 1]"));
  CHECK_THROWS_WITH(parse_zone("0.1,0.2,0.3,0.4"), Catch::Contains("needs at least 3"));
  CHECK_THROWS_WITH(parse_zone("0.1,,0.3,0.4,0.5,0.6"), Catch::Contains("empty"));
  const Zone zone = parse_zone(" 0.7,0, 1,0, 1,0.3, 0.7,0.3 ");
  REQUIRE(zone.size() == 4);
  CHECK(zone[2] == cv::Point2f(1.0f, 0.3f));
  CHECK(parse_zone(to_string(zone)) == zone);
}

TEST_CASE("people config: the people section with an auto threshold per detector and errors at file:line",
          "[people][config]") {
  Config c;
  c.detector.backend = DetectorBackend::yunet;
  CHECK_FALSE(c.people.threshold);  // auto
  CHECK(people_config(c).threshold == Approx(0.75f));
  c.detector.backend = DetectorBackend::blazeface_back;
  CHECK(people_config(c).threshold == Approx(0.3f));
  c.people.threshold = 0.6f;
  CHECK(people_config(c).threshold == Approx(0.6f));

  const Config parsed = parse_config(
      "people:\n  threshold: auto\n  confirm_s: 2\n  min_face_px: 40\n  count_stationary: true\n"
      "  ignore_zones:\n    - \"0.7,0, 1,0, 1,0.3\"\n    - [[0, 0.5], [0.2, 0.5], [0.2, 1]]\n"
      "  alerts:\n    labels: [incorrect]\n    min_seen_s: 2\n    cooldown_s: 60\n",
      "p.yaml");
  CHECK_FALSE(parsed.people.threshold);
  CHECK(parsed.people.confirm_s == 2.0);
  CHECK(parsed.people.min_face_px == 40.0f);
  CHECK(parsed.people.count_stationary);
  REQUIRE(parsed.people.ignore_zones.size() == 2);
  CHECK(parsed.people.ignore_zones[1][2] == cv::Point2f(0.2f, 1.0f));
  CHECK(parsed.people.alerts.labels == std::array<bool, kNumLabels>{false, false, true});
  CHECK(parsed.people.alerts.cooldown_s == 60.0);
  const Config back = parse_config(to_yaml(parsed), "round trip");
  CHECK(back.people.ignore_zones == parsed.people.ignore_zones);
  CHECK(back.people.alerts.labels == parsed.people.alerts.labels);
  CHECK_FALSE(back.people.threshold);
  CHECK(parse_config(to_yaml(c), "round trip").people.threshold == Approx(0.6f));

  CHECK_THROWS_WITH(parse_config("people:\n  threshold: high\n", "p.yaml"),
                    Catch::Contains("p.yaml:2: key 'people.threshold'"));
  CHECK_THROWS_WITH(parse_config("people:\n  threshold: 1.5\n", "p.yaml"),
                    Catch::Contains("p.yaml:2: key 'people.threshold': 1.5 is not in [0, 1]"));
  CHECK_THROWS_WITH(parse_config("people:\n  confirm_s: 1\n  colour: red\n", "p.yaml"),
                    Catch::Contains("p.yaml:3: key 'people.colour': unknown key"));
  CHECK_THROWS_WITH(parse_config("people:\n  alerts:\n    labels: [hat]\n", "p.yaml"),
                    Catch::Contains("p.yaml:3") && Catch::Contains("unknown label 'hat'"));
  CHECK_THROWS_WITH(parse_config("people:\n  ignore_zones:\n    - \"0.1,0.2,0.3\"\n", "p.yaml"),
                    Catch::Contains("p.yaml:3: key 'people.ignore_zones': ignore zone '0.1,0.2,0.3'"));
  CHECK_THROWS_WITH(parse_config("people:\n  stationary_s: -1\n", "p.yaml"),
                    Catch::Contains("p.yaml:2: key 'people.stationary_s'"));
}
