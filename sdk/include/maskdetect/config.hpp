// maskdetect/config.hpp - every setting of the pipeline, with its default, and YAML loading.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/types.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect {

/// Face-detector back ends (see docs/detectors.md for measured recall and speed).
enum class DetectorBackend {
  blazeface_front,  ///< MediaPipe BlazeFace short range, 128x128: near faces (webcam), fastest
  blazeface_back,   ///< MediaPipe BlazeFace full range, 256x256: farther faces; optional tiling
  yunet,            ///< OpenCV YuNet 2022mar via cv::FaceDetectorYN: crowds and CCTV (models fetch yunet)
  /// The project's own face-and-mask detector (models/mask_detector.onnx, docs/detector.md), 512x512,
  /// used as a face detector (score = its best label's score); the classifier labels its faces.
  mask_detector,
};

[[nodiscard]] std::string_view to_string(DetectorBackend backend) noexcept;

struct DetectorConfig {
  DetectorBackend backend = DetectorBackend::blazeface_back;
  /// Model file. Empty: the back end's default file, looked up in the model search path (models.hpp).
  /// A relative path in a YAML file is relative to that file.
  std::string model;
  /// Network input size in pixels. BlazeFace: fixed by the model (128 front, 256 back); 0 means that.
  /// YuNet: the long side the frame is scaled to (0 means 640). mask_detector: fixed at 512; 0 means that.
  int input_size = 0;
  float score_threshold = 0.5f;  ///< faces below this detector confidence are dropped
  float nms_threshold = 0.3f;    ///< IoU above which overlapping detections are merged
  /// BlazeFace back and YuNet: split the frame into tiles x tiles tiles overlapping by 25% and detect on
  /// each (YuNet: each tile scaled to the same long side as the frame) as well as on the whole frame, then
  /// merge by NMS (1 = off). Finds smaller faces at about (tiles^2 + 1) times the cost.
  int tiles = 1;
  float min_face_px = 0.0f;  ///< faces whose longer side is below this are dropped
  /// At most this many faces per frame, the highest-scoring ones, are kept and classified (0 = no cap).
  /// At a low score_threshold a detector returns many low-score boxes; classifying all of them is the
  /// cost, not the detection.
  int max_faces = 0;
  /// Box calibration to the annotation style of the datasets (docs/results.md, "Box fit"): the box is
  /// scaled about its centre by box_scale_x / box_scale_y, then its centre is moved by box_shift_x /
  /// box_shift_y times the box's (original) width / height (+ = right / down). 1, 1, 0, 0: as detected.
  float box_scale_x = 1.0f;
  float box_scale_y = 1.0f;
  float box_shift_x = 0.0f;
  float box_shift_y = 0.0f;
  /// Also run the project's mask detector (models/mask_detector.onnx, shipped, with the mask_detector
  /// preset's tuning) on every frame and merge its faces with this back end's (union, then greedy NMS at
  /// IoU 0.45; the higher score wins). Finds the faces and heads either one alone misses, at the cost of
  /// both (docs/results.md). Ignored with backend mask_detector (nothing to add), so one config file serves
  /// machines with and without YuNet. The mask detector's threshold follows
  /// score_threshold in proportion (its own 0.5 at this back end's configured threshold).
  bool add_mask_detector = false;
};

struct ClassifierConfig {
  /// Model card YAML beside the ONNX weights (models/mask_classifier.yaml). Empty: the shipped card,
  /// looked up in the model search path. A relative path in a YAML file is relative to that file.
  std::string card;
};

/// A polygon in normalised frame coordinates (x right, y down, both in [0, 1]; at least 3 points), e.g. an
/// ignore zone. Drawing code takes zones as they are (std::vector<std::vector<cv::Point2f>>).
using Zone = std::vector<cv::Point2f>;

/// Parses a zone from its text form: comma-separated x,y pairs of normalised coordinates, at least three points,
/// e.g. "0.7,0, 1,0, 1,0.3, 0.7,0.3" (spaces are ignored; Frigate's relative-coordinate syntax). Throws
/// Error(invalid_config) naming the text and what is wrong (an odd count, a value that is not a number or not in
/// [0, 1], fewer than 3 points).
[[nodiscard]] Zone parse_zone(std::string_view text);
/// The text form of a zone ("x,y,x,y,...", what parse_zone reads back).
[[nodiscard]] std::string to_string(const Zone& zone);

/// When a counted person's state raises an alert (people.hpp).
struct AlertConfig {
  /// Which states raise an alert when a person's state becomes one of them and holds min_seen_s, indexed by
  /// MaskLabel (config: a list of names). Default: no_mask and incorrect.
  std::array<bool, kNumLabels> labels{false, true, true};
  /// Seconds the state must have led (since the label began to lead) before the alert is raised.
  double min_seen_s = 0.5;
  /// No second alert of the same person, label and kind (mask removal or not) sooner than this, in seconds.
  double cooldown_s = 30.0;
};

/// Who counts as a person, their state over time, and alerts: the rules of the people component (people.hpp,
/// docs/tracking.md "People"). Times are in seconds of the video (they hold at any fps and detect_every). The
/// evidence rules follow Frigate's object filters (min_score, threshold on the median score, a minimum size,
/// masks).
struct PeopleConfig {
  /// Faces at or above this face_score are evidence: they may confirm a person. Weaker faces (down to the
  /// tracker's low score) may continue a person, but never confirm one.
  float min_score = 0.5f;
  /// A track counts only when the median face_score of its matched faces (outside ignore zones) reaches this.
  /// Empty ("auto"): person_threshold() of the detector back end (people.hpp): detectors score faces on
  /// different scales (YuNet 0.75, BlazeFace back 0.3, measured in docs/tracking.md).
  std::optional<float> threshold;
  /// ... and its evidence faces span at least this many seconds (first to latest).
  double confirm_s = 0.8;
  /// ... and the median size of its faces (longer side of the box, pixels) is at least this.
  float min_face_px = 28.0f;
  /// A face has moved when the median of its latest 3 face centres is more than this x face size away from
  /// where it started (the median of its first 3), or its size changed by more than this fraction.
  float stationary_tolerance = 0.05f;
  /// A track that has not moved for this many seconds is flagged stationary (a poster, a painting, a screen).
  /// While the rule is on (> 0), a track must have moved to count, unless count_stationary. 0: rule off.
  double stationary_s = 5.0;
  /// Count faces that never moved as people (flagged stationary all the same).
  bool count_stationary = false;
  /// Faces whose centre lies in one of these polygons never start a person: they are no evidence (a person
  /// counted elsewhere may walk through).
  std::vector<Zone> ignore_zones;
  /// Hysteresis: a label must lead a person's smoothed label for this many seconds before the state changes.
  double state_hold_s = 0.5;
  /// Time constant, in seconds, of the exponential smoothing of the class probabilities that decides which
  /// label leads (0: each face's own label).
  double state_smoothing_s = 0.25;
  AlertConfig alerts;
};

/// All settings. Defaults work on a fresh install; `preset()` gives tuned starting points.
struct Config {
  DetectorConfig detector;
  ClassifierConfig classifier;
  PeopleConfig people;  ///< video with tracking: who counts as a person, states, alerts
  /// OpenCV threads for inference; 0 keeps OpenCV's default. PROCESS-WIDE: a Detector built with
  /// threads > 0 calls set_inference_threads(threads) (cv::setNumThreads), which changes every
  /// OpenCV call in the process, other Detectors included; the last one built wins. Leave it 0 in
  /// applications that set threads themselves (see set_inference_threads() in detector.hpp).
  int threads = 0;
};

/// Names accepted by preset().
[[nodiscard]] std::vector<std::string> preset_names();

/// A tuned configuration: "default" (YuNet when its model is on the model search path, the project's shipped
/// mask detector otherwise), "webcam" (BlazeFace front: near faces, fastest), "crowd" (YuNet: small faces) or
/// "mask_detector" (the project's detector, whether or not YuNet is installed). Throws
/// Error(invalid_config) for another name. Same as resolve_preset(name).config.
[[nodiscard]] Config preset(std::string_view name);

/// A preset and how its face detector was chosen. The SDK never prints; a program can tell its user.
struct PresetChoice {
  Config config;
  /// One line naming the detector and why it was chosen, e.g. "YuNet 2022mar (long side 640):
  /// face_detection_yunet_2022mar.onnx found in /home/u/.local/share/maskdetect/models".
  std::string description;
  /// True when the preset's preferred detector (YuNet for "default") is missing and a weaker one is used.
  bool fallback = false;
  /// With fallback: the one command that installs the better detector ("maskdetect models fetch yunet").
  std::string hint;
};

/// Switches `detector` to `backend` with the presets' tuning for it: input size, tiles 1, max_faces and
/// the box calibration fitted for that back end. Threshold, NMS and model are left as they are.
void apply_tuning(DetectorConfig& detector, DetectorBackend backend);

/// preset(name) with the reason for its detector. "default" looks YuNet's model up in the model search
/// path (models.hpp) each time it is called. Throws Error(invalid_config) for an unknown name.
[[nodiscard]] PresetChoice resolve_preset(std::string_view name);

/// Reads a YAML config file over `base`: keys present replace the base values. Every key is checked:
/// an unknown key or a bad value throws Error(invalid_config) naming the file and the key.
[[nodiscard]] Config load_config(const std::filesystem::path& path, const Config& base = {});

/// As load_config, from YAML text; `origin` names it in error messages.
[[nodiscard]] Config parse_config(std::string_view yaml, std::string_view origin, const Config& base = {},
                                  const std::filesystem::path& base_dir = {});

/// Checks every value; throws Error(invalid_config) naming the first bad key. load_config calls it.
void validate(const Config& config);

/// The configuration as YAML text (what load_config reads back).
[[nodiscard]] std::string to_yaml(const Config& config);

}  // namespace maskdetect
