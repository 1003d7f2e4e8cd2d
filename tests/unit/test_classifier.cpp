// The mask classifier: model cards, and the shipped model on real face crops.
#include <fstream>
#include <regex>

#include <opencv2/imgcodecs.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using maskdetect::test::read_text;

namespace {

const fs::path kShippedCard = maskdetect::test::source_dir() / "models" / "mask_classifier.yaml";

// Writes `text` as a card beside the shipped model, so `model:` resolves to it.
fs::path write_card(const std::string& name, const std::string& text) {
  const auto dir = fs::temp_directory_path() / "maskdetect_test_cards";
  fs::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

std::string card_error(const fs::path& path) {
  try {
    (void)maskdetect::load_model_card(path);
  } catch (const maskdetect::Error& e) {
    return e.what();
  }
  FAIL("expected an error loading " << path);
  return {};
}

struct GtFace {
  fs::path image;
  cv::Rect2f box;
  maskdetect::MaskLabel label;
};

// Ground-truth faces of the andrewmvd images listed in the committed test split (every `step`-th image).
std::vector<GtFace> andrewmvd_test_faces(std::size_t step) {
  const auto root = maskdetect::test::andrewmvd_dir();
  std::ifstream split(maskdetect::test::source_dir() / "models" / "splits" / "andrewmvd_test.txt");
  std::vector<GtFace> faces;
  const std::regex object(
      R"(<name>([^<]+)</name>[\s\S]*?<xmin>(\d+)</xmin>\s*<ymin>(\d+)</ymin>\s*<xmax>(\d+)</xmax>\s*<ymax>(\d+)</ymax>)");
  std::string stem;
  for (std::size_t i = 0; std::getline(split, stem); ++i) {
    if (stem.empty() || i % step != 0) continue;
    const std::string xml = read_text(root / "annotations" / (stem + ".xml"));
    for (std::sregex_iterator it(xml.begin(), xml.end(), object), end; it != end; ++it) {
      const std::string name = (*it)[1];
      const auto label = name == "with_mask"      ? maskdetect::MaskLabel::mask
                         : name == "without_mask" ? maskdetect::MaskLabel::no_mask
                                                  : maskdetect::MaskLabel::incorrect;
      const float x0 = std::stof((*it)[2]), y0 = std::stof((*it)[3]), x1 = std::stof((*it)[4]),
                  y1 = std::stof((*it)[5]);
      faces.push_back({root / "images" / (stem + ".jpg"), {x0, y0, x1 - x0, y1 - y0}, label});
    }
  }
  return faces;
}

}  // namespace

TEST_CASE("the shipped model card loads with its documented keys", "[classifier]") {
  const auto card = maskdetect::load_model_card(kShippedCard);
  CHECK(fs::exists(card.model_path));
  CHECK(card.model_path.extension() == ".onnx");
  CHECK(card.input_size >= 32);
  CHECK(card.crop_margin >= 0.0f);
  CHECK(fs::file_size(card.model_path) < 5u * 1024u * 1024u);
}

TEST_CASE("bad model cards are errors naming the file and the key", "[classifier]") {
  const std::string good = read_text(kShippedCard);
  const std::string model_line = "model: " + (kShippedCard.parent_path() / "mask_classifier.onnx").string() + "\n";
  const std::string base = std::regex_replace(good, std::regex(R"(^model:.*$)", std::regex::multiline), model_line);

  const auto unknown = write_card("unknown.yaml", base + "colour: rgb\n");
  CHECK_THAT(card_error(unknown), Contains("unknown.yaml") && Contains("'colour'"));

  const auto labels = write_card(
      "labels.yaml",
      std::regex_replace(base, std::regex(R"(^labels:.*$)", std::regex::multiline), "labels: [mask, mask, incorrect]"));
  CHECK_THAT(card_error(labels), Contains("labels.yaml") && Contains("labels"));

  const auto no_model = write_card(
      "nomodel.yaml", std::regex_replace(base, std::regex(R"(^model:.*$)", std::regex::multiline), "model: gone.onnx"));
  try {
    maskdetect::MaskClassifier classifier(maskdetect::load_model_card(no_model));
    FAIL("expected model_not_found");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::model_not_found);
    CHECK_THAT(std::string(e.what()), Contains("gone.onnx"));
  }

  const auto garbage_model = fs::temp_directory_path() / "maskdetect_test_cards" / "garbage.onnx";
  std::ofstream(garbage_model) << "this is not an ONNX file";
  const auto corrupt =
      write_card("corrupt.yaml",
                 std::regex_replace(base, std::regex(R"(^model:.*$)", std::regex::multiline), "model: garbage.onnx"));
  try {
    maskdetect::MaskClassifier classifier(maskdetect::load_model_card(corrupt));
    FAIL("expected model_load");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::model_load);
    CHECK_THAT(std::string(e.what()), Contains("garbage.onnx"));
  }
  try {
    (void)maskdetect::load_model_card(fs::path("/nonexistent/card.yaml"));
    FAIL("expected model_not_found");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::model_not_found);
    CHECK_THAT(std::string(e.what()), Contains("/nonexistent/card.yaml"));
  }
}

TEST_CASE("batched and single classification agree and give probabilities", "[classifier]") {
  MASKDETECT_REQUIRE_DATA(maskdetect::test::andrewmvd_dir());
  auto classifier = maskdetect::MaskClassifier::create({.card = kShippedCard.string()});
  const auto faces = andrewmvd_test_faces(10);
  REQUIRE(faces.size() >= 8);
  const cv::Mat image = cv::imread(faces[0].image.string());
  std::vector<cv::Rect2f> boxes;
  for (const auto& f : faces) {
    if (f.image == faces[0].image) boxes.push_back(f.box);
  }
  // Pad with shifted copies so there is a real batch.
  const std::size_t found = boxes.size();
  REQUIRE(found >= 1);
  while (boxes.size() < 8) {
    const cv::Rect2f shifted = boxes[boxes.size() % found] + cv::Point2f(3.0f, 2.0f);  // copy before push_back
    boxes.push_back(shifted);
  }
  const auto batch = classifier->classify(image, boxes);
  REQUIRE(batch.size() == boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    const auto single = classifier->classify(image, {boxes[i]});
    float sum = 0.0f;
    for (std::size_t k = 0; k < maskdetect::kNumLabels; ++k) {
      CHECK(batch[i][k] == Approx(single[0][k]).margin(1e-5));
      CHECK(batch[i][k] >= 0.0f);
      sum += batch[i][k];
    }
    CHECK(sum == Approx(1.0f).margin(1e-4));
  }
  CHECK(classifier->classify(image, {}).empty());
}

TEST_CASE("the shipped classifier labels andrewmvd test-split faces correctly", "[classifier][data]") {
  MASKDETECT_REQUIRE_DATA(maskdetect::test::andrewmvd_dir());
  auto classifier = maskdetect::MaskClassifier::create({.card = kShippedCard.string()});
  const auto faces = andrewmvd_test_faces(3);
  REQUIRE(faces.size() >= 100);
  std::size_t correct = 0;
  fs::path loaded;
  cv::Mat image;
  for (const auto& f : faces) {
    if (f.image != loaded) {
      image = cv::imread(f.image.string());
      loaded = f.image;
    }
    REQUIRE_FALSE(image.empty());
    const auto probs = classifier->classify(image, {f.box})[0];
    const auto best = static_cast<maskdetect::MaskLabel>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    correct += best == f.label ? 1u : 0u;
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(faces.size());
  INFO("accuracy " << accuracy << " on " << faces.size() << " test-split faces");
  CHECK(accuracy >= 0.90);
}
