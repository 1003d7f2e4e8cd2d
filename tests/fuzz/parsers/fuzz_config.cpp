// Fuzz target: YAML config text (maskdetect::parse_config). Any input must either parse or throw
// maskdetect::Error; every other exception, crash or sanitizer report is a defect.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "maskdetect/config.hpp"
#include "maskdetect/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's byte buffer
  try {
    const maskdetect::Config config = maskdetect::parse_config(text, "fuzz.yaml");
    (void)maskdetect::to_yaml(config);
  } catch (const maskdetect::Error&) {
    // A clear, documented error: fine.
  }
  return 0;
}
