// What a new user tripped on (issue 13): help without a subcommand, model file names on the command line,
// H.264 video output, glob(3) sources, outputs that are hard links to inputs. Each runs the real binary.
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::test;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

fs::path shared_yunet_dir() { return shared_dir() / "models" / "yunet_2022mar"; }

/// The codec name ffprobe reports for the first video stream of `video` ("h264", "mpeg4", ...).
std::string video_codec(const fs::path& video) {
  const ProcessResult probe =
      run_process("/usr/bin/ffprobe", {"-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name",
                                       "-of", "default=nw=1:nk=1", video.string()});
  INFO(probe.err);
  REQUIRE(probe.exit_code == 0);
  std::string codec = probe.out;
  while (!codec.empty() && (codec.back() == '\n' || codec.back() == '\r')) codec.pop_back();
  return codec;
}

}  // namespace

TEST_CASE("no subcommand, or a command group alone, prints its help and exits 0", "[cli][newuser]") {
  const ProcessResult none = run_cli({});
  INFO(none.err);
  CHECK(none.exit_code == 0);
  CHECK(has(none.out, "Usage: maskdetect"));
  CHECK(has(none.out, "run"));
  CHECK(has(none.out, "bench"));
  CHECK(none.err.empty());

  const ProcessResult models = run_cli({"models"});
  INFO(models.err);
  CHECK(models.exit_code == 0);
  CHECK(has(models.out, "Usage: maskdetect models"));
  CHECK(has(models.out, "fetch"));
  CHECK(has(models.out, "list"));

  // A wrong subcommand is still a usage error.
  CHECK(run_cli({"models", "nope"}).exit_code == 2);
  CHECK(run_cli({"nope"}).exit_code == 2);
}

TEST_CASE("bench --yunet FILE_NAME is looked up in the model search path", "[cli][newuser][bench]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  MASKDETECT_REQUIRE_DATA(shared_yunet_dir() / "face_detection_yunet_2022mar.onnx");
  MASKDETECT_REQUIRE_DATA(shared_dir() / "models" / "aizoo" / "face_mask_detection.caffemodel");
  TempDir tmp;
  copy_sample_images(tmp / "images", 3);
  // The file name as the README gives it, from a folder that does not hold it.
  const ProcessResult r = run_cli({"bench", "--images", (tmp / "images").string(), "--case", "crowd", "--yunet",
                                   "face_detection_yunet_2022mar.onnx", "--aizoo",
                                   (shared_dir() / "models" / "aizoo").string(), "--seconds", "0.05", "--frames", "1"},
                                  {.cwd = tmp.path(), .env = {{"MASKDETECT_MODEL_DIR", shared_yunet_dir().string()}}});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(has(r.out, "yunet 640"));
}

TEST_CASE("bench checks every argument before the first measurement", "[cli][newuser][bench]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  copy_sample_images(tmp / "images", 2);
  const std::vector<std::string> common{"--images",  (tmp / "images").string(),
                                        "--aizoo",   (shared_dir() / "models" / "aizoo").string(),
                                        "--seconds", "0.05"};
  auto bench = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "bench");
    args.insert(args.end(), common.begin(), common.end());
    return run_cli(args, {.cwd = tmp.path(), .env = {{"MASKDETECT_MODEL_DIR", (tmp / "models").string()}}});
  };

  SECTION("a model file name found nowhere: exit 3, the folders searched, no measurement") {
    const ProcessResult r = bench({"--yunet", "no_such_yunet.onnx"});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.rfind("error: --yunet: ", 0) == 0);
    CHECK(has(r.err, "no_such_yunet.onnx"));
    CHECK(has(r.err, "searched:"));
    CHECK(has(r.err, (tmp / "models").string()));
    CHECK_FALSE(has(r.err, "bench: webcam"));
    CHECK(r.out.empty());
  }
  SECTION("a corrupt model: exit 3 before the webcam case is measured") {
    write_text(tmp / "garbage.onnx", std::string(4096, '\x5a'));
    const ProcessResult r = bench({"--yunet", "garbage.onnx"});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(has(r.err, "garbage.onnx"));
    CHECK_FALSE(has(r.err, "bench: webcam"));
  }
  SECTION("a missing --images folder: exit 4 naming it") {
    const ProcessResult r = run_cli({"bench", "--images", (tmp / "nowhere").string(), "--seconds", "0.05"});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(has(r.err, "nowhere"));
    CHECK_FALSE(has(r.err, "bench: webcam"));
  }
}

TEST_CASE("an .mp4 output is H.264, and the summary names the codec", "[cli][newuser][video]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const fs::path clip = tmp / "clip.avi";
  {
    cv::VideoWriter writer(clip.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(320, 240));
    REQUIRE(writer.isOpened());
    for (const fs::path& file : sample_images(4)) {
      cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
      REQUIRE_FALSE(image.empty());
      cv::resize(image, image, cv::Size(320, 240));
      writer.write(image);
    }
  }
  const fs::path out = tmp / "annotated.mp4";
  const ProcessResult r =
      run_cli({"run", "--source", clip.string(), "--output", out.string(), "--json", (tmp / "r.jsonl").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(video_codec(out) == "h264");
  CHECK(has(r.err, "output: video '" + out.string() + "', H.264 (libx264, preset "));
  cv::VideoCapture capture(out.string());
  REQUIRE(capture.isOpened());
  CHECK(capture.get(cv::CAP_PROP_FRAME_COUNT) == 4.0);

  // .avi stays Motion JPEG.
  const fs::path avi = tmp / "annotated.avi";
  const ProcessResult a = run_cli({"run", "--source", clip.string(), "--output", avi.string()});
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  CHECK(video_codec(avi) == "mjpeg");
  CHECK(has(a.err, "Motion JPEG (MJPG)"));
}

TEST_CASE("glob sources use glob(3): brackets, classes, folder wildcards", "[cli][newuser][glob]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const std::vector<fs::path> samples = sample_images(3);
  for (const std::string day : {"day1", "day2"}) {
    fs::create_directories(tmp / day);
    fs::copy_file(samples[0], tmp / day / "img_01.png");
    fs::copy_file(samples[1], tmp / day / "img_02.png");
    fs::copy_file(samples[2], tmp / day / "img_10.png");
  }
  fs::create_directories(tmp / "day3.png");  // a folder whose name matches an image pattern
  auto frames = [&](const std::string& pattern) {
    const ProcessResult r = run_cli({"--detector", "blazeface_front", "run", "--source", pattern, "--json", "-"});
    INFO(pattern << "\n" << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> names;
    for (const auto& record : parse_json_lines(r.out)) names.push_back(record.at("image").get<std::string>());
    return names;
  };
  const std::string day1 = (tmp / "day1").string();
  CHECK(frames(day1 + "/img_0[0-9].png") == std::vector<std::string>{"img_01.png", "img_02.png"});
  CHECK(frames(day1 + "/img_[[:digit:]]0.png") == std::vector<std::string>{"img_10.png"});
  CHECK(frames(day1 + "/img_[!0]*.png") == std::vector<std::string>{"img_10.png"});
  CHECK(frames(day1 + "/*.png").size() == 3);
  CHECK(frames((tmp / "day*" / "img_01.png").string()) == std::vector<std::string>{"img_01.png", "img_01.png"});
  CHECK(frames((tmp / "day?" / "img_1?.png").string()).size() == 2);
  // Only image files: the folder day3.png matches the pattern but is not taken.
  const ProcessResult folder_only = run_cli({"run", "--source", (tmp / "*.png").string(), "--json", "-"});
  CHECK(folder_only.exit_code == 4);

  const ProcessResult none = run_cli({"run", "--source", day1 + "/img_[5-9]*.png", "--json", "-"});
  INFO(none.err);
  CHECK(none.exit_code == 4);
  CHECK(has(none.err, "no image matches"));
  const ProcessResult no_dir = run_cli({"run", "--source", (tmp / "nowhere" / "*.png").string(), "--json", "-"});
  CHECK(no_dir.exit_code == 4);
  CHECK(has(no_dir.err, "does not exist"));
}

TEST_CASE("an output that is a hard link to an input is refused, even with --force", "[cli][newuser][errors]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const fs::path in = tmp / "in";
  const std::vector<std::string> names = copy_sample_images(in, 2);
  const fs::path input = in / names[0];
  const auto size = fs::file_size(input);

  SECTION("--json") {
    fs::create_hard_link(input, tmp / "hard.jpg");
    const ProcessResult r =
        run_cli({"run", "--source", input.string(), "--json", (tmp / "hard.jpg").string(), "--force"});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(has(r.err, "would overwrite the input"));
    CHECK(fs::file_size(input) == size);
  }
  SECTION("--output video over the input video") {
    const fs::path clip = tmp / "clip.avi";
    {
      cv::VideoWriter writer(clip.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0, cv::Size(320, 240));
      REQUIRE(writer.isOpened());
      cv::Mat image = cv::imread(input.string(), cv::IMREAD_COLOR);
      cv::resize(image, image, cv::Size(320, 240));
      writer.write(image);
      writer.write(image);
    }
    const auto clip_size = fs::file_size(clip);
    fs::create_hard_link(clip, tmp / "same.avi");
    const ProcessResult r =
        run_cli({"run", "--source", clip.string(), "--output", (tmp / "same.avi").string(), "--force"});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(fs::file_size(clip) == clip_size);
  }
  SECTION("--output folder holding a hard link to an input under its name") {
    fs::create_directories(tmp / "out");
    fs::create_hard_link(input, tmp / "out" / names[0]);
    const ProcessResult r = run_cli({"run", "--source", in.string(), "--output", (tmp / "out").string(), "--force"});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(has(r.err, names[0]));
    CHECK(fs::file_size(input) == size);
    CHECK(cv::imread(input.string()).empty() == false);
  }
  SECTION("--output folder that is a symlink to the input folder") {
    fs::create_directory_symlink(in, tmp / "link");
    const ProcessResult r = run_cli({"run", "--source", in.string(), "--output", (tmp / "link").string(), "--force"});
    INFO(r.err);
    CHECK(r.exit_code == 4);
    CHECK(fs::file_size(input) == size);
  }
}
