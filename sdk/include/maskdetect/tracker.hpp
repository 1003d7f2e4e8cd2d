// maskdetect/tracker.hpp - a multi-object face tracker: faces of successive video frames become people.
//
//   maskdetect::Tracker tracker;                        // TrackerOptions{} defaults suit 10..30 fps video
//   for (each frame at t seconds) {
//     maskdetect::FrameResult r = detector.detect(bgr);
//     tracker.update(r.faces, t, bgr);                  // sets Face::track_id of faces that are people
//   }
//   for (const maskdetect::Track& person : tracker.people()) ... person.id, person.label, person.best_crop
//
// Association is ByteTrack-style (Zhang et al., 2022): every track's box is first moved by a constant-velocity
// Kalman filter; faces with face_score >= high_score are matched to all tracks by IoU, then faces with a lower
// score (>= low_score) to the tracks seen in the previous update that are still unmatched; an unmatched
// high-score face starts a tentative track. A track becomes a person (confirmed, gets its track id) after
// `min_hits` consecutive matched updates, and ends after `max_lost_frames` frames without a match. There is
// no re-identification by appearance: a face that is away longer than `max_lost_frames` (left the picture,
// hidden) comes back as a new person (docs/tracking.md).
//
// The facade does it all for video (Detector::track in detector.hpp), including detecting only every N-th frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect {

/// How faces are assigned to tracks within one association step.
enum class TrackMatching : std::uint8_t {
  hungarian,  ///< optimal assignment on 1 - IoU (Kuhn-Munkres); the default
  greedy,     ///< highest IoU pair first; cheaper, slightly more identity switches (docs/tracking.md)
};

/// Tracker parameters. Defaults are those measured in docs/tracking.md.
struct TrackerOptions {
  float high_score = 0.5f;     ///< faces at or above this face_score: first association, may start tracks
  float low_score = 0.2f;      ///< faces below are ignored; [low, high): second association only
  float match_iou = 0.2f;      ///< first association: least IoU between a predicted track box and a face
  float low_match_iou = 0.4f;  ///< second association (low-score faces): least IoU
  int min_hits = 3;            ///< consecutive matched updates before a track is a person (>= 1)
  int max_lost_frames = 30;    ///< frames (update or predict calls) without a match before a track ends (>= 1)
  TrackMatching matching = TrackMatching::hungarian;
  bool keep_best_crop = true;  ///< keep the best face crop of each track (update() with a frame only)
  int crop_size = 112;         ///< side of the kept crop in pixels (square, make_face_crop rule, margin 0.15)
};

/// One tracked face: a person once confirmed.
struct Track {
  std::int64_t id = -1;  ///< person number, 1, 2, 3... in order of confirmation; -1 while tentative
  /// Unique per Tracker from the track's creation on, tentative tracks included (1, 2, 3...; never reused, not
  /// even after reset()): what follows a track before it has an id (people.hpp).
  std::int64_t key = 0;
  /// Index, in the faces given to the latest update(), of the face matched to this track; -1 when it was not
  /// matched there (and after predict()).
  int matched_face = -1;
  bool confirmed = false;        ///< min_hits reached (only confirmed tracks are people)
  bool active = true;            ///< false once the track has ended (lost for more than max_lost_frames)
  cv::Rect2f box;                ///< the latest box: the matched face, or the Kalman prediction when unmatched
  cv::Point2f velocity;          ///< centre velocity in pixels per frame (Kalman state)
  double first_seen = 0.0;       ///< time of the first matched face, seconds (as given to update())
  double last_seen = 0.0;        ///< time of the latest matched face, seconds
  std::int64_t frames_seen = 0;  ///< updates in which a face was matched to the track
  int lost_frames = 0;           ///< frames since the latest match
  /// The label vote: the mean of the class probabilities of every classified face of the track (not the last
  /// frame's label). `label` is its most probable class, `confidence` that class's mean probability.
  LabelProbs mean_probs{};
  std::int64_t votes = 0;  ///< classified faces in the vote
  MaskLabel label = MaskLabel::no_mask;
  float confidence = 0.0f;
  float face_score = 0.0f;  ///< face_score of the latest matched face
  /// The best face seen, for events: the crop (BGR, crop_size square) with the highest quality
  /// = min(w, h) of the box in pixels x sqrt(variance of the Laplacian of the crop), i.e. large and sharp.
  cv::Mat best_crop;
  float best_crop_quality = 0.0f;
  double best_crop_time = 0.0;  ///< when the best crop was seen, seconds
};

/// Counts of people (confirmed tracks) by their voted label.
struct PeopleCount {
  std::int64_t total = 0;
  std::array<std::int64_t, kNumLabels> per_label{};  ///< indexed by MaskLabel
  /// masked people / people; negative when no one was seen.
  [[nodiscard]] double compliance() const noexcept {
    return total == 0
               ? -1.0
               : static_cast<double>(per_label[static_cast<std::size_t>(MaskLabel::mask)]) / static_cast<double>(total);
  }
};

/// Multi-object face tracker. Not thread-safe; one per video source.
class Tracker {
 public:
  /// Throws Error(invalid_config) naming the option for a value out of range.
  explicit Tracker(const TrackerOptions& options = {});

  /// One frame with detections: predicts every track one frame ahead, associates `faces` (any order) and sets
  /// their track_id (the person number, or -1 for faces not (yet) of a confirmed track). Faces whose probs are
  /// all zero (not classified) do not vote. `t` is the frame time in seconds; `bgr` (optional, the frame the
  /// faces were found in) feeds the best crop. Faces below low_score are left untouched (track_id -1).
  void update(std::vector<Face>& faces, double t, const cv::Mat& bgr = {});

  /// One frame without detections: moves every track by its Kalman prediction, counts a lost frame for each.
  /// Returns the predicted faces of the confirmed tracks that were matched in the latest update (box = the
  /// prediction, label/score/probs = the track's vote, face_score = the latest matched one, track_id set).
  [[nodiscard]] std::vector<Face> predict();

  /// Corrects a confirmed track's predicted box with a measurement that is not a detection (e.g. template matching
  /// between detections): a Kalman update without counting a hit or a vote. Unknown ids are ignored.
  /// Returns the corrected box, or an empty one for an unknown id.
  cv::Rect2f correct(std::int64_t track_id, const cv::Rect2f& box);

  /// Live tracks (tentative and confirmed), in creation order.
  [[nodiscard]] const std::vector<Track>& tracks() const noexcept;
  /// Every person seen so far (confirmed tracks, live and ended), in id order.
  [[nodiscard]] std::vector<Track> people() const;
  /// people() counted by voted label.
  [[nodiscard]] PeopleCount count() const;
  /// Forgets every track; ids start again at 1.
  void reset();

  [[nodiscard]] const TrackerOptions& options() const noexcept { return options_; }

 private:
  /// Removes track i (and its filter and streak); a confirmed one moves to the ended people.
  void end_track(std::size_t i);

  TrackerOptions options_;
  std::vector<Track> tracks_;
  std::vector<Track> ended_;  // confirmed tracks that ended
  struct Filter {
    cv::Matx<float, 8, 1> mean;
    cv::Matx<float, 8, 8> cov;
  };
  std::vector<Filter> filters_;           // parallel to tracks_
  std::vector<std::int64_t> hit_streak_;  // parallel to tracks_: consecutive matched updates
  std::int64_t next_id_ = 1;
  std::int64_t next_key_ = 1;
};

/// Assignment that maximises the total of `score[i][j]` over pairs with score >= `min_score` (rows: tracks,
/// columns: faces). Returns, for each row, the matched column or -1. Exposed for tests and the benchmark.
[[nodiscard]] std::vector<int> match_rows(const std::vector<std::vector<float>>& score, float min_score,
                                          TrackMatching matching);

/// Intersection over union of two boxes (0 when either is empty).
[[nodiscard]] float iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept;

}  // namespace maskdetect
