// mot_bench: the tracking figures of docs/tracking.md.
//
//   mot_bench write FILE.avi          writes the synthetic face clip as an MJPG video (for `maskdetect run`)
//   mot_bench boxes [--sequences N]   synthetic boxes (no images): MOTA, IDF1, ID switches, Hungarian vs greedy
//   mot_bench clip [--preset P] [--repeat R]
//                                     the synthetic face clip of tests/support/face_clip.hpp through
//                                     Detector::track with --detect-every 1, 2, 3, 5 (template refinement off and on):
//                                     people counted vs true, MOTA, IDF1, ID switches, ms per frame, fps
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

#include "face_clip.hpp"
#include "maskdetect/maskdetect.hpp"
#include "mot.hpp"

using namespace maskdetect;
using namespace maskdetect::test;

namespace {

void print_scores(const char* name, const MotScores& s) {
  std::printf("%-34s MOTA %.3f  IDF1 %.3f  IDsw %lld  FN %lld  FP %lld  GT %lld\n", name, s.mota(), s.idf1(),
              static_cast<long long>(s.id_switches), static_cast<long long>(s.fn), static_cast<long long>(s.fp),
              static_cast<long long>(s.gt));
}

/// Objects moving at constant velocity (with small random accelerations) in a 640x480 frame, bouncing off the
/// borders; detections are the true boxes with 3 px noise, missed 10% of the time, plus 0.3 false faces per
/// frame at random places with low scores. Many crossings.
int run_boxes(int sequences) {
  for (const TrackMatching matching : {TrackMatching::hungarian, TrackMatching::greedy}) {
    MotScores total;
    double ms = 0.0;
    std::int64_t frames = 0;
    std::int64_t people = 0;
    std::int64_t true_people = 0;
    for (int seq = 0; seq < sequences; ++seq) {
      cv::RNG rng(static_cast<std::uint64_t>(1000 + seq));
      const int objects = 4 + seq % 5;
      struct Obj {
        cv::Point2f p, v;
        float side;
      };
      std::vector<Obj> objs;
      for (int i = 0; i < objects; ++i)
        objs.push_back({{rng.uniform(0.f, 560.f), rng.uniform(0.f, 400.f)},
                        {rng.uniform(-6.f, 6.f), rng.uniform(-4.f, 4.f)},
                        rng.uniform(40.f, 90.f)});
      true_people += objects;
      Tracker tracker({.matching = matching});
      std::vector<std::vector<MotBox>> gt;
      std::vector<std::vector<MotBox>> hyp;
      for (int f = 0; f < 200; ++f) {
        std::vector<MotBox> g;
        std::vector<Face> dets;
        for (int i = 0; i < objects; ++i) {
          Obj& o = objs[static_cast<std::size_t>(i)];
          o.v += cv::Point2f(static_cast<float>(rng.gaussian(0.3)), static_cast<float>(rng.gaussian(0.3)));
          o.p += o.v;
          if (o.p.x < 0 || o.p.x > 640 - o.side) o.v.x = -o.v.x;
          if (o.p.y < 0 || o.p.y > 480 - o.side) o.v.y = -o.v.y;
          const cv::Rect2f box(o.p.x, o.p.y, o.side, o.side);
          g.push_back({i, box});
          if (rng.uniform(0.0, 1.0) < 0.1) continue;
          Face d;
          d.box = {box.x + static_cast<float>(rng.gaussian(3.0)), box.y + static_cast<float>(rng.gaussian(3.0)),
                   box.width + static_cast<float>(rng.gaussian(2.0)),
                   box.height + static_cast<float>(rng.gaussian(2.0))};
          d.face_score = rng.uniform(0.3f, 1.0f);
          d.probs = {0.9f, 0.05f, 0.05f};
          dets.push_back(d);
        }
        if (rng.uniform(0.0, 1.0) < 0.3) {
          Face d;
          d.box = {rng.uniform(0.f, 580.f), rng.uniform(0.f, 420.f), 50.f, 50.f};
          d.face_score = rng.uniform(0.2f, 0.7f);
          dets.push_back(d);
        }
        const auto t0 = std::chrono::steady_clock::now();
        tracker.update(dets, f / 25.0);
        ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ++frames;
        std::vector<MotBox> h;
        for (const Face& d : dets)
          if (d.track_id >= 0) h.push_back({d.track_id, d.box});
        gt.push_back(std::move(g));
        hyp.push_back(std::move(h));
      }
      const MotScores s = score_mot(gt, hyp);
      total.gt += s.gt;
      total.hyp += s.hyp;
      total.tp += s.tp;
      total.fn += s.fn;
      total.fp += s.fp;
      total.id_switches += s.id_switches;
      total.idtp += s.idtp;
      people += tracker.count().total;
    }
    print_scores(matching == TrackMatching::hungarian ? "boxes, hungarian" : "boxes, greedy", total);
    std::printf("%-34s people counted %lld (true %lld), tracker %.4f ms per frame\n", "",
                static_cast<long long>(people), static_cast<long long>(true_people), ms / static_cast<double>(frames));
  }
  return 0;
}

int run_clip(const std::string& preset_name, int repeat) {
  Detector detector(preset(preset_name));
  const Clip clip = make_scenario(detector);
  std::vector<std::vector<MotBox>> gt;
  for (const auto& frame : clip.truth) {
    std::vector<MotBox> g;
    for (const GtBox& b : frame) g.push_back({b.id, b.box});
    gt.push_back(std::move(g));
  }
  std::printf("clip: %zu frames 640x480, %zu people (visits), preset %s, OpenCV threads %d\n", clip.frames.size(),
              clip.people.size(), preset_name.c_str(), cv::getNumThreads());
  std::printf("%-22s %7s %7s %6s %5s %9s %7s  %s\n", "run", "people", "labels", "MOTA", "IDsw", "ms/frame", "fps",
              "IDF1");
  for (const int every : {1, 2, 3, 5}) {
    for (const bool refine : {false, true}) {
      if (every == 1 && refine) continue;
      double best_ms = 1e18;
      MotScores s;
      PeopleCount count;
      bool labels_ok = true;
      for (int r = 0; r < repeat; ++r) {
        detector.set_tracking({.detect_every = every, .refine = refine});
        std::vector<std::vector<MotBox>> hyp;
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t f = 0; f < clip.frames.size(); ++f) {
          const FrameResult result = detector.track(clip.frames[f], static_cast<double>(f) / clip.fps);
          std::vector<MotBox> h;
          for (const Face& face : result.faces)
            if (face.track_id >= 0) h.push_back({face.track_id, face.box});
          hyp.push_back(std::move(h));
        }
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
                          static_cast<double>(clip.frames.size());
        best_ms = std::min(best_ms, ms);
        s = score_mot(gt, hyp);
        count = detector.tracker().count();
        std::array<std::int64_t, kNumLabels> want{};
        for (const auto& [id, label] : clip.people) ++want[static_cast<std::size_t>(label)];
        labels_ok = want == count.per_label;
      }
      const std::string name = "detect-every " + std::to_string(every) + (refine ? ", refine" : "");
      std::printf("%-22s %3lld/%-3zu %7s %6.3f %5lld %9.2f %7.1f  %.3f\n", name.c_str(),
                  static_cast<long long>(count.total), clip.people.size(), labels_ok ? "exact" : "WRONG", s.mota(),
                  static_cast<long long>(s.id_switches), best_ms, 1000.0 / best_ms, s.idf1());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto value = [&](const std::string& flag, const std::string& fallback) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == flag) return args[i + 1];
    return fallback;
  };
  try {
    if (args.size() == 2 && args[0] == "write") {
      Detector detector(scenario_config());
      const Clip clip = make_scenario(detector);
      cv::VideoWriter writer(args[1], cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), clip.fps, cv::Size(640, 480));
      if (!writer.isOpened()) throw std::runtime_error("cannot write " + args[1]);
      for (const cv::Mat& frame : clip.frames) writer.write(frame);
      return 0;
    }
    if (!args.empty() && args[0] == "boxes") return run_boxes(std::stoi(value("--sequences", "50")));
    if (!args.empty() && args[0] == "clip")
      return run_clip(value("--preset", "default"), std::stoi(value("--repeat", "2")));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mot_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: mot_bench write FILE.avi | boxes [--sequences N] | clip [--preset P] [--repeat R]\n");
  return 2;
}
