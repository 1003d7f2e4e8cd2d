// aizoo_predict.cpp - the AIZOO peer face-mask detector (../shared/models/aizoo, a one-stage Caffe SSD) as JSON
// Lines predictions in the SDK's shape, so that `maskdetect eval --predictions` scores it with the same code
// as maskdetect. A measuring tool, not a test, and never part of the SDK. Decoding as in PROVENANCE.txt there.
//
//   aizoo_predict <dataset or image folder> <out.jsonl> [--split FILE] [--conf F] [--nms F] [--model-dir DIR]
//     dataset: a folder with images/ (VOC, YOLO) or the image folder itself; names are written relative to it
//     --conf F    keep detections with max class score >= F (authors' default 0.5; lower for AP)
//     --nms F     NMS IoU (authors' default 0.4)
// Classes: 0 Mask -> mask, 1 NoMask -> no_mask (AIZOO never predicts incorrect).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/json.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kInput = 260;

struct Anchor {
  float cx, cy, w, h;
};

/// 5,972 anchors: per feature map, cells row-major; per cell both sizes at ratio 1, then the first size at
/// ratios 0.62 and 0.42; w = s * sqrt(r), h = s / sqrt(r).
std::vector<Anchor> make_anchors() {
  const std::array<int, 5> maps{33, 17, 9, 5, 3};
  const std::array<std::array<float, 2>, 5> sizes{
      {{0.04f, 0.056f}, {0.08f, 0.11f}, {0.16f, 0.22f}, {0.32f, 0.45f}, {0.64f, 0.72f}}};
  std::vector<Anchor> anchors;
  for (std::size_t m = 0; m < maps.size(); ++m) {
    const int fm = maps[m];
    for (int i = 0; i < fm; ++i)
      for (int j = 0; j < fm; ++j) {
        const float cx = (static_cast<float>(j) + 0.5f) / static_cast<float>(fm);
        const float cy = (static_cast<float>(i) + 0.5f) / static_cast<float>(fm);
        anchors.push_back({cx, cy, sizes[m][0], sizes[m][0]});
        anchors.push_back({cx, cy, sizes[m][1], sizes[m][1]});
        for (const float r : {0.62f, 0.42f})
          anchors.push_back({cx, cy, sizes[m][0] * std::sqrt(r), sizes[m][0] / std::sqrt(r)});
      }
  }
  return anchors;
}

int usage() {
  std::fputs(
      "usage: aizoo_predict <dataset or image folder> <out.jsonl> [--split FILE] [--conf F] [--nms F] "
      "[--model-dir DIR]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const fs::path root = argv[1];
  const fs::path out_path = argv[2];
  fs::path split;
  float conf = 0.5f;
  float nms = 0.4f;
  fs::path model_dir = fs::path(MASKDETECT_TEST_SHARED_DIR) / "models" / "aizoo";
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--split") {
      split = argv[++i];
    } else if (arg == "--conf") {
      conf = std::stof(argv[++i]);
    } else if (arg == "--nms") {
      nms = std::stof(argv[++i]);
    } else if (arg == "--model-dir") {
      model_dir = argv[++i];
    } else {
      return usage();
    }
  }
  const fs::path image_dir = fs::is_directory(root / "images") ? root / "images" : root;
  std::set<std::string> wanted;
  if (!split.empty()) {
    std::ifstream in(split);
    if (!in) {
      std::fprintf(stderr, "error: cannot read split file '%s'\n", split.c_str());
      return 1;
    }
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') wanted.insert(fs::path(line).stem().string());
  }
  std::vector<fs::path> images;
  for (const auto& e : fs::recursive_directory_iterator(image_dir)) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".jpg" && ext != ".jpeg" && ext != ".png")) continue;
    if (!wanted.empty() && wanted.count(e.path().stem().string()) == 0) continue;
    images.push_back(e.path());
  }
  std::sort(images.begin(), images.end());

  cv::dnn::Net net = cv::dnn::readNetFromCaffe((model_dir / "face_mask_detection.prototxt").string(),
                                               (model_dir / "face_mask_detection.caffemodel").string());
  const std::vector<Anchor> anchors = make_anchors();
  std::ofstream out(out_path);
  if (!out) {
    std::fprintf(stderr, "error: cannot write '%s'\n", out_path.c_str());
    return 1;
  }
  double total_ms = 0.0;
  for (const fs::path& path : images) {
    const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) {
      std::fprintf(stderr, "warning: cannot read '%s'\n", path.c_str());
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    net.setInput(cv::dnn::blobFromImage(bgr, 1.0 / 255.0, cv::Size(kInput, kInput), cv::Scalar(), true, false));
    std::vector<cv::Mat> outs;
    net.forward(outs, std::vector<cv::String>{"loc_branch_concat", "cls_branch_concat"});
    const cv::Mat loc = outs[0].reshape(1, static_cast<int>(anchors.size()));  // N x 4
    const cv::Mat cls = outs[1].reshape(1, static_cast<int>(anchors.size()));  // N x 2, sigmoid scores
    const float fw = static_cast<float>(bgr.cols);
    const float fh = static_cast<float>(bgr.rows);
    std::vector<cv::Rect2d> boxes;
    std::vector<float> scores;
    std::vector<int> classes;
    std::vector<std::array<float, 2>> probs;  // per box: Mask, NoMask
    for (int k = 0; k < static_cast<int>(anchors.size()); ++k) {
      const float p0 = cls.at<float>(k, 0);
      const float p1 = cls.at<float>(k, 1);
      const float best = std::max(p0, p1);
      if (best < conf) continue;
      const Anchor& a = anchors[static_cast<std::size_t>(k)];
      const float cx = a.cx + loc.at<float>(k, 0) * 0.1f * a.w;
      const float cy = a.cy + loc.at<float>(k, 1) * 0.1f * a.h;
      const float w = a.w * std::exp(loc.at<float>(k, 2) * 0.2f);
      const float h = a.h * std::exp(loc.at<float>(k, 3) * 0.2f);
      const float x0 = std::clamp((cx - w / 2) * fw, 0.0f, fw);
      const float y0 = std::clamp((cy - h / 2) * fh, 0.0f, fh);
      const float x1 = std::clamp((cx + w / 2) * fw, 0.0f, fw);
      const float y1 = std::clamp((cy + h / 2) * fh, 0.0f, fh);
      if (x1 <= x0 || y1 <= y0) continue;
      boxes.emplace_back(x0, y0, x1 - x0, y1 - y0);
      scores.push_back(best);
      classes.push_back(p1 > p0 ? 1 : 0);
      probs.push_back({p0, p1});
    }
    std::vector<int> keep;
    cv::dnn::NMSBoxes(boxes, scores, conf, nms, keep);
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    maskdetect::FrameResult result;
    result.frame_size = bgr.size();
    for (const int k : keep) {
      const auto i = static_cast<std::size_t>(k);
      maskdetect::Face face;
      face.box = cv::Rect2f(boxes[i]);
      face.face_score = scores[i];
      const auto [p0, p1] = probs[i];
      face.probs = {p0 / (p0 + p1), p1 / (p0 + p1), 0.0f};
      face.label = classes[i] == 1 ? maskdetect::MaskLabel::no_mask : maskdetect::MaskLabel::mask;
      face.score = face.probs[static_cast<std::size_t>(face.label)];
      result.faces.push_back(face);
    }
    std::sort(result.faces.begin(), result.faces.end(),
              [](const maskdetect::Face& a, const maskdetect::Face& b) { return a.face_score > b.face_score; });
    maskdetect::FrameInfo info;
    info.image = fs::relative(path, image_dir).generic_string();
    out << maskdetect::to_json(result, info, {.landmarks = false, .timing = false}) << '\n';
  }
  std::fprintf(stderr, "aizoo_predict: %zu images, %.1f ms per image (inference + decoding)\n", images.size(),
               images.empty() ? 0.0 : total_ms / static_cast<double>(images.size()));
  return 0;
}
