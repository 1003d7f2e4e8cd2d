#include "bench/bench.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include <time.h>

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "bench/aizoo.hpp"
#include "bench/frames.hpp"
#include "maskdetect/maskdetect.hpp"
#include "maskdetect/video/pipeline.hpp"

namespace maskdetect::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// CPU time of the calling thread: unlike wall time, barely inflated when other processes load the machine.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

/// Inference on one decoded frame: our Detector or the AIZOO peer.
using Infer = std::function<FrameResult(const cv::Mat&)>;

struct LoopStats {
  std::int64_t frames = 0;
  double wall_ms = 0.0;
  double decode = 0.0, detect = 0.0, classify = 0.0, draw = 0.0, encode = 0.0;
  std::int64_t faces = 0;
  std::int64_t batches = 0;  // frames with at least one face
  double classify_in_batches = 0.0;
  // Thread CPU time per stage (sequential runs with OpenCV at 1 thread: all work is on this thread).
  double cpu_decode = 0.0, cpu_infer = 0.0, cpu_draw = 0.0, cpu_encode = 0.0;

  [[nodiscard]] double fps() const { return wall_ms > 0.0 ? 1000.0 * static_cast<double>(frames) / wall_ms : 0.0; }
  [[nodiscard]] double mean(double total) const { return frames > 0 ? total / static_cast<double>(frames) : 0.0; }
};

constexpr int kWarmupFrames = 3;

/// infer + draw + encode for one decoded frame, timed into `stats`.
void process(cv::Mat& bgr, const Infer& infer, std::vector<unsigned char>& encoded, LoopStats& stats) {
  const double c0 = thread_cpu_ms();
  const FrameResult result = infer(bgr);
  const auto t0 = Clock::now();
  const double c1 = thread_cpu_ms();
  draw_results(bgr, result);
  const auto t1 = Clock::now();
  const double c2 = thread_cpu_ms();
  cv::imencode(".jpg", bgr, encoded, {cv::IMWRITE_JPEG_QUALITY, 90});
  const auto t2 = Clock::now();
  const double c3 = thread_cpu_ms();
  stats.cpu_infer += c1 - c0;
  stats.cpu_draw += c2 - c1;
  stats.cpu_encode += c3 - c2;
  ++stats.frames;
  stats.detect += result.times.detect_ms;
  stats.classify += result.times.classify_ms;
  stats.draw += ms_between(t0, t1);
  stats.encode += ms_between(t1, t2);
  stats.faces += static_cast<std::int64_t>(result.faces.size());
  if (!result.faces.empty()) {
    ++stats.batches;
    stats.classify_in_batches += result.times.classify_ms;
  }
}

/// Everything on the calling thread: decode, infer, draw, encode, frame after frame, for `seconds`.
LoopStats run_sequential(const FrameSet& set, double seconds, const Infer& infer) {
  cv::Mat bgr;
  std::vector<unsigned char> encoded;
  LoopStats warm;
  for (int i = 0; i < kWarmupFrames; ++i) {
    cv::imdecode(set.jpegs[static_cast<std::size_t>(i) % set.jpegs.size()], cv::IMREAD_COLOR, &bgr);
    process(bgr, infer, encoded, warm);
  }
  LoopStats stats;
  const auto start = Clock::now();
  auto now = start;
  for (std::size_t i = 0; ms_between(start, now) < seconds * 1000.0 || stats.frames < 2; ++i) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_ms();
    cv::imdecode(set.jpegs[i % set.jpegs.size()], cv::IMREAD_COLOR, &bgr);
    stats.cpu_decode += thread_cpu_ms() - c0;
    stats.decode += ms_between(t0, Clock::now());
    process(bgr, infer, encoded, stats);
    now = Clock::now();
  }
  stats.wall_ms = ms_between(start, now);
  return stats;
}

/// Decode on the pipeline's reader thread, the rest here (video::FramePipeline, never dropping).
LoopStats run_pipelined(const FrameSet& set, double seconds, const Infer& infer) {
  std::size_t next = 0;
  video::FramePipeline pipeline(
      [&set, &next](video::Frame& frame) {
        cv::imdecode(set.jpegs[next % set.jpegs.size()], cv::IMREAD_COLOR, &frame.bgr);
        frame.index = static_cast<std::int64_t>(next++);
        return video::ReadStatus::ok;
      },
      {.capacity = 2, .drop_oldest = false});
  std::vector<unsigned char> encoded;
  video::PipelineItem item;
  LoopStats warm;
  for (int i = 0; i < kWarmupFrames && pipeline.next(item); ++i) {
    process(item.frame.bgr, infer, encoded, warm);
    pipeline.recycle(item);
  }
  LoopStats stats;
  const auto start = Clock::now();
  auto now = start;
  while ((ms_between(start, now) < seconds * 1000.0 || stats.frames < 2) && pipeline.next(item)) {
    stats.decode += item.read_ms;
    process(item.frame.bgr, infer, encoded, stats);
    pipeline.recycle(item);
    now = Clock::now();
  }
  stats.wall_ms = ms_between(start, now);
  pipeline.stop();
  return stats;
}

/// N parallel pipelines: each worker decodes, infers (its own model instance), draws and encodes whole
/// frames, taking the next frame index from a shared counter.
LoopStats run_workers(const FrameSet& set, double seconds, const std::vector<Infer>& infers) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<LoopStats> stats(infers.size());
  for (std::size_t w = 0; w < infers.size(); ++w) {  // warm each instance up
    cv::Mat bgr;
    std::vector<unsigned char> encoded;
    LoopStats warm;
    for (int i = 0; i < kWarmupFrames; ++i) {
      cv::imdecode(set.jpegs[static_cast<std::size_t>(i) % set.jpegs.size()], cv::IMREAD_COLOR, &bgr);
      process(bgr, infers[w], encoded, warm);
    }
  }
  const auto start = Clock::now();
  {
    std::vector<std::jthread> workers;
    for (std::size_t w = 0; w < infers.size(); ++w) {
      workers.emplace_back([&, w] {
        cv::Mat bgr;
        std::vector<unsigned char> encoded;
        while (!stop.load()) {
          const std::size_t i = next++;
          const auto t0 = Clock::now();
          cv::imdecode(set.jpegs[i % set.jpegs.size()], cv::IMREAD_COLOR, &bgr);
          stats[w].decode += ms_between(t0, Clock::now());
          process(bgr, infers[w], encoded, stats[w]);
          if (ms_between(start, Clock::now()) >= seconds * 1000.0) stop = true;
        }
      });
    }
  }
  LoopStats total;
  total.wall_ms = ms_between(start, Clock::now());
  for (const LoopStats& s : stats) total.frames += s.frames;
  return total;
}

struct ThreadFigures {
  LoopStats one;        // sequential, OpenCV 1 thread
  LoopStats pipelined;  // 2 pipeline threads, OpenCV N-1 threads
  LoopStats cv;         // sequential, OpenCV N threads
  LoopStats workers;    // N parallel pipelines, OpenCV 1 thread
};

/// `infers`: N independent instances (one per worker); the first serves the single-pipeline runs.
ThreadFigures measure(const FrameSet& set, const BenchOptions& options, const std::vector<Infer>& infers) {
  ThreadFigures figures;
  cv::setNumThreads(1);
  figures.one = run_sequential(set, options.seconds, infers.front());
  cv::setNumThreads(std::max(1, options.threads - 1));
  figures.pipelined = run_pipelined(set, options.seconds, infers.front());
  cv::setNumThreads(options.threads);
  figures.cv = run_sequential(set, options.seconds, infers.front());
  cv::setNumThreads(1);
  figures.workers = run_workers(set, options.seconds, infers);
  return figures;
}

double best_parallel_fps(const ThreadFigures& f) { return std::max({f.pipelined.fps(), f.cv.fps(), f.workers.fps()}); }

/// {wall, CPU} ms per face of the classifier on batches of 8 crops, 1 thread.
std::pair<double, double> classifier_batch8_ms_per_face(const BenchOptions& options, double seconds) {
  const auto classifier = MaskClassifier::create(options.classifier);
  const int size = classifier->card().input_size;
  std::vector<cv::Mat> crops;
  cv::RNG rng(3);
  for (int i = 0; i < 8; ++i) {
    cv::Mat crop(size, size, CV_8UC3);
    rng.fill(crop, cv::RNG::UNIFORM, 0, 255);
    crops.push_back(crop);
  }
  cv::setNumThreads(1);
  for (int i = 0; i < 3; ++i) (void)classifier->classify_crops(crops);
  std::int64_t batches = 0;
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_ms();
  auto now = start;
  while (ms_between(start, now) < seconds * 1000.0 || batches < 3) {
    (void)classifier->classify_crops(crops);
    ++batches;
    now = Clock::now();
  }
  const auto faces = static_cast<double>(batches * 8);
  return {ms_between(start, now) / faces, (thread_cpu_ms() - cpu_start) / faces};
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = 0.0;
  in >> load;
  return load;
}

struct CaseSpec {
  std::string name;
  Config config;
  std::string detector;
  int detect_every = 0;  ///< 0: Detector::detect per frame; N >= 1: Detector::track with detect_every N
};

void fill(CaseResult& r, const ThreadFigures& f) {
  const LoopStats& s = f.one;
  r.stages.decode = s.mean(s.decode);
  r.stages.detect = s.mean(s.detect);
  r.stages.classify = s.mean(s.classify);
  r.stages.classify_per_face = s.faces > 0 ? s.classify_in_batches / static_cast<double>(s.faces) : 0.0;
  r.stages.classify_per_batch = s.batches > 0 ? s.classify_in_batches / static_cast<double>(s.batches) : 0.0;
  r.stages.draw = s.mean(s.draw);
  r.stages.encode = s.mean(s.encode);
  r.faces_detected = s.frames > 0 ? static_cast<double>(s.faces) / static_cast<double>(s.frames) : 0.0;
  r.fps_1t = s.fps();
  r.ms_per_frame = s.frames > 0 ? s.wall_ms / static_cast<double>(s.frames) : 0.0;
  r.fps_pipelined = f.pipelined.fps();
  r.fps_cv_threads = f.cv.fps();
  r.fps_workers = f.workers.fps();
  r.fps = best_parallel_fps(f);
  // CPU time per stage; detect and classify split the inference CPU time in the ratio of their wall times.
  const double infer_wall = s.detect + s.classify;
  const double detect_share = infer_wall > 0.0 ? s.detect / infer_wall : 1.0;
  r.cpu.decode = s.mean(s.cpu_decode);
  r.cpu.detect = s.mean(s.cpu_infer) * detect_share;
  r.cpu.classify = s.mean(s.cpu_infer) * (1.0 - detect_share);
  r.cpu.classify_per_face = s.faces > 0 ? s.cpu_infer * (1.0 - detect_share) / static_cast<double>(s.faces) : 0.0;
  r.cpu.classify_per_batch = s.batches > 0 ? s.cpu_infer * (1.0 - detect_share) / static_cast<double>(s.batches) : 0.0;
  r.cpu.draw = s.mean(s.cpu_draw);
  r.cpu.encode = s.mean(s.cpu_encode);
  r.cpu_ms_per_frame = r.cpu.decode + r.cpu.detect + r.cpu.classify + r.cpu.draw + r.cpu.encode;
}

}  // namespace

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::vector<CaseResult> run_bench(const BenchOptions& options) {
  const bool webcam = options.cases == "webcam" || options.cases == "all";
  const bool crowd = options.cases == "crowd" || options.cases == "all";
  const bool video = options.cases == "video" || options.cases == "all";
  // Fail before measuring anything when the crowd case's YuNet model is missing.
  if (crowd && options.yunet.empty())
    (void)find_model(kYuNetFile, "fetch it with `maskdetect models fetch yunet` or pass --yunet PATH");
  const ImagePools pools = collect_images(options.images, 64);
  std::fprintf(stderr, "bench: %zu face images, %zu annotated photos sampled; %.1f s per measurement\n",
               pools.plain.size(), pools.annotated.size(), options.seconds);

  std::vector<CaseResult> results;
  const std::pair<double, double> batch8_ms = classifier_batch8_ms_per_face(options, std::min(1.0, options.seconds));
  auto run_case = [&](const std::string& name, const FrameSet& set, const std::vector<CaseSpec>& specs) {
    std::optional<ThreadFigures> peer;
    std::size_t first = results.size();
    for (const CaseSpec& spec : specs) {
      std::fprintf(stderr, "bench: %s (%s)...\n", spec.name.c_str(), spec.detector.c_str());
      std::vector<std::unique_ptr<Detector>> detectors;
      std::vector<Infer> infers;
      for (int t = 0; t < options.threads; ++t) {
        detectors.push_back(std::make_unique<Detector>(spec.config));
        if (spec.detect_every > 0) {
          detectors.back()->set_tracking({.detect_every = spec.detect_every});
          // Frames in sequence, 25 per second of video; each worker tracks the frames it is given.
          infers.emplace_back([d = detectors.back().get(), n = std::int64_t{0}](const cv::Mat& bgr) mutable {
            return d->track(bgr, static_cast<double>(n++) / 25.0);
          });
        } else {
          infers.emplace_back([d = detectors.back().get()](const cv::Mat& bgr) { return d->detect(bgr); });
        }
      }
      CaseResult r;
      r.name = spec.name;
      r.detector = spec.detector;
      r.recipe = set.recipe;
      r.width = set.size.width;
      r.height = set.size.height;
      r.faces_placed = set.faces_placed;
      r.threads = options.threads;
      r.classify_ms_per_face_batch8 = batch8_ms.first;
      r.cpu_classify_ms_per_face_batch8 = batch8_ms.second;
      fill(r, measure(set, options, infers));
      r.peak_rss_mb = peak_rss_mb();
      results.push_back(r);
    }
    if (options.aizoo) {
      std::fprintf(stderr, "bench: %s, AIZOO peer...\n", name.c_str());
      std::vector<std::unique_ptr<AizooDetector>> peers;
      std::vector<Infer> infers;
      for (int t = 0; t < options.threads; ++t) {
        peers.push_back(std::make_unique<AizooDetector>(*options.aizoo));
        infers.emplace_back([d = peers.back().get()](const cv::Mat& bgr) { return d->detect(bgr); });
      }
      peer = measure(set, options, infers);
      for (std::size_t i = first; i < results.size(); ++i) {
        results[i].aizoo_fps_1t = peer->one.fps();
        const double aizoo_cpu =
            peer->one.mean(peer->one.cpu_decode + peer->one.cpu_infer + peer->one.cpu_draw + peer->one.cpu_encode);
        results[i].aizoo_cpu_fps = aizoo_cpu > 0.0 ? 1000.0 / aizoo_cpu : 0.0;
        results[i].aizoo_fps = best_parallel_fps(*peer);
        results[i].aizoo_faces =
            peer->one.frames > 0 ? static_cast<double>(peer->one.faces) / static_cast<double>(peer->one.frames) : 0.0;
      }
    }
  };

  if (webcam) {
    reset_peak_rss();
    const FrameSet set = make_webcam_frames(pools, options.frames);
    Config config = preset("webcam");
    config.classifier = options.classifier;
    run_case("webcam", set, {{"webcam", config, "blazeface_front 128"}});
  }
  if (video) {
    reset_peak_rss();
    const FrameSet set = make_video_frames(pools, options.frames);
    Config config = preset("webcam");
    config.classifier = options.classifier;
    run_case("video", set,
             {{"video", config, "blazeface_front 128, tracked", 1},
              {"video_every3", config, "blazeface_front 128, tracked, --detect-every 3", 3}});
  }
  if (crowd) {
    reset_peak_rss();
    const FrameSet set = make_crowd_frames(pools, options.frames);
    Config yunet = preset("crowd");
    yunet.classifier = options.classifier;
    if (!options.yunet.empty()) yunet.detector.model = options.yunet;
    Config back = preset("default");
    back.classifier = options.classifier;
    apply_tuning(back.detector, DetectorBackend::blazeface_back);  // preset("default") may be YuNet
    back.detector.tiles = 2;
    run_case("crowd", set,
             {{"crowd", yunet, "yunet 640"}, {"crowd_blazeface_tiles", back, "blazeface_back 256, 2x2 tiles + full"}});
  }
  return results;
}

std::string format_table(const std::vector<CaseResult>& results) {
  if (results.empty()) return {};
  const int threads = results.front().threads;
  std::vector<std::pair<std::string, std::function<std::string(const CaseResult&)>>> rows{
      {"detector", [](const CaseResult& r) { return r.detector; }},
      {"frame", [](const CaseResult& r) { return fmt::format("{}x{}", r.width, r.height); }},
      {"faces placed / found",
       [](const CaseResult& r) { return fmt::format("{:.1f} / {:.1f}", r.faces_placed, r.faces_detected); }},
      {"decode ms", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.decode); }},
      {"detect ms", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.detect); }},
      {"classify ms / frame", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.classify); }},
      {"classify ms / face", [](const CaseResult& r) { return fmt::format("{:.3f}", r.stages.classify_per_face); }},
      {"classify ms / batch", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.classify_per_batch); }},
      {"classify ms/face, batch 8",
       [](const CaseResult& r) { return fmt::format("{:.3f}", r.classify_ms_per_face_batch8); }},
      {"draw ms", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.draw); }},
      {"encode ms", [](const CaseResult& r) { return fmt::format("{:.2f}", r.stages.encode); }},
      {"ms / frame, 1 thread", [](const CaseResult& r) { return fmt::format("{:.2f}", r.ms_per_frame); }},
      {"fps, 1 thread", [](const CaseResult& r) { return fmt::format("{:.1f}", r.fps_1t); }},
      {fmt::format("fps, {} thr pipelined", threads),
       [](const CaseResult& r) { return fmt::format("{:.1f}", r.fps_pipelined); }},
      {fmt::format("fps, {} thr OpenCV", threads),
       [](const CaseResult& r) { return fmt::format("{:.1f}", r.fps_cv_threads); }},
      {fmt::format("fps, {} workers", threads),
       [](const CaseResult& r) { return fmt::format("{:.1f}", r.fps_workers); }},
      {"AIZOO fps, 1 thread",
       [](const CaseResult& r) { return r.aizoo_fps > 0 ? fmt::format("{:.1f}", r.aizoo_fps_1t) : std::string("-"); }},
      {fmt::format("AIZOO fps, {} threads", threads),
       [](const CaseResult& r) { return r.aizoo_fps > 0 ? fmt::format("{:.1f}", r.aizoo_fps) : std::string("-"); }},
      {"ratio fps / AIZOO fps",
       [](const CaseResult& r) {
         return r.aizoo_fps > 0 ? fmt::format("{:.2f}x", r.fps / r.aizoo_fps) : std::string("-");
       }},
      {"CPU ms: decode", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu.decode); }},
      {"CPU ms: detect", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu.detect); }},
      {"CPU ms: classify / frame", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu.classify); }},
      {"CPU ms: classify / face", [](const CaseResult& r) { return fmt::format("{:.3f}", r.cpu.classify_per_face); }},
      {"CPU ms: cls/face, batch 8",
       [](const CaseResult& r) { return fmt::format("{:.3f}", r.cpu_classify_ms_per_face_batch8); }},
      {"CPU ms: draw", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu.draw); }},
      {"CPU ms: encode", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu.encode); }},
      {"CPU ms / frame", [](const CaseResult& r) { return fmt::format("{:.2f}", r.cpu_ms_per_frame); }},
      {"fps at 1 idle core (CPU)",
       [](const CaseResult& r) {
         return fmt::format("{:.1f}", r.cpu_ms_per_frame > 0 ? 1000.0 / r.cpu_ms_per_frame : 0.0);
       }},
      {"AIZOO fps at 1 idle core",
       [](const CaseResult& r) { return r.aizoo_fps > 0 ? fmt::format("{:.1f}", r.aizoo_cpu_fps) : std::string("-"); }},
      {"peak RSS MB", [](const CaseResult& r) { return fmt::format("{:.0f}", r.peak_rss_mb); }},
  };
  std::size_t label_width = 0;
  for (const auto& row : rows) label_width = std::max(label_width, row.first.size());
  std::vector<std::size_t> widths;
  for (const CaseResult& r : results) {
    std::size_t w = r.name.size();
    for (const auto& row : rows) w = std::max(w, row.second(r).size());
    widths.push_back(w);
  }
  std::string out = fmt::format("{:<{}}", "", label_width);
  for (std::size_t c = 0; c < results.size(); ++c) out += fmt::format("  {:>{}}", results[c].name, widths[c]);
  out += '\n';
  for (const auto& row : rows) {
    out += fmt::format("{:<{}}", row.first, label_width);
    for (std::size_t c = 0; c < results.size(); ++c) out += fmt::format("  {:>{}}", row.second(results[c]), widths[c]);
    out += '\n';
  }
  out += fmt::format(
      "1 thread: decode, inference, draw, encode in turn, cv::setNumThreads(1). {0} thr pipelined: decode on a "
      "reader thread, the rest on another, cv::setNumThreads({1}). {0} thr OpenCV: in turn, cv::setNumThreads({0}). "
      "{0} workers: {0} whole pipelines in parallel, one model instance each, cv::setNumThreads(1). "
      "fps and AIZOO fps: the best {0}-thread figure. CPU: thread CPU time, 1 thread. "
      "Load average {2:.2f} on {3} cores.\n",
      threads, std::max(1, threads - 1), load_average(), std::thread::hardware_concurrency());
  return out;
}

nlohmann::json to_json(const std::vector<CaseResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  const double load = load_average();
  for (const CaseResult& r : results) {
    nlohmann::json j{
        {"name", r.name},
        {"detector", r.detector},
        {"recipe", r.recipe},
        {"width", r.width},
        {"height", r.height},
        {"faces_placed", r.faces_placed},
        {"faces_detected", r.faces_detected},
        {"decode_ms", r.stages.decode},
        {"detect_ms", r.stages.detect},
        {"classify_ms", r.stages.classify},
        {"classify_ms_per_face", r.stages.classify_per_face},
        {"classify_ms_per_batch", r.stages.classify_per_batch},
        {"classify_ms_per_face_batch8", r.classify_ms_per_face_batch8},
        {"draw_ms", r.stages.draw},
        {"encode_ms", r.stages.encode},
        {"ms_per_frame", r.ms_per_frame},
        {"fps_1_thread", r.fps_1t},
        {"fps_pipelined", r.fps_pipelined},
        {"fps_opencv_threads", r.fps_cv_threads},
        {"fps_workers", r.fps_workers},
        {"fps", r.fps},
        {"threads", r.threads},
        {"peak_rss_mb", r.peak_rss_mb},
        {"cpu_ms",
         {{"decode", r.cpu.decode},
          {"detect", r.cpu.detect},
          {"classify", r.cpu.classify},
          {"classify_per_face", r.cpu.classify_per_face},
          {"classify_per_batch", r.cpu.classify_per_batch},
          {"classify_per_face_batch8", r.cpu_classify_ms_per_face_batch8},
          {"draw", r.cpu.draw},
          {"encode", r.cpu.encode},
          {"frame", r.cpu_ms_per_frame}}},
        {"fps_cpu_1_core", r.cpu_ms_per_frame > 0.0 ? 1000.0 / r.cpu_ms_per_frame : 0.0},
        {"load_average", load},
        {"cores", std::thread::hardware_concurrency()},
        {"opencv", cv::getVersionString()},
    };
    if (r.aizoo_fps > 0.0) {
      j["aizoo_fps"] = r.aizoo_fps;
      j["aizoo_fps_1_thread"] = r.aizoo_fps_1t;
      j["aizoo_faces_detected"] = r.aizoo_faces;
      j["aizoo_ratio"] = r.fps / r.aizoo_fps;
      j["aizoo_fps_cpu_1_core"] = r.aizoo_cpu_fps;
    } else {
      j["aizoo_fps"] = nullptr;
      j["aizoo_ratio"] = nullptr;
    }
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace maskdetect::bench
