// --max-image-pixels: an image whose header declares too many pixels is refused before decoding, by name,
// with exit 4 (one image) or a warning and a skip (in a folder), in run and eval alike.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::test;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// A 66-byte PNG whose IHDR declares width x height (what a decompression bomb's header looks like).
void write_png_claiming(const fs::path& path, std::uint32_t width, std::uint32_t height) {
  std::ofstream(path, std::ios::binary) << png_claiming(width, height);
}

}  // namespace

TEST_CASE("run: a PNG declaring 100000x100000 pixels is refused by name, exit 4", "[cli][errors][image_limits]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const fs::path in = tmp / "in";
  const std::vector<std::string> names = copy_sample_images(in, 2);
  write_png_claiming(in / "huge.png", 100000, 100000);

  const ProcessResult single = run_cli({"--detector", "blazeface_back", "run", "--source", (in / "huge.png").string()});
  INFO(single.err);
  CHECK(single.exit_code == 4);
  CHECK(single.err.rfind("error: ", 0) == 0);
  CHECK(has(single.err, "huge.png"));
  CHECK(has(single.err, "100000x100000"));
  CHECK(!has(single.err, "Assertion"));

  const ProcessResult folder = run_cli({"--detector", "blazeface_back", "run", "--source", in.string()});
  INFO(folder.err);
  CHECK(folder.exit_code == 4);
  CHECK(has(folder.err, "warning: "));
  CHECK(has(folder.err, "huge.png"));
  CHECK(!has(folder.err, "Assertion"));
  CHECK(parse_json_lines(folder.out).size() == names.size());
  CHECK(parse_summary(folder.err).unreadable == 1);
}

TEST_CASE("run: --max-image-pixels sets the cap", "[cli][errors][image_limits]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const std::vector<std::string> names = copy_sample_images(tmp / "in", 1);
  const fs::path image = tmp / "in" / names.at(0);
  // The dataset images are a few hundred pixels a side: a cap of 1000 pixels refuses them, the default takes them.
  const ProcessResult small =
      run_cli({"--detector", "blazeface_back", "run", "--source", image.string(), "--max-image-pixels", "1000"});
  INFO(small.err);
  CHECK(small.exit_code == 4);
  CHECK(has(small.err, "over the limit of 1000 pixels"));
  const ProcessResult fine = run_cli({"--detector", "blazeface_back", "run", "--source", image.string()});
  INFO(fine.err);
  CHECK(fine.exit_code == 0);
  CHECK(parse_json_lines(fine.out).size() == 1);
}
