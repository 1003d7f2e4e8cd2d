// cli/eval_video.hpp - `maskdetect eval --video CLIP --truth TRUTH.json`: the options and the action (the scoring
// itself is eval/video_eval.hpp). cmd_eval.cpp dispatches to it when --video is given.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "app/config_options.hpp"
#include "app/people_options.hpp"

namespace maskdetect::cli {

struct VideoEvalOptions {
  std::string video;        ///< --video CLIP
  std::string truth;        ///< --truth FILE (default: CLIP with .json)
  std::string predictions;  ///< --predictions: a `run --json` output of this clip instead of running the pipeline
  std::string json;         ///< --json FILE|-
  int detect_every = 1;
  double min_removal_s = 1.0;
  bool progress = false;
  app::PeopleOptions people;
};

/// Adds --video, --truth, --detect-every, --min-removal-s and the people flags (app/people_options.hpp) to `eval`.
void add_video_eval_options(CLI::App& cmd, VideoEvalOptions& options);

/// Prints an eval report: `report` on stdout (stderr when `json` is "-"), then `json_text` to --json `json`
/// ("-": stdout; empty: nowhere). Throws Error(io) naming the file when it cannot be written. Shared by both
/// evals (cmd_eval.cpp).
void print_eval_report(const std::string& report, const std::string& json_text, const std::string& json);

/// Runs the pipeline on the clip (or reads --predictions), scores it, prints the report; returns the exit status.
int run_video_eval(const VideoEvalOptions& options, const app::ConfigOptions& config_options);

}  // namespace maskdetect::cli
