#include "app/config_options.hpp"

#include "maskdetect/error.hpp"

namespace maskdetect::app {

void add_config_options(CLI::App& app, ConfigOptions& options) {
  app.add_option("--config", options.config_file, "YAML config file (applied over the preset)")->type_name("FILE");
  app.add_option("--preset", options.preset, "Tuned starting point")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  app.add_option("--detector", options.detector, "Face detector back end")
      ->check(CLI::IsMember({"blazeface_front", "blazeface_back", "yunet"}));
  options.input_size_opt =
      app.add_option("--input-size", options.input_size, "Detector input size in pixels (0: the model's)");
  options.face_threshold_opt =
      app.add_option("--face-threshold", options.face_threshold, "Face detector confidence threshold");
  options.tiles_opt = app.add_option("--tiles", options.tiles, "BlazeFace back: tiles per side (1 = off)");
  options.threads_opt = app.add_option("--threads", options.threads, "OpenCV threads (0: OpenCV's default)");
}

namespace {
DetectorBackend parse_backend(const std::string& name) {
  if (name == "blazeface_front") return DetectorBackend::blazeface_front;
  if (name == "blazeface_back") return DetectorBackend::blazeface_back;
  if (name == "yunet") return DetectorBackend::yunet;
  throw Error(Errc::invalid_config, "--detector: unknown back end '" + name + "'");
}

bool given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }
}  // namespace

Config resolve_config(const ConfigOptions& options) {
  Config config = preset(options.preset);
  if (!options.config_file.empty()) config = load_config(options.config_file, config);
  if (!options.config_yaml.empty())
    config = parse_config(options.config_yaml, options.config_origin, config, options.config_base_dir);
  if (!options.detector.empty()) {
    const DetectorBackend backend = parse_backend(options.detector);
    if (backend != config.detector.backend) {
      // Input size and tiling tuned for another back end do not apply to this one (the flags set them).
      config.detector.backend = backend;
      config.detector.input_size = 0;
      config.detector.tiles = 1;
    }
  }
  if (given(options.input_size_opt)) config.detector.input_size = options.input_size;
  if (given(options.face_threshold_opt)) config.detector.score_threshold = options.face_threshold;
  if (given(options.tiles_opt)) config.detector.tiles = options.tiles;
  if (given(options.threads_opt)) config.threads = options.threads;
  validate(config);
  return config;
}

}  // namespace maskdetect::app
