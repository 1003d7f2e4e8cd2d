// save_unmasked_faces: run over a video and save a crop of every face without a mask (or with the mask
// worn incorrectly), through a callback, e.g. to feed an alerting system.
//
//   save_unmasked_faces VIDEO OUTPUT_DIR
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include <maskdetect/maskdetect.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

namespace {

// Calls `on_violation` for each face that is not `mask` in each frame of `video`. Returns frames read.
long for_each_violation(const std::string& video, maskdetect::Detector& detector,
                        const std::function<void(const cv::Mat&, long, const maskdetect::Face&)>& on_violation) {
  cv::VideoCapture capture(video);
  if (!capture.isOpened()) throw maskdetect::Error(maskdetect::Errc::bad_input, "cannot open video " + video);
  cv::Mat frame;
  long index = 0;
  for (; capture.read(frame); ++index) {
    for (const maskdetect::Face& face : detector.detect(frame).faces) {
      if (face.label != maskdetect::MaskLabel::mask) on_violation(frame, index, face);
    }
  }
  return index;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: save_unmasked_faces VIDEO OUTPUT_DIR\n";
    return 2;
  }
  const std::filesystem::path out_dir = argv[2];
  std::filesystem::create_directories(out_dir);
  try {
    maskdetect::Detector detector(maskdetect::Config{});
    int saved = 0;
    const long frames = for_each_violation(argv[1], detector, [&](const cv::Mat& frame, long index, const auto& face) {
      const cv::Rect box = cv::Rect(face.box) & cv::Rect(0, 0, frame.cols, frame.rows);
      if (box.empty()) return;
      const auto name = out_dir / ("frame" + std::to_string(index) + "_" + std::to_string(saved++) + "_" +
                                   std::string(maskdetect::to_string(face.label)) + ".jpg");
      cv::imwrite(name.string(), frame(box));
    });
    std::cout << "saved " << saved << " faces from " << frames << " frames into " << out_dir << '\n';
  } catch (const maskdetect::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
