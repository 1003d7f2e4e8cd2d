// Drawing results: one definition of colours, boxes and tags.
#include "maskdetect/annotate.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

namespace maskdetect {

cv::Scalar label_color(MaskLabel label) noexcept {
  switch (label) {
    case MaskLabel::mask:
      return {60, 180, 75};  // green
    case MaskLabel::no_mask:
      return {40, 40, 220};  // red
    case MaskLabel::incorrect:
      return {0, 140, 255};  // orange
  }
  return {255, 255, 255};
}

void draw_results(cv::Mat& bgr, const FrameResult& result, const DrawOptions& options) {
  if (bgr.empty()) return;
  const int short_side = std::min(bgr.cols, bgr.rows);
  const int thickness = options.thickness > 0 ? options.thickness : std::max(1, short_side / 320);
  const double font_scale = std::clamp(short_side / 900.0, 0.35, 1.2);
  const int font = cv::FONT_HERSHEY_SIMPLEX;

  for (const Face& face : result.faces) {
    const cv::Scalar color = label_color(face.label);
    const cv::Rect box(cvRound(face.box.x), cvRound(face.box.y), cvRound(face.box.width), cvRound(face.box.height));
    cv::rectangle(bgr, box, color, thickness, cv::LINE_8);
    if (options.landmarks) {
      for (const auto& p : face.landmarks) cv::circle(bgr, p, thickness + 1, color, cv::FILLED, cv::LINE_AA);
    }
    const std::string tag = fmt::format("{} {:.0f}%", to_string(face.label), 100.0f * face.score);
    int baseline = 0;
    const cv::Size text = cv::getTextSize(tag, font, font_scale, 1, &baseline);
    // Tag above the box, or inside it at the top when the box touches the frame's top edge.
    const int top = box.y - text.height - baseline - 2 >= 0 ? box.y - text.height - baseline - 2 : box.y;
    const cv::Rect tag_box(box.x, top, text.width + 4, text.height + baseline + 2);
    cv::rectangle(bgr, tag_box & cv::Rect(0, 0, bgr.cols, bgr.rows), color, cv::FILLED);
    cv::putText(bgr, tag, {box.x + 2, top + text.height + 1}, font, font_scale, {255, 255, 255}, 1, cv::LINE_AA);
  }

  if (options.summary) {
    std::array<int, kNumLabels> counts{};
    for (const Face& face : result.faces) ++counts[static_cast<std::size_t>(face.label)];
    const std::string banner = fmt::format("faces {}  mask {}  no_mask {}  incorrect {}", result.faces.size(),
                                           counts[0], counts[1], counts[2]);
    int baseline = 0;
    const cv::Size text = cv::getTextSize(banner, font, font_scale, 1, &baseline);
    cv::rectangle(bgr, cv::Rect(0, 0, std::min(bgr.cols, text.width + 8), text.height + baseline + 6),
                  cv::Scalar(0, 0, 0), cv::FILLED);
    cv::putText(bgr, banner, {4, text.height + 3}, font, font_scale, {255, 255, 255}, 1, cv::LINE_AA);
  }
}

}  // namespace maskdetect
