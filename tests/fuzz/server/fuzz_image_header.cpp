// Fuzz target: image bytes from a client, through the checks that run before any decoder
// (maskdetect/image_io.hpp: magic bytes, JPEG/PNG/WebP/BMP header, pixel cap). Decoding itself is OpenCV's and
// is not fuzzed here. Invariants: only maskdetect::Error escapes; an accepted image is of an allowed format,
// within the cap, with a non-zero size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "maskdetect/error.hpp"
#include "maskdetect/image_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const unsigned char> bytes(data, size);
  const auto header = maskdetect::read_image_header(bytes);
  if (header && (header->width == 0 || header->height == 0)) std::abort();
  const maskdetect::ImageLimits limits = maskdetect::ImageLimits::network(4'000'000);
  try {
    const maskdetect::ImageHeader checked = maskdetect::check_image(bytes, "fuzz", limits);
    if (checked.pixels() > limits.max_pixels || checked.format == maskdetect::ImageFormat::bmp) std::abort();
  } catch (const maskdetect::Error& e) {
    if (e.code() != maskdetect::Errc::bad_input) std::abort();
  }
  return 0;
}
