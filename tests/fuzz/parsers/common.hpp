// Shared by the parser harnesses: the input as text, and the rule that only maskdetect::Error may escape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace maskdetect::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};  // NOLINT: libFuzzer's byte buffer
}

}  // namespace maskdetect::fuzz
