// Names of error codes and labels.
#include "maskdetect/error.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_config:
      return "invalid_config";
    case Errc::model_not_found:
      return "model_not_found";
    case Errc::model_load:
      return "model_load";
    case Errc::bad_input:
      return "bad_input";
    case Errc::io:
      return "io";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

std::string_view to_string(MaskLabel label) noexcept {
  switch (label) {
    case MaskLabel::mask:
      return "mask";
    case MaskLabel::no_mask:
      return "no_mask";
    case MaskLabel::incorrect:
      return "incorrect";
  }
  return "no_mask";
}

std::optional<MaskLabel> parse_label(std::string_view name) noexcept {
  for (MaskLabel label : kAllLabels) {
    if (to_string(label) == name) return label;
  }
  return std::nullopt;
}

}  // namespace maskdetect
