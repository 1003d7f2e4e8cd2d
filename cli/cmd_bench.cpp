// maskdetect bench: per-stage latency, frames per second with 1 and N threads, peak RSS, and the AIZOO
// peer measured on the same frames (see docs/performance.md).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/config_options.hpp"
#include "bench/aizoo.hpp"
#include "bench/bench.hpp"
#include "commands.hpp"
#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/models.hpp"

namespace fs = std::filesystem;

namespace maskdetect::cli {
namespace {

struct BenchCommandOptions {
  std::vector<std::string> images;
  std::string json;
  double seconds = 3.0;
  std::string cases = "all";
  std::string yunet;
  std::string aizoo;
  int frames = 24;
};

constexpr std::string_view kDefaultDatasets = "../shared/datasets";
constexpr std::string_view kDefaultAizoo = "../shared/models/aizoo";

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

int run_bench_command(const BenchCommandOptions& options, const app::ConfigOptions& config_options) {
  // Every argument is checked, and every model loaded once, before the first measurement.
  bench::BenchOptions bench_options;
  for (const std::string& dir : options.images) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw Error(Errc::bad_input,
                  fmt::format("--images '{}': {}", dir, fs::exists(dir, ec) ? "not a folder" : "no such folder"));
    bench_options.images.emplace_back(dir);
  }
  if (bench_options.images.empty()) {
    if (!fs::is_directory(kDefaultDatasets))
      throw Error(Errc::bad_input, fmt::format("no --images given and '{}' is not a folder", kDefaultDatasets));
    bench_options.images.emplace_back(kDefaultDatasets);
  }
  bench_options.seconds = options.seconds;
  bench_options.cases = options.cases;
  bench_options.frames = options.frames;
  bench_options.threads = config_options.threads > 0 ? config_options.threads : 2;
  if (bench_options.threads < 2) {
    std::fputs("note: --threads 1 given; the N-thread figures use 2 threads\n", stderr);
    bench_options.threads = 2;
  }
  const Config config = app::resolve_config(config_options);
  bench_options.classifier = config.classifier;

  // --yunet: a path, or a file name looked up in the model search path (as detector.model is).
  const bool crowd = options.cases == "crowd" || options.cases == "all";
  const bool webcam = options.cases == "webcam" || options.cases == "all";
  constexpr std::string_view kYuNetHint = "fetch it with `maskdetect models fetch yunet` or pass --yunet PATH";
  if (!options.yunet.empty()) {
    bench_options.yunet = find_model_file(options.yunet, "--yunet", kYuNetHint).string();
  } else if (crowd) {
    bench_options.yunet = find_model(kYuNetFile, kYuNetHint).string();
  }
  // Load each case's models once now: a corrupt file fails here, not after the first case's measurements.
  auto probe = [&](Config case_config) {
    case_config.classifier = config.classifier;
    (void)Detector(case_config);
  };
  if (webcam) probe(preset("webcam"));
  if (crowd) {
    Config yunet = preset("crowd");
    yunet.detector.model = bench_options.yunet;
    probe(yunet);
    probe(preset("default"));
  }

  const fs::path aizoo = options.aizoo.empty() ? fs::path(kDefaultAizoo) : fs::path(options.aizoo);
  if (fs::is_regular_file(aizoo / "face_mask_detection.caffemodel")) {
    (void)bench::AizooDetector(aizoo);
    bench_options.aizoo = aizoo;
  } else if (under_ci() || !options.aizoo.empty()) {
    throw Error(Errc::model_not_found,
                fmt::format("AIZOO peer model not found in '{}' (face_mask_detection.caffemodel); pass --aizoo DIR",
                            aizoo.string()));
  } else {
    std::fprintf(stderr, "note: AIZOO peer skipped: '%s' has no face_mask_detection.caffemodel (pass --aizoo DIR)\n",
                 aizoo.string().c_str());
  }

  // Check the JSON output can be written before measuring for a minute.
  std::ofstream json_file;
  if (!options.json.empty()) {
    json_file.open(options.json);
    if (!json_file) throw Error(Errc::io, fmt::format("cannot write '{}'", options.json));
  }

  const std::vector<bench::CaseResult> results = bench::run_bench(bench_options);
  std::fputs(bench::format_table(results).c_str(), stdout);
  std::fflush(stdout);
  if (json_file.is_open()) {
    json_file << bench::to_json(results).dump(2) << '\n';
    json_file.close();
    if (!json_file) throw Error(Errc::io, fmt::format("cannot write '{}'", options.json));
  }
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<BenchCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure per-stage latency, frames per second (1 and --threads N, default 2), peak RSS, vs AIZOO");
  cmd->add_option("--images", options->images,
                  "Folder of dataset images the frames are composed from (repeatable; searched recursively; "
                  "annotated photos beside annotations/*.xml make the crowd frames). Default: ../shared/datasets")
      ->type_name("DIR");
  cmd->add_option("--json", options->json, "Write the figures as JSON, one object per case")->type_name("OUT");
  cmd->add_option("--seconds", options->seconds, "Wall time of each measurement")->check(CLI::Range(0.05, 600.0));
  cmd->add_option("--case", options->cases, "Which case to run")
      ->check(CLI::IsMember({"webcam", "crowd", "video", "all"}));
  cmd->add_option("--yunet", options->yunet,
                  "YuNet model file for the crowd case: a path, or a file name looked up in the model search path "
                  "(default: face_detection_yunet_2022mar.onnx there)")
      ->type_name("PATH");
  cmd->add_option("--aizoo", options->aizoo,
                  "Folder of the AIZOO peer model (default ../shared/models/aizoo; skipped when absent, an error "
                  "under CI=true)")
      ->type_name("DIR");
  cmd->add_option("--frames", options->frames, "Distinct frames composed per case")->check(CLI::Range(1, 1000));
  cmd->callback([options, &context] {
    context.action = [options, &context] { return run_bench_command(*options, context.config); };
  });
}

}  // namespace maskdetect::cli
