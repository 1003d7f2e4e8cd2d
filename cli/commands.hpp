// cli/commands.hpp - the subcommands of `maskdetect`, one file each (cmd_<name>.cpp).
//
// Adding a subcommand: write cmd_<name>.cpp with an options struct, a setup function and a run function,
// declare its add_<name>_command() below and call it from main(). The CMake glob picks up the file.
// A command's callback stores what to run in `context.action`; main() runs it after parsing, inside the
// one try/catch that turns maskdetect::Error into an exit status (see main.cpp).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "app/config_options.hpp"

namespace maskdetect::cli {

/// Exit statuses of the tool (also in main.cpp and the README).
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,  ///< a bug or unexpected failure
  kExitUsage = 2,     ///< bad command line or invalid config (Errc::invalid_config)
  kExitModel = 3,     ///< model not found or not loadable (Errc::model_not_found, model_load)
  kExitBadInput = 4,  ///< unusable input or output argument (Errc::bad_input)
  kExitIo = 5,        ///< a file, device, stream or download failed (Errc::io)
};

/// Shared by all commands: the pipeline flags (global) and the action chosen by the command line.
struct CommandContext {
  app::ConfigOptions config;
  /// Set by the chosen subcommand's callback; returns the exit status.
  std::function<int()> action;
};

void add_run_command(CLI::App& app, CommandContext& context);
void add_models_command(CLI::App& app, CommandContext& context);
void add_eval_command(CLI::App& app, CommandContext& context);
void add_serve_command(CLI::App& app, CommandContext& context);  ///< a no-op in a build without the server
void add_bench_command(CLI::App& app, CommandContext& context);

}  // namespace maskdetect::cli
