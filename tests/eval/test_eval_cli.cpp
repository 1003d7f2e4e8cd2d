// `maskdetect eval` end to end: the CLI binary on a small andrewmvd split, on ground truth turned into
// predictions, on a broken dataset with and without --strict, and on a tiny classification set.
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "eval/dataset.hpp"
#include "maskdetect/json.hpp"
#include "run_process.hpp"
#include "test_support.hpp"

#ifdef MASKDETECT_TEST_CLI

namespace fs = std::filesystem;
using namespace maskdetect::eval;

namespace {

using maskdetect::test::andrewmvd_dir;
using maskdetect::test::ProcessResult;
using maskdetect::test::read_text;
using maskdetect::test::run_cli;
using maskdetect::test::TempDir;

fs::path test_split() { return maskdetect::test::source_dir() / "models" / "splits" / "andrewmvd_test.txt"; }
fs::path classifier_card() { return maskdetect::test::source_dir() / "models" / "mask_classifier.yaml"; }

/// The first `n` names of the andrewmvd test split, as a split file in `dir`.
fs::path small_split(const fs::path& dir, std::size_t n) {
  std::ifstream in(test_split());
  std::ofstream out(dir / "split.txt");
  std::size_t k = 0;
  for (std::string line; k < n && std::getline(in, line);)
    if (!line.empty()) {
      out << line << '\n';
      ++k;
    }
  return dir / "split.txt";
}

}  // namespace

TEST_CASE("eval on 20 andrewmvd test images: JSON keys and a sane mAP", "[eval][cli][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(test_split());
  MASKDETECT_REQUIRE_DATA(classifier_card());
  TempDir tmp;
  const fs::path split = small_split(tmp.path(), 20);
  const ProcessResult run = run_cli({"eval", "--dataset", andrewmvd_dir().string(), "--split", split.string(), "--json",
                                     (tmp / "m.json").string(), "--report", (tmp / "report").string()});
  INFO(run.err << run.out);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("mAP@0.5"));
  const auto j = nlohmann::json::parse(read_text(tmp.path() / "m.json"));
  for (const char* key : {"map50", "map50_95", "macro_f1", "accuracy", "classes", "face", "confusion"})
    CHECK(j.contains(key));
  CHECK(j["accuracy"].is_null());  // a detection run
  CHECK(j["dataset"]["images"] == 20);
  const double map50 = j["map50"].get<double>();
  CHECK(map50 >= 0.0);
  CHECK(map50 <= 1.0);
  CHECK(map50 > 0.2);
  CHECK(j["map50_95"].get<double>() <= map50);
  for (const char* file : {"index.html", "pr_mask.png", "pr_no_mask.png", "pr_incorrect.png", "confusion.png"})
    CHECK(fs::exists(tmp.path() / "report" / file));
}

TEST_CASE("eval --predictions of the ground truth itself scores mAP 1", "[eval][cli][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(test_split());
  TempDir tmp;
  const fs::path split = small_split(tmp.path(), 20);
  Dataset d = read_dataset(andrewmvd_dir(), DatasetFormat::voc, ClassMap{});
  apply_split(d, split);
  REQUIRE(d.samples.size() == 20);
  {
    std::ofstream out(tmp.path() / "gt.jsonl");
    for (Sample& s : d.samples) {
      std::vector<DatasetIssue> ignored;
      resolve_boxes(s, s.size, ignored);
      maskdetect::FrameResult r;
      r.frame_size = s.size;
      for (const GtBox& b : s.boxes) {
        maskdetect::Face f;
        f.box = b.box;
        f.face_score = 1.0f;
        f.label = b.label;
        f.score = 1.0f;
        f.probs[static_cast<std::size_t>(b.label)] = 1.0f;
        r.faces.push_back(f);
      }
      out << maskdetect::to_json(r, {.image = s.name, .frame = std::nullopt}) << '\n';
    }
  }
  const ProcessResult run = run_cli({"eval", "--dataset", andrewmvd_dir().string(), "--split", split.string(),
                                     "--predictions", (tmp / "gt.jsonl").string(), "--json", "-"});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto j = nlohmann::json::parse(run.out);
  CHECK(j["map50"].get<double>() == Approx(1.0));
  CHECK(j["map50_95"].get<double>() == Approx(1.0));
  CHECK(j["face"]["recall"].get<double>() == Approx(1.0));
  CHECK(j["macro_f1"].get<double>() == Approx(1.0));
}

TEST_CASE("eval reports dataset problems by name, --strict makes them errors", "[eval][cli]") {
  TempDir tmp;
  const fs::path root = tmp.path() / "voc";
  fs::create_directories(root / "images");
  fs::create_directories(root / "annotations");
  for (const char* name : {"a.jpg", "orphan.jpg"})
    REQUIRE(cv::imwrite((root / "images" / name).string(), cv::Mat(80, 100, CV_8UC3, cv::Scalar(1, 2, 3))));
  std::ofstream(root / "annotations" / "a.xml")
      << "<annotation><size><width>100</width><height>80</height></size><object><name>with_mask</name><bndbox>"
         "<xmin>10</xmin><ymin>10</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object><object><name>scarf</name>"
         "<bndbox><xmin>50</xmin><ymin>10</ymin><xmax>70</xmax><ymax>40</ymax></bndbox></object></annotation>";
  std::ofstream(tmp.path() / "p.jsonl")
      << R"({"image": "a.jpg", "width": 100, "height": 80, "faces": [{"box": [10, 10, 30, 30], "face_score": 0.9, "label": "mask", "score": 0.9}]})"
      << "\n";
  std::vector<std::string> args{"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string()};
  const ProcessResult lenient = run_cli(args);
  INFO(lenient.err << lenient.out);
  CHECK(lenient.exit_code == 0);
  CHECK_THAT(lenient.out, Catch::Contains("orphan.jpg"));
  CHECK_THAT(lenient.out, Catch::Contains("scarf"));
  args.emplace_back("--strict");
  const ProcessResult strict = run_cli(args);
  CHECK(strict.exit_code == 4);
  CHECK_THAT(strict.err, Catch::Contains("--strict"));

  // A bad predictions line is an error naming file:line.
  std::ofstream(tmp.path() / "bad.jsonl") << R"({"image": "a.jpg", "width": 100, "height": 80, "faces": []})"
                                          << "\nnot json\n";
  const ProcessResult bad =
      run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "bad.jsonl").string()});
  CHECK(bad.exit_code == 4);
  CHECK_THAT(bad.err, Catch::Contains("bad.jsonl:2"));
}

TEST_CASE("eval on a folder-per-class dataset reports accuracy and macro F1", "[eval][cli][data]") {
  const fs::path crops = maskdetect::test::shared_dir() / "datasets" / "classifier" / "chandrikadeb7";
  MASKDETECT_REQUIRE_DATA(crops);
  MASKDETECT_REQUIRE_DATA(classifier_card());
  TempDir tmp;
  for (const char* cls : {"with_mask", "without_mask"}) {
    fs::create_directories(tmp.path() / "set" / cls);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(crops / cls))
      if (e.path().extension() == ".jpg") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (std::size_t i = 0; i < 4 && i < files.size(); ++i)
      fs::copy_file(files[i], tmp.path() / "set" / cls / files[i].filename());
  }
  const ProcessResult run = run_cli({"eval", "--dataset", (tmp / "set").string(), "--json", (tmp / "c.json").string(),
                                     "--report", (tmp / "rep").string()});
  INFO(run.err << run.out);
  REQUIRE(run.exit_code == 0);
  const auto j = nlohmann::json::parse(read_text(tmp.path() / "c.json"));
  CHECK(j["task"] == "classification");
  CHECK(j["accuracy"].get<double>() >= 0.5);
  CHECK(j["macro_f1"].is_number());
  CHECK(j["map50"].is_null());
  CHECK(fs::exists(tmp.path() / "rep" / "index.html"));
}

#endif  // MASKDETECT_TEST_CLI
