#include "app/config_options.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "maskdetect/error.hpp"
#include "maskdetect/image_io.hpp"

namespace maskdetect::app {

void add_config_options(CLI::App& app, ConfigOptions& options) {
  app.add_option("--config", options.config_file, "YAML config file (applied over the preset)")->type_name("FILE");
  app.add_option("--preset", options.preset, "Tuned starting point")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app.add_option("--detector", options.detector, "Face detector back end")
      ->check(CLI::IsMember({"blazeface_front", "blazeface_back", "yunet", "mask_detector"}));
  options.input_size_opt =
      app.add_option("--input-size", options.input_size, "Detector input size in pixels (0: the model's)");
  options.face_threshold_opt =
      app.add_option("--face-threshold", options.face_threshold, "Face detector confidence threshold");
  options.tiles_opt =
      app.add_option("--tiles", options.tiles,
                     "BlazeFace back and YuNet: tiles per side, detected as well as the whole frame (1 = off)");
  options.threads_opt = app.add_option("--threads", options.threads, "OpenCV threads (0: OpenCV's default)");
  app.add_option("--max-image-pixels", options.max_image_pixels,
                 "Largest image accepted (width x height, read from the header before decoding): run, eval, serve")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40U))
      ->capture_default_str();
}

namespace {
DetectorBackend parse_backend(const std::string& name) {
  if (name == "blazeface_front") return DetectorBackend::blazeface_front;
  if (name == "blazeface_back") return DetectorBackend::blazeface_back;
  if (name == "yunet") return DetectorBackend::yunet;
  if (name == "mask_detector") return DetectorBackend::mask_detector;
  throw Error(Errc::invalid_config, "--detector: unknown back end '" + name + "'");
}

bool given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }
}  // namespace

namespace {
std::string& pending_note() {
  static std::string note;
  return note;
}
}  // namespace

void announce_detector() {
  static bool announced = false;
  if (announced || pending_note().empty()) return;
  announced = true;
  std::fprintf(stderr, "%s\n", pending_note().c_str());
}

std::string detector_note(const PresetChoice& choice) {
  std::string note = fmt::format("detector: {}", choice.description);
  if (choice.fallback)
    note += fmt::format("; for YuNet (better on both test splits, docs/results.md) run: {}", choice.hint);
  return note;
}

Config resolve_config(const ConfigOptions& options) {
  const PresetChoice choice = resolve_preset(options.preset);
  Config config = choice.config;
  if (!options.config_file.empty()) config = load_config(options.config_file, config);
  if (!options.config_yaml.empty())
    config = parse_config(options.config_yaml, options.config_origin, config, options.config_base_dir);
  if (!options.detector.empty()) {
    const DetectorBackend backend = parse_backend(options.detector);
    if (backend != config.detector.backend) {
      // Input size, tiling and box calibration tuned for another back end do not apply to this one.
      config.detector.tiles = 1;
      apply_tuning(config.detector, backend);
    }
  }
  if (given(options.input_size_opt)) config.detector.input_size = options.input_size;
  if (given(options.face_threshold_opt)) config.detector.score_threshold = options.face_threshold;
  if (given(options.tiles_opt)) config.detector.tiles = options.tiles;
  if (given(options.threads_opt)) config.threads = options.threads;
  validate(config);
  set_default_max_image_pixels(options.max_image_pixels);
  // OpenCV's own cap, a fallback for any decode that does not go through maskdetect/image_io.hpp. Read once,
  // at the first decode; a value the user set in the environment is kept.
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", std::to_string(options.max_image_pixels).c_str(), 0);
  // Which detector runs and why, said once by announce_detector() once the models are loaded (so that an
  // error stays the first line on stderr).
  pending_note() = config.detector.backend == choice.config.detector.backend
                       ? detector_note(choice)
                       : fmt::format("detector: {} (set by --detector or --config over the {} preset)",
                                     to_string(config.detector.backend), options.preset);
  return config;
}

}  // namespace maskdetect::app
