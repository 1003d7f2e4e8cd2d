// The facade's API (issue 13, SDK items): Face::prob, classify() on boxes from another detector,
// a moved-from Detector, set_inference_threads, MaskClassifier as a value.
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include <maskdetect/maskdetect.hpp>

#include "sdk_support.hpp"
#include "test_support.hpp"
#include "voc.hpp"

namespace fs = std::filesystem;
using maskdetect::test::andrewmvd_dir;
using maskdetect::test::blazeface_back_config;

TEST_CASE("Face::prob reads the probability of each label", "[detector][api][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  maskdetect::Detector detector(blazeface_back_config());
  const cv::Mat image = cv::imread((andrewmvd_dir() / "images" / "maksssksksss0.jpg").string());
  REQUIRE_FALSE(image.empty());
  const auto result = detector.detect(image);
  REQUIRE_FALSE(result.faces.empty());
  for (const auto& face : result.faces) {
    CHECK(face.prob(face.label) == face.score);
    CHECK(face.prob(maskdetect::MaskLabel::mask) == face.probs[0]);
    CHECK(face.prob(maskdetect::MaskLabel::no_mask) == face.probs[1]);
    CHECK(face.prob(maskdetect::MaskLabel::incorrect) == face.probs[2]);
  }
}

TEST_CASE("Detector::classify labels boxes from another detector as detect() would", "[detector][api][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  maskdetect::Detector detector(blazeface_back_config());
  for (const char* stem : {"maksssksksss0", "maksssksksss5", "maksssksksss12"}) {
    INFO(stem);
    const cv::Mat image = cv::imread((andrewmvd_dir() / "images" / (std::string(stem) + ".jpg")).string());
    REQUIRE_FALSE(image.empty());

    // Boxes detect() found, fed back in: the same labels and probabilities.
    const auto detected = detector.detect(image);
    std::vector<maskdetect::FaceBox> boxes;
    for (const auto& face : detected.faces) boxes.push_back({face.box, face.face_score, face.landmarks});
    const auto again = detector.classify(image, boxes);
    REQUIRE(again.faces.size() == detected.faces.size());
    CHECK(again.frame_size == image.size());
    CHECK(again.times.detect_ms == 0.0);
    for (std::size_t i = 0; i < again.faces.size(); ++i) {
      CHECK(again.faces[i].box == detected.faces[i].box);
      CHECK(again.faces[i].label == detected.faces[i].label);
      for (std::size_t k = 0; k < maskdetect::kNumLabels; ++k)
        CHECK(again.faces[i].probs[k] == Approx(detected.faces[i].probs[k]).margin(1e-5));
    }

    // Boxes of "another detector" (the dataset's annotations, with made-up scores, in reverse score
    // order): every box kept, sorted by score, and the result drawn and written as JSON.
    const std::vector<cv::Rect2f> truth =
        maskdetect::test::voc_boxes(andrewmvd_dir() / "annotations" / (std::string(stem) + ".xml"), image.size());
    REQUIRE_FALSE(truth.empty());
    std::vector<maskdetect::FaceBox> own;
    for (std::size_t i = 0; i < truth.size(); ++i)
      own.push_back({truth[i], 0.5f + 0.4f * static_cast<float>(i) / static_cast<float>(truth.size()), {}});
    const auto result = detector.classify(image, own);
    REQUIRE(result.faces.size() == truth.size());
    for (std::size_t i = 0; i < result.faces.size(); ++i) {
      const auto& face = result.faces[i];
      CHECK(face.box == truth[truth.size() - 1 - i]);
      if (i > 0) CHECK(face.face_score <= result.faces[i - 1].face_score);
      CHECK(face.probs[0] + face.probs[1] + face.probs[2] == Approx(1.0f).margin(1e-4));
    }
    cv::Mat drawn = image.clone();
    maskdetect::draw_results(drawn, result);
    CHECK(cv::norm(drawn, image, cv::NORM_L1) > 0.0);
    const std::string json = maskdetect::to_json(result, {.image = stem});
    const auto back = maskdetect::frame_from_json(json, "classify");
    CHECK(back.result.faces.size() == truth.size());
  }
}

TEST_CASE("Detector::classify refuses bad boxes and images", "[detector][api][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  maskdetect::Detector detector(blazeface_back_config());
  const cv::Mat image = cv::imread((andrewmvd_dir() / "images" / "maksssksksss0.jpg").string());
  REQUIRE_FALSE(image.empty());
  auto code_of = [&](std::vector<maskdetect::FaceBox> boxes, const cv::Mat& bgr) {
    try {
      (void)detector.classify(bgr, std::move(boxes));
    } catch (const maskdetect::Error& e) {
      return e.code();
    }
    return maskdetect::Errc::internal;
  };
  const float nan = std::nanf("");
  CHECK(code_of({{cv::Rect2f(10, 10, 0, 20), 0.9f, {}}}, image) == maskdetect::Errc::bad_input);
  CHECK(code_of({{cv::Rect2f(nan, 10, 20, 20), 0.9f, {}}}, image) == maskdetect::Errc::bad_input);
  CHECK(code_of({{cv::Rect2f(10, 10, 20, 20), 1.5f, {}}}, image) == maskdetect::Errc::bad_input);
  CHECK(code_of({{cv::Rect2f(10, 10, 20, 20), 0.9f, {}}}, cv::Mat()) == maskdetect::Errc::bad_input);
  CHECK(detector.classify(image, {}).faces.empty());
}

TEST_CASE("a moved-from Detector throws a clear Error", "[detector][api]") {
  maskdetect::Detector detector(blazeface_back_config());
  maskdetect::Detector moved(std::move(detector));
  const cv::Mat frame(120, 160, CV_8UC3, cv::Scalar(80, 80, 80));
  CHECK(moved.detect(frame).faces.empty());
  try {
    (void)detector.detect(frame);  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move): what is tested
    FAIL("detect() on a moved-from Detector did not throw");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::internal);
    CHECK(std::string(e.what()).find("moved from") != std::string::npos);
  }
  CHECK_THROWS_AS(detector.classify(frame, {}), maskdetect::Error);  // NOLINT(bugprone-use-after-move)
  CHECK_THROWS_AS(detector.config(), maskdetect::Error);             // NOLINT(bugprone-use-after-move)
  // Assigning brings it back.
  detector = std::move(moved);
  CHECK(detector.detect(frame).faces.empty());
}

TEST_CASE("set_inference_threads is process-wide and 0 restores OpenCV's default", "[detector][api]") {
  const int default_threads = cv::getNumThreads();
  maskdetect::set_inference_threads(2);
  CHECK(cv::getNumThreads() == 2);
  maskdetect::Config config = blazeface_back_config();
  config.threads = 3;
  {
    maskdetect::Detector detector(config);
    CHECK(cv::getNumThreads() == 3);
  }
  CHECK(cv::getNumThreads() == 3);  // outlives the Detector: it is the process's setting
  maskdetect::set_inference_threads(0);
  CHECK(cv::getNumThreads() == default_threads);
  CHECK_THROWS_AS(maskdetect::set_inference_threads(-1), maskdetect::Error);
}

TEST_CASE("MaskClassifier is built as a value and moves", "[classifier][api]") {
  maskdetect::MaskClassifier classifier(maskdetect::ClassifierConfig{});
  const cv::Mat frame(120, 160, CV_8UC3, cv::Scalar(90, 120, 150));
  const auto probs = classifier.classify(frame, {cv::Rect2f(40, 30, 50, 60)});
  REQUIRE(probs.size() == 1);
  maskdetect::MaskClassifier moved(std::move(classifier));
  const auto again = moved.classify(frame, {cv::Rect2f(40, 30, 50, 60)});
  REQUIRE(again.size() == 1);
  for (std::size_t k = 0; k < maskdetect::kNumLabels; ++k) CHECK(again[0][k] == Approx(probs[0][k]).margin(1e-6));
  CHECK_THROWS_AS(classifier.classify(frame, {}), maskdetect::Error);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("a bare model file name goes through the model search path", "[models][api][data]") {
  const fs::path yunet_dir = maskdetect::test::shared_dir() / "models" / "yunet_2022mar";
  MASKDETECT_REQUIRE_DATA(yunet_dir / "face_detection_yunet_2022mar.onnx");
  const char* old = std::getenv("MASKDETECT_MODEL_DIR");
  const std::string saved = old != nullptr ? old : "";
  ::setenv("MASKDETECT_MODEL_DIR", yunet_dir.c_str(), 1);

  CHECK(maskdetect::find_model_file("face_detection_yunet_2022mar.onnx", "--yunet") ==
        yunet_dir / "face_detection_yunet_2022mar.onnx");
  maskdetect::DetectorConfig config;
  config.backend = maskdetect::DetectorBackend::yunet;
  config.model = "face_detection_yunet_2022mar.onnx";
  CHECK(maskdetect::FaceDetector::create(config)->name() == "yunet");

  // Found nowhere: the message names the setting, the file and the folders searched.
  try {
    (void)maskdetect::find_model_file("no_such_model.onnx", "--yunet");
    FAIL("no error for a missing model");
  } catch (const maskdetect::Error& e) {
    const std::string message = e.what();
    CHECK(e.code() == maskdetect::Errc::model_not_found);
    CHECK(message.rfind("--yunet: ", 0) == 0);
    CHECK(message.find("no_such_model.onnx") != std::string::npos);
    CHECK(message.find(yunet_dir.string()) != std::string::npos);
  }
  // A path with a folder is taken as given: not searched.
  CHECK_THROWS_AS(maskdetect::find_model_file(fs::path("sub") / "face_detection_yunet_2022mar.onnx", "x"),
                  maskdetect::Error);
  if (old != nullptr) {
    ::setenv("MASKDETECT_MODEL_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("MASKDETECT_MODEL_DIR");
  }
}
