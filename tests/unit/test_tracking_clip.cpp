// Tracking through the facade on a synthetic clip (tests/support/face_clip.hpp): people are counted once,
// with their labels, across a crossing, an occlusion and a visit that leaves and comes back.
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "face_clip.hpp"
#include "maskdetect/maskdetect.hpp"
#include "mot.hpp"
#include "test_support.hpp"

using namespace maskdetect;
using namespace maskdetect::test;

namespace {

/// For each ground-truth id: the track ids of the faces that overlap it (IoU >= 0.5) in frames [from, to).
std::map<int, std::set<std::int64_t>> ids_per_person(const Clip& clip, const std::vector<FrameResult>& results,
                                                     std::size_t from, std::size_t to) {
  std::map<int, std::set<std::int64_t>> out;
  for (std::size_t f = from; f < to && f < results.size(); ++f) {
    for (const GtBox& g : clip.truth[f]) {
      for (const Face& face : results[f].faces) {
        if (face.track_id >= 0 && iou(g.box, face.box) >= 0.5f) out[g.id].insert(face.track_id);
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("tracking a synthetic clip: exact people count and labels, identities survive", "[tracker][clip]") {
  MASKDETECT_REQUIRE_DATA(classifier_dir());
  Detector detector(scenario_config());
  const Clip clip = make_scenario(detector);
  REQUIRE(clip.people.size() == 5);

  const int every = GENERATE(1, 3);
  INFO("detect every " << every);
  detector.set_tracking({.detect_every = every});
  std::vector<FrameResult> results;
  for (std::size_t f = 0; f < clip.frames.size(); ++f)
    results.push_back(detector.track(clip.frames[f], static_cast<double>(f) / clip.fps));

  // People and their voted labels.
  const PeopleCount count = detector.tracker().count();
  CHECK(count.total == 5);
  std::array<std::int64_t, kNumLabels> want{};
  for (const auto& [id, label] : clip.people) ++want[static_cast<std::size_t>(label)];
  CHECK(count.per_label == want);
  CHECK(count.compliance() == Approx(0.2));
  for (const Track& person : detector.tracker().people()) {
    CHECK(person.frames_seen > 0);
    CHECK(person.last_seen >= person.first_seen);
    CHECK_FALSE(person.best_crop.empty());
  }

  // One track id per person over the whole clip: across the crossing (1 and 2), the board (3), and the two
  // visits of the same face (4 and 5) are two different people.
  const auto ids = ids_per_person(clip, results, 0, clip.frames.size());
  for (int person = 1; person <= 5; ++person) {
    INFO("person " << person);
    REQUIRE(ids.count(person) == 1);
    CHECK(ids.at(person).size() == 1);
  }
  std::set<std::int64_t> distinct;
  for (const auto& [person, set] : ids) distinct.insert(set.begin(), set.end());
  CHECK(distinct.size() == 5);

  // The same in CLEAR MOT terms.
  std::vector<std::vector<MotBox>> gt;
  std::vector<std::vector<MotBox>> hyp;
  for (std::size_t f = 0; f < clip.frames.size(); ++f) {
    gt.emplace_back();
    hyp.emplace_back();
    for (const GtBox& g : clip.truth[f]) gt.back().push_back({g.id, g.box});
    for (const Face& face : results[f].faces)
      if (face.track_id >= 0) hyp.back().push_back({face.track_id, face.box});
  }
  const MotScores mot = score_mot(gt, hyp);
  CHECK(mot.id_switches == 0);
  CHECK(mot.mota() > 0.7);
}

TEST_CASE("Detector::track checks its options and input", "[tracker]") {
  Detector detector(preset("default"));
  CHECK_THROWS_AS(detector.set_tracking({.detect_every = 0}), Error);
  CHECK_THROWS_AS(detector.set_tracking({.tracker = {.min_hits = 0}}), Error);
  CHECK_THROWS_AS(detector.track(cv::Mat(), 0.0), Error);
  detector.set_tracking({.detect_every = 2});
  const cv::Mat gray(100, 100, CV_8UC1, cv::Scalar(0));
  CHECK_THROWS_AS(detector.track(gray, 0.0), Error);  // a detection frame
  CHECK_THROWS_AS(detector.track(gray, 0.0), Error);  // a tracking frame
}
