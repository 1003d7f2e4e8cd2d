#include "stream_hub.hpp"

#include <algorithm>
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
#include "maskdetect/error.hpp"
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
  CameraOptions options;
  double fps_cap = 0.0;
  std::unique_ptr<video::FrameSource> frames;       ///< files: reopened at each end (they loop)
  std::shared_ptr<video::ReconnectingSource> live;  ///< cameras and streams: never reset, reopen themselves
  std::unique_ptr<Detector> detector;
  std::atomic<float> threshold{0.5f};
  std::atomic<std::int64_t> analysed{0};  ///< frames analysed since added
  bool removed = false;                   ///< remove() asked it to end (guarded by stop_mutex_)
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
  for (const CameraOptions& camera : cameras) (void)add(camera);
}

StreamHub::~StreamHub() { stop(); }

std::size_t StreamHub::add(const CameraOptions& camera) {
  const std::lock_guard adding(add_mutex_);
  {
    const std::lock_guard lock(stop_mutex_);
    if (stopping_) throw Error(Errc::bad_input, fmt::format("camera {}: the server is stopping", camera.name));
  }
  if (find(camera.name)) throw Error(Errc::bad_input, fmt::format("camera {} is already running", camera.name));
  const std::string& spec = camera.source;
  auto source = std::make_shared<Source>();
  source->name = camera.name;
  source->spec = spec;
  source->options = camera;
  source->fps_cap = camera.fps;
  source->id_offset = camera.first_track_id;
  if (video::is_live_spec(spec)) {
    video::ReconnectOptions options;
    options.policy.retry_initial_open = true;  // the server comes up without its camera, and waits for it
    options.policy.max_retries = -1;
    options.on_outage = [name = camera.name](video::OutageEvent event, const video::Outage& outage) {
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
  source->detector = std::make_unique<Detector>(camera.config);
  source->threshold = camera.config.detector.score_threshold;
  source->id = stats_.add_camera(camera.name) - 1;
  const std::unique_lock lock(sources_mutex_);
  sources_.emplace(source->id, source);
  if (started_) start_thread(source);
  return source->id;
}

bool StreamHub::remove(std::string_view name) {
  std::shared_ptr<Source> source;
  {
    const std::lock_guard adding(add_mutex_);
    const std::unique_lock lock(sources_mutex_);
    const auto it =
        std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) { return s.second->name == name; });
    if (it == sources_.end()) return false;
    source = it->second;
    sources_.erase(it);
  }
  {
    const std::lock_guard lock(stop_mutex_);
    source->removed = true;
  }
  stop_cv_.notify_all();
  if (source->live) source->live->stop();  // ends a backoff wait at once
  if (source->thread.joinable()) source->thread.join();
  // As at an outage: everyone it tracked ends now (counted, reported a last time).
  for (auto& [id, person] : source->people) end_person(*source, person);
  source->people.clear();
  stats_.set_tracked(source->id + 1, {}, 0);
  stats_.set_active(source->id + 1, false);
  return true;
}

void StreamHub::start_thread(const std::shared_ptr<Source>& source) {
  source->thread = std::thread([this, s = source.get()] { capture(*s); });
}

void StreamHub::start() {
  const std::unique_lock lock(sources_mutex_);
  if (started_) return;
  started_ = true;
  for (auto& [id, source] : sources_) start_thread(source);
}

void StreamHub::stop() {
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  std::vector<std::shared_ptr<Source>> sources;
  {
    const std::lock_guard adding(add_mutex_);  // no add() or remove() half done
    const std::shared_lock lock(sources_mutex_);
    for (const auto& [id, source] : sources_) sources.push_back(source);
  }
  for (auto& source : sources) {
    if (source->live) source->live->stop();  // ends a backoff wait at once
  }
  for (auto& source : sources) {
    if (source->thread.joinable()) source->thread.join();
  }
  // People still tracked end with the server: counted (history, people_total) and handed to on_track once more.
  for (auto& source : sources) {
    for (auto& [id, person] : source->people) end_person(*source, person);
    source->people.clear();
  }
}

bool StreamHub::ending(const Source& source) const {
  const std::lock_guard lock(stop_mutex_);
  return stopping_ || source.removed;
}

std::shared_ptr<StreamHub::Source> StreamHub::source(std::size_t id) const {
  const std::shared_lock lock(sources_mutex_);
  const auto it = sources_.find(id);
  return it == sources_.end() ? nullptr : it->second;
}

std::vector<std::size_t> StreamHub::ids() const {
  const std::shared_lock lock(sources_mutex_);
  std::vector<std::size_t> out;
  out.reserve(sources_.size());
  for (const auto& [id, source] : sources_) out.push_back(id);
  return out;
}

std::size_t StreamHub::size() const {
  const std::shared_lock lock(sources_mutex_);
  return sources_.size();
}

bool StreamHub::contains(std::size_t id) const { return source(id) != nullptr; }

std::optional<std::size_t> StreamHub::find(std::string_view name) const {
  const std::shared_lock lock(sources_mutex_);
  for (const auto& [id, source] : sources_)
    if (source->name == name) return id;
  return std::nullopt;
}

std::optional<CameraOptions> StreamHub::camera(std::size_t id) const {
  const auto s = source(id);
  if (!s) return std::nullopt;
  return s->options;
}

std::int64_t StreamHub::frames(std::size_t id) const {
  const auto s = source(id);
  return s ? s->analysed.load() : 0;
}

std::string StreamHub::description(std::size_t id) const {
  const auto s = source(id);
  return s ? s->description : std::string();
}

std::string StreamHub::name(std::size_t id) const {
  const auto s = source(id);
  return s ? s->name : std::string();
}

StreamFrame StreamHub::latest(std::size_t id) const {
  const auto s = source(id);
  if (!s) return {};
  const std::lock_guard lock(s->mutex);
  return s->latest;
}

float StreamHub::threshold(std::size_t id) const {
  const auto s = source(id);
  return s ? s->threshold.load() : 0.0f;
}

StreamState StreamHub::state(std::size_t id) const {
  const auto s = source(id);
  StreamState state;
  if (s && s->live) {
    state.live = true;
    state.status = s->live->status();
  }
  return state;
}

void StreamHub::set_threshold(std::size_t id, float threshold) {
  if (const auto s = source(id)) s->threshold = threshold;
}

void StreamHub::capture(Source& source) {
  using Clock = std::chrono::steady_clock;
  std::int64_t frame_index = 0;
  float applied_threshold = -1.0f;
  auto next_frame = Clock::now();
  // Sleeps until `until` or stop(); true when stopping.
  auto sleep_until = [this, &source](Clock::time_point until) {
    std::unique_lock lock(stop_mutex_);
    return stop_cv_.wait_until(lock, until, [this, &source] { return stopping_ || source.removed; });
  };
  // Capture and decode run on the pipeline's own thread, ahead of inference on this one (live sources
  // drop the oldest frame when inference falls behind). It reads source.frames, so it goes first.
  std::unique_ptr<video::FramePipeline> pipeline;
  auto close_source = [&] {
    pipeline.reset();
    source.frames.reset();
  };
  for (;;) {
    if (ending(source)) return;
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
      // The fleet: not before this camera's start time, nor once this worker's lease is in doubt.
      if (Clock::now() < source.options.not_before || (hooks_.may_analyse && !hooks_.may_analyse())) {
        if (sleep_until(Clock::now() + std::chrono::milliseconds(50))) return;
        continue;
      }

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
      // A lease that ran out during the analysis: its results are not used (another worker may own it now).
      if (hooks_.may_analyse && !hooks_.may_analyse()) continue;
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
      ++source.analysed;
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
