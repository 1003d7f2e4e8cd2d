// Fuzz target: model card YAML text (maskdetect::parse_model_card). Any input must either parse or throw
// maskdetect::Error; every other exception, crash or sanitizer report is a defect.
#include "common.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/mask_classifier.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const maskdetect::ModelCard card = maskdetect::parse_model_card(maskdetect::fuzz::text_of(data, size), "card.yaml");
    (void)card.model_path.string();
  } catch (const maskdetect::Error&) {
    // A clear, documented error: fine.
  }
  return 0;
}
