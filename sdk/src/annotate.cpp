// Drawing results: one definition of colours, boxes, labels, zones and the header.
#include "maskdetect/annotate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

namespace maskdetect {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
cv::Scalar faint_color() { return {200, 200, 200}; }  // neutral: a face that is no person has no label colour
constexpr double kFaintAlpha = 0.45;
cv::Scalar zone_color() { return {230, 170, 110}; }  // a muted blue, unlike any label colour
constexpr double kZoneAlpha = 0.22;
constexpr double kHeaderAlpha = 0.65;  // the header's dark bar

/// Sizes that follow the frame, so that a 320 px preview and a 1920 px video are both readable.
struct Metrics {
  int box_thickness = 1;
  double label_scale = 0.4;
  int label_thickness = 1;
  int label_pad = 2;
  double header_scale = 0.4;
  int header_thickness = 1;
  int header_pad = 3;
};

Metrics metrics_for(cv::Size size, const DrawOptions& options) {
  Metrics m;
  const int short_side = std::min(size.width, size.height);
  m.box_thickness = options.thickness > 0 ? options.thickness : std::max(1, short_side / 320);
  m.label_scale = std::clamp(short_side / 900.0, 0.35, 1.2);
  m.label_thickness = m.label_scale >= 0.8 ? 2 : 1;
  m.label_pad = std::max(2, cvRound(3.0 * m.label_scale));
  m.header_scale = std::clamp(size.width / 1800.0, 0.4, 1.1);
  m.header_thickness = m.header_scale >= 0.8 ? 2 : 1;
  m.header_pad = std::max(3, cvRound(5.0 * m.header_scale));
  return m;
}

cv::Rect box_of(const Face& face) {
  return {cvRound(face.box.x), cvRound(face.box.y), cvRound(face.box.width), cvRound(face.box.height)};
}

/// Black or white, whichever reads better on `background` (WCAG relative luminance).
cv::Scalar text_color_on(const cv::Scalar& background) {
  const auto linear = [](double c) {
    c /= 255.0;
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  const double luminance =
      0.2126 * linear(background[2]) + 0.7152 * linear(background[1]) + 0.0722 * linear(background[0]);
  // Contrast with black (L + 0.05) / 0.05 against white 1.05 / (L + 0.05): equal at L ~ 0.179.
  return luminance > 0.179 ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255);
}

bool full_face(const Face& face, const DrawOptions& options) { return !options.tracked || face.counted; }

std::string label_text(const Face& face, const DrawOptions& options) {
  const MaskLabel shown = shown_label(face);
  // The probability this frame gives the label shown; the frame's own score when that is the label.
  const float p = shown == face.label ? face.score : face.prob(shown);
  if (options.tracked && face.track_id >= 0) return fmt::format("#{} {} {:.2f}", face.track_id, to_string(shown), p);
  return fmt::format("{} {:.2f}", to_string(shown), p);
}

long overlap_area(const cv::Rect& a, const std::vector<cv::Rect>& others) {
  long total = 0;
  for (const cv::Rect& o : others) total += static_cast<long>((a & o).area());
  return total;
}

/// Moves `r` inside a frame of `size` (as far as it fits).
cv::Rect clamp_into(cv::Rect r, cv::Size size) {
  r.width = std::min(r.width, size.width);
  r.height = std::min(r.height, size.height);
  r.x = std::clamp(r.x, 0, size.width - r.width);
  r.y = std::clamp(r.y, 0, size.height - r.height);
  return r;
}

/// Where a tag of `tag` size goes for `box`: the first candidate (above, below, inside at the top, inside at the
/// bottom, then further above/below, beside) that covers no tag already placed and no other face, else the first
/// that covers no tag, else the one that covers the least.
cv::Rect place_tag(cv::Size tag, const cv::Rect& box, cv::Size frame, const std::vector<cv::Rect>& taken,
                   const std::vector<cv::Rect>& other_boxes) {
  const int w = tag.width;
  const int h = tag.height;
  const std::array<int, 2> xs{box.x, box.x + box.width - w};
  std::vector<cv::Point> tops;
  tops.reserve(32);
  const auto add_row = [&](int y) {
    for (const int x : xs) tops.emplace_back(x, y);
  };
  add_row(box.y - h);               // above
  add_row(box.y + box.height);      // below
  add_row(box.y);                   // inside, at the top
  add_row(box.y + box.height - h);  // inside, at the bottom
  for (int k = 1; k <= 3; ++k) {
    add_row(box.y - h * (k + 1));
    add_row(box.y + box.height + h * k);
  }
  tops.emplace_back(box.x + box.width, box.y);  // right of the box
  tops.emplace_back(box.x - w, box.y);          // left of the box
  std::vector<cv::Rect> candidates;
  candidates.reserve(tops.size());
  for (const cv::Point& p : tops) candidates.push_back(clamp_into(cv::Rect(p.x, p.y, w, h), frame));

  for (const cv::Rect& c : candidates)
    if (overlap_area(c, taken) == 0 && overlap_area(c, other_boxes) == 0) return c;
  for (const cv::Rect& c : candidates)
    if (overlap_area(c, taken) == 0) return c;
  // Crowded: any free place along the box's column, scanning the frame by tag heights.
  for (int y = 0; y + h <= frame.height; y += std::max(1, h / 2)) {
    const cv::Rect c = clamp_into(cv::Rect(xs[0], y, w, h), frame);
    if (overlap_area(c, taken) == 0) return c;
  }
  return *std::min_element(candidates.begin(), candidates.end(), [&](const cv::Rect& a, const cv::Rect& b) {
    return overlap_area(a, taken) < overlap_area(b, taken);
  });
}

/// Blends `overlay` drawn by `paint` (on a copy of `roi` of `bgr`) into `bgr` with opacity `alpha`.
template <typename Paint>
void blend(cv::Mat& bgr, cv::Rect roi, double alpha, Paint paint) {
  roi &= cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (roi.empty()) return;
  cv::Mat target = bgr(roi);
  cv::Mat overlay = target.clone();
  paint(overlay, roi.tl());
  cv::addWeighted(overlay, alpha, target, 1.0 - alpha, 0.0, target);
}

struct HeaderSegment {
  std::string text;
  cv::Scalar color;
};

struct HeaderLayout {
  std::vector<HeaderSegment> segments;
  std::vector<cv::Point> origins;  // baseline origin of each segment's text
  cv::Rect rect;
};

HeaderLayout layout_header(cv::Size size, const std::vector<HeaderSegment>& segments, const Metrics& m) {
  HeaderLayout layout;
  layout.segments = segments;
  int baseline = 0;
  const cv::Size gap = cv::getTextSize("  ", kFont, m.header_scale, m.header_thickness, &baseline);
  const int line_height =
      cv::getTextSize("Ag", kFont, m.header_scale, m.header_thickness, &baseline).height + baseline + m.header_pad;
  int x = m.header_pad;
  int line = 0;
  int widest = 0;
  for (const HeaderSegment& segment : segments) {
    const cv::Size text = cv::getTextSize(segment.text, kFont, m.header_scale, m.header_thickness, &baseline);
    if (x > m.header_pad && x + text.width > size.width - m.header_pad) {  // wrap: the next line
      x = m.header_pad;
      ++line;
    }
    layout.origins.emplace_back(x, m.header_pad + line * line_height + (line_height - baseline - m.header_pad));
    x += text.width;
    widest = std::max(widest, x);
    x += gap.width;
  }
  layout.rect = clamp_into(cv::Rect(0, 0, widest + m.header_pad, (line + 1) * line_height + m.header_pad), size);
  return layout;
}

}  // namespace

cv::Scalar label_color(MaskLabel label) noexcept {
  switch (label) {
    case MaskLabel::mask:
      return {60, 180, 75};  // green
    case MaskLabel::no_mask:
      return {40, 40, 220};  // red
    case MaskLabel::incorrect:
      return {0, 140, 255};  // amber/orange
  }
  return {255, 255, 255};
}

std::string label_color_hex(MaskLabel label) {
  const cv::Scalar c = label_color(label);
  return fmt::format("#{:02x}{:02x}{:02x}", static_cast<int>(c[2]), static_cast<int>(c[1]), static_cast<int>(c[0]));
}

MaskLabel shown_label(const Face& face) noexcept { return face.person_state.value_or(face.label); }

namespace {

/// The layout plus what drawing needs and tests do not.
struct FullLayout {
  DrawLayout layout;
  Metrics metrics;
  HeaderLayout header;
};

FullLayout compute_layout(cv::Size size, const FrameResult& result, const DrawOptions& options) {
  FullLayout full;
  full.metrics = metrics_for(size, options);
  const Metrics& m = full.metrics;
  DrawLayout& layout = full.layout;

  // Who is in view: distinct counted persons by their state (tracked), else every face by its label.
  std::array<int, kNumLabels> counts{};
  std::set<std::int64_t> persons;
  for (const Face& face : result.faces) {
    if (!full_face(face, options)) {
      if (options.others == OtherFaces::faint) {
        ++layout.faint;
      } else {
        ++layout.hidden;
      }
      continue;
    }
    if (options.tracked && face.track_id >= 0 && !persons.insert(face.track_id).second) continue;  // seen
    ++layout.people_in_view;
    ++counts[static_cast<std::size_t>(shown_label(face))];
  }

  std::vector<cv::Rect> taken;
  if (options.summary && size.width > 0 && size.height > 0) {
    std::vector<HeaderSegment> segments;
    segments.push_back({fmt::format("{} {}", options.tracked ? "in view" : "faces", layout.people_in_view),
                        cv::Scalar(255, 255, 255)});
    for (const MaskLabel label : kAllLabels)
      segments.push_back(
          {fmt::format("{} {}", to_string(label), counts[static_cast<std::size_t>(label)]), label_color(label)});
    full.header = layout_header(size, segments, m);
    layout.header = full.header.rect;
    for (std::size_t i = 0; i < segments.size(); ++i) layout.header_text += (i == 0 ? "" : " | ") + segments[i].text;
    taken.push_back(layout.header);
  }

  std::vector<cv::Rect> boxes;
  std::vector<std::size_t> drawn;
  for (std::size_t i = 0; i < result.faces.size(); ++i) {
    if (!full_face(result.faces[i], options)) continue;
    drawn.push_back(i);
    boxes.push_back(box_of(result.faces[i]));
  }
  for (std::size_t k = 0; k < drawn.size(); ++k) {
    const Face& face = result.faces[drawn[k]];
    std::string text = label_text(face, options);
    int baseline = 0;
    const cv::Size t = cv::getTextSize(text, kFont, m.label_scale, m.label_thickness, &baseline);
    const cv::Size tag(t.width + 2 * m.label_pad, t.height + baseline + 2 * m.label_pad);
    std::vector<cv::Rect> others;
    others.reserve(boxes.size());
    for (std::size_t j = 0; j < boxes.size(); ++j)
      if (j != k) others.push_back(boxes[j]);
    const cv::Rect rect = place_tag(tag, boxes[k], size, taken, others);
    taken.push_back(rect);
    layout.labels.push_back({drawn[k], rect, std::move(text)});
  }
  return full;
}

}  // namespace

DrawLayout layout_results(cv::Size size, const FrameResult& result, const DrawOptions& options) {
  return compute_layout(size, result, options).layout;
}

DrawLayout draw_results(cv::Mat& bgr, const FrameResult& result, const DrawOptions& options) {
  if (bgr.empty()) return {};
  FullLayout full = compute_layout(bgr.size(), result, options);
  const Metrics& m = full.metrics;
  const cv::Size size = bgr.size();

  // Zones first: everything else is drawn over them.
  for (const NormalisedPolygon& zone : options.zones) {
    if (zone.size() < 3) continue;
    std::vector<cv::Point> points;
    points.reserve(zone.size());
    for (const cv::Point2f& p : zone)
      points.emplace_back(cvRound(p.x * static_cast<float>(size.width)),
                          cvRound(p.y * static_cast<float>(size.height)));
    const cv::Rect bounds = cv::boundingRect(points) + cv::Size(1, 1);
    blend(bgr, bounds, kZoneAlpha, [&](cv::Mat& overlay, cv::Point origin) {
      std::vector<cv::Point> shifted;
      shifted.reserve(points.size());
      for (const cv::Point& p : points) shifted.push_back(p - origin);
      cv::fillPoly(overlay, std::vector<std::vector<cv::Point>>{shifted}, zone_color(), cv::LINE_AA);
    });
    cv::polylines(bgr, points, true, zone_color(), 1, cv::LINE_AA);
  }

  // Faces that are no person: faint, under the people.
  if (options.others == OtherFaces::faint) {
    for (const Face& face : result.faces) {
      if (full_face(face, options)) continue;
      const cv::Rect box = box_of(face);
      blend(bgr, cv::Rect(box.x - 1, box.y - 1, box.width + 3, box.height + 3), kFaintAlpha,
            [&](cv::Mat& overlay, cv::Point origin) {
              cv::rectangle(overlay, cv::Rect(box.tl() - origin, box.size()), faint_color(), 1, cv::LINE_8);
            });
    }
  }

  for (const DrawnLabel& label : full.layout.labels) {
    const Face& face = result.faces[label.face];
    const cv::Scalar color = label_color(shown_label(face));
    cv::rectangle(bgr, box_of(face), color, m.box_thickness, cv::LINE_8);
    if (options.landmarks) {
      for (const auto& p : face.landmarks) cv::circle(bgr, p, m.box_thickness + 1, color, cv::FILLED, cv::LINE_AA);
    }
  }
  // Tags after every box, so that no box is drawn over a tag.
  for (const DrawnLabel& label : full.layout.labels) {
    const cv::Scalar color = label_color(shown_label(result.faces[label.face]));
    cv::rectangle(bgr, label.rect, color, cv::FILLED);
    int baseline = 0;
    cv::getTextSize(label.text, kFont, m.label_scale, m.label_thickness, &baseline);
    const cv::Point origin(label.rect.x + m.label_pad, label.rect.y + label.rect.height - m.label_pad - baseline);
    cv::putText(bgr, label.text, origin, kFont, m.label_scale, text_color_on(color), m.label_thickness, cv::LINE_AA);
  }

  if (!full.layout.header.empty()) {
    blend(bgr, full.layout.header, kHeaderAlpha,
          [](cv::Mat& overlay, cv::Point) { overlay.setTo(cv::Scalar(0, 0, 0)); });
    for (std::size_t i = 0; i < full.header.segments.size(); ++i)
      cv::putText(bgr, full.header.segments[i].text, full.header.origins[i], kFont, m.header_scale,
                  full.header.segments[i].color, m.header_thickness, cv::LINE_AA);
  }
  return std::move(full.layout);
}

}  // namespace maskdetect
