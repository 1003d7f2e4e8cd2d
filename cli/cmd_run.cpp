// maskdetect run: detect faces and masks on a camera, video, stream, image, folder or glob.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/highgui.hpp>

#include "app/people_options.hpp"
#include "app/progress.hpp"
#include "app/summary.hpp"
#include "app/tracking.hpp"
#include "commands.hpp"
#include "maskdetect/maskdetect.hpp"
#include "maskdetect/video/frame_sink.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "maskdetect/video/pipeline.hpp"
#include "maskdetect/video/reconnect.hpp"

namespace fs = std::filesystem;

namespace maskdetect::cli {

namespace {

struct RunOptions {
  std::string source;
  std::string output;
  std::string json;
  bool show = false;
  std::int64_t max_frames = 0;
  bool no_draw = false;
  bool force = false;
  bool progress = false;
  int detect_every = 1;
  std::string summary;
  int max_retries = -1;  ///< live sources: reopen attempts per outage (-1: forever)
  std::string output_preset = video::SinkOptions{}.h264_preset;  ///< x264 preset of an .mp4 --output
  app::PeopleOptions people;
};

/// JSON Lines of a tracked run: each frame's line is written when the next frame comes (or at the end), so that
/// the `ended` events of people still in view at the end join the last frame's line.
class JsonLines {
 public:
  explicit JsonLines(video::JsonLinesWriter* out) : out_(out) {}
  void add(const FrameResult& result, const FrameInfo& info, const std::vector<PersonEvent>& events) {
    flush();
    pending_ = Pending{result, info, events};
  }
  /// Events raised after the last frame (app::RunTracking::finish) join its line.
  void add_events(const std::vector<PersonEvent>& events) {
    if (pending_) pending_->events.insert(pending_->events.end(), events.begin(), events.end());
  }
  void flush() {
    if (pending_ && out_ != nullptr) out_->write(to_json(pending_->result, pending_->info, {}, pending_->events));
    pending_.reset();
  }

 private:
  struct Pending {
    FrameResult result;
    FrameInfo info;
    std::vector<PersonEvent> events;
  };
  video::JsonLinesWriter* out_;
  std::optional<Pending> pending_;
};

/// The built-in demo: sample images installed from Debian packages by scripts/setup.sh.
const std::vector<fs::path>& demo_candidates() {
  static const std::vector<fs::path> paths{
      "/usr/share/doc/opencv-doc/examples/data/messi5.jpg",         // opencv-doc
      "/usr/lib/python3/dist-packages/skimage/data/astronaut.png",  // python3-skimage(-lib)
  };
  return paths;
}

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_sigint(int) { g_stop = 1; }

/// Live sources: reopened with backoff (1 s doubling to 30 s); each outage is logged once when it starts
/// and once when it ends, with its duration.
video::ReconnectOptions reconnect_options(int max_retries) {
  video::ReconnectOptions options;
  options.policy.max_retries = max_retries;
  options.should_stop = [] { return g_stop != 0; };  // Ctrl-C ends a backoff wait at once
  options.on_outage = [max_retries](video::OutageEvent event, const video::Outage& outage) {
    if (event == video::OutageEvent::started && max_retries != 0) {
      std::fprintf(stderr, "warning: %s stopped delivering frames after %lld frames (%s); reconnecting %s\n",
                   outage.source.c_str(), static_cast<long long>(outage.frames_before), outage.error.c_str(),
                   max_retries < 0 ? "until it is back (backoff 1 s to 30 s)"
                                   : fmt::format("at most {} times (backoff 1 s to 30 s)", max_retries).c_str());
    } else if (event == video::OutageEvent::recovered) {
      std::fprintf(stderr, "%s is back after an outage of %.1f s (%d reopen attempt(s))\n", outage.source.c_str(),
                   outage.duration_s, outage.attempts);
    }
  };
  return options;
}

/// Catches SIGINT/SIGTERM while alive so that a run ends cleanly with its summary.
class StopSignals {
 public:
  StopSignals() {
    g_stop = 0;
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::unique_ptr<video::FrameSource> open_demo() {
  std::vector<fs::path> found;
  for (const fs::path& path : demo_candidates()) {
    if (fs::exists(path)) {
      found.push_back(path);
    } else {
      std::fprintf(stderr, "warning: demo image '%s' is missing (run scripts/setup.sh)\n", path.c_str());
    }
  }
  if (found.empty())
    throw Error(Errc::bad_input,
                "no --source given and the demo images are missing; run scripts/setup.sh (installs opencv-doc "
                "and python3-skimage) or pass --source");
  std::string names;
  for (const fs::path& path : found) names += (names.empty() ? "" : ", ") + path.string();
  std::fprintf(stderr, "demo: no --source given, running on %s\n", names.c_str());
  return video::open_image_list(std::move(found), "demo images");
}

/// `run --summary FILE`: the summary as one JSON object (RunSummary::to_json plus the source).
void write_summary(const std::string& path, const app::RunSummary& summary, const video::FrameSource& source,
                   const video::ReconnectingSource* live) {
  nlohmann::ordered_json j = summary.to_json();
  j["source"] = video::redact_url(source.description());
  if (live != nullptr) {
    const video::ReconnectStatus status = live->status();
    j["outages"] = status.outages;
    j["downtime_s"] = status.downtime_s;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << j.dump(2) << '\n';
  out.flush();
  if (!out) throw Error(Errc::io, fmt::format("cannot write the summary to '{}'", path));
  std::fprintf(stderr, "summary written to %s\n", path.c_str());
}

int run_run(const RunOptions& options, const app::ConfigOptions& config_options) {
  Config config = app::resolve_config(config_options);
  app::apply_people_options(options.people, config);

  // Source and outputs first: refuse bad paths before loading models or writing anything.
  const bool demo = options.source.empty();
  std::unique_ptr<video::FrameSource> source =
      demo ? open_demo() : video::open_frame_source(options.source, reconnect_options(options.max_retries));
  auto* live = dynamic_cast<video::ReconnectingSource*>(source.get());

  std::string output = options.output;
  if (output.empty() && demo) output = "maskdetect-out";
  // Annotated frames are encoded and written on a thread of their own (a queue of 4 frames), so that the loop
  // does not wait for the encoder (docs/performance.md).
  std::unique_ptr<video::ThreadedSink> sink;
  if (!output.empty()) {
    const bool video = video::is_video_path(output);
    video::check_not_input(*source, output, !video, "--output");
    const double fps = source->fps() > 0.0 ? source->fps() : (source->is_live() ? 25.0 : 5.0);
    sink =
        video::make_threaded_sink(output, {.fps = fps, .force = options.force, .h264_preset = options.output_preset});
    if (!video && !options.force && source->kind() == video::SourceKind::images) {
      // Every file name is known in advance: check them all before doing any work.
      for (const fs::path& input : source->input_files()) {
        const fs::path target = fs::path(output) / input.filename();
        if (fs::exists(target))
          throw Error(Errc::bad_input,
                      fmt::format("output file '{}' exists (use --force to overwrite)", target.string()));
      }
    }
  }
  if (!options.summary.empty()) {
    video::check_not_input(*source, options.summary, false, "--summary");
    if (fs::exists(options.summary) && !options.force)
      throw Error(Errc::bad_input, fmt::format("summary file '{}' exists (use --force to overwrite)", options.summary));
  }
  std::string json_path = options.json;
  if (json_path.empty() && (demo || output.empty())) json_path = "-";
  std::unique_ptr<video::JsonLinesWriter> json;
  if (!json_path.empty()) {
    if (json_path != "-") video::check_not_input(*source, json_path, false, "--json");
    json = std::make_unique<video::JsonLinesWriter>(json_path);
  }
  if (options.show && std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr)
    throw Error(Errc::bad_input, "--show needs a display (DISPLAY is not set)");

  Detector detector(config);
  app::announce_detector();
  app::RunTracking tracking(detector, *source, options.detect_every);
  // Tracked video: each person's faces in full (track id, the person's state), other faces faint; the header counts
  // people in view.
  const DrawOptions draw{.tracked = tracking.tracking()};
  if (options.detect_every > 1 && !tracking.tracking())
    std::fputs("warning: --detect-every applies to video, camera and stream sources; every image is detected\n",
               stderr);

  const StopSignals signals;
  app::RunSummary summary;
  summary.tracked = tracking.tracking();
  JsonLines lines(json.get());
  const app::Stopwatch run_clock;
  std::optional<std::int64_t> total = source->frame_count();
  if (total && options.max_frames > 0 && *total > options.max_frames) total = options.max_frames;
  app::Progress progress(total, options.progress);
  std::optional<std::string> failure;  // a live source that stopped

  // Capture and decode on a thread of their own, ahead of inference (docs/performance.md). Live sources drop
  // the oldest queued frame when inference falls behind (streams queue 8 frames to absorb network bursts);
  // files never drop one.
  const std::size_t queued = source->kind() == video::SourceKind::stream ? 8 : 2;
  video::FramePipeline pipeline([&source](video::Frame& next) { return source->read(next); },
                                {.capacity = queued, .drop_oldest = source->is_live()});
  video::PipelineItem item;
  video::Frame& frame = item.frame;
  std::int64_t handled = 0;
  while (g_stop == 0 && (options.max_frames <= 0 || summary.frames < options.max_frames)) {
    pipeline.recycle(item);
    if (!pipeline.next(item)) break;
    app::Stopwatch watch;
    const video::ReadStatus status = item.status;
    if (status == video::ReadStatus::end) break;
    if (status == video::ReadStatus::failed) {
      if (g_stop != 0) break;  // interrupted while waiting for a frame
      failure = fmt::format("{} stopped delivering frames after {} frames", source->description(), summary.frames);
      if (const auto outage = live ? live->final_outage() : std::nullopt; outage && outage->attempts > 0)
        *failure += fmt::format("; gave up after {} reopen attempt(s) over {:.1f} s (last error: {})", outage->attempts,
                                outage->duration_s, outage->error);
      break;
    }
    ++handled;
    if (status == video::ReadStatus::unreadable) {
      progress.pause();
      std::fprintf(stderr, "warning: cannot read image '%s': not a decodable image; skipped\n", frame.path.c_str());
      ++summary.unreadable;
      continue;
    }
    summary.add_time(app::Stage::decode, item.read_ms);

    FrameInfo info;
    const FrameResult result = tracking.process(frame, info);
    summary.add_result(result);

    watch.restart();
    if (!options.no_draw) draw_results(frame.bgr, result, draw);
    summary.add_time(app::Stage::draw, watch.elapsed_ms());

    watch.restart();
    if (sink) sink->write(frame, frame.bgr);
    if (json) lines.add(result, info, tracking.events());
    summary.add_time(app::Stage::encode, watch.elapsed_ms());

    if (options.show) {
      cv::imshow("maskdetect", frame.bgr);
      const int key = cv::waitKey(1);
      if (key == 'q' || key == 27) break;
    }
    progress.update(handled);
  }
  if (live) live->stop();
  pipeline.stop();
  progress.finish();
  tracking.finish();  // people still in view end with the run
  lines.add_events(tracking.events());
  lines.flush();

  if (sink) {
    sink->close();  // drains the queue; a write error of the writer thread is thrown here (exit 5, naming the file)
    // The encode stage: the loop's own time (queueing, JSON) plus the writer thread's, per frame.
    summary.stage_total_ms[static_cast<std::size_t>(app::Stage::encode)] += sink->stats().write_ms;
  }
  if (json) json->flush();
  summary.wall_s = run_clock.elapsed_ms() / 1000.0;
  if (options.show) cv::destroyAllWindows();

  if (failure) std::fprintf(stderr, "error: %s\n", failure->c_str());
  if (g_stop != 0) std::fputs("interrupted: stopping\n", stderr);
  summary.people = tracking.people();
  std::fputs(summary.format().c_str(), stderr);
  if (live) {
    const video::ReconnectStatus status = live->status();
    std::fprintf(stderr, "summary: outages %lld, downtime %.1f s\n", static_cast<long long>(status.outages),
                 status.downtime_s);
  }
  if (sink) {
    const video::SinkStats stats = sink->stats();
    const double frames = static_cast<double>(std::max<std::int64_t>(stats.frames, 1));
    std::fprintf(stderr,
                 "output: %s; %lld frames written on a thread of their own, %.2f ms each, the loop waited %.2f ms per "
                 "frame for room\n",
                 sink->description().c_str(), static_cast<long long>(stats.frames), stats.write_ms / frames,
                 stats.wait_ms / frames);
  }
  if (!options.summary.empty()) write_summary(options.summary, summary, *source, live);

  if (failure) return kExitIo;
  if (summary.unreadable > 0) {
    std::fprintf(stderr, "error: %lld image(s) of %s could not be read\n", static_cast<long long>(summary.unreadable),
                 source->description().c_str());
    return kExitBadInput;
  }
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* run = app.add_subcommand("run", "Detect faces and masks on a source; annotated output and JSON Lines");
  run->add_option("--source,-s", options->source,
                  "Camera index (0) or device (/dev/video0), video file, rtsp/http URL, image, folder, or glob "
                  "(dir/*.jpg). Default: the built-in demo images");
  run->add_option("--output,-o", options->output,
                  "Annotated output: a folder (images under their names) or a video file (.mp4, .avi). "
                  "Default for the demo: ./maskdetect-out");
  run->add_option("--json", options->json,
                  "JSON Lines results to FILE, or - for stdout (the default when no "
                  "--output is given)")
      ->type_name("FILE|-");
  run->add_flag("--show", options->show, "Show the annotated frames in a window (q or Esc to stop)");
  run->add_option("--max-frames", options->max_frames, "Stop after N frames (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  run->add_flag("--no-draw", options->no_draw, "Write frames without boxes");
  run->add_option("--output-preset", options->output_preset,
                  "x264 preset of an .mp4 --output: ultrafast (fastest, largest file), superfast, veryfast, faster, "
                  "fast, medium (OpenCV's), slow; same quality (crf 23), encoding time against file size "
                  "(docs/performance.md)")
      ->check(CLI::IsMember(
          {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}))
      ->capture_default_str();
  run->add_flag("--force", options->force, "Overwrite existing output files");
  run->add_option("--detect-every", options->detect_every,
                  "Video, camera, stream: run the detector on every N-th frame only and track faces in between "
                  "(faster; docs/tracking.md)")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  run->add_option("--summary", options->summary,
                  "Write the end-of-run summary (people per label, mask removals, alerts, compliance, face-frames, "
                  "timings, fps) as JSON to FILE")
      ->type_name("FILE");
  run->add_flag("--progress", options->progress, "Show progress on stderr even when it is not a terminal");
  app::add_people_options(*run, options->people);
  run->add_option("--max-retries", options->max_retries,
                  "Live sources (camera, stream URL): reopen attempts per outage, 1 s doubling to 30 s apart, "
                  "before giving up with exit 5 (-1: forever; files are never retried)")
      ->check(CLI::Range(-1, 1000000))
      ->capture_default_str();
  run->callback(
      [options, &context] { context.action = [options, &context] { return run_run(*options, context.config); }; });
}

}  // namespace maskdetect::cli
