// Helpers of the monitoring tests: a real frame and face crop from the shared detection set.
#pragma once

#include <filesystem>
#include <string>

#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"
#include "test_support.hpp"

namespace maskdetect::test {

/// A dataset image with several faces (annotations: 3+ faces).
inline std::filesystem::path sample_image() { return andrewmvd_dir() / "images" / "maksssksksss0.jpg"; }

/// A person track on a real frame; the face box is the first face of the image's VOC annotation
/// (maksssksksss0.xml: xmin 79, ymin 105, xmax 109, ymax 142).
inline server::PersonTrack sample_track(const cv::Mat& frame, std::string camera, std::int64_t track_id,
                                        std::string label, double last_seen) {
  server::PersonTrack t;
  t.camera = std::move(camera);
  t.track_id = track_id;
  t.label = std::move(label);
  t.confidence = 0.9f;
  t.first_seen = last_seen - 3.0;
  t.last_seen = last_seen;
  t.box = cv::Rect(79, 105, 30, 37);
  t.frame = frame;
  t.crop = frame(t.box).clone();
  return t;
}

}  // namespace maskdetect::test
