// draw_results: label placement (inside the frame, never over another label), the person's label and track id,
// faint or hidden faces that are no person, the header's people in view, zones, and one colour per label shared
// with the web UI.
#include <fstream>
#include <regex>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include <maskdetect/annotate.hpp>

#include "test_support.hpp"

using maskdetect::DrawLayout;
using maskdetect::DrawOptions;
using maskdetect::Face;
using maskdetect::FrameResult;
using maskdetect::MaskLabel;

namespace {

Face make_face(cv::Rect2f box, MaskLabel label, float score, std::int64_t track_id = -1, bool counted = false) {
  Face face;
  face.box = box;
  face.face_score = 0.9f;
  face.label = label;
  face.score = score;
  face.probs.fill((1.0f - score) / 2.0f);
  face.probs[static_cast<std::size_t>(label)] = score;
  face.track_id = track_id;
  face.counted = counted;
  return face;
}

cv::Vec3b bgr(const cv::Scalar& s) {
  return {static_cast<uchar>(s[0]), static_cast<uchar>(s[1]), static_cast<uchar>(s[2])};
}

/// Largest per-channel difference between two pixels.
int diff(const cv::Vec3b& a, const cv::Vec3b& b) {
  int d = 0;
  for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(int{a[c]} - int{b[c]}));
  return d;
}

/// A crowded frame of `size`: faces in the four corners, a row along the top edge, a face cut by the right edge,
/// a tight 3x2 cluster in the middle; every face a counted person of tracked video.
FrameResult crowded(cv::Size size) {
  const float s = static_cast<float>(size.width) / 640.0f;  // boxes scale with the frame
  const float w = static_cast<float>(size.width);
  const float h = static_cast<float>(size.height);
  const float f = 44.0f * s;  // face side
  std::vector<cv::Rect2f> boxes{{0, 0, f, f},
                                {w - f, 0, f, f},
                                {0, h - f, f, f},
                                {w - f, h - f, f, f},
                                {w - f / 2, h / 2, f, f}};  // cut by the right edge
  for (int i = 0; i < 4; ++i) boxes.emplace_back(160.0f * s + static_cast<float>(i) * (f + 4.0f * s), 0.0f, f, f);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      boxes.emplace_back(w / 2 - 1.5f * f + static_cast<float>(c) * f, h / 2 + static_cast<float>(r) * f, f, f);
  FrameResult result;
  result.frame_size = size;
  std::int64_t id = 1;
  for (const cv::Rect2f& box : boxes) {
    const auto label = static_cast<MaskLabel>(id % 3);
    result.faces.push_back(make_face(box, label, 0.97f, id, true));
    ++id;
  }
  return result;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("labels of crowded faces at the edges stay inside the frame and never overlap", "[annotate]") {
  for (const cv::Size size : {cv::Size(320, 180), cv::Size(640, 360), cv::Size(1920, 1080)}) {
    INFO("frame " << size.width << "x" << size.height);
    const FrameResult result = crowded(size);
    cv::Mat frame(size, CV_8UC3, cv::Scalar(90, 90, 90));
    const DrawLayout layout = maskdetect::draw_results(frame, result, {.tracked = true});
    REQUIRE(layout.labels.size() == result.faces.size());
    const cv::Rect whole(0, 0, size.width, size.height);
    REQUIRE_FALSE(layout.header.empty());
    CHECK((layout.header & whole) == layout.header);
    const std::regex tag(R"(#\d+ (mask|no_mask|incorrect) \d\.\d\d)");
    for (std::size_t i = 0; i < layout.labels.size(); ++i) {
      const auto& label = layout.labels[i];
      INFO("label " << label.text << " at " << label.rect);
      CHECK(std::regex_match(label.text, tag));
      CHECK((label.rect & whole) == label.rect);  // never cut at an edge
      CHECK((label.rect & layout.header).empty());
      for (std::size_t j = 0; j < i; ++j) CHECK((label.rect & layout.labels[j].rect).empty());
      // Drawn: the tag's corner has its person's colour.
      const Face& face = result.faces[label.face];
      CHECK(frame.at<cv::Vec3b>(label.rect.y, label.rect.x) == bgr(maskdetect::label_color(face.label)));
    }
  }
}

TEST_CASE("a label at the right edge is moved inside, not cut", "[annotate]") {
  FrameResult result;
  result.frame_size = {400, 300};
  result.faces.push_back(make_face({370, 120, 30, 30}, MaskLabel::no_mask, 0.91f));
  const DrawLayout layout = maskdetect::layout_results(result.frame_size, result, {.summary = false});
  REQUIRE(layout.labels.size() == 1);
  CHECK(layout.labels[0].text == "no_mask 0.91");
  CHECK(layout.labels[0].rect.x + layout.labels[0].rect.width <= 400);
  CHECK(layout.labels[0].rect.x >= 0);
  CHECK(layout.labels[0].rect.width > 30);  // the whole text, wider than the face
}

TEST_CASE("a person's face shows the track id and the person's state, in that state's colour", "[annotate]") {
  FrameResult result;
  result.frame_size = {640, 480};
  Face face = make_face({200, 200, 80, 80}, MaskLabel::mask, 0.7f, 3, true);
  face.probs = {0.7f, 0.25f, 0.05f};
  face.person_state = MaskLabel::no_mask;  // the person's state leads this frame's own label
  result.faces.push_back(face);
  cv::Mat frame(480, 640, CV_8UC3, cv::Scalar(0, 0, 0));
  const DrawLayout layout = maskdetect::draw_results(frame, result, {.summary = false, .tracked = true});
  REQUIRE(layout.labels.size() == 1);
  CHECK(layout.labels[0].text == "#3 no_mask 0.25");
  const cv::Vec3b red = bgr(maskdetect::label_color(MaskLabel::no_mask));
  CHECK(frame.at<cv::Vec3b>(240, 200) == red);  // the box's left edge
  CHECK(frame.at<cv::Vec3b>(layout.labels[0].rect.y, layout.labels[0].rect.x) == red);

  SECTION("stills: no id, the face's own label") {
    const DrawLayout still = maskdetect::layout_results(result.frame_size, result, {.summary = false});
    REQUIRE(still.labels.size() == 1);
    CHECK(still.labels[0].text == "no_mask 0.25");  // person_state set by a caller still wins
    result.faces[0].person_state.reset();
    CHECK(maskdetect::layout_results(result.frame_size, result, {.summary = false}).labels[0].text == "mask 0.70");
  }
}

TEST_CASE("faces that are no counted person are drawn faint without a label, or not at all", "[annotate]") {
  FrameResult result;
  result.frame_size = {400, 300};
  result.faces.push_back(make_face({40, 100, 60, 60}, MaskLabel::mask, 0.9f, 1, true));       // a person
  result.faces.push_back(make_face({180, 100, 60, 60}, MaskLabel::no_mask, 0.9f, 2, false));  // not yet counted
  result.faces.push_back(make_face({300, 100, 60, 60}, MaskLabel::no_mask, 0.9f));            // weak, no track
  const cv::Vec3b grey(100, 100, 100);
  const cv::Mat background(300, 400, CV_8UC3, cv::Scalar(100, 100, 100));

  SECTION("faint") {
    cv::Mat frame = background.clone();
    const DrawLayout layout = maskdetect::draw_results(frame, result, {.summary = false, .tracked = true});
    CHECK(layout.labels.size() == 1);
    CHECK(layout.faint == 2);
    CHECK(layout.people_in_view == 1);
    for (const int x : {180, 300}) {
      INFO("face at x " << x);
      const int edge = diff(frame.at<cv::Vec3b>(130, x), grey);
      CHECK(edge > 10);  // visible
      CHECK(edge < 60);  // but translucent: a full box is 100+ away from this grey in some channel
      CHECK(frame.at<cv::Vec3b>(130, x + 1) == grey);  // thin: one pixel
      CHECK(diff(frame.at<cv::Vec3b>(130, x), bgr(maskdetect::label_color(MaskLabel::no_mask))) > 60);  // not red
      // No label: nothing drawn above or below the box.
      CHECK(cv::norm(frame(cv::Rect(x, 60, 60, 38)), background(cv::Rect(x, 60, 60, 38)), cv::NORM_INF) == 0.0);
      CHECK(cv::norm(frame(cv::Rect(x, 162, 60, 38)), background(cv::Rect(x, 162, 60, 38)), cv::NORM_INF) == 0.0);
    }
    CHECK(frame.at<cv::Vec3b>(130, 40) == bgr(maskdetect::label_color(MaskLabel::mask)));  // the person in full
  }
  SECTION("hidden") {
    cv::Mat frame = background.clone();
    const DrawLayout layout = maskdetect::draw_results(
        frame, result, {.summary = false, .tracked = true, .others = maskdetect::OtherFaces::hidden});
    CHECK(layout.labels.size() == 1);
    CHECK(layout.hidden == 2);
    CHECK(cv::norm(frame(cv::Rect(170, 50, 230, 250)), background(cv::Rect(170, 50, 230, 250)), cv::NORM_INF) == 0.0);
  }
  SECTION("stills draw every face in full") {
    cv::Mat frame = background.clone();
    const DrawLayout layout = maskdetect::draw_results(frame, result, {.summary = false});
    CHECK(layout.labels.size() == 3);
    CHECK(layout.faint == 0);
    CHECK(frame.at<cv::Vec3b>(130, 300) == bgr(maskdetect::label_color(MaskLabel::no_mask)));
  }
}

TEST_CASE("the header counts people in view, not faces, and fits 320 and 1920 px wide frames", "[annotate]") {
  FrameResult result;
  result.faces.push_back(make_face({100, 100, 40, 40}, MaskLabel::mask, 0.9f, 3, true));
  result.faces.push_back(make_face({150, 100, 40, 40}, MaskLabel::mask, 0.8f, 3, true));  // person 3's second face
  Face changed = make_face({200, 100, 40, 40}, MaskLabel::mask, 0.6f, 4, true);
  changed.person_state = MaskLabel::no_mask;
  result.faces.push_back(changed);
  result.faces.push_back(make_face({250, 100, 40, 40}, MaskLabel::no_mask, 0.9f, 5, false));  // not counted
  result.faces.push_back(make_face({300, 100, 40, 40}, MaskLabel::incorrect, 0.9f));          // weak

  const DrawLayout tracked = maskdetect::layout_results({640, 480}, result, {.tracked = true});
  CHECK(tracked.header_text == "in view 2 | mask 1 | no_mask 1 | incorrect 0");
  CHECK(tracked.people_in_view == 2);
  const DrawLayout stills = maskdetect::layout_results({640, 480}, result, {});
  CHECK(stills.header_text == "faces 5 | mask 2 | no_mask 2 | incorrect 1");  // person_state wins here too
  CHECK(maskdetect::layout_results({640, 480}, result, {.summary = false}).header.empty());

  for (const int width : {320, 1920}) {
    INFO("width " << width);
    const cv::Size size(width, width * 9 / 16);
    cv::Mat frame(size, CV_8UC3, cv::Scalar(255, 255, 255));
    const DrawLayout layout = maskdetect::draw_results(frame, FrameResult{}, {.tracked = true});
    CHECK(layout.header_text == "in view 0 | mask 0 | no_mask 0 | incorrect 0");
    CHECK((layout.header & cv::Rect(0, 0, size.width, size.height)) == layout.header);
    // Readable: text at least ~9 px high at 320 px, and larger at 1920 px; the bar is darkened behind it.
    CHECK(layout.header.height >= (width == 320 ? 14 : 30));
    CHECK(layout.header.width <= width);
    CHECK(frame.at<cv::Vec3b>(layout.header.y + 1, layout.header.x + 1)[0] < 128);
  }
}

TEST_CASE("ignore zones are drawn faintly under the faces", "[annotate]") {
  const cv::Mat background(200, 400, CV_8UC3, cv::Scalar(100, 100, 100));
  cv::Mat frame = background.clone();
  DrawOptions options{.summary = false};
  options.zones.push_back({{0.1f, 0.1f}, {0.5f, 0.1f}, {0.5f, 0.6f}, {0.1f, 0.6f}});
  options.zones.push_back({{0.0f, 0.0f}, {0.05f, 0.0f}});  // not a polygon: ignored
  maskdetect::draw_results(frame, FrameResult{}, options);
  const cv::Vec3b grey(100, 100, 100);
  const int inside = diff(frame.at<cv::Vec3b>(60, 120), grey);  // (0.3, 0.3)
  CHECK(inside > 5);
  CHECK(inside < 60);                                    // translucent
  CHECK(diff(frame.at<cv::Vec3b>(20, 100), grey) > 20);  // the outline (y 0.1)
  CHECK(frame.at<cv::Vec3b>(150, 300) == grey);          // outside
  CHECK(frame.at<cv::Vec3b>(2, 2) == grey);              // the two-point "zone" drew nothing
}

TEST_CASE("one colour per label, the same in the web UI", "[annotate]") {
  CHECK(maskdetect::label_color_hex(MaskLabel::mask) == "#4bb43c");
  const std::string css = read_file(std::filesystem::path(MASKDETECT_TEST_SOURCE_DIR) / "web" / "ui" / "app.css");
  REQUIRE_FALSE(css.empty());
  for (const MaskLabel label : maskdetect::kAllLabels) {
    const std::string definition =
        "--md-" + std::string(maskdetect::to_string(label)) + ": " + maskdetect::label_color_hex(label) + ";";
    INFO(definition);
    CHECK(css.find(definition) != std::string::npos);
  }
  CHECK(maskdetect::label_color(MaskLabel::mask) != maskdetect::label_color(MaskLabel::incorrect));
  CHECK(maskdetect::label_color(MaskLabel::no_mask) != maskdetect::label_color(MaskLabel::incorrect));
}
