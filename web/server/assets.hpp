// assets.hpp - the web UI, embedded into the binary at build time (web/cmake/embed_assets.cmake).
#pragma once

#include <cstddef>
#include <string_view>

namespace maskdetect::server {

struct Asset {
  std::string_view path;          ///< URL path, e.g. "/app.js"
  std::string_view content_type;  ///< e.g. "text/javascript; charset=utf-8"
  const unsigned char* data;
  std::size_t size;
};

/// The embedded file served at `path` (exact match), or nullptr.
[[nodiscard]] const Asset* find_asset(std::string_view path) noexcept;

}  // namespace maskdetect::server
