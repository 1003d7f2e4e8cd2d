// The mask classifier: model card, the crop rule, batched inference with OpenCV DNN.
#include "maskdetect/mask_classifier.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/models.hpp"

namespace maskdetect {
namespace {

[[noreturn]] void card_error(const std::filesystem::path& path, std::string_view key, std::string_view what) {
  throw Error(Errc::invalid_config, fmt::format("{}: model card key '{}': {}", path.string(), key, what));
}

/// As card_error, with the line of `node`.
[[noreturn]] void card_error(const std::filesystem::path& path, const YAML::Node& node, std::string_view key,
                             std::string_view what) {
  const auto mark = node.Mark();
  if (mark.line < 0) card_error(path, key, what);
  throw Error(Errc::invalid_config,
              fmt::format("{}:{}: model card key '{}': {}", path.string(), mark.line + 1, key, what));
}

/// Checks that `map` is a mapping whose keys are plain names, each once.
void check_map(const std::filesystem::path& path, const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) card_error(path, map, key, "expected a mapping of keys");
  std::set<std::string> seen;
  const std::string prefix = key.empty() ? std::string() : std::string(key) + ".";
  for (const auto& item : map) {
    if (!item.first.IsScalar())
      card_error(path, item.first, prefix + "?", "a key must be a plain name, not a list or mapping");
    if (!seen.insert(item.first.Scalar()).second)
      card_error(path, item.first, prefix + item.first.Scalar(), "duplicate key (each key may appear once)");
  }
}

/// The value of `key` in the (checked) mapping `parent`; `full_key` names it in errors.
YAML::Node required(const std::filesystem::path& path, const YAML::Node& parent, const std::string& key,
                    std::string_view full_key) {
  for (const auto& item : parent)
    if (item.first.Scalar() == key) return item.second;
  card_error(path, parent, full_key, "missing");
}

template <typename T>
T scalar(const std::filesystem::path& path, const YAML::Node& node, std::string_view key, std::string_view expected) {
  if (!node.IsScalar()) card_error(path, node, key, fmt::format("expected {}", expected));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    card_error(path, node, key, fmt::format("expected {}, got '{}'", expected, node.Scalar()));
  }
}

std::array<float, 3> read_triplet(const std::filesystem::path& path, const YAML::Node& node, std::string_view key) {
  if (!node.IsSequence() || node.size() != 3) card_error(path, node, key, "expected a list of 3 numbers");
  std::array<float, 3> out{};
  for (std::size_t i = 0; i < 3; ++i) {
    out[i] = scalar<float>(path, node[i], key, "a number");
    if (!std::isfinite(out[i])) card_error(path, node[i], key, "expected a finite number");
  }
  return out;
}

// Just enough protobuf to read the input shape an ONNX file declares (no protobuf dependency).
struct ProtoField {
  std::uint64_t number = 0;
  std::uint64_t varint = 0;  // wire type 0
  std::string_view bytes;    // wire type 2
  int wire = -1;
};

bool read_varint(std::string_view& in, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    out |= static_cast<std::uint64_t>(byte & 0x7fU) << static_cast<unsigned>(shift);
    if ((byte & 0x80U) == 0) return true;
  }
  return false;
}

/// The next field of a message, or false at its end (or on a malformed message).
bool next_field(std::string_view& in, ProtoField& field) {
  std::uint64_t key = 0;
  if (in.empty() || !read_varint(in, key)) return false;
  field.number = key >> 3U;
  field.wire = static_cast<int>(key & 7U);
  field.bytes = {};
  switch (field.wire) {
    case 0:
      return read_varint(in, field.varint);
    case 1:
    case 5: {
      const std::size_t n = field.wire == 1 ? 8 : 4;
      if (in.size() < n) return false;
      in.remove_prefix(n);
      return true;
    }
    case 2: {
      std::uint64_t n = 0;
      if (!read_varint(in, n) || n > in.size()) return false;
      field.bytes = in.substr(0, static_cast<std::size_t>(n));
      in.remove_prefix(static_cast<std::size_t>(n));
      return true;
    }
    default:
      return false;
  }
}

/// The sub-message `number` of `message` (the first), or empty.
std::string_view sub_message(std::string_view message, std::uint64_t number) {
  ProtoField f;
  while (next_field(message, f))
    if (f.number == number && f.wire == 2) return f.bytes;
  return {};
}

/// Height and width of the first graph input of an ONNX model that is not an initializer, when it declares
/// a fixed NCHW shape; std::nullopt otherwise (then nothing can be checked).
std::optional<std::pair<std::uint64_t, std::uint64_t>> onnx_input_hw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();
  const std::string_view graph = sub_message(data, 7);  // ModelProto.graph
  std::set<std::string_view> initializers;
  std::vector<std::string_view> inputs;
  std::string_view rest = graph;
  ProtoField f;
  while (next_field(rest, f)) {
    if (f.wire != 2) continue;
    if (f.number == 5) initializers.insert(sub_message(f.bytes, 8));  // TensorProto.name
    if (f.number == 11) inputs.push_back(f.bytes);                    // ValueInfoProto
  }
  for (const std::string_view input : inputs) {
    if (initializers.contains(sub_message(input, 1))) continue;
    const std::string_view shape = sub_message(sub_message(sub_message(input, 2), 1), 2);
    std::vector<std::uint64_t> dims;  // 0: symbolic or unknown
    std::string_view dim_rest = shape;
    while (next_field(dim_rest, f)) {
      if (f.number != 1 || f.wire != 2) continue;
      std::uint64_t value = 0;
      std::string_view dim = f.bytes;
      ProtoField d;
      while (next_field(dim, d))
        if (d.number == 1 && d.wire == 0) value = d.varint;
      dims.push_back(value);
    }
    if (dims.size() == 4 && dims[2] > 0 && dims[3] > 0) return std::pair{dims[2], dims[3]};
    return std::nullopt;
  }
  return std::nullopt;
}

// Half away from zero, as std::lround; the Python recipe uses the same rule.
int round_half_away(double v) { return static_cast<int>(std::lround(v)); }

}  // namespace

ModelCard parse_model_card(std::string_view yaml, const std::filesystem::path& card_path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_config, fmt::format("{}: not valid YAML: {}", card_path.string(), e.what()));
  }
  if (!root.IsMap()) throw Error(Errc::invalid_config, fmt::format("{}: expected a mapping", card_path.string()));
  check_map(card_path, root, "");

  static const std::set<std::string> known{"name",  "version", "description", "model",    "labels", "output",
                                           "input", "crop",    "license",     "training", "metrics"};
  for (const auto& item : root) {
    const auto& key = item.first.Scalar();
    if (!known.contains(key)) card_error(card_path, item.first, key, "unknown key");
  }

  ModelCard card;
  card.card_path = card_path;
  try {
    card.name = scalar<std::string>(card_path, required(card_path, root, "name", "name"), "name", "a string");
    card.version =
        scalar<std::string>(card_path, required(card_path, root, "version", "version"), "version", "a string");
    const auto model = std::filesystem::path(
        scalar<std::string>(card_path, required(card_path, root, "model", "model"), "model", "a path"));
    card.model_path = model.is_absolute() ? model : (card_path.parent_path() / model).lexically_normal();

    const YAML::Node labels = required(card_path, root, "labels", "labels");
    if (!labels.IsSequence() || labels.size() != kNumLabels)
      card_error(card_path, labels, "labels", "expected a list of the 3 labels mask, no_mask, incorrect");
    std::set<MaskLabel> seen;
    for (std::size_t i = 0; i < kNumLabels; ++i) {
      const auto name = scalar<std::string>(card_path, labels[i], "labels", "a label name");
      const auto label = parse_label(name);
      if (!label || !seen.insert(*label).second)
        card_error(card_path, labels[i], "labels", fmt::format("'{}' is unknown or repeated", name));
      card.labels[i] = *label;
    }

    const YAML::Node output_node = required(card_path, root, "output", "output");
    const auto output = scalar<std::string>(card_path, output_node, "output", "probabilities or logits");
    if (output != "probabilities" && output != "logits")
      card_error(card_path, output_node, "output", fmt::format("'{}' is not probabilities or logits", output));
    card.outputs_probabilities = output == "probabilities";

    const YAML::Node input = required(card_path, root, "input", "input");
    check_map(card_path, input, "input");
    const YAML::Node size = required(card_path, input, "size", "input.size");
    card.input_size = scalar<int>(card_path, size, "input.size", "an integer");
    if (card.input_size < 8 || card.input_size > 512) card_error(card_path, size, "input.size", "not in 8..512");
    card.mean = read_triplet(card_path, required(card_path, input, "mean", "input.mean"), "input.mean");
    const YAML::Node std_node = required(card_path, input, "std", "input.std");
    card.std = read_triplet(card_path, std_node, "input.std");
    for (float s : card.std) {
      if (!(s > 0.0f)) card_error(card_path, std_node, "input.std", "values must be positive");
    }

    const YAML::Node crop = required(card_path, root, "crop", "crop");
    check_map(card_path, crop, "crop");
    const YAML::Node margin = required(card_path, crop, "margin", "crop.margin");
    card.crop_margin = scalar<float>(card_path, margin, "crop.margin", "a number");
    if (!(card.crop_margin >= 0.0f && card.crop_margin <= 1.0f))
      card_error(card_path, margin, "crop.margin", "not in [0, 1]");
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_config, fmt::format("{}: bad value in model card: {}", card_path.string(), e.what()));
  }
  return card;
}

ModelCard load_model_card(const std::filesystem::path& card_path) {
  if (!std::filesystem::is_regular_file(card_path))
    throw Error(Errc::model_not_found, fmt::format("{}: model card not found", card_path.string()));
  std::ifstream in(card_path, std::ios::binary);
  if (!in) throw Error(Errc::invalid_config, fmt::format("{}: cannot read the model card", card_path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_model_card(text.str(), card_path);
}

cv::Mat make_face_crop(const cv::Mat& bgr, const cv::Rect2f& box, float margin, int size) {
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw Error(Errc::bad_input, "make_face_crop: expected a BGR CV_8UC3 image");
  const double cx = static_cast<double>(box.x) + static_cast<double>(box.width) / 2.0;
  const double cy = static_cast<double>(box.y) + static_cast<double>(box.height) / 2.0;
  const double side = std::max(static_cast<double>(box.width), static_cast<double>(box.height)) *
                      (1.0 + 2.0 * static_cast<double>(margin));
  const int x0 = round_half_away(cx - side / 2.0);
  const int y0 = round_half_away(cy - side / 2.0);
  const int s = std::max(1, round_half_away(side));

  // The part of the square inside the frame, then replicated borders for the rest.
  const cv::Rect square(x0, y0, s, s);
  cv::Rect inside = square & cv::Rect(0, 0, bgr.cols, bgr.rows);
  cv::Mat crop;
  if (inside.empty()) {
    // The box lies wholly outside the frame: replicate the nearest frame pixel.
    const int px = std::clamp(x0, 0, bgr.cols - 1);
    const int py = std::clamp(y0, 0, bgr.rows - 1);
    crop = cv::Mat(s, s, CV_8UC3, bgr.at<cv::Vec3b>(py, px));
  } else if (inside == square) {
    crop = bgr(inside);
  } else {
    cv::copyMakeBorder(bgr(inside), crop, inside.y - y0, (y0 + s) - (inside.y + inside.height), inside.x - x0,
                       (x0 + s) - (inside.x + inside.width), cv::BORDER_REPLICATE);
  }
  cv::Mat out;
  cv::resize(crop, out, cv::Size(size, size), 0, 0, s > size ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

struct MaskClassifier::Impl {
  ModelCard card;
  cv::dnn::Net net;
  cv::Mat blob;  // reused between calls
  std::vector<cv::Mat> normalised;
};

std::unique_ptr<MaskClassifier> MaskClassifier::create(const ClassifierConfig& config) {
  return std::make_unique<MaskClassifier>(config);
}

MaskClassifier::MaskClassifier(const ClassifierConfig& config)
    : MaskClassifier(load_model_card(config.card.empty() ? find_model(kClassifierCardFile)
                                                         : std::filesystem::path(config.card))) {}

MaskClassifier::MaskClassifier(ModelCard card) : impl_(std::make_unique<Impl>()) {
  impl_->card = std::move(card);
  const auto& path = impl_->card.model_path;
  if (!std::filesystem::is_regular_file(path))
    throw Error(Errc::model_not_found, fmt::format("{}: classifier model not found (named by {})", path.string(),
                                                   impl_->card.card_path.string()));
  try {
    impl_->net = cv::dnn::readNetFromONNX(path.string());
  } catch (const cv::Exception& e) {
    throw Error(Errc::model_load, fmt::format("{}: cannot load the classifier network: {}", path.string(), e.err));
  }
  if (impl_->net.empty())
    throw Error(Errc::model_load, fmt::format("{}: cannot load the classifier network", path.string()));
  // A card whose input size differs from what the network declares would classify rescaled crops silently.
  if (const auto hw = onnx_input_hw(path); hw && (hw->first != static_cast<std::uint64_t>(impl_->card.input_size) ||
                                                  hw->second != static_cast<std::uint64_t>(impl_->card.input_size)))
    throw Error(
        Errc::invalid_config,
        fmt::format("{}: model card key 'input.size': {} does not match the network's input {}x{} ({})",
                    impl_->card.card_path.string(), impl_->card.input_size, hw->second, hw->first, path.string()));
  impl_->net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  impl_->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  // One trial inference, so a network with the wrong output surfaces here, not on the first frame.
  const int s = impl_->card.input_size;
  const auto probs = classify_crops({cv::Mat(s, s, CV_8UC3, cv::Scalar(127, 127, 127))});
  if (probs.size() != 1) throw Error(Errc::model_load, fmt::format("{}: no output for a test input", path.string()));
}

MaskClassifier::~MaskClassifier() = default;
MaskClassifier::MaskClassifier(MaskClassifier&&) noexcept = default;
MaskClassifier& MaskClassifier::operator=(MaskClassifier&&) noexcept = default;

const ModelCard& MaskClassifier::card() const noexcept { return impl_->card; }

std::vector<LabelProbs> MaskClassifier::classify(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes) {
  if (!impl_) throw Error(Errc::internal, "MaskClassifier: used after it was moved from");
  std::vector<cv::Mat> crops;
  crops.reserve(boxes.size());
  for (const auto& box : boxes)
    crops.push_back(make_face_crop(bgr, box, impl_->card.crop_margin, impl_->card.input_size));
  return classify_crops(crops);
}

std::vector<LabelProbs> MaskClassifier::classify_crops(const std::vector<cv::Mat>& crops) {
  if (!impl_) throw Error(Errc::internal, "MaskClassifier: used after it was moved from");
  std::vector<LabelProbs> result;
  if (crops.empty()) return result;
  const ModelCard& card = impl_->card;
  const int s = card.input_size;

  // (x / 255 - mean) / std per RGB channel, as one convertTo into float, then an NCHW blob with R and B swapped.
  auto& normalised = impl_->normalised;
  normalised.resize(crops.size());
  const cv::Scalar mean_bgr(card.mean[2], card.mean[1], card.mean[0]);
  const cv::Scalar std_bgr(card.std[2], card.std[1], card.std[0]);
  for (std::size_t i = 0; i < crops.size(); ++i) {
    const cv::Mat& crop = crops[i];
    if (crop.type() != CV_8UC3 || crop.rows != s || crop.cols != s)
      throw Error(Errc::bad_input, fmt::format("classifier crop {} is not a {}x{} BGR image", i, s, s));
    crop.convertTo(normalised[i], CV_32FC3, 1.0 / 255.0);
    cv::subtract(normalised[i], mean_bgr, normalised[i]);
    cv::divide(normalised[i], std_bgr, normalised[i]);
  }
  cv::dnn::blobFromImages(normalised, impl_->blob, 1.0, cv::Size(), cv::Scalar(), /*swapRB=*/true, /*crop=*/false,
                          CV_32F);
  cv::Mat out;
  try {
    impl_->net.setInput(impl_->blob);
    out = impl_->net.forward();
  } catch (const cv::Exception& e) {
    throw Error(Errc::model_load, fmt::format("{}: classifier inference failed: {}", card.model_path.string(), e.err));
  }
  out = out.reshape(1, static_cast<int>(out.total() / kNumLabels));
  if (out.rows != static_cast<int>(crops.size()) || out.cols != static_cast<int>(kNumLabels))
    throw Error(Errc::model_load, fmt::format("{}: expected {}x{} outputs, got {} values", card.model_path.string(),
                                              crops.size(), kNumLabels, out.total()));
  result.resize(crops.size());
  for (int r = 0; r < out.rows; ++r) {
    const float* row = out.ptr<float>(r);
    std::array<float, kNumLabels> values{};
    std::copy(row, row + kNumLabels, values.begin());
    if (!card.outputs_probabilities) {
      const float top = *std::max_element(values.begin(), values.end());
      float sum = 0.0f;
      for (float& v : values) sum += (v = std::exp(v - top));
      for (float& v : values) v /= sum;
    }
    for (std::size_t i = 0; i < kNumLabels; ++i)
      result[static_cast<std::size_t>(r)][static_cast<std::size_t>(card.labels[i])] = values[i];
  }
  return result;
}

}  // namespace maskdetect
