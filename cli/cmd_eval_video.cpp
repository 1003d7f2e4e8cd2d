// maskdetect eval --video: people, states and alerts of the pipeline on a clip against its ground truth.
#include <cstdio>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "app/progress.hpp"
#include "app/summary.hpp"
#include "commands.hpp"
#include "eval/video_eval.hpp"
#include "eval_video.hpp"
#include "maskdetect/maskdetect.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace fs = std::filesystem;

namespace maskdetect::cli {

void add_video_eval_options(CLI::App& cmd, VideoEvalOptions& options) {
  cmd.add_option("--video", options.video,
                 "Score people, states and alerts on this video clip against --truth (docs/tracking.md)")
      ->check(CLI::ExistingFile)
      ->type_name("CLIP");
  cmd.add_option("--truth", options.truth,
                 "Video: the ground truth (people, visible spans, state spans; docs/tracking.md). Default: CLIP with "
                 "the extension .json")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  cmd.add_option("--detect-every", options.detect_every, "Video: run the detector on every N-th frame only")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  cmd.add_option("--min-removal-s", options.min_removal_s,
                 "Video: mask removals held at least this long must raise an alert (the recall's)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app::add_people_options(cmd, options.people);
}

int run_video_eval(const VideoEvalOptions& options, const app::ConfigOptions& config_options) {
  fs::path truth_path = options.truth;
  if (truth_path.empty()) {
    truth_path = fs::path(options.video).replace_extension(".json");
    if (!fs::exists(truth_path))
      throw Error(Errc::bad_input, fmt::format("--video '{}': no ground truth given and '{}' does not exist (use "
                                               "--truth FILE)",
                                               options.video, truth_path.string()));
  }
  if (options.json != "-" && !options.json.empty() && fs::is_directory(options.json))
    throw Error(Errc::bad_input, fmt::format("--json '{}' is a folder", options.json));
  const eval::VideoTruth truth = eval::read_video_truth(truth_path);
  std::unique_ptr<video::FrameSource> source = video::open_frame_source(options.video);
  if (source->kind() != video::SourceKind::video_file)
    throw Error(Errc::bad_input, fmt::format("--video '{}' is not a video file", options.video));
  const double fps = source->fps() > 0.0 ? source->fps() : 25.0;

  eval::VideoRun run;
  if (!options.predictions.empty()) {
    run = eval::read_video_run(options.predictions, fps);
  } else {
    Config config = app::resolve_config(config_options);
    app::apply_people_options(options.people, config);
    Detector detector(config);
    app::announce_detector();
    detector.set_tracking({.detect_every = options.detect_every});
    eval::VideoRunBuilder builder(fps);
    app::Progress progress(source->frame_count(), options.progress);
    const app::Stopwatch clock;
    video::Frame frame;
    std::int64_t index = 0;
    double t = 0.0;
    for (;;) {
      const video::ReadStatus status = source->read(frame);
      if (status == video::ReadStatus::end) break;
      if (status != video::ReadStatus::ok)
        throw Error(Errc::io, fmt::format("--video '{}': cannot read frame {}", options.video, index));
      t = static_cast<double>(index++) / fps;
      const FrameResult result = detector.track(frame.bgr, t);
      builder.add_frame(t, result.faces, detector.people().events());
      progress.update(index);
    }
    detector.end_tracking(t);
    progress.finish();
    const double wall_s = clock.elapsed_ms() / 1000.0;
    std::string system = fmt::format("pipeline: {} face threshold {:.2f}", to_string(config.detector.backend),
                                     config.detector.score_threshold);
    if (options.detect_every > 1) system += fmt::format(", detect every {}", options.detect_every);
    run = builder.finish(system, wall_s);
  }

  const eval::VideoScore score = eval::score_video(truth, run, options.min_removal_s);
  print_eval_report(eval::format_video_score(score, truth),
                    options.json.empty() ? std::string() : eval::video_score_json(score, truth).dump(2) + "\n",
                    options.json);
  return kExitOk;
}

}  // namespace maskdetect::cli
