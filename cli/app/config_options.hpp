// app/config_options.hpp - the pipeline settings every command shares: --config, --preset and overrides.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "maskdetect/config.hpp"

namespace maskdetect::app {

/// Flags that build a maskdetect::Config: preset, then config file, then the overrides given.
struct ConfigOptions {
  std::string config_file;  ///< --config FILE (YAML)
  /// Pipeline keys read from elsewhere (serve's config file), applied where config_file would be.
  std::string config_yaml;
  std::string config_origin;
  std::string config_base_dir;
  std::string preset = "default";  ///< --preset default|webcam|crowd
  std::string detector;            ///< --detector (empty: not given)
  int input_size = 0;
  float face_threshold = 0.0f;
  int tiles = 1;
  int threads = 0;
  // Which overrides were given on the command line.
  CLI::Option* input_size_opt = nullptr;
  CLI::Option* face_threshold_opt = nullptr;
  CLI::Option* tiles_opt = nullptr;
  CLI::Option* threads_opt = nullptr;
};

/// Adds --config, --preset, --detector, --input-size, --face-threshold, --tiles, --threads to `app`.
void add_config_options(CLI::App& app, ConfigOptions& options);

/// Preset, then the config file over it, then the flags given; validated once. Throws Error.
[[nodiscard]] Config resolve_config(const ConfigOptions& options);

}  // namespace maskdetect::app
