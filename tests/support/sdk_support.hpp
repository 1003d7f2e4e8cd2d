// Helpers of the SDK tests: a Config with one detector, and the error a detector's creation throws.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/face_detector.hpp"

namespace maskdetect::test {

/// The default Config with BlazeFace back as its face detector.
inline Config blazeface_back_config() {
  Config config;
  config.detector.backend = DetectorBackend::blazeface_back;
  return config;
}

/// The code of the maskdetect::Error that FaceDetector::create throws for `config`, and its message in
/// `message` when given; the test fails when the detector is created.
inline Errc create_error(const DetectorConfig& config, std::string* message = nullptr) {
  try {
    (void)FaceDetector::create(config);
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  FAIL("FaceDetector::create did not throw for " << config.model);
  return Errc::internal;
}

}  // namespace maskdetect::test
