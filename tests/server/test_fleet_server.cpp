// Fleet workers in-process (docs/fleet.md): two Servers with --database on one real PostgreSQL server
// (tests/support/postgres_server.hpp), cameras from a looped clip made here. They spread the cameras, each
// lists every camera with its owner and serves the other's live views through itself (MJPEG, snapshot,
// WebSocket), cameras are added, changed and deleted through the API, a drained worker's cameras move at
// once, a worker that loses the database stops its cameras, and a worker cut off by the database loses its
// cameras to another only after its lease ran out: no camera analysed by two workers at once.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>

#include "camera_registry.hpp"
#include "fleet_support.hpp"
#include "postgres_server.hpp"
#include "server_client.hpp"

using namespace server_test;  // NOLINT(google-build-using-namespace)
using maskdetect::server::CameraConfig;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kToken = "fleet-token";

/// A looped clip: 160x120 at 10 fps, 2 s, a grey box moving over a flat background (nothing to detect; cheap).
fs::path make_clip(const fs::path& dir) {
  const fs::path clip = dir / "clip.avi";
  cv::VideoWriter writer(clip.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0,
                         cv::Size(160, 120));
  REQUIRE(writer.isOpened());
  for (int i = 0; i < 20; ++i) {
    cv::Mat frame(120, 160, CV_8UC3, cv::Scalar(60 + 5 * i, 90, 120));
    cv::rectangle(frame, cv::Rect(5 * i, 30, 30, 30), cv::Scalar(200, 200, 200), cv::FILLED);
    writer.write(frame);
  }
  return clip;
}

/// The config file's cameras: JSON definitions.
std::vector<std::string> cameras_of(const fs::path& clip, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    out.push_back(
        maskdetect::server::fleet::definition_json(CameraConfig{.name = name, .source = clip.string(), .fps = 3.0})
            .dump());
  }
  return out;
}

ServerOptions worker(const std::string& url, const std::string& name, std::vector<std::string> import) {
  ServerOptions options = test_options();
  options.token = kToken;
  options.fleet.database = url;
  options.fleet.worker_id = name;
  options.fleet.tick_s = 0.25;
  options.fleet.lease_timeout_s = 2.0;
  options.fleet.report_s = 0.5;
  options.fleet.import = std::move(import);
  return options;
}

/// The cameras a worker runs now (its /api/v1/stats sources).
std::set<std::string> running(unsigned short port) {
  const Response res = get(port, "/api/v1/stats", kToken);
  std::set<std::string> names;
  if (res.result_int() != 200) return names;
  const json doc = json::parse(res.body());  // kept: a range over a temporary's member would dangle
  for (const auto& source : doc["sources"]) names.insert(source["name"].get<std::string>());
  return names;
}

bool wait_until(const std::function<bool()>& condition, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

std::string metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name + " ")) return line.substr(name.size() + 1);
  return "";
}

Response send(unsigned short port, http::verb verb, const std::string& target, const std::string& body,
              const std::string& token = kToken) {
  return fetch(
      port, Request{.verb = verb, .target = target, .body = body, .content_type = "application/json", .token = token});
}

/// stderr into a file while it lives (the workers' log lines), back to the terminal after.
class CaptureStderr {
 public:
  explicit CaptureStderr(const fs::path& file) {
    std::fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
  }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;

 private:
  int saved_ = -1;
};

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

}  // namespace

TEST_CASE("fleet: two workers share the cameras and each serves every camera and the other's live views",
          "[fleet][postgres]") {
  auto pg = maskdetect::test::PostgresServer::start();
  if (!pg) return;
  maskdetect::test::TempDir tmp;
  const fs::path clip = make_clip(tmp.path());
  const auto cameras = cameras_of(clip, {"c1", "c2", "c3", "c4"});
  auto w1 = std::make_unique<TestServer>(worker(pg->url(), "w1", cameras));
  TestServer w2(worker(pg->url(), "w2", cameras));

  REQUIRE(wait_until([&] { return running(w1->port()).size() == 2 && running(w2.port()).size() == 2; }, 40));
  std::set<std::string> all = running(w1->port());
  for (const std::string& name : running(w2.port())) CHECK(all.insert(name).second);  // disjoint
  CHECK(all.size() == 4);

  // Any worker lists every camera with its owner and the fleet's workers (its view is refreshed each tick:
  // a camera the other worker took after this one's last tick shows as unowned until the next).
  json doc;
  REQUIRE(wait_until(
      [&] {
        doc = json::parse(get(w1->port(), "/api/v1/cameras", kToken).body());
        return std::all_of(doc["cameras"].begin(), doc["cameras"].end(),
                           [](const json& camera) { return camera["owner"].is_object(); });
      },
      10));
  REQUIRE(doc["cameras"].size() == 4);
  std::string remote;  // a camera that w2 runs
  for (const auto& camera : doc["cameras"]) {
    REQUIRE(camera["owner"].is_object());
    if (camera["owner"]["worker"] == "w2") remote = camera["name"];
    CHECK(camera["source"].get<std::string>().find(clip.filename().string()) != std::string::npos);
    CHECK(camera["people"].contains("total"));
  }
  REQUIRE(!remote.empty());
  CHECK(doc["workers"].size() == 2);
  CHECK(doc["unowned"] == 0);

  // Its live views through w1: proxied to w2.
  REQUIRE(wait_until(
      [&] { return get(w1->port(), "/api/v1/cameras/" + remote + "/snapshot.jpg", kToken).result_int() == 200; }, 20));
  const Response snapshot = get(w1->port(), "/api/v1/cameras/" + remote + "/snapshot.jpg", kToken);
  CHECK(snapshot[http::field::content_type] == "image/jpeg");
  CHECK(!cv::imdecode(std::vector<unsigned char>(snapshot.body().begin(), snapshot.body().end()), cv::IMREAD_COLOR)
             .empty());
  CHECK(get(w1->port(), "/api/v1/cameras/" + remote + "/snapshot.jpg").result_int() == 401);  // the token still counts
  {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(endpoint(w1->port()));
    const std::string request =
        "GET /api/v1/cameras/" + remote + "/mjpeg?token=" + kToken + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(socket, net::buffer(request));
    std::string received;
    std::array<char, 4096> chunk{};
    while (received.find("\r\n\r\n\xff\xd8") == std::string::npos && received.size() < (1U << 20)) {
      const std::size_t n = socket.read_some(net::buffer(chunk));
      received.append(chunk.data(), n);
    }
    CHECK(received.starts_with("HTTP/1.1 200"));
    CHECK(received.find("multipart/x-mixed-replace; boundary=maskdetectframe") != std::string::npos);
  }
  {
    WsClient ws;
    REQUIRE(!ws.open(w1->port(), "/api/v1/cameras/" + remote + "/ws", kToken));
    const json frame = json::parse(ws.read());
    CHECK(frame.contains("faces"));
  }
  CHECK(get(w1->port(), "/api/v1/cameras/nowhere/snapshot.jpg", kToken).result_int() == 404);

  // Metrics for scaling, readiness, /api/v1/info for the live page (by camera name, every camera).
  const std::string metrics = get(w1->port(), "/metrics", kToken).body();
  CHECK(metric(metrics, "maskdetect_cameras_owned") == "2");
  CHECK(metric(metrics, "maskdetect_cameras_unowned") == "0");
  CHECK(get(w1->port(), "/readyz").result_int() == 200);
  const json info = json::parse(get(w1->port(), "/api/v1/info", kToken).body());
  REQUIRE(info["streams"].size() == 4);
  CHECK(info["streams"][0]["id"] == 0);
  CHECK(info["streams"][0]["mjpeg"] == "/api/v1/cameras/c1/mjpeg");
  CHECK(info["streams"][0]["ws"] == "/api/v1/cameras/c1/ws");

  // Cameras through the API: token required, checked like the config file, errors naming the field.
  const std::string c5 = R"({"name": "c5", "source": ")" + clip.string() + R"(", "fps": 3})";
  CHECK(send(w2.port(), http::verb::post, "/api/v1/cameras", c5, "").result_int() == 401);
  const Response bad =
      send(w2.port(), http::verb::post, "/api/v1/cameras", R"({"name": "c6", "source": "x", "fps": 5000})");
  CHECK(bad.result_int() == 400);
  CHECK(error_code(bad) == "bad_camera");
  CHECK(bad.body().find("key 'fps': 5000 is not in [0, 1000]") != std::string::npos);
  CHECK(send(w2.port(), http::verb::post, "/api/v1/cameras", c5).result_int() == 201);
  CHECK(send(w2.port(), http::verb::post, "/api/v1/cameras", c5).result_int() == 409);
  REQUIRE(wait_until([&] { return running(w1->port()).size() + running(w2.port()).size() == 5; }, 20));
  CHECK(wait_until(  // w1 lists it from its next tick
      [&] { return json::parse(get(w1->port(), "/api/v1/cameras", kToken).body())["cameras"].size() == 5; }, 10));
  const Response put =
      send(w1->port(), http::verb::put, "/api/v1/cameras/c5", R"({"source": ")" + clip.string() + R"(", "fps": 2})");
  CHECK(put.result_int() == 200);
  REQUIRE(wait_until(
      [&] {
        const json c = json::parse(get(w2.port(), "/api/v1/cameras/c5", kToken).body());
        return c.contains("definition") && c["definition"]["fps"] == 2.0;
      },
      10));
  CHECK(send(w1->port(), http::verb::put, "/api/v1/cameras/c5", R"({"name": "c7", "source": "x"})").result_int() ==
        400);
  CHECK(send(w1->port(), http::verb::delete_, "/api/v1/cameras/c5", "").result_int() == 200);
  CHECK(send(w1->port(), http::verb::delete_, "/api/v1/cameras/c5", "").result_int() == 404);
  REQUIRE(wait_until([&] { return !running(w1->port()).contains("c5") && !running(w2.port()).contains("c5"); }, 10));
  // Every worker's view follows within a tick.
  CHECK(wait_until([&] { return get(w2.port(), "/api/v1/cameras/c5", kToken).result_int() == 404; }, 5));

  // SIGTERM's drain: w1 hands its cameras back at once and w2 takes them without waiting out a lease.
  const auto drained = Clock::now();
  w1.reset();
  REQUIRE(wait_until([&] { return running(w2.port()).size() == 4; }, 10));
  const double moved_s = std::chrono::duration<double>(Clock::now() - drained).count();
  WARN("drained worker's cameras running on the other after " << moved_s << " s");
  CHECK(moved_s < 5.0);
}

TEST_CASE("fleet: a worker that loses the database stops its cameras and takes them again when it is back",
          "[fleet][postgres]") {
  auto pg = maskdetect::test::PostgresServer::start();
  if (!pg) return;
  maskdetect::test::TempDir tmp;
  const fs::path clip = make_clip(tmp.path());
  TestServer w1(worker(pg->url(), "w1", cameras_of(clip, {"c1", "c2"})));
  REQUIRE(wait_until([&] { return running(w1.port()).size() == 2; }, 30));
  CHECK(get(w1.port(), "/readyz").result_int() == 200);

  pg->stop();
  const auto lost = Clock::now();
  REQUIRE(wait_until([&] { return running(w1.port()).empty(); }, 15));
  WARN("cameras stopped " << std::chrono::duration<double>(Clock::now() - lost).count()
                          << " s after the database went away");
  const Response ready = get(w1.port(), "/readyz");
  CHECK(ready.result_int() == 503);
  CHECK(json::parse(ready.body())["status"] == "database_unreachable");
  CHECK(get(w1.port(), "/healthz").result_int() == 200);                 // alive: do not restart it
  CHECK(get(w1.port(), "/api/v1/cameras", kToken).result_int() == 200);  // the last view, owners gone

  pg->restart();
  REQUIRE(wait_until([&] { return running(w1.port()).size() == 2; }, 30));
  CHECK(get(w1.port(), "/readyz").result_int() == 200);
}

TEST_CASE("fleet: a worker cut off by the database loses its cameras only after its lease ran out",
          "[fleet][postgres]") {
  auto pg = maskdetect::test::PostgresServer::start();
  if (!pg) return;
  maskdetect::test::TempDir tmp;
  const fs::path clip = make_clip(tmp.path());
  const fs::path log = tmp / "workers.log";
  // w1 connects as a role of its own, so that the database can keep it out for a while.
  pg->psql("CREATE ROLE w1role LOGIN; GRANT ALL ON SCHEMA public TO w1role");
  const std::string w1_url = "postgresql://w1role@127.0.0.1:" + std::to_string(pg->port()) + "/postgres";
  double cut = 0.0;
  {
    CaptureStderr capture(log);
    TestServer w1(worker(w1_url, "w1", cameras_of(clip, {"c1", "c2", "c3", "c4"})));
    REQUIRE(wait_until([&] { return running(w1.port()).size() == 4; }, 30));
    TestServer w2(worker(pg->url(), "w2", {}));
    REQUIRE(wait_until([&] { return running(w1.port()).size() == 2 && running(w2.port()).size() == 2; }, 30));
    // The server ends w1's connections and refuses new ones (as a network partition would): w1's locks go at
    // once, w2 claims its cameras, and must not analyse them before w1's lease (2 s) has run out.
    cut = unix_now();
    pg->psql(
        "ALTER ROLE w1role NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
        "'w1role'");
    REQUIRE(wait_until(
        [&] {
          const json stats = json::parse(get(w2.port(), "/api/v1/stats", kToken).body());
          std::size_t analysing = 0;
          for (const auto& s : stats["sources"]) analysing += s["frames"].get<std::int64_t>() > 0 ? 1U : 0U;
          return analysing == 4;
        },
        30));
    CHECK(running(w1.port()).empty());
    CHECK(get(w1.port(), "/readyz").result_int() == 503);
    // w1 may connect again: it takes its share back (handed over cleanly by w2).
    pg->psql("ALTER ROLE w1role LOGIN");
    REQUIRE(wait_until([&] { return running(w1.port()).size() == 2 && running(w2.port()).size() == 2; }, 30));
  }
  const std::string text = maskdetect::test::read_text(log);
  INFO(text);
  const auto intervals = fleet_test::ownership(text, {}, unix_now());
  CHECK(intervals.size() == 4);
  CHECK(fleet_test::overlap(intervals).empty());
  CHECK(text.find("lost the database") != std::string::npos);
  CHECK(text.find("after its previous owner's lease ran out") != std::string::npos);
  // w2's first frames of w1's cameras came at least the lease timeout (2 s) after the cut.
  std::size_t taken = 0;
  for (const auto& [camera, list] : intervals) {
    for (const auto& interval : list) {
      if (interval.worker != "w2" || interval.from < cut) continue;
      ++taken;
      CHECK(interval.from >= cut + 2.0);
      break;
    }
  }
  CHECK(taken == 2);
}
