// maskdetect/image_io.hpp: the header is read and checked before any decoder runs.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/image_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using maskdetect::Errc;
using maskdetect::Error;
using maskdetect::ImageFormat;
using maskdetect::ImageLimits;
using Bytes = std::vector<unsigned char>;

namespace {

fs::path sample_path() { return maskdetect::test::andrewmvd_dir() / "images" / "maksssksksss0.jpg"; }

Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Bytes encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {}) {
  Bytes out;
  REQUIRE(cv::imencode(ext, image, out, params));
  return out;
}

/// maskdetect::test::png_claiming as bytes.
Bytes png_claiming(std::uint32_t width, std::uint32_t height) {
  const std::string text = maskdetect::test::png_claiming(width, height);
  return {text.begin(), text.end()};
}

Error thrown_by(const Bytes& bytes, const ImageLimits& limits) {
  try {
    (void)maskdetect::decode_image(bytes, "probe.bin", limits);
  } catch (const Error& e) {
    return e;
  }
  FAIL("decode_image did not throw");
  return Error(Errc::internal, "unreachable");
}

}  // namespace

TEST_CASE("image headers: format and size of real JPEG, PNG, WebP and BMP files", "[image_io]") {
  MASKDETECT_REQUIRE_DATA(sample_path());
  const Bytes jpeg = read_bytes(sample_path());
  const cv::Mat image = cv::imread(sample_path().string(), cv::IMREAD_COLOR);
  REQUIRE(!image.empty());
  struct Case {
    ImageFormat format;
    Bytes bytes;
  };
  const std::vector<Case> cases{{ImageFormat::jpeg, jpeg},
                                {ImageFormat::jpeg, encode(image, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
                                {ImageFormat::png, encode(image, ".png")},
                                {ImageFormat::webp, encode(image, ".webp", {cv::IMWRITE_WEBP_QUALITY, 80})},
                                {ImageFormat::webp, encode(image, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})},
                                {ImageFormat::bmp, encode(image, ".bmp")}};
  for (const Case& c : cases) {
    INFO(maskdetect::to_string(c.format) << " of " << c.bytes.size() << " bytes");
    const auto header = maskdetect::read_image_header(c.bytes);
    REQUIRE(header.has_value());
    CHECK(header->format == c.format);
    CHECK(header->width == static_cast<std::uint32_t>(image.cols));
    CHECK(header->height == static_cast<std::uint32_t>(image.rows));
    const cv::Mat decoded = maskdetect::decode_image(c.bytes, "sample", ImageLimits::files());
    CHECK(decoded.size() == image.size());
    CHECK(decoded.type() == CV_8UC3);
  }
  // VP8X (extended WebP): canvas size in 24-bit fields.
  Bytes vp8x{'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E',  'B',  'P', 'V',  'P',  '8',
             'X', 10,  0,   0,   0, 0, 0, 0, 0,   0x3F, 0x9C, 0,   0x1F, 0x4E, 0};  // 40000 x 20000
  const auto extended = maskdetect::read_image_header(vp8x);
  REQUIRE(extended.has_value());
  CHECK(extended->width == 40000);
  CHECK(extended->height == 20000);
}

TEST_CASE("image limits: the pixel cap is checked on the header, before decoding", "[image_io]") {
  SECTION("a PNG claiming 100000x100000 is refused by name, not an OpenCV assertion") {
    const Error e = thrown_by(png_claiming(100000, 100000), ImageLimits::network(40'000'000));
    CHECK(e.code() == Errc::bad_input);
    const std::string what = e.what();
    CHECK(what.find("probe.bin") != std::string::npos);
    CHECK(what.find("100000x100000") != std::string::npos);
    CHECK(what.find("40000000") != std::string::npos);
  }
  SECTION("at the cap it decodes, one pixel over it is refused") {
    MASKDETECT_REQUIRE_DATA(sample_path());
    const Bytes jpeg = read_bytes(sample_path());
    const auto header = maskdetect::read_image_header(jpeg);
    REQUIRE(header.has_value());
    CHECK(!maskdetect::decode_image(jpeg, "sample", ImageLimits::network(header->pixels())).empty());
    CHECK(thrown_by(jpeg, ImageLimits::network(header->pixels() - 1)).code() == Errc::bad_input);
  }
  SECTION("the process-wide default is the fallback of ImageLimits") {
    const std::uint64_t before = maskdetect::default_max_image_pixels();
    CHECK(before == maskdetect::kDefaultMaxImagePixels);
    maskdetect::set_default_max_image_pixels(1000);
    CHECK(ImageLimits{}.max_pixels == 1000);
    CHECK(ImageLimits::files().max_pixels == 1000);
    maskdetect::set_default_max_image_pixels(before);
    CHECK_THROWS_AS(maskdetect::set_default_max_image_pixels(0), Error);
  }
}

TEST_CASE("image limits: only allowed formats reach a decoder", "[image_io]") {
  MASKDETECT_REQUIRE_DATA(sample_path());
  const cv::Mat image = cv::imread(sample_path().string(), cv::IMREAD_COLOR);
  REQUIRE(!image.empty());
  SECTION("TIFF, PPM and a BMP from the network are refused, naming the format") {
    for (const auto& [ext, name] :
         std::vector<std::pair<std::string, std::string>>{{".tiff", "TIFF"}, {".ppm", "PNM/PAM"}, {".bmp", "bmp"}}) {
      INFO(ext);
      const Error e = thrown_by(encode(image, ext), ImageLimits::network());
      INFO(e.what());
      CHECK(e.code() == Errc::bad_input);
      CHECK(std::string(e.what()).find("format not accepted (" + name + ")") != std::string::npos);
    }
    // Files accept BMP.
    CHECK(!maskdetect::decode_image(encode(image, ".bmp"), "a.bmp", ImageLimits::files()).empty());
  }
  SECTION("truncated and malformed headers") {
    const Bytes jpeg = read_bytes(sample_path());
    for (const std::size_t n : {std::size_t{0}, std::size_t{2}, std::size_t{3}, std::size_t{20}}) {
      INFO(n << " bytes");
      CHECK_THROWS_AS(maskdetect::decode_image(Bytes(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(n)),
                                               "cut", ImageLimits::network()),
                      Error);
    }
    CHECK(!maskdetect::read_image_header(png_claiming(0, 10)).has_value());
    CHECK(thrown_by(png_claiming(64, 64), ImageLimits::network()).code() == Errc::bad_input);  // no pixel data
    const Bytes text(100, 'x');
    CHECK(!maskdetect::read_image_header(text).has_value());
  }
  SECTION("read_image names the file; a missing one is an io error") {
    maskdetect::test::TempDir dir;
    const fs::path huge = dir.path() / "huge.png";
    const Bytes bytes = png_claiming(100000, 100000);
    std::ofstream(huge, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    try {
      (void)maskdetect::read_image(huge);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::bad_input);
      CHECK(std::string(e.what()).find(huge.string()) != std::string::npos);
    }
    try {
      (void)maskdetect::read_image(dir.path() / "none.jpg");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::io);
    }
  }
}
