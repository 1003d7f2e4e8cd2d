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

/// IoU of two boxes.
double iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? static_cast<double>(inter / uni) : 0.0;
}

}  // namespace

TEST_CASE("the shipped detector through the SDK finds the faces its recipe finds in PyTorch", "[parity]") {
  // Fixture: models/training/detector/parity.py on the checkpoint the shipped ONNX was exported from, on the
  // first test images of both detection sources (andrewmvd and moxa3k).
  const fs::path fixture_path = fs::path(MASKDETECT_TRAINING_WORK_DIR) / "detector" / "parity.json";
  MASKDETECT_REQUIRE_DATA(fixture_path);
  std::ifstream in(fixture_path);
  const auto fixture = nlohmann::json::parse(in);
  REQUIRE(fixture["items"].size() >= 8);
  maskdetect::Config config;
  config.detector.backend = maskdetect::DetectorBackend::mask_detector;
  config.detector.model = (maskdetect::test::source_dir() / "models" / "mask_detector.onnx").string();
  const float threshold = fixture["score_threshold"].get<float>();
  config.detector.score_threshold = threshold;
  config.detector.nms_threshold = fixture["nms_threshold"].get<float>();
  config.detector.max_faces = 100;
  maskdetect::Detector detector(config);
  std::size_t faces = 0;
  double worst_score = 0.0;
  for (const auto& item : fixture["items"]) {
    const auto image_path = item["image"].get<std::string>();
    MASKDETECT_REQUIRE_DATA(fs::path(image_path));
    const cv::Mat image = cv::imread(image_path, cv::IMREAD_COLOR);
    REQUIRE_FALSE(image.empty());
    const maskdetect::FrameResult sdk = detector.detect(image);
    INFO(image_path << ": SDK " << sdk.faces.size() << " faces, recipe " << item["faces"].size());
    std::vector<bool> used(sdk.faces.size(), false);
    for (const auto& face : item["faces"]) {
      const auto& b = face["box"];
      const cv::Rect2f box(b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>());
      const double score = face["score"].get<double>();
      if (score < threshold + 2e-3) continue;  // at the threshold, float noise may keep or drop it
      ++faces;
      std::size_t best = sdk.faces.size();
      double best_iou = 0.0;
      for (std::size_t k = 0; k < sdk.faces.size(); ++k)
        if (!used[k] && iou(sdk.faces[k].box, box) > best_iou) {
          best = k;
          best_iou = iou(sdk.faces[k].box, box);
        }
      INFO("recipe face " << box << " score " << score);
      REQUIRE(best < sdk.faces.size());
      used[best] = true;
      CHECK(best_iou > 0.99);
      const double diff = std::abs(static_cast<double>(sdk.faces[best].face_score) - score);
      worst_score = std::max(worst_score, diff);
      CHECK(diff < 2e-3);
    }
    for (std::size_t k = 0; k < sdk.faces.size(); ++k) {
      INFO("SDK face " << sdk.faces[k].box << " score " << sdk.faces[k].face_score);
      CHECK((used[k] || sdk.faces[k].face_score < threshold + 2e-3));  // no face the recipe did not find
    }
  }
  INFO("largest score difference " << worst_score);
  CHECK(faces >= 20);  // the images hold real faces, found by both
}

TEST_CASE("the shipped model gives PyTorch's probabilities in the SDK", "[parity]") {
  check_parity(maskdetect::test::source_dir() / "models" / "mask_classifier.yaml",
               fs::path(MASKDETECT_TRAINING_WORK_DIR) / "shipped" / "parity" / "parity.json");
}

TEST_CASE("a freshly trained quick model gives PyTorch's probabilities in the SDK", "[parity]") {
  check_parity(fs::path(MASKDETECT_TRAINING_WORK_DIR) / "quick" / "mask_classifier.yaml",
               fs::path(MASKDETECT_TRAINING_WORK_DIR) / "quick" / "parity" / "parity.json");
}
