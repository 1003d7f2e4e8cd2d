// Live sources survive faults: a real MPEG-TS stream served over HTTP by ffmpeg on a free loopback port is
// killed and restarted while the SDK, `maskdetect run` and `maskdetect serve` read it. Each test starts and
// kills its own processes (SIGKILL on scope exit, also when a check fails). Figures (outage durations,
// reconnect latency) are printed, not asserted.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>

#include "cli_test_helpers.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/video/reconnect.hpp"

namespace fs = std::filesystem;
using namespace maskdetect;
using namespace maskdetect::test;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const char* const kFfmpeg = "/usr/bin/ffmpeg";

/// Skips (or, under CI=true, fails) a test when ffmpeg is missing.
#define REQUIRE_FFMPEG()                                                               \
  do {                                                                                 \
    if (!fs::exists(kFfmpeg)) {                                                        \
      if (in_ci()) FAIL("ffmpeg missing (CI=true): install it with scripts/setup.sh"); \
      WARN("ffmpeg missing, test not run (scripts/setup.sh installs it)");             \
      return;                                                                          \
    }                                                                                  \
  } while (false)

/// A child process with stdout and stderr in a file; SIGKILLed and reaped when it goes out of scope.
class Child {
 public:
  Child(const std::vector<std::string>& args, const fs::path& log) {
    const Argv argv(args.at(0), {args.begin() + 1, args.end()});
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // No leftover even when the test binary is killed (CTest timeout). The signal comes when the *thread*
      // that forked ends, so a child must be started by a thread that outlives it.
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
  }
  ~Child() { kill_now(SIGKILL); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Sends `signal` and reaps the child.
  void kill_now(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// The exit status once the child has exited within `timeout` (128 + signal when killed).
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

/// True once a socket listens on 127.0.0.1:`port` (read from /proc/net/tcp: connecting would take the one
/// client slot of `ffmpeg -listen 1`).
bool listening(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  char wanted[16];
  std::snprintf(wanted, sizeof(wanted), ":%04X ", static_cast<unsigned>(port));
  while (std::getline(in, line)) {
    // "  sl  local_address rem_address   st ...": state 0A is LISTEN.
    std::istringstream fields(line);
    std::string sl, local, remote, state;
    fields >> sl >> local >> remote >> state;
    if (state == "0A" && (local + " ").find(wanted) != std::string::npos) return true;
  }
  return false;
}

bool wait_for_port_listening(int port) {
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    if (listening(port)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

/// ffmpeg serving a 320x240, 10 fps test pattern as MPEG-TS over HTTP on 127.0.0.1:port (one client).
std::unique_ptr<Child> start_stream(int port, const fs::path& log) {
  auto child = std::make_unique<Child>(
      std::vector<std::string>{kFfmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                               "testsrc=size=320x240:rate=10", "-f", "mpegts", "-listen", "1",
                               "http://127.0.0.1:" + std::to_string(port)},
      log);
  if (!wait_for_port_listening(port)) FAIL("ffmpeg did not listen on port " << port);
  return child;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

std::size_t count_lines(const fs::path& path) {
  const std::string text = read_text(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

TEST_CASE("backoff doubles from the initial delay up to the cap", "[reconnect]") {
  video::RetryPolicy policy;
  CHECK(video::backoff_delay(policy, 1) == 1000ms);
  CHECK(video::backoff_delay(policy, 2) == 2000ms);
  CHECK(video::backoff_delay(policy, 5) == 16000ms);
  CHECK(video::backoff_delay(policy, 6) == 30000ms);
  CHECK(video::backoff_delay(policy, 1000) == 30000ms);
  CHECK(video::is_live_spec("0"));
  CHECK(video::is_live_spec("/dev/video0"));
  CHECK(video::is_live_spec("rtsp://cam/stream"));
  CHECK_FALSE(video::is_live_spec("clip.mp4"));
  CHECK_FALSE(video::is_live_spec("photos/*.jpg"));
  CHECK(video::is_live_spec("http://cam.local/video.mjpg"));
  CHECK(video::is_live_spec("https://host/live/index.m3u8?token=x"));
  CHECK(video::is_live_spec("http://127.0.0.1:8554/live"));
  CHECK_FALSE(video::is_live_spec("http://host/clips/entrance.MP4?sig=abc"));
  CHECK_FALSE(video::is_live_spec("https://host/a.b/clip.mkv#t=10"));
  CHECK_FALSE(video::is_live_spec("file:///videos/clip.avi"));
}

TEST_CASE("SDK: a stream killed and restarted is reopened with one outage and indices that go on",
          "[reconnect][video]") {
  REQUIRE_FFMPEG();
  TempDir tmp;
  const int port = free_local_port();
  const std::string url = "http://viewer:S3cret@127.0.0.1:" + std::to_string(port) + "/live";
  auto ffmpeg = start_stream(port, tmp / "ffmpeg.log");

  std::vector<std::pair<video::OutageEvent, video::Outage>> events;
  video::ReconnectOptions options;
  options.policy.max_retries = 5;  // bounded: 1 + 2 + 4 + 8 + 16 s at most, then failed
  options.on_outage = [&events](video::OutageEvent event, const video::Outage& outage) {
    events.emplace_back(event, outage);
  };
  video::ReconnectingSource source(url, options);
  CHECK(source.kind() == video::SourceKind::stream);
  CHECK(source.description().find("S3cret") == std::string::npos);

  video::Frame frame;
  std::vector<std::int64_t> indices;
  for (int i = 0; i < 10; ++i) {
    REQUIRE(source.read(frame) == video::ReadStatus::ok);
    CHECK(frame.bgr.cols == 320);
    indices.push_back(frame.index);
  }
  ffmpeg->kill_now(SIGKILL);
  const auto killed = Clock::now();
  // Restarted after 1.5 s: the first reopen (after 1 s) fails, the second (3 s) finds it.
  // The thread lives to the end of the test: ffmpeg dies with the thread that started it (PR_SET_PDEATHSIG).
  std::jthread restart([&](const std::stop_token& stop) {
    std::this_thread::sleep_for(1500ms);
    ffmpeg = start_stream(port, tmp / "ffmpeg.log");
    while (!stop.stop_requested()) std::this_thread::sleep_for(20ms);
  });
  video::ReadStatus status = video::ReadStatus::ok;
  // Frames buffered before the kill still come; then the outage; then frames of the new stream.
  while (status == video::ReadStatus::ok && events.empty()) {
    status = source.read(frame);
    if (status == video::ReadStatus::ok) indices.push_back(frame.index);
  }
  REQUIRE(status == video::ReadStatus::ok);
  const double back_after_kill_s = seconds(Clock::now() - killed);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(source.read(frame) == video::ReadStatus::ok);
    indices.push_back(frame.index);
  }
  REQUIRE(events.size() == 2);
  CHECK(events[0].first == video::OutageEvent::started);
  CHECK(events[1].first == video::OutageEvent::recovered);
  const video::Outage& outage = events[1].second;
  CHECK(outage.attempts >= 2);
  CHECK(outage.frames_before >= 10);
  CHECK(outage.source.find("S3cret") == std::string::npos);
  CHECK(outage.source.find("***") != std::string::npos);
  for (std::size_t i = 0; i < indices.size(); ++i) CHECK(indices[i] == static_cast<std::int64_t>(i));
  const video::ReconnectStatus totals = source.status();
  CHECK(totals.up);
  CHECK(totals.outages == 1);
  CHECK(totals.downtime_s == Approx(outage.duration_s));
  std::printf("sdk reconnect: outage %.2f s, %d reopen attempts, first frame %.2f s after the kill\n",
              outage.duration_s, outage.attempts, back_after_kill_s);
}

TEST_CASE("SDK: stop() ends a backoff wait at once and spent retries give failed", "[reconnect][video]") {
  REQUIRE_FFMPEG();
  const int port = free_local_port();  // nothing listens there
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";

  SECTION("stop during the wait") {
    video::ReconnectOptions options;
    options.policy.retry_initial_open = true;
    options.policy.initial_delay = 20s;
    video::ReconnectingSource source(url, options);
    std::thread stopper([&source] {
      std::this_thread::sleep_for(300ms);
      source.stop();
    });
    video::Frame frame;
    const auto start = Clock::now();
    CHECK(source.read(frame) == video::ReadStatus::end);
    stopper.join();
    const double took = seconds(Clock::now() - start);
    std::printf("sdk stop: read() returned %.2f s after start (stop at 0.3 s, backoff 20 s)\n", took);
    CHECK(took < 20.0);  // not a speed figure: the 20 s wait was cut short
  }
  SECTION("a source absent from the start, two retries") {
    video::ReconnectOptions options;
    options.policy.retry_initial_open = true;
    options.policy.max_retries = 2;
    options.policy.initial_delay = 100ms;
    std::vector<video::OutageEvent> events;
    options.on_outage = [&events](video::OutageEvent event, const video::Outage&) { events.push_back(event); };
    video::ReconnectingSource source(url, options);
    video::Frame frame;
    CHECK(source.read(frame) == video::ReadStatus::failed);
    CHECK(events == std::vector<video::OutageEvent>{video::OutageEvent::started, video::OutageEvent::gave_up});
    REQUIRE(source.final_outage());
    CHECK(source.final_outage()->attempts == 2);
    CHECK(source.final_outage()->error.find(std::to_string(port)) != std::string::npos);
    CHECK_FALSE(source.status().up);
  }
  SECTION("without retry_initial_open the first open throws Error(io) naming the URL") {
    try {
      video::ReconnectingSource source(url, {});
      FAIL("no exception");
    } catch (const Error& e) {
      CHECK(e.code() == Errc::io);
      CHECK(std::string(e.what()).find(url) != std::string::npos);
    }
  }
}

TEST_CASE("run: a stream killed and restarted mid-run goes on with one outage logged and summarised",
          "[reconnect][cli]") {
  REQUIRE_FFMPEG();
  TempDir tmp;
  const int port = free_local_port();
  const std::string url = "http://cam:pw0rd@127.0.0.1:" + std::to_string(port) + "/";
  const std::string shown = "http://cam:***@127.0.0.1:" + std::to_string(port) + "/";
  auto ffmpeg = start_stream(port, tmp / "ffmpeg.log");
  const fs::path json = tmp / "out.jsonl";
  const fs::path video = tmp / "out.avi";
  const fs::path log = tmp / "run.log";
  constexpr int kFrames = 40;
  Child run({MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "run", "--source", url, "--json", json.string(),
             "--output", video.string(), "--max-frames", std::to_string(kFrames)},
            log);
  REQUIRE(wait_until([&] { return fs::exists(json) && count_lines(json) >= 10; }, 30s));
  ffmpeg->kill_now(SIGKILL);
  const auto killed = Clock::now();
  REQUIRE(wait_until([&] { return read_text(log).find("reconnecting") != std::string::npos; }, 15s));
  const std::string before = read_text(json);  // complete lines, flushed one by one
  const std::size_t lines_before = parse_json_lines(before).size();
  std::this_thread::sleep_for(1500ms);
  ffmpeg = start_stream(port, tmp / "ffmpeg.log");
  const std::optional<int> code = run.wait(60s);
  const std::string err = read_text(log);
  INFO(err);
  REQUIRE(code);
  CHECK(*code == 0);
  // The outage: logged once when it starts and once when it ends, with the redacted URL.
  CHECK(count_of(err, "stopped delivering frames") == 1);
  CHECK(count_of(err, "is back after an outage of") == 1);
  CHECK(err.find("stream '" + shown + "'") != std::string::npos);
  CHECK(err.find("pw0rd") == std::string::npos);
  CHECK(err.find("summary: outages 1, downtime ") != std::string::npos);
  std::smatch match;
  REQUIRE(std::regex_search(err, match, std::regex(R"(back after an outage of ([0-9.]+) s \(([0-9]+) reopen)")));
  std::printf(
      "run reconnect: outage %s s, %s reopen attempts (ffmpeg down for ~1.5 s + its start), %.1f s from "
      "kill to exit\n",
      match[1].str().c_str(), match[2].str().c_str(), seconds(Clock::now() - killed));
  // Nothing written before is lost; frames from before and after the outage are in the JSON.
  const std::string after = read_text(json);
  CHECK(after.substr(0, before.size()) == before);
  const std::vector<nlohmann::json> lines = parse_json_lines(after);
  CHECK(lines.size() == static_cast<std::size_t>(kFrames));
  CHECK(lines_before >= 10);
  CHECK(lines.size() > lines_before);
  for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i]["frame"].get<int>() > lines[i - 1]["frame"].get<int>());
  CHECK(parse_summary(err).frames == kFrames);
  // The output video is whole.
  cv::VideoCapture written(video.string());
  REQUIRE(written.isOpened());
  CHECK(static_cast<int>(written.get(cv::CAP_PROP_FRAME_COUNT)) == kFrames);
}

TEST_CASE("run --max-retries 2: the stream gone for good ends with exit 5 naming the redacted URL",
          "[reconnect][cli]") {
  REQUIRE_FFMPEG();
  TempDir tmp;
  const int port = free_local_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/cam?token=abc123";
  const std::string shown = "http://127.0.0.1:" + std::to_string(port) + "/cam?token=***";
  auto ffmpeg = start_stream(port, tmp / "ffmpeg.log");
  const fs::path json = tmp / "out.jsonl";
  const fs::path log = tmp / "run.log";
  Child run({MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "run", "--source", url, "--json", json.string(),
             "--max-retries", "2"},
            log);
  REQUIRE(wait_until([&] { return fs::exists(json) && count_lines(json) >= 5; }, 30s));
  ffmpeg->kill_now(SIGKILL);
  const auto killed = Clock::now();
  const std::optional<int> code = run.wait(30s);  // 1 s + 2 s of backoff
  const std::string err = read_text(log);
  INFO(err);
  REQUIRE(code);
  CHECK(*code == 5);
  CHECK(err.find("error: stream '" + shown + "' stopped delivering frames after") != std::string::npos);
  CHECK(err.find("gave up after 2 reopen attempt(s)") != std::string::npos);
  CHECK(err.find("abc123") == std::string::npos);
  CHECK(count_of(err, "reconnecting at most 2 times") == 1);
  CHECK(err.find("summary: outages 1") != std::string::npos);
  CHECK(parse_json_lines(read_text(json)).size() >= 5);
  std::printf("run --max-retries 2: exit %d %.1f s after the kill\n", *code, seconds(Clock::now() - killed));
}

namespace {

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, no keep-alive): the status code and the body; 0 on failure.
std::pair<int, std::string> http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {0, ""};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return {0, ""};
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return {0, ""};
  }
  std::string response;
  char buffer[8192];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  const std::size_t body = response.find("\r\n\r\n");
  if (response.size() < 12 || body == std::string::npos) return {0, ""};
  return {std::stoi(response.substr(9, 3)), response.substr(body + 4)};
}

nlohmann::json stream_info(int port) {
  const auto [status, body] = http_get(port, "/api/v1/info");
  if (status != 200) return nlohmann::json{};
  return nlohmann::json::parse(body)["streams"][0];
}

}  // namespace

TEST_CASE("serve: a stream absent at start-up is reported down and recovers when it starts", "[reconnect][server]") {
  REQUIRE_FFMPEG();
  TempDir tmp;
  const int stream_port = free_local_port();
  const std::string url = "http://op:hunter2@127.0.0.1:" + std::to_string(stream_port) + "/";
  const fs::path port_file = tmp / "port";
  const fs::path log = tmp / "serve.log";
  Child serve({MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "serve", "--listen", "127.0.0.1:0", "--port-file",
               port_file.string(), "--source", url},
              log);
  REQUIRE(wait_until([&] { return fs::exists(port_file) && !read_text(port_file).empty(); }, 30s));
  const int port = std::stoi(read_text(port_file));
  // Up without its source: the stream is reported down (after the first failed open) with the error.
  REQUIRE(wait_until([&] { return stream_info(port).value("state", "") == "down"; }, 15s));
  nlohmann::json info = stream_info(port);
  INFO(info.dump());
  CHECK(info["outages"] == 1);
  CHECK(info["name"].get<std::string>().find("hunter2") == std::string::npos);
  CHECK(info["last_error"].get<std::string>().find(std::to_string(stream_port)) != std::string::npos);
  CHECK(http_get(port, "/api/v1/streams/0/snapshot.jpg").first == 503);

  auto ffmpeg = start_stream(stream_port, tmp / "ffmpeg.log");
  const auto started = Clock::now();
  REQUIRE(wait_until([&] { return stream_info(port).value("state", "") == "up"; }, 45s));
  const double recovered_s = seconds(Clock::now() - started);
  REQUIRE(wait_until([&] { return http_get(port, "/api/v1/streams/0/snapshot.jpg").first == 200; }, 10s));
  info = stream_info(port);
  CHECK(info["outages"] == 1);
  const std::string err = read_text(log);
  INFO(err);
  CHECK(count_of(err, "is down after 0 frames") == 1);
  CHECK(count_of(err, "is back after an outage of") == 1);
  CHECK(err.find("hunter2") == std::string::npos);
  std::printf("serve reconnect: source up %.1f s after ffmpeg started (backoff 1, 2, 4, ... s), downtime %.1f s\n",
              recovered_s, info["downtime_s"].get<double>());
  serve.kill_now(SIGTERM);
}

TEST_CASE("serve: a stream that stops ends the people it tracked within seconds, not when it comes back",
          "[reconnect][server]") {
  REQUIRE_FFMPEG();
  MASKDETECT_REQUIRE_DATA(detection_images_dir());
  TempDir tmp;
  // A clip of a dataset picture with faces (made here, never committed), served on a loop by ffmpeg.
  cv::Mat picture = cv::imread(sample_images(1).at(0).string());
  REQUIRE(!picture.empty());
  cv::resize(picture, picture, cv::Size(640, 480));
  const fs::path clip = tmp / "faces.avi";
  {
    cv::VideoWriter writer(clip.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0,
                           picture.size());
    REQUIRE(writer.isOpened());
    for (int i = 0; i < 20; ++i) writer.write(picture);
  }
  const int stream_port = free_local_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(stream_port) + "/";
  auto ffmpeg = std::make_unique<Child>(
      std::vector<std::string>{kFfmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                               "-i", clip.string(), "-f", "mpegts", "-listen", "1", url},
      tmp / "ffmpeg.log");
  REQUIRE(wait_for_port_listening(stream_port));

  const fs::path port_file = tmp / "port";
  const fs::path log = tmp / "serve.log";
  // The looped picture's faces never move: they are people only with count_stationary (the server's people section).
  const fs::path config = tmp / "serve.yaml";
  std::ofstream(config) << "people:\n  count_stationary: true\n  confirm_s: 0.3\n  min_face_px: 10\n"
                        << "cameras:\n  - name: stream0\n    source: " << url << "\n";
  Child serve({MASKDETECT_TEST_CLI, "--detector", "blazeface_back", "serve", "--config", config.string(), "--listen",
               "127.0.0.1:0", "--port-file", port_file.string(), "--data-dir", (tmp / "data").string()},
              log);
  REQUIRE(wait_until([&] { return fs::exists(port_file) && !read_text(port_file).empty(); }, 30s));
  const int port = std::stoi(read_text(port_file));
  auto camera = [port] {
    const auto [status, body] = http_get(port, "/api/v1/cameras");
    return status == 200 ? nlohmann::json::parse(body)["cameras"][0] : nlohmann::json::object();
  };
  auto in_view = [](const nlohmann::json& c) { return c.value("in_view", std::int64_t{-1}); };
  // People in the history: counted when they end, in each minute of their visit.
  auto in_history = [port] {
    const auto [status, body] = http_get(port, "/api/v1/history");
    if (status != 200) return std::int64_t{-1};
    const nlohmann::json doc = nlohmann::json::parse(body);
    std::int64_t n = 0;
    for (const auto& point : doc["cameras"][0]["points"]) n += point["people"].get<std::int64_t>();
    return n;
  };
  // maskdetect_people_total: people who ended, by the label held longest.
  auto ended = [port] {
    const auto [status, body] = http_get(port, "/metrics");
    if (status != 200) return std::int64_t{-1};
    std::int64_t n = 0;
    std::istringstream lines(body);
    for (std::string line; std::getline(lines, line);)
      if (line.starts_with("maskdetect_people_total{")) n += std::stoll(line.substr(line.rfind(' ') + 1));
    return n;
  };

  // People in view (the faces never leave the looped picture), not yet in the history while they stay.
  REQUIRE(wait_until([&] { return in_view(camera()) >= 1; }, 45s));
  const nlohmann::json before = camera();
  INFO(before.dump());
  const std::int64_t ended_before = ended();

  ffmpeg->kill_now(SIGKILL);  // the camera goes dark; the server waits for it to come back
  const auto killed = Clock::now();
  REQUIRE(wait_until([&] { return in_view(camera()) == 0; }, 20s));
  const double gone_s = seconds(Clock::now() - killed);
  const nlohmann::json after = camera();
  INFO(after.dump());
  const std::int64_t ended_after = ended();
  CHECK(ended_after > ended_before);  // those tracked when it stopped ended now, not when it returns
  // Nobody is tracked any more: the camera's totals (ended + tracked now) are the people who ended; the history
  // has each in every minute of their visit (one or two here).
  CHECK(after["people"]["total"].get<std::int64_t>() == ended_after);
  CHECK(in_history() >= ended_after);
  CHECK(in_history() <= 2 * ended_after);
  CHECK(count_of(read_text(log), "the people it tracked are counted as gone") == 1);
  std::printf("serve: people of a stopped stream ended %.1f s after it stopped (ended %lld -> %lld)\n", gone_s,
              static_cast<long long>(ended_before), static_cast<long long>(ended_after));
  serve.kill_now(SIGTERM);
}
