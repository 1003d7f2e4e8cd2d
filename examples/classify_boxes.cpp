// classify_boxes: mask decisions for faces found by YOUR detector. The boxes come from a text file
// (one face per line: x y width height [score], pixels of the image); in an application they would come
// from your own face detector. The result is the SDK's usual FrameResult: drawn and printed as JSON.
//
//   classify_boxes photo.jpg boxes.txt [annotated.jpg]
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <maskdetect/maskdetect.hpp>
#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: classify_boxes IMAGE BOXES.txt [ANNOTATED.jpg]\n";
    return 2;
  }
  const cv::Mat image = cv::imread(argv[1], cv::IMREAD_COLOR);
  if (image.empty()) {
    std::cerr << "error: cannot read image " << argv[1] << '\n';
    return 4;
  }
  std::ifstream in(argv[2]);
  if (!in) {
    std::cerr << "error: cannot read " << argv[2] << '\n';
    return 4;
  }
  std::vector<maskdetect::FaceBox> boxes;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    maskdetect::FaceBox face;
    face.score = 1.0f;
    if (!(fields >> face.box.x >> face.box.y >> face.box.width >> face.box.height)) {
      std::cerr << "error: " << argv[2] << ':' << number << ": expected x y width height [score]\n";
      return 4;
    }
    fields >> face.score;  // optional
    boxes.push_back(face);
  }
  try {
    maskdetect::Detector detector(maskdetect::Config{});
    // Only the classifier runs: no face detection, no threshold; the boxes are kept as given.
    const maskdetect::FrameResult result = detector.classify(image, std::move(boxes));
    std::cout << maskdetect::to_json(result, {.image = argv[1]}) << '\n';
    if (argc == 4) {
      cv::Mat annotated = image.clone();
      maskdetect::draw_results(annotated, result);
      if (!cv::imwrite(argv[3], annotated)) {
        std::cerr << "error: cannot write " << argv[3] << '\n';
        return 5;
      }
    }
  } catch (const maskdetect::Error& e) {  // a bad box (bad_input), a missing model, ...
    std::cerr << "error: " << e.what() << '\n';
    return e.code() == maskdetect::Errc::bad_input ? 4 : 3;
  }
  return 0;
}
