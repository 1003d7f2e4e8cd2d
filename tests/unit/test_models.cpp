// The model search order and the models the project knows by name.
#include <cstdlib>
#include <fstream>

#include <maskdetect/maskdetect.hpp>

#include "test_support.hpp"

using Catch::Matchers::Contains;

namespace {

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("MASKDETECT_MODEL_DIR comes first in the search path and is the user folder", "[models]") {
  const auto dir = std::filesystem::temp_directory_path() / "maskdetect_test_models";
  std::filesystem::create_directories(dir);
  ScopedEnv env("MASKDETECT_MODEL_DIR", dir.string());
  const auto path = maskdetect::model_search_path();
  REQUIRE_FALSE(path.empty());
  CHECK(path.front() == dir);
  CHECK(maskdetect::user_model_dir() == dir);

  std::ofstream(dir / "custom.onnx") << "x";
  CHECK(maskdetect::find_model("custom.onnx") == dir / "custom.onnx");
  std::filesystem::remove_all(dir);
}

TEST_CASE("XDG_DATA_HOME decides the user model folder when MASKDETECT_MODEL_DIR is unset", "[models]") {
  ScopedEnv env("MASKDETECT_MODEL_DIR", "");
  ScopedEnv xdg("XDG_DATA_HOME", "/tmp/xdg-test");
  CHECK(maskdetect::user_model_dir() == std::filesystem::path("/tmp/xdg-test/maskdetect/models"));
}

TEST_CASE("a missing model names the file, every folder searched and the hint", "[models]") {
  try {
    (void)maskdetect::find_model("no_such_model.onnx", "fetch it with: maskdetect models fetch x");
    FAIL("expected model_not_found");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::model_not_found);
    const std::string text = e.what();
    CHECK_THAT(text, Contains("no_such_model.onnx") && Contains("models fetch x"));
    for (const auto& dir : maskdetect::model_search_path()) CHECK_THAT(text, Contains(dir.string()));
  }
}

TEST_CASE("the build tree's default models are found", "[models]") {
  CHECK(maskdetect::find_model(maskdetect::kBlazeFaceFrontFile).filename() == maskdetect::kBlazeFaceFrontFile);
  CHECK(maskdetect::find_model(maskdetect::kClassifierCardFile).filename() == maskdetect::kClassifierCardFile);
}

TEST_CASE("known models: yunet has its pinned size and hash and unknown names are listed", "[models]") {
  const auto& yunet = maskdetect::known_model("yunet");
  CHECK(yunet.file_name == maskdetect::kYuNetFile);
  CHECK(yunet.size == 345478);
  CHECK(yunet.sha256.size() == 64);
  try {
    (void)maskdetect::known_model("retinaface");
    FAIL("expected bad_input");
  } catch (const maskdetect::Error& e) {
    CHECK(e.code() == maskdetect::Errc::bad_input);
    CHECK_THAT(std::string(e.what()), Contains("retinaface") && Contains("yunet"));
  }
}
