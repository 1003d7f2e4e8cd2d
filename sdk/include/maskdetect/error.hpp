// maskdetect/error.hpp - the one exception type of the SDK.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace maskdetect {

/// What kind of failure an Error reports. Applications map it to an exit status or an HTTP status.
enum class Errc {
  invalid_config,   ///< unknown key, bad value, unreadable or malformed config / model card
  model_not_found,  ///< a model file is not in the search path (see models.hpp)
  model_load,       ///< a model file exists but cannot be loaded or is not the expected network
  bad_input,        ///< an image, video or argument the caller passed is unusable
  io,               ///< a file or device could not be read or written
  internal,         ///< a bug or an unexpected OpenCV failure
};

/// Short, stable name of an error code ("invalid_config", ...).
[[nodiscard]] std::string_view to_string(Errc code) noexcept;

/// Every error the SDK throws. The message names the input (file, key, value) and what is wrong.
/// `cv::Exception`s raised inside the SDK are caught and rethrown as Error.
class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace maskdetect
