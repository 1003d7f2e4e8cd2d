#include "stream_hub.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include <opencv2/imgcodecs.hpp>

#include "maskdetect/annotate.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "maskdetect/video/pipeline.hpp"

namespace maskdetect::server {

struct StreamHub::Source {
  std::size_t id = 0;
  std::string spec;
  std::string description;
  std::unique_ptr<video::FrameSource> frames;       ///< files: reopened at each end (they loop)
  std::shared_ptr<video::ReconnectingSource> live;  ///< cameras and streams: never reset, reopen themselves
  std::unique_ptr<Detector> detector;
  std::atomic<float> threshold{0.5f};
  mutable std::mutex mutex;
  StreamFrame latest;
  std::thread thread;
};

std::vector<std::string> StreamHub::names(const std::vector<std::string>& specs) {
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const std::string& spec : specs) names.push_back(video::redact_url(spec));
  return names;
}

std::string_view StreamState::name() const noexcept {
  if (!live || status.up) return "up";
  return status.outages > 0 ? "down" : "starting";
}

StreamHub::StreamHub(const std::vector<std::string>& specs, const Config& config, Stats& stats, int jpeg_quality,
                     double max_fps)
    : stats_(stats), jpeg_quality_(jpeg_quality), max_fps_(max_fps) {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    auto source = std::make_unique<Source>();
    source->id = i;
    source->spec = specs[i];
    if (video::is_live_spec(specs[i])) {
      video::ReconnectOptions options;
      options.policy.retry_initial_open = true;  // the server comes up without its camera, and waits for it
      options.policy.max_retries = -1;
      options.on_outage = [i](video::OutageEvent event, const video::Outage& outage) {
        if (event == video::OutageEvent::started) {
          std::fprintf(stderr,
                       "serve: source %zu (%s) is down after %lld frames (%s); reconnecting (backoff 1 s to 30 s)\n", i,
                       outage.source.c_str(), static_cast<long long>(outage.frames_before), outage.error.c_str());
        } else if (event == video::OutageEvent::recovered) {
          std::fprintf(stderr, "serve: source %zu (%s) is back after an outage of %.1f s (%d reopen attempt(s))\n", i,
                       outage.source.c_str(), outage.duration_s, outage.attempts);
        }
      };
      source->live = std::make_shared<video::ReconnectingSource>(specs[i], std::move(options));
      source->description = source->live->description();
    } else {
      source->frames = video::open_frame_source(specs[i]);
      source->description = source->frames->description();
    }
    source->detector = std::make_unique<Detector>(config);
    source->threshold = config.detector.score_threshold;
    sources_.push_back(std::move(source));
  }
}

StreamHub::~StreamHub() { stop(); }

void StreamHub::start() {
  for (auto& source : sources_) source->thread = std::thread([this, s = source.get()] { capture(*s); });
}

void StreamHub::stop() {
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (auto& source : sources_) {
    if (source->live) source->live->stop();  // ends a backoff wait at once
  }
  for (auto& source : sources_) {
    if (source->thread.joinable()) source->thread.join();
  }
}

std::string StreamHub::description(std::size_t id) const { return sources_.at(id)->description; }

StreamFrame StreamHub::latest(std::size_t id) const {
  const Source& source = *sources_.at(id);
  const std::lock_guard lock(source.mutex);
  return source.latest;
}

float StreamHub::threshold(std::size_t id) const { return sources_.at(id)->threshold.load(); }

StreamState StreamHub::state(std::size_t id) const {
  const Source& source = *sources_.at(id);
  StreamState state;
  if (source.live) {
    state.live = true;
    state.status = source.live->status();
  }
  return state;
}

void StreamHub::set_threshold(std::size_t id, float threshold) { sources_.at(id)->threshold = threshold; }

void StreamHub::capture(Source& source) {
  using Clock = std::chrono::steady_clock;
  std::int64_t frame_index = 0;
  float applied_threshold = -1.0f;
  auto next_frame = Clock::now();
  // Sleeps until `until` or stop(); true when stopping.
  auto sleep_until = [this](Clock::time_point until) {
    std::unique_lock lock(stop_mutex_);
    return stop_cv_.wait_until(lock, until, [this] { return stopping_; });
  };
  // Capture and decode run on the pipeline's own thread, ahead of inference on this one (live sources
  // drop the oldest frame when inference falls behind). It reads source.frames, so it goes first.
  std::unique_ptr<video::FramePipeline> pipeline;
  auto close_source = [&] {
    pipeline.reset();
    source.frames.reset();
  };
  for (;;) {
    {
      const std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    try {
      if (!source.live && !source.frames) source.frames = video::open_frame_source(source.spec);  // files
      video::FrameSource* frames = source.live ? source.live.get() : source.frames.get();
      if (!pipeline) {
        pipeline = std::make_unique<video::FramePipeline>(
            [frames](video::Frame& f) { return frames->read(f); },
            video::PipelineOptions{.capacity = 2, .drop_oldest = frames->is_live()});
      }
      video::PipelineItem item;
      const video::ReadStatus status = pipeline->next(item) ? item.status : video::ReadStatus::end;
      video::Frame& frame = item.frame;
      if (status == video::ReadStatus::end || status == video::ReadStatus::failed) {
        // Files play on a loop. A live source waits its outages out itself: it ends only when stopped.
        const bool live = frames->is_live();
        close_source();
        if ((live || status == video::ReadStatus::failed) && sleep_until(Clock::now() + std::chrono::seconds(1)))
          return;
        continue;
      }
      if (status == video::ReadStatus::unreadable) continue;

      // Pace file sources at their own rate (images: 10 per second), never above max_fps.
      double fps = frames->is_live() ? 0.0 : (frames->fps() > 0.0 ? frames->fps() : 10.0);
      if (max_fps_ > 0.0 && (fps <= 0.0 || fps > max_fps_)) fps = max_fps_;
      if (fps > 0.0) {
        next_frame += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / fps));
        const auto now = Clock::now();
        if (next_frame < now - std::chrono::seconds(1)) next_frame = now;  // fell behind: do not burst
        if (sleep_until(next_frame)) return;
      }

      const auto started = Clock::now();
      const float threshold = source.threshold.load();
      if (threshold != applied_threshold) {
        source.detector->set_face_threshold(threshold);
        applied_threshold = threshold;
      }
      const FrameResult result = source.detector->detect(frame.bgr);
      cv::Mat annotated = frame.bgr.clone();
      draw_results(annotated, result);
      std::vector<unsigned char> jpeg;
      cv::imencode(".jpg", annotated, jpeg, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality_});
      auto json = std::make_shared<const std::string>(to_json(result, FrameInfo{.image = {}, .frame = frame_index++}));
      auto bytes = std::make_shared<const std::string>(jpeg.begin(), jpeg.end());
      {
        const std::lock_guard lock(source.mutex);
        source.latest = StreamFrame{source.latest.seq + 1, std::move(bytes), std::move(json)};
      }
      stats_.add_frame(source.id + 1, result,
                       std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: source %zu (%s): %s\n", source.id, source.description.c_str(), e.what());
      close_source();
      if (sleep_until(Clock::now() + std::chrono::seconds(1))) return;
    }
  }
}

}  // namespace maskdetect::server
