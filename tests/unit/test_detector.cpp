// The facade end to end on real photos, and drawing.
#include <opencv2/imgcodecs.hpp>

#include <maskdetect/maskdetect.hpp>

#include "sdk_support.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::test::blazeface_back_config;

namespace {

fs::path images_dir() { return maskdetect::test::andrewmvd_dir() / "images"; }

}  // namespace

TEST_CASE("Detector finds and labels faces, consistent with its own probabilities", "[detector][data]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  maskdetect::Detector detector(blazeface_back_config());
  std::size_t faces_seen = 0;
  for (const char* stem : {"maksssksksss0", "maksssksksss5", "maksssksksss12", "maksssksksss27", "maksssksksss101"}) {
    const cv::Mat image = cv::imread((images_dir() / (std::string(stem) + ".jpg")).string());
    REQUIRE_FALSE(image.empty());
    const auto result = detector.detect(image);
    CHECK(result.frame_size == image.size());
    CHECK(result.times.detect_ms > 0.0);
    float previous = 1.0f;
    for (const auto& face : result.faces) {
      CHECK(face.face_score <= previous);
      previous = face.face_score;
      CHECK(face.face_score >= detector.config().detector.score_threshold);
      CHECK(face.box.x >= 0.0f);
      CHECK(face.box.y >= 0.0f);
      CHECK(face.box.x + face.box.width <= static_cast<float>(image.cols) + 0.01f);
      CHECK(face.box.y + face.box.height <= static_cast<float>(image.rows) + 0.01f);
      const auto best = std::max_element(face.probs.begin(), face.probs.end());
      CHECK(static_cast<std::size_t>(best - face.probs.begin()) == static_cast<std::size_t>(face.label));
      CHECK(face.score == *best);
    }
    faces_seen += result.faces.size();
  }
  CHECK(faces_seen >= 5);
}

TEST_CASE("Detector rejects empty and non-BGR images", "[detector]") {
  maskdetect::Detector detector(maskdetect::preset("webcam"));
  CHECK_THROWS_AS(detector.detect(cv::Mat()), maskdetect::Error);
  try {
    (void)detector.detect(cv::Mat(64, 64, CV_8UC1, cv::Scalar(0)));
    FAIL("expected bad_input");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::bad_input);
  }
  CHECK(detector.detect(cv::Mat(480, 640, CV_8UC3, cv::Scalar(30, 30, 30))).faces.empty());
}

TEST_CASE("the face threshold can change between frames", "[detector][data]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  maskdetect::Detector detector(blazeface_back_config());
  const cv::Mat image = cv::imread((images_dir() / "maksssksksss0.jpg").string());
  detector.set_face_threshold(0.3f);
  const auto loose = detector.detect(image).faces.size();
  detector.set_face_threshold(0.95f);
  const auto strict = detector.detect(image).faces.size();
  CHECK(loose >= strict);
  CHECK(loose > 0);
  CHECK_THROWS_AS(detector.set_face_threshold(1.5f), maskdetect::Error);
}

TEST_CASE("draw_results outlines each face in its label's colour", "[annotate]") {
  maskdetect::FrameResult result;
  result.frame_size = {200, 150};
  maskdetect::Face face;
  face.box = {50.0f, 60.0f, 40.0f, 40.0f};
  face.label = maskdetect::MaskLabel::no_mask;
  face.score = 0.8f;
  result.faces.push_back(face);
  cv::Mat frame(150, 200, CV_8UC3, cv::Scalar(0, 0, 0));
  maskdetect::draw_results(frame, result, {.summary = false});
  const cv::Scalar red = maskdetect::label_color(maskdetect::MaskLabel::no_mask);
  const cv::Vec3b edge = frame.at<cv::Vec3b>(80, 50);  // left edge of the box
  CHECK(edge == cv::Vec3b(static_cast<uchar>(red[0]), static_cast<uchar>(red[1]), static_cast<uchar>(red[2])));
  CHECK(frame.at<cv::Vec3b>(80, 70) == cv::Vec3b(0, 0, 0));  // inside untouched
  CHECK(cv::countNonZero(frame.reshape(1)) > 0);
  CHECK(maskdetect::label_color(maskdetect::MaskLabel::mask) != red);
}
