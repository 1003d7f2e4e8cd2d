// Helpers shared by the tests: where the shared datasets are, and how to fail when they are missing.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

namespace maskdetect::test {

/// ../shared beside the project root, or $MASKDETECT_SHARED_DIR.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("MASKDETECT_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return MASKDETECT_TEST_SHARED_DIR;
}

/// The andrewmvd face-mask detection set (images/, annotations/) in the shared folder.
inline std::filesystem::path andrewmvd_dir() { return shared_dir() / "datasets" / "detection" / "andrewmvd_face_mask"; }

/// Moxa3K (images/, annotations/, MANIFEST.csv): the second detection source, head-style boxes.
inline std::filesystem::path moxa3k_dir() { return shared_dir() / "datasets" / "detection" / "moxa3k"; }

/// The project's source tree (for models/ and models/splits/).
inline std::filesystem::path source_dir() { return MASKDETECT_TEST_SOURCE_DIR; }

/// The whole of the file at `path` (empty when it cannot be read).
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// True when running under CI (CI=true), where missing test data is an error, never a skip.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

/// A fresh temporary folder, removed with its contents at the end of scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "maskdetect-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// The bytes of a PNG whose IHDR declares width x height, then a few bytes of IDAT and no valid image data:
/// what a decompression bomb's header looks like (CRCs are zero; header readers do not check them).
inline std::string png_claiming(std::uint32_t width, std::uint32_t height) {
  std::string b("\x89PNG\r\n\x1a\n", 8);
  const auto put_be32 = [&b](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<char>((v >> shift) & 0xFFU));
  };
  put_be32(13);
  b += "IHDR";
  put_be32(width);
  put_be32(height);
  b += std::string("\x08\x02\x00\x00\x00", 5);
  put_be32(0);
  put_be32(4);
  b += "IDATxxxx";
  put_be32(0);
  return b;
}

}  // namespace maskdetect::test

/// Use at the start of a test that needs `path` (a file or folder): under CI a missing path fails the
/// test loudly; elsewhere it warns and returns from the test.
#define MASKDETECT_REQUIRE_DATA(path)                                                            \
  do {                                                                                           \
    if (!std::filesystem::exists(path)) {                                                        \
      if (::maskdetect::test::in_ci()) FAIL("test data missing (CI=true): " << (path).string()); \
      WARN("test data missing, test not run: " << (path).string());                              \
      return;                                                                                    \
    }                                                                                            \
  } while (false)
