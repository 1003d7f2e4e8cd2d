#include "stream_hub.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"
#include "history_store.hpp"
#include "maskdetect/annotate.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/people.hpp"
#include "maskdetect/tracker.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "maskdetect/video/pipeline.hpp"
#include "state.hpp"

namespace maskdetect::server {

namespace {

/// A live camera that has sent no frame for this long (an outage, a frozen stream) ends everyone it tracked:
/// they are counted and reported now, not when frames come back, and come back as new people.
constexpr std::chrono::seconds kNoFramesEndsPeople{5};

/// Faces of the latest frames kept per camera (by frame time), so that an alert about a face of an earlier frame
/// can still blur the other faces of that frame (privacy: blur).
constexpr std::size_t kRecentFrames = 64;

/// After a viewer asked for an annotated frame, the capture thread encodes every frame for this long.
constexpr std::chrono::seconds kViewerWindow{3};

cv::Rect pixel_box(const cv::Rect2f& box, cv::Size size) {
  const cv::Rect r(static_cast<int>(std::lround(box.x)), static_cast<int>(std::lround(box.y)),
                   static_cast<int>(std::lround(box.width)), static_cast<int>(std::lround(box.height)));
  return r & cv::Rect(0, 0, size.width, size.height);
}

/// The minutes (Unix seconds, multiples of 60) of a visit and, for each, the label held longest in it, from the
/// person's state timeline (`ended` events). A visit without a timeline counts in the minute it began, by `label`.
std::map<std::int64_t, MaskLabel> minutes_of(const PersonEvent& ended, double unix_offset) {
  std::map<std::int64_t, std::array<double, kNumLabels>> seconds;
  for (const StateSpan& span : ended.states) {
    double from = span.start + unix_offset;
    const double to = std::max(from, span.end + unix_offset);
    do {  // a zero-length span still puts the person in its minute
      const double minute = std::floor(from / 60.0) * 60.0;
      const double until = std::min(to, minute + 60.0);
      seconds[static_cast<std::int64_t>(minute)][static_cast<std::size_t>(span.state)] += until - from;
      from = until;
    } while (from < to);
  }
  std::map<std::int64_t, MaskLabel> out;
  for (const auto& [minute, s] : seconds) {
    MaskLabel best = ended.label;  // ties: the label held longest over the visit
    for (std::size_t i = 0; i < kNumLabels; ++i)
      if (s[i] > s[static_cast<std::size_t>(best)]) best = static_cast<MaskLabel>(i);
    out.emplace(minute, best);
  }
  if (out.empty())
    out.emplace(static_cast<std::int64_t>(std::floor((ended.person.first_seen + unix_offset) / 60.0) * 60.0),
                ended.label);
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
  // People (the Detector's maskdetect::People): capture thread only, or after it is joined.
  std::map<std::int64_t, MaskLabel> people;  ///< counted people still live, by person id: their current state
  std::deque<std::pair<double, std::vector<cv::Rect>>> recent;  ///< faces of the latest frames, by frame time
  DrawOptions draw;                                             ///< tracked drawing, the camera's ignore zones
  std::int64_t id_offset = 0;  ///< added to person ids (the fleet: unique per camera across its owners)
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> previous_frame;
  std::int64_t in_view = 0;
  // The latest frame (guarded by `mutex`): drawn and encoded only while someone watches (latest()).
  cv::Mat latest_clean;
  FrameResult latest_result;
  std::shared_ptr<const std::string> latest_jpeg;  ///< the JPEG of latest.seq, once encoded
  std::uint64_t latest_jpeg_seq = 0;
  /// Until when the capture thread encodes each frame itself (a viewer asked for one in the last seconds).
  std::atomic<std::chrono::steady_clock::rep> jpeg_wanted_until{0};
  /// Seconds since `origin`: the time the Detector is given.
  [[nodiscard]] double now_t() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - origin).count();
  }
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
  // People keep the frame of each one's latest face (events' snapshots): the frames given are never written.
  source->detector->set_tracking(TrackingOptions{.detect_every = camera.detect_every, .keep_frames = true});
  source->draw = DrawOptions{.tracked = true, .others = OtherFaces::faint};
  for (const Zone& zone : camera.config.people.ignore_zones) source->draw.zones.emplace_back(zone);
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
  // As at an outage: everyone it tracked ends now (counted).
  end_all_people(*source);
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
  // People still tracked end with the server: counted (history, people_total).
  for (auto& source : sources) end_all_people(*source);
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

StreamFrame StreamHub::latest(std::size_t id, bool jpeg) const {
  const auto s = source(id);
  if (!s) return {};
  // Viewers are watching: the capture thread encodes the next frames itself, for a few seconds.
  if (jpeg) s->jpeg_wanted_until = (std::chrono::steady_clock::now() + kViewerWindow).time_since_epoch().count();
  StreamFrame frame;
  cv::Mat clean;
  FrameResult result;
  {
    const std::lock_guard lock(s->mutex);
    frame = s->latest;
    if (!jpeg || frame.seq == 0) return frame;
    if (s->latest_jpeg_seq == frame.seq) {
      frame.jpeg = s->latest_jpeg;
      return frame;
    }
    clean = s->latest_clean;
    result = s->latest_result;
  }
  // Not encoded yet (the first request after a while): drawn and encoded here, once.
  frame.jpeg = annotated_jpeg(*s, clean, result);
  const std::lock_guard lock(s->mutex);
  if (s->latest_jpeg_seq < frame.seq) {
    s->latest_jpeg = frame.jpeg;
    s->latest_jpeg_seq = frame.seq;
  }
  return frame;
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
              Clock::now() - *source.previous_frame >= kNoFramesEndsPeople) {
            end_all_people(source);
            detail::log_line(fmt::format("camera {}: no frame for {} s, the people it tracked are counted as gone",
                                         source.name, kNoFramesEndsPeople.count()));
          }
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
      // The clean frame the detector runs on is kept, never written (people's snapshots share it); the viewers'
      // frame is drawn on a copy of it when someone asks for it (latest()).
      const cv::Mat clean = frame.bgr.clone();
      const double t = std::chrono::duration<double>(started - source.origin).count();
      FrameResult result = source.detector->track(clean, t);
      // A lease that ran out during the analysis: its results are not used (another worker may own it now).
      if (hooks_.may_analyse && !hooks_.may_analyse()) continue;
      follow_people(source, result, t);
      auto json = std::make_shared<const std::string>(to_json(result, FrameInfo{.image = {}, .frame = frame_index++}));
      stats_.add_frame(source.id + 1, result,
                       std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      // Someone watches: encoded here, so that viewers never wait for it; else only when asked (latest()).
      std::shared_ptr<const std::string> jpeg;
      if (Clock::now().time_since_epoch().count() < source.jpeg_wanted_until.load())
        jpeg = annotated_jpeg(source, clean, result);
      {
        const std::lock_guard lock(source.mutex);
        source.latest = StreamFrame{source.latest.seq + 1, jpeg, std::move(json)};
        source.latest_clean = clean;
        source.latest_result = std::move(result);
        if (jpeg) {
          source.latest_jpeg = std::move(jpeg);
          source.latest_jpeg_seq = source.latest.seq;
        }
      }
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

std::shared_ptr<const std::string> StreamHub::annotated_jpeg(const Source& source, const cv::Mat& clean,
                                                             const FrameResult& result) const {
  cv::Mat annotated = clean.clone();
  draw_results(annotated, result, source.draw);
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", annotated, bytes, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality_});
  return std::make_shared<const std::string>(bytes.begin(), bytes.end());
}

void StreamHub::report(const Source& source, const PersonEvent& alert, double unix_offset) const {
  if (!hooks_.on_track) return;
  const Person& p = alert.person;
  PersonTrack out;
  out.camera = source.name;
  out.track_id = source.id_offset + p.id;
  out.label = std::string(to_string(alert.label));
  out.confidence = p.vote_confidence;
  out.first_seen = p.first_seen + unix_offset;
  out.last_seen = p.last_seen + unix_offset;
  out.frame = p.frame;  // the frame of the person's latest face, which `box` is in
  out.frame_size = p.frame_size.empty() ? p.frame.size() : p.frame_size;
  out.box = pixel_box(p.box, out.frame_size);
  for (const auto& [t, faces] : source.recent) {  // the other faces of that frame (blurred under privacy: blur)
    if (t != p.box_t) continue;
    for (const cv::Rect& other : faces)
      if ((other & out.box).area() * 2 < out.box.area()) out.others.push_back(other);
  }
  out.crop = p.best_crop;
  if (alert.previous_state) out.previous_label = std::string(to_string(*alert.previous_state));
  try {
    hooks_.on_track(out);
  } catch (const std::exception& e) {  // a full disk must not stop the camera
    detail::log_line(fmt::format("camera {}: event not recorded: {}", source.name, e.what()));
  }
}

void StreamHub::route(Source& source, const std::vector<PersonEvent>& events, double unix_offset) {
  for (const PersonEvent& e : events) {
    switch (e.kind) {
      case PersonEventKind::counted:
      case PersonEventKind::state_changed:
        source.people[e.person.id] = e.label;  // live counts by current state
        break;
      case PersonEventKind::alert:
        report(source, e, unix_offset);
        break;
      case PersonEventKind::ended:
        source.people.erase(e.person.id);
        stats_.add_person(source.id + 1, e.label);  // the label held longest over the visit
        if (hooks_.history) {
          for (const auto& [minute, label] : minutes_of(e, unix_offset))
            hooks_.history->add_person(source.name, static_cast<double>(minute), label);
        }
        break;
    }
  }
}

void StreamHub::publish_people(Source& source, std::int64_t in_view) {
  std::array<std::int64_t, kNumLabels> tracked{};
  for (const auto& [id, state] : source.people) ++tracked[static_cast<std::size_t>(state)];
  source.in_view = in_view;
  stats_.set_tracked(source.id + 1, tracked, in_view);
}

void StreamHub::follow_people(Source& source, const FrameResult& result, double t) {
  const double unix_offset = unix_now() - t;
  std::vector<cv::Rect> faces;
  std::set<std::int64_t> in_view;  // counted people with a face in this frame
  for (const Face& face : result.faces) {
    faces.push_back(pixel_box(face.box, result.frame_size));
    if (face.counted && face.track_id >= 0) in_view.insert(face.track_id);
  }
  source.recent.emplace_back(t, std::move(faces));
  while (source.recent.size() > kRecentFrames) source.recent.pop_front();
  route(source, source.detector->people().events(), unix_offset);
  publish_people(source, static_cast<std::int64_t>(in_view.size()));
}

void StreamHub::end_all_people(Source& source) {
  const double t = source.now_t();
  source.detector->end_tracking(t);  // `ended` for everyone; the next frame starts a new tracker, ids go on
  route(source, source.detector->people().events(), unix_now() - t);
  source.people.clear();
  source.recent.clear();
  publish_people(source, 0);
}

}  // namespace maskdetect::server
