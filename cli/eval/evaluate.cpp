#include "eval/evaluate.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include "maskdetect/detector.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/json.hpp"
#include "maskdetect/mask_classifier.hpp"

namespace fs = std::filesystem;

namespace maskdetect::eval {

namespace {

/// Runs `work(i)` for i in [0, n) on `workers` threads, each with its own state from `make_state()`;
/// reports progress from the calling thread. Rethrows the first exception of a worker.
template <typename MakeState, typename Work>
void parallel_for(std::size_t n, int workers, MakeState make_state, Work work, const ProgressFn& progress) {
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const std::size_t count =
      std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(std::max(workers, 1)), n));
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < count; ++w) {
    threads.emplace_back([&] {
      try {
        auto state = make_state();
        for (std::size_t i = next++; i < n && !failed; i = next++) {
          work(*state, i);
          ++done;
        }
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    });
  }
  while (done.load() < n && !failed.load()) {
    if (progress) progress(done.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(done.load());
}

std::string stem_of(const std::string& name) {
  fs::path p(name);
  p.replace_extension();
  return p.generic_string();
}

}  // namespace

const FrameResult* Predictions::find(const std::string& sample_name) const {
  if (const auto it = by_name.find(sample_name); it != by_name.end()) return &it->second;
  // Other spellings: file name only, or another extension (VOC <filename> tags say .png for .jpg images).
  const std::string stem = stem_of(sample_name);
  const std::string file_stem = fs::path(sample_name).stem().string();
  for (const auto& [name, result] : by_name) {
    const std::string s = stem_of(name);
    if (s == stem || s == file_stem || fs::path(name).stem().string() == file_stem) return &result;
  }
  return nullptr;
}

std::string Predictions::ranking() const {
  if (faces_ranked_by_score == 0 && faces_ranked_by_confidence == 0) return "face_score x score";
  if (faces_ranked_by_score == faces) return "score alone (the file has no face_score)";
  if (faces_ranked_by_confidence == faces) return "confidence (the file has no face_score)";
  return fmt::format("face_score x score; {} of {} faces without face_score ranked by confidence, {} by score alone",
                     faces_ranked_by_confidence, faces, faces_ranked_by_score);
}

Predictions parse_predictions(std::string_view text, std::string_view origin) {
  Predictions out;
  int line_no = 0;
  std::size_t from = 0;
  while (from < text.size()) {
    const auto eol = text.find('\n', from);
    const std::string_view line =
        text.substr(from, eol == std::string_view::npos ? std::string_view::npos : eol - from);
    from = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("{}:{}", origin, line_no);
    FrameRecord record;
    try {
      record = frame_from_json(line, where);
    } catch (const Error& e) {
      const std::string what = e.what();
      throw Error(Errc::bad_input, what.find(where) == std::string::npos ? fmt::format("{}: {}", where, what) : what);
    }
    if (!record.info.image || record.info.image->empty())
      throw Error(Errc::bad_input, where + ": no \"image\" name (eval matches predictions to images by name)");
    out.faces += record.result.faces.size();
    out.faces_ranked_by_confidence += record.faces_ranked_by_confidence;
    out.faces_ranked_by_score += record.faces_ranked_by_score;
    if (!out.by_name.emplace(*record.info.image, std::move(record.result)).second)
      throw Error(Errc::bad_input, fmt::format("{}: image '{}' appears twice", where, *record.info.image));
  }
  return out;
}

Predictions read_predictions(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(Errc::bad_input, fmt::format("predictions file '{}' is a folder", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::bad_input, fmt::format("cannot read predictions file '{}'", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_predictions(text.str(), path.string());
}

std::vector<std::optional<FrameResult>> run_detector(const std::vector<Sample>& samples, const Config& config,
                                                     float run_threshold, int workers, const ProgressFn& progress) {
  std::vector<std::optional<FrameResult>> results(samples.size());
  parallel_for(
      samples.size(), workers,
      [&] {
        auto detector = std::make_unique<Detector>(config);
        detector->set_face_threshold(run_threshold);
        return detector;
      },
      [&](Detector& detector, std::size_t i) {
        const cv::Mat image = cv::imread(samples[i].path.string(), cv::IMREAD_COLOR);
        if (image.empty()) return;
        results[i] = detector.detect(image);
      },
      progress);
  return results;
}

std::vector<std::optional<LabelProbs>> run_classifier(const std::vector<Sample>& samples,
                                                      const ClassifierConfig& config, int workers,
                                                      const ProgressFn& progress) {
  std::vector<std::optional<LabelProbs>> results(samples.size());
  parallel_for(
      samples.size(), workers, [&] { return MaskClassifier::create(config); },
      [&](MaskClassifier& classifier, std::size_t i) {
        const cv::Mat image = cv::imread(samples[i].path.string(), cv::IMREAD_COLOR);
        if (image.empty()) return;
        const cv::Rect2f whole(0.0f, 0.0f, static_cast<float>(image.cols), static_cast<float>(image.rows));
        results[i] = classifier.classify(image, {whole}).at(0);
      },
      progress);
  return results;
}

std::vector<std::optional<FrameResult>> results_from_predictions(Dataset& dataset, const Predictions& predictions) {
  std::vector<std::optional<FrameResult>> results(dataset.samples.size());
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& sample = dataset.samples[i];
    FrameResult result;
    if (const FrameResult* found = predictions.find(sample.name)) {
      result = *found;
    } else {
      dataset.issues.push_back(
          {"no_prediction", sample.name, "no line in the predictions file (no faces)", sample.name});
    }
    if (sample.size.area() > 0) {
      result.frame_size = sample.size;
    } else if (result.frame_size.area() <= 0) {
      const cv::Mat image = cv::imread(sample.path.string(), cv::IMREAD_COLOR);
      if (image.empty()) continue;  // unreadable: not scored
      result.frame_size = image.size();
    }
    results[i] = std::move(result);
  }
  return results;
}

Evaluation score_detection(Dataset dataset, const std::vector<std::optional<FrameResult>>& results,
                           float operating_threshold) {
  Evaluation eval;
  eval.scored.assign(dataset.samples.size(), false);
  eval.results.resize(dataset.samples.size());
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    Sample& sample = dataset.samples[i];
    if (i >= results.size() || !results[i]) {
      dataset.issues.push_back(
          {"unreadable_image", sample.path.string(), "cannot be decoded (not evaluated)", sample.name});
      continue;
    }
    const FrameResult& result = *results[i];
    const cv::Size size = result.frame_size.area() > 0 ? result.frame_size : sample.size;
    resolve_boxes(sample, size, dataset.issues);
    eval.scored[i] = true;
    eval.results[i] = result;
    for (const GtBox& gt : sample.boxes) {
      eval.truths.push_back({i, gt.box, gt.label});
      eval.truth_sample.push_back(i);
    }
    for (const Face& face : result.faces)
      eval.detections.push_back({i, face.box, face.label, face.face_score * face.score, face.face_score});
  }
  eval.detection = evaluate_detection(eval.truths, eval.detections, dataset.samples.size(), operating_threshold);
  eval.dataset = std::move(dataset);
  return eval;
}

Evaluation score_classification(Dataset dataset, const std::vector<std::optional<LabelProbs>>& results) {
  Evaluation eval;
  eval.scored.assign(dataset.samples.size(), false);
  std::vector<MaskLabel> truth;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const Sample& sample = dataset.samples[i];
    if (i >= results.size() || !results[i] || !sample.label) {
      dataset.issues.push_back(
          {"unreadable_image", sample.path.string(), "cannot be decoded (not evaluated)", sample.name});
      continue;
    }
    const LabelProbs& probs = *results[i];
    const auto best = static_cast<std::size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
    eval.scored[i] = true;
    truth.push_back(*sample.label);
    eval.predicted_labels.push_back(kAllLabels[best]);
  }
  eval.classification = evaluate_classification(truth, eval.predicted_labels);
  eval.dataset = std::move(dataset);
  return eval;
}

}  // namespace maskdetect::eval
