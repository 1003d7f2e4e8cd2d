// Fuzz target: a YOLO classes file and a label file (maskdetect::eval::parse_yolo_classes and
// parse_yolo_labels). The input is split at the first NUL byte: classes text, then labels text.
#include <algorithm>

#include "common.hpp"
#include "eval/dataset.hpp"
#include "maskdetect/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const maskdetect::eval::ClassMap classes;
  const std::string_view text = maskdetect::fuzz::text_of(data, size);
  const auto nul = text.find('\0');
  const std::string_view classes_text =
      nul == std::string_view::npos ? std::string_view("mask\nno_mask\n") : text.substr(0, nul);
  const std::string_view labels_text = nul == std::string_view::npos ? text : text.substr(nul + 1);
  try {
    const auto names = maskdetect::eval::parse_yolo_classes(classes_text, "classes.txt");
    maskdetect::eval::Sample sample;
    sample.name = "a.jpg";
    sample.normalized = true;
    std::vector<maskdetect::eval::DatasetIssue> issues;
    if (!maskdetect::eval::parse_yolo_labels(labels_text, "a.txt", names, classes, sample, issues))
      maskdetect::eval::resolve_boxes(sample, cv::Size(640, 480), issues);
  } catch (const maskdetect::Error&) {
  }
  return 0;
}
