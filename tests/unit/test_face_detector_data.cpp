// FaceDetector::create (model lookup and load errors) and recall of the back ends on andrewmvd.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "detectors.hpp"
#include "maskdetect/config.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"
#include "sdk_support.hpp"
#include "test_support.hpp"
#include "voc.hpp"

namespace fs = std::filesystem;
using maskdetect::DetectorBackend;
using maskdetect::test::andrewmvd_dir;
using maskdetect::test::create_error;

namespace {

fs::path blazeface_model(bool back) {
  return maskdetect::test::source_dir() / "models/npm" /
         (back ? "blazeface_back_256.onnx" : "blazeface_front_128.onnx");
}
fs::path yunet_model() {
  return maskdetect::test::shared_dir() / "models/yunet_2022mar/face_detection_yunet_2022mar.onnx";
}
fs::path mask_detector_model() { return maskdetect::test::source_dir() / "models/mask_detector.onnx"; }

maskdetect::DetectorConfig config_for(DetectorBackend backend, const fs::path& model, int tiles = 1) {
  maskdetect::DetectorConfig config;
  config.backend = backend;
  config.model = model.string();
  config.tiles = tiles;
  return config;
}

// The fixed sample: `count` images, every 14th of the sorted file names.
std::vector<fs::path> sample_images(std::size_t count) {
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(andrewmvd_dir() / "images")) all.push_back(e.path());
  std::sort(all.begin(), all.end());
  std::vector<fs::path> sample;
  for (std::size_t i = 0; i < all.size() && sample.size() < count; i += 14) sample.push_back(all[i]);
  return sample;
}

// Recall at IoU 0.5 (greedy matching in descending score order) over the sample; also checks that every
// detection lies in its frame and that faces come sorted by score.
double recall_at_05(maskdetect::FaceDetector& detector, std::size_t count = 60) {
  int gt_total = 0, matched = 0;
  for (const fs::path& image : sample_images(count)) {
    const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(bgr.empty());
    const auto gt =
        maskdetect::test::voc_boxes(andrewmvd_dir() / "annotations" / (image.stem().string() + ".xml"), bgr.size());
    const auto faces = detector.detect(bgr);
    const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    std::vector<cv::Rect2f> boxes;
    for (std::size_t k = 0; k < faces.size(); ++k) {
      CHECK((faces[k].box & frame) == faces[k].box);
      if (k > 0) CHECK(faces[k - 1].score >= faces[k].score);
      boxes.push_back(faces[k].box);
    }
    matched += maskdetect::test::greedy_matches(boxes, gt, 0.5f);
    gt_total += static_cast<int>(gt.size());
  }
  REQUIRE(gt_total > 50);
  return matched / static_cast<double>(gt_total);
}

}  // namespace

TEST_CASE("face detector: a missing model file is model_not_found naming the path", "[face_detector]") {
  const fs::path missing = fs::temp_directory_path() / "maskdetect_no_such_dir" / "missing_model.onnx";
  for (DetectorBackend backend : {DetectorBackend::blazeface_front, DetectorBackend::blazeface_back,
                                  DetectorBackend::yunet, DetectorBackend::mask_detector}) {
    std::string message;
    CHECK(create_error(config_for(backend, missing), &message) == maskdetect::Errc::model_not_found);
    CHECK(message.find(missing.string()) != std::string::npos);
  }
}

TEST_CASE("face detector: garbage and text files are model_load naming the file", "[face_detector]") {
  const fs::path dir = fs::temp_directory_path() / "maskdetect_test_face_detector";
  fs::create_directories(dir);
  const fs::path garbage = dir / "garbage.onnx";
  const fs::path text = dir / "text.onnx";
  {
    std::ofstream out(garbage, std::ios::binary);
    for (unsigned i = 0; i < 10000; ++i) out.put(static_cast<char>((i * 2654435761u >> 13) & 0xffu));
    std::ofstream(text) << "this is not a network\n";
  }
  for (DetectorBackend backend : {DetectorBackend::blazeface_front, DetectorBackend::blazeface_back,
                                  DetectorBackend::yunet, DetectorBackend::mask_detector}) {
    for (const fs::path& bad : {garbage, text}) {
      std::string message;
      CHECK(create_error(config_for(backend, bad), &message) == maskdetect::Errc::model_load);
      CHECK(message.find(bad.string()) != std::string::npos);
    }
  }
  std::string message;
  CHECK(create_error(config_for(DetectorBackend::yunet, dir), &message) == maskdetect::Errc::model_load);  // a folder
  fs::remove_all(dir);
}

TEST_CASE("face detector: the wrong network for a back end is model_load", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(yunet_model());
  MASKDETECT_REQUIRE_DATA(blazeface_model(true));
  // YuNet weights given to BlazeFace, and the back model given to the front back end (other input size).
  CHECK(create_error(config_for(DetectorBackend::blazeface_front, yunet_model())) == maskdetect::Errc::model_load);
  CHECK(create_error(config_for(DetectorBackend::blazeface_front, blazeface_model(true))) ==
        maskdetect::Errc::model_load);
  CHECK(create_error(config_for(DetectorBackend::yunet, blazeface_model(true))) == maskdetect::Errc::model_load);
  // A BlazeFace input size other than the model's is a config error.
  auto config = config_for(DetectorBackend::blazeface_back, blazeface_model(true));
  config.input_size = 320;
  CHECK(create_error(config) == maskdetect::Errc::invalid_config);
}

TEST_CASE("face detector: the default BlazeFace model is found in the search path", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(blazeface_model(false));
  maskdetect::DetectorConfig config;
  config.backend = DetectorBackend::blazeface_front;
  const auto detector = maskdetect::FaceDetector::create(config);
  CHECK(detector->name() == "blazeface_front");
  CHECK(detector->detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar::all(0))).empty());
}

TEST_CASE("face detector recall on andrewmvd: yunet >= .7, blazeface back well above front", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(yunet_model());
  MASKDETECT_REQUIRE_DATA(blazeface_model(false));
  MASKDETECT_REQUIRE_DATA(blazeface_model(true));
  // 60 images with 267 faces. Measured (score 0.5): yunet .85, back .53, front .13.
  const auto yunet = maskdetect::FaceDetector::create(config_for(DetectorBackend::yunet, yunet_model()));
  const double r_yunet = recall_at_05(*yunet);
  const auto front =
      maskdetect::FaceDetector::create(config_for(DetectorBackend::blazeface_front, blazeface_model(false)));
  const double r_front = recall_at_05(*front);
  const auto back =
      maskdetect::FaceDetector::create(config_for(DetectorBackend::blazeface_back, blazeface_model(true)));
  const double r_back = recall_at_05(*back);
  INFO("recall@0.5 yunet " << r_yunet << ", front " << r_front << ", back " << r_back);
  CHECK(r_yunet >= 0.7);
  CHECK(r_front >= 0.05);
  CHECK(r_back >= r_front + 0.25);
}

TEST_CASE("face detector recall on andrewmvd: 2x2 tiles raise blazeface back recall", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(blazeface_model(true));
  // Tiling costs 5 inferences a frame: a smaller sample (the first 30 of the 60, 139 faces).
  // Measured (score 0.5): back .57, back with 2x2 tiles + full frame .68.
  constexpr std::size_t count = 30;
  const auto back =
      maskdetect::FaceDetector::create(config_for(DetectorBackend::blazeface_back, blazeface_model(true)));
  const double r_back = recall_at_05(*back, count);
  const auto tiled =
      maskdetect::FaceDetector::create(config_for(DetectorBackend::blazeface_back, blazeface_model(true), 2));
  const double r_tiled = recall_at_05(*tiled, count);
  INFO("recall@0.5 back " << r_back << ", back 2x2 tiles + full " << r_tiled);
  CHECK(r_tiled >= r_back + 0.08);
}

TEST_CASE("face detector recall on andrewmvd: 2x2 tiles raise yunet recall of small faces", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(yunet_model());
  // Faces under 32 px (sqrt of the box area) of the 60 sample images. Each tile is scaled to the frame's
  // long side (640), so its faces are seen twice as large; tiles add only faces small in the whole frame.
  const auto small_recall = [](maskdetect::FaceDetector& detector) {
    int total = 0, matched = 0;
    for (const fs::path& image : sample_images(60)) {
      const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
      REQUIRE_FALSE(bgr.empty());
      auto gt =
          maskdetect::test::voc_boxes(andrewmvd_dir() / "annotations" / (image.stem().string() + ".xml"), bgr.size());
      std::erase_if(gt, [](const cv::Rect2f& b) { return b.area() >= 32.0f * 32.0f; });
      std::vector<cv::Rect2f> boxes;
      for (const auto& face : detector.detect(bgr)) boxes.push_back(face.box);
      matched += maskdetect::test::greedy_matches(boxes, gt, 0.5f);
      total += static_cast<int>(gt.size());
    }
    REQUIRE(total > 50);
    return matched / static_cast<double>(total);
  };
  // As the presets use YuNet: boxes calibrated to the dataset's annotation style.
  auto config = config_for(DetectorBackend::yunet, yunet_model());
  maskdetect::apply_tuning(config, DetectorBackend::yunet);
  const auto plain = maskdetect::FaceDetector::create(config);
  const double r_plain = small_recall(*plain);
  config.tiles = 2;
  const auto tiled = maskdetect::FaceDetector::create(config);
  const double r_tiled = small_recall(*tiled);
  INFO("recall@0.5 of faces under 32 px: yunet 640 " << r_plain << ", with 2x2 tiles + full " << r_tiled);
  // Measured: .841 -> .854 (157 faces). On the whole test split, through eval: .78 -> .82 (docs/results.md).
  CHECK(r_tiled >= r_plain + 0.01);
}

TEST_CASE("face detector: the project's mask detector finds andrewmvd test faces", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(mask_detector_model());
  MASKDETECT_REQUIRE_DATA(blazeface_model(true));
  // The wrong network for the back end is a load error; so is a wrong input size in the config.
  CHECK(create_error(config_for(DetectorBackend::mask_detector, blazeface_model(true))) ==
        maskdetect::Errc::model_load);
  auto sized = config_for(DetectorBackend::mask_detector, mask_detector_model());
  sized.input_size = 320;
  CHECK(create_error(sized) == maskdetect::Errc::invalid_config);
  // The first 30 images of the test split (never used to train or select it), at the preset's threshold.
  // 0.2.0 at its operating point 0.5 (chosen by the worst source's face F1 on val, docs/results.md), measured on
  // these 198 faces: recall .66, precision .87 (0.1.0 at its 0.3: recall .74, with about two detections per face
  // on the val split).
  maskdetect::DetectorConfig config = maskdetect::preset("mask_detector").detector;
  REQUIRE(config.backend == DetectorBackend::mask_detector);
  const auto detector = maskdetect::FaceDetector::create(config);  // found in the search path (source models/)
  CHECK(detector->name() == "mask_detector");
  CHECK(detector->input_size() == cv::Size(512, 512));
  CHECK(detector->detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar::all(0))).empty());
  std::vector<fs::path> images;
  {
    std::ifstream split(maskdetect::test::source_dir() / "models/splits/andrewmvd_test.txt");
    for (std::string stem; std::getline(split, stem) && images.size() < 30;)
      if (!stem.empty()) images.push_back(andrewmvd_dir() / "images" / (stem + ".jpg"));
  }
  REQUIRE(images.size() == 30);
  int gt_total = 0, matched = 0, detections = 0;
  for (const fs::path& image : images) {
    const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(bgr.empty());
    const auto gt =
        maskdetect::test::voc_boxes(andrewmvd_dir() / "annotations" / (image.stem().string() + ".xml"), bgr.size());
    const auto faces = detector->detect(bgr);
    const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
    std::vector<cv::Rect2f> boxes;
    for (std::size_t k = 0; k < faces.size(); ++k) {
      CHECK((faces[k].box & frame) == faces[k].box);
      CHECK(faces[k].score >= config.score_threshold);
      if (k > 0) CHECK(faces[k - 1].score >= faces[k].score);
      boxes.push_back(faces[k].box);
    }
    CHECK(static_cast<int>(faces.size()) <= config.max_faces);
    matched += maskdetect::test::greedy_matches(boxes, gt, 0.5f);
    gt_total += static_cast<int>(gt.size());
    detections += static_cast<int>(faces.size());
  }
  const double recall = matched / static_cast<double>(gt_total);
  const double precision = matched / static_cast<double>(std::max(1, detections));
  INFO("mask detector at IoU 0.5 on " << gt_total << " test faces: recall " << recall << ", precision " << precision);
  CHECK(recall >= 0.62);
  CHECK(precision >= 0.8);
}

TEST_CASE("face detector: add_mask_detector merges YuNet's faces with the mask detector's", "[face_detector][data]") {
  MASKDETECT_REQUIRE_DATA(maskdetect::test::moxa3k_dir());
  MASKDETECT_REQUIRE_DATA(yunet_model());
  MASKDETECT_REQUIRE_DATA(mask_detector_model());
  maskdetect::DetectorConfig yunet = config_for(DetectorBackend::yunet, yunet_model());
  yunet.max_faces = 100;
  maskdetect::DetectorConfig merged_config = yunet;
  merged_config.add_mask_detector = true;
  const auto first = maskdetect::FaceDetector::create(yunet);
  const auto second = maskdetect::FaceDetector::create(maskdetect::preset("mask_detector").detector);
  const auto merged = maskdetect::FaceDetector::create(merged_config);
  CHECK(merged->name() == "yunet+mask_detector");
  // With the mask detector as the back end there is nothing to add: the flag is ignored, not an error (one config
  // serves machines with and without YuNet).
  auto twice = config_for(DetectorBackend::mask_detector, mask_detector_model());
  twice.add_mask_detector = true;
  CHECK(maskdetect::FaceDetector::create(twice)->name() == "mask_detector");
  // The first 20 moxa3k test images (heads: many turned away from the camera, which YuNet does not find).
  std::vector<fs::path> images;
  {
    std::ifstream split(maskdetect::test::source_dir() / "models/splits/moxa3k_test.txt");
    for (std::string stem; std::getline(split, stem) && images.size() < 20;)
      if (!stem.empty()) images.push_back(maskdetect::test::moxa3k_dir() / "images" / (stem + ".jpg"));
  }
  REQUIRE(images.size() == 20);
  std::size_t n_first = 0, n_merged = 0, added = 0;
  for (const fs::path& image : images) {
    const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(bgr.empty());
    const auto a = first->detect(bgr);
    const auto b = second->detect(bgr);
    const auto m = merged->detect(bgr);
    n_first += a.size();
    n_merged += m.size();
    // Every merged face is one of the two detectors' faces (a mask detector face with its score rescaled),
    // sorted by score, and no two overlap by more than the merge IoU.
    for (std::size_t k = 0; k < m.size(); ++k) {
      if (k > 0) CHECK(m[k - 1].score >= m[k].score);
      for (std::size_t j = 0; j < k; ++j) CHECK(maskdetect::detail::box_iou(m[j].box, m[k].box) <= 0.45f);
      const bool from_first =
          std::any_of(a.begin(), a.end(), [&](const maskdetect::FaceBox& f) { return f.box == m[k].box; });
      const bool from_second =
          std::any_of(b.begin(), b.end(), [&](const maskdetect::FaceBox& f) { return f.box == m[k].box; });
      CHECK((from_first || from_second));
      if (!from_first) {
        ++added;
        CHECK(m[k].score >= 0.5f);  // the mask detector's threshold maps to YuNet's 0.5
      }
    }
    // A YuNet face is only dropped for a higher-scoring overlapping face.
    for (const auto& f : a) {
      const bool kept = std::any_of(m.begin(), m.end(), [&](const maskdetect::FaceBox& g) { return g.box == f.box; });
      if (!kept)
        CHECK(std::any_of(m.begin(), m.end(), [&](const maskdetect::FaceBox& g) {
          return g.score >= f.score && maskdetect::detail::box_iou(g.box, f.box) > 0.45f;
        }));
    }
  }
  INFO("faces: YuNet " << n_first << ", merged " << n_merged << " (" << added << " from the mask detector)");
  CHECK(n_first > 20);
  CHECK(added > 10);  // heads YuNet misses
  CHECK(n_merged >= n_first);
  // The threshold applies on YuNet's scale to both.
  merged->set_score_threshold(0.9f);
  for (const fs::path& image : images)
    for (const auto& f : merged->detect(cv::imread(image.string(), cv::IMREAD_COLOR))) CHECK(f.score >= 0.9f);
}
