// The fleet on one machine, with real processes (issue 19, docs/fleet.md): PostgreSQL (a throw-away cluster,
// tests/support/postgres_server.hpp), Mosquitto, three `maskdetect serve --database` workers on loopback and
// six cameras served live by ffmpeg (MPEG-TS over HTTP, a clip of faces made here from the shared classifier
// sets: a person every 10 s). Checked:
//   - the cameras spread 2/2/2, and every worker lists all six with their owners;
//   - `kill -9` of a worker moves its cameras to the others within 15 s (measured: kill to their first frame
//     there), its MQTT status goes offline (its last will), and it takes cameras again once restarted;
//   - SIGTERM drains: its cameras are handed back at once (taken over within seconds) and it exits 0;
//   - no camera was ever analysed by two workers at once: every worker logs when it starts and stops analysing
//     a camera (fleet: camera X analysed by W from T / until T), the killed worker's open intervals end at its
//     kill, and no two intervals of a camera overlap;
//   - events: every worker lists the same events; no (camera, person) is recorded twice; every event published
//     on MQTT is in the store.
// Heavy on a 2-core machine (low fps, small frames, BlazeFace front): labels fleet and slow.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "face_clip.hpp"
#include "fleet_support.hpp"
#include "postgres_server.hpp"
#include "process_support.hpp"
#include "server_client.hpp"

#ifdef MASKDETECT_TEST_CLI

using namespace server_test;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "fleet-token";
const char* const kFfmpeg = "/usr/bin/ffmpeg";

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

bool wait_until(const std::function<bool()>& condition, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

/// A process in its own process group, output to a log file; the group is SIGKILLed and reaped at scope exit.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& log) {
    const maskdetect::test::Argv argv(args.at(0), {args.begin() + 1, args.end()});
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int null_fd = open("/dev/null", O_RDONLY);
      const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
      if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
      }
      execv(args[0].c_str(), argv.get());
      _exit(127);
    }
    setpgid(pid_, pid_);
  }
  ~Process() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Sends `signal` to the process alone.
  void signal(int signal) const { ::kill(pid_, signal); }
  /// Its exit status (128 + signal when killed) once it exits within `seconds`.
  std::optional<int> wait(double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (pid_ > 0 && Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

/// A clip of faces for the cameras (BlazeFace front finds them): 320x240 at 5 fps, 10 s: a face of the shared
/// classifier sets for 2 s, then the empty background for 8 s (its track ends: a person every 10 s).
fs::path make_clip(const fs::path& dir, int index) {
  maskdetect::Detector detector(maskdetect::preset("webcam"));
  static std::vector<maskdetect::test::ClipFace> faces;
  if (faces.empty()) {
    const auto cls = maskdetect::test::classifier_dir();
    faces = maskdetect::test::pick_faces(detector, cls / "chandrikadeb7" / "without_mask",
                                         maskdetect::MaskLabel::no_mask, 2, 200);
    const auto masked = maskdetect::test::pick_faces(detector, cls / "maskedfacenet_subset" / "correct_mask",
                                                     maskdetect::MaskLabel::mask, 1, 200);
    faces.insert(faces.end(), masked.begin(), masked.end());
    REQUIRE(faces.size() >= 2);
  }
  const cv::Mat background = maskdetect::test::make_background({320, 240});
  cv::Mat frame = background.clone();
  cv::Mat face;
  cv::resize(faces[static_cast<std::size_t>(index) % faces.size()].bgr, face, cv::Size(170, 170));
  face.copyTo(frame(cv::Rect(75, 35, 170, 170)));
  REQUIRE(detector.detect(frame).faces.size() == 1);  // the camera will see a person
  const fs::path clip = dir / ("clip" + std::to_string(index) + ".avi");
  cv::VideoWriter writer(clip.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 5.0,
                         frame.size());
  REQUIRE(writer.isOpened());
  for (int i = 0; i < 50; ++i) writer.write(i < 10 ? frame : background);
  return clip;
}

/// ffmpeg serving `clip` live (looped, at its own rate) as MPEG-TS on http://127.0.0.1:port, one viewer at a
/// time; started again by its shell whenever its viewer goes (a camera moving to another worker).
std::unique_ptr<Process> start_stream(const fs::path& clip, int port, const fs::path& log) {
  const std::string command = "while :; do " + std::string(kFfmpeg) +
                              " -nostdin -hide_banner -loglevel error -re -stream_loop -1 -i '" + clip.string() +
                              "' -c:v mpeg2video -q:v 4 -f mpegts -listen 1 http://127.0.0.1:" + std::to_string(port) +
                              "/live; sleep 0.1; done";
  return std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", command}, log);
}

/// A `maskdetect serve --database` worker.
class Worker {
 public:
  Worker(std::string name, const fs::path& dir, const fs::path& config, const std::string& database)
      : name_(std::move(name)), log_(dir / (name_ + ".log")) {
    const fs::path port_file = dir / (name_ + ".port");
    fs::remove(port_file);
    process_ = std::make_unique<Process>(std::vector<std::string>{MASKDETECT_TEST_CLI,
                                                                  "--preset",
                                                                  "webcam",
                                                                  "serve",
                                                                  "--config",
                                                                  config.string(),
                                                                  "--database",
                                                                  database,
                                                                  "--worker-id",
                                                                  name_,
                                                                  "--max-cameras",
                                                                  "3",
                                                                  "--listen",
                                                                  "127.0.0.1:0",
                                                                  "--port-file",
                                                                  port_file.string(),
                                                                  "--workers",
                                                                  "1",
                                                                  "--token",
                                                                  kToken,
                                                                  "--data-dir",
                                                                  (dir / ("data-" + name_)).string()},
                                         log_);
    REQUIRE(wait_until(
        [&] {
          std::ifstream in(port_file);
          in >> port_;
          return port_ != 0 || process_->wait(0.0).has_value();
        },
        60));
    INFO(maskdetect::test::read_text(log_));
    REQUIRE(port_ != 0);
  }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] const fs::path& log() const { return log_; }
  Process& process() { return *process_; }

 private:
  std::string name_;
  fs::path log_;
  std::unique_ptr<Process> process_;
  unsigned short port_ = 0;
};

json get_json(unsigned short port, const std::string& target) {
  try {
    const Response res = get(port, target, kToken);
    if (res.result_int() == 200) return json::parse(res.body());
  } catch (const std::exception&) {  // a worker being killed or started
  }
  return json();
}

/// camera -> owner, as worker `port` lists them.
std::map<std::string, std::string> owners(unsigned short port) {
  std::map<std::string, std::string> out;
  const json doc = get_json(port, "/api/v1/cameras");
  if (!doc.is_object()) return out;
  for (const auto& camera : doc["cameras"])
    out[camera["name"]] = camera["owner"].is_object() ? camera["owner"]["worker"].get<std::string>() : "";
  return out;
}

/// Frames analysed per camera by worker `port` since it started (maskdetect_frames_total: also cameras it ran
/// before and handed back, so that a camera coming back to it is not counted as analysed at once).
std::map<std::string, std::int64_t> frames(unsigned short port) {
  std::map<std::string, std::int64_t> out;
  try {
    const Response res = get(port, "/metrics", kToken);
    if (res.result_int() != 200) return out;
    static const std::regex sample(R"re(^maskdetect_frames_total\{camera="([^"]+)"\} (\d+)$)re");
    std::istringstream lines(res.body());
    std::string line;
    std::smatch m;
    while (std::getline(lines, line))
      if (std::regex_match(line, m, sample)) out[m[1]] = std::stoll(m[2]);
  } catch (const std::exception&) {  // a worker being killed or started
  }
  return out;
}

std::map<std::string, int> load(const std::map<std::string, std::string>& owner_of) {
  std::map<std::string, int> out;
  for (const auto& [camera, owner] : owner_of) ++out[owner];
  return out;
}

bool spread_evenly(const std::map<std::string, std::string>& owner_of, std::size_t cameras, std::size_t workers) {
  if (owner_of.size() != cameras) return false;
  const auto counts = load(owner_of);
  if (counts.contains("") || counts.size() != workers) return false;
  for (const auto& [owner, n] : counts)
    if (static_cast<std::size_t>(n) != cameras / workers) return false;
  return true;
}

/// Every event a worker lists (all pages).
std::vector<json> all_events(unsigned short port) {
  std::vector<json> out;
  std::string target = "/api/v1/events?limit=1000";
  for (int page = 0; page < 50 && !target.empty(); ++page) {
    const json doc = get_json(port, target);
    if (!doc.is_object()) break;
    for (const auto& e : doc["events"]) out.push_back(e);
    target = doc["next"].is_string() ? doc["next"].get<std::string>() : "";
  }
  return out;
}

}  // namespace

/// A REQUIRE that shows the workers' logs (the `all_logs` of the test) when it fails.
#define REQUIRE_FLEET(condition)                                              \
  do {                                                                        \
    if (!(condition)) FAIL(#condition << "\nworkers' logs:\n" << all_logs()); \
  } while (false)

TEST_CASE("fleet of processes: 3 workers and 6 live cameras through kill -9 and restart and SIGTERM", "[fleet][slow]") {
  if (!fs::exists(kFfmpeg)) {
    if (maskdetect::test::in_ci()) FAIL("ffmpeg missing (CI=true): run scripts/setup.sh");
    WARN("ffmpeg missing, test not run");
    return;
  }
  MASKDETECT_REQUIRE_MOSQUITTO();
  MASKDETECT_REQUIRE_DATA(maskdetect::test::classifier_dir());
  const auto test_started = Clock::now();
  auto pg = maskdetect::test::PostgresServer::start();
  if (!pg) return;
  const std::string database = pg->create_database("fleet");
  maskdetect::test::TempDir tmp;
  const fs::path dir = tmp.path();
  maskdetect::test::Broker broker(dir, maskdetect::test::free_port());

  // Six live cameras.
  constexpr int kCameras = 6;
  std::vector<std::unique_ptr<Process>> streams;
  std::string cameras_yaml;
  for (int i = 1; i <= kCameras; ++i) {
    const int port = maskdetect::test::free_local_port();
    streams.push_back(start_stream(make_clip(dir, i), port, dir / "ffmpeg.log"));
    cameras_yaml += "  - name: cam" + std::to_string(i) + "\n    source: http://127.0.0.1:" + std::to_string(port) +
                    "/live\n    fps: 5\n    events: {labels: [mask, no_mask, incorrect], min_seen_s: 0.4, "
                    "cooldown_s: 0}\n";
  }
  const fs::path config = dir / "serve.yaml";
  // The clips' faces hold still for 2 s: people only with count_stationary (the server's people section).
  std::ofstream(config) << "people: {count_stationary: true}\nmqtt:\n  host: 127.0.0.1\n  port: " << broker.port()
                        << "\n  stats_interval_s: 2\n  keepalive_s: 5\ncameras:\n"
                        << cameras_yaml;
  // Every status and event message of the run, one "topic payload" line each.
  const fs::path mqtt_log = dir / "mqtt.log";
  Process subscriber({"/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-v", "-q", "1",
                      "-t", "maskdetect/workers/+/status", "-t", "maskdetect/+/event"},
                     mqtt_log);

  std::map<std::string, std::unique_ptr<Worker>> workers;
  for (const char* name : {"w1", "w2", "w3"}) workers[name] = std::make_unique<Worker>(name, dir, config, database);
  std::map<std::string, double> killed_at;  // the end of a killed worker's open intervals
  std::string logs;                         // logs of workers that are gone
  auto all_logs = [&] {
    std::string text = logs;
    for (const auto& [name, w] : workers) text += maskdetect::test::read_text(w->log());
    return text;
  };

  // 1. Spread 2/2/2; every worker lists all six, with the same owners.
  const auto spread_started = Clock::now();
  REQUIRE_FLEET(wait_until([&] { return spread_evenly(owners(workers["w1"]->port()), kCameras, 3); }, 90));
  WARN("cameras spread 2/2/2 " << std::chrono::duration<double>(Clock::now() - spread_started).count()
                               << " s after the last worker started");
  for (const auto& [name, w] : workers) {
    REQUIRE_FLEET(wait_until([&] { return owners(w->port()) == owners(workers["w1"]->port()); }, 10));
  }
  // Every camera analyses frames and records people.
  REQUIRE_FLEET(wait_until(
      [&] {
        std::size_t up = 0;
        for (const auto& [name, w] : workers)
          for (const auto& [camera, n] : frames(w->port())) up += n > 0 ? 1U : 0U;
        return up == kCameras;
      },
      60));
  REQUIRE_FLEET(wait_until([&] { return all_events(workers["w1"]->port()).size() >= kCameras; }, 60));

  // 2. kill -9 of the worker that runs cam1: its cameras run elsewhere within 15 s; its status goes offline.
  const auto owner_of = owners(workers["w1"]->port());
  const std::string victim = owner_of.at("cam1");
  std::vector<std::string> moved;
  for (const auto& [camera, owner] : owner_of)
    if (owner == victim) moved.push_back(camera);
  REQUIRE(moved.size() == 2);
  auto survivors = [&] {
    std::vector<Worker*> out;
    for (const auto& [name, w] : workers)
      if (name != victim) out.push_back(w.get());
    return out;
  };
  std::map<std::string, std::int64_t> before;
  for (Worker* w : survivors())
    for (const auto& [camera, n] : frames(w->port())) before[camera] = n;
  workers[victim]->process().signal(SIGKILL);
  REQUIRE(workers[victim]->process().wait(10).has_value());
  const auto kill_time = Clock::now();
  killed_at[victim] = unix_now();
  std::map<std::string, double> failover_s;
  REQUIRE_FLEET(wait_until(
      [&] {
        for (Worker* w : survivors()) {
          for (const auto& [camera, n] : frames(w->port())) {
            if (std::find(moved.begin(), moved.end(), camera) == moved.end() || failover_s.contains(camera)) continue;
            if (n > before[camera])
              failover_s[camera] = std::chrono::duration<double>(Clock::now() - kill_time).count();
          }
        }
        return failover_s.size() == moved.size();
      },
      30));
  for (const auto& [camera, s] : failover_s) {
    WARN("failover of " << camera << " after kill -9 of " << victim << ": " << s << " s (kill to its first frame)");
    CHECK(s <= 15.0);
  }
  // The broker sends the dead worker's last will.
  CHECK(wait_until(
      [&] {
        return maskdetect::test::read_text(mqtt_log).find("maskdetect/workers/" + victim + "/status offline") !=
               std::string::npos;
      },
      10));
  CHECK(load(owners(survivors().front()->port())).at(survivors().front()->name()) == 3);

  // 3. The killed worker comes back (same name): it takes cameras again, 2/2/2.
  logs += maskdetect::test::read_text(workers[victim]->log());
  fs::rename(workers[victim]->log(), dir / (victim + "-killed.log"));
  workers[victim] = std::make_unique<Worker>(victim, dir, config, database);
  REQUIRE_FLEET(wait_until([&] { return spread_evenly(owners(workers[victim]->port()), kCameras, 3); }, 60));

  // 4. SIGTERM drains: the cameras are handed back at once, taken over within seconds; exit status 0.
  const std::string drained = survivors().front()->name();
  std::vector<std::string> handed;
  for (const auto& [camera, owner] : owners(workers[victim]->port()))
    if (owner == drained) handed.push_back(camera);
  const auto term_time = Clock::now();
  workers[drained]->process().signal(SIGTERM);
  const auto exit_status = workers[drained]->process().wait(30);
  REQUIRE(exit_status.has_value());
  CHECK(*exit_status == 0);
  const std::string drained_log = maskdetect::test::read_text(workers[drained]->log());
  CHECK(drained_log.find("drained") != std::string::npos);
  logs += drained_log;
  fs::rename(workers[drained]->log(), dir / (drained + "-drained.log"));
  workers.erase(drained);
  REQUIRE_FLEET(wait_until(
      [&] {
        const auto now_owners = owners(workers.begin()->second->port());
        for (const std::string& camera : handed)
          if (now_owners.at(camera).empty() || now_owners.at(camera) == drained) return false;
        return true;
      },
      15));
  WARN("SIGTERM: " << handed.size() << " cameras owned elsewhere "
                   << std::chrono::duration<double>(Clock::now() - term_time).count() << " s after the signal");

  // 5. No camera analysed by two workers at once, over the whole run.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::string text = all_logs();
  const auto intervals = fleet_test::ownership(text, killed_at, unix_now());
  CHECK(intervals.size() == kCameras);
  const std::string clash = fleet_test::overlap(intervals);
  INFO(text);
  CHECK(clash.empty());

  // 6. Events: every worker lists the same ones; no person recorded twice; what MQTT published is stored.
  const std::vector<json> listed = all_events(workers.begin()->second->port());
  std::set<std::int64_t> ids;
  std::set<std::pair<std::string, std::int64_t>> people;
  for (const json& e : listed) {
    ids.insert(e["id"].get<std::int64_t>());
    CHECK(people.insert({e["camera"].get<std::string>(), e["track_id"].get<std::int64_t>()}).second);
  }
  for (const auto& [name, w] : workers) {
    std::set<std::int64_t> theirs;
    for (const json& e : all_events(w->port())) theirs.insert(e["id"].get<std::int64_t>());
    // Events recorded since the first listing may be there too: the first listing is a subset.
    CHECK(std::includes(theirs.begin(), theirs.end(), ids.begin(), ids.end()));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the last events reach the subscriber
  std::set<std::int64_t> published;
  {
    std::istringstream lines(maskdetect::test::read_text(mqtt_log));
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find("/event ") == std::string::npos) continue;
      const json e = json::parse(line.substr(line.find(' ') + 1), nullptr, false);
      if (e.is_object() && e["id"].is_number_integer()) published.insert(e["id"].get<std::int64_t>());
    }
  }
  std::set<std::int64_t> stored;
  for (const json& e : all_events(workers.begin()->second->port())) stored.insert(e["id"].get<std::int64_t>());
  for (const std::int64_t id : published) CHECK(stored.contains(id));
  WARN("events: " << listed.size() << " stored, " << published.size() << " seen on MQTT; the test ran "
                  << std::chrono::duration<double>(Clock::now() - test_started).count() << " s");
}

#endif
