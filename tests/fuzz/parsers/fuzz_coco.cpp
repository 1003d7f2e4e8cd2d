// Fuzz target: COCO detection JSON (maskdetect::eval::parse_coco), then every image's boxes resolved.
#include "common.hpp"
#include "eval/dataset.hpp"
#include "maskdetect/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const maskdetect::eval::ClassMap classes;
  try {
    maskdetect::eval::CocoFile coco =
        maskdetect::eval::parse_coco(maskdetect::fuzz::text_of(data, size), "a.json", classes);
    for (maskdetect::eval::CocoImage& image : coco.images) {
      maskdetect::eval::Sample sample;
      sample.name = image.file_name;
      sample.boxes = std::move(image.boxes);
      maskdetect::eval::resolve_boxes(sample, image.size.area() > 0 ? image.size : cv::Size(640, 480), coco.issues);
    }
  } catch (const maskdetect::Error&) {
  }
  return 0;
}
