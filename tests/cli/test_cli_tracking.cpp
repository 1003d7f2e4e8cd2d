// `maskdetect run` on a synthetic video (tests/support/face_clip.hpp): per-person summary, --summary JSON,
// track_id and t in the JSON Lines, --detect-every 3 keeps the count; image folders are not tracked.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <opencv2/videoio.hpp>

#include "cli_test_helpers.hpp"
#include "face_clip.hpp"
#include "maskdetect/maskdetect.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::test;

TEST_CASE("run on a video counts people once each, with --detect-every 1 and 3", "[cli][run][tracker]") {
  MASKDETECT_REQUIRE_DATA(classifier_dir());
  TempDir tmp;
  const fs::path video = tmp / "clip.avi";
  std::map<int, maskdetect::MaskLabel> people;
  {
    maskdetect::Detector detector(scenario_config());
    const Clip clip = make_scenario(detector);
    people = clip.people;
    cv::VideoWriter writer(video.string(), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), clip.fps, cv::Size(640, 480));
    REQUIRE(writer.isOpened());
    for (const cv::Mat& frame : clip.frames) writer.write(frame);
  }
  REQUIRE(people.size() == 5);

  const std::string every = GENERATE(std::string("1"), std::string("3"));
  INFO("--detect-every " << every);
  const fs::path json = tmp / ("out" + every + ".jsonl");
  const fs::path summary_path = tmp / ("summary" + every + ".json");
  const ProcessResult r = run_cli({"run", "--source", video.string(), "--json", json.string(), "--summary",
                                   summary_path.string(), "--detect-every", every, "--detector", "blazeface_back"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);

  const auto summary = nlohmann::json::parse(read_text(summary_path));
  CHECK(summary.at("people").at("total") == 5);
  CHECK(summary.at("people").at("mask") == 1);
  CHECK(summary.at("people").at("no_mask") == 3);
  CHECK(summary.at("people").at("incorrect") == 1);
  CHECK(summary.at("compliance").get<double>() == Approx(0.2));
  CHECK(summary.at("frames") == 150);
  CHECK(summary.at("faces").at("total").get<std::int64_t>() > 300);  // face-frames, not people
  CHECK(r.err.find("summary: people 5 (mask 1, no_mask 3, incorrect 1), compliance 20.0%") != std::string::npos);
  CHECK(parse_summary(r.err).found);

  const auto lines = parse_json_lines(read_text(json));
  REQUIRE(lines.size() == 150);
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    CHECK(line.at("frame") == static_cast<std::int64_t>(i));
    CHECK(line.at("t").get<double>() == Approx(static_cast<double>(i) / 25.0).margin(1e-3));
    CHECK_FALSE(line.contains("time"));  // a file, not a live source
    for (const auto& face : line.at("faces"))
      if (face.contains("track_id")) ids.insert(face.at("track_id").get<std::int64_t>());
  }
  CHECK(ids == std::set<std::int64_t>{1, 2, 3, 4, 5});

  // Nothing given is overwritten: the summary file exists now.
  const ProcessResult again = run_cli({"run", "--source", video.string(), "--json", json.string(), "--summary",
                                       summary_path.string(), "--detector", "blazeface_back"});
  CHECK(again.exit_code == 4);
  CHECK(again.err.find("exists") != std::string::npos);
  CHECK(parse_json_lines(read_text(json)).size() == 150);  // refused before anything was written
}

TEST_CASE("run on an image folder does not track across files", "[cli][run][tracker]") {
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  const fs::path in = tmp / "in";
  fs::create_directories(in);
  const auto image = sample_images(1).at(0);
  for (const char* name : {"a.jpg", "b.jpg", "c.jpg"}) fs::copy_file(image, in / name);  // the same still 3 times
  const fs::path summary_path = tmp / "summary.json";
  const ProcessResult r = run_cli({"run", "--source", in.string(), "--json", (tmp / "o.jsonl").string(), "--summary",
                                   summary_path.string(), "--detect-every", "3", "--detector", "blazeface_back"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.find("--detect-every applies to video") != std::string::npos);
  const auto lines = parse_json_lines(read_text(tmp / "o.jsonl"));
  REQUIRE(lines.size() == 3);
  std::size_t faces = 0;
  for (const auto& line : lines) {
    CHECK_FALSE(line.contains("t"));
    for (const auto& face : line.at("faces")) {
      CHECK_FALSE(face.contains("track_id"));
      ++faces;
    }
  }
  CHECK(faces > 0);  // every image was detected, despite --detect-every 3
  const auto summary = nlohmann::json::parse(read_text(summary_path));
  CHECK(summary.at("people").is_null());
  CHECK(summary.at("faces").at("total") == faces);
}
