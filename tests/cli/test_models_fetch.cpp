// `maskdetect models fetch` against a local HTTP mirror (python3 -m http.server on 127.0.0.1): a good file,
// a corrupted one, a truncated one, an unreachable mirror, and a file already in place.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskdetect::test;

namespace {

const char* const kYuNetFile = "face_detection_yunet_2022mar.onnx";

fs::path yunet_source() { return shared_dir() / "models" / "yunet_2022mar" / kYuNetFile; }

bool empty_dir(const fs::path& dir) { return !fs::exists(dir) || fs::is_empty(dir); }

}  // namespace

TEST_CASE("models list names the known models", "[cli][models]") {
  const ProcessResult r = run_cli({"models", "list"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("yunet") != std::string::npos);
  CHECK(r.out.find(kYuNetFile) != std::string::npos);
  CHECK(r.out.find("mask_detector.onnx") != std::string::npos);  // shipped with the project (models/)
}

TEST_CASE("models fetch from a local mirror checks size and sha256", "[cli][models]") {
  MASKDETECT_REQUIRE_DATA(yunet_source());
  if (!fs::exists("/usr/bin/python3")) {
    WARN("/usr/bin/python3 missing; test not run");
    return;
  }
  TempDir tmp;
  const std::string original = read_text(yunet_source());
  REQUIRE(original.size() == 345478);

  // Three mirrors: the good file, one byte flipped, the first half only.
  fs::create_directories(tmp / "good");
  fs::create_directories(tmp / "corrupt");
  fs::create_directories(tmp / "truncated");
  write_text(tmp / "good" / kYuNetFile, original);
  std::string flipped = original;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x01);
  write_text(tmp / "corrupt" / kYuNetFile, flipped);
  write_text(tmp / "truncated" / kYuNetFile, original.substr(0, original.size() / 2));

  const fs::path dest = tmp / "dest";

  SECTION("good mirror: the file lands in --dir, byte-identical") {
    HttpMirror mirror(tmp / "good");
    REQUIRE(mirror.ready());
    const ProcessResult r =
        run_cli({"models", "fetch", "yunet", "--mirror", mirror.url() + "/", "--dir", dest.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(fs::exists(dest / kYuNetFile));
    CHECK(read_text(dest / kYuNetFile) == original);
    // Only the model, no temporary file.
    CHECK(std::distance(fs::directory_iterator(dest), fs::directory_iterator()) == 1);

    // Already there with the right hash: no download (the mirror is not even needed).
    const ProcessResult again =
        run_cli({"models", "fetch", "yunet", "--mirror", "http://127.0.0.1:9/", "--dir", dest.string()});
    INFO(again.err);
    CHECK(again.exit_code == 0);
    CHECK(again.err.find("already") != std::string::npos);
  }

  SECTION("corrupted file: sha256 mismatch, nothing left behind") {
    HttpMirror mirror(tmp / "corrupt");
    REQUIRE(mirror.ready());
    const ProcessResult r = run_cli({"models", "fetch", "yunet", "--mirror", mirror.url(), "--dir", dest.string()});
    INFO(r.err);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("error: downloading") != std::string::npos);
    CHECK(r.err.find("sha256") != std::string::npos);
    CHECK(r.err.find(mirror.url() + "/" + kYuNetFile) != std::string::npos);
    CHECK(empty_dir(dest));
  }

  SECTION("truncated file: size error, nothing left behind") {
    HttpMirror mirror(tmp / "truncated");
    REQUIRE(mirror.ready());
    const ProcessResult r = run_cli({"models", "fetch", "yunet", "--mirror", mirror.url(), "--dir", dest.string()});
    INFO(r.err);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("size") != std::string::npos);
    CHECK(r.err.find("345478") != std::string::npos);
    CHECK(empty_dir(dest));
  }

  SECTION("missing file on the mirror (HTTP 404)") {
    fs::create_directories(tmp / "empty");
    HttpMirror mirror(tmp / "empty");
    REQUIRE(mirror.ready());
    const ProcessResult r = run_cli({"models", "fetch", "yunet", "--mirror", mirror.url(), "--dir", dest.string()});
    INFO(r.err);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find(kYuNetFile) != std::string::npos);
    CHECK(empty_dir(dest));
  }

  SECTION("unreachable mirror: the URL is named") {
    const std::string url = "http://127.0.0.1:" + std::to_string(free_local_port());
    const ProcessResult r = run_cli({"models", "fetch", "yunet", "--mirror", url, "--dir", dest.string()});
    INFO(r.err);
    CHECK(r.exit_code == 5);
    CHECK(r.err.find(url + "/" + kYuNetFile) != std::string::npos);
    CHECK(empty_dir(dest));
  }

  SECTION("a different file in place is not replaced without --force") {
    fs::create_directories(dest);
    write_text(dest / kYuNetFile, "old");
    const ProcessResult r =
        run_cli({"models", "fetch", "yunet", "--mirror", "http://127.0.0.1:9", "--dir", dest.string()});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("--force") != std::string::npos);
    CHECK(read_text(dest / kYuNetFile) == "old");
  }
}

TEST_CASE("models fetch of an unknown name lists the known ones", "[cli][models]") {
  TempDir tmp;
  const ProcessResult r = run_cli({"models", "fetch", "nonesuch", "--dir", tmp.path().string()});
  CHECK(r.exit_code == 4);
  CHECK(r.err.rfind("error: ", 0) == 0);
  CHECK(r.err.find("yunet") != std::string::npos);
}
