#include "stats.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "maskdetect/version.hpp"

namespace maskdetect::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFpsWindow = std::chrono::seconds(3);

double unix_seconds() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
/// Set while the program loads: the process start for process_start_time_seconds.
const double kProcessStartUnix = unix_seconds();

std::optional<double> compliance(const std::array<std::int64_t, kNumLabels>& counts) {
  std::int64_t total = 0;
  for (const std::int64_t n : counts) total += n;
  if (total == 0) return std::nullopt;
  return static_cast<double>(counts[static_cast<std::size_t>(MaskLabel::mask)]) / static_cast<double>(total);
}

nlohmann::json labels_json(const std::array<std::int64_t, kNumLabels>& counts) {
  nlohmann::json out = nlohmann::json::object();
  for (const MaskLabel label : kAllLabels) out[std::string(to_string(label))] = counts[static_cast<std::size_t>(label)];
  return out;
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

/// Escapes a Prometheus label value.
std::string label_value(std::string_view text) {
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

/// The webhook and MQTT families of /metrics.
template <typename Header>
void append_delivery(std::string& out, const DeliveryFigures& d, Header header) {
  header("maskdetect_events_dropped_total", "counter",
         "Admitted events not recorded: the monitor's queue was full (not stored, published nor sent).");
  out += fmt::format("maskdetect_events_dropped_total {}\n", d.events_not_recorded);
  if (!d.webhooks.empty()) {
    header("maskdetect_webhook_deliveries_total", "counter",
           "Webhook deliveries per webhook and result: delivered (2xx), failed (given up), dropped (outbox full).");
    for (const WebhookFigures& w : d.webhooks) {
      const std::string name = label_value(w.name);
      out += fmt::format("maskdetect_webhook_deliveries_total{{webhook=\"{}\",result=\"delivered\"}} {}\n", name,
                         w.delivered);
      out +=
          fmt::format("maskdetect_webhook_deliveries_total{{webhook=\"{}\",result=\"failed\"}} {}\n", name, w.failed);
      out +=
          fmt::format("maskdetect_webhook_deliveries_total{{webhook=\"{}\",result=\"dropped\"}} {}\n", name, w.dropped);
    }
    header("maskdetect_webhook_attempts_total", "counter", "Webhook HTTP attempts, retries included, per webhook.");
    for (const WebhookFigures& w : d.webhooks)
      out += fmt::format("maskdetect_webhook_attempts_total{{webhook=\"{}\"}} {}\n", label_value(w.name), w.attempts);
    header("maskdetect_webhook_outbox_depth", "gauge", "Webhook deliveries waiting in the outbox, per webhook.");
    for (const WebhookFigures& w : d.webhooks)
      out += fmt::format("maskdetect_webhook_outbox_depth{{webhook=\"{}\"}} {}\n", label_value(w.name), w.pending);
  }
  if (d.mqtt) {
    const MqttFigures& m = *d.mqtt;
    header("maskdetect_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    out += fmt::format("maskdetect_mqtt_connected {}\n", m.connected ? 1 : 0);
    header("maskdetect_mqtt_connections_total", "counter",
           "Connections made to the MQTT broker (reconnects included).");
    out += fmt::format("maskdetect_mqtt_connections_total {}\n", m.connections);
    header("maskdetect_mqtt_messages_total", "counter",
           "MQTT messages per kind (event, stats) and result: published (acknowledged by the broker) or dropped.");
    out +=
        fmt::format("maskdetect_mqtt_messages_total{{kind=\"event\",result=\"published\"}} {}\n", m.events_published);
    out += fmt::format("maskdetect_mqtt_messages_total{{kind=\"event\",result=\"dropped\"}} {}\n", m.events_dropped);
    out += fmt::format("maskdetect_mqtt_messages_total{{kind=\"stats\",result=\"published\"}} {}\n", m.stats_published);
    out += fmt::format("maskdetect_mqtt_messages_total{{kind=\"stats\",result=\"dropped\"}} {}\n", m.stats_dropped);
    header("maskdetect_mqtt_queued_events", "gauge",
           "MQTT events waiting for the broker (bounded by max_queued_events).");
    out += fmt::format("maskdetect_mqtt_queued_events {}\n", m.events_queued);
    header("maskdetect_mqtt_in_flight_messages", "gauge", "MQTT messages sent and not yet acknowledged by the broker.");
    out += fmt::format("maskdetect_mqtt_in_flight_messages {}\n", m.in_flight);
  }
}

}  // namespace

std::array<std::int64_t, kNumLabels> PeopleFigures::all() const noexcept {
  std::array<std::int64_t, kNumLabels> out{};
  for (std::size_t i = 0; i < kNumLabels; ++i) out[i] = counted[i] + tracked[i];
  return out;
}

std::int64_t PeopleFigures::total() const noexcept {
  std::int64_t n = 0;
  for (const std::int64_t v : all()) n += v;
  return n;
}

double PeopleFigures::compliance() const noexcept {
  const auto c = server::compliance(all());
  return c ? *c : -1.0;
}

double Stats::Bucket::fps(Clock::time_point now) const {
  if (recent.size() < 2 || now - recent.back() > kFpsWindow) return 0.0;
  const double span_s = std::chrono::duration<double>(recent.back() - recent.front()).count();
  return span_s > 0.0 ? static_cast<double>(recent.size() - 1) / span_s : 0.0;
}

Stats::Stats(std::vector<std::string> camera_names) : start_(Clock::now()) {
  buckets_.resize(camera_names.size() + 1);
  buckets_[0].name = "api";
  for (std::size_t i = 0; i < camera_names.size(); ++i) buckets_[i + 1].name = std::move(camera_names[i]);
}

std::size_t Stats::add_camera(const std::string& name) {
  const std::lock_guard lock(mutex_);
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    if (buckets_[i].name == name) {
      buckets_[i].active = true;
      return i;
    }
  }
  buckets_.emplace_back().name = name;
  return buckets_.size() - 1;
}

void Stats::set_active(std::size_t bucket, bool active) {
  const std::lock_guard lock(mutex_);
  if (bucket > 0 && bucket < buckets_.size()) buckets_[bucket].active = active;
}

void Stats::add_frame(std::size_t bucket, const FrameResult& result, double latency_ms) {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  if (bucket >= buckets_.size()) return;
  Bucket& b = buckets_[bucket];
  ++b.frames;
  for (const Face& face : result.faces) ++b.faces[static_cast<std::size_t>(face.label)];
  b.latency_sum_ms += latency_ms;
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i)
    if (latency_ms / 1000.0 <= kLatencyBounds[i]) ++b.latency_le[i];
  b.recent.push_back(now);
  while (b.recent.size() > 2 && now - b.recent.front() > kFpsWindow) b.recent.pop_front();
}

void Stats::set_tracked(std::size_t bucket, const std::array<std::int64_t, kNumLabels>& tracked, std::int64_t in_view) {
  const std::lock_guard lock(mutex_);
  if (bucket == 0 || bucket >= buckets_.size()) return;
  buckets_[bucket].people.tracked = tracked;
  buckets_[bucket].people.in_view = in_view;
}

void Stats::add_person(std::size_t bucket, MaskLabel label) {
  const std::lock_guard lock(mutex_);
  if (bucket == 0 || bucket >= buckets_.size()) return;
  ++buckets_[bucket].people.counted[static_cast<std::size_t>(label)];
}

void Stats::add_response(std::string_view method, std::string_view handler, unsigned status) {
  const std::lock_guard lock(mutex_);
  ++requests_[RequestKey{std::string(method), std::string(handler), status}];
}

CameraFigures Stats::camera(std::size_t index) const {
  const auto now = Clock::now();
  const std::lock_guard lock(mutex_);
  if (index + 1 >= buckets_.size()) return {};
  const Bucket& b = buckets_[index + 1];
  return CameraFigures{b.fps(now), b.people};
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
  std::array<std::int64_t, kNumLabels> people{};
  auto describe = [&](const Bucket& b) {
    frames += b.frames;
    for (std::size_t i = 0; i < kNumLabels; ++i) faces[i] += b.faces[i];
    return nlohmann::json{{"frames", b.frames},
                          {"fps", b.fps(now)},
                          {"faces", labels_json(b.faces)},
                          {"compliance", optional_json(compliance(b.faces))},
                          {"mean_latency_ms", b.frames > 0 ? b.latency_sum_ms / static_cast<double>(b.frames) : 0.0}};
  };
  doc["api"] = describe(buckets_.front());
  doc["sources"] = nlohmann::json::array();
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    const Bucket& b = buckets_[i];
    if (!b.active) continue;
    nlohmann::json source = describe(b);
    source["id"] = i - 1;
    source["name"] = b.name;
    const auto all = b.people.all();
    for (std::size_t k = 0; k < kNumLabels; ++k) people[k] += all[k];
    nlohmann::json counts = labels_json(all);
    counts["total"] = b.people.total();
    source["people"] = std::move(counts);
    source["in_view"] = b.people.in_view;
    source["people_compliance"] = optional_json(compliance(all));
    doc["sources"].push_back(std::move(source));
  }
  nlohmann::json people_total = labels_json(people);
  people_total["total"] = people[0] + people[1] + people[2];
  doc["total"] = {{"frames", frames},
                  {"faces", labels_json(faces)},
                  {"compliance", optional_json(compliance(faces))},
                  {"people", std::move(people_total)},
                  {"people_compliance", optional_json(compliance(people))}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Stats::to_prometheus(const Gauges& gauges) const {
  const std::lock_guard lock(mutex_);
  std::string out;
  auto header = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  header("maskdetect_build_info", "gauge", "The running maskdetect build (always 1).");
  out += fmt::format("maskdetect_build_info{{version=\"{}\"}} 1\n", label_value(kVersion));
  header("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
  out += fmt::format("process_start_time_seconds {:.3f}\n", kProcessStartUnix);

  // Cameras: buckets 1..n. The api bucket has its own families (no camera label).
  header("maskdetect_frames_total", "counter", "Frames processed, per camera.");
  for (std::size_t i = 1; i < buckets_.size(); ++i)
    out +=
        fmt::format("maskdetect_frames_total{{camera=\"{}\"}} {}\n", label_value(buckets_[i].name), buckets_[i].frames);
  header("maskdetect_faces_total", "counter", "Faces found, per camera and label (a person counts once per frame).");
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    for (const MaskLabel label : kAllLabels)
      out += fmt::format("maskdetect_faces_total{{camera=\"{}\",label=\"{}\"}} {}\n", label_value(buckets_[i].name),
                         to_string(label), buckets_[i].faces[static_cast<std::size_t>(label)]);
  }
  header("maskdetect_people_total", "counter",
         "People counted (maskdetect::People: ended), per camera and the label they held longest.");
  for (std::size_t i = 1; i < buckets_.size(); ++i) {
    for (const MaskLabel label : kAllLabels)
      out += fmt::format("maskdetect_people_total{{camera=\"{}\",label=\"{}\"}} {}\n", label_value(buckets_[i].name),
                         to_string(label), buckets_[i].people.counted[static_cast<std::size_t>(label)]);
  }
  header("maskdetect_people_in_view", "gauge", "People in view now, per camera.");
  for (std::size_t i = 1; i < buckets_.size(); ++i)
    out += fmt::format("maskdetect_people_in_view{{camera=\"{}\"}} {}\n", label_value(buckets_[i].name),
                       buckets_[i].people.in_view);
  auto histogram = [&](std::string_view name, std::string_view labels, const Bucket& b) {
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t k = 0; k < kLatencyBounds.size(); ++k)
      out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kLatencyBounds[k], b.latency_le[k]);
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, b.frames);
    const std::string braces = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {:.6f}\n", name, braces, b.latency_sum_ms / 1000.0);
    out += fmt::format("{}_count{} {}\n", name, braces, b.frames);
  };
  header("maskdetect_frame_latency_seconds", "histogram", "Time from frame read to result, per camera.");
  for (std::size_t i = 1; i < buckets_.size(); ++i)
    histogram("maskdetect_frame_latency_seconds", fmt::format("camera=\"{}\"", label_value(buckets_[i].name)),
              buckets_[i]);

  const Bucket& api = buckets_.front();
  header("maskdetect_api_frames_total", "counter",
         "Images and browser-camera frames processed (POST /api/v1/detect, /api/v1/ws).");
  out += fmt::format("maskdetect_api_frames_total {}\n", api.frames);
  header("maskdetect_api_faces_total", "counter", "Faces found in API frames, per label.");
  for (const MaskLabel label : kAllLabels)
    out += fmt::format("maskdetect_api_faces_total{{label=\"{}\"}} {}\n", to_string(label),
                       api.faces[static_cast<std::size_t>(label)]);
  header("maskdetect_api_frame_latency_seconds", "histogram", "Time from an API frame received to its result.");
  histogram("maskdetect_api_frame_latency_seconds", "", api);

  header("maskdetect_events_total", "counter",
         "Events recorded (stored or, under none_stored, counted), per camera and label.");
  for (const auto& [key, count] : gauges.events)
    out += fmt::format("maskdetect_events_total{{camera=\"{}\",label=\"{}\"}} {}\n", label_value(key.first),
                       label_value(key.second), count);

  header("maskdetect_camera_up", "gauge", "1 while the camera delivers frames, 0 while it is starting or down.");
  for (const CameraHealth& c : gauges.cameras)
    out += fmt::format("maskdetect_camera_up{{camera=\"{}\"}} {}\n", label_value(c.name), c.up ? 1 : 0);
  header("maskdetect_camera_outages_total", "counter",
         "Camera outages (no frames; the open one included, also one from the start).");
  for (const CameraHealth& c : gauges.cameras)
    out += fmt::format("maskdetect_camera_outages_total{{camera=\"{}\"}} {}\n", label_value(c.name), c.outages);
  header("maskdetect_camera_downtime_seconds_total", "counter", "Time cameras spent in outages, in seconds.");
  for (const CameraHealth& c : gauges.cameras)
    out += fmt::format("maskdetect_camera_downtime_seconds_total{{camera=\"{}\"}} {:.3f}\n", label_value(c.name),
                       c.downtime_s);
  if (gauges.delivery) append_delivery(out, *gauges.delivery, header);

  header("maskdetect_http_requests_total", "counter", "HTTP requests answered, per method, handler and status code.");
  for (const auto& [key, count] : requests_)
    out += fmt::format("maskdetect_http_requests_total{{method=\"{}\",handler=\"{}\",code=\"{}\"}} {}\n",
                       label_value(key.method), label_value(key.handler), key.code, count);
  header("maskdetect_sessions", "gauge", "Open sessions, per kind.");
  out += fmt::format("maskdetect_sessions{{kind=\"http\"}} {}\n", gauges.http_sessions);
  out += fmt::format("maskdetect_sessions{{kind=\"websocket\"}} {}\n", gauges.websocket_sessions);
  out += fmt::format("maskdetect_sessions{{kind=\"mjpeg\"}} {}\n", gauges.mjpeg_viewers);
  header("maskdetect_inference_queue_depth", "gauge", "Frames waiting for an inference worker.");
  out += fmt::format("maskdetect_inference_queue_depth {}\n", gauges.queue_depth);
  header("maskdetect_cameras_owned", "gauge", "Cameras this server (fleet worker) runs now.");
  out += fmt::format("maskdetect_cameras_owned {}\n", gauges.cameras_owned);
  if (gauges.cameras_unowned) {
    header("maskdetect_cameras_unowned", "gauge",
           "Enabled cameras of the fleet that no worker runs (from the database).");
    out += fmt::format("maskdetect_cameras_unowned {}\n", *gauges.cameras_unowned);
  }
  return out;
}

}  // namespace maskdetect::server
