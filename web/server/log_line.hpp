// log_line.hpp - the server's log: one stderr line per call ("serve: ..."), serialised with other log lines.
#pragma once

#include <string>

namespace maskdetect::server::detail {

/// One stderr line, serialised with other log lines.
void log_line(const std::string& line);

}  // namespace maskdetect::server::detail
