// maskdetect/mask_classifier.hpp - the mask / no_mask / incorrect classifier and its model card.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "maskdetect/config.hpp"
#include "maskdetect/types.hpp"

namespace maskdetect {

/// What the SDK reads from a classifier's model card (YAML beside the ONNX file).
struct ModelCard {
  std::filesystem::path card_path;   ///< the YAML file
  std::filesystem::path model_path;  ///< the ONNX file (`model:`, relative to the card)
  std::string name;
  std::string version;
  /// Network output index -> label (`labels:`; each of mask, no_mask, incorrect exactly once).
  std::array<MaskLabel, kNumLabels> labels{MaskLabel::mask, MaskLabel::no_mask, MaskLabel::incorrect};
  bool outputs_probabilities = true;            ///< `output: probabilities`; `logits` gets a softmax in the SDK
  int input_size = 64;                          ///< `input.size`: square network input, NCHW float, RGB
  std::array<float, 3> mean{0.5f, 0.5f, 0.5f};  ///< `input.mean`, per RGB channel, after scaling to [0,1]
  std::array<float, 3> std{0.5f, 0.5f, 0.5f};   ///< `input.std`
  float crop_margin = 0.15f;                    ///< `crop.margin`, see make_face_crop()
};

/// Reads and checks a model card. Throws Error(invalid_config) naming the file and the key.
[[nodiscard]] ModelCard load_model_card(const std::filesystem::path& card_path);

/// As load_model_card, from YAML text; `card_path` names it in errors and anchors the relative model path.
/// Every error names the file, the line and the key (a non-scalar or duplicate key included).
[[nodiscard]] ModelCard parse_model_card(std::string_view yaml, const std::filesystem::path& card_path);

/// The crop rule shared with the training recipe (models/training/crop.py):
/// a square centred on the box, side = max(w, h) * (1 + 2 * margin), corners rounded half away from
/// zero; pixels outside the frame replicate the border; resized to size x size with INTER_AREA when
/// shrinking and INTER_LINEAR otherwise. Returns a BGR CV_8UC3 image.
[[nodiscard]] cv::Mat make_face_crop(const cv::Mat& bgr, const cv::Rect2f& box, float margin, int size);

/// Runs the classifier network with OpenCV DNN, all faces of a frame in one batch.
/// Not safe to call from two threads at once; create one per thread.
class MaskClassifier {
 public:
  /// Loads the card (config.card, or the shipped one from the model search path) and its network.
  /// Throws Error. Like Detector, a value: movable, not copyable.
  explicit MaskClassifier(const ClassifierConfig& config);
  /// Loads the network of a card already read with load_model_card(). Throws Error.
  explicit MaskClassifier(ModelCard card);
  /// The same as std::make_unique<MaskClassifier>(config), for code that holds classifiers by pointer.
  [[nodiscard]] static std::unique_ptr<MaskClassifier> create(const ClassifierConfig& config);
  ~MaskClassifier();
  MaskClassifier(MaskClassifier&&) noexcept;
  MaskClassifier& operator=(MaskClassifier&&) noexcept;
  MaskClassifier(const MaskClassifier&) = delete;
  MaskClassifier& operator=(const MaskClassifier&) = delete;

  /// Label probabilities for each box of `bgr`, in box order.
  [[nodiscard]] std::vector<LabelProbs> classify(const cv::Mat& bgr, const std::vector<cv::Rect2f>& boxes);
  /// Label probabilities for crops already made by make_face_crop() (BGR, card input size).
  [[nodiscard]] std::vector<LabelProbs> classify_crops(const std::vector<cv::Mat>& crops);

  [[nodiscard]] const ModelCard& card() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskdetect
