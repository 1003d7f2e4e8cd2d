// Fuzz target: what `maskdetect serve` reads from its command line (web/server/server_options.cpp). The first
// line is a --listen value (parse_listen), every further line a --source spec: camera_name_for_source on each,
// then resolve_cameras on them all. Invariants: --listen is accepted or refused with Error(bad_input), never
// another exception; an accepted one names an address; every camera name is one the serve config file would
// accept (1 to 64 of A-Z a-z 0-9 _ -), the names are unique, one camera per --source.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "maskdetect/error.hpp"
#include "maskdetect/video/reconnect.hpp"
#include "server.hpp"

namespace {

bool valid_camera_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's byte buffer
  const std::size_t eol = text.find('\n');
  const std::string_view listen = text.substr(0, eol);
  maskdetect::server::ServerOptions options;
  try {
    maskdetect::server::parse_listen(listen, options);
    if (options.address.empty()) std::abort();
  } catch (const maskdetect::Error& e) {
    if (e.code() != maskdetect::Errc::bad_input) std::abort();
  }
  if (eol == std::string_view::npos) return 0;
  std::string_view rest = text.substr(eol + 1);
  while (!rest.empty() && options.sources.size() < 64) {
    const std::size_t end = rest.find('\n');
    const std::string spec(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (!valid_camera_name(maskdetect::server::camera_name_for_source(spec))) std::abort();
    (void)maskdetect::video::is_live_spec(spec);
    options.sources.push_back(spec);
  }
  const std::vector<maskdetect::server::CameraOptions> cameras = maskdetect::server::resolve_cameras(options);
  if (cameras.size() != options.sources.size()) std::abort();
  std::set<std::string> names;
  for (const auto& camera : cameras)
    if (!valid_camera_name(camera.name) || !names.insert(camera.name).second) std::abort();
  return 0;
}
