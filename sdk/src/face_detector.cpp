// face_detector.cpp - FaceDetector::create: finds the model file and builds the back end.
#include "maskdetect/face_detector.hpp"

#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "detectors.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/models.hpp"

namespace maskdetect {
namespace {

std::filesystem::path resolve_model(const DetectorConfig& config) {
  // A path as given; a bare file name that is not in the current folder goes through the model search path.
  if (!config.model.empty())
    return find_model_file(config.model, fmt::format("detector.model, back end {}", to_string(config.backend)));
  switch (config.backend) {
    case DetectorBackend::blazeface_front:
      return find_model(kBlazeFaceFrontFile);
    case DetectorBackend::blazeface_back:
      return find_model(kBlazeFaceBackFile);
    case DetectorBackend::yunet:
      return find_model(kYuNetFile, "fetch it with: maskdetect models fetch yunet");
    case DetectorBackend::mask_detector:
      return find_model(kMaskDetectorFile);
  }
  throw Error(Errc::invalid_config, "detector.backend: unknown back end");
}

}  // namespace

namespace {

std::unique_ptr<FaceDetector> create_one(const DetectorConfig& config);

// add_mask_detector: the back end and the project's mask detector, merged (merged_detector.cpp). The mask
// detector runs with its preset's tuning; its threshold sits at this back end's 0.5 (the presets' thresholds).
constexpr float kReferenceThreshold = 0.5f;
constexpr float kMergeIou = 0.45f;

std::unique_ptr<FaceDetector> create_with_mask_detector(const DetectorConfig& config) {
  DetectorConfig first = config;
  first.add_mask_detector = false;
  DetectorConfig second = preset("mask_detector").detector;
  second.min_face_px = config.min_face_px;
  second.max_faces = config.max_faces;
  return detail::make_merged_detector(create_one(first), kReferenceThreshold, create_one(second),
                                      second.score_threshold, kMergeIou, config.max_faces, config.score_threshold);
}

std::unique_ptr<FaceDetector> create_one(const DetectorConfig& config) {
  if (config.tiles < 1)
    throw Error(Errc::invalid_config, fmt::format("detector.tiles: must be >= 1, got {}", config.tiles));
  if (config.input_size < 0)
    throw Error(Errc::invalid_config, fmt::format("detector.input_size: must be >= 0, got {}", config.input_size));
  const std::filesystem::path model = resolve_model(config);
  switch (config.backend) {
    case DetectorBackend::blazeface_front:
    case DetectorBackend::blazeface_back:
      return detail::make_blazeface_detector(config, model);
    case DetectorBackend::yunet:
      return detail::make_yunet_detector(config, model);
    case DetectorBackend::mask_detector:
      return detail::make_mask_detector(config, model);
  }
  throw Error(Errc::invalid_config, "detector.backend: unknown back end");
}

}  // namespace

std::unique_ptr<FaceDetector> FaceDetector::create(const DetectorConfig& config) {
  // With the mask detector as the back end there is nothing to add: one config file then serves a machine with
  // YuNet and one without it, where `default` runs the mask detector.
  return config.add_mask_detector && config.backend != DetectorBackend::mask_detector
             ? create_with_mask_detector(config)
             : create_one(config);
}

}  // namespace maskdetect
