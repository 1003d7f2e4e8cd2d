// detect_image: detect faces and masks in one image and print the result as JSON.
//
//   detect_image photo.jpg            -> {"image":"photo.jpg","width":...,"faces":[...]}
//
// Build against an installed maskdetect with find_package(maskdetect) (see CMakeLists.txt).
#include <iostream>

#include <maskdetect/maskdetect.hpp>
#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: detect_image IMAGE\n";
    return 2;
  }
  try {
    // The default configuration works on a fresh install: BlazeFace and the shipped classifier.
    maskdetect::Detector detector(maskdetect::Config{});

    const cv::Mat image = cv::imread(argv[1], cv::IMREAD_COLOR);
    if (image.empty()) {
      std::cerr << "error: cannot read image " << argv[1] << '\n';
      return 4;
    }
    const maskdetect::FrameResult result = detector.detect(image);
    std::cout << maskdetect::to_json(result, {.image = argv[1]}) << '\n';
  } catch (const maskdetect::Error& e) {  // missing model, bad config, ...
    std::cerr << "error: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
