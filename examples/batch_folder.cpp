// batch_folder: classify every image of a folder and print one line per image plus the compliance rate.
//
//   batch_folder DIR [config.yaml]
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

#include <maskdetect/maskdetect.hpp>
#include <opencv2/imgcodecs.hpp>

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: batch_folder DIR [config.yaml]\n";
    return 2;
  }
  try {
    // A YAML config can pick the detector; every key is checked and errors name the key and file.
    const maskdetect::Config config = argc == 3 ? maskdetect::load_config(argv[2]) : maskdetect::preset("default");
    maskdetect::Detector detector(config);

    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(argv[1])) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());

    long faces = 0, masked = 0;
    for (const auto& file : files) {
      const cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
      if (image.empty()) continue;  // not an image
      const auto result = detector.detect(image);
      long here_masked = 0;
      for (const auto& face : result.faces) here_masked += face.label == maskdetect::MaskLabel::mask ? 1 : 0;
      std::cout << file.filename().string() << ": " << result.faces.size() << " faces, " << here_masked << " masked\n";
      faces += static_cast<long>(result.faces.size());
      masked += here_masked;
    }
    if (faces > 0)
      std::cout << "compliance: " << 100.0 * static_cast<double>(masked) / static_cast<double>(faces) << "%\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
