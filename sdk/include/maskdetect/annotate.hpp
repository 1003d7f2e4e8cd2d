// maskdetect/annotate.hpp - drawing results on a frame.
#pragma once

#include <opencv2/core/mat.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect {

struct DrawOptions {
  bool landmarks = false;  ///< draw the detector's keypoints
  bool summary = true;     ///< a banner with counts per label
  int thickness = 0;       ///< box line width; 0 scales with the frame size
};

/// BGR colour of a label: green mask, red no_mask, orange incorrect.
[[nodiscard]] cv::Scalar label_color(MaskLabel label) noexcept;

/// Draws each face's box and "label score" tag on `bgr` in place.
void draw_results(cv::Mat& bgr, const FrameResult& result, const DrawOptions& options = {});

}  // namespace maskdetect
