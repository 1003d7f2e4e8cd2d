// Parity between the training recipe (PyTorch, models/training/) and the C++ SDK (OpenCV DNN): the same
// crops and the same probabilities. The fixtures are written by parity.py (see CMakeLists.txt).
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

// Sum of the normalised network input for one crop, as parity.py computes it.
double input_sum(const cv::Mat& crop, const maskdetect::ModelCard& card) {
  double sum = 0.0;
  for (int y = 0; y < crop.rows; ++y) {
    for (int x = 0; x < crop.cols; ++x) {
      const auto& bgr = crop.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c) {
        const auto rgb = static_cast<std::size_t>(c);
        sum += (bgr[2 - c] / 255.0 - static_cast<double>(card.mean[rgb])) / static_cast<double>(card.std[rgb]);
      }
    }
  }
  return sum;
}

void check_parity(const fs::path& card_path, const fs::path& fixture_path) {
  MASKDETECT_REQUIRE_DATA(fixture_path);
  const auto card = maskdetect::load_model_card(card_path);
  maskdetect::MaskClassifier classifier(card);
  std::ifstream in(fixture_path);
  const auto fixture = nlohmann::json::parse(in);
  REQUIRE(fixture["size"].get<int>() == card.input_size);
  REQUIRE(fixture["margin"].get<float>() == Approx(card.crop_margin));
  REQUIRE(fixture["labels"].size() == maskdetect::kNumLabels);
  REQUIRE(fixture["items"].size() >= 8);

  double worst = 0.0;
  for (const auto& item : fixture["items"]) {
    const auto image_path = item["image"].get<std::string>();
    MASKDETECT_REQUIRE_DATA(fs::path(image_path));
    const cv::Mat image = cv::imread(image_path, cv::IMREAD_COLOR);
    REQUIRE_FALSE(image.empty());
    const auto& b = item["box"];
    const cv::Rect2f box(b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>());

    // The same crop: same normalised input (summed over all 3 x S x S values).
    const cv::Mat crop = maskdetect::make_face_crop(image, box, card.crop_margin, card.input_size);
    INFO(image_path << " box " << box);
    CHECK(input_sum(crop, card) == Approx(item["input_sum"].get<double>()).margin(1e-2));

    // The same probabilities, in the fixture's label order.
    const auto probs = classifier.classify(image, {box})[0];
    for (std::size_t k = 0; k < maskdetect::kNumLabels; ++k) {
      const auto label = maskdetect::parse_label(fixture["labels"][k].get<std::string>());
      REQUIRE(label.has_value());
      const double diff =
          std::abs(static_cast<double>(probs[static_cast<std::size_t>(*label)]) - item["probs"][k].get<double>());
      worst = std::max(worst, diff);
      CHECK(diff < 1e-4);
    }
  }
  INFO("largest probability difference " << worst);
  CHECK(worst < 1e-4);
}

}  // namespace

TEST_CASE("the shipped model gives PyTorch's probabilities in the SDK", "[parity]") {
  check_parity(maskdetect::test::source_dir() / "models" / "mask_classifier.yaml",
               fs::path(MASKDETECT_TRAINING_WORK_DIR) / "shipped" / "parity" / "parity.json");
}

TEST_CASE("a freshly trained quick model gives PyTorch's probabilities in the SDK", "[parity]") {
  check_parity(fs::path(MASKDETECT_TRAINING_WORK_DIR) / "quick" / "mask_classifier.yaml",
               fs::path(MASKDETECT_TRAINING_WORK_DIR) / "quick" / "parity" / "parity.json");
}
