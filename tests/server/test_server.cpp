// The server in-process on 127.0.0.1, port 0, spoken to over HTTP and WebSocket with Beast.
#include "server_client.hpp"

#include <regex>
#include <set>

using namespace server_test;  // NOLINT(google-build-using-namespace)

TEST_CASE("POST /api/v1/detect answers the SDK JSON for JPEG and PNG images", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  TestServer server(test_options());
  std::size_t faces = 0;
  for (std::size_t i = 0; i < sample_names().size(); ++i) {
    const std::string jpeg = sample_jpeg(i);
    const cv::Mat image = cv::imread((images_dir() / sample_names()[i]).string());
    REQUIRE(!image.empty());
    const Response res = post_image(server.port(), "/api/v1/detect", jpeg);
    INFO(sample_names()[i] << ": " << res.body());
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "application/json");
    const json doc = json::parse(res.body());
    CHECK(doc["width"] == image.cols);
    CHECK(doc["height"] == image.rows);
    REQUIRE(doc["faces"].is_array());
    for (const json& face : doc["faces"]) {
      CHECK(face["box"].size() == 4);
      const std::string label = face["label"];
      CHECK((label == "mask" || label == "no_mask" || label == "incorrect"));
    }
    faces += doc["faces"].size();

    // The same picture as PNG gives the same faces.
    std::vector<unsigned char> png;
    REQUIRE(cv::imencode(".png", image, png));
    const Response png_res =
        post_image(server.port(), "/api/v1/detect", std::string(png.begin(), png.end()), "image/png");
    REQUIRE(png_res.result_int() == 200);
    CHECK(json::parse(png_res.body())["faces"].size() == doc["faces"].size());
  }
  CHECK(faces >= 3);

  SECTION("?annotated=1 answers the annotated JPEG") {
    const Response res = post_image(server.port(), "/api/v1/detect?annotated=1", sample_jpeg());
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "image/jpeg");
    const std::vector<unsigned char> bytes(res.body().begin(), res.body().end());
    const cv::Mat annotated = cv::imdecode(bytes, cv::IMREAD_COLOR);
    const cv::Mat original = cv::imread((images_dir() / sample_names()[0]).string());
    CHECK(annotated.size() == original.size());
    CHECK(!res["X-Faces"].empty());
  }
  SECTION("?threshold=1 keeps no face; a bad threshold is a 400") {
    const Response res = post_image(server.port(), "/api/v1/detect?threshold=1", sample_jpeg());
    REQUIRE(res.result_int() == 200);
    CHECK(json::parse(res.body())["faces"].empty());
    const Response bad = post_image(server.port(), "/api/v1/detect?threshold=2", sample_jpeg());
    CHECK(bad.result_int() == 400);
    CHECK(error_code(bad) == "bad_parameter");
  }
  SECTION("keep-alive: several requests on one connection") {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(endpoint(server.port()));
    for (int i = 0; i < 3; ++i) {
      const Response res = exchange(socket, Request{.verb = http::verb::post,
                                                    .target = "/api/v1/detect",
                                                    .body = sample_jpeg(),
                                                    .content_type = "image/jpeg",
                                                    .token = {}});
      CHECK(res.result_int() == 200);
      CHECK(res.keep_alive());
    }
  }
}

TEST_CASE("stats, healthz and metrics", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  TestServer server(test_options());
  const Response health = get(server.port(), "/healthz");
  REQUIRE(health.result_int() == 200);
  CHECK(json::parse(health.body())["status"] == "ok");

  const Response detect = post_image(server.port(), "/api/v1/detect", sample_jpeg());
  REQUIRE(detect.result_int() == 200);
  const std::size_t faces = json::parse(detect.body())["faces"].size();

  const Response stats = get(server.port(), "/api/v1/stats");
  REQUIRE(stats.result_int() == 200);
  INFO(stats.body());
  const json doc = json::parse(stats.body());
  CHECK(doc["api"]["frames"] == 1);
  const json& per_class = doc["api"]["faces"];
  CHECK(per_class["mask"].get<std::size_t>() + per_class["no_mask"].get<std::size_t>() +
            per_class["incorrect"].get<std::size_t>() ==
        faces);
  if (faces > 0) {
    const double compliance = doc["api"]["compliance"];
    CHECK(compliance >= 0.0);
    CHECK(compliance <= 1.0);
  }
  CHECK(doc["sources"].empty());
  CHECK(doc["total"]["frames"] == 1);
  CHECK(doc.contains("sessions"));

  const Response metrics = get(server.port(), "/metrics");
  REQUIRE(metrics.result_int() == 200);
  CHECK(metrics[http::field::content_type].starts_with("text/plain; version=0.0.4"));
  const std::string& text = metrics.body();
  CHECK(text.find("# TYPE maskdetect_api_frames_total counter") != std::string::npos);
  CHECK(text.find("maskdetect_api_frames_total 1\n") != std::string::npos);
  CHECK(text.find("maskdetect_api_faces_total{label=\"mask\"}") != std::string::npos);
  CHECK(text.find("maskdetect_api_frame_latency_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
  CHECK(text.find("maskdetect_api_frame_latency_seconds_count 1\n") != std::string::npos);
  CHECK(text.find("maskdetect_build_info{version=\"") != std::string::npos);
  CHECK(text.find("\nprocess_start_time_seconds ") != std::string::npos);
  CHECK(text.find("maskdetect_http_requests_total{method=\"POST\",handler=\"/api/v1/detect\",code=\"200\"} 1\n") !=
        std::string::npos);
  // Every sample line is "name{labels} value" or "name value", of a family declared by # TYPE.
  std::istringstream lines(text);
  std::set<std::string> families;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) families.insert(line.substr(7, line.find(' ', 7) - 7));
    if (line.empty() || line.front() == '#') continue;
    INFO(line);
    CHECK((line.starts_with("maskdetect_") || line.starts_with("process_")));
    const std::string name = line.substr(0, line.find_first_of("{ "));
    const bool declared = families.contains(name) ||
                          (name.ends_with("_bucket") && families.contains(name.substr(0, name.size() - 7))) ||
                          (name.ends_with("_sum") && families.contains(name.substr(0, name.size() - 4))) ||
                          (name.ends_with("_count") && families.contains(name.substr(0, name.size() - 6)));
    CHECK(declared);
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    CHECK_NOTHROW(std::stod(line.substr(space + 1)));
  }
  const Response info = get(server.port(), "/api/v1/info");
  REQUIRE(info.result_int() == 200);
  CHECK(json::parse(info.body())["auth"] == false);
}

TEST_CASE("bearer token: required by the API, metrics and WebSocket when set", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  SECTION("auth on") {
    ServerOptions options = test_options();
    options.token = "s3cret-token";
    TestServer server(options);
    const Response none = get(server.port(), "/api/v1/stats");
    CHECK(none.result_int() == 401);
    CHECK(error_code(none) == "unauthorized");
    CHECK(none[http::field::www_authenticate].starts_with("Bearer"));
    CHECK(get(server.port(), "/api/v1/stats", "wrong-token").result_int() == 401);
    CHECK(get(server.port(), "/api/v1/stats", "s3cret-token").result_int() == 200);
    CHECK(get(server.port(), "/api/v1/stats?token=s3cret-token").result_int() == 200);
    CHECK(get(server.port(), "/metrics").result_int() == 401);
    CHECK(get(server.port(), "/metrics", "s3cret-token").result_int() == 200);
    CHECK(post_image(server.port(), "/api/v1/detect", sample_jpeg()).result_int() == 401);
    CHECK(post_image(server.port(), "/api/v1/detect", sample_jpeg(), "image/jpeg", "s3cret-token").result_int() == 200);
    // The page and the health check stay open.
    CHECK(get(server.port(), "/healthz").result_int() == 200);
    CHECK(get(server.port(), "/").result_int() == 200);

    WsClient refused;
    CHECK(refused.open(server.port(), "/api/v1/ws") == websocket::error::upgrade_declined);
    const Response declined = upgrade(server.port(), "/api/v1/ws");
    CHECK(declined.result_int() == 401);
    CHECK(error_code(declined) == "unauthorized");

    WsClient allowed;
    REQUIRE(!allowed.open(server.port(), "/api/v1/ws", "s3cret-token"));
    CHECK(json::parse(allowed.send_binary(sample_jpeg())).contains("faces"));
    WsClient by_query;
    REQUIRE(!by_query.open(server.port(), "/api/v1/ws?token=s3cret-token"));
  }
  SECTION("auth off") {
    TestServer server(test_options());
    CHECK(get(server.port(), "/api/v1/stats").result_int() == 200);
    CHECK(get(server.port(), "/api/v1/stats", "anything").result_int() == 200);
    WsClient client;
    REQUIRE(!client.open(server.port(), "/api/v1/ws"));
  }
}

TEST_CASE("every bad request gets a 4xx JSON error", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  ServerOptions options = test_options();
  options.body_limit_bytes = 64 * 1024;
  TestServer server(options);
  const unsigned short port = server.port();

  SECTION("body over the limit: 413") {
    const Response res = post_image(port, "/api/v1/detect", std::string(std::size_t{1} << 20, 'x'));
    CHECK(res.result_int() == 413);
    CHECK(error_code(res) == "body_too_large");
  }
  SECTION("wrong content type: 415") {
    const Response res = post_image(port, "/api/v1/detect", "hello", "text/plain");
    CHECK(res.result_int() == 415);
    CHECK(error_code(res) == "unsupported_media_type");
  }
  SECTION("undecodable image: 400; not an image: 415") {
    const Response res = post_image(port, "/api/v1/detect", std::string(1000, 'x'));
    CHECK(res.result_int() == 415);
    CHECK(error_code(res) == "unsupported_image_format");
    const Response cut = post_image(port, "/api/v1/detect", truncated_png(), "image/png");
    CHECK(cut.result_int() == 400);
    CHECK(error_code(cut) == "bad_image");
    const Response empty = post_image(port, "/api/v1/detect", "");
    CHECK(empty.result_int() == 400);
    CHECK(error_code(empty) == "empty_body");
  }
  SECTION("path traversal: 400") {
    for (const std::string target : {"/../etc/passwd", "/%2e%2e/etc/passwd", "/vendor/..%2f..%2fetc%2fpasswd",
                                     "/api/v1/../../etc/passwd", "/a\\..\\b", "/%zz"}) {
      INFO(target);
      const Response res = get(port, target);
      CHECK(res.result_int() == 400);
      CHECK(error_code(res) == "bad_path");
    }
  }
  SECTION("unknown routes: 404; wrong method: 405") {
    Response res = get(port, "/api/v1/nothing");
    CHECK(res.result_int() == 404);
    CHECK(error_code(res) == "not_found");
    res = get(port, "/nothing.html");
    CHECK(res.result_int() == 404);
    CHECK(error_code(res) == "not_found");
    res = get(port, "/api/v1/streams/0/mjpeg");
    CHECK(res.result_int() == 404);
    CHECK(error_code(res) == "no_such_stream");
    res = get(port, "/api/v1/detect");
    CHECK(res.result_int() == 405);
    CHECK(error_code(res) == "method_not_allowed");
    CHECK(res[http::field::allow] == "POST");
  }
  SECTION("malformed HTTP: 400") {
    const Response res = raw_request(port, "NOT HTTP AT ALL\r\n\r\n");
    CHECK(res.result_int() == 400);
    CHECK(error_code(res) == "bad_request");
  }
  SECTION("the embedded UI is served") {
    const Response page = get(port, "/");
    CHECK(page.result_int() == 200);
    CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
    CHECK(page.body().find("<html") != std::string::npos);
    CHECK(get(port, "/vendor/bootstrap.min.css").result_int() == 200);
    CHECK(get(port, "/app.js").result_int() == 200);
    // Every script and stylesheet the page names is embedded (web/CMakeLists.txt lists them), with its type.
    const std::regex reference(R"re(<(script|link)[^>]*\s(?:src|href)="(/[^"]+)")re");
    int referenced = 0;
    const std::string& html = page.body();
    for (auto it = std::sregex_iterator(html.begin(), html.end(), reference); it != std::sregex_iterator(); ++it) {
      const std::string kind = (*it)[1];
      const std::string path = (*it)[2];
      ++referenced;
      const Response asset = get(port, path);
      INFO(path);
      CHECK(asset.result_int() == 200);
      CHECK(asset[http::field::content_type] ==
            (kind == "script" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"));
      CHECK(!asset.body().empty());
    }
    CHECK(referenced >= 10);  // bootstrap and uPlot (css, js), app.css, theme.js and the page scripts
  }
}

TEST_CASE("session cap: one connection over max_sessions gets 503", "[server]") {
  ServerOptions options = test_options();
  options.max_sessions = 2;
  TestServer server(options);
  net::io_context ioc;
  tcp::socket a(ioc);
  tcp::socket b(ioc);
  a.connect(endpoint(server.port()));
  b.connect(endpoint(server.port()));
  // A request on each makes sure both are accepted and counted.
  CHECK(exchange(a, Request{.verb = http::verb::get, .target = "/healthz", .body = {}, .content_type = {}, .token = {}})
            .result_int() == 200);
  CHECK(exchange(b, Request{.verb = http::verb::get, .target = "/healthz", .body = {}, .content_type = {}, .token = {}})
            .result_int() == 200);
  const Response third = get(server.port(), "/api/v1/info");
  CHECK(third.result_int() == 503);
  CHECK(error_code(third) == "too_many_sessions");
  // The health check is answered even at the cap.
  CHECK(get(server.port(), "/healthz").result_int() == 200);
  a.close();
  // Once one closes, a new session is served again.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = get(server.port(), "/healthz").result_int() == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(served);
}

TEST_CASE("WebSocket detect round trip, threshold message and fps cap", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  SECTION("round trip") {
    TestServer server(test_options());
    WsClient client;
    REQUIRE(!client.open(server.port(), "/api/v1/ws"));
    const json first = json::parse(client.send_binary(sample_jpeg()));
    INFO(first.dump());
    CHECK(first["frame"] == 0);
    CHECK(first["faces"].is_array());
    CHECK(first["width"].get<int>() > 0);
    const json second = json::parse(client.send_binary(sample_jpeg(1)));
    CHECK(second["frame"] == 1);
    CHECK(json::parse(client.send_text(R"({"threshold": 0.99})"))["threshold"].get<double>() ==
          Approx(0.99).margin(1e-6));
    const json bad = json::parse(client.send_text("not json"));
    CHECK(bad["error"]["code"] == "bad_message");
    const json not_image = json::parse(client.send_binary(std::string(100, 'x')));
    CHECK(not_image["error"]["code"] == "unsupported_image_format");
    const json bad_image = json::parse(client.send_binary(truncated_png()));
    CHECK(bad_image["error"]["code"] == "bad_image");
    client.ws.close(websocket::close_code::normal);
  }
  SECTION("fps cap") {
    ServerOptions options = test_options();
    options.max_fps = 0.25;  // one frame every 4 s: the second frame, sent at once, is over the cap
    TestServer server(options);
    WsClient client;
    REQUIRE(!client.open(server.port(), "/api/v1/ws"));
    CHECK(json::parse(client.send_binary(sample_jpeg())).contains("faces"));
    const json limited = json::parse(client.send_binary(sample_jpeg()));
    INFO(limited.dump());
    CHECK(limited["error"]["code"] == "rate_limited");
    CHECK(limited["error"]["status"] == 429);
    std::this_thread::sleep_for(std::chrono::milliseconds(4100));
    CHECK(json::parse(client.send_binary(sample_jpeg())).contains("faces"));
  }
  SECTION("unknown WebSocket endpoint") {
    TestServer server(test_options());
    WsClient client;
    CHECK(client.open(server.port(), "/api/v1/nowhere") == websocket::error::upgrade_declined);
    const Response declined = upgrade(server.port(), "/api/v1/nowhere");
    CHECK(declined.result_int() == 404);
    CHECK(error_code(declined) == "not_found");
  }
}

TEST_CASE("server source: a looped video streamed as MJPEG and WebSocket detections", "[server]") {
  MASKDETECT_REQUIRE_DATA(images_dir());
  const fs::path dir = fs::path(MASKDETECT_TEST_BINARY_DIR) / "server_test_data";
  fs::create_directories(dir);
  const fs::path video = dir / "clip.avi";
  {
    cv::VideoWriter writer(video.string(), cv::CAP_OPENCV_MJPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10.0,
                           cv::Size(480, 360));
    REQUIRE(writer.isOpened());
    for (const std::string& name : sample_names()) {
      cv::Mat image = cv::imread((images_dir() / name).string());
      cv::resize(image, image, cv::Size(480, 360));
      for (int i = 0; i < 3; ++i) writer.write(image);
    }
  }
  ServerOptions options = test_options();
  options.sources = {video.string()};
  options.max_fps = 20.0;
  TestServer server(options);

  const Response info = get(server.port(), "/api/v1/info");
  REQUIRE(info.result_int() == 200);
  REQUIRE(json::parse(info.body())["streams"].size() == 1);

  // WebSocket: the detections of new frames are pushed.
  WsClient client;
  REQUIRE(!client.open(server.port(), "/api/v1/streams/0/ws"));
  const json first = json::parse(client.read());
  const json second = json::parse(client.read());
  CHECK(first["width"] == 480);
  CHECK(second["frame"].get<std::int64_t>() > first["frame"].get<std::int64_t>());
  CHECK(json::parse(client.send_text(R"({"threshold": 0.6})"))["threshold"].get<double>() == Approx(0.6));

  // MJPEG: a multipart stream of JPEGs.
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(endpoint(server.port()));
  net::write(socket, net::buffer(std::string("GET /api/v1/streams/0/mjpeg HTTP/1.1\r\nHost: x\r\n\r\n")));
  std::string data;
  auto buffer = net::dynamic_buffer(data);
  std::size_t n = net::read_until(socket, buffer, "\r\n\r\n");
  const std::string header = data.substr(0, n);
  buffer.consume(n);
  INFO(header);
  CHECK(header.starts_with("HTTP/1.1 200"));
  CHECK(header.find("multipart/x-mixed-replace; boundary=maskdetectframe") != std::string::npos);
  for (int part = 0; part < 2; ++part) {
    n = net::read_until(socket, buffer, "\r\n\r\n");
    const std::string part_header = data.substr(0, n);
    buffer.consume(n);
    REQUIRE(part_header.starts_with("--maskdetectframe\r\n"));
    const auto at = part_header.find("Content-Length: ");
    REQUIRE(at != std::string::npos);
    const std::size_t length = std::stoul(part_header.substr(at + 16));
    if (data.size() < length + 2) net::read(socket, buffer, net::transfer_exactly(length + 2 - data.size()));
    const std::vector<unsigned char> jpeg(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(length));
    buffer.consume(length + 2);
    const cv::Mat frame = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    CHECK(frame.cols == 480);
    CHECK(frame.rows == 360);
  }
  const Response snapshot = get(server.port(), "/api/v1/streams/0/snapshot.jpg");
  CHECK(snapshot.result_int() == 200);
  const json stats = json::parse(get(server.port(), "/api/v1/stats").body());
  CHECK(stats["sources"][0]["frames"].get<std::int64_t>() >= 2);
}

TEST_CASE("read timeout and graceful stop", "[server]") {
  ServerOptions options = test_options();
  options.read_timeout = std::chrono::milliseconds(300);
  auto server = std::make_unique<TestServer>(options);
  const unsigned short port = server->port();

  SECTION("an incomplete request is dropped after the read timeout") {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(endpoint(port));
    net::write(socket, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
    std::array<char, 256> buffer{};
    beast::error_code ec;
    const auto started = std::chrono::steady_clock::now();
    const std::size_t n = socket.read_some(net::buffer(buffer), ec);
    CHECK(n == 0);
    CHECK(ec);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }
  SECTION("stop closes WebSockets with going_away and joins") {
    WsClient client;
    REQUIRE(!client.open(port, "/api/v1/ws"));
    net::io_context ioc;
    tcp::socket idle(ioc);
    idle.connect(endpoint(port));
    const auto started = std::chrono::steady_clock::now();
    auto stopped = std::async(std::launch::async, [&] { server.reset(); });
    beast::flat_buffer buffer;
    beast::error_code ec;
    client.ws.read(buffer, ec);
    CHECK(ec == websocket::error::closed);
    CHECK(client.ws.reason().code == websocket::close_code::going_away);
    REQUIRE(stopped.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    tcp::socket late(ioc);
    late.connect(endpoint(port), ec);
    CHECK(ec);
  }
}
