// maskdetect/maskdetect.hpp - the whole public API of the maskdetect SDK.
//
// Usage:
//
//   #include <maskdetect/maskdetect.hpp>
//
//   maskdetect::Config config = maskdetect::preset("webcam");   // or load_config("maskdetect.yaml")
//   maskdetect::Detector detector(config);                       // loads the models; throws maskdetect::Error
//   cv::Mat frame = cv::imread("people.jpg");
//   maskdetect::FrameResult result = detector.detect(frame);
//   for (const maskdetect::Face& face : result.faces)
//     std::cout << maskdetect::to_string(face.label) << ' ' << face.score << '\n';
//   maskdetect::draw_results(frame, result);                     // boxes and labels
//   std::cout << maskdetect::to_json(result, {.image = "people.jpg"}) << '\n';
//
// Models are found through the search order in models.hpp. Errors are maskdetect::Error (error.hpp).
#pragma once

#include "maskdetect/annotate.hpp"
#include "maskdetect/config.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"
#include "maskdetect/image_io.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/mask_classifier.hpp"
#include "maskdetect/models.hpp"
#include "maskdetect/people.hpp"
#include "maskdetect/tracker.hpp"
#include "maskdetect/types.hpp"
#include "maskdetect/version.hpp"
