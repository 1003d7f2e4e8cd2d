// Helpers shared by the CLI tests: sample images in temp folders, JSON Lines and summary parsing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "run_process.hpp"
#include "test_support.hpp"

namespace maskdetect::test {

inline std::filesystem::path detection_images_dir() { return andrewmvd_dir() / "images"; }

/// The first `count` images of the detection set (by sorted name).
inline std::vector<std::filesystem::path> sample_images(std::size_t count) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(detection_images_dir()))
    if (entry.path().extension() == ".png" || entry.path().extension() == ".jpg") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.size() > count) files.resize(count);
  return files;
}

/// Copies `count` sample images into `dir`; returns the names.
inline std::vector<std::string> copy_sample_images(const std::filesystem::path& dir, std::size_t count) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> names;
  for (const auto& file : sample_images(count)) {
    std::filesystem::copy_file(file, dir / file.filename());
    names.push_back(file.filename().string());
  }
  return names;
}

/// Every non-empty line of `text` parsed as JSON.
inline std::vector<nlohmann::json> parse_json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

/// The numbers of the summary the CLI prints on stderr.
struct ParsedSummary {
  bool found = false;
  std::int64_t frames = 0;
  std::int64_t unreadable = 0;
  std::int64_t faces = 0;
  std::int64_t mask = 0;
  std::int64_t no_mask = 0;
  std::int64_t incorrect = 0;
};

inline ParsedSummary parse_summary(const std::string& err) {
  ParsedSummary summary;
  std::smatch m;
  static const std::regex frames_re(R"(summary: frames (\d+), unreadable (\d+))");
  static const std::regex faces_re(R"(summary: face-frames (\d+) \(mask (\d+), no_mask (\d+), incorrect (\d+)\))");
  if (std::regex_search(err, m, frames_re)) {
    summary.frames = std::stoll(m[1]);
    summary.unreadable = std::stoll(m[2]);
  } else {
    return summary;
  }
  if (!std::regex_search(err, m, faces_re)) return summary;
  summary.faces = std::stoll(m[1]);
  summary.mask = std::stoll(m[2]);
  summary.no_mask = std::stoll(m[3]);
  summary.incorrect = std::stoll(m[4]);
  summary.found = true;
  return summary;
}

/// Checks that every face box of a JSON record lies inside its frame; returns the number of faces.
inline std::size_t check_boxes(const nlohmann::json& record, int width, int height) {
  REQUIRE(record.at("width").get<int>() == width);
  REQUIRE(record.at("height").get<int>() == height);
  const auto& faces = record.at("faces");
  for (const auto& face : faces) {
    const auto& box = face.at("box");
    REQUIRE(box.size() == 4);
    const double x = box[0].get<double>();
    const double y = box[1].get<double>();
    const double w = box[2].get<double>();
    const double h = box[3].get<double>();
    CHECK(x >= -0.5);
    CHECK(y >= -0.5);
    CHECK(w > 0.0);
    CHECK(h > 0.0);
    CHECK(x + w <= width + 0.5);
    CHECK(y + h <= height + 0.5);
    const std::string label = face.at("label").get<std::string>();
    CHECK((label == "mask" || label == "no_mask" || label == "incorrect"));
  }
  return faces.size();
}

/// Serves `dir` over HTTP on 127.0.0.1 until destroyed.
class HttpMirror {
 public:
  explicit HttpMirror(const std::filesystem::path& dir)
      : port_(free_local_port()),
        server_("/usr/bin/python3",
                {"-m", "http.server", std::to_string(port_), "--bind", "127.0.0.1", "--directory", dir.string()}) {
    ready_ = wait_for_port(port_, std::chrono::seconds(10));
  }
  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  BackgroundProcess server_;
  bool ready_ = false;
};

}  // namespace maskdetect::test
