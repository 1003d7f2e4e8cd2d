// Label maps (eval --label-map, models/label_maps/) and AP at IoU 0.3, the IoU at which moxa3k's head-style
// boxes are judged: the shipped map files, their errors, and `maskdetect eval` on moxa3k test images.
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "eval/dataset.hpp"
#include "maskdetect/error.hpp"
#include "run_process.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::MaskLabel;
using namespace maskdetect::eval;

namespace {

using maskdetect::test::moxa3k_dir;
using maskdetect::test::read_text;
using maskdetect::test::TempDir;

fs::path label_map(const std::string& name) {
  return maskdetect::test::source_dir() / "models" / "label_maps" / (name + ".yaml");
}

/// The error message of `parse_label_map(text)`, or "" when it parses.
std::string label_map_error(const std::string& text) {
  try {
    (void)ClassMap::parse_label_map(text, "m.yaml");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::invalid_config);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Label map files: the shipped moxa3k and andrewmvd maps, and only their names", "[eval][dataset]") {
  const ClassMap moxa = ClassMap::read_label_map(label_map("moxa3k"));
  CHECK(moxa.find("mask") == MaskLabel::mask);
  CHECK(moxa.find("nomask") == MaskLabel::no_mask);
  CHECK(moxa.find("NoMask") == MaskLabel::no_mask);
  CHECK(moxa.names().size() == 2);
  CHECK_FALSE(moxa.find("with_mask").has_value());  // a map file replaces the built-in names
  // Without the file, moxa3k's `nomask` is not a known class: the map is what reads it.
  CHECK_FALSE(ClassMap().find("nomask").has_value());

  const ClassMap andrew = ClassMap::read_label_map(label_map("andrewmvd"));
  CHECK(andrew.find("with_mask") == MaskLabel::mask);
  CHECK(andrew.find("without_mask") == MaskLabel::no_mask);
  CHECK(andrew.find("mask_weared_incorrect") == MaskLabel::incorrect);
  CHECK(andrew.names().size() == 3);

  // A VOC file read through the moxa3k map: nomask boxes become no_mask, others are unknown.
  Sample sample;
  std::vector<DatasetIssue> issues;
  const std::string xml =
      "<annotation><size><width>100</width><height>80</height></size>"
      "<object><name>nomask</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object>"
      "<object><name>mask</name><bndbox><xmin>40</xmin><ymin>2</ymin><xmax>60</xmax><ymax>30</ymax></bndbox></object>"
      "<object><name>helmet</name><bndbox><xmin>70</xmin><ymin>2</ymin><xmax>90</xmax><ymax>30</ymax></bndbox>"
      "</object></annotation>";
  REQUIRE_FALSE(parse_voc(xml, "a.xml", moxa, sample, issues).has_value());
  REQUIRE(sample.boxes.size() == 2);
  CHECK(sample.boxes[0].label == MaskLabel::no_mask);
  CHECK(sample.boxes[1].label == MaskLabel::mask);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].kind == "unknown_class");
}

TEST_CASE("Label map files: every mistake is an error naming the file and line", "[eval][dataset]") {
  CHECK(label_map_error("mask: mask\nnomask: no_mask\n").empty());
  CHECK(label_map_error("# comment\nMask: mask  # trailing comment\n").empty());
  CHECK_THAT(label_map_error("mask: mask\nnomask: none\n"),
             Catch::Contains("m.yaml:2") && Catch::Contains("'none' is not a label"));
  CHECK_THAT(label_map_error("mask: mask\nMASK: no_mask\n"),
             Catch::Contains("m.yaml:2") && Catch::Contains("mapped twice"));
  CHECK_THAT(label_map_error("- mask\n- no_mask\n"), Catch::Contains("expected a mapping"));
  CHECK_THAT(label_map_error(""), Catch::Contains("expected a mapping"));
  CHECK_THAT(label_map_error("mask: [mask, no_mask]\n"),
             Catch::Contains("m.yaml:1") && Catch::Contains("expected a label"));
  CHECK_THAT(label_map_error("mask: {a: b\n"), Catch::Contains("not valid YAML"));
  CHECK_THROWS_AS(ClassMap::read_label_map("/nonexistent/map.yaml"), maskdetect::Error);
  CHECK_THROWS_AS(ClassMap::read_label_map(maskdetect::test::source_dir()), maskdetect::Error);
}

#ifdef MASKDETECT_TEST_CLI

namespace {

using maskdetect::test::ProcessResult;
using maskdetect::test::run_cli;

/// The first `n` names of the moxa3k test split, as a split file in `dir`.
fs::path moxa_split(const fs::path& dir, std::size_t n) {
  std::ifstream in(maskdetect::test::source_dir() / "models" / "splits" / "moxa3k_test.txt");
  REQUIRE(in);
  std::ofstream out(dir / "split.txt");
  std::size_t k = 0;
  for (std::string line; k < n && std::getline(in, line);)
    if (!line.empty()) {
      out << line << '\n';
      ++k;
    }
  REQUIRE(k == n);
  return dir / "split.txt";
}

}  // namespace

TEST_CASE("eval --label-map on moxa3k: face-style boxes of head annotations match at IoU 0.3, not 0.5",
          "[eval][cli][data]") {
  MASKDETECT_REQUIRE_DATA(moxa3k_dir());
  TempDir tmp;
  const fs::path split = moxa_split(tmp.path(), 20);
  // Predictions: every annotated head, shrunk about its centre to 0.65 of its sides (a face inside a head
  // box): IoU 0.65^2 = 0.42, so each one is a true positive at IoU 0.3 and a false positive at 0.5.
  Dataset truth = read_dataset(moxa3k_dir(), DatasetFormat::voc, ClassMap::read_label_map(label_map("moxa3k")));
  apply_split(truth, split);
  REQUIRE(truth.samples.size() == 20);
  std::size_t heads = 0;
  std::size_t nomask = 0;
  {
    std::ofstream out(tmp.path() / "pred.jsonl");
    for (const Sample& s : truth.samples) {
      nlohmann::json faces = nlohmann::json::array();
      for (const GtBox& b : s.boxes) {
        const float w = b.box.width * 0.65f;
        const float h = b.box.height * 0.65f;
        const float x = b.box.x + (b.box.width - w) / 2;
        const float y = b.box.y + (b.box.height - h) / 2;
        const std::string label = b.label == MaskLabel::mask ? "mask" : "no_mask";
        faces.push_back({{"box", {x, y, w, h}}, {"label", label}, {"face_score", 0.9}, {"score", 1.0}});
        ++heads;
        nomask += b.label == MaskLabel::no_mask ? 1 : 0;
      }
      out << nlohmann::json{{"image", s.name}, {"faces", faces}}.dump() << '\n';
    }
  }
  REQUIRE(nomask > 0);
  const std::string moxa = moxa3k_dir().string();
  const ProcessResult r = run_cli({"eval", "--strict", "--dataset", moxa, "--split", split.string(), "--label-map",
                                   label_map("moxa3k").string(), "--predictions", (tmp / "pred.jsonl").string(),
                                   "--json", (tmp / "m.json").string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("mAP@0.3 1.000"));
  const auto j = nlohmann::json::parse(read_text(tmp.path() / "m.json"));
  CHECK(j["map30"].get<double>() == Approx(1.0));
  CHECK(j["map50"].get<double>() == Approx(0.0));
  CHECK(j["face"]["ap30"].get<double>() == Approx(1.0));
  CHECK(j["face"]["ap50"].get<double>() == Approx(0.0));
  CHECK(j["classes"]["no_mask"]["truths"] == nomask);
  CHECK(j["classes"]["mask"]["truths"] == heads - nomask);
  CHECK(j["classes"]["incorrect"]["ap30"].is_null());  // moxa3k has no incorrect class: no AP, not 0
  CHECK_THAT(j["command"].get<std::string>(), Catch::Contains("--label-map"));

  // Without the map, `nomask` is an unknown class: a dataset issue, and an error under --strict.
  const ProcessResult bare = run_cli({"eval", "--strict", "--dataset", moxa, "--split", split.string(), "--predictions",
                                      (tmp / "pred.jsonl").string()});
  CHECK(bare.exit_code == 4);
  CHECK_THAT(bare.out + bare.err, Catch::Contains("unknown_class") && Catch::Contains("nomask"));
  // A bad map file is a config error (exit 2) naming the file.
  std::ofstream(tmp.path() / "bad.yaml") << "nomask: nose\n";
  const ProcessResult bad = run_cli({"eval", "--dataset", moxa, "--split", split.string(), "--label-map",
                                     (tmp / "bad.yaml").string(), "--predictions", (tmp / "pred.jsonl").string()});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("bad.yaml:1"));
}

#ifdef MASKDETECT_TEST_PYTHON
TEST_CASE("eval AP@0.3 on moxa3k agrees with the independent VOC evaluator", "[eval][cli][data]") {
  MASKDETECT_REQUIRE_DATA(moxa3k_dir());
  const fs::path evaluator = maskdetect::test::source_dir() / "tests" / "tools" / "voc_map.py";
  TempDir tmp;
  const fs::path split = moxa_split(tmp.path(), 30);
  fs::create_directories(tmp.path() / "images");
  {
    std::ifstream in(split);
    for (std::string stem; std::getline(in, stem);)
      if (!stem.empty())
        fs::create_symlink(moxa3k_dir() / "images" / (stem + ".jpg"), tmp.path() / "images" / (stem + ".jpg"));
  }
  // The shipped pipeline's detections (the default preset of this machine), as JSON Lines.
  const ProcessResult run =
      run_cli({"run", "--source", (tmp / "images").string(), "--json", (tmp / "p.jsonl").string()});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const ProcessResult ev = run_cli({"eval", "--dataset", moxa3k_dir().string(), "--split", split.string(),
                                    "--label-map", label_map("moxa3k").string(), "--predictions",
                                    (tmp / "p.jsonl").string(), "--json", (tmp / "m.json").string()});
  INFO(ev.out << ev.err);
  REQUIRE(ev.exit_code == 0);
  const ProcessResult py = maskdetect::test::run_process(
      MASKDETECT_TEST_PYTHON,
      {evaluator.string(), "--dataset", moxa3k_dir().string(), "--split", split.string(), "--predictions",
       (tmp / "p.jsonl").string(), "--iou", "0.3", "0.5", "--json", (tmp / "v.json").string()});
  INFO(py.out << py.err);
  REQUIRE(py.exit_code == 0);
  const auto ours = nlohmann::json::parse(read_text(tmp.path() / "m.json"));
  const auto theirs = nlohmann::json::parse(read_text(tmp.path() / "v.json"))["by_iou"];
  INFO("eval mAP@0.3 " << ours["map30"] << " voc_map.py " << theirs["0.3"]["map"]);
  CHECK(ours["map30"].get<double>() > 0.1);  // a real pipeline's figure
  CHECK(ours["map30"].get<double>() >= ours["map50"].get<double>());
  CHECK(std::abs(ours["map30"].get<double>() - theirs["0.3"]["map"].get<double>()) <= 0.01);
  CHECK(std::abs(ours["map50"].get<double>() - theirs["0.5"]["map"].get<double>()) <= 0.01);
  CHECK(ours["classes"]["no_mask"]["truths"] == theirs["0.3"]["truths"]["no_mask"]);
}
#endif

#endif
