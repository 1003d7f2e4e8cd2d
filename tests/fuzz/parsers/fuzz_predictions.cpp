// Fuzz target: `eval --predictions` JSON Lines (maskdetect::eval::parse_predictions, which calls the SDK's
// maskdetect::frame_from_json on every line), and each result written back with maskdetect::to_json.
#include "common.hpp"
#include "eval/evaluate.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const maskdetect::eval::Predictions predictions =
        maskdetect::eval::parse_predictions(maskdetect::fuzz::text_of(data, size), "p.jsonl");
    (void)predictions.ranking();
    for (const auto& [name, result] : predictions.by_name) {
      const std::string line = maskdetect::to_json(result, {.image = name});
      (void)maskdetect::frame_from_json(line, "round trip");  // what we write, we read back
    }
  } catch (const maskdetect::Error&) {
  }
  return 0;
}
