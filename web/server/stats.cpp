#include "stats.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace maskdetect::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFpsWindow = std::chrono::seconds(3);

std::optional<double> compliance(const std::array<std::int64_t, kNumLabels>& faces) {
  std::int64_t total = 0;
  for (const std::int64_t n : faces) total += n;
  if (total == 0) return std::nullopt;
  return static_cast<double>(faces[static_cast<std::size_t>(MaskLabel::mask)]) / static_cast<double>(total);
}

nlohmann::json faces_json(const std::array<std::int64_t, kNumLabels>& faces) {
  nlohmann::json out = nlohmann::json::object();
  for (const MaskLabel label : kAllLabels) out[std::string(to_string(label))] = faces[static_cast<std::size_t>(label)];
  return out;
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

/// Escapes a Prometheus label value.
std::string label_value(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

double Stats::Bucket::fps(Clock::time_point now) const {
  if (recent.size() < 2 || now - recent.back() > kFpsWindow) return 0.0;
  const double span_s = std::chrono::duration<double>(recent.back() - recent.front()).count();
  return span_s > 0.0 ? static_cast<double>(recent.size() - 1) / span_s : 0.0;
}

Stats::Stats(std::vector<std::string> source_names) : start_(Clock::now()) {
  buckets_.resize(source_names.size() + 1);
  buckets_[0].key = buckets_[0].name = "api";
  for (std::size_t i = 0; i < source_names.size(); ++i) {
    buckets_[i + 1].key = std::to_string(i);
    buckets_[i + 1].name = std::move(source_names[i]);
  }
}

void Stats::add_frame(std::size_t bucket, const FrameResult& result, double latency_ms) {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  if (bucket >= buckets_.size()) return;
  Bucket& b = buckets_[bucket];
  ++b.frames;
  for (const Face& face : result.faces) ++b.faces[static_cast<std::size_t>(face.label)];
  b.latency_sum_ms += latency_ms;
  b.recent.push_back(now);
  while (b.recent.size() > 2 && now - b.recent.front() > kFpsWindow) b.recent.pop_front();
}

void Stats::add_response(unsigned status) {
  const std::lock_guard lock(mutex_);
  for (auto& [code, count] : responses_) {
    if (code == status) {
      ++count;
      return;
    }
  }
  responses_.emplace_back(status, 1);
}

std::string Stats::to_json(const Gauges& gauges) const {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  nlohmann::json doc;
  doc["uptime_s"] = std::chrono::duration<double>(now - start_).count();
  doc["sessions"] = {
      {"http", gauges.http_sessions}, {"websocket", gauges.websocket_sessions}, {"mjpeg", gauges.mjpeg_viewers}};
  doc["queue_depth"] = gauges.queue_depth;
  std::int64_t frames = 0;
  std::array<std::int64_t, kNumLabels> faces{};
  auto describe = [&](const Bucket& b) {
    frames += b.frames;
    for (std::size_t i = 0; i < kNumLabels; ++i) faces[i] += b.faces[i];
    return nlohmann::json{{"frames", b.frames},
                          {"fps", b.fps(now)},
                          {"faces", faces_json(b.faces)},
                          {"compliance", optional_json(compliance(b.faces))},
                          {"mean_latency_ms", b.frames > 0 ? b.latency_sum_ms / static_cast<double>(b.frames) : 0.0}};
  };
  doc["api"] = describe(buckets_.front());
  doc["sources"] = nlohmann::json::array();
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    nlohmann::json source = describe(buckets_[i]);
    source["id"] = i - 1;
    source["name"] = buckets_[i].name;
    doc["sources"].push_back(std::move(source));
  }
  doc["total"] = {{"frames", frames}, {"faces", faces_json(faces)}, {"compliance", optional_json(compliance(faces))}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Stats::to_prometheus(const Gauges& gauges) const {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  std::string out;
  auto header = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  header("maskdetect_uptime_seconds", "gauge", "Seconds since the server started.");
  out += fmt::format("maskdetect_uptime_seconds {:.3f}\n", std::chrono::duration<double>(now - start_).count());

  header("maskdetect_frames_total", "counter", "Frames processed, per source (api: REST and browser camera).");
  for (const Bucket& b : buckets_) out += fmt::format("maskdetect_frames_total{{source=\"{}\"}} {}\n", b.key, b.frames);

  header("maskdetect_faces_total", "counter", "Faces found, per source and label.");
  for (const Bucket& b : buckets_) {
    for (const MaskLabel label : kAllLabels)
      out += fmt::format("maskdetect_faces_total{{source=\"{}\",label=\"{}\"}} {}\n", b.key, to_string(label),
                         b.faces[static_cast<std::size_t>(label)]);
  }
  header("maskdetect_compliance_ratio", "gauge", "Faces with a mask over all faces, per source (NaN: none yet).");
  for (const Bucket& b : buckets_) {
    const auto c = compliance(b.faces);
    out += fmt::format("maskdetect_compliance_ratio{{source=\"{}\"}} {}\n", b.key,
                       c ? fmt::format("{:.6f}", *c) : std::string("NaN"));
  }
  header("maskdetect_source_fps", "gauge", "Frames per second over the last seconds, per source.");
  for (const Bucket& b : buckets_)
    out += fmt::format("maskdetect_source_fps{{source=\"{}\",name=\"{}\"}} {:.3f}\n", b.key, label_value(b.name),
                       b.fps(now));
  header("maskdetect_frame_latency_seconds", "summary", "Time from frame received to result, per source.");
  for (const Bucket& b : buckets_) {
    out +=
        fmt::format("maskdetect_frame_latency_seconds_sum{{source=\"{}\"}} {:.6f}\n", b.key, b.latency_sum_ms / 1000.0);
    out += fmt::format("maskdetect_frame_latency_seconds_count{{source=\"{}\"}} {}\n", b.key, b.frames);
  }
  header("maskdetect_http_responses_total", "counter", "HTTP responses sent, per status code.");
  auto responses = responses_;
  std::sort(responses.begin(), responses.end());
  for (const auto& [code, count] : responses)
    out += fmt::format("maskdetect_http_responses_total{{code=\"{}\"}} {}\n", code, count);
  header("maskdetect_sessions", "gauge", "Open sessions, per kind.");
  out += fmt::format("maskdetect_sessions{{kind=\"http\"}} {}\n", gauges.http_sessions);
  out += fmt::format("maskdetect_sessions{{kind=\"websocket\"}} {}\n", gauges.websocket_sessions);
  out += fmt::format("maskdetect_sessions{{kind=\"mjpeg\"}} {}\n", gauges.mjpeg_viewers);
  header("maskdetect_inference_queue_depth", "gauge", "Frames waiting for an inference worker.");
  out += fmt::format("maskdetect_inference_queue_depth {}\n", gauges.queue_depth);
  return out;
}

}  // namespace maskdetect::server
