// maskdetect/detector.hpp - the facade: frame in, faces with mask decisions out.
#pragma once

#include <memory>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/mask_classifier.hpp"
#include "maskdetect/people.hpp"
#include "maskdetect/tracker.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

/// Video tracking through the facade (Detector::track).
struct TrackingOptions {
  TrackerOptions tracker;  ///< association and life cycle (tracker.hpp)
  /// Run the detector and the classifier on every N-th frame only (1: every frame). The frames between move
  /// the people's boxes by the Kalman prediction (and `refine`); their faces carry the track's voted label.
  int detect_every = 1;
  /// Between detections, correct each predicted box by template matching (normalised cross-correlation of
  /// the face as last detected, in a window around the prediction; faces overlapping another are skipped).
  /// Off by default: on the synthetic clip it costs MOTA and an identity switch at detect_every 3
  /// (docs/tracking.md); the Kalman prediction alone does better.
  bool refine = false;
  /// People (people.hpp) keep the frame of each person's latest face for their events' snapshots (shared, not
  /// copied): the caller must then pass frames it never writes into afterwards (e.g. a copy).
  bool keep_frames = false;
};
/// Sets the number of threads OpenCV uses for inference (cv::setNumThreads) for the WHOLE PROCESS:
/// every Detector, FaceDetector and MaskClassifier, and any other OpenCV code. `threads` 0 restores
/// OpenCV's default. Call it once, before building detectors; a Detector whose Config::threads > 0
/// calls it from its constructor. Throws Error(invalid_config) for a negative count.
void set_inference_threads(int threads);

/// Face detection followed by batched mask classification.
///
/// Construction: a value. `Detector detector(config);` loads the models; it can be moved (not copied),
/// stored in containers or in a std::optional. A moved-from Detector may only be assigned to or
/// destroyed: its other members throw Error(internal).
///
/// Thread safety: one Detector must not be used by two threads at once (its networks keep state
/// between calls). Create one Detector per worker thread; they share nothing, except that
/// Config::threads is process-wide (set_inference_threads()). Construction loads the models (tens of
/// milliseconds); detect() allocates little once the first frame has been seen.
class Detector {
 public:
  /// Validates `config` and loads both models; applies config.threads (process-wide) when > 0.
  /// Throws Error.
  explicit Detector(const Config& config);
  ~Detector();
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  /// Faces in a BGR frame (CV_8UC3), with boxes in its pixels. Throws Error(bad_input) for an empty
  /// or wrongly typed image.
  [[nodiscard]] FrameResult detect(const cv::Mat& bgr);

  /// One frame of a video with tracking (docs/tracking.md): detect() on detection frames (every
  /// TrackingOptions::detect_every-th call, the first included), then the Detector's Tracker, then its People
  /// (people.hpp, rules from Config::people). Faces of a counted person carry `track_id` (the person id),
  /// `counted` and `person_state`; other faces have track_id -1 and counted false. On detection frames the
  /// detector runs at the tracker's low_score so that weak faces can continue tracks; faces under the
  /// configured threshold are kept only when they continue a person. `t` is the frame time in seconds, rising.
  /// The person events this frame raised: people().events(). Throws Error(bad_input) as detect() does.
  [[nodiscard]] FrameResult track(const cv::Mat& bgr, double t);

  /// Ends every person still tracked (the end of a stream, a camera outage): their `ended` events are in
  /// people().events() afterwards. The next track() starts a new tracker; person ids continue.
  void end_tracking(double t);

  /// Sets the tracking options and starts a new tracker and new People (people are counted from 1 again).
  /// Throws Error(invalid_config) for a bad option. Without a call, track() uses TrackingOptions{}.
  void set_tracking(const TrackingOptions& options);

  /// The tracker behind track(): its tracks, votes and best crops. Counted people are in people().
  /// Throws Error(internal) on a moved-from Detector.
  [[nodiscard]] const Tracker& tracker() const;
  /// The people behind track(): counted people, the events of the latest frame, the totals.
  [[nodiscard]] const People& people() const;
  /// Mask decisions for faces another detector found: classifies `boxes` (pixels of `bgr`) in one batch
  /// and returns them as detect() would (descending FaceBox::score, times.detect_ms 0), ready for
  /// draw_results() and to_json(). The boxes are taken as given: no threshold, NMS or min_face_px.
  /// Throws Error(bad_input) for a bad image or a box that is empty, not finite, or has a score
  /// outside [0, 1].
  [[nodiscard]] FrameResult classify(const cv::Mat& bgr, std::vector<FaceBox> boxes);

  /// Changes the face-detector confidence threshold from the next frame on.
  void set_face_threshold(float threshold);

  [[nodiscard]] const Config& config() const;
  [[nodiscard]] const ModelCard& classifier_card() const;

 private:
  struct Impl;
  Impl& impl() const;  // throws Error(internal) when moved from
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskdetect
