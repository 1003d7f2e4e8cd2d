// `maskdetect eval --predictions` against an independent evaluator (tests/tools/voc_map.py: its own XML
// reading, IoU, VOC devkit matching and all-point AP, in Python) on 60 andrewmvd test images whose
// annotation files are rewritten as LabelImg writes them (<annotation verified="yes">, a comment, an
// entity). Both must agree to 0.01 mAP@0.5 (issue 10, section 4).
#include <cmath>
#include <fstream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "run_process.hpp"
#include "test_support.hpp"

#if defined(MASKDETECT_TEST_CLI) && defined(MASKDETECT_TEST_PYTHON)

namespace fs = std::filesystem;
using maskdetect::test::ProcessResult;
using maskdetect::test::read_text;
using maskdetect::test::run_process;

namespace {

using maskdetect::test::andrewmvd_dir;
fs::path test_split() { return maskdetect::test::source_dir() / "models" / "splits" / "andrewmvd_test.txt"; }
fs::path evaluator() { return maskdetect::test::source_dir() / "tests" / "tools" / "voc_map.py"; }
constexpr std::size_t kImages = 60;

/// The first kImages names of the test split, with their image (a symlink) and a LabelImg-style copy of their
/// annotation, under `root` (a VOC folder: images/, annotations/).
void make_labelimg_subset(const fs::path& root) {
  fs::remove_all(root);
  fs::create_directories(root / "images");
  fs::create_directories(root / "annotations");
  std::ifstream split(test_split());
  std::size_t n = 0;
  for (std::string stem; n < kImages && std::getline(split, stem);) {
    if (stem.empty()) continue;
    ++n;
    const fs::path xml = andrewmvd_dir() / "annotations" / (stem + ".xml");
    std::string text = read_text(xml);
    REQUIRE(text.find("<annotation>") != std::string::npos);
    // LabelImg: an attribute on the root; also a comment and an entity, which a hand-rolled reader trips on.
    text = std::regex_replace(text, std::regex("<annotation>"), "<annotation verified=\"yes\"><!-- LabelImg -->");
    text = std::regex_replace(text, std::regex("<folder>images</folder>"), "<folder>images &amp; more</folder>");
    std::ofstream(root / "annotations" / (stem + ".xml")) << text;
    for (const char* ext : {".png", ".jpg"}) {
      const fs::path image = andrewmvd_dir() / "images" / (stem + ext);
      if (fs::exists(image)) fs::create_symlink(image, root / "images" / (stem + ext));
    }
  }
  REQUIRE(n == kImages);
}

}  // namespace

TEST_CASE("eval --predictions agrees with an independent VOC evaluator on LabelImg files to 0.01 mAP",
          "[eval][cli][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(test_split());
  REQUIRE(fs::exists(evaluator()));
  const fs::path work = fs::path(MASKDETECT_TEST_BINARY_DIR) / "tests" / "eval" / "agreement";
  make_labelimg_subset(work / "voc");

  // Detections of the shipped pipeline (the default preset), as JSON Lines. The images are symlinks, as a
  // user's subset of a dataset often is.
  {
    const ProcessResult r = maskdetect::test::run_cli(
        {"run", "--source", (work / "voc" / "images").string(), "--json", (work / "predictions.jsonl").string()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }

  // maskdetect eval, --strict: a LabelImg file it could not read would fail the run, not be skipped.
  {
    const ProcessResult r =
        maskdetect::test::run_cli({"eval", "--strict", "--dataset", (work / "voc").string(), "--predictions",
                                   (work / "predictions.jsonl").string(), "--json", (work / "eval.json").string()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  const auto ours = nlohmann::json::parse(read_text(work / "eval.json"));
  REQUIRE(ours["dataset"]["images"] == kImages);

  {
    const ProcessResult r = run_process(
        MASKDETECT_TEST_PYTHON, {evaluator().string(), "--dataset", (work / "voc").string(), "--predictions",
                                 (work / "predictions.jsonl").string(), "--json", (work / "voc_map.json").string()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  const auto theirs = nlohmann::json::parse(read_text(work / "voc_map.json"))["by_iou"]["0.5"];
  REQUIRE(nlohmann::json::parse(read_text(work / "voc_map.json"))["images"] == kImages);

  const double ours_map = ours["map50"].get<double>();
  const double theirs_map = theirs["map"].get<double>();
  INFO("maskdetect eval mAP@0.5 " << ours_map << ", voc_map.py " << theirs_map);
  CHECK(ours_map > 0.2);  // a real pipeline's figure, not an empty or trivial run
  CHECK(std::abs(ours_map - theirs_map) <= 0.01);
  std::size_t faces = 0;
  for (const char* label : {"mask", "no_mask", "incorrect"}) {
    INFO(label);
    CHECK(ours["classes"][label]["truths"] == theirs["truths"][label]);
    faces += theirs["truths"][label].get<std::size_t>();
  }
  CHECK(faces > 200);  // the 60 images' faces were all read from the LabelImg files
}

#endif
