// app/people_options.hpp - the flags of the people rules (people.hpp) that `run` and `eval --video` share:
// ignore zones, evidence, stationary faces, state hysteresis. Applied over the config (preset, file, flags).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "maskdetect/config.hpp"

namespace maskdetect::app {

struct PeopleOptions {
  std::vector<std::string> ignore_zones;  ///< --ignore-zone (repeatable), parse_zone's syntax
  float threshold = 0.0f;
  float min_score = 0.0f;
  double confirm_s = 0.0;
  float min_face_px = 0.0f;
  double stationary_s = 0.0;
  bool count_stationary = false;
  double state_hold_s = 0.0;
  CLI::Option* threshold_opt = nullptr;
  CLI::Option* min_score_opt = nullptr;
  CLI::Option* confirm_s_opt = nullptr;
  CLI::Option* min_face_px_opt = nullptr;
  CLI::Option* stationary_s_opt = nullptr;
  CLI::Option* state_hold_s_opt = nullptr;
};

/// Adds --ignore-zone, --person-threshold, --person-min-score, --confirm-s, --person-min-px, --stationary-s,
/// --count-stationary and --state-hold-s to `app`.
void add_people_options(CLI::App& app, PeopleOptions& options);

/// The flags given, over config.people (zones are added to the config's); validated. Throws
/// Error(invalid_config) naming the flag and its value.
void apply_people_options(const PeopleOptions& options, Config& config);

}  // namespace maskdetect::app
