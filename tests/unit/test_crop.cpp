// The crop rule shared with the training recipe (models/training/crop.py).
#include <opencv2/imgproc.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

namespace {

// A frame whose every pixel is distinct enough to tell positions apart.
cv::Mat gradient_frame(int width, int height) {
  cv::Mat frame(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      frame.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x % 256), static_cast<uchar>(y % 256),
                                            static_cast<uchar>((x * 7 + y * 3) % 256));
    }
  }
  return frame;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("crop: a square around the box centre, side max(w,h)*(1+2*margin)", "[crop]") {
  const cv::Mat frame = gradient_frame(200, 100);
  // Box 20x10 at (10, 10), margin 0.25: side 30, centre (20, 15) -> square (5, 0, 30, 30).
  const cv::Mat crop = maskdetect::make_face_crop(frame, {10.0f, 10.0f, 20.0f, 10.0f}, 0.25f, 30);
  CHECK(same_pixels(crop, frame(cv::Rect(5, 0, 30, 30))));
}

TEST_CASE("crop: corners round half away from zero", "[crop]") {
  const cv::Mat frame = gradient_frame(100, 100);
  // Centre (30.5, 40.5), side 10 -> corner (25.5, 35.5) rounds to (26, 36).
  const cv::Mat crop = maskdetect::make_face_crop(frame, {25.5f, 35.5f, 10.0f, 10.0f}, 0.0f, 10);
  CHECK(same_pixels(crop, frame(cv::Rect(26, 36, 10, 10))));
}

TEST_CASE("crop: outside the frame the border pixels are replicated", "[crop]") {
  const cv::Mat frame = gradient_frame(50, 40);
  // Square (-5, -5, 20, 20): 5 columns and rows hang outside the top-left corner.
  const cv::Mat crop = maskdetect::make_face_crop(frame, {-5.0f, -5.0f, 20.0f, 20.0f}, 0.0f, 20);
  cv::Mat expected;
  cv::copyMakeBorder(frame(cv::Rect(0, 0, 15, 15)), expected, 5, 0, 5, 0, cv::BORDER_REPLICATE);
  CHECK(same_pixels(crop, expected));
  CHECK(crop.at<cv::Vec3b>(0, 0) == frame.at<cv::Vec3b>(0, 0));

  // Wholly outside: the nearest frame pixel everywhere.
  const cv::Mat far = maskdetect::make_face_crop(frame, {500.0f, 10.0f, 8.0f, 8.0f}, 0.0f, 8);
  CHECK(far.at<cv::Vec3b>(4, 4) == frame.at<cv::Vec3b>(10, 49));
}

TEST_CASE("crop: resized with INTER_AREA when shrinking, INTER_LINEAR when enlarging", "[crop]") {
  const cv::Mat frame = gradient_frame(300, 300);
  cv::Mat expected;
  const cv::Mat down = maskdetect::make_face_crop(frame, {100.0f, 100.0f, 128.0f, 128.0f}, 0.0f, 64);
  cv::resize(frame(cv::Rect(100, 100, 128, 128)), expected, {64, 64}, 0, 0, cv::INTER_AREA);
  CHECK(same_pixels(down, expected));
  const cv::Mat up = maskdetect::make_face_crop(frame, {100.0f, 100.0f, 32.0f, 32.0f}, 0.0f, 64);
  cv::resize(frame(cv::Rect(100, 100, 32, 32)), expected, {64, 64}, 0, 0, cv::INTER_LINEAR);
  CHECK(same_pixels(up, expected));
}
