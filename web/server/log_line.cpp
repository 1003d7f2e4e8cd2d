// log_line.cpp - see log_line.hpp.
#include "log_line.hpp"

#include <cstdio>
#include <mutex>

namespace maskdetect::server::detail {

void log_line(const std::string& line) {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::fprintf(stderr, "serve: %s\n", line.c_str());
}

}  // namespace maskdetect::server::detail
