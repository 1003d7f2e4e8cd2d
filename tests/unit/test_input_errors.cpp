// User input the parsers must refuse with a maskdetect::Error naming file, line and key (issue 13): inputs
// that libFuzzer found (tests/fuzz/parsers/) or a new user tripped on. Every other exception is a defect.
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

using Catch::Matchers::Contains;
using maskdetect::Errc;

namespace {

/// The message of the maskdetect::Error `f` throws (a test failure for any other exception or none).
std::string error_of(const std::function<void()>& f, Errc expected) {
  try {
    f();
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("expected a maskdetect::Error");
  return {};
}

const std::string kCard =
    "name: tiny\nversion: 1.0.0\nmodel: tiny.onnx\nlabels: [mask, no_mask, incorrect]\noutput: logits\n"
    "input:\n  size: 64\n  mean: [0.5, 0.5, 0.5]\n  std: [0.5, 0.5, 0.5]\ncrop:\n  margin: 0.15\n";

}  // namespace

TEST_CASE("config: a list or mapping where a scalar key is expected names file, line and key", "[config][fuzz]") {
  // Found by fuzz_config: a non-scalar key escaped as YAML::TypedBadConversion.
  const auto top =
      error_of([] { (void)maskdetect::parse_config("threads: 1\n[a, b]: 2\n", "cam.yaml"); }, Errc::invalid_config);
  CHECK_THAT(top, Contains("cam.yaml:2") && Contains("key"));
  const auto nested =
      error_of([] { (void)maskdetect::parse_config("detector:\n  tiles: 1\n  ? {x: 1}\n  : 3\n", "cam.yaml"); },
               Errc::invalid_config);
  CHECK_THAT(nested, Contains("cam.yaml:3") && Contains("detector."));
  const auto value = error_of([] { (void)maskdetect::parse_config("detector:\n  tiles: [1, 2]\n", "cam.yaml"); },
                              Errc::invalid_config);
  CHECK_THAT(value, Contains("cam.yaml:2") && Contains("detector.tiles"));
}

TEST_CASE("config: a value out of range names file, line and key", "[config]") {
  const auto text =
      error_of([] { (void)maskdetect::parse_config("threads: 2\ndetector:\n  score_threshold: 1.5\n", "cam.yaml"); },
               Errc::invalid_config);
  CHECK_THAT(text, Contains("cam.yaml:3") && Contains("detector.score_threshold") && Contains("1.5"));
  const auto threads =
      error_of([] { (void)maskdetect::parse_config("threads: 999\n", "cam.yaml"); }, Errc::invalid_config);
  CHECK_THAT(threads, Contains("cam.yaml:1") && Contains("'threads'"));
}

TEST_CASE("config: duplicate keys and a folder given as the file are errors", "[config]") {
  const auto dup =
      error_of([] { (void)maskdetect::parse_config("threads: 1\nthreads: 2\n", "cam.yaml"); }, Errc::invalid_config);
  CHECK_THAT(dup, Contains("cam.yaml:2") && Contains("'threads'") && Contains("duplicate"));
  const auto nested = error_of(
      [] { (void)maskdetect::parse_config("detector:\n  tiles: 1\n  tiles: 2\n", "cam.yaml"); }, Errc::invalid_config);
  CHECK_THAT(nested, Contains("cam.yaml:3") && Contains("detector.tiles") && Contains("duplicate"));
  maskdetect::test::TempDir tmp;
  const auto dir = error_of([&] { (void)maskdetect::load_config(tmp.path()); }, Errc::invalid_config);
  CHECK_THAT(dir, Contains(tmp.path().string()) && Contains("folder"));
}

TEST_CASE("model card: non-scalar keys and values, duplicates and bad numbers name file, line and key",
          "[classifier][fuzz]") {
  REQUIRE_NOTHROW(maskdetect::parse_model_card(kCard, "card.yaml"));
  // Found by fuzz_model_card: a sequence or a map where a scalar is expected escaped as YAML::TypedBadConversion.
  const auto name = error_of([] { (void)maskdetect::parse_model_card("name: [a, b]\n" + kCard.substr(11), "c.yaml"); },
                             Errc::invalid_config);
  CHECK_THAT(name, Contains("c.yaml:1") && Contains("'name'"));
  std::string size_map = kCard;
  size_map.replace(size_map.find("size: 64"), 8, "size: {a: 1}");
  const auto size = error_of([&] { (void)maskdetect::parse_model_card(size_map, "c.yaml"); }, Errc::invalid_config);
  CHECK_THAT(size, Contains("c.yaml:7") && Contains("input.size"));
  const auto key =
      error_of([] { (void)maskdetect::parse_model_card("[x]: 1\n" + kCard, "c.yaml"); }, Errc::invalid_config);
  CHECK_THAT(key, Contains("c.yaml:1") && Contains("key"));
  const auto dup = error_of([] { (void)maskdetect::parse_model_card(kCard + "output: probabilities\n", "c.yaml"); },
                            Errc::invalid_config);
  CHECK_THAT(dup, Contains("c.yaml:12") && Contains("'output'") && Contains("duplicate"));
  std::string mean = kCard;
  mean.replace(mean.find("mean: [0.5,"), 11, "mean: [.nan,");
  const auto nan = error_of([&] { (void)maskdetect::parse_model_card(mean, "c.yaml"); }, Errc::invalid_config);
  CHECK_THAT(nan, Contains("c.yaml:8") && Contains("input.mean"));
}

TEST_CASE("frame_from_json: numbers beyond range are errors naming the origin and field", "[json][fuzz]") {
  // Found by fuzz_predictions: nlohmann's out_of_range escaped for -1e30011.
  const auto huge = error_of(
      [] { (void)maskdetect::frame_from_json(R"({"image": "a.jpg", "faces": [], "width": -1e30011})", "p.jsonl:7"); },
      Errc::bad_input);
  CHECK_THAT(huge, Contains("p.jsonl:7"));
  // A width that does not fit an int was cast anyway (UBSan float-cast-overflow).
  const auto width = error_of(
      [] { (void)maskdetect::frame_from_json(R"({"image": "a.jpg", "faces": [], "width": 1e30})", "p.jsonl:2"); },
      Errc::bad_input);
  CHECK_THAT(width, Contains("p.jsonl:2") && Contains("width"));
  const auto box = error_of(
      [] {
        (void)maskdetect::frame_from_json(
            R"({"image": "a.jpg", "faces": [{"box": [1, 2, 3e300, 4], "label": "mask"}]})", "p.jsonl:3");
      },
      Errc::bad_input);
  CHECK_THAT(box, Contains("p.jsonl:3") && Contains("faces[0].box"));
}

TEST_CASE("JSON: confidence is face_score x score and without face_score a face ranks by score", "[json]") {
  maskdetect::FrameResult r;
  r.frame_size = {100, 80};
  maskdetect::Face f;
  f.box = {1, 2, 30, 40};
  f.face_score = 0.5f;
  f.label = maskdetect::MaskLabel::mask;
  f.score = 0.8f;
  r.faces = {f};
  const auto j = nlohmann::json::parse(maskdetect::to_json(r, {.image = "a.jpg"}));
  CHECK(j["faces"][0]["confidence"].get<double>() == Approx(0.4));
  const auto back = maskdetect::frame_from_json(j.dump(), "x");
  CHECK(back.result.faces[0].face_score * back.result.faces[0].score == Approx(0.4f));
  CHECK(back.faces_ranked_by_score == 0);

  const auto peer = maskdetect::frame_from_json(
      R"({"image": "a.jpg", "faces": [{"box": [1, 2, 3, 4], "label": "mask", "score": 0.3}]})", "x");
  CHECK(peer.faces_ranked_by_score == 1);
  CHECK(peer.result.faces[0].face_score * peer.result.faces[0].score == Approx(0.3f));
  const auto conf = maskdetect::frame_from_json(
      R"({"image": "a.jpg", "faces": [{"box": [1, 2, 3, 4], "label": "mask", "score": 0.5, "confidence": 0.2}]})", "x");
  CHECK(conf.faces_ranked_by_confidence == 1);
  CHECK(conf.result.faces[0].face_score * conf.result.faces[0].score == Approx(0.2f));
}

TEST_CASE("model card: an input.size the network does not declare is an error at load", "[classifier]") {
  const std::filesystem::path shipped = maskdetect::test::source_dir() / "models" / "mask_classifier.yaml";
  MASKDETECT_REQUIRE_DATA(shipped);
  maskdetect::test::TempDir tmp;
  std::ifstream in(shipped);
  std::stringstream text;
  text << in.rdbuf();
  std::string card = text.str();
  const auto model = (maskdetect::test::source_dir() / "models" / "mask_classifier.onnx").string();
  card.replace(card.find("model: mask_classifier.onnx"), 27, "model: " + model);
  maskdetect::ClassifierConfig config;
  config.card = (tmp.path() / "card.yaml").string();
  std::ofstream(config.card) << card;
  REQUIRE_NOTHROW(maskdetect::MaskClassifier::create(config));  // the shipped size: 64
  card.replace(card.find("size: 64"), 8, "size: 32");
  std::ofstream(config.card) << card;
  const auto text32 = error_of([&] { (void)maskdetect::MaskClassifier::create(config); }, Errc::invalid_config);
  CHECK_THAT(text32, Contains("card.yaml") && Contains("input.size") && Contains("32") && Contains("64x64"));
}
