// server_options.cpp - what `maskdetect serve` reads from its command line into ServerOptions: the --listen
// address and the camera names made from --source specs (see server.hpp). Pure functions, fuzzed by
// tests/fuzz/server/fuzz_server_options.cpp.
#include <charconv>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "server.hpp"

namespace maskdetect::server {

void parse_listen(std::string_view text, ServerOptions& options) {
  std::string_view host;
  std::string_view port = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw Error(Errc::bad_input, "--listen '" + std::string(text) + "': expected [address]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw Error(Errc::bad_input, "--listen '" + std::string(text) + "': bad port '" + std::string(port) + "'");
  if (!host.empty()) options.address = std::string(host);
  options.port = static_cast<unsigned short>(value);
}

std::string camera_name_for_source(std::string_view spec) {
  std::string text = video::redact_url(spec);
  if (const auto scheme = text.find("://"); scheme != std::string::npos) {
    text = text.substr(scheme + 3);
    if (const auto at = text.rfind('@'); at != std::string::npos) text = text.substr(at + 1);  // credentials
    if (const auto query = text.find('?'); query != std::string::npos) text.resize(query);
  } else if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    text = "camera" + text;  // a camera index
  } else {
    std::filesystem::path path(text);
    if (!path.has_filename()) path = path.parent_path();  // "frames/"
    text = path.has_extension() && path.extension() != "." ? path.stem().string() : path.filename().string();
  }
  std::string name;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (ok) {
      name += c;
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > 48) name.resize(48);
  return name.empty() ? std::string("camera") : name;
}

std::vector<CameraOptions> resolve_cameras(const ServerOptions& options) {
  std::vector<CameraOptions> cameras = options.cameras;
  std::set<std::string> taken;
  for (const CameraOptions& camera : cameras) taken.insert(camera.name);
  for (const std::string& source : options.sources) {
    const std::string base = camera_name_for_source(source);
    std::string name = base;
    for (int n = 2; taken.contains(name); ++n) name = base + "-" + std::to_string(n);
    taken.insert(name);
    cameras.push_back(
        CameraOptions{.name = name, .source = source, .config = options.config, .fps = options.source_fps});
  }
  return cameras;
}

}  // namespace maskdetect::server
