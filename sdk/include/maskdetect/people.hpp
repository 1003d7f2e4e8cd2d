// maskdetect/people.hpp - what a person is: tracks become counted people, with a state over time and events.
//
//   maskdetect::People people(config.people);            // PeopleConfig: evidence, zones, states, alerts
//   for (each frame at t seconds) {
//     tracker.update(faces, t, bgr);                     // or: faces = tracker.predict() between detections
//     people.update(tracker, faces, t, bgr.size(), bgr);  // or: people.update_predicted(tracker, faces, t)
//     for (const maskdetect::PersonEvent& e : people.events()) ...   // counted, state_changed, alert, ended
//   }
//   people.finish(t);                                    // the end of the stream: everyone still seen ends
//   maskdetect::PeopleSummary s = people.summary();      // people by the label they held longest, removals
//
// The facade does it all for video (Detector::track in detector.hpp; Detector::people() gives this object).
//
// Rules (docs/tracking.md "People"; every parameter is in PeopleConfig, config key `people:`):
//  - Evidence. A track of the Tracker becomes a counted person (and gets the next person id, 1, 2, 3...) when
//    the Tracker has confirmed it and, counting only faces outside the ignore zones: the median face_score of its
//    matched faces is at least `threshold`, its faces at or above `min_score` span at least `confirm_s` seconds,
//    the median face size is at least `min_face_px`, and (while the stationary rule is on) it has moved. It is
//    counted at a face at or above `min_score`: weak faces continue a person, never confirm one. A track that
//    never counts raises no event, and its faces never count (Face::counted false, no track_id).
//  - Stationary. A face that has not moved (stationary_tolerance x its size) for `stationary_s` seconds is
//    flagged stationary: a poster, a painting, a screen. Never counted unless count_stationary.
//  - State. Each person has a current state: the label that leads the exponentially smoothed class
//    probabilities (time constant state_smoothing_s) once it has led for state_hold_s (hysteresis); it starts
//    as the label leading when the person is counted. The whole-visit vote (the Tracker's) is kept beside it.
//  - Alerts. When a person's state is one of alerts.labels and has held alerts.min_seen_s seconds (counted from
//    when the label began to lead), an alert is raised, once per such period, and no sooner than
//    alerts.cooldown_s after the previous alert of the same person, label and kind. An alert whose previous
//    state was `mask` is a mask removal (PersonEvent::mask_removed): a kind of its own, so that a person alerted
//    as no_mask on arrival who then wears a mask and takes it off raises the removal too.
//  - End. When the Tracker ends a counted person's track (or at finish()), `ended` carries the label held
//    longest over the visit, the vote, the seconds per state and the state timeline, and the mask removals.
//
// Not thread-safe; one per video source, fed by one Tracker.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/tracker.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

/// What happened to a person.
enum class PersonEventKind : std::uint8_t {
  counted,        ///< the evidence became enough: a new person (its first event; carries the initial state)
  state_changed,  ///< the state changed (previous_state -> state)
  alert,          ///< the state is an alert label and held alerts.min_seen_s (mask_removed: it was `mask`)
  ended,          ///< the person is gone (track ended, or finish()); carries the visit's figures
};

/// "counted", "state_changed", "alert", "ended".
[[nodiscard]] std::string_view to_string(PersonEventKind kind) noexcept;

/// One span of a person's state timeline, in seconds.
struct StateSpan {
  double start = 0.0;
  double end = 0.0;
  MaskLabel state = MaskLabel::no_mask;
};

/// A person as the people component sees it: identity, evidence and state. Every event carries one.
struct Person {
  std::int64_t id = -1;     ///< person id: 1, 2, 3... in the order people were counted
  double first_seen = 0.0;  ///< time of the track's first matched face, seconds
  double last_seen = 0.0;   ///< time of its latest matched face, seconds
  [[nodiscard]] double seen_s() const noexcept { return last_seen - first_seen; }
  /// The face in the frame it refers to: the latest matched face (pixels of that frame, taken at `box_t`).
  cv::Rect2f box;
  double box_t = 0.0;
  cv::Size frame_size;             ///< size of that frame
  cv::Mat frame;                   ///< that frame, when the People keep frames (keep_frames); else empty
  float median_face_score = 0.0f;  ///< over its matched faces outside ignore zones
  float face_px = 0.0f;            ///< median face size: the longer side of the box, pixels
  bool stationary = false;         ///< not moved for stationary_s (see PeopleConfig)
  cv::Mat best_crop;               ///< the largest, sharpest face crop (Tracker's rule); may be empty
  double best_crop_t = 0.0;
  MaskLabel state = MaskLabel::no_mask;  ///< current state (hysteresis)
  double state_since = 0.0;              ///< when the current state's label began to lead, seconds
  MaskLabel vote = MaskLabel::no_mask;   ///< whole-visit vote (mean class probabilities of every face)
  float vote_confidence = 0.0f;
  /// Seconds seen in each state (indexed by MaskLabel): time between matched faces, attributed to the state.
  std::array<double, kNumLabels> seconds{};
  int mask_removals = 0;  ///< state changes from mask to no_mask or incorrect
  /// The label held longest so far (ties: the vote, then the current state).
  [[nodiscard]] MaskLabel longest() const noexcept;
};

/// One event. `person` is the person at the event (evidence, state, figures so far).
struct PersonEvent {
  PersonEventKind kind = PersonEventKind::counted;
  double t = 0.0;  ///< when it was raised: the time of the frame given to update(), or to finish()
  Person person;
  /// state_changed: the state before. alert: the state before the alerting one (nullopt when the person was
  /// counted in it). Else nullopt.
  std::optional<MaskLabel> previous_state;
  /// alert: the label alerted (= person.state). state_changed: the new state. counted: the initial state.
  /// ended: the label held longest over the visit.
  MaskLabel label = MaskLabel::no_mask;
  bool mask_removed = false;      ///< alert: the previous state was mask
  std::vector<StateSpan> states;  ///< ended: the state timeline of the visit (from first_seen)
};

/// Counts since construction or reset(): people by the label they held longest, and more.
struct PeopleSummary {
  std::int64_t total = 0;                          ///< counted people
  std::array<std::int64_t, kNumLabels> longest{};  ///< by the label held longest (live people: so far)
  std::array<std::int64_t, kNumLabels> vote{};     ///< by the whole-visit vote
  std::int64_t mask_removals = 0;                  ///< over all people
  std::array<std::int64_t, kNumLabels> alerts{};   ///< alerts raised, by label
  /// Tracks the Tracker confirmed that ended without counting, by the first rule they failed.
  std::int64_t rejected_stationary = 0;  ///< never moved (stationary rule)
  std::int64_t rejected_score = 0;       ///< median face_score under threshold
  std::int64_t rejected_size = 0;        ///< median face size under min_face_px
  std::int64_t rejected_short = 0;       ///< evidence spanned less than confirm_s (or none: ignore zones)
  /// masked people / people (by the label held longest); negative when no one was counted.
  [[nodiscard]] double compliance() const noexcept;
};

/// The median face score a track needs to count (PeopleConfig::threshold "auto") with faces of this detector
/// back end. Detectors score faces on different scales: YuNet scores real faces of 24..200 px at 0.8..1.0 and the
/// false people of the shared clips (blurred heads, hands, jackets) under 0.7, so 0.75; BlazeFace back scores
/// real faces of 30..60 px at 0.3..0.9 and found no false person there, so 0.3 (docs/tracking.md, "Choosing the
/// defaults"); the project's mask detector 0.2.0: 0.45 (0.4 counts 24 people for the airport clip's 14..22, 0.5
/// loses one of the webcam clip's two; docs/results.md, "Which detector without YuNet"). BlazeFace front, not
/// measured: its preset's face threshold, 0.5.
[[nodiscard]] float person_threshold(DetectorBackend backend) noexcept;

/// config.people with an "auto" threshold replaced by person_threshold(config.detector.backend): what the
/// Detector's People use.
[[nodiscard]] PeopleConfig people_config(const Config& config);

/// Turns a Tracker's tracks into people and person events. Not thread-safe.
class People {
 public:
  /// Throws Error(invalid_config) naming the key for a bad value (validate() in config.hpp checks the same).
  /// An "auto" threshold (empty) is 0.5 here: people_config() resolves it for a detector back end.
  /// `keep_frames`: each Person keeps (shares, without copying) the frame its box is in, for snapshots; the
  /// caller must then never write into a frame it passed to update() (pass a copy).
  explicit People(const PeopleConfig& config = {}, bool keep_frames = false);
  ~People();
  People(const People&);
  People(People&&) noexcept;
  People& operator=(const People&);
  People& operator=(People&&) noexcept;

  /// A frame with detections, right after tracker.update(faces, t, ...) with the same `faces` (the Tracker's
  /// matched_face indices refer to them). Sets each face's `counted`, `person_state` and `track_id` (the person
  /// id for a face of a counted person, -1 for any other face). `frame` (optional) is kept with keep_frames.
  void update(const Tracker& tracker, std::vector<Face>& faces, double t, cv::Size frame_size,
              const cv::Mat& frame = {});
  /// A frame without detections, right after `faces = tracker.predict()`: faces of counted people get their
  /// person id (track_id), counted and person_state; the others get track_id -1. People whose track ended
  /// are ended.
  void update_predicted(const Tracker& tracker, std::vector<Face>& faces, double t);
  /// Ends every person still live (end of the stream, a camera outage): `ended` events at time t. The tracks
  /// the Tracker still holds are forgotten: give the next update() a fresh (or reset) Tracker.
  void finish(double t);

  /// Events raised by the latest update(), update_predicted() or finish(), in order.
  [[nodiscard]] const std::vector<PersonEvent>& events() const noexcept { return events_; }
  /// Counted people still live, by id.
  [[nodiscard]] std::vector<Person> people() const;
  /// Totals so far (live people included, by their figures so far).
  [[nodiscard]] PeopleSummary summary() const;
  /// Forgets everything: people, totals; person ids start again at 1.
  void reset();

  [[nodiscard]] const PeopleConfig& config() const noexcept { return config_; }

  /// True when the normalised point lies inside one of `zones` (or on its border).
  [[nodiscard]] static bool in_zones(const std::vector<Zone>& zones, cv::Point2f normalised);

 private:
  struct Candidate;
  void observe(Candidate& c, const Track& track, const Face& face, double t, cv::Size frame_size, const cv::Mat& frame);
  void decide(Candidate& c, const Track& track, double t);
  void end(Candidate& c, double t);
  void reject(const Candidate& c);
  void emit(PersonEventKind kind, const Candidate& c, double t);
  void sync_track(Candidate& c, const Track& track);

  PeopleConfig config_;
  float threshold_ = 0.5f;  // config_.threshold, or 0.5 when "auto"
  bool keep_frames_ = false;
  std::vector<Candidate> candidates_;  // one per live track of the Tracker, by Track::key
  std::vector<PersonEvent> events_;
  PeopleSummary ended_totals_;  // people that ended
  std::int64_t next_id_ = 1;
};

}  // namespace maskdetect
