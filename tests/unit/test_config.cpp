// Config: defaults, presets, YAML keys, and the errors that name the key and the file.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <opencv2/core.hpp>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

using Catch::Matchers::Contains;
using maskdetect::Config;
using maskdetect::DetectorBackend;
using maskdetect::Errc;

namespace {

Errc error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const maskdetect::Error& e) {
    return e.code();
  }
  FAIL("expected a maskdetect::Error");
  return Errc::internal;
}

std::string error_text_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const maskdetect::Error& e) {
    return e.what();
  }
  FAIL("expected a maskdetect::Error");
  return {};
}

}  // namespace

TEST_CASE("default config and every preset are valid", "[config]") {
  REQUIRE_NOTHROW(maskdetect::validate(Config{}));
  for (const auto& name : maskdetect::preset_names()) REQUIRE_NOTHROW(maskdetect::validate(maskdetect::preset(name)));
  CHECK(maskdetect::preset("webcam").detector.backend == DetectorBackend::blazeface_front);
  CHECK(maskdetect::preset("crowd").detector.backend == DetectorBackend::yunet);
  CHECK(maskdetect::preset("mask_detector").detector.backend == DetectorBackend::mask_detector);
  CHECK(maskdetect::preset("mask_detector").detector.score_threshold == 0.5f);
  CHECK(error_code_of([] { (void)maskdetect::preset("stadium"); }) == Errc::invalid_config);
}

TEST_CASE("YAML keys override the base config and keep the rest", "[config]") {
  const Config base = maskdetect::preset("webcam");
  const Config c = maskdetect::parse_config("detector:\n  score_threshold: 0.7\nthreads: 2\n", "inline.yaml", base);
  CHECK(c.detector.backend == DetectorBackend::blazeface_front);
  CHECK(c.detector.score_threshold == Approx(0.7f));
  CHECK(c.threads == 2);
  CHECK(c.detector.nms_threshold == Approx(base.detector.nms_threshold));
}

TEST_CASE("an unknown key is an error naming the key, the file and the line", "[config]") {
  const auto text =
      error_text_of([] { (void)maskdetect::parse_config("threads: 1\ndetectr:\n  tiles: 2\n", "cam.yaml"); });
  CHECK_THAT(text, Contains("cam.yaml:2") && Contains("'detectr'"));
  const auto nested = error_text_of([] { (void)maskdetect::parse_config("detector:\n  treshold: 0.5\n", "cam.yaml"); });
  CHECK_THAT(nested, Contains("cam.yaml:2") && Contains("detector.treshold"));
}

TEST_CASE("bad values are errors naming the key", "[config]") {
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  score_threshold: high\n", "a.yaml"); }),
             Contains("detector.score_threshold") && Contains("high"));
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  score_threshold: 1.5\n", "a.yaml"); }),
             Contains("detector.score_threshold"));
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  backend: haar\n", "a.yaml"); }),
             Contains("detector.backend") && Contains("haar"));
  // Tiling exists for BlazeFace back and YuNet, not BlazeFace front; fixed-size models reject another input size.
  CHECK_THAT(error_text_of([] {
               (void)maskdetect::parse_config("detector:\n  backend: blazeface_front\n  tiles: 2\n", "a.yaml");
             }),
             Contains("detector.tiles"));
  CHECK(maskdetect::parse_config("detector:\n  backend: yunet\n  tiles: 2\n", "a.yaml").detector.tiles == 2);
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  input_size: 300\n", "a.yaml"); }),
             Contains("detector.input_size"));
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector: [1, 2]\n", "a.yaml"); }),
             Contains("'detector'"));
  CHECK(error_code_of([] { (void)maskdetect::parse_config("detector: {backend: yunet\n", "a.yaml"); }) ==
        Errc::invalid_config);
}

TEST_CASE("load_config reads a file, resolves relative paths against it, and round-trips", "[config]") {
  const auto dir = std::filesystem::temp_directory_path() / "maskdetect_test_config";
  std::filesystem::create_directories(dir);
  const auto path = dir / "site.yaml";
  {
    std::ofstream out(path);
    out << "detector:\n  backend: yunet\n  model: weights/yunet.onnx\n  input_size: 320\nclassifier:\n  card: "
           "/opt/card.yaml\n";
  }
  const Config c = maskdetect::load_config(path);
  CHECK(c.detector.backend == DetectorBackend::yunet);
  CHECK(c.detector.input_size == 320);
  CHECK(std::filesystem::path(c.detector.model) == dir / "weights" / "yunet.onnx");
  CHECK(c.classifier.card == "/opt/card.yaml");

  const Config again = maskdetect::parse_config(maskdetect::to_yaml(c), "round-trip");
  CHECK(again.detector.backend == c.detector.backend);
  CHECK(again.detector.model == c.detector.model);
  CHECK(again.detector.input_size == c.detector.input_size);
  CHECK(again.classifier.card == c.classifier.card);

  CHECK_THAT(error_text_of([&] { (void)maskdetect::load_config(dir / "missing.yaml"); }), Contains("missing.yaml"));
  std::filesystem::remove_all(dir);
}

namespace {

// MASKDETECT_MODEL_DIR set for the scope of a test (it is also the user model folder then, so the
// user's own ~/.local/share/maskdetect/models is not searched).
class ScopedModelDir {
 public:
  explicit ScopedModelDir(const std::filesystem::path& dir) {
    if (const char* old = std::getenv("MASKDETECT_MODEL_DIR")) old_ = old;
    ::setenv("MASKDETECT_MODEL_DIR", dir.c_str(), 1);
  }
  ~ScopedModelDir() {
    if (old_)
      ::setenv("MASKDETECT_MODEL_DIR", old_->c_str(), 1);
    else
      ::unsetenv("MASKDETECT_MODEL_DIR");
  }
  ScopedModelDir(const ScopedModelDir&) = delete;
  ScopedModelDir& operator=(const ScopedModelDir&) = delete;

 private:
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("default preset resolves to YuNet when its model is on the search path", "[config][preset]") {
  const auto yunet = maskdetect::test::shared_dir() / "models" / "yunet_2022mar" / "face_detection_yunet_2022mar.onnx";
  MASKDETECT_REQUIRE_DATA(yunet);
  maskdetect::test::TempDir tmp;
  std::filesystem::copy_file(yunet, tmp / "face_detection_yunet_2022mar.onnx");
  const ScopedModelDir env(tmp.path());
  const maskdetect::PresetChoice choice = maskdetect::resolve_preset("default");
  CHECK(choice.config.detector.backend == DetectorBackend::yunet);
  CHECK_FALSE(choice.fallback);
  CHECK(choice.hint.empty());
  CHECK_THAT(choice.description, Contains("YuNet") && Contains(tmp.path().string()));
  CHECK(maskdetect::preset("default").detector.backend == DetectorBackend::yunet);
  REQUIRE_NOTHROW(maskdetect::validate(choice.config));
  // It loads and runs.
  maskdetect::Detector detector(choice.config);
  CHECK(detector.detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar(90, 120, 150))).faces.empty());
}

TEST_CASE("default preset falls back to the shipped mask detector with the fetch command", "[config][preset]") {
  maskdetect::test::TempDir tmp;  // empty model folder
  const ScopedModelDir env(tmp.path());
  const maskdetect::PresetChoice choice = maskdetect::resolve_preset("default");
  CHECK(choice.config.detector.backend == DetectorBackend::mask_detector);
  CHECK(choice.config.detector.score_threshold == 0.5f);
  CHECK(choice.fallback);
  CHECK(choice.hint == "maskdetect models fetch yunet");
  CHECK_THAT(choice.description, Contains("mask detector") && Contains("face_detection_yunet_2022mar.onnx"));
  CHECK(maskdetect::preset("default").detector.backend == DetectorBackend::mask_detector);
  CHECK(maskdetect::people_config(choice.config).threshold == 0.45f);
  REQUIRE_NOTHROW(maskdetect::validate(choice.config));
  // The shipped detector is found without YuNet and runs.
  maskdetect::Detector detector(choice.config);
  CHECK(detector.detect(cv::Mat(240, 320, CV_8UC3, cv::Scalar(90, 120, 150))).faces.empty());
}

TEST_CASE("max_faces and box calibration keys are read, checked and written", "[config]") {
  const Config c = maskdetect::parse_config(
      "detector:\n  max_faces: 7\n  box_scale_x: 0.9\n  box_scale_y: 0.8\n  box_shift_x: 0.01\n  box_shift_y: 0.1\n",
      "t.yaml");
  CHECK(c.detector.max_faces == 7);
  CHECK(c.detector.box_scale_x == Approx(0.9f));
  CHECK(c.detector.box_scale_y == Approx(0.8f));
  CHECK(c.detector.box_shift_x == Approx(0.01f));
  CHECK(c.detector.box_shift_y == Approx(0.1f));
  const Config back = maskdetect::parse_config(maskdetect::to_yaml(c), "round trip");
  CHECK(back.detector.max_faces == 7);
  CHECK(back.detector.box_shift_y == Approx(0.1f));
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  box_scale_y: 0\n", "t.yaml"); }),
             Contains("detector.box_scale_y"));
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  max_faces: -1\n", "t.yaml"); }),
             Contains("detector.max_faces"));
}

TEST_CASE("add_mask_detector is read, written back, and has nothing to add to the mask detector itself", "[config]") {
  const Config c = maskdetect::parse_config("detector:\n  backend: yunet\n  add_mask_detector: true\n", "t.yaml");
  CHECK(c.detector.add_mask_detector);
  CHECK(maskdetect::parse_config(maskdetect::to_yaml(c), "round trip").detector.add_mask_detector);
  // `default` without YuNet runs the mask detector: a file written for YuNet machines must still load there.
  const Config same =
      maskdetect::parse_config("detector:\n  backend: mask_detector\n  add_mask_detector: true\n", "t.yaml");
  CHECK(same.detector.add_mask_detector);
  const auto alone = maskdetect::FaceDetector::create(same.detector);
  CHECK(alone->name() == "mask_detector");
  CHECK_THAT(error_text_of([] { (void)maskdetect::parse_config("detector:\n  add_mask_detector: maybe\n", "t.yaml"); }),
             Contains("detector.add_mask_detector") && Contains("true or false"));
  // Another back end chosen in a file starts from that back end's tuning: no merge unless the file asks.
  Config merged = c;
  maskdetect::apply_tuning(merged.detector, DetectorBackend::blazeface_front);
  CHECK_FALSE(merged.detector.add_mask_detector);
}

TEST_CASE("a config file that changes the back end gets that back end's tuning, then its own keys",
          "[config][preset]") {
  const Config webcam = maskdetect::preset("webcam");
  const Config yunet = maskdetect::parse_config("detector:\n  box_shift_x: 0.05\n  backend: yunet\n", "t.yaml", webcam);
  CHECK(yunet.detector.backend == DetectorBackend::yunet);
  CHECK(yunet.detector.input_size == 640);
  CHECK(yunet.detector.box_shift_y > 0.0f);            // YuNet's fitted shift
  CHECK(yunet.detector.box_shift_x == Approx(0.05f));  // the file's key wins whatever its order (preset: 0)
  maskdetect::DetectorConfig d = webcam.detector;
  maskdetect::apply_tuning(d, DetectorBackend::blazeface_back);
  CHECK(d.backend == DetectorBackend::blazeface_back);
  CHECK(d.input_size == 0);
  CHECK(d.box_scale_y != Approx(1.0f));
}
