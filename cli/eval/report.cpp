#include "eval/report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/annotate.hpp"
#include "maskdetect/error.hpp"

namespace fs = std::filesystem;

namespace maskdetect::eval {

namespace {

std::string pct(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.3f}", v); }

nlohmann::json num(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

std::string label_name(std::size_t c) {
  return c < kNumLabels ? std::string(to_string(kAllLabels[c])) : std::string("(none)");
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::map<std::string, std::size_t> issue_counts(const Dataset& dataset) {
  std::map<std::string, std::size_t> counts;
  for (const DatasetIssue& issue : dataset.issues) ++counts[issue.kind];
  return counts;
}

// ------------------------------------------------------------------------------------------- plots
// Plain colour values (cv::Scalar has no constexpr constructor).
constexpr std::array<double, 3> kBlackBgr{0, 0, 0};
constexpr std::array<double, 3> kGreyBgr{200, 200, 200};
constexpr std::array<double, 3> kWhiteBgr{255, 255, 255};
cv::Scalar scalar(const std::array<double, 3>& bgr) { return {bgr[0], bgr[1], bgr[2]}; }

void put_text(cv::Mat& img, const std::string& text, cv::Point at, double scale = 0.45,
              const cv::Scalar& color = scalar(kBlackBgr), int thickness = 1) {
  cv::putText(img, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv::LINE_AA);
}

struct Series {
  const PrCurve* curve;
  cv::Scalar color;
  std::string name;
};

/// Precision (y) against recall (x), as steps through the curve's points.
cv::Mat plot_pr(const std::string& title, const std::vector<Series>& series) {
  const int w = 480;
  const int h = 400;
  const int left = 50;
  const int right = 20;
  const int top = 35;
  const int bottom = 45;
  cv::Mat img(h, w, CV_8UC3, scalar(kWhiteBgr));
  const int pw = w - left - right;
  const int ph = h - top - bottom;
  auto to_px = [&](double r, double p) {
    return cv::Point(left + static_cast<int>(std::lround(r * pw)), top + static_cast<int>(std::lround((1.0 - p) * ph)));
  };
  for (int k = 0; k <= 5; ++k) {
    const double v = k / 5.0;
    cv::line(img, to_px(v, 0.0), to_px(v, 1.0), scalar(kGreyBgr), 1);
    cv::line(img, to_px(0.0, v), to_px(1.0, v), scalar(kGreyBgr), 1);
    put_text(img, fmt::format("{:.1f}", v), to_px(v, 0.0) + cv::Point(-10, 18), 0.4);
    put_text(img, fmt::format("{:.1f}", v), to_px(0.0, v) + cv::Point(-32, 5), 0.4);
  }
  cv::rectangle(img, to_px(0.0, 1.0), to_px(1.0, 0.0), scalar(kBlackBgr), 1);
  put_text(img, "recall", cv::Point(left + pw / 2 - 20, h - 8), 0.5);
  put_text(img, "P", cv::Point(8, top + ph / 2), 0.5);
  put_text(img, title, cv::Point(left, 22), 0.55, scalar(kBlackBgr), 1);
  int legend_y = top + 18;
  for (const Series& s : series) {
    const PrCurve& c = *s.curve;
    std::vector<cv::Point> pts;
    double prev_r = 0.0;
    for (std::size_t i = 0; i < c.recall.size(); ++i) {
      if (i == 0) pts.push_back(to_px(0.0, c.precision[0]));
      pts.push_back(to_px(prev_r, c.precision[i]));
      pts.push_back(to_px(c.recall[i], c.precision[i]));
      prev_r = c.recall[i];
    }
    if (!pts.empty()) cv::polylines(img, pts, false, s.color, 2, cv::LINE_AA);
    cv::line(img, cv::Point(w - right - 170, legend_y - 4), cv::Point(w - right - 150, legend_y - 4), s.color, 2);
    put_text(img, s.name, cv::Point(w - right - 145, legend_y), 0.42);
    legend_y += 18;
  }
  return img;
}

/// A matrix of counts, cells shaded by row share.
cv::Mat plot_matrix(const std::string& title, const std::vector<std::vector<std::size_t>>& counts,
                    const std::vector<std::string>& rows, const std::vector<std::string>& cols) {
  const int cell = 90;
  const int left = 110;
  const int top = 70;
  const int w = left + cell * static_cast<int>(cols.size()) + 20;
  const int h = top + cell * static_cast<int>(rows.size()) + 20;
  cv::Mat img(h, w, CV_8UC3, scalar(kWhiteBgr));
  put_text(img, title, cv::Point(10, 20), 0.55);
  put_text(img, "predicted ->", cv::Point(left, 40), 0.45);
  put_text(img, "truth", cv::Point(10, 40), 0.45);
  for (std::size_t c = 0; c < cols.size(); ++c)
    put_text(img, cols[c], cv::Point(left + static_cast<int>(c) * cell + 6, top - 8), 0.42);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::size_t row_sum = 0;
    for (const std::size_t v : counts[r]) row_sum += v;
    put_text(img, rows[r], cv::Point(10, top + static_cast<int>(r) * cell + cell / 2 + 5), 0.45);
    for (std::size_t c = 0; c < cols.size(); ++c) {
      if (r >= kNumLabels && c >= kNumLabels) continue;  // (spurious, missed): not a cell
      const cv::Rect box(left + static_cast<int>(c) * cell, top + static_cast<int>(r) * cell, cell, cell);
      const double share = row_sum == 0 ? 0.0 : static_cast<double>(counts[r][c]) / static_cast<double>(row_sum);
      const double shade = 255.0 * (1.0 - 0.75 * share);
      cv::rectangle(img, box, cv::Scalar(255.0, shade, shade), cv::FILLED);
      cv::rectangle(img, box, scalar(kGreyBgr), 1);
      if (r == c) cv::rectangle(img, box, cv::Scalar(0, 140, 0), 2);
      put_text(img, fmt::format("{}", counts[r][c]), box.tl() + cv::Point(10, cell / 2), 0.6, scalar(kBlackBgr), 2);
      if (row_sum > 0)
        put_text(img, fmt::format("{:.0f}%", 100.0 * share), box.tl() + cv::Point(10, cell / 2 + 22), 0.4);
    }
  }
  return img;
}

void write_png(const fs::path& path, const cv::Mat& img) {
  if (!cv::imwrite(path.string(), img)) throw Error(Errc::io, fmt::format("cannot write '{}'", path.string()));
}

std::vector<std::vector<std::size_t>> to_rows(const auto& matrix) {
  std::vector<std::vector<std::size_t>> rows;
  rows.reserve(matrix.size());
  for (const auto& row : matrix) rows.emplace_back(row.begin(), row.end());
  return rows;
}

std::string table_row(const std::vector<std::string>& cells, const char* tag = "td") {
  std::string out = "<tr>";
  for (const std::string& c : cells) out += fmt::format("<{0}>{1}</{0}>", tag, c);
  return out + "</tr>\n";
}

}  // namespace

std::string format_issues(const Dataset& dataset, std::size_t max_listed) {
  if (dataset.issues.empty()) return "dataset issues: none\n";
  std::string out = "dataset issues:";
  for (const auto& [kind, n] : issue_counts(dataset))
    out += fmt::format(" {} {}{}", kind, n, is_note(kind) ? " (note)" : "");
  out += "\n";
  std::size_t listed = 0;
  for (const DatasetIssue& issue : dataset.issues) {
    if (listed == max_listed) {
      out += fmt::format("  ... and {} more (see --json)\n", dataset.issues.size() - listed);
      break;
    }
    out += fmt::format("  {}: {}: {}\n", issue.kind, issue.name, issue.detail);
    ++listed;
  }
  return out;
}

std::string format_table(const Evaluation& eval, const RunInfo& info) {
  std::string out = fmt::format("eval: {}\n      on {}{} ({} images", info.system, info.dataset,
                                info.split.empty() ? "" : " split " + info.split, info.images);
  if (info.seconds > 0.0)
    out += fmt::format(", {:.1f} s, {:.1f} images/s", info.seconds, static_cast<double>(info.images) / info.seconds);
  const auto skipped = issue_counts(eval.dataset)["malformed"];
  if (skipped > 0) out += fmt::format(", {} annotation file(s) or entries skipped as malformed", skipped);
  out += ")\n";
  if (eval.detection) out += fmt::format("      detections ranked by {}\n", info.ranking);
  if (eval.detection) {
    const DetectionMetrics& m = *eval.detection;
    out += fmt::format(
        "\nmAP@0.5 {}   mAP@0.3 {}   mAP@[.5:.95] {}   face AP@0.5 {}   face AP@0.3 {}   face recall {} (all "
        "detections) / {} (at threshold {:.2f})\n\n",
        pct(m.map50), pct(m.map30), pct(m.map50_95), pct(m.face_ap50.ap), pct(m.face_ap30.ap), pct(m.face_recall_all),
        pct(m.faces.recall()), m.operating_threshold);
    out += fmt::format("{:<12}{:>8}{:>8}{:>10}{:>10}{:>12}{:>8}{:>8}{:>8}\n", "class", "truths", "dets", "AP@0.5",
                       "AP@0.3", "AP@.5:.95", "P", "R", "F1");
    for (std::size_t c = 0; c < kNumLabels; ++c)
      out += fmt::format("{:<12}{:>8}{:>8}{:>10}{:>10}{:>12}{:>8.3f}{:>8.3f}{:>8.3f}\n", label_name(c),
                         m.ap50[c].truths, m.ap50[c].detections, pct(m.ap50[c].ap), pct(m.ap30[c].ap),
                         pct(m.ap50_95[c]), m.per_class[c].precision(), m.per_class[c].recall(), m.per_class[c].f1());
    out += fmt::format("{:<12}{:>8}{:>8}{:>10}{:>10}{:>12}{:>8.3f}{:>8.3f}{:>8.3f}\n", "all (micro)", m.overall.actual,
                       m.overall.predicted, pct(m.map50), pct(m.map30), pct(m.map50_95), m.overall.precision(),
                       m.overall.recall(), m.overall.f1());
    out += fmt::format("{:<12}{:>8}{:>8}{:>10}{:>10}{:>12}{:>8.3f}{:>8.3f}{:>8.3f}\n", "face", m.faces.actual,
                       m.face_ap50.detections, pct(m.face_ap50.ap), pct(m.face_ap30.ap), "", m.faces.precision(),
                       m.faces.recall(), m.faces.f1());
    out += "\nconfusion (rows truth, columns predicted; matched faces at IoU 0.5, threshold " +
           fmt::format("{:.2f})\n", m.operating_threshold);
    out += fmt::format("{:<12}{:>10}{:>10}{:>10}{:>10}\n", "", "mask", "no_mask", "incorrect", "missed");
    for (std::size_t r = 0; r <= kNumLabels; ++r) {
      out += fmt::format("{:<12}", r < kNumLabels ? label_name(r) : std::string("spurious"));
      for (std::size_t c = 0; c <= kNumLabels; ++c)
        out +=
            (r == kNumLabels && c == kNumLabels) ? fmt::format("{:>10}", "") : fmt::format("{:>10}", m.confusion[r][c]);
      out += "\n";
    }
    out += "\nby face size (sqrt of box area; AP@0.5 with the other sizes ignored, as COCO's area ranges)\n";
    for (std::size_t b = 0; b < kNumBuckets; ++b) {
      const double n = static_cast<double>(m.bucket_truths[b]);
      out +=
          fmt::format("  {:<12} {:>5} faces   mAP@0.5 {}   face AP@0.5 {}   found {}   found with the right label {}\n",
                      bucket_name(b), m.bucket_truths[b], pct(m.bucket_map50[b]), pct(m.bucket_face_ap50[b]),
                      n > 0 ? pct(static_cast<double>(m.bucket_found[b]) / n) : "n/a",
                      n > 0 ? pct(static_cast<double>(m.bucket_right_label[b]) / n) : "n/a");
    }
  }
  if (eval.classification) {
    const ClassificationMetrics& m = *eval.classification;
    out += fmt::format("\naccuracy {}   macro F1 {}   ({} images)\n\n", pct(m.accuracy), pct(m.macro_f1), m.samples);
    out += fmt::format("{:<12}{:>8}{:>8}{:>8}{:>8}\n", "class", "images", "P", "R", "F1");
    for (std::size_t c = 0; c < kNumLabels; ++c)
      out += fmt::format("{:<12}{:>8}{:>8.3f}{:>8.3f}{:>8}\n", label_name(c), m.per_class[c].actual,
                         m.per_class[c].precision(), m.per_class[c].recall(),
                         m.per_class[c].actual > 0 ? pct(m.per_class[c].f1()) : "n/a");
    out += "\nconfusion (rows truth, columns predicted)\n";
    out += fmt::format("{:<12}{:>10}{:>10}{:>10}\n", "", "mask", "no_mask", "incorrect");
    for (std::size_t r = 0; r < kNumLabels; ++r)
      out += fmt::format("{:<12}{:>10}{:>10}{:>10}\n", label_name(r), m.confusion[r][0], m.confusion[r][1],
                         m.confusion[r][2]);
  }
  out += '\n';  // not "\n" + string: g++ 12 -O3 warns -Wrestrict on that operator+ (a false positive)
  out += format_issues(eval.dataset, 20);
  return out;
}

nlohmann::json coco_results(const Evaluation& eval) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < eval.dataset.samples.size() && i < eval.results.size(); ++i) {
    if (i >= eval.scored.size() || !eval.scored[i]) continue;
    for (const Face& face : eval.results[i].faces) {
      const auto round2 = [](float v) { return std::round(static_cast<double>(v) * 100.0) / 100.0; };
      out.push_back(
          {{"image_id", eval.dataset.samples[i].image_id},
           {"category_id", eval.dataset.category_ids[static_cast<std::size_t>(face.label)]},
           {"bbox", {round2(face.box.x), round2(face.box.y), round2(face.box.width), round2(face.box.height)}},
           {"score", std::round(static_cast<double>(face.face_score) * static_cast<double>(face.score) * 1e4) / 1e4}});
    }
  }
  return out;
}

nlohmann::json to_json(const Evaluation& eval, const RunInfo& info) {
  nlohmann::json j;
  j["map50"] = nullptr;
  j["map50_95"] = nullptr;
  j["macro_f1"] = nullptr;
  j["accuracy"] = nullptr;
  j["system"] = info.system;
  if (eval.detection) j["ranking"] = info.ranking;
  j["command"] = info.command;
  j["dataset"] = {{"path", info.dataset},
                  {"format", std::string(to_string(eval.dataset.format))},
                  {"split", info.split},
                  {"images", info.images}};
  j["seconds"] = info.seconds;
  if (eval.detection) {
    const DetectionMetrics& m = *eval.detection;
    j["task"] = "detection";
    j["map50"] = num(m.map50);
    j["map50_95"] = num(m.map50_95);
    j["map30"] = num(m.map30);
    j["macro_f1"] = num(
        nan_mean({m.per_class[0].actual ? m.per_class[0].f1() : NAN, m.per_class[1].actual ? m.per_class[1].f1() : NAN,
                  m.per_class[2].actual ? m.per_class[2].f1() : NAN}));
    j["operating_threshold"] = m.operating_threshold;
    nlohmann::json classes = nlohmann::json::object();
    for (std::size_t c = 0; c < kNumLabels; ++c)
      classes[label_name(c)] = {{"ap50", num(m.ap50[c].ap)},
                                {"ap30", num(m.ap30[c].ap)},
                                {"ap50_95", num(m.ap50_95[c])},
                                {"truths", m.ap50[c].truths},
                                {"detections", m.ap50[c].detections},
                                {"precision", m.per_class[c].precision()},
                                {"recall", m.per_class[c].recall()},
                                {"f1", m.per_class[c].f1()},
                                {"tp", m.per_class[c].tp}};
    j["classes"] = classes;
    j["face"] = {{"ap50", num(m.face_ap50.ap)},     {"ap30", num(m.face_ap30.ap)},
                 {"recall_all", m.face_recall_all}, {"precision", m.faces.precision()},
                 {"recall", m.faces.recall()},      {"f1", m.faces.f1()},
                 {"truths", m.faces.actual},        {"detections", m.faces.predicted}};
    j["overall"] = {{"precision", m.overall.precision()}, {"recall", m.overall.recall()}, {"f1", m.overall.f1()}};
    j["confusion"] = {{"rows", {"mask", "no_mask", "incorrect", "spurious"}},
                      {"columns", {"mask", "no_mask", "incorrect", "missed"}},
                      {"counts", to_rows(m.confusion)}};
    nlohmann::json buckets = nlohmann::json::array();
    for (std::size_t b = 0; b < kNumBuckets; ++b) {
      const double n = static_cast<double>(m.bucket_truths[b]);
      buckets.push_back(
          {{"bucket", bucket_name(b)},
           {"faces", m.bucket_truths[b]},
           {"map50", num(m.bucket_map50[b])},
           {"face_ap50", num(m.bucket_face_ap50[b])},
           {"recall", n > 0 ? num(static_cast<double>(m.bucket_found[b]) / n) : nullptr},
           {"recall_right_label", n > 0 ? num(static_cast<double>(m.bucket_right_label[b]) / n) : nullptr}});
    }
    j["size_buckets"] = buckets;
  }
  if (eval.classification) {
    const ClassificationMetrics& m = *eval.classification;
    j["task"] = "classification";
    j["accuracy"] = m.accuracy;
    j["macro_f1"] = num(m.macro_f1);
    nlohmann::json classes = nlohmann::json::object();
    for (std::size_t c = 0; c < kNumLabels; ++c)
      classes[label_name(c)] = {{"images", m.per_class[c].actual},
                                {"precision", m.per_class[c].precision()},
                                {"recall", m.per_class[c].recall()},
                                {"f1", m.per_class[c].actual ? num(m.per_class[c].f1()) : nullptr}};
    j["classes"] = classes;
    j["confusion"] = {{"rows", {"mask", "no_mask", "incorrect"}},
                      {"columns", {"mask", "no_mask", "incorrect"}},
                      {"counts", to_rows(m.confusion)}};
  }
  nlohmann::json issues = nlohmann::json::array();
  for (const DatasetIssue& issue : eval.dataset.issues)
    issues.push_back({{"kind", issue.kind}, {"name", issue.name}, {"detail", issue.detail}});
  j["issues"] = issues;
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [kind, n] : issue_counts(eval.dataset)) counts[kind] = n;
  j["issue_counts"] = counts;
  return j;
}

void write_html_report(const Evaluation& eval, const RunInfo& info, const fs::path& dir, std::size_t max_gallery) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot create report folder '{}': {}", dir.string(), ec.message()));

  std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>maskdetect eval</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
.head{font-size:1.4em}.head b{margin-right:1.5em}
.gallery{display:flex;flex-wrap:wrap;gap:12px}.gallery figure{margin:0;max-width:480px}
.gallery img{max-width:480px;border:1px solid #ccc}figcaption{font-size:.85em}
code{background:#f4f4f4;padding:1px 4px}.plots img{margin:4px}
</style></head><body>
<h1>maskdetect eval</h1>
)";
  html += fmt::format(
      "<p>System: <b>{}</b><br>Dataset: <code>{}</code> ({}){}<br>Images scored: {}{}<br>Command: "
      "<code>{}</code></p>\n",
      html_escape(info.system), html_escape(info.dataset), to_string(eval.dataset.format),
      info.split.empty() ? "" : ", split <code>" + html_escape(info.split) + "</code>", info.images,
      info.seconds > 0 ? fmt::format(", {:.1f} s", info.seconds) : "", html_escape(info.command));

  if (eval.detection) {
    const DetectionMetrics& m = *eval.detection;
    html += fmt::format(
        "<p class=head><b>mAP@0.5 {}</b><b>mAP@0.3 {}</b><b>mAP@[.5:.95] {}</b><b>face AP@0.5 {}</b>"
        "<b>face AP@0.3 {}</b></p>\n",
        pct(m.map50), pct(m.map30), pct(m.map50_95), pct(m.face_ap50.ap), pct(m.face_ap30.ap));
    html += "<h2>Per class</h2><table>\n";
    html += table_row({"class", "truths", "detections", "AP@0.5", "AP@0.3", "AP@[.5:.95]",
                       fmt::format("P@{:.2f}", m.operating_threshold), "R", "F1"},
                      "th");
    for (std::size_t c = 0; c < kNumLabels; ++c)
      html += table_row({label_name(c), fmt::format("{}", m.ap50[c].truths), fmt::format("{}", m.ap50[c].detections),
                         pct(m.ap50[c].ap), pct(m.ap30[c].ap), pct(m.ap50_95[c]), pct(m.per_class[c].precision()),
                         pct(m.per_class[c].recall()), pct(m.per_class[c].f1())});
    html += table_row({"all (micro)", fmt::format("{}", m.overall.actual), fmt::format("{}", m.overall.predicted),
                       pct(m.map50), pct(m.map30), pct(m.map50_95), pct(m.overall.precision()), pct(m.overall.recall()),
                       pct(m.overall.f1())});
    html += table_row({"face (any label)", fmt::format("{}", m.faces.actual), fmt::format("{}", m.face_ap50.detections),
                       pct(m.face_ap50.ap), pct(m.face_ap30.ap), "", pct(m.faces.precision()), pct(m.faces.recall()),
                       pct(m.faces.f1())});
    html += "</table>\n";
    html += fmt::format(
        "<p>Face recall over all detections given: {}. P/R/F1 at face score &ge; {:.2f}, IoU 0.5; AP "
        "uses every detection (VOC all-point for AP@0.5, COCO 101-point for AP@[.5:.95]).</p>\n",
        pct(m.face_recall_all), m.operating_threshold);

    std::vector<Series> all;
    const std::array<cv::Scalar, kNumLabels> colors{label_color(MaskLabel::mask), label_color(MaskLabel::no_mask),
                                                    label_color(MaskLabel::incorrect)};
    html += "<h2>Precision-recall curves (IoU 0.5)</h2><div class=plots>\n";
    for (std::size_t c = 0; c < kNumLabels; ++c) {
      const std::string file = fmt::format("pr_{}.png", label_name(c));
      write_png(dir / file, plot_pr(fmt::format("{}: AP@0.5 {}", label_name(c), pct(m.ap50[c].ap)),
                                    {{&m.ap50[c].curve, colors[c], label_name(c)}}));
      html += fmt::format("<img src=\"{}\" alt=\"PR curve {}\">\n", file, label_name(c));
      all.push_back({&m.ap50[c].curve, colors[c], label_name(c)});
    }
    all.push_back({&m.face_ap50.curve, cv::Scalar(120, 60, 0), "face (any label)"});
    write_png(dir / "pr_face.png", plot_pr(fmt::format("face, any label: AP@0.5 {}", pct(m.face_ap50.ap)),
                                           {{&m.face_ap50.curve, cv::Scalar(120, 60, 0), "face"}}));
    write_png(dir / "pr_all.png", plot_pr("all classes", all));
    html += "<img src=\"pr_face.png\" alt=\"PR curve face\">\n<img src=\"pr_all.png\" alt=\"PR curves\"></div>\n";

    write_png(dir / "confusion.png",
              plot_matrix("matched faces, IoU 0.5", to_rows(m.confusion), {"mask", "no_mask", "incorrect", "spurious"},
                          {"mask", "no_mask", "incorrect", "missed"}));
    html +=
        "<h2>Confusion matrix</h2><p>Rows: truth (spurious = detection matching no face); columns: predicted "
        "(missed = face without detection).</p><img src=\"confusion.png\" alt=\"confusion matrix\"><table>\n";
    html += table_row({"truth \\ predicted", "mask", "no_mask", "incorrect", "missed"}, "th");
    for (std::size_t r = 0; r <= kNumLabels; ++r) {
      std::vector<std::string> cells{r < kNumLabels ? label_name(r) : "spurious"};
      for (std::size_t c = 0; c <= kNumLabels; ++c)
        cells.push_back(r == kNumLabels && c == kNumLabels ? "" : fmt::format("{}", m.confusion[r][c]));
      html += table_row(cells);
    }
    html += "</table>\n<h2>By face size</h2><table>\n";
    html += table_row({"size (sqrt area)", "faces", "mAP@0.5", "face AP@0.5", "found", "found, right label"}, "th");
    for (std::size_t b = 0; b < kNumBuckets; ++b) {
      const double n = static_cast<double>(m.bucket_truths[b]);
      html += table_row({bucket_name(b), fmt::format("{}", m.bucket_truths[b]), pct(m.bucket_map50[b]),
                         pct(m.bucket_face_ap50[b]), n > 0 ? pct(static_cast<double>(m.bucket_found[b]) / n) : "n/a",
                         n > 0 ? pct(static_cast<double>(m.bucket_right_label[b]) / n) : "n/a"});
    }
    html += "</table>\n";

    // Gallery: images with the most missed or mislabelled faces, and with the most confident false alarms.
    std::vector<std::size_t> by_misses;
    std::vector<std::pair<float, std::size_t>> by_false_alarm;
    for (std::size_t i = 0; i < m.images.size(); ++i) {
      if (!eval.scored[i]) continue;
      const ImageErrors& e = m.images[i];
      if (!e.missed.empty() || !e.wrong_label.empty()) by_misses.push_back(i);
      float top = -1.0f;
      for (const std::size_t d : e.false_alarms) top = std::max(top, eval.detections[d].face_score);
      if (top >= 0.0f) by_false_alarm.emplace_back(top, i);
    }
    std::stable_sort(by_misses.begin(), by_misses.end(), [&](std::size_t a, std::size_t b) {
      return m.images[a].missed.size() + m.images[a].wrong_label.size() >
             m.images[b].missed.size() + m.images[b].wrong_label.size();
    });
    std::stable_sort(by_false_alarm.begin(), by_false_alarm.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });

    auto draw = [&](std::size_t i, const std::string& file) {
      cv::Mat img = cv::imread(eval.dataset.samples[i].path.string(), cv::IMREAD_COLOR);
      if (img.empty()) return false;
      FrameResult shown = eval.results[i];
      std::erase_if(shown.faces, [&](const Face& f) { return f.face_score < m.operating_threshold; });
      const double scale = img.cols < 480 ? 480.0 / img.cols : 1.0;
      if (scale != 1.0) {
        cv::resize(img, img, cv::Size(), scale, scale, cv::INTER_LINEAR);
        for (Face& f : shown.faces) {
          f.box = cv::Rect2f(f.box.x * static_cast<float>(scale), f.box.y * static_cast<float>(scale),
                             f.box.width * static_cast<float>(scale), f.box.height * static_cast<float>(scale));
          f.landmarks.clear();
        }
      }
      draw_results(img, shown, DrawOptions{.landmarks = false, .summary = false, .thickness = 2});
      const auto sbox = [&](const cv::Rect2f& b) {
        return cv::Rect(
            cv::Point(static_cast<int>(b.x * scale), static_cast<int>(b.y * scale)),
            cv::Point(static_cast<int>((b.x + b.width) * scale), static_cast<int>((b.y + b.height) * scale)));
      };
      for (const std::size_t t : m.images[i].missed) {  // magenta: face nobody found
        cv::rectangle(img, sbox(eval.truths[t].box), cv::Scalar(255, 0, 255), 2);
      }
      for (const std::size_t t : m.images[i].wrong_label)  // yellow dashed look: truth with another label
        cv::rectangle(img, sbox(eval.truths[t].box).tl() - cv::Point(3, 3),
                      sbox(eval.truths[t].box).br() + cv::Point(3, 3), cv::Scalar(0, 255, 255), 1);
      for (const std::size_t d : m.images[i].false_alarms)  // cyan outer box: detection matching no face
        cv::rectangle(img, sbox(eval.detections[d].box).tl() - cv::Point(4, 4),
                      sbox(eval.detections[d].box).br() + cv::Point(4, 4), cv::Scalar(255, 255, 0), 2);
      return cv::imwrite((dir / file).string(), img);
    };
    auto caption = [&](std::size_t i) {
      const ImageErrors& e = m.images[i];
      std::string truth_labels;
      for (std::size_t t : e.wrong_label)
        truth_labels += fmt::format(" {}", label_name(static_cast<std::size_t>(eval.truths[t].label)));
      return fmt::format("<code>{}</code>: {} faces, {} missed, {} wrong label{}, {} false alarms",
                         html_escape(eval.dataset.samples[i].name), eval.dataset.samples[i].boxes.size(),
                         e.missed.size(), e.wrong_label.size(),
                         truth_labels.empty() ? "" : " (truth:" + truth_labels + ")", e.false_alarms.size());
    };
    html +=
        "<h2>Worst misses</h2><p>Boxes: detections in label colours (green mask, red no_mask, orange "
        "incorrect); <span style=\"color:#c0c\">magenta</span>: face not found; yellow outline: face found "
        "with another label; cyan outline: false alarm.</p><div class=gallery>\n";
    for (std::size_t k = 0; k < std::min(max_gallery, by_misses.size()); ++k) {
      const std::string file = fmt::format("miss_{:02}.png", k);
      if (draw(by_misses[k], file))
        html +=
            fmt::format("<figure><img src=\"{}\"><figcaption>{}</figcaption></figure>\n", file, caption(by_misses[k]));
    }
    html += "</div>\n<h2>Worst false alarms</h2><div class=gallery>\n";
    for (std::size_t k = 0; k < std::min(max_gallery, by_false_alarm.size()); ++k) {
      const std::size_t i = by_false_alarm[k].second;
      const std::string file = fmt::format("false_alarm_{:02}.png", k);
      if (draw(i, file))
        html += fmt::format(
            "<figure><img src=\"{}\"><figcaption>{} (top false alarm face score {:.2f})</figcaption>"
            "</figure>\n",
            file, caption(i), by_false_alarm[k].first);
    }
    html += "</div>\n";
  }

  if (eval.classification) {
    const ClassificationMetrics& m = *eval.classification;
    html += fmt::format("<p class=head><b>accuracy {}</b><b>macro F1 {}</b></p>\n<table>\n", pct(m.accuracy),
                        pct(m.macro_f1));
    html += table_row({"class", "images", "precision", "recall", "F1"}, "th");
    for (std::size_t c = 0; c < kNumLabels; ++c)
      html += table_row({label_name(c), fmt::format("{}", m.per_class[c].actual), pct(m.per_class[c].precision()),
                         pct(m.per_class[c].recall()), m.per_class[c].actual ? pct(m.per_class[c].f1()) : "n/a"});
    html += "</table>\n";
    write_png(dir / "confusion.png", plot_matrix("classification", to_rows(m.confusion),
                                                 {"mask", "no_mask", "incorrect"}, {"mask", "no_mask", "incorrect"}));
    html += "<h2>Confusion matrix</h2><img src=\"confusion.png\" alt=\"confusion matrix\">\n";
    // Gallery of misclassified images.
    html += "<h2>Misclassified</h2><div class=gallery>\n";
    std::size_t shown = 0;
    std::size_t k = 0;
    for (std::size_t i = 0; i < eval.dataset.samples.size() && shown < max_gallery; ++i) {
      if (!eval.scored[i]) continue;
      const MaskLabel predicted = eval.predicted_labels[k++];
      const Sample& s = eval.dataset.samples[i];
      if (!s.label || predicted == *s.label) continue;
      cv::Mat img = cv::imread(s.path.string(), cv::IMREAD_COLOR);
      if (img.empty()) continue;
      const double scale = 240.0 / std::max(img.cols, img.rows);
      cv::resize(img, img, cv::Size(), scale, scale, cv::INTER_AREA);
      cv::rectangle(img, cv::Rect(0, 0, img.cols, img.rows), label_color(predicted), 4);
      const std::string file = fmt::format("misclassified_{:02}.png", shown++);
      cv::imwrite((dir / file).string(), img);
      html += fmt::format(
          "<figure><img src=\"{}\"><figcaption><code>{}</code>: truth {}, predicted {}</figcaption>"
          "</figure>\n",
          file, html_escape(s.name), to_string(*s.label), to_string(predicted));
    }
    html += "</div>\n";
  }

  html += "<h2>Dataset issues</h2>\n";
  if (eval.dataset.issues.empty()) {
    html += "<p>None.</p>\n";
  } else {
    html += "<table>\n" + table_row({"kind", "count"}, "th");
    for (const auto& [kind, n] : issue_counts(eval.dataset))
      html += table_row({html_escape(kind) + (is_note(kind) ? " (note)" : ""), fmt::format("{}", n)});
    html += "</table>\n<table>\n" + table_row({"kind", "file", "detail"}, "th");
    for (const DatasetIssue& issue : eval.dataset.issues)
      html += table_row({html_escape(issue.kind), html_escape(issue.name), html_escape(issue.detail)});
    html += "</table>\n";
  }
  html += "</body></html>\n";
  std::ofstream out(dir / "index.html");
  out << html;
  if (!out) throw Error(Errc::io, fmt::format("cannot write '{}'", (dir / "index.html").string()));
}

}  // namespace maskdetect::eval
