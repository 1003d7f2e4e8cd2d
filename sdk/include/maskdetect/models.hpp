// maskdetect/models.hpp - where model files are found, and the models the SDK knows by name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace maskdetect {

/// Folders searched for a model file given by name, in order:
///  1. $MASKDETECT_MODEL_DIR (if set)
///  2. the user's model folder, user_model_dir() (where `maskdetect models fetch` writes)
///  3. <install prefix>/share/maskdetect/models and its npm/ subfolder (installed package): the prefix
///     libmaskdetect was loaded from, then the prefix it was configured with
///  4. <source tree>/models and models/npm, only for binaries running from the build tree
/// An explicit path in the config (absolute, or relative to the config file) skips the search.
[[nodiscard]] std::vector<std::filesystem::path> model_search_path();

/// $MASKDETECT_MODEL_DIR if set, else $XDG_DATA_HOME/maskdetect/models, else ~/.local/share/maskdetect/models.
[[nodiscard]] std::filesystem::path user_model_dir();

/// The first `<dir>/<file_name>` of model_search_path() that exists. Throws Error(model_not_found)
/// listing the folders searched (and `hint`, e.g. how to fetch the model).
[[nodiscard]] std::filesystem::path find_model(std::string_view file_name, std::string_view hint = {});

/// A model file as a user names it (a config value, a command-line flag): an existing file is returned as
/// given; a bare file name (no folder part) that is not in the current folder is looked up with
/// find_model(). Throws Error(model_not_found) naming `path` and, for a bare name, the folders searched;
/// Error(model_load) for something that is not a regular file. `what` names the setting in the message
/// (e.g. "--yunet", "detector.model").
[[nodiscard]] std::filesystem::path find_model_file(const std::filesystem::path& path, std::string_view what,
                                                    std::string_view hint = {});

/// A model the project knows how to obtain but may not ship (e.g. YuNet, see `maskdetect models fetch`).
struct KnownModel {
  std::string name;         ///< short name used on the command line, e.g. "yunet"
  std::string file_name;    ///< file name in the model folder
  std::string url;          ///< official download address
  std::string sha256;       ///< lower-case hex SHA-256 of the file
  std::uintmax_t size = 0;  ///< file size in bytes
  std::string license;
  std::string description;
};

/// Models `maskdetect models fetch` can download.
[[nodiscard]] const std::vector<KnownModel>& known_models();
/// The entry named `name`; throws Error(bad_input) listing the known names.
[[nodiscard]] const KnownModel& known_model(std::string_view name);

/// Default file names of the back ends' weights.
inline constexpr std::string_view kBlazeFaceFrontFile = "blazeface_front_128.onnx";
inline constexpr std::string_view kBlazeFaceBackFile = "blazeface_back_256.onnx";
inline constexpr std::string_view kYuNetFile = "face_detection_yunet_2022mar.onnx";
inline constexpr std::string_view kMaskDetectorFile = "mask_detector.onnx";
inline constexpr std::string_view kClassifierCardFile = "mask_classifier.yaml";

}  // namespace maskdetect
