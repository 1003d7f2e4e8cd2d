// maskdetect/annotate.hpp - drawing results on a frame: one definition of colours, boxes, labels and the header,
// used by `run` (files, windows), `serve` (MJPEG, WebSocket viewers) and the eval reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect {

/// How draw_results() shows a face that is not a counted person on tracked video (a track whose evidence is not
/// yet enough, a weak face that continues no person).
enum class OtherFaces : std::uint8_t {
  faint,   ///< a thin, translucent, neutral box without a label
  hidden,  ///< not drawn
};

/// A polygon in normalised coordinates: x in [0, 1] of the frame's width, y in [0, 1] of its height.
using NormalisedPolygon = std::vector<cv::Point2f>;

struct DrawOptions {
  bool landmarks = false;  ///< draw the detector's keypoints
  bool summary = true;     ///< the header: people in view per label (tracked video), else faces per label
  int thickness = 0;       ///< box line width; 0 scales with the frame size
  /// The result comes from tracked video with people (FrameResult of Detector::track plus the people rules): a
  /// face is drawn in full (box, "#id label score") only when `Face::counted`; the others as `others` says, and
  /// the header counts people in view (distinct counted persons) by their state. False (stills, detect()): every
  /// face is drawn in full with its own label, and the header counts faces.
  bool tracked = false;
  OtherFaces others = OtherFaces::faint;
  /// Ignore zones (faces there never start a person), drawn faintly under everything else: a translucent fill and
  /// a thin outline. Points outside [0, 1] are clipped by the frame.
  std::vector<NormalisedPolygon> zones;
};

/// A label drawn by draw_results(): which face, where, and what it says.
struct DrawnLabel {
  std::size_t face = 0;  ///< index in FrameResult::faces
  cv::Rect rect;         ///< the filled tag, in pixels; inside the frame
  std::string text;      ///< e.g. "#3 mask 0.97"
};

/// What draw_results() drew, for callers that place more on the frame and for tests.
struct DrawLayout {
  std::vector<DrawnLabel> labels;  ///< in drawing order
  cv::Rect header;                 ///< empty when no header was drawn
  std::string header_text;         ///< e.g. "in view 3 | mask 2 | no_mask 1 | incorrect 0"
  int people_in_view = 0;          ///< tracked: distinct counted persons in the frame; else the faces drawn
  int faint = 0;                   ///< faces drawn faint
  int hidden = 0;                  ///< faces not drawn (OtherFaces::hidden)
};

/// BGR colour of a label: green mask, red no_mask, amber/orange incorrect. The web UI uses the same three
/// colours (web/ui/app.css, --md-mask, --md-no_mask, --md-incorrect).
[[nodiscard]] cv::Scalar label_color(MaskLabel label) noexcept;

/// "#rrggbb" of label_color() (as CSS writes it).
[[nodiscard]] std::string label_color_hex(MaskLabel label);

/// The label a face is shown with: its person's state when set (tracked video with people), else its own label.
[[nodiscard]] MaskLabel shown_label(const Face& face) noexcept;

/// Where draw_results() would put everything on a frame of `size`, without drawing.
[[nodiscard]] DrawLayout layout_results(cv::Size size, const FrameResult& result, const DrawOptions& options = {});

/// Draws on `bgr` in place: the zones, each face (box in its label's colour and a tag "#id label score", placed
/// inside the frame and never over another tag: above the box, below it, inside it, then shifted), and the
/// header. Returns what was drawn (layout_results()).
DrawLayout draw_results(cv::Mat& bgr, const FrameResult& result, const DrawOptions& options = {});

}  // namespace maskdetect
