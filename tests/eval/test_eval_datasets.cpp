// Dataset readers of `maskdetect eval` on tiny hand-written VOC, YOLO, COCO and folder datasets.
#include <fstream>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "eval/dataset.hpp"
#include "eval/evaluate.hpp"
#include "maskdetect/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::MaskLabel;
using namespace maskdetect::eval;

namespace {

using maskdetect::test::TempDir;

/// A fresh folder under the temp dir, removed at the end of the test.
void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

void image(const fs::path& path, int w = 100, int h = 80) {
  fs::create_directories(path.parent_path());
  REQUIRE(cv::imwrite(path.string(), cv::Mat(h, w, CV_8UC3, cv::Scalar(90, 120, 150))));
}

std::string voc(const std::string& objects) {
  return "<annotation><filename>x.png</filename><size><width>100</width><height>80</height><depth>3</depth>"
         "</size>" +
         objects + "</annotation>";
}
std::string object(const std::string& name, int x0, int y0, int x1, int y1) {
  return "<object><name>" + name + "</name><bndbox><xmin>" + std::to_string(x0) + "</xmin><ymin>" + std::to_string(y0) +
         "</ymin><xmax>" + std::to_string(x1) + "</xmax><ymax>" + std::to_string(y1) + "</ymax></bndbox></object>";
}

std::size_t count(const Dataset& d, const std::string& kind) {
  return static_cast<std::size_t>(
      std::count_if(d.issues.begin(), d.issues.end(), [&](const DatasetIssue& i) { return i.kind == kind; }));
}

}  // namespace

TEST_CASE("Class map: defaults, overrides, bad rules", "[eval][dataset]") {
  ClassMap map;
  CHECK(map.find("with_mask") == MaskLabel::mask);
  CHECK(map.find("Without_Mask") == MaskLabel::no_mask);
  CHECK(map.find("mask_weared_incorrect") == MaskLabel::incorrect);
  CHECK(map.find("with_incorrect_mask") == MaskLabel::incorrect);
  CHECK_FALSE(map.find("helmet").has_value());
  map.set_rule("helmet=no_mask");
  CHECK(map.find("helmet") == MaskLabel::no_mask);
  map.set_rule("with_mask=incorrect");
  CHECK(map.find("with_mask") == MaskLabel::incorrect);
  CHECK_THROWS_AS(map.set_rule("helmet"), maskdetect::Error);
  CHECK_THROWS_AS(map.set_rule("helmet=hat"), maskdetect::Error);
}

TEST_CASE("VOC reader: stems, clamping, and every kind of problem", "[eval][dataset]") {
  TempDir tmp;
  const fs::path root = tmp.path() / "voc";
  image(root / "images" / "a.jpg");
  image(root / "images" / "b.jpg");  // no XML
  image(root / "images" / "d.jpg");  // malformed XML
  // a: <filename> says x.png (as andrewmvd's say .png): matched by stem anyway. One box crosses the border.
  write(root / "annotations" / "a.xml",
        voc(object("with_mask", 10, 10, 30, 30) + object("without_mask", 80, 50, 105, 90) +
            object("helmet", 40, 10, 60, 30)));
  write(root / "annotations" / "c.xml", voc(object("with_mask", 1, 1, 5, 5)));  // no image
  write(root / "annotations" / "d.xml", voc("<object><name>with_mask</name><bndbox><xmin>1</xmin></bndbox></object>"));

  CHECK(detect_format(root) == DatasetFormat::voc);
  Dataset d = read_dataset(root, std::nullopt, ClassMap{});
  REQUIRE(d.samples.size() == 1);
  CHECK(d.samples[0].name == "a.jpg");
  CHECK(d.samples[0].size == cv::Size(100, 80));
  CHECK(d.samples[0].boxes.size() == 2);  // helmet dropped
  CHECK(count(d, "unknown_class") == 1);
  CHECK(count(d, "image_without_annotation") == 1);
  CHECK(count(d, "annotation_without_image") == 1);
  CHECK(count(d, "malformed") == 1);

  std::vector<DatasetIssue> issues;
  resolve_boxes(d.samples[0], cv::Size(100, 80), issues);
  REQUIRE(d.samples[0].boxes.size() == 2);
  CHECK(d.samples[0].boxes[1].box == cv::Rect2f(80, 50, 20, 30));  // clamped to 100x80
  CHECK(d.samples[0].boxes[1].label == MaskLabel::no_mask);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].kind == "box_clamped");
  CHECK(is_note("box_clamped"));

  ClassMap map;
  map.set_rule("helmet=mask");
  CHECK(read_dataset(root, DatasetFormat::voc, map).samples[0].boxes.size() == 3);
}

TEST_CASE("YOLO reader: classes file, normalised boxes, malformed lines", "[eval][dataset]") {
  TempDir tmp;
  const fs::path root = tmp.path() / "yolo";
  image(root / "images" / "a.jpg", 200, 100);
  image(root / "images" / "b.jpg", 200, 100);
  write(root / "classes.txt", "with_mask\nwithout_mask\nmask_weared_incorrect\n");
  write(root / "labels" / "a.txt", "0 0.5 0.5 0.2 0.4\n2 0.1 0.1 0.1 0.1\n7 0.5 0.5 0.1 0.1\n");
  write(root / "labels" / "b.txt", "1 0.5 0.5 oops 0.1\n");
  CHECK(detect_format(root) == DatasetFormat::yolo);
  Dataset d = read_dataset(root, std::nullopt, ClassMap{});
  REQUIRE(d.samples.size() == 1);
  CHECK(count(d, "malformed") == 1);
  CHECK(count(d, "unknown_class") == 1);  // id 7
  std::vector<DatasetIssue> issues;
  resolve_boxes(d.samples[0], cv::Size(200, 100), issues);
  REQUIRE(d.samples[0].boxes.size() == 2);
  // cx 0.5 cy 0.5 w 0.2 h 0.4 of 200x100 -> x 80, y 30, w 40, h 40.
  CHECK(d.samples[0].boxes[0].box.x == Approx(80.0f));
  CHECK(d.samples[0].boxes[0].box.y == Approx(30.0f));
  CHECK(d.samples[0].boxes[0].box.width == Approx(40.0f));
  CHECK(d.samples[0].boxes[0].box.height == Approx(40.0f));
  CHECK(d.samples[0].boxes[1].label == MaskLabel::incorrect);

  TempDir none;
  image(none.path() / "images" / "a.jpg");
  write(none.path() / "labels" / "a.txt", "0 0.5 0.5 0.2 0.2\n");
  CHECK_THROWS_AS(read_dataset(none.path(), DatasetFormat::yolo, ClassMap{}), maskdetect::Error);  // no classes
}

TEST_CASE("COCO reader: categories, missing images, malformed annotations", "[eval][dataset]") {
  TempDir tmp;
  const fs::path root = tmp.path() / "coco";
  image(root / "images" / "a.jpg");
  image(root / "images" / "extra.jpg");
  write(root / "annotations.json", R"({
    "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
               {"id": 2, "file_name": "gone.jpg", "width": 100, "height": 80}],
    "categories": [{"id": 1, "name": "with_mask"}, {"id": 2, "name": "without_mask"}, {"id": 3, "name": "hat"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 20, 30, 40]},
                    {"id": 2, "image_id": 1, "category_id": 3, "bbox": [50, 20, 10, 10]},
                    {"id": 3, "image_id": 1, "category_id": 1, "bbox": [50, 20]}]})");
  CHECK(detect_format(root) == DatasetFormat::coco);
  const Dataset d = read_dataset(root, std::nullopt, ClassMap{});
  REQUIRE(d.samples.size() == 1);
  REQUIRE(d.samples[0].boxes.size() == 1);
  CHECK(d.samples[0].boxes[0].box == cv::Rect2f(10, 20, 30, 40));
  CHECK(d.samples[0].boxes[0].label == MaskLabel::no_mask);
  CHECK(count(d, "annotation_without_image") == 1);  // gone.jpg
  CHECK(count(d, "unknown_class") == 1);             // hat
  CHECK(count(d, "malformed") == 1);                 // bbox of 2 numbers
  CHECK(count(d, "image_without_annotation") == 1);  // extra.jpg

  TempDir broken;
  write(broken.path() / "annotations.json", R"({"images": [)");
  CHECK_THROWS_AS(read_dataset(broken.path(), DatasetFormat::coco, ClassMap{}), maskdetect::Error);
}

TEST_CASE("Folders reader and split files", "[eval][dataset]") {
  TempDir tmp;
  const fs::path root = tmp.path() / "crops";
  image(root / "with_mask" / "1.jpg");
  image(root / "with_mask" / "2.jpg");
  image(root / "without_mask" / "3.png");
  image(root / "scarf" / "4.jpg");
  CHECK(detect_format(root) == DatasetFormat::folders);
  Dataset d = read_dataset(root, std::nullopt, ClassMap{});
  REQUIRE(d.samples.size() == 3);
  CHECK(d.classification());
  CHECK(d.samples[0].name == "with_mask/1.jpg");
  CHECK(d.samples[0].label == MaskLabel::mask);
  CHECK(d.samples[2].label == MaskLabel::no_mask);
  CHECK(count(d, "unknown_class") == 1);

  // Entries by relative path, by stem, with comments; one that matches nothing.
  write(tmp.path() / "split.txt", "# test split\nwith_mask/2.jpg\nwithout_mask/3\n\nnot_there.jpg\n");
  apply_split(d, tmp.path() / "split.txt");
  REQUIRE(d.samples.size() == 2);
  CHECK(d.samples[0].name == "with_mask/2.jpg");
  CHECK(d.samples[1].name == "without_mask/3.png");
  CHECK(count(d, "missing_from_split") == 1);
  CHECK_THROWS_AS(apply_split(d, tmp.path() / "nope.txt"), maskdetect::Error);

  TempDir empty;
  CHECK_THROWS_AS(detect_format(empty.path()), maskdetect::Error);
}

TEST_CASE("Predictions files: JSON Lines in the SDK shape, bad lines named by file:line", "[eval][dataset]") {
  TempDir tmp;
  const fs::path good = tmp.path() / "good.jsonl";
  write(
      good,
      R"({"image": "a.jpg", "width": 100, "height": 80, "faces": [{"box": [10, 10, 20, 20], "face_score": 0.9, "label": "mask", "score": 0.8}]})"
      "\n\n"
      R"({"image": "sub/b.png", "width": 100, "height": 80, "faces": []})"
      "\n");
  const Predictions p = read_predictions(good);
  REQUIRE(p.by_name.size() == 2);
  REQUIRE(p.find("a.jpg") != nullptr);
  CHECK(p.find("a.jpg")->faces.size() == 1);
  CHECK(p.find("sub/b.jpg") != nullptr);  // another extension: matched by stem
  CHECK(p.find("c.jpg") == nullptr);

  const fs::path bad = tmp.path() / "bad.jsonl";
  write(bad, R"({"image": "a.jpg", "width": 100, "height": 80, "faces": []})"
             "\n{\"image\": \"b.jpg\", \"faces\": [{\"box\": [1, 2]}]}\n");
  try {
    (void)read_predictions(bad);
    FAIL("no error");
  } catch (const maskdetect::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(bad.string() + ":2"));
  }
}
