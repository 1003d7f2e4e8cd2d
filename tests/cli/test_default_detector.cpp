// The default preset uses the best detector installed: YuNet when its model is on the model search path,
// the project's shipped mask detector otherwise, and the CLI says which once on stderr (with the command that
// gets YuNet).
#include <filesystem>
#include <string>
#include <utility>
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

// An empty model folder `dir`/models (a test may add YuNet to it) and two sample images in `dir`/in; the
// environment that makes `dir`/models the CLI's model folder.
ProcessOptions model_dir_and_images(const fs::path& dir) {
  fs::create_directories(dir / "models");
  copy_sample_images(dir / "in", 2);
  ProcessOptions options;
  options.env = {{"MASKDETECT_MODEL_DIR", (dir / "models").string()}};
  return options;
}

/// `maskdetect [global_flags] run` over the images in `dir`/in, as JSON Lines on stdout and annotated images in
/// `dir`/`out`, with `env`.
ProcessResult run_folder(const fs::path& dir, const ProcessOptions& env, std::vector<std::string> global_flags = {},
                         const std::string& out = "out") {
  std::vector<std::string> args = std::move(global_flags);
  args.insert(args.end(), {"run", "--source", (dir / "in").string(), "--json", "-", "--output", (dir / out).string()});
  return run_cli(args, env);
}

}  // namespace

TEST_CASE("default preset: YuNet when its model is in MASKDETECT_MODEL_DIR", "[cli][default-detector]") {
  MASKDETECT_REQUIRE_DATA(shared_yunet());
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const ProcessOptions env = model_dir_and_images(tmp.path());
  fs::create_symlink(shared_yunet(), tmp / "models" / "face_detection_yunet_2022mar.onnx");

  const ProcessResult r = run_folder(tmp.path(), env);
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

TEST_CASE("default preset: the shipped mask detector and the fetch hint when YuNet is missing",
          "[cli][default-detector]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const ProcessOptions env = model_dir_and_images(tmp.path());  // no model in it

  const ProcessResult r = run_folder(tmp.path(), env);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(count(r.err, "detector: the project's mask detector") == 1);
  CHECK(count(r.err, "maskdetect models fetch yunet") == 1);

  const ProcessResult version = run_cli({"--version"}, env);
  CHECK(count(version.out, "detector: the project's mask detector") == 1);
  CHECK(count(version.out, "maskdetect models fetch yunet") == 1);
  const ProcessResult list = run_cli({"models", "list"}, env);
  CHECK(count(list.out, "the default preset: detector: the project's mask detector") == 1);

  // Another back end chosen explicitly: no hint.
  const ProcessResult front = run_folder(tmp.path(), env, {"--detector", "blazeface_front"}, "out2");
  INFO(front.err);
  CHECK(front.exit_code == 0);
  CHECK(count(front.err, "detector: blazeface_front") == 1);
  CHECK(count(front.err, "models fetch yunet") == 0);
}
