// `maskdetect serve --config serve.yaml` end to end (issue 12): the real binary with two cameras reading a
// clip made from a dataset picture, each with its own detector and people settings; people (maskdetect::People)
// become events with a clean snapshot and their face box, people counts, history points and metrics.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "server_client.hpp"

#ifdef MASKDETECT_TEST_CLI

using namespace server_test;  // NOLINT(google-build-using-namespace)

namespace {

/// `maskdetect serve` as a child process, killed (SIGTERM, then SIGKILL) at scope exit.
class ServeProcess {
 public:
  ServeProcess(const fs::path& dir, const fs::path& config) {
    const fs::path port_file = dir / "port";
    const fs::path err_file = dir / "stderr.txt";
    fs::remove(port_file);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) dup2(fd, STDERR_FILENO);
      execl(MASKDETECT_TEST_CLI, MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "serve", "--config",
            config.c_str(), "--listen", "127.0.0.1:0", "--workers", "1", "--data-dir", (dir / "data").c_str(),
            "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 1200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(port_file);
      in >> port_;
      int status = 0;
      if (port_ == 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("maskdetect serve exited: " << read_text(err_file));
      }
    }
    if (port_ == 0) stop();
    REQUIRE(port_ != 0);
  }
  ~ServeProcess() { stop(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;
  [[nodiscard]] unsigned short port() const noexcept { return port_; }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200 && waitpid(pid_, &status, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (kill(pid_, 0) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

/// Polls `get(port, target)` until `done(json)` or `seconds` pass; returns the last document.
template <typename Done>
json poll(unsigned short port, const std::string& target, Done done, double seconds = 90.0) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  json doc;
  do {
    const Response res = get(port, target);
    if (res.result_int() == 200) {
      doc = json::parse(res.body());
      if (done(doc)) return doc;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < deadline);
  return doc;
}

/// Pixels whose colour differs from `reference` by more than 80 in some channel.
int changed_pixels(const cv::Mat& image, const cv::Mat& reference) {
  cv::Mat diff;
  cv::absdiff(image, reference, diff);
  std::vector<cv::Mat> channels;
  cv::split(diff, channels);
  cv::Mat any = channels[0] > 80 | channels[1] > 80 | channels[2] > 80;
  return cv::countNonZero(any);
}

}  // namespace

TEST_CASE("serve --config: tracked people become events with clean snapshots, counts, history and metrics",
          "[server][monitor]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  const fs::path dir = fs::path(MASKDETECT_TEST_BINARY_DIR) / "serve_monitoring";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A clip made here from a dataset picture (never committed): 1 s of the picture, then 2.5 s of a grey
  // frame so that each person's track ends (and is counted) before the picture comes back.
  cv::Mat picture = cv::imread((images_dir() / sample_names().at(0)).string());
  REQUIRE(!picture.empty());
  cv::resize(picture, picture, cv::Size(640, 480));
  const fs::path clip = dir / "clip.avi";
  {
    cv::VideoWriter writer(clip.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 12.0,
                           picture.size());
    REQUIRE(writer.isOpened());
    const cv::Mat grey(picture.size(), CV_8UC3, cv::Scalar(128, 128, 128));
    for (int i = 0; i < 12; ++i) writer.write(picture);
    for (int i = 0; i < 34; ++i) writer.write(grey);
  }
  cv::Mat reference;  // the clip's first frame as decoded: what the camera analyses
  {
    cv::VideoCapture capture(clip.string(), cv::CAP_OPENCV_MJPEG);
    REQUIRE(capture.read(reference));
  }
  const fs::path config = dir / "serve.yaml";
  std::ofstream(config) << "detector:\n  score_threshold: 0.5\n"
                        << "cameras:\n"
                        << "  - name: door\n    source: " << clip.string() << "\n    fps: 12\n"
                        << "    detector:\n      score_threshold: 0.45\n"
                        // A still picture: its faces never move, so they count only with count_stationary.
                        << "    people:\n      count_stationary: true\n      confirm_s: 0.3\n      min_face_px: 10\n"
                        << "    events:\n      labels: [mask, no_mask, incorrect]\n      min_seen_s: 0.3\n"
                        << "      cooldown_s: 0\n"
                        << "  - name: hall\n    source: " << clip.string() << "\n    fps: 6\n"
                        << "    detector:\n      score_threshold: 0.7\n";
  ServeProcess serve(dir, config);
  const unsigned short port = serve.port();

  // Per-camera pipelines: each camera's own detector threshold and fps cap, named by the config.
  const json info = json::parse(get(port, "/api/v1/info").body());
  REQUIRE(info["streams"].size() == 2);
  CHECK(info["streams"][0]["name"] == "door");
  CHECK(info["streams"][1]["name"] == "hall");
  CHECK(info["streams"][0]["detector"]["score_threshold"].get<double>() == Approx(0.45));
  CHECK(info["streams"][1]["detector"]["score_threshold"].get<double>() == Approx(0.7));
  CHECK(info["streams"][0]["threshold"].get<double>() == Approx(0.45));
  CHECK(info["streams"][1]["fps_cap"].get<double>() == Approx(6.0));

  // An event of camera door, with a snapshot of the analysed frame without drawn boxes.
  const json events = poll(port, "/api/v1/events?camera=door", [](const json& d) { return !d["events"].empty(); });
  INFO(events.dump());
  REQUIRE(!events["events"].empty());
  const json& event = events["events"][0];
  CHECK(event["camera"] == "door");
  CHECK(event["frame_size"] == json::array({640, 480}));
  REQUIRE(event["box"].is_array());
  CHECK(event["box"][2].get<int>() > 0);
  REQUIRE(event["snapshot"].is_string());
  const Response snapshot = get(port, event["snapshot"].get<std::string>());
  REQUIRE(snapshot.result_int() == 200);
  const cv::Mat clean =
      cv::imdecode(std::vector<unsigned char>(snapshot.body().begin(), snapshot.body().end()), cv::IMREAD_COLOR);
  REQUIRE(clean.size() == reference.size());
  // The live (annotated) frame of the same camera while the face is in view has boxes drawn on it.
  int annotated_changed = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (annotated_changed < 200 && std::chrono::steady_clock::now() < deadline) {
    const Response live = get(port, "/api/v1/cameras/door/snapshot.jpg");
    if (live.result_int() == 200) {
      const cv::Mat annotated =
          cv::imdecode(std::vector<unsigned char>(live.body().begin(), live.body().end()), cv::IMREAD_COLOR);
      if (annotated.size() == reference.size())
        annotated_changed = std::max(annotated_changed, changed_pixels(annotated, reference));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(annotated_changed >= 200);               // drawn boxes and labels
  CHECK(changed_pixels(clean, reference) < 20);  // JPEG noise only: no box drawn on the stored frame
  CHECK(get(port, event["crop"].get<std::string>()).result_int() == 200);

  // People counts per camera, and the /api/v1/cameras contract.
  const json cameras = poll(port, "/api/v1/cameras", [](const json& d) {
    return d["cameras"][0]["people"]["total"].get<std::int64_t>() >= 1 && !d["cameras"][0]["last_event"].is_null();
  });
  INFO(cameras.dump());
  REQUIRE(cameras["cameras"].size() == 2);
  const json& door = cameras["cameras"][0];
  CHECK(door["name"] == "door");
  CHECK(door["source"].get<std::string>().find("clip.avi") != std::string::npos);
  CHECK(door["state"] == "up");
  CHECK(door["people"]["total"].get<std::int64_t>() >= 1);
  CHECK(door["people"]["total"] == door["people"]["mask"].get<std::int64_t>() +
                                       door["people"]["no_mask"].get<std::int64_t>() +
                                       door["people"]["incorrect"].get<std::int64_t>());
  CHECK(door["in_view"].is_number_integer());
  CHECK((door["compliance"].is_null() || door["compliance"].is_number()));
  CHECK(door["last_event"]["camera"] == "door");
  CHECK(door["mjpeg"] == "/api/v1/cameras/door/mjpeg");
  CHECK(door["snapshot"] == "/api/v1/cameras/door/snapshot.jpg");
  CHECK(get(port, "/api/v1/cameras/nowhere/snapshot.jpg").result_int() == 404);
  CHECK(get(port, "/api/v1/streams/0/snapshot.jpg").result_int() == 200);  // the old paths keep working

  // History: minutes with frames and, once a track has ended, the people counted.
  const json history = poll(port, "/api/v1/history?camera=door", [](const json& d) {
    const json& points = d["cameras"][0]["points"];
    std::int64_t people = 0;
    for (const json& p : points) people += p["people"].get<std::int64_t>();
    return !points.empty() && people >= 1;
  });
  INFO(history.dump());
  CHECK(history["step"] == 60);
  CHECK(history["until"].get<std::int64_t>() - history["since"].get<std::int64_t>() == 3600);
  REQUIRE(history["cameras"].size() == 1);
  CHECK(history["cameras"][0]["name"] == "door");
  const json& points = history["cameras"][0]["points"];
  REQUIRE(!points.empty());
  std::int64_t people = 0;
  for (const json& p : points) {
    CHECK(p["t"].get<std::int64_t>() % 60 == 0);
    CHECK(p["people"] ==
          p["mask"].get<std::int64_t>() + p["no_mask"].get<std::int64_t>() + p["incorrect"].get<std::int64_t>());
    CHECK(p["fps"].get<double>() > 0.0);
    CHECK(p["in_view"].get<double>() >= 0.0);
    CHECK((p["compliance"].is_null() || p["compliance"].get<double>() <= 1.0));
    people += p["people"].get<std::int64_t>();
  }
  CHECK(people >= 1);
  const json both = json::parse(get(port, "/api/v1/history?step=300").body());
  CHECK(both["step"] == 300);
  CHECK(both["cameras"].size() == 2);
  CHECK(get(port, "/api/v1/history?camera=nowhere").result_int() == 404);
  CHECK(get(port, "/api/v1/history?step=30").result_int() == 400);
  CHECK(get(port, "/api/v1/history?step=60&since=0").result_int() == 400);  // far more than 2000 points
  CHECK(json::parse(get(port, "/api/v1/history?step=61").body())["error"]["code"] == "bad_request");

  // Metrics: camera labels, the latency histogram, people and events counters.
  const std::string metrics = get(port, "/metrics").body();
  INFO(metrics);
  CHECK(metrics.find("maskdetect_frames_total{camera=\"door\"}") != std::string::npos);
  CHECK(metrics.find("maskdetect_frames_total{camera=\"hall\"}") != std::string::npos);
  CHECK(metrics.find("# TYPE maskdetect_frame_latency_seconds histogram") != std::string::npos);
  CHECK(metrics.find("maskdetect_frame_latency_seconds_bucket{camera=\"door\",le=\"+Inf\"}") != std::string::npos);
  CHECK(metrics.find("maskdetect_people_total{camera=\"door\",label=\"no_mask\"}") != std::string::npos);
  CHECK(metrics.find("maskdetect_events_total{camera=\"door\",label=") != std::string::npos);
  CHECK(metrics.find("maskdetect_http_requests_total{method=\"GET\",handler=\"/api/v1/history\",code=\"400\"}") !=
        std::string::npos);
  CHECK(metrics.find("fps") == std::string::npos);  // rate(maskdetect_frames_total[1m]) gives it
}

#endif
