// Helpers shared by the tests: where the shared datasets are, and how to fail when they are missing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace maskdetect::test {

/// ../shared beside the project root, or $MASKDETECT_SHARED_DIR.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("MASKDETECT_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return MASKDETECT_TEST_SHARED_DIR;
}

/// The project's source tree (for models/ and models/splits/).
inline std::filesystem::path source_dir() { return MASKDETECT_TEST_SOURCE_DIR; }

/// True when running under CI (CI=true), where missing test data is an error, never a skip.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
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
