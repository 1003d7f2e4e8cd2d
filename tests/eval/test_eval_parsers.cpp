// Dataset and predictions parsers of `maskdetect eval` on the inputs issue 13 lists: numbers the readers cast
// to int (UBSan float-cast-overflow, found by the tests/fuzz/parsers harnesses), LabelImg-style VOC files and
// the other XML variants (issue 10 section 4), YOLO "index name" classes files, peers' predictions without
// face_score, and the COCO results export.
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "eval/dataset.hpp"
#include "eval/evaluate.hpp"
#include "maskdetect/error.hpp"
#include "run_process.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using maskdetect::MaskLabel;
using namespace maskdetect::eval;

namespace {

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// A dataset folder `root` with a 100x80 image in images/ for each of `names`; returns `root`.
fs::path with_images(const fs::path& root, std::initializer_list<const char*> names) {
  fs::create_directories(root / "images");
  for (const char* name : names)
    REQUIRE(cv::imwrite((root / "images" / name).string(), cv::Mat(80, 100, CV_8UC3, cv::Scalar(90, 120, 150))));
  return root;
}

const DatasetIssue* find_issue(const std::vector<DatasetIssue>& issues, const std::string& kind) {
  for (const DatasetIssue& i : issues)
    if (i.kind == kind) return &i;
  return nullptr;
}

std::string voc_box(const std::string& xmin, const std::string& w = "100", const std::string& h = "80") {
  return "<annotation><size><width>" + w + "</width><height>" + h +
         "</height></size><object><name>with_mask</name><bndbox><xmin>" + xmin +
         "</xmin><ymin>5</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object></annotation>";
}

const char* const kLabelImg = R"(<annotation verified="yes">
	<folder>images</folder>
	<filename>a.jpg</filename>
	<path>C:\data\a.jpg</path>
	<source>
		<database>Unknown</database>
	</source>
	<size>
		<width>100</width>
		<height>80</height>
		<depth>3</depth>
	</size>
	<segmented>0</segmented>
	<object>
		<name>with_mask</name>
		<pose>Unspecified</pose>
		<truncated>0</truncated>
		<difficult>0</difficult>
		<bndbox>
			<xmin>10</xmin>
			<ymin>12</ymin>
			<xmax>40</xmax>
			<ymax>50</ymax>
		</bndbox>
	</object>
</annotation>
)";

}  // namespace

TEST_CASE("VOC: huge, non-finite or negative numbers make the file malformed, naming the field", "[eval][fuzz]") {
  const ClassMap classes;
  // Found by fuzz_voc: each was cast from float to int (UBSan float-cast-overflow) or taken as a size.
  for (const auto& [xml, field] :
       std::vector<std::pair<std::string, std::string>>{{voc_box("10", "024666666666666666666666"), "<width>"},
                                                        {voc_box("10", "100", "1e30"), "<height>"},
                                                        {voc_box("10", "nan"), "<width>"},
                                                        {voc_box("10", "100", "-80"), "negative"},
                                                        {voc_box("inf"), "<xmin>"},
                                                        {voc_box("-1e30"), "<xmin>"}}) {
    Sample sample;
    std::vector<DatasetIssue> issues;
    const auto why = parse_voc(xml, "a.xml", classes, sample, issues);
    INFO(xml);
    REQUIRE(why.has_value());
    CHECK_THAT(*why, Contains(field));
    CHECK(sample.boxes.empty());
  }
  // Through the reader: the file is reported by name and the image is not evaluated.
  maskdetect::test::TempDir tmp;
  with_images(tmp.path(), {"a.jpg", "b.jpg"});
  write(tmp.path() / "annotations" / "a.xml", voc_box("10", "024666666666666666666666"));
  write(tmp.path() / "annotations" / "b.xml", voc_box("10"));
  const Dataset d = read_dataset(tmp.path(), DatasetFormat::voc, classes);
  REQUIRE(d.samples.size() == 1);
  const DatasetIssue* bad = find_issue(d.issues, "malformed");
  REQUIRE(bad != nullptr);
  CHECK_THAT(bad->name, Contains("a.xml"));
  CHECK_THAT(bad->detail, Contains("<width>"));
}

TEST_CASE("VOC: LabelImg files, attributes, entities, comments and any element order are read", "[eval]") {
  const ClassMap classes;
  Sample sample;
  std::vector<DatasetIssue> issues;
  REQUIRE_FALSE(parse_voc(kLabelImg, "a.xml", classes, sample, issues).has_value());
  REQUIRE(sample.boxes.size() == 1);
  CHECK(sample.size == cv::Size(100, 80));
  CHECK(sample.boxes[0].box == cv::Rect2f(10, 12, 30, 38));

  const std::string variants = R"(<?xml version="1.0" encoding="UTF-8"?>
<!-- written by another tool -->
<annotation xmlns:x="urn:x" x:source='tool'>
  <object id="1">
    <bndbox><ymax>50</ymax><xmax>60</xmax><!-- any order --><ymin>5</ymin><xmin>6</xmin></bndbox>
    <name>mask_weared_incorrect</name>
  </object>
  <object><name>with&#95;mask</name><bndbox><xmin>&#49;0</xmin><ymin>1</ymin><xmax>20</xmax><ymax>30</ymax></bndbox></object>
  <object><name><![CDATA[without_mask]]></name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>
  <object><name>scarf &amp; hat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object>
  <size><height>80</height><width>100</width></size>
</annotation>)";
  Sample s2;
  std::vector<DatasetIssue> issues2;
  REQUIRE_FALSE(parse_voc(variants, "v.xml", classes, s2, issues2).has_value());
  REQUIRE(s2.boxes.size() == 3);
  CHECK(s2.boxes[0].label == MaskLabel::incorrect);
  CHECK(s2.boxes[0].box == cv::Rect2f(6, 5, 54, 45));
  CHECK(s2.boxes[1].label == MaskLabel::mask);
  CHECK(s2.boxes[1].box.x == 10.0f);
  CHECK(s2.boxes[2].label == MaskLabel::no_mask);
  CHECK(s2.size == cv::Size(100, 80));
  const DatasetIssue* unknown = find_issue(issues2, "unknown_class");
  REQUIRE(unknown != nullptr);
  CHECK_THAT(unknown->detail, Contains("scarf & hat"));

  Sample s3;
  CHECK_THAT(parse_voc("<annotation><object>", "t.xml", classes, s3, issues).value_or(""), Contains("XML"));
  CHECK_THAT(parse_voc("<notvoc/>", "t.xml", classes, s3, issues).value_or(""), Contains("<annotation>"));
}

#ifdef MASKDETECT_TEST_CLI
using maskdetect::test::ProcessResult;
using maskdetect::test::read_text;
using maskdetect::test::run_cli;

TEST_CASE("eval reads LabelImg VOC files, reports skipped files in the summary, --strict fails on them",
          "[eval][cli]") {
  maskdetect::test::TempDir tmp;
  const fs::path root = with_images(tmp.path() / "voc", {"a.jpg", "b.jpg"});
  write(root / "annotations" / "a.xml", kLabelImg);
  write(root / "annotations" / "b.xml", "<annotation><object><name>with_mask</name>");  // truncated
  write(tmp.path() / "p.jsonl",
        R"({"image": "a.jpg", "faces": [{"box": [10, 12, 30, 38], "label": "mask", "score": 0.9}]})"
        "\n");
  std::vector<std::string> args{"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string()};
  std::vector<std::string> json_args = args;
  json_args.insert(json_args.end(), {"--json", "-"});
  const ProcessResult run = run_cli(json_args);
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.err, Contains("1 annotation file(s) or entries skipped as malformed"));
  CHECK_THAT(run.err, Contains("b.xml"));
  CHECK_THAT(run.err, Contains("ranked by score alone"));
  const auto j = nlohmann::json::parse(run.out);
  CHECK(j["face"]["recall"].get<double>() == Approx(1.0));
  CHECK(j["dataset"]["images"] == 1);
  args.emplace_back("--strict");
  const ProcessResult strict = run_cli(args);
  CHECK(strict.exit_code == 4);
}

TEST_CASE("eval: a COCO file with a width of 1e30 or a bbox of 024666666666666666666666 is reported, not cast",
          "[eval][cli][fuzz]") {
  maskdetect::test::TempDir tmp;
  const fs::path root = with_images(tmp.path() / "coco", {"a.jpg", "b.jpg"});
  write(root / "annotations.json",
        R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 1e30, "height": 80},
                       {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
            "annotations": [{"image_id": 2, "category_id": 1, "bbox": [024666666666666666666666, 1, 2, 3]},
                            {"image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 30]}],
            "categories": [{"id": 1, "name": "with_mask"}]})");
  // (a leading zero is not JSON: that document is refused whole, naming the file)
  write(tmp.path() / "p.jsonl", R"({"image": "b.jpg", "faces": []})"
                                "\n");
  const ProcessResult invalid =
      run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string()});
  CHECK(invalid.exit_code == 4);
  CHECK_THAT(invalid.err, Contains("annotations.json"));
  CocoFile coco = parse_coco(R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 1e30, "height": 80},
                                           {"id": 2, "file_name": "b.jpg", "width": 100, "height": 80}],
            "annotations": [{"image_id": 2, "category_id": 1, "bbox": [24666666666666666666666, 1, 2, 3]},
                            {"image_id": 2, "category_id": 1, "bbox": [10, 10, -30, 30]},
                            {"image_id": 2, "category_id": 1, "bbox": [10, 10, 30, 30]}],
            "categories": [{"id": 1, "name": "with_mask"}]})",
                             "c.json", ClassMap{});
  REQUIRE(coco.images.size() == 1);
  CHECK(coco.images[0].file_name == "b.jpg");
  REQUIRE(coco.images[0].boxes.size() == 1);
  REQUIRE(coco.issues.size() == 3);
  CHECK_THAT(coco.issues[0].name, Contains("c.json images[0]"));
  CHECK_THAT(coco.issues[0].detail, Contains("width"));
  CHECK_THAT(coco.issues[1].detail, Contains("bbox x"));
  CHECK_THAT(coco.issues[2].detail, Contains("bbox width"));
}

TEST_CASE("eval: a predictions number like -1e30011 is an error naming file and line", "[eval][cli][fuzz]") {
  maskdetect::test::TempDir tmp;
  const fs::path root = with_images(tmp.path() / "voc", {"a.jpg"});
  write(root / "annotations" / "a.xml", kLabelImg);
  write(tmp.path() / "p.jsonl",
        "\n"
        R"({"image": "a.jpg", "faces": [{"box": [-1e30011, 1, 2, 3], "label": "mask"}]})"
        "\n");
  const ProcessResult run = run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string()});
  CHECK(run.exit_code == 4);
  CHECK_THAT(run.err, Contains("p.jsonl:2"));
}

TEST_CASE("eval: YOLO 'index name' classes files, CLASSES.TXT in any case, exit 4 when every box is dropped",
          "[eval][cli]") {
  maskdetect::test::TempDir tmp;
  CHECK(parse_yolo_classes("0 mask\n1 no_mask\n", "c.txt") == std::vector<std::string>{"mask", "no_mask"});
  CHECK(parse_yolo_classes("1 no_mask\n0 mask\n\n", "c.txt") == std::vector<std::string>{"mask", "no_mask"});
  CHECK(parse_yolo_classes("mask\nno_mask\n", "c.txt") == std::vector<std::string>{"mask", "no_mask"});
  CHECK(parse_yolo_classes("0 mask\nno_mask\n", "c.txt") == std::vector<std::string>{"0 mask", "no_mask"});

  const fs::path root = with_images(tmp.path() / "yolo", {"a.jpg"});
  write(root / "labels" / "a.txt", "0 0.25 0.25 0.2 0.2\n1 0.75 0.5 0.2 0.3\n");
  write(root / "CLASSES.TXT", "0 mask\n1 no_mask\n");
  const Dataset d = read_dataset(root, std::nullopt, ClassMap{});
  CHECK(d.format == DatasetFormat::yolo);
  REQUIRE(d.samples.size() == 1);
  CHECK(d.samples[0].boxes.size() == 2);

  write(root / "CLASSES.TXT", "0 helmet\n1 hat\n");
  write(tmp.path() / "p.jsonl", R"({"image": "a.jpg", "faces": []})"
                                "\n");
  const ProcessResult run = run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string()});
  CHECK(run.exit_code == 4);
  CHECK_THAT(run.err, Contains("every box was dropped") && Contains("helmet"));
}

TEST_CASE("eval --coco-results writes standard COCO detections ranked by confidence", "[eval][cli]") {
  maskdetect::test::TempDir tmp;
  const fs::path root = with_images(tmp.path() / "coco", {"a.jpg"});
  write(root / "instances.json",
        R"({"images": [{"id": 42, "file_name": "a.jpg", "width": 100, "height": 80}],
            "annotations": [{"image_id": 42, "category_id": 7, "bbox": [10, 10, 30, 30]}],
            "categories": [{"id": 7, "name": "with_mask"}, {"id": 9, "name": "without_mask"}]})");
  write(tmp.path() / "p.jsonl",
        R"({"image": "a.jpg", "faces": [{"box": [10, 10, 30, 30], "face_score": 0.5, "label": "mask", "score": 0.8},)"
        R"( {"box": [50, 10, 20, 20], "face_score": 0.9, "label": "no_mask", "score": 0.5}]})"
        "\n");
  const ProcessResult run = run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string(),
                                     "--coco-results", (tmp / "det.json").string()});
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Contains("ranked by face_score x score"));
  const auto j = nlohmann::json::parse(read_text(tmp.path() / "det.json"));
  REQUIRE(j.size() == 2);
  CHECK(j[0]["image_id"] == 42);
  CHECK(j[0]["category_id"] == 7);
  CHECK(j[0]["score"].get<double>() == Approx(0.4));
  CHECK(j[0]["bbox"] == nlohmann::json::array({10.0, 10.0, 30.0, 30.0}));
  CHECK(j[1]["category_id"] == 9);
  CHECK(j[1]["score"].get<double>() == Approx(0.45));
  // Never over an input.
  const ProcessResult over = run_cli({"eval", "--dataset", root.string(), "--predictions", (tmp / "p.jsonl").string(),
                                      "--coco-results", (root / "instances.json").string()});
  CHECK(over.exit_code == 4);
  CHECK(nlohmann::json::parse(read_text(root / "instances.json")).contains("images"));
}
#endif  // MASKDETECT_TEST_CLI
