// Fuzz target: PASCAL VOC XML (maskdetect::eval::parse_voc, tinyxml2), then the boxes resolved against the
// size the file gives. Malformed files are reported, never thrown; nothing may crash or trip a sanitizer.
#include "common.hpp"
#include "eval/dataset.hpp"
#include "maskdetect/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const maskdetect::eval::ClassMap classes;
  maskdetect::eval::Sample sample;
  sample.name = "a.jpg";
  std::vector<maskdetect::eval::DatasetIssue> issues;
  try {
    if (!maskdetect::eval::parse_voc(maskdetect::fuzz::text_of(data, size), "a.xml", classes, sample, issues))
      maskdetect::eval::resolve_boxes(sample, sample.size.area() > 0 ? sample.size : cv::Size(640, 480), issues);
  } catch (const maskdetect::Error&) {
  }
  return 0;
}
