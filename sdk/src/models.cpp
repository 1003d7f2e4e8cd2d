// Model search order and the models the project can fetch.
#include "maskdetect/models.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <system_error>

#include <fmt/format.h>

#include "maskdetect/error.hpp"

namespace maskdetect {
namespace {

std::filesystem::path env_path(const char* name) {
  const char* value = std::getenv(name);
  return (value != nullptr && *value != '\0') ? std::filesystem::path(value) : std::filesystem::path();
}

// The file this library (or the program it is linked into) was loaded from.
std::filesystem::path loaded_from() {
  static const char anchor = 0;  // any object of this library tells dladdr which file it is
  Dl_info info{};
  if (::dladdr(&anchor, &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  auto path = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::filesystem::path() : path;
}

// <install prefix>/share/maskdetect/models found from where this library was loaded, so a package
// installed under any prefix (a staging folder, /usr, /opt/x) finds its models without configuration.
std::filesystem::path installed_model_dir(const std::filesystem::path& library) {
  return (library.parent_path() / MASKDETECT_LIB_TO_MODEL_DIR).lexically_normal();
}

// True when `library` lies in the build tree this library was compiled in: only then is the source
// tree's models/ folder a fallback, so an installed copy never reads models from a checkout.
bool in_build_tree(const std::filesystem::path& library) {
  const std::filesystem::path build_dir(MASKDETECT_BUILD_DIR);
  const auto rel = library.lexically_relative(build_dir);
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

std::filesystem::path user_model_dir() {
  if (auto dir = env_path("MASKDETECT_MODEL_DIR"); !dir.empty()) return dir;
  if (auto xdg = env_path("XDG_DATA_HOME"); !xdg.empty()) return xdg / "maskdetect" / "models";
  if (auto home = env_path("HOME"); !home.empty()) return home / ".local" / "share" / "maskdetect" / "models";
  return std::filesystem::current_path() / "models";
}

std::vector<std::filesystem::path> model_search_path() {
  std::vector<std::filesystem::path> dirs;
  auto add = [&dirs](const std::filesystem::path& dir) {
    for (const auto& known : dirs) {
      if (known == dir) return;
    }
    dirs.push_back(dir);
  };
  if (auto env = env_path("MASKDETECT_MODEL_DIR"); !env.empty()) add(env);
  add(user_model_dir());
  const auto library = loaded_from();
  if (!library.empty()) {
    add(installed_model_dir(library));
    add(installed_model_dir(library) / "npm");
  }
  add(std::filesystem::path(MASKDETECT_INSTALL_MODEL_DIR));
  add(std::filesystem::path(MASKDETECT_INSTALL_MODEL_DIR) / "npm");
  if (!library.empty() && in_build_tree(library)) {
    add(std::filesystem::path(MASKDETECT_SOURCE_MODEL_DIR));
    add(std::filesystem::path(MASKDETECT_SOURCE_MODEL_DIR) / "npm");
  }
  return dirs;
}

std::filesystem::path find_model(std::string_view file_name, std::string_view hint) {
  std::string searched;
  for (const auto& dir : model_search_path()) {
    auto candidate = dir / file_name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    searched += fmt::format("\n  {}", dir.string());
  }
  throw Error(Errc::model_not_found, fmt::format("model file {} not found; searched:{}{}{}", file_name, searched,
                                                 hint.empty() ? "" : "\n", hint));
}

std::filesystem::path find_model_file(const std::filesystem::path& path, std::string_view what, std::string_view hint) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    if (!std::filesystem::is_regular_file(path, ec))
      throw Error(Errc::model_load, fmt::format("{}: not a regular file ({})", path.string(), what));
    return path;
  }
  if (path.has_filename() && !path.has_parent_path()) {
    try {
      return find_model(path.string(), hint);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("{}: {}", what, e.what()));
    }
  }
  throw Error(Errc::model_not_found,
              fmt::format("{}: model file not found ({}){}{}", path.string(), what, hint.empty() ? "" : "; ", hint));
}

const std::vector<KnownModel>& known_models() {
  static const std::vector<KnownModel> models{{
      .name = "yunet",
      .file_name = std::string(kYuNetFile),
      .url = "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
             "face_detection_yunet_2022mar.onnx",
      .sha256 = "50ef07f702a31741ca46a4c0d947773b64143b9362780237bf0d427d6c79bab7",
      .size = 345478,
      .license = "MIT (opencv/opencv_zoo, YuNet by Shiqi Yu)",
      .description = "YuNet 2022mar face detector for cv::FaceDetectorYN (the release OpenCV 4.6 runs)",
  }};
  return models;
}

const KnownModel& known_model(std::string_view name) {
  std::string names;
  for (const auto& model : known_models()) {
    if (model.name == name) return model;
    names += (names.empty() ? "" : ", ") + model.name;
  }
  throw Error(Errc::bad_input, fmt::format("unknown model '{}'; known models: {}", name, names));
}

}  // namespace maskdetect
