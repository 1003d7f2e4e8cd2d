// detector_recall.cpp - face-detector recall at IoU 0.5 and speed on the andrewmvd set (PASCAL VOC).
// Not a test; a measuring tool. Uses only the public API.
//
//   detector_recall <andrewmvd dir> <blazeface_front|blazeface_back|yunet> [options]
//     --model FILE      model file (default: the search path)
//     --input N         DetectorConfig::input_size
//     --tiles N         DetectorConfig::tiles
//     --score F         score threshold (default 0.5)
//     --every K         every K-th image of the sorted list (default 1: all)
//     --threads N       cv::setNumThreads (default 1)
//     --sweep           also report recall with the boxes rescaled / shifted (box-fit study)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskdetect/maskdetect.hpp"
#include "voc.hpp"

namespace fs = std::filesystem;

namespace {

cv::Rect2f adjust(const cv::Rect2f& b, float sw, float sh, float dy) {
  const float w = b.width * sw, h = b.height * sh;
  const float cx = b.x + 0.5f * b.width, cy = b.y + 0.5f * b.height + dy * b.height;
  return {cx - 0.5f * w, cy - 0.5f * h, w, h};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s <andrewmvd dir> <backend> [--model F] [--input N] [--tiles N] [--score F] "
                 "[--every K] [--threads N] [--sweep]\n",
                 argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  maskdetect::DetectorConfig config;
  const std::string backend = argv[2];
  if (backend == "blazeface_front")
    config.backend = maskdetect::DetectorBackend::blazeface_front;
  else if (backend == "blazeface_back")
    config.backend = maskdetect::DetectorBackend::blazeface_back;
  else if (backend == "yunet")
    config.backend = maskdetect::DetectorBackend::yunet;
  else {
    std::fprintf(stderr, "unknown backend %s\n", backend.c_str());
    return 2;
  }
  int every = 1, threads = 1;
  bool sweep = false;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--model")
      config.model = next();
    else if (arg == "--input")
      config.input_size = std::stoi(next());
    else if (arg == "--tiles")
      config.tiles = std::stoi(next());
    else if (arg == "--score")
      config.score_threshold = std::stof(next());
    else if (arg == "--every")
      every = std::max(1, std::stoi(next()));
    else if (arg == "--threads")
      threads = std::stoi(next());
    else if (arg == "--sweep")
      sweep = true;
  }
  cv::setNumThreads(threads);
  try {
    auto detector = maskdetect::FaceDetector::create(config);
    std::vector<fs::path> images;
    for (const auto& entry : fs::directory_iterator(root / "images")) images.push_back(entry.path());
    std::sort(images.begin(), images.end());
    struct Variant {
      float sw, sh, dy;
      int tp = 0;
    };
    std::vector<Variant> variants{{1.0f, 1.0f, 0.0f}};
    if (sweep)
      for (float sw : {0.8f, 0.9f, 1.0f})
        for (float sh : {0.9f, 1.0f, 1.1f, 1.2f, 1.3f})
          for (float dy : {0.0f, 0.05f, 0.1f, 0.15f, 0.2f}) variants.push_back({sw, sh, dy});
    int n_gt = 0, n_det = 0, n_images = 0;
    double total_ms = 0.0;
    for (std::size_t i = 0; i < images.size(); i += static_cast<std::size_t>(every)) {
      const cv::Mat bgr = cv::imread(images[i].string(), cv::IMREAD_COLOR);
      if (bgr.empty()) continue;
      const auto gt =
          maskdetect::test::voc_boxes(root / "annotations" / (images[i].stem().string() + ".xml"), bgr.size());
      const auto t0 = std::chrono::steady_clock::now();
      const auto faces = detector->detect(bgr);
      total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++n_images;
      n_gt += static_cast<int>(gt.size());
      n_det += static_cast<int>(faces.size());
      for (Variant& v : variants) {
        std::vector<cv::Rect2f> dets;
        dets.reserve(faces.size());
        for (const auto& f : faces) dets.push_back(adjust(f.box, v.sw, v.sh, v.dy));
        v.tp += maskdetect::test::greedy_matches(dets, gt, 0.5f);
      }
    }
    const Variant& base = variants.front();
    std::printf(
        "%s input=%d tiles=%d score=%.2f images=%d faces=%d detections=%d recall@0.5=%.3f precision=%.3f "
        "ms/frame=%.2f (threads %d)\n",
        backend.c_str(), config.input_size, config.tiles, static_cast<double>(config.score_threshold), n_images, n_gt,
        n_det, n_gt > 0 ? base.tp / static_cast<double>(n_gt) : 0.0,
        n_det > 0 ? base.tp / static_cast<double>(n_det) : 0.0, total_ms / std::max(n_images, 1), threads);
    if (sweep) {
      std::sort(variants.begin() + 1, variants.end(), [](const Variant& a, const Variant& b) { return a.tp > b.tp; });
      for (std::size_t k = 1; k < std::min<std::size_t>(variants.size(), 8); ++k)
        std::printf("  box w*%.2f h*%.2f shift %+.2f h: recall@0.5=%.3f\n", static_cast<double>(variants[k].sw),
                    static_cast<double>(variants[k].sh), static_cast<double>(variants[k].dy),
                    variants[k].tp / static_cast<double>(std::max(n_gt, 1)));
    }
  } catch (const maskdetect::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", std::string(maskdetect::to_string(e.code())).c_str(), e.what());
    return 1;
  }
  return 0;
}
