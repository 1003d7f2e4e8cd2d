// maskdetect/config.hpp - every setting of the pipeline, with its default, and YAML loading.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace maskdetect {

/// Face-detector back ends (see docs/detectors.md for measured recall and speed).
enum class DetectorBackend {
  blazeface_front,  ///< MediaPipe BlazeFace short range, 128x128: near faces (webcam), fastest
  blazeface_back,   ///< MediaPipe BlazeFace full range, 256x256: farther faces; optional tiling
  yunet,            ///< OpenCV YuNet 2022mar via cv::FaceDetectorYN: crowds and CCTV (models fetch yunet)
};

[[nodiscard]] std::string_view to_string(DetectorBackend backend) noexcept;

struct DetectorConfig {
  DetectorBackend backend = DetectorBackend::blazeface_back;
  /// Model file. Empty: the back end's default file, looked up in the model search path (models.hpp).
  /// A relative path in a YAML file is relative to that file.
  std::string model;
  /// Network input size in pixels. BlazeFace: fixed by the model (128 front, 256 back); 0 means that.
  /// YuNet: the long side the frame is scaled to (0 means 640).
  int input_size = 0;
  float score_threshold = 0.5f;  ///< faces below this detector confidence are dropped
  float nms_threshold = 0.3f;    ///< IoU above which overlapping detections are merged
  /// BlazeFace back only: split the frame into tiles x tiles overlapping tiles and detect on each as well
  /// as on the whole frame (1 = off). Finds smaller faces at about (tiles^2 + 1) times the cost.
  int tiles = 1;
  float min_face_px = 0.0f;  ///< faces whose longer side is below this are dropped
};

struct ClassifierConfig {
  /// Model card YAML beside the ONNX weights (models/mask_classifier.yaml). Empty: the shipped card,
  /// looked up in the model search path. A relative path in a YAML file is relative to that file.
  std::string card;
};

/// All settings. Defaults work on a fresh install; `preset()` gives tuned starting points.
struct Config {
  DetectorConfig detector;
  ClassifierConfig classifier;
  /// OpenCV threads for inference; 0 keeps OpenCV's default. PROCESS-WIDE: a Detector built with
  /// threads > 0 calls set_inference_threads(threads) (cv::setNumThreads), which changes every
  /// OpenCV call in the process, other Detectors included; the last one built wins. Leave it 0 in
  /// applications that set threads themselves (see set_inference_threads() in detector.hpp).
  int threads = 0;
};

/// Names accepted by preset().
[[nodiscard]] std::vector<std::string> preset_names();

/// A tuned configuration: "default", "webcam" (BlazeFace front: near faces, fastest) or "crowd"
/// (YuNet at 640: small faces). Throws Error(invalid_config) for another name.
[[nodiscard]] Config preset(std::string_view name);

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
