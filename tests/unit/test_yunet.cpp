// YuNet through cv::FaceDetectorYN: input sizing, mapping back to the frame, and model-load errors.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"
#include "sdk_support.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::test::create_error;

namespace {

fs::path yunet_2022mar() {
  return maskdetect::test::shared_dir() / "models/yunet_2022mar/face_detection_yunet_2022mar.onnx";
}

maskdetect::DetectorConfig yunet_config(const fs::path& model, int input_size = 0) {
  maskdetect::DetectorConfig config;
  config.backend = maskdetect::DetectorBackend::yunet;
  config.model = model.string();
  config.input_size = input_size;
  return config;
}

}  // namespace

TEST_CASE("yunet scales the long side to input_size and maps faces back into the frame", "[yunet][data]") {
  const fs::path model = yunet_2022mar();
  const fs::path images = maskdetect::test::andrewmvd_dir() / "images";
  MASKDETECT_REQUIRE_DATA(model);
  MASKDETECT_REQUIRE_DATA(images);
  for (int long_side : {320, 640}) {
    const auto detector = maskdetect::FaceDetector::create(yunet_config(model, long_side));
    CHECK(detector->name() == "yunet");
    int faces_seen = 0;
    // A few fixed images of different shapes (the set has landscape and portrait photos).
    for (const char* name : {"maksssksksss0.jpg", "maksssksksss1.jpg", "maksssksksss100.jpg", "maksssksksss250.jpg",
                             "maksssksksss500.jpg", "maksssksksss777.jpg"}) {
      const cv::Mat bgr = cv::imread((images / name).string(), cv::IMREAD_COLOR);
      REQUIRE_FALSE(bgr.empty());
      const auto faces = detector->detect(bgr);
      const cv::Size in = detector->input_size();
      CHECK(std::max(in.width, in.height) == long_side);
      // Aspect ratio kept (to a pixel).
      CHECK(std::abs(in.width * bgr.rows - in.height * bgr.cols) <= std::max(bgr.rows, bgr.cols));
      const cv::Rect2f frame(0.0f, 0.0f, static_cast<float>(bgr.cols), static_cast<float>(bgr.rows));
      for (std::size_t k = 0; k < faces.size(); ++k) {
        const auto& f = faces[k];
        CHECK((f.box & frame) == f.box);
        CHECK(f.box.area() > 0.0f);
        CHECK(f.score >= 0.5f);
        CHECK(f.score <= 1.0f);
        REQUIRE(f.landmarks.size() == 5);
        // Eyes lie near the box (landmarks are mapped with the same scale as the box).
        for (std::size_t e = 0; e < 2; ++e) {
          CHECK(f.landmarks[e].x >= f.box.x - f.box.width * 0.5f);
          CHECK(f.landmarks[e].x <= f.box.x + f.box.width * 1.5f);
          CHECK(f.landmarks[e].y >= f.box.y - f.box.height * 0.5f);
          CHECK(f.landmarks[e].y <= f.box.y + f.box.height * 1.5f);
        }
        if (k > 0) CHECK(faces[k - 1].score >= f.score);
      }
      faces_seen += static_cast<int>(faces.size());
    }
    CHECK(faces_seen >= 6);
  }
}

TEST_CASE("yunet score threshold can be raised between frames", "[yunet][data]") {
  const fs::path model = yunet_2022mar();
  const fs::path image = maskdetect::test::andrewmvd_dir() / "images" / "maksssksksss0.jpg";
  MASKDETECT_REQUIRE_DATA(model);
  MASKDETECT_REQUIRE_DATA(image);
  const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
  auto config = yunet_config(model);
  config.score_threshold = 0.3f;
  const auto detector = maskdetect::FaceDetector::create(config);
  const auto loose = detector->detect(bgr);
  REQUIRE_FALSE(loose.empty());
  const float top = loose.front().score;
  detector->set_score_threshold(std::min(top + 0.001f, 1.0f));
  CHECK(detector->detect(bgr).empty());
  detector->set_score_threshold(0.3f);
  CHECK(detector->detect(bgr).size() == loose.size());
}

TEST_CASE("yunet rejects empty and non-BGR frames with bad_input", "[yunet][data]") {
  const fs::path model = yunet_2022mar();
  MASKDETECT_REQUIRE_DATA(model);
  const auto detector = maskdetect::FaceDetector::create(yunet_config(model));
  const auto code_of = [&](const cv::Mat& m) {
    try {
      (void)detector->detect(m);
    } catch (const maskdetect::Error& e) {
      return e.code();
    }
    return maskdetect::Errc::internal;
  };
  CHECK(code_of(cv::Mat()) == maskdetect::Errc::bad_input);
  CHECK(code_of(cv::Mat(48, 64, CV_8UC1, cv::Scalar(0))) == maskdetect::Errc::bad_input);
  CHECK(code_of(cv::Mat(48, 64, CV_32FC3, cv::Scalar::all(0))) == maskdetect::Errc::bad_input);
  // A tiny frame is fine: no faces, no crash.
  CHECK(detector->detect(cv::Mat(3, 5, CV_8UC3, cv::Scalar::all(90))).empty());
}

TEST_CASE("a YuNet model newer than OpenCV 4.6 supports fails at load with a clear message", "[yunet][data]") {
  const fs::path model = maskdetect::test::shared_dir() / "models/yunet_2026may/face_detection_yunet_2026may.onnx";
  MASKDETECT_REQUIRE_DATA(model);
  std::string what;
  const maskdetect::Errc code = create_error(yunet_config(model), &what);
  INFO(what);
  CHECK(code == maskdetect::Errc::model_load);
  CHECK(what.find(model.string()) != std::string::npos);
  CHECK(what.find("needs OpenCV >= 4.8") != std::string::npos);
  CHECK(what.find("maskdetect models fetch yunet") != std::string::npos);
}

TEST_CASE("a corrupt YuNet file fails with model_load naming it, not as a newer model", "[yunet]") {
  const fs::path dir = fs::temp_directory_path() / "maskdetect_test_yunet";
  fs::create_directories(dir);
  const fs::path bad = dir / "face_detection_yunet_2022mar.onnx";
  {
    std::ofstream out(bad, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919 + 13) & 0xff));
  }
  std::string what;
  const maskdetect::Errc code = create_error(yunet_config(bad), &what);
  fs::remove_all(dir);
  INFO(what);
  CHECK(code == maskdetect::Errc::model_load);
  CHECK(what.find(bad.string()) != std::string::npos);
  CHECK(what.find("OpenCV >= 4.8") == std::string::npos);
}

TEST_CASE("yunet box calibration scales and shifts every box about its centre", "[yunet][data]") {
  const fs::path model = yunet_2022mar();
  const fs::path image = maskdetect::test::andrewmvd_dir() / "images" / "maksssksksss0.jpg";
  MASKDETECT_REQUIRE_DATA(model);
  MASKDETECT_REQUIRE_DATA(image);
  const cv::Mat bgr = cv::imread(image.string(), cv::IMREAD_COLOR);
  REQUIRE_FALSE(bgr.empty());
  maskdetect::DetectorConfig plain = yunet_config(model, 640);
  maskdetect::DetectorConfig calibrated = plain;
  calibrated.box_scale_x = 0.9f;
  calibrated.box_scale_y = 0.8f;
  calibrated.box_shift_x = 0.05f;
  calibrated.box_shift_y = 0.1f;
  const auto raw = maskdetect::FaceDetector::create(plain)->detect(bgr);
  const auto fitted = maskdetect::FaceDetector::create(calibrated)->detect(bgr);
  REQUIRE(raw.size() == fitted.size());
  REQUIRE_FALSE(raw.empty());
  int checked = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const cv::Rect2f& a = raw[i].box;
    const cv::Rect2f& b = fitted[i].box;
    // Boxes clipped at the frame edge are not compared.
    if (a.x <= 0.0f || a.y <= 0.0f || a.br().x >= static_cast<float>(bgr.cols) - 1.0f ||
        a.br().y >= static_cast<float>(bgr.rows) - 1.0f)
      continue;
    ++checked;
    CHECK(b.width == Approx(0.9f * a.width).epsilon(1e-3));
    CHECK(b.height == Approx(0.8f * a.height).epsilon(1e-3));
    CHECK(b.x + 0.5f * b.width == Approx(a.x + 0.5f * a.width + 0.05f * a.width).epsilon(1e-3));
    CHECK(b.y + 0.5f * b.height == Approx(a.y + 0.5f * a.height + 0.1f * a.height).epsilon(1e-3));
    CHECK(raw[i].score == fitted[i].score);
  }
  CHECK(checked > 0);
}
