#include "stream_hub.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"
#include "history_store.hpp"
#include "maskdetect/annotate.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/tracker.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "maskdetect/video/pipeline.hpp"
#include "state.hpp"

namespace maskdetect::server {

namespace {

/// The tracker is started again (person ids continue) once nobody is tracked and this many people ended:
/// it keeps every ended person, so a server running for months would otherwise grow without bound.
constexpr std::int64_t kPeoplePerTracker = 256;

/// A live camera that has sent no frame for this long (an outage, a frozen stream) ends everyone it tracked:
/// they are counted and reported now, not when frames come back, and come back as new people.
constexpr std::chrono::seconds kNoFramesEndsPeople{5};

}  // namespace

/// A confirmed track as last matched: what on_track needs when it ends (the person may be gone from the
/// current frame, so the frame and the other faces are those of its latest match).
struct detail::TrackedPerson {
  Track track;
  cv::Mat frame;  ///< the clean frame of its latest match (shared, never written)
  std::vector<cv::Rect> others;
  double unix_offset = 0.0;  ///< Unix time minus tracker time at that frame
  double arrived = 0.0;      ///< Unix time the track was confirmed: the minute the history counts it in
  MaskLabel counted_as = MaskLabel::no_mask;  ///< its vote then (the history moves it to the final vote)
};

namespace {

cv::Rect pixel_box(const cv::Rect2f& box, const cv::Mat& frame) {
  const cv::Rect r(static_cast<int>(std::lround(box.x)), static_cast<int>(std::lround(box.y)),
                   static_cast<int>(std::lround(box.width)), static_cast<int>(std::lround(box.height)));
  return r & cv::Rect(0, 0, frame.cols, frame.rows);
}

PersonTrack to_person_track(const std::string& camera, std::int64_t id_offset, const detail::TrackedPerson& p) {
  PersonTrack out;
  out.camera = camera;
  out.track_id = id_offset + p.track.id;
  out.label = std::string(to_string(p.track.label));
  out.confidence = p.track.confidence;
  out.first_seen = p.track.first_seen + p.unix_offset;
  out.last_seen = p.track.last_seen + p.unix_offset;
  out.box = pixel_box(p.track.box, p.frame);
  out.others = p.others;
  out.crop = p.track.best_crop;
  out.frame = p.frame;
  return out;
}

}  // namespace

struct StreamHub::Source {
  std::size_t id = 0;
  std::string name;
  std::string spec;
  std::string description;
  double fps_cap = 0.0;
  std::unique_ptr<video::FrameSource> frames;       ///< files: reopened at each end (they loop)
  std::shared_ptr<video::ReconnectingSource> live;  ///< cameras and streams: never reset, reopen themselves
  std::unique_ptr<Detector> detector;
  std::atomic<float> threshold{0.5f};
  mutable std::mutex mutex;
  StreamFrame latest;
  std::thread thread;
  // Tracking: capture thread only.
  std::map<std::int64_t, detail::TrackedPerson> people;  ///< confirmed tracks of the previous frame, by tracker id
  std::int64_t id_offset = 0;  ///< added to tracker ids (the tracker is restarted now and then)
  std::int64_t ended_since_restart = 0;
  std::int64_t max_id = 0;
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> previous_frame;
  std::int64_t in_view = 0;
};

std::string_view StreamState::name() const noexcept {
  if (!live || status.up) return "up";
  return status.outages > 0 ? "down" : "starting";
}

StreamHub::StreamHub(const std::vector<CameraOptions>& cameras, Stats& stats, int jpeg_quality, StreamHooks hooks)
    : stats_(stats), jpeg_quality_(jpeg_quality), hooks_(std::move(hooks)) {
  for (std::size_t i = 0; i < cameras.size(); ++i) {
    const std::string& spec = cameras[i].source;
    auto source = std::make_unique<Source>();
    source->id = i;
    source->name = cameras[i].name;
    source->spec = spec;
    source->fps_cap = cameras[i].fps;
    if (video::is_live_spec(spec)) {
      video::ReconnectOptions options;
      options.policy.retry_initial_open = true;  // the server comes up without its camera, and waits for it
      options.policy.max_retries = -1;
      options.on_outage = [name = cameras[i].name](video::OutageEvent event, const video::Outage& outage) {
        if (event == video::OutageEvent::started) {
          std::fprintf(
              stderr, "serve: camera %s (%s) is down after %lld frames (%s); reconnecting (backoff 1 s to 30 s)\n",
              name.c_str(), outage.source.c_str(), static_cast<long long>(outage.frames_before), outage.error.c_str());
        } else if (event == video::OutageEvent::recovered) {
          std::fprintf(stderr, "serve: camera %s (%s) is back after an outage of %.1f s (%d reopen attempt(s))\n",
                       name.c_str(), outage.source.c_str(), outage.duration_s, outage.attempts);
        }
      };
      source->live = std::make_shared<video::ReconnectingSource>(spec, std::move(options));
      source->description = video::redact_url(source->live->description());
    } else {
      source->frames = video::open_frame_source(spec);
      source->description = video::redact_url(source->frames->description());
    }
    source->detector = std::make_unique<Detector>(cameras[i].config);
    source->threshold = cameras[i].config.detector.score_threshold;
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
  // People still tracked end with the server: counted (history, people_total) and handed to on_track once more.
  for (auto& source : sources_) {
    for (auto& [id, person] : source->people) end_person(*source, person);
    source->people.clear();
  }
}

std::string StreamHub::description(std::size_t id) const { return sources_.at(id)->description; }

const std::string& StreamHub::name(std::size_t id) const { return sources_.at(id)->name; }

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
      video::ReadStatus status = video::ReadStatus::end;
      if (frames->is_live()) {  // a live source blocks in its outages: wake up now and then to notice one
        const auto wait = pipeline->next_for(item, std::chrono::seconds(1));
        if (wait == video::FramePipeline::Wait::timeout) {
          if (!source.people.empty() && source.previous_frame &&
              Clock::now() - *source.previous_frame >= kNoFramesEndsPeople)
            end_all_people(source);
          continue;
        }
        if (wait == video::FramePipeline::Wait::item) status = item.status;
      } else if (pipeline->next(item)) {
        status = item.status;
      }
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

      // Pace file sources at their own rate (images: 10 per second), never above the camera's fps cap.
      double fps = frames->is_live() ? 0.0 : (frames->fps() > 0.0 ? frames->fps() : 10.0);
      if (source.fps_cap > 0.0 && (fps <= 0.0 || fps > source.fps_cap)) fps = source.fps_cap;
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
      // The clean frame the detector runs on is kept (events store it, without drawn boxes); boxes are drawn
      // on the frame itself for the viewers.
      const cv::Mat clean = frame.bgr.clone();
      const double t = std::chrono::duration<double>(started - source.origin).count();
      const FrameResult result = source.detector->track(clean, t);
      follow_people(source, result, clean, t);
      cv::Mat& annotated = frame.bgr;
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
      if (hooks_.history) {
        const double dt_s = source.previous_frame
                                ? std::min(2.0, std::chrono::duration<double>(started - *source.previous_frame).count())
                                : 0.0;
        hooks_.history->add_frame(source.name, unix_now(), static_cast<int>(source.in_view), dt_s);
      }
      source.previous_frame = started;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: camera %s (%s): %s\n", source.name.c_str(), source.description.c_str(), e.what());
      close_source();
      if (sleep_until(Clock::now() + std::chrono::seconds(1))) return;
    }
  }
}

void StreamHub::report(const Source& source, const detail::TrackedPerson& person) const {
  if (!hooks_.on_track) return;
  try {
    hooks_.on_track(to_person_track(source.name, source.id_offset, person));
  } catch (const std::exception& e) {  // a full disk must not stop the camera
    detail::log_line(fmt::format("camera {}: event not recorded: {}", source.name, e.what()));
  }
}

void StreamHub::end_person(Source& source, detail::TrackedPerson& person) {
  // Counted once with the final vote; the monitor sees the track a last time.
  person.track.active = false;
  stats_.add_person(source.id + 1, person.track.label);
  if (hooks_.history)
    hooks_.history->relabel_person(source.name, person.arrived, person.counted_as, person.track.label);
  report(source, person);
  ++source.ended_since_restart;
}

void StreamHub::follow_people(Source& source, const FrameResult& result, const cv::Mat& clean, double t) {
  const double unix_offset = unix_now() - t;
  const Tracker& tracker = source.detector->tracker();
  std::map<std::int64_t, detail::TrackedPerson> people;
  std::array<std::int64_t, kNumLabels> tracked{};
  std::int64_t in_view = 0;
  for (const Track& track : tracker.tracks()) {
    if (!track.confirmed) continue;
    ++tracked[static_cast<std::size_t>(track.label)];
    if (track.lost_frames <= 2) ++in_view;
    source.max_id = std::max(source.max_id, track.id);
    auto previous = source.people.find(track.id);
    detail::TrackedPerson person;
    if (previous == source.people.end()) {  // newly confirmed: counted in the history now, moved if the vote changes
      person.arrived = t + unix_offset;
      person.counted_as = track.label;
      if (hooks_.history) hooks_.history->add_person(source.name, person.arrived, track.label);
    } else {
      person.arrived = previous->second.arrived;
      person.counted_as = previous->second.counted_as;
    }
    if (track.lost_frames == 0 || previous == source.people.end()) {
      person.frame = clean;
      person.unix_offset = unix_offset;
      const cv::Rect box = pixel_box(track.box, clean);
      for (const Face& face : result.faces) {
        const cv::Rect other = pixel_box(face.box, clean);
        if ((other & box).area() * 2 < box.area()) person.others.push_back(other);
      }
      person.track = track;
    } else {  // not matched in this frame: keep the box of its latest match (the one in person.frame)
      person = std::move(previous->second);
      const cv::Rect2f box = person.track.box;
      person.track = track;
      person.track.box = box;
    }
    if (track.lost_frames == 0) report(source, person);  // rules decide when a person seen long enough is an event
    people.emplace(track.id, std::move(person));
  }
  for (auto& [id, person] : source.people) {
    if (people.contains(id)) continue;
    end_person(source, person);
  }
  source.people = std::move(people);
  source.in_view = in_view;
  stats_.set_tracked(source.id + 1, tracked, in_view);
  if (tracker.tracks().empty() && source.ended_since_restart >= kPeoplePerTracker) restart_tracker(source);
}

void StreamHub::restart_tracker(Source& source) {
  source.detector->set_tracking(TrackingOptions{});
  source.id_offset += source.max_id;
  source.max_id = 0;
  source.ended_since_restart = 0;
}

void StreamHub::end_all_people(Source& source) {
  for (auto& [id, person] : source.people) end_person(source, person);
  source.people.clear();
  source.in_view = 0;
  stats_.set_tracked(source.id + 1, {}, 0);
  restart_tracker(source);  // its tracks would otherwise go on, and be counted again, when frames return
  detail::log_line(fmt::format("camera {}: no frame for {} s, the people it tracked are counted as gone", source.name,
                               kNoFramesEndsPeople.count()));
}

}  // namespace maskdetect::server
