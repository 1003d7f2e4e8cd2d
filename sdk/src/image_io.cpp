#include "maskdetect/image_io.hpp"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskdetect/error.hpp"

namespace maskdetect {

namespace {

std::atomic<std::uint64_t> g_default_max_pixels{kDefaultMaxImagePixels};

using Bytes = std::span<const unsigned char>;

std::uint32_t be16(Bytes b, std::size_t at) { return (std::uint32_t{b[at]} << 8U) | b[at + 1]; }
std::uint32_t be32(Bytes b, std::size_t at) { return (be16(b, at) << 16U) | be16(b, at + 2); }
std::uint32_t le16(Bytes b, std::size_t at) { return std::uint32_t{b[at]} | (std::uint32_t{b[at + 1]} << 8U); }
std::uint32_t le24(Bytes b, std::size_t at) { return le16(b, at) | (std::uint32_t{b[at + 2]} << 16U); }
std::uint32_t le32(Bytes b, std::size_t at) { return le16(b, at) | (le16(b, at + 2) << 16U); }

bool starts_with(Bytes b, std::string_view magic, std::size_t at = 0) {
  if (b.size() < at + magic.size()) return false;
  return std::equal(magic.begin(), magic.end(), b.begin() + static_cast<std::ptrdiff_t>(at),
                    [](char m, unsigned char c) { return static_cast<unsigned char>(m) == c; });
}

std::optional<ImageHeader> make_header(ImageFormat format, std::uint32_t width, std::uint32_t height) {
  if (width == 0 || height == 0) return std::nullopt;
  return ImageHeader{format, width, height};
}

/// JPEG: walk the marker segments up to the first SOFn (baseline, progressive, lossless, arithmetic).
std::optional<ImageHeader> jpeg_header(Bytes b) {
  std::size_t at = 2;  // after SOI
  while (at + 1 < b.size()) {
    if (b[at] != 0xFF) return std::nullopt;
    const unsigned marker = b[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    at += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;           // no length
    if (marker == 0xD8 || marker == 0xD9 || marker == 0xDA) return std::nullopt;  // SOI, EOI, SOS before a SOF
    if (at + 2 > b.size()) return std::nullopt;
    const std::uint32_t length = be16(b, at);
    if (length < 2) return std::nullopt;
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 7 || at + 7 > b.size()) return std::nullopt;
      return make_header(ImageFormat::jpeg, be16(b, at + 5), be16(b, at + 3));
    }
    at += length;
  }
  return std::nullopt;
}

std::optional<ImageHeader> png_header(Bytes b) {
  // Signature (8), then the IHDR chunk: length 13, "IHDR", width, height (big endian).
  if (b.size() < 24 || be32(b, 8) != 13 || !starts_with(b, "IHDR", 12)) return std::nullopt;
  const std::uint32_t width = be32(b, 16);
  const std::uint32_t height = be32(b, 20);
  if (width > 0x7FFFFFFFU || height > 0x7FFFFFFFU) return std::nullopt;
  return make_header(ImageFormat::png, width, height);
}

std::optional<ImageHeader> webp_header(Bytes b) {
  // "RIFF" size "WEBP", then the first chunk's FourCC at 12 and its data at 20.
  if (b.size() < 30) return std::nullopt;
  if (starts_with(b, "VP8 ", 12)) {
    // Frame tag (3), start code 9d 01 2a, then 14-bit width and height (little endian, 2 scale bits).
    if (b[23] != 0x9D || b[24] != 0x01 || b[25] != 0x2A) return std::nullopt;
    return make_header(ImageFormat::webp, le16(b, 26) & 0x3FFFU, le16(b, 28) & 0x3FFFU);
  }
  if (starts_with(b, "VP8L", 12)) {
    // Signature 0x2f, then width-1 and height-1 in 14 bits each.
    if (b[20] != 0x2F) return std::nullopt;
    const std::uint32_t bits = le32(b, 21);
    return make_header(ImageFormat::webp, (bits & 0x3FFFU) + 1, ((bits >> 14U) & 0x3FFFU) + 1);
  }
  if (starts_with(b, "VP8X", 12)) {
    // Flags (4), canvas width-1 and height-1 in 24 bits each.
    return make_header(ImageFormat::webp, le24(b, 24) + 1, le24(b, 27) + 1);
  }
  return std::nullopt;
}

std::optional<ImageHeader> bmp_header(Bytes b) {
  if (b.size() < 26) return std::nullopt;
  const std::uint32_t info_size = le32(b, 14);
  if (info_size == 12) return make_header(ImageFormat::bmp, le16(b, 18), le16(b, 20));  // OS/2 core header
  if (info_size < 40) return std::nullopt;
  const auto width = static_cast<std::int32_t>(le32(b, 18));
  const auto height = static_cast<std::int32_t>(le32(b, 22));  // negative: top-down
  if (width <= 0 || height == 0 || height == INT32_MIN) return std::nullopt;
  return make_header(ImageFormat::bmp, static_cast<std::uint32_t>(width),
                     static_cast<std::uint32_t>(height < 0 ? -height : height));
}

/// The format the magic bytes name, if any of ours (whether the rest of the header is sound or not).
std::optional<ImageFormat> sniff(Bytes b) {
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::jpeg;
  if (starts_with(b, "\x89PNG\r\n\x1a\n")) return ImageFormat::png;
  if (starts_with(b, "RIFF") && starts_with(b, "WEBP", 8)) return ImageFormat::webp;
  if (starts_with(b, "BM")) return ImageFormat::bmp;
  return std::nullopt;
}

/// A short name for what the magic bytes say, for error messages.
std::string describe_magic(Bytes b) {
  if (b.empty()) return "empty";
  if (starts_with(b, "II*") || starts_with(b, std::string_view("MM\0*", 4))) return "TIFF";
  if (starts_with(b, "v/1\x01")) return "OpenEXR";
  if (starts_with(b, std::string_view("\0\0\0\x0CjP  ", 8)) || starts_with(b, "\xFF\x4F\xFF\x51")) return "JPEG 2000";
  if (starts_with(b, "#?RADIANCE") || starts_with(b, "#?RGBE")) return "Radiance HDR";
  if (starts_with(b, "GIF8")) return "GIF";
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "PNM/PAM";
  if (b.size() >= 2 && b[0] == 'P' && (b[1] == 'f' || b[1] == 'F')) return "PFM";
  if (starts_with(b, "\x59\xA6\x6A\x95")) return "Sun raster";
  if (const auto format = sniff(b)) return std::string(to_string(*format));
  return "unknown";
}

std::string allowed_list(const std::vector<ImageFormat>& formats) {
  std::string out;
  for (const ImageFormat f : formats) {
    if (!out.empty()) out += ", ";
    out += to_string(f);
  }
  return out;
}

}  // namespace

std::string_view to_string(ImageFormat format) noexcept {
  switch (format) {
    case ImageFormat::jpeg:
      return "jpeg";
    case ImageFormat::png:
      return "png";
    case ImageFormat::webp:
      return "webp";
    case ImageFormat::bmp:
      return "bmp";
  }
  return "unknown";
}

void set_default_max_image_pixels(std::uint64_t pixels) {
  if (pixels == 0) throw Error(Errc::invalid_config, "the image pixel cap must be at least 1 pixel");
  g_default_max_pixels = pixels;
}

std::uint64_t default_max_image_pixels() noexcept { return g_default_max_pixels.load(); }

ImageLimits ImageLimits::network(std::uint64_t max_pixels) {
  return ImageLimits{max_pixels, {ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp}};
}

ImageLimits ImageLimits::files(std::uint64_t max_pixels) {
  return ImageLimits{max_pixels, {ImageFormat::jpeg, ImageFormat::png, ImageFormat::webp, ImageFormat::bmp}};
}

std::optional<ImageFormat> sniff_image_format(std::span<const unsigned char> bytes) noexcept { return sniff(bytes); }

std::optional<ImageHeader> read_image_header(std::span<const unsigned char> bytes) noexcept {
  const auto format = sniff(bytes);
  if (!format) return std::nullopt;
  switch (*format) {
    case ImageFormat::jpeg:
      return jpeg_header(bytes);
    case ImageFormat::png:
      return png_header(bytes);
    case ImageFormat::webp:
      return webp_header(bytes);
    case ImageFormat::bmp:
      return bmp_header(bytes);
  }
  return std::nullopt;
}

ImageHeader check_image(std::span<const unsigned char> bytes, std::string_view name, const ImageLimits& limits) {
  if (bytes.empty()) throw Error(Errc::bad_input, fmt::format("{}: empty, not an image", name));
  const auto format = sniff(bytes);
  if (!format || std::find(limits.formats.begin(), limits.formats.end(), *format) == limits.formats.end()) {
    throw Error(Errc::bad_input, fmt::format("{}: format not accepted ({}); accepted: {}", name, describe_magic(bytes),
                                             allowed_list(limits.formats)));
  }
  const auto header = read_image_header(bytes);
  if (!header) {
    throw Error(Errc::bad_input,
                fmt::format("{}: truncated or malformed {} header (no width and height)", name, to_string(*format)));
  }
  if (header->pixels() > limits.max_pixels) {
    throw Error(Errc::bad_input, fmt::format("{}: {}x{} pixels is over the limit of {} pixels (--max-image-pixels)",
                                             name, header->width, header->height, limits.max_pixels));
  }
  return *header;
}

cv::Mat decode_image(std::span<const unsigned char> bytes, std::string_view name, const ImageLimits& limits) {
  const ImageHeader header = check_image(bytes, name, limits);
  cv::Mat image;
  try {
    // imdecode does not write through its input; the Mat header only wraps the caller's bytes.
    const cv::Mat data(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<unsigned char*>(bytes.data()));
    image = cv::imdecode(data, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw Error(Errc::bad_input,
                fmt::format("{}: cannot decode the {} image: {}", name, to_string(header.format), e.what()));
  }
  if (image.empty())
    throw Error(Errc::bad_input, fmt::format("{}: not a decodable {} image", name, to_string(header.format)));
  return image;
}

cv::Mat read_image(const std::filesystem::path& path, const ImageLimits& limits) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io, fmt::format("{}: cannot open the file", name));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(Errc::io, fmt::format("{}: cannot read the file", name));
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
    throw Error(Errc::bad_input, fmt::format("{}: file of {} bytes is too large for an image", name, bytes.size()));
  return decode_image(bytes, name, limits);
}

}  // namespace maskdetect
