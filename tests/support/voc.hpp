// PASCAL VOC ground truth and greedy IoU matching for the detector tests and the detector_recall tool.
// (The full dataset readers with class maps and error reporting are `maskdetect eval`'s, in cli/eval/.)
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

namespace maskdetect::test {

/// Boxes of a VOC annotation file, clamped to the frame; boxes left empty are dropped.
inline std::vector<cv::Rect2f> voc_boxes(const std::filesystem::path& xml, cv::Size frame) {
  std::ifstream in(xml);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  static const std::regex box_re(R"(<xmin>\s*([-\d.]+)\s*</xmin>\s*<ymin>\s*([-\d.]+)\s*</ymin>\s*)"
                                 R"(<xmax>\s*([-\d.]+)\s*</xmax>\s*<ymax>\s*([-\d.]+)\s*</ymax>)");
  const cv::Rect2f whole(0.0f, 0.0f, static_cast<float>(frame.width), static_cast<float>(frame.height));
  std::vector<cv::Rect2f> boxes;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), box_re); it != std::sregex_iterator(); ++it) {
    const float x0 = std::stof((*it)[1].str()), y0 = std::stof((*it)[2].str());
    const float x1 = std::stof((*it)[3].str()), y1 = std::stof((*it)[4].str());
    const cv::Rect2f box = cv::Rect2f(x0, y0, x1 - x0, y1 - y0) & whole;
    if (!box.empty()) boxes.push_back(box);
  }
  return boxes;
}

inline float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

/// Detections (in descending score order) matched greedily to unmatched ground truth at IoU >= threshold;
/// returns the number matched (true positives).
inline int greedy_matches(const std::vector<cv::Rect2f>& dets, const std::vector<cv::Rect2f>& gt, float threshold) {
  std::vector<bool> taken(gt.size(), false);
  int matched = 0;
  for (const cv::Rect2f& d : dets) {
    int best = -1;
    float best_iou = threshold;
    for (std::size_t g = 0; g < gt.size(); ++g) {
      if (taken[g]) continue;
      const float v = iou(d, gt[g]);
      if (v >= best_iou) {
        best_iou = v;
        best = static_cast<int>(g);
      }
    }
    if (best >= 0) {
      taken[static_cast<std::size_t>(best)] = true;
      ++matched;
    }
  }
  return matched;
}

}  // namespace maskdetect::test
