// The face tracker on synthetic boxes: association, life cycle, votes, matching.
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>
#include <opencv2/core.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/tracker.hpp"

using namespace maskdetect;

namespace {

Face face_at(float x, float y, float score = 0.9f, LabelProbs probs = {0.9f, 0.05f, 0.05f}, float side = 60.0f) {
  Face f;
  f.box = {x, y, side, side};
  f.face_score = score;
  f.probs = probs;
  return f;
}

}  // namespace

TEST_CASE("tracker: a face becomes a person after min_hits and keeps its id", "[tracker]") {
  Tracker tracker({.min_hits = 3});
  std::int64_t id = -2;
  for (int f = 0; f < 10; ++f) {
    std::vector<Face> faces{face_at(10.0f + 5.0f * static_cast<float>(f), 50.0f)};
    tracker.update(faces, f / 25.0);
    if (f < 2) {
      CHECK(faces[0].track_id == -1);
    } else {
      CHECK(faces[0].track_id == 1);
      if (id != -2) CHECK(faces[0].track_id == id);
      id = faces[0].track_id;
    }
  }
  const auto people = tracker.people();
  REQUIRE(people.size() == 1);
  CHECK(people[0].frames_seen == 10);
  CHECK(people[0].first_seen == Approx(0.0));
  CHECK(people[0].last_seen == Approx(9 / 25.0));
  CHECK(people[0].velocity.x == Approx(5.0f).margin(1.0f));
}

TEST_CASE("tracker: a one-frame false positive is never a person", "[tracker]") {
  Tracker tracker({.min_hits = 2});
  for (int f = 0; f < 6; ++f) {
    std::vector<Face> faces{face_at(100.0f, 100.0f)};
    if (f == 3) faces.push_back(face_at(400.0f, 300.0f));
    tracker.update(faces, f);
  }
  CHECK(tracker.count().total == 1);
}

TEST_CASE("tracker: two faces crossing keep their identities", "[tracker]") {
  for (const TrackMatching matching : {TrackMatching::hungarian, TrackMatching::greedy}) {
    Tracker tracker({.min_hits = 1, .matching = matching});
    std::int64_t left_id = -1;
    std::int64_t right_id = -1;
    for (int f = 0; f <= 40; ++f) {
      const float x = 8.0f * static_cast<float>(f);
      std::vector<Face> faces{face_at(x, 100.0f), face_at(320.0f - x, 120.0f)};
      tracker.update(faces, f);
      if (f == 0) {
        left_id = faces[0].track_id;
        right_id = faces[1].track_id;
      }
      REQUIRE(faces[0].track_id == left_id);
      REQUIRE(faces[1].track_id == right_id);
    }
    CHECK(left_id != right_id);
    CHECK(tracker.count().total == 2);
  }
}

TEST_CASE("tracker: a face hidden for a few frames keeps its id and one away too long is a new person", "[tracker]") {
  Tracker tracker({.min_hits = 2, .max_lost_frames = 10});
  std::vector<std::int64_t> ids;
  for (int f = 0; f < 60; ++f) {
    const bool hidden = (f >= 10 && f < 16) || (f >= 30 && f < 45);  // 6 frames, then 15 frames
    std::vector<Face> faces;
    if (!hidden) faces.push_back(face_at(50.0f + 4.0f * static_cast<float>(f), 200.0f));
    tracker.update(faces, f);
    if (!faces.empty() && faces[0].track_id >= 0) ids.push_back(faces[0].track_id);
  }
  REQUIRE(!ids.empty());
  CHECK(ids.front() == 1);
  CHECK(ids.back() == 2);  // back after 15 frames > max_lost_frames: a second visit
  CHECK(tracker.count().total == 2);
  const auto people = tracker.people();
  CHECK_FALSE(people[0].active);
  CHECK(people[0].last_seen == Approx(29.0));
}

TEST_CASE("tracker: low-score faces continue a track but never start one", "[tracker]") {
  Tracker tracker({.high_score = 0.6f, .low_score = 0.2f, .min_hits = 2});
  for (int f = 0; f < 12; ++f) {
    const float score = f < 4 ? 0.9f : 0.3f;  // the face turns away: weak detections
    std::vector<Face> faces{face_at(100.0f + 3.0f * static_cast<float>(f), 100.0f, score),
                            face_at(400.0f, 300.0f, 0.3f)};  // weak from the start
    tracker.update(faces, f);
    if (f >= 1) CHECK(faces[0].track_id == 1);
    CHECK(faces[1].track_id == -1);
  }
  CHECK(tracker.count().total == 1);
}

TEST_CASE("tracker: the label is the vote over the track, not the last frame", "[tracker]") {
  Tracker tracker({.min_hits = 1});
  for (int f = 0; f < 10; ++f) {
    const LabelProbs probs = f < 7 ? LabelProbs{0.8f, 0.15f, 0.05f} : LabelProbs{0.1f, 0.85f, 0.05f};
    std::vector<Face> faces{face_at(100.0f, 100.0f, 0.9f, probs)};
    tracker.update(faces, f);
  }
  const auto people = tracker.people();
  REQUIRE(people.size() == 1);
  CHECK(people[0].label == MaskLabel::mask);
  CHECK(people[0].votes == 10);
  CHECK(people[0].confidence == Approx((7 * 0.8 + 3 * 0.1) / 10.0).epsilon(1e-4));
  const PeopleCount count = tracker.count();
  CHECK(count.per_label[static_cast<std::size_t>(MaskLabel::mask)] == 1);
  CHECK(count.compliance() == Approx(1.0));
}

TEST_CASE("tracker: predict moves people between detections and correct() pulls the box", "[tracker]") {
  Tracker tracker({.min_hits = 2});
  for (int f = 0; f < 6; ++f) {
    std::vector<Face> faces{face_at(10.0f * static_cast<float>(f), 50.0f)};
    tracker.update(faces, f);
  }
  const auto predicted = tracker.predict();
  REQUIRE(predicted.size() == 1);
  CHECK(predicted[0].track_id == 1);
  CHECK(predicted[0].box.x == Approx(60.0f).margin(3.0f));
  CHECK(predicted[0].label == MaskLabel::mask);
  const cv::Rect2f corrected = tracker.correct(1, {80.0f, 50.0f, 60.0f, 60.0f});
  CHECK(corrected.x > predicted[0].box.x);
  CHECK(tracker.correct(99, {0, 0, 1, 1}).empty());
  std::vector<Face> faces{face_at(70.0f, 50.0f)};
  tracker.update(faces, 7);
  CHECK(faces[0].track_id == 1);
}

TEST_CASE("tracker: Hungarian matching beats greedy where greedy is wrong", "[tracker]") {
  // Greedy takes (0,0)=0.9 first and leaves row 1 with nothing above the threshold.
  const std::vector<std::vector<float>> score{{0.9f, 0.8f}, {0.7f, 0.1f}};
  CHECK(match_rows(score, 0.3f, TrackMatching::greedy) == std::vector<int>{0, -1});
  CHECK(match_rows(score, 0.3f, TrackMatching::hungarian) == std::vector<int>{1, 0});
  // Rectangular, and pairs under the threshold are never made.
  const std::vector<std::vector<float>> wide{{0.1f, 0.2f, 0.95f}};
  CHECK(match_rows(wide, 0.3f, TrackMatching::hungarian) == std::vector<int>{2});
  const std::vector<std::vector<float>> tall{{0.1f}, {0.2f}};
  CHECK(match_rows(tall, 0.3f, TrackMatching::hungarian) == std::vector<int>{-1, -1});
}

TEST_CASE("tracker: options are checked", "[tracker]") {
  CHECK_THROWS_AS(Tracker({.min_hits = 0}), Error);
  CHECK_THROWS_AS(Tracker({.high_score = 0.1f, .low_score = 0.5f}), Error);
  try {
    Tracker({.max_lost_frames = 0});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::invalid_config);
    CHECK(std::string(e.what()).find("max_lost_frames") != std::string::npos);
  }
}

TEST_CASE("tracker: the best crop is the largest sharp one", "[tracker]") {
  cv::Mat frame(480, 640, CV_8UC3, cv::Scalar(100, 100, 100));
  cv::RNG rng(5);
  cv::Mat texture(480, 640, CV_8UC3);
  rng.fill(texture, cv::RNG::UNIFORM, 0, 255);
  texture.copyTo(frame);
  Tracker tracker({.min_hits = 1});
  for (int f = 0; f < 5; ++f) {
    const float side = f == 2 ? 120.0f : 60.0f;
    std::vector<Face> faces{face_at(200.0f, 200.0f, 0.9f, {0.9f, 0.05f, 0.05f}, side)};
    tracker.update(faces, f, frame);
  }
  const auto people = tracker.people();
  REQUIRE(people.size() == 1);
  CHECK(people[0].best_crop.size() == cv::Size(112, 112));
  CHECK(people[0].best_crop_time == Approx(2.0));
}
