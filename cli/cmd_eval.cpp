// maskdetect eval: score the pipeline (or another system's predictions) on a labelled dataset.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/progress.hpp"
#include "app/summary.hpp"
#include "commands.hpp"
#include "eval/dataset.hpp"
#include "eval/evaluate.hpp"
#include "eval/report.hpp"
#include "eval_video.hpp"
#include "maskdetect/maskdetect.hpp"

namespace fs = std::filesystem;

namespace maskdetect::cli {

namespace {

struct EvalOptions {
  std::string dataset;
  std::string format;
  std::string split;
  std::string predictions;
  std::string json;
  std::string report;
  std::string coco_results;
  std::string label_map;
  std::vector<std::string> class_map;
  bool strict = false;
  int workers = 2;
  float ap_threshold = 0.0f;
  float operating_threshold = 0.0f;
  std::size_t gallery = 12;
  bool progress = false;
  CLI::Option* ap_threshold_opt = nullptr;
  CLI::Option* operating_threshold_opt = nullptr;
  VideoEvalOptions video;  ///< --video CLIP: people on a video (eval_video.hpp)
};

bool given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }

std::string quote(const std::string& text) {
  return text.find_first_of(" \"'$") == std::string::npos ? text : "'" + text + "'";
}

/// The command line as it can be typed again.
std::string command_line(const EvalOptions& o, const app::ConfigOptions& c) {
  std::string cmd = "maskdetect";
  if (!c.config_file.empty()) cmd += " --config " + quote(c.config_file);
  if (c.preset != "default") cmd += " --preset " + c.preset;
  if (!c.detector.empty()) cmd += " --detector " + c.detector;
  if (given(c.input_size_opt)) cmd += fmt::format(" --input-size {}", c.input_size);
  if (given(c.tiles_opt)) cmd += fmt::format(" --tiles {}", c.tiles);
  if (given(c.face_threshold_opt)) cmd += fmt::format(" --face-threshold {}", c.face_threshold);
  cmd += " eval --dataset " + quote(o.dataset);
  if (!o.format.empty()) cmd += " --format " + o.format;
  if (!o.split.empty()) cmd += " --split " + quote(o.split);
  if (!o.predictions.empty()) cmd += " --predictions " + quote(o.predictions);
  if (!o.label_map.empty()) cmd += " --label-map " + quote(o.label_map);
  for (const std::string& rule : o.class_map) cmd += " --class-map " + quote(rule);
  if (given(o.ap_threshold_opt)) cmd += fmt::format(" --ap-threshold {}", o.ap_threshold);
  if (given(o.operating_threshold_opt)) cmd += fmt::format(" --operating-threshold {}", o.operating_threshold);
  if (!o.coco_results.empty()) cmd += " --coco-results " + quote(o.coco_results);
  if (o.strict) cmd += " --strict";
  return cmd;
}

std::string describe(const Config& config, const ModelCard& card, float run_threshold) {
  const DetectorConfig& d = config.detector;
  std::string text = fmt::format("{}", to_string(d.backend));
  if (d.input_size > 0) text += fmt::format(" input {}", d.input_size);
  if (d.tiles > 1) text += fmt::format(" tiles {}", d.tiles);
  if (d.add_mask_detector) text += " + mask_detector (merged)";
  text += fmt::format(" face threshold {:.2f}", d.score_threshold);
  if (run_threshold < d.score_threshold) text += fmt::format(" (AP down to {:.2f})", run_threshold);
  return text + fmt::format(" + classifier {} {}", card.name, card.version);
}

int run_eval(const EvalOptions& options, const app::ConfigOptions& config_options) {
  if (!options.video.video.empty()) {
    if (!options.dataset.empty()) throw Error(Errc::invalid_config, "--dataset and --video: give one of them");
    VideoEvalOptions video = options.video;
    video.predictions = options.predictions;
    video.json = options.json;
    video.progress = options.progress;
    return run_video_eval(video, config_options);
  }
  if (options.dataset.empty()) throw Error(Errc::invalid_config, "--dataset DIR (or --video CLIP) is required");
  eval::ClassMap classes =
      options.label_map.empty() ? eval::ClassMap() : eval::ClassMap::read_label_map(options.label_map);
  for (const std::string& rule : options.class_map) classes.set_rule(rule);
  std::optional<eval::DatasetFormat> format;
  if (!options.format.empty()) format = eval::parse_format(options.format);

  eval::Dataset dataset = eval::read_dataset(options.dataset, format, classes);
  if (!options.split.empty()) eval::apply_split(dataset, options.split);
  if (dataset.samples.empty())
    throw Error(Errc::bad_input, fmt::format("no image of dataset '{}' can be evaluated\n{}", options.dataset,
                                             eval::format_issues(dataset, 20)));
  if (!options.predictions.empty() && dataset.classification())
    throw Error(Errc::invalid_config, "--predictions needs a detection dataset (VOC, YOLO or COCO)");
  if (options.json != "-" && !options.json.empty() && fs::exists(options.json) && fs::is_directory(options.json))
    throw Error(Errc::bad_input, fmt::format("--json '{}' is a folder", options.json));
  if (!options.coco_results.empty()) {
    if (dataset.classification())
      throw Error(Errc::invalid_config, "--coco-results needs a detection dataset (VOC, YOLO or COCO)");
    std::error_code ec;
    if (fs::is_directory(options.coco_results, ec))
      throw Error(Errc::bad_input, fmt::format("--coco-results '{}' is a folder", options.coco_results));
    // Never overwrite an input (the dataset's files, the predictions).
    const fs::path out = fs::weakly_canonical(options.coco_results, ec);
    const fs::path root = fs::weakly_canonical(options.dataset, ec);
    if (!options.predictions.empty() && fs::exists(options.coco_results) &&
        fs::equivalent(options.coco_results, options.predictions, ec))
      throw Error(Errc::bad_input, fmt::format("--coco-results '{}' is the predictions file", options.coco_results));
    if (!root.empty() && std::mismatch(root.begin(), root.end(), out.begin(), out.end()).first == root.end())
      throw Error(Errc::bad_input,
                  fmt::format("--coco-results '{}' is inside the dataset '{}'", options.coco_results, options.dataset));
  }

  eval::RunInfo info;
  info.command = command_line(options, config_options);
  info.dataset = options.dataset;
  info.split = options.split;

  eval::Evaluation result;
  app::Progress progress(static_cast<std::int64_t>(dataset.samples.size()), options.progress);
  const eval::ProgressFn on_progress = [&](std::size_t done) { progress.update(static_cast<std::int64_t>(done)); };
  app::Stopwatch watch;
  if (!options.predictions.empty()) {
    const eval::Predictions predictions = eval::read_predictions(options.predictions);
    const auto results = eval::results_from_predictions(dataset, predictions);
    info.system = "predictions " + options.predictions;
    info.ranking = predictions.ranking();
    result = eval::score_detection(std::move(dataset), results,
                                   given(options.operating_threshold_opt) ? options.operating_threshold : 0.0f);
  } else if (dataset.classification()) {
    const Config config = app::resolve_config(config_options);
    const ModelCard card = load_model_card(config.classifier.card.empty() ? find_model(kClassifierCardFile)
                                                                          : fs::path(config.classifier.card));
    info.system = fmt::format("classifier {} {}", card.name, card.version);
    const auto results = eval::run_classifier(dataset.samples, config.classifier, options.workers, on_progress);
    info.seconds = watch.elapsed_ms() / 1000.0;
    result = eval::score_classification(std::move(dataset), results);
  } else {
    const Config config = app::resolve_config(config_options);
    const float operating =
        given(options.operating_threshold_opt) ? options.operating_threshold : config.detector.score_threshold;
    const float run_threshold =
        std::min(operating, given(options.ap_threshold_opt) ? options.ap_threshold : config.detector.score_threshold);
    const ModelCard card = load_model_card(config.classifier.card.empty() ? find_model(kClassifierCardFile)
                                                                          : fs::path(config.classifier.card));
    info.system = describe(config, card, run_threshold);
    app::announce_detector();
    watch.restart();
    const auto results = eval::run_detector(dataset.samples, config, run_threshold, options.workers, on_progress);
    info.seconds = watch.elapsed_ms() / 1000.0;
    result = eval::score_detection(std::move(dataset), results, operating);
  }
  progress.finish();
  info.images = static_cast<std::size_t>(std::count(result.scored.begin(), result.scored.end(), true));

  print_eval_report(eval::format_table(result, info),
                    options.json.empty() ? std::string() : eval::to_json(result, info).dump(2) + "\n", options.json);
  if (!options.coco_results.empty()) {
    std::ofstream out(options.coco_results);
    out << eval::coco_results(result).dump() << "\n";
    if (!out) throw Error(Errc::io, fmt::format("cannot write --coco-results '{}'", options.coco_results));
    std::fprintf(stderr, "COCO results: %s (score = face_score x score)\n", options.coco_results.c_str());
  }
  if (!options.report.empty()) {
    eval::write_html_report(result, info, options.report, options.gallery);
    std::fprintf(stderr, "report: %s\n", (fs::path(options.report) / "index.html").c_str());
  }

  if (options.strict) {
    std::size_t errors = 0;
    for (const eval::DatasetIssue& issue : result.dataset.issues)
      if (!eval::is_note(issue.kind)) ++errors;
    if (errors > 0) {
      std::fprintf(stderr, "error: --strict: %zu dataset issue(s) (listed above)\n", errors);
      return kExitBadInput;
    }
  }
  return kExitOk;
}

}  // namespace

void print_eval_report(const std::string& report, const std::string& json_text, const std::string& json) {
  std::fputs(report.c_str(), json == "-" ? stderr : stdout);
  if (json.empty()) return;
  if (json == "-") {
    std::fputs(json_text.c_str(), stdout);
    return;
  }
  std::ofstream out(json);
  out << json_text;
  if (!out) throw Error(Errc::io, fmt::format("cannot write --json '{}'", json));
}

void add_eval_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Score detection (mAP) or classification (accuracy, F1) on a labelled dataset; JSON and HTML report");
  cmd->add_option("--dataset,-d", options->dataset,
                  "Dataset folder: VOC (images/ + annotations/), YOLO (images/ + labels/ + classes.txt), COCO "
                  "(a .json + images/) or one folder per class (classification)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--format", options->format, "Dataset format (default: detected)")
      ->check(CLI::IsMember({"voc", "yolo", "coco", "folders"}));
  cmd->add_option("--split", options->split, "Evaluate only the images listed in FILE (names, paths or stems)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--predictions", options->predictions,
                  "Score this JSON Lines file of detections (the SDK's JSON shape) instead of running the detector")
      ->check(CLI::ExistingFile);
  cmd->add_option("--json", options->json, "Metrics as JSON to FILE, or - for stdout (the table goes to stderr)")
      ->type_name("FILE|-");
  cmd->add_option("--coco-results", options->coco_results,
                  "Write the detections as a standard COCO detection-results JSON file (image_id, category_id, "
                  "bbox, score = face_score x score)")
      ->type_name("FILE");
  cmd->add_option("--report", options->report, "Write an HTML report (index.html and PNGs) into DIR")->type_name("DIR");
  cmd->add_option("--label-map", options->label_map,
                  "The dataset's class names -> labels: a YAML file of 'name: mask|no_mask|incorrect' lines that "
                  "replaces the built-in names (models/label_maps/moxa3k.yaml, andrewmvd.yaml)")
      ->type_name("FILE");
  cmd->add_option("--class-map", options->class_map,
                  "Map a dataset class to a label, e.g. --class-map helmet_mask=mask (repeatable; applied after "
                  "--label-map)")
      ->type_name("FROM=TO");
  cmd->add_flag("--strict", options->strict,
                "Dataset problems (missing image or annotation, unknown class, malformed file) are errors");
  cmd->add_option("--workers", options->workers, "Threads decoding and detecting, one Detector each")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  options->ap_threshold_opt =
      cmd->add_option("--ap-threshold", options->ap_threshold,
                      "Run the face detector down to this score so that AP integrates further along the PR curve "
                      "(P/R/F1 stay at the operating threshold)");
  options->operating_threshold_opt = cmd->add_option(
      "--operating-threshold", options->operating_threshold,
      "Face score for P/R/F1, confusion and gallery (default: the detector threshold; 0 with --predictions)");
  cmd->add_option("--gallery", options->gallery, "Report: images per gallery")->capture_default_str();
  cmd->add_flag("--progress", options->progress, "Show progress on stderr even when it is not a terminal");
  add_video_eval_options(*cmd, options->video);
  cmd->callback(
      [options, &context] { context.action = [options, &context] { return run_eval(*options, context.config); }; });
}

}  // namespace maskdetect::cli
