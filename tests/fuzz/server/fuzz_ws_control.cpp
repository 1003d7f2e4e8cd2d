// Fuzz target: a WebSocket text message on /api/v1/ws or a stream WebSocket ({"threshold": x}), through
// parse_control_message (web/server/http_parse.hpp) as the server calls it. Invariant: nothing throws; an
// accepted threshold is in [0, 1].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's byte buffer
  if (const auto threshold = maskdetect::server::detail::parse_control_message(text)) {
    if (!(*threshold >= 0.0f && *threshold <= 1.0f)) std::abort();
  }
  return 0;
}
