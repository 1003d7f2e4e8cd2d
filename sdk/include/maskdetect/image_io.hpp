// maskdetect/image_io.hpp - decoding untrusted images with limits checked BEFORE any decoder runs.
//
//   const maskdetect::ImageLimits limits = maskdetect::ImageLimits::network();   // JPEG, PNG, WebP; 40 MP
//   cv::Mat bgr = maskdetect::decode_image(bytes, "request body", limits);       // throws Error(bad_input)
//   cv::Mat img = maskdetect::read_image("photo.jpg");                          // files: + BMP
//
// The format and the dimensions are read from the header bytes (JPEG SOF marker, PNG IHDR, WebP
// VP8/VP8L/VP8X, BMP info header); the magic bytes must name a format of the allow-list, and width x height
// must be within the pixel cap. Only then does OpenCV decode. A 400 kB PNG that declares 20000x20000 pixels
// is refused without allocating its 1.2 GB; a TIFF or OpenEXR body never reaches libtiff or OpenEXR.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace maskdetect {

/// Image formats whose header the SDK can read.
enum class ImageFormat { jpeg, png, webp, bmp };

/// "jpeg", "png", "webp", "bmp".
[[nodiscard]] std::string_view to_string(ImageFormat format) noexcept;

/// What the header of an image says.
struct ImageHeader {
  ImageFormat format = ImageFormat::jpeg;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  [[nodiscard]] std::uint64_t pixels() const noexcept { return std::uint64_t{width} * height; }
};

/// The default pixel cap: 40 megapixels (a 7296x5472 photo; 120 MB once decoded as BGR).
inline constexpr std::uint64_t kDefaultMaxImagePixels = 40'000'000;

/// The process-wide default of ImageLimits::max_pixels (applications set it from a flag such as
/// `--max-image-pixels` once at start-up; thread-safe). 0 is refused (Error(invalid_config)).
void set_default_max_image_pixels(std::uint64_t pixels);
[[nodiscard]] std::uint64_t default_max_image_pixels() noexcept;

/// What an image may be before it is decoded.
struct ImageLimits {
  /// width x height at most (from the header, before decoding).
  std::uint64_t max_pixels = default_max_image_pixels();
  /// The formats accepted (checked on the magic bytes, whatever the name or Content-Type says).
  std::vector<ImageFormat> formats{ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp, ImageFormat::bmp};

  /// Bytes from the network: JPEG, PNG and WebP only.
  [[nodiscard]] static ImageLimits network(std::uint64_t max_pixels = default_max_image_pixels());
  /// Files: JPEG, PNG, WebP and BMP (the extensions maskdetect reads as images).
  [[nodiscard]] static ImageLimits files(std::uint64_t max_pixels = default_max_image_pixels());
};

/// The format the magic bytes name (only the first bytes are looked at; the header may still be malformed).
[[nodiscard]] std::optional<ImageFormat> sniff_image_format(std::span<const unsigned char> bytes) noexcept;

/// Reads the format and dimensions from the first bytes of an image. nullopt when the magic bytes are of no
/// format above, or the header is truncated or malformed (no SOF before the scan, zero width, ...).
[[nodiscard]] std::optional<ImageHeader> read_image_header(std::span<const unsigned char> bytes) noexcept;

/// Checks `bytes` against `limits` (format allow-list, then pixel cap) and returns the header.
/// Throws Error(bad_input) naming `name` and the reason.
ImageHeader check_image(std::span<const unsigned char> bytes, std::string_view name, const ImageLimits& limits);

/// check_image, then decodes to 8-bit BGR (EXIF orientation applied). Throws Error(bad_input) naming `name`
/// (e.g. "request body", the file) and the reason; never a cv::Exception.
[[nodiscard]] cv::Mat decode_image(std::span<const unsigned char> bytes, std::string_view name,
                                   const ImageLimits& limits = ImageLimits::network());

/// Reads a file and decodes it as decode_image does. Throws Error(io) when the file cannot be read,
/// Error(bad_input) when it is not an allowed image within the limits.
[[nodiscard]] cv::Mat read_image(const std::filesystem::path& path, const ImageLimits& limits = ImageLimits::files());

}  // namespace maskdetect
