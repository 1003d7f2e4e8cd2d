// people_bench: the measuring tool behind the people figures of docs/tracking.md (not a test).
//
//   people_bench clips --out DIR
//       writes the synthetic clips of tests/support/face_clip.hpp as MJPG videos with their ground truth
//       (DIR/NAME.avi + DIR/NAME.json, the format `maskdetect eval --video` reads): people (a mask removal and a
//       poster, at 25 and 10 fps), masked (everyone masked, a masked poster), scenario (the tracking clip).
//   people_bench detect --video CLIP --out DETS.jsonl
//       the detector and classifier of the default preset (YuNet with MASKDETECT_MODEL_DIR pointing at it,
//       BlazeFace back otherwise; --detector to force one) on every frame, at the tracker's low score: every
//       face the tracker could use, as JSON Lines. The slow part, done once per clip and detector.
//   people_bench replay --dets DETS.jsonl --out RUN.jsonl [--detector yunet|blazeface_back] [--config FILE.yaml]
//                       [--detect-every N]
//       Tracker and People over those detections as Detector::track runs them (faces under the face threshold
//       kept only when they continue a person; predicted frames between detections), written as `maskdetect run
//       --json` writes them, events included: `maskdetect eval --video CLIP --predictions RUN.jsonl` scores it.
//       Milliseconds per configuration: how the people defaults were chosen across clips.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <opencv2/videoio.hpp>

#include "face_clip.hpp"
#include "maskdetect/maskdetect.hpp"

using namespace maskdetect;
using namespace maskdetect::test;

namespace {

std::map<std::string, std::string> flags(const std::vector<std::string>& args) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 1; i + 1 < args.size(); i += 2) out[args[i]] = args[i + 1];
  return out;
}

void write_clip(const Clip& clip, const std::string& dir, const std::string& name) {
  const std::string video = dir + "/" + name + ".avi";
  cv::VideoWriter writer(video, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), clip.fps, cv::Size(640, 480));
  if (!writer.isOpened()) throw std::runtime_error("cannot write " + video);
  for (const cv::Mat& frame : clip.frames) writer.write(frame);
  std::ofstream(dir + "/" + name + ".json") << truth_json(clip, name + ".avi") << "\n";
  std::printf("%s: %zu frames at %.0f fps, %zu people\n", video.c_str(), clip.frames.size(), clip.fps,
              clip.people.size());
}

int clips(const std::string& dir) {
  Detector detector(scenario_config());
  write_clip(make_people_scenario(detector, 25.0), dir, "people");
  write_clip(make_people_scenario(detector, 10.0), dir, "people10");
  write_clip(make_masked_scenario(detector), dir, "masked");
  write_clip(make_scenario(detector), dir, "scenario");
  return 0;
}

int detect(const std::string& video, const std::string& out_path, const std::string& backend) {
  Config config = preset("default");
  if (backend == "yunet" || backend == "blazeface_back") {
    apply_tuning(config.detector, backend == "yunet" ? DetectorBackend::yunet : DetectorBackend::blazeface_back);
  }
  Detector detector(config);
  detector.set_face_threshold(std::min(config.detector.score_threshold, TrackerOptions{}.low_score));
  cv::VideoCapture capture(video);
  if (!capture.isOpened()) throw std::runtime_error("cannot open " + video);
  const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
  std::ofstream out(out_path);
  cv::Mat frame;
  std::int64_t index = 0;
  double ms = 0.0;
  while (capture.read(frame)) {
    const FrameResult r = detector.detect(frame);
    ms += r.times.detect_ms + r.times.classify_ms;
    out << to_json(r, FrameInfo{.frame = index, .t = static_cast<double>(index) / fps}) << "\n";
    ++index;
  }
  std::printf("%s: %lld frames, %s, %.1f ms per frame (detect + classify)\n", out_path.c_str(),
              static_cast<long long>(index), std::string(to_string(config.detector.backend)).c_str(),
              index > 0 ? ms / static_cast<double>(index) : 0.0);
  return 0;
}

int replay(const std::string& dets, const std::string& out_path, const std::string& config_path, int every,
           const std::string& backend) {
  Config config = preset("default");
  if (backend == "yunet" || backend == "blazeface_back")
    apply_tuning(config.detector, backend == "yunet" ? DetectorBackend::yunet : DetectorBackend::blazeface_back);
  if (!config_path.empty()) config = load_config(config_path, config);
  const float threshold = config.detector.score_threshold;
  Tracker tracker;
  People people(people_config(config));
  std::ifstream in(dets);
  if (!in) throw std::runtime_error("cannot read " + dets);
  std::ofstream out(out_path);
  std::string line;
  std::int64_t index = 0;
  std::optional<std::pair<FrameRecord, std::vector<PersonEvent>>> pending;
  double t = 0.0;
  while (std::getline(in, line)) {
    FrameRecord record = frame_from_json(line, dets);
    t = record.info.t.value_or(0.0);
    std::vector<Face>& faces = record.result.faces;
    if (index++ % every == 0) {
      tracker.update(faces, t);
      people.update(tracker, faces, t, record.result.frame_size);
    } else {
      faces = tracker.predict();
      people.update_predicted(tracker, faces, t);
    }
    std::erase_if(faces, [threshold](const Face& f) { return f.track_id < 0 && f.face_score < threshold; });
    if (pending) out << to_json(pending->first.result, pending->first.info, {}, pending->second) << "\n";
    pending.emplace(std::move(record), people.events());
  }
  people.finish(t);
  if (pending) {
    pending->second.insert(pending->second.end(), people.events().begin(), people.events().end());
    out << to_json(pending->first.result, pending->first.info, {}, pending->second) << "\n";
  }
  const PeopleSummary s = people.summary();
  std::printf(
      "%s: people %lld (mask %lld, no_mask %lld, incorrect %lld), removals %lld, alerts %lld; not counted: "
      "weak %lld, small %lld, stationary %lld, brief %lld\n",
      out_path.c_str(), static_cast<long long>(s.total), static_cast<long long>(s.longest[0]),
      static_cast<long long>(s.longest[1]), static_cast<long long>(s.longest[2]),
      static_cast<long long>(s.mask_removals), static_cast<long long>(s.alerts[0] + s.alerts[1] + s.alerts[2]),
      static_cast<long long>(s.rejected_score), static_cast<long long>(s.rejected_size),
      static_cast<long long>(s.rejected_stationary), static_cast<long long>(s.rejected_short));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty()) {
      auto f = flags(args);
      if (args[0] == "clips" && f.count("--out")) return clips(f["--out"]);
      if (args[0] == "detect" && f.count("--video") && f.count("--out"))
        return detect(f["--video"], f["--out"], f["--detector"]);
      if (args[0] == "replay" && f.count("--dets") && f.count("--out"))
        return replay(f["--dets"], f["--out"], f["--config"],
                      f.count("--detect-every") ? std::stoi(f["--detect-every"]) : 1, f["--detector"]);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: people_bench clips --out DIR | detect --video CLIP --out DETS.jsonl [--detector yunet|"
               "blazeface_back] | replay --dets DETS.jsonl --out RUN.jsonl [--detector yunet|blazeface_back] "
               "[--config FILE.yaml] [--detect-every N]\n");
  return 2;
}
