#include "bench/frames.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace fs = std::filesystem;

namespace maskdetect::bench {
namespace {

template <typename T>
std::vector<T> sample_evenly(std::vector<T> items, std::size_t max_count) {
  if (items.size() <= max_count || max_count == 0) return items;
  std::vector<T> out;
  out.reserve(max_count);
  for (std::size_t i = 0; i < max_count; ++i) out.push_back(std::move(items[i * items.size() / max_count]));
  return out;
}

int tag_value(std::string_view text, std::string_view tag) {
  const std::string open = fmt::format("<{}>", tag);
  const auto at = text.find(open);
  if (at == std::string_view::npos) return -1;
  const auto begin = at + open.size();
  const auto end = text.find('<', begin);
  try {
    return static_cast<int>(std::lround(std::stod(std::string(text.substr(begin, end - begin)))));
  } catch (const std::exception&) {
    return -1;
  }
}

std::vector<unsigned char> encode_jpeg(const cv::Mat& bgr) {
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
  return bytes;
}

/// `image` scaled to fit `cell` (aspect kept), centred on a grey cell.
void paste_fit(const cv::Mat& image, cv::Mat& canvas, const cv::Rect& cell) {
  const double scale =
      std::min(static_cast<double>(cell.width) / image.cols, static_cast<double>(cell.height) / image.rows);
  const cv::Size size(std::max(1, static_cast<int>(image.cols * scale)),
                      std::max(1, static_cast<int>(image.rows * scale)));
  cv::Mat resized;
  cv::resize(image, resized, size, 0, 0, scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  canvas(cell).setTo(cv::Scalar(110, 110, 110));
  resized.copyTo(canvas(cv::Rect(cell.x + (cell.width - size.width) / 2, cell.y + (cell.height - size.height) / 2,
                                 size.width, size.height)));
}

/// Face patches for the webcam case: face-crop images whole, or annotated boxes of 40 px or more
/// enlarged 1.8 times (a head and some shoulders).
std::vector<cv::Mat> face_patches(const ImagePools& pools, std::size_t max_count) {
  std::vector<cv::Mat> patches;
  for (const fs::path& path : pools.plain) {
    if (patches.size() >= max_count) break;
    cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (!image.empty() && image.cols >= 48 && image.rows >= 48) patches.push_back(std::move(image));
  }
  for (const AnnotatedImage& item : pools.annotated) {
    if (patches.size() >= max_count) break;
    const cv::Mat image = cv::imread(item.path.string(), cv::IMREAD_COLOR);
    if (image.empty()) continue;
    for (const cv::Rect& box : item.boxes) {
      if (std::max(box.width, box.height) < 40) continue;
      const int side = std::max(box.width, box.height) * 18 / 10;
      const cv::Rect square(box.x + box.width / 2 - side / 2, box.y + box.height / 2 - side / 2, side, side);
      const cv::Rect inside = square & cv::Rect(0, 0, image.cols, image.rows);
      if (inside.area() > 0) patches.push_back(image(inside).clone());
      if (patches.size() >= max_count) break;
    }
  }
  return patches;
}

}  // namespace

std::vector<cv::Rect> read_voc_boxes(const fs::path& xml) {
  std::ifstream in(xml);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<cv::Rect> boxes;
  std::size_t pos = 0;
  while ((pos = text.find("<bndbox>", pos)) != std::string::npos) {
    const auto end = text.find("</bndbox>", pos);
    if (end == std::string::npos) break;
    const std::string_view box(text.data() + pos, end - pos);
    const int x0 = tag_value(box, "xmin");
    const int y0 = tag_value(box, "ymin");
    const int x1 = tag_value(box, "xmax");
    const int y1 = tag_value(box, "ymax");
    if (x0 >= 0 && y0 >= 0 && x1 > x0 && y1 > y0) boxes.emplace_back(x0, y0, x1 - x0, y1 - y0);
    pos = end;
  }
  return boxes;
}

ImagePools collect_images(const std::vector<fs::path>& dirs, std::size_t max_each) {
  std::vector<fs::path> plain;
  std::vector<fs::path> annotated;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir))
      throw Error(Errc::bad_input, fmt::format("--images '{}' is not a folder", dir.string()));
    for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
      if (!entry.is_regular_file() || !video::is_image_file(entry.path())) continue;
      const fs::path xml =
          entry.path().parent_path().parent_path() / "annotations" / (entry.path().stem().string() + ".xml");
      (fs::is_regular_file(xml) ? annotated : plain).push_back(entry.path());
    }
  }
  std::sort(plain.begin(), plain.end());
  std::sort(annotated.begin(), annotated.end());
  ImagePools pools;
  pools.plain = sample_evenly(std::move(plain), max_each);
  for (fs::path& path : sample_evenly(std::move(annotated), max_each)) {
    const fs::path xml = path.parent_path().parent_path() / "annotations" / (path.stem().string() + ".xml");
    std::vector<cv::Rect> boxes = read_voc_boxes(xml);
    if (!boxes.empty()) pools.annotated.push_back({std::move(path), std::move(boxes)});
  }
  return pools;
}

FrameSet make_webcam_frames(const ImagePools& pools, int count) {
  const std::vector<cv::Mat> patches = face_patches(pools, 48);
  if (patches.empty())
    throw Error(Errc::bad_input,
                "webcam case: no face image found under --images (need face crops or annotated photos)");
  FrameSet set;
  set.size = cv::Size(640, 480);
  set.recipe =
      fmt::format("640x480, 1-3 faces of 140-260 px from {} face images, on a blurred background", patches.size());
  cv::RNG rng(7);
  std::size_t next = 0;
  int placed = 0;
  cv::Mat background;
  cv::Mat small;
  for (int i = 0; i < count; ++i) {
    const cv::Mat& bg_source = patches[(next + 5) % patches.size()];
    // Blurred at a quarter of the size: the same look, a fraction of the set-up time.
    cv::resize(bg_source, small, cv::Size(set.size.width / 4, set.size.height / 4), 0, 0, cv::INTER_AREA);
    cv::GaussianBlur(small, small, cv::Size(0, 0), 6.0);
    cv::resize(small, background, set.size, 0, 0, cv::INTER_LINEAR);
    cv::Mat frame = background.clone();
    const int faces = 1 + i % 3;
    const int column = set.size.width / faces;
    for (int f = 0; f < faces; ++f) {
      const cv::Mat& patch = patches[next++ % patches.size()];
      const int height = std::min(rng.uniform(140, 261), column * patch.rows / patch.cols);
      const int width = std::max(1, height * patch.cols / patch.rows);
      const int h = std::max(1, height);
      cv::Mat resized;
      cv::resize(patch, resized, cv::Size(width, h), 0, 0, cv::INTER_AREA);
      const int x = f * column + (column - width) / 2;
      const int y = rng.uniform(0, std::max(1, set.size.height - h));
      resized.copyTo(frame(cv::Rect(x, y, width, h)));
      ++placed;
    }
    set.jpegs.push_back(encode_jpeg(frame));
  }
  set.faces_placed = static_cast<double>(placed) / count;
  return set;
}

FrameSet make_video_frames(const ImagePools& pools, int count) {
  const std::vector<cv::Mat> patches = face_patches(pools, 8);
  if (patches.size() < 3)
    throw Error(Errc::bad_input, "video case: fewer than 3 face images found under --images (need face crops)");
  FrameSet set;
  set.size = cv::Size(640, 480);
  const int frames = std::max(count, 90);
  set.recipe =
      fmt::format("{} successive 640x480 frames, 2 faces of 150-200 px walking across a fixed background", frames);
  cv::Mat small;
  cv::Mat background;
  cv::resize(patches[2], small, cv::Size(set.size.width / 4, set.size.height / 4), 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, cv::Size(0, 0), 6.0);
  cv::resize(small, background, set.size, 0, 0, cv::INTER_LINEAR);
  std::array<cv::Mat, 2> faces;
  cv::resize(patches[0], faces[0], cv::Size(200, 200), 0, 0, cv::INTER_AREA);
  cv::resize(patches[1], faces[1], cv::Size(150, 150), 0, 0, cv::INTER_AREA);
  for (int i = 0; i < frames; ++i) {
    cv::Mat frame = background.clone();
    const double s = static_cast<double>(i) / (frames - 1);
    const int x0 = static_cast<int>(20 + s * (640 - 200 - 40));              // left to right
    const int x1 = static_cast<int>(640 - 150 - 20 - s * (640 - 150 - 40));  // right to left, lower
    faces[0].copyTo(frame(cv::Rect(x0, 30, 200, 200)));
    faces[1].copyTo(frame(cv::Rect(x1, 300, 150, 150)));
    set.jpegs.push_back(encode_jpeg(frame));
  }
  set.faces_placed = 2.0;
  return set;
}

FrameSet make_crowd_frames(const ImagePools& pools, int count) {
  FrameSet set;
  set.size = cv::Size(1920, 1080);
  const bool photos = !pools.annotated.empty();
  if (!photos && pools.plain.empty()) throw Error(Errc::bad_input, "crowd case: no image found under --images");
  const int cols = photos ? 3 : 6;
  const int rows = photos ? 2 : 4;
  const int cells = cols * rows;
  set.recipe = photos ? fmt::format("1920x1080, a 3x2 grid of annotated photos ({} sampled), 10-30 faces",
                                    pools.annotated.size())
                      : fmt::format("1920x1080, a 6x4 grid of face images ({} sampled)", pools.plain.size());
  const int cell_w = set.size.width / cols;
  const int cell_h = set.size.height / rows;
  std::size_t next = 0;
  double placed = 0.0;
  for (int i = 0; i < count; ++i) {
    cv::Mat frame(set.size, CV_8UC3, cv::Scalar(110, 110, 110));
    int faces = 0;
    for (int c = 0; c < cells; ++c) {
      cv::Mat image;
      int boxes = 1;
      if (photos) {
        // Keep the frame within 30 faces: skip photos with more faces than the budget left allows.
        const int budget = 30 - faces - (cells - c - 1);
        for (std::size_t tries = 0; tries < pools.annotated.size(); ++tries) {
          const AnnotatedImage& item = pools.annotated[next++ % pools.annotated.size()];
          if (static_cast<int>(item.boxes.size()) > budget) continue;
          image = cv::imread(item.path.string(), cv::IMREAD_COLOR);
          boxes = static_cast<int>(item.boxes.size());
          if (!image.empty()) break;
        }
      } else {
        image = cv::imread(pools.plain[next++ % pools.plain.size()].string(), cv::IMREAD_COLOR);
      }
      if (image.empty()) continue;
      paste_fit(image, frame, cv::Rect((c % cols) * cell_w, (c / cols) * cell_h, cell_w, cell_h));
      faces += boxes;
    }
    placed += faces;
    set.jpegs.push_back(encode_jpeg(frame));
  }
  set.faces_placed = placed / count;
  return set;
}

}  // namespace maskdetect::bench
