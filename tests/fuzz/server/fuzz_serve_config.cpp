// Fuzz target: the `maskdetect serve --config` file (web/server/serve_config.hpp), which a user writes: any text
// must either give a checked ServeConfig or throw maskdetect::Error naming the problem; every camera's pipeline
// (preset + detector overrides) is built as the server builds it. Any other exception, crash or sanitizer report
// is a defect. parse_size is exercised on each input too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "maskdetect/error.hpp"
#include "serve_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's byte buffer
  (void)maskdetect::server::parse_size(text);
  try {
    const maskdetect::server::ServeConfig config = maskdetect::server::parse_serve_config(text, "fuzz.yaml");
    const maskdetect::Config server_pipeline = maskdetect::parse_config(config.pipeline_yaml, "fuzz.yaml");
    for (const maskdetect::server::CameraConfig& camera : config.cameras)
      (void)maskdetect::server::camera_pipeline(camera, server_pipeline);
  } catch (const maskdetect::Error&) {
    // A clear, documented error: fine.
  }
  return 0;
}
