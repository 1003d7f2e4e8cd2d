// The JSON shape of results: written by to_json, read back by frame_from_json.
#include <nlohmann/json.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

using Catch::Matchers::Contains;

namespace {

maskdetect::FrameResult sample_result() {
  maskdetect::FrameResult r;
  r.frame_size = {640, 480};
  maskdetect::Face a;
  a.box = {10.5f, 20.25f, 50.0f, 60.0f};
  a.face_score = 0.91f;
  a.probs = {0.1f, 0.7f, 0.2f};
  a.label = maskdetect::MaskLabel::no_mask;
  a.score = 0.7f;
  a.landmarks = {{20.0f, 30.0f}, {40.0f, 30.0f}};
  maskdetect::Face b;
  b.box = {300.0f, 100.0f, 80.0f, 90.0f};
  b.face_score = 0.55f;
  b.probs = {0.05f, 0.05f, 0.9f};
  b.label = maskdetect::MaskLabel::incorrect;
  b.score = 0.9f;
  r.faces = {a, b};
  r.times = {3.5, 0.25};
  return r;
}

}  // namespace

TEST_CASE("to_json writes the documented keys", "[json]") {
  const auto text = maskdetect::to_json(sample_result(), {.image = "people.jpg"});
  const auto j = nlohmann::json::parse(text);
  CHECK(j["image"] == "people.jpg");
  CHECK_FALSE(j.contains("frame"));
  CHECK(j["width"] == 640);
  REQUIRE(j["faces"].size() == 2);
  const auto& f = j["faces"][0];
  CHECK(f["box"] == nlohmann::json::array({10.5, 20.25, 50.0, 60.0}));
  CHECK(f["label"] == "no_mask");
  CHECK(f["score"].get<double>() == Approx(0.7));
  CHECK(f["probs"]["incorrect"].get<double>() == Approx(0.2));
  CHECK(f["landmarks"].size() == 2);
  CHECK_FALSE(j["faces"][1].contains("landmarks"));
  CHECK(j["timing_ms"]["detect"].get<double>() == Approx(3.5));
  CHECK(text.find('\n') == std::string::npos);
}

TEST_CASE("frame_from_json reads back what to_json wrote", "[json]") {
  const auto original = sample_result();
  const auto record = maskdetect::frame_from_json(maskdetect::to_json(original, {.frame = 12}), "line 1");
  CHECK(record.info.frame == 12);
  CHECK_FALSE(record.info.image.has_value());
  CHECK(record.result.frame_size == original.frame_size);
  REQUIRE(record.result.faces.size() == original.faces.size());
  for (std::size_t i = 0; i < original.faces.size(); ++i) {
    const auto& a = original.faces[i];
    const auto& b = record.result.faces[i];
    CHECK(b.box.x == Approx(a.box.x));
    CHECK(b.box.height == Approx(a.box.height));
    CHECK(b.label == a.label);
    CHECK(b.score == Approx(a.score));
    for (std::size_t k = 0; k < maskdetect::kNumLabels; ++k) CHECK(b.probs[k] == Approx(a.probs[k]));
    CHECK(b.landmarks.size() == a.landmarks.size());
  }
}

TEST_CASE("frame_from_json rejects malformed input naming the origin and the field", "[json]") {
  auto text_of = [](std::string_view json) {
    try {
      (void)maskdetect::frame_from_json(json, "preds.jsonl:7");
    } catch (const maskdetect::Error& e) {
      CHECK(e.code() == maskdetect::Errc::bad_input);
      return std::string(e.what());
    }
    FAIL("expected an error for " << json);
    return std::string();
  };
  CHECK_THAT(text_of("{not json"), Contains("preds.jsonl:7"));
  CHECK_THAT(text_of(R"({"faces": []})"), Contains("'image' or 'frame'"));
  CHECK_THAT(text_of(R"({"image": "a.jpg"})"), Contains("'faces'"));
  CHECK_THAT(text_of(R"({"image": "a.jpg", "faces": [{"box": [1, 2, 3], "label": "mask"}]})"),
             Contains("faces[0].box"));
  CHECK_THAT(text_of(R"({"image": "a.jpg", "faces": [{"box": [1, 2, 3, 4], "label": "hat"}]})"), Contains("'hat'"));
}

TEST_CASE("track_id, t and time are written and read back", "[json][tracker]") {
  maskdetect::FrameResult result;
  result.frame_size = {640, 480};
  maskdetect::Face tracked;
  tracked.box = {10, 20, 30, 40};
  tracked.face_score = 0.9f;
  tracked.label = maskdetect::MaskLabel::mask;
  tracked.score = 0.8f;
  tracked.probs = {0.8f, 0.15f, 0.05f};
  tracked.track_id = 7;
  maskdetect::Face untracked = tracked;
  untracked.track_id = -1;
  result.faces = {tracked, untracked};
  const std::string text =
      maskdetect::to_json(result, {.frame = 12, .t = 0.48, .time = std::string("2026-12-03T06:00:00.480Z")});
  const auto j = nlohmann::json::parse(text);
  CHECK(j.at("t").get<double>() == Approx(0.48));
  CHECK(j.at("time") == "2026-12-03T06:00:00.480Z");
  CHECK(j.at("faces")[0].at("track_id") == 7);
  CHECK_FALSE(j.at("faces")[1].contains("track_id"));
  const auto back = maskdetect::frame_from_json(text, "line 1");
  REQUIRE(back.info.t);
  CHECK(*back.info.t == Approx(0.48));
  CHECK(back.info.time == std::optional<std::string>("2026-12-03T06:00:00.480Z"));
  CHECK(back.result.faces[0].track_id == 7);
  CHECK(back.result.faces[1].track_id == -1);
  CHECK_THROWS_AS(maskdetect::frame_from_json(
                      R"({"frame": 1, "faces": [{"box": [0,0,1,1], "label": "mask", "track_id": -3}]})", "x"),
                  maskdetect::Error);
  CHECK_THROWS_AS(maskdetect::frame_from_json(R"({"frame": 1, "t": "soon", "faces": []})", "x"), maskdetect::Error);
}
