// The default preset uses the best detector installed: YuNet when its model is on the model search path,
// BlazeFace back otherwise, and the CLI says which once on stderr (with the command that gets YuNet).
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::test;

namespace {

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

fs::path shared_yunet() { return shared_dir() / "models" / "yunet_2022mar" / "face_detection_yunet_2022mar.onnx"; }

// A model folder holding only YuNet (a symlink to the shared copy), or nothing.
ProcessOptions model_dir_env(const fs::path& dir) {
  ProcessOptions options;
  options.env = {{"MASKDETECT_MODEL_DIR", dir.string()}};
  return options;
}

}  // namespace

TEST_CASE("default preset: YuNet when its model is in MASKDETECT_MODEL_DIR", "[cli][default-detector]") {
  MASKDETECT_REQUIRE_DATA(shared_yunet());
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  fs::create_directories(tmp / "models");
  fs::create_symlink(shared_yunet(), tmp / "models" / "face_detection_yunet_2022mar.onnx");
  copy_sample_images(tmp / "in", 2);
  const ProcessOptions env = model_dir_env(tmp / "models");

  const ProcessResult r =
      run_cli({"run", "--source", (tmp / "in").string(), "--json", "-", "--output", (tmp / "out").string()}, env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(count(r.err, "detector: YuNet 2022mar") == 1);
  CHECK(count(r.err, (tmp / "models").string()) == 1);
  CHECK(count(r.err, "models fetch yunet") == 0);

  const ProcessResult version = run_cli({"--version"}, env);
  CHECK(version.exit_code == 0);
  CHECK(count(version.out, "detector: YuNet 2022mar") == 1);
  const ProcessResult list = run_cli({"models", "list"}, env);
  CHECK(list.exit_code == 0);
  CHECK(count(list.out, "the default preset: detector: YuNet 2022mar") == 1);
}

TEST_CASE("default preset: BlazeFace back and the fetch hint when YuNet is missing", "[cli][default-detector]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  fs::create_directories(tmp / "models");  // empty
  copy_sample_images(tmp / "in", 2);
  const ProcessOptions env = model_dir_env(tmp / "models");

  const ProcessResult r =
      run_cli({"run", "--source", (tmp / "in").string(), "--json", "-", "--output", (tmp / "out").string()}, env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(count(r.err, "detector: BlazeFace back") == 1);
  CHECK(count(r.err, "maskdetect models fetch yunet") == 1);

  const ProcessResult version = run_cli({"--version"}, env);
  CHECK(count(version.out, "detector: BlazeFace back") == 1);
  CHECK(count(version.out, "maskdetect models fetch yunet") == 1);
  const ProcessResult list = run_cli({"models", "list"}, env);
  CHECK(count(list.out, "the default preset: detector: BlazeFace back") == 1);

  // Another back end chosen explicitly: no hint.
  const ProcessResult front = run_cli({"--detector", "blazeface_front", "run", "--source", (tmp / "in").string(),
                                       "--json", "-", "--output", (tmp / "out2").string()},
                                      env);
  INFO(front.err);
  CHECK(front.exit_code == 0);
  CHECK(count(front.err, "detector: blazeface_front") == 1);
  CHECK(count(front.err, "models fetch yunet") == 0);
}
