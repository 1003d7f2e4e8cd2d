// The events API over HTTP on both back ends: the server in-process on an ephemeral loopback port, spoken to
// with Beast.
#include <memory>
#include <string>

#include <fmt/format.h>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "event_store.hpp"
#include "monitor_support.hpp"
#include "server_client.hpp"
#include "store_backends.hpp"

using maskdetect::server::EventStore;
using maskdetect::server::Privacy;
using maskdetect::test::sample_image;
using maskdetect::test::sample_track;
using server_test::fetch;
using server_test::Response;

namespace {

void events_api(maskdetect::test::Backend backend) {
  MASKDETECT_REQUIRE_DATA(sample_image());
  const cv::Mat frame = cv::imread(sample_image().string());
  REQUIRE(!frame.empty());
  auto where = maskdetect::test::StoreLocation::make(backend);
  if (!where) return;
  const double now = maskdetect::server::unix_now();
  const std::string token = "t0ken";
  auto start_server = [&](std::shared_ptr<EventStore> store) {
    maskdetect::server::ServerOptions options;
    options.port = 0;
    options.io_threads = 1;
    options.inference_workers = 1;
    options.token = token;
    options.events = std::move(store);
    auto server = std::make_unique<maskdetect::server::Server>(options);
    server->start();
    return server;
  };

  std::int64_t blurred_id = 0;
  {
    std::shared_ptr<EventStore> store = where->open();
    for (int i = 0; i < 5; ++i)
      (void)store->record(sample_track(frame, i < 3 ? "door" : "hall", i, "no_mask", now - 50.0 + i), Privacy::full);
    auto blurred = sample_track(frame, "hall", 9, "incorrect", now - 10.0);
    blurred.previous_label = "mask";
    blurred_id = store->record(blurred, Privacy::blur).id;
    auto server = start_server(store);
    const unsigned short port = server->port();

    CHECK(fetch(port, http::verb::get, "/api/v1/events").result_int() == 401);
    Response res = fetch(port, http::verb::get, "/api/v1/events", token);
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "application/json");
    json doc = json::parse(res.body());
    REQUIRE(doc["events"].size() == 6);
    CHECK(doc["events"][0]["id"] == blurred_id);  // newest first
    CHECK(doc["events"][0]["crop"].is_null());
    CHECK(doc["events"][0]["privacy"] == "blur");
    CHECK(doc["events"][0]["box"] == json::array({79, 105, 30, 37}));  // who: the face in the frame
    CHECK(doc["events"][0]["frame_size"] == json::array({frame.cols, frame.rows}));
    CHECK(doc["events"][0]["previous_label"] == "mask");
    CHECK(doc["events"][1]["previous_label"].is_null());
    CHECK(doc["next"].is_null());

    doc = json::parse(fetch(port, http::verb::get, "/api/v1/events?camera=door&limit=2", token).body());
    REQUIRE(doc["events"].size() == 2);
    CHECK(doc["events"][0]["track_id"] == 2);
    CHECK(doc["events"][1]["track_id"] == 1);
    REQUIRE(doc["next"].is_string());
    doc = json::parse(fetch(port, http::verb::get, doc["next"].get<std::string>(), token).body());
    REQUIRE(doc["events"].size() == 1);
    CHECK(doc["events"][0]["track_id"] == 0);
    CHECK(doc["events"][0]["camera"] == "door");
    CHECK(doc["next"].is_null());

    doc = json::parse(fetch(port, http::verb::get, "/api/v1/events?label=incorrect", token).body());
    CHECK(doc["events"].size() == 1);
    doc = json::parse(
        fetch(port, http::verb::get, fmt::format("/api/v1/events?since={}&until={}", now - 48.5, now - 46.5), token)
            .body());
    CHECK(doc["events"].size() == 2);

    const json first = json::parse(
        fetch(port, http::verb::get, "/api/v1/events?limit=1&camera=hall&label=no_mask", token).body())["events"][0];
    const std::int64_t id = first["id"];
    doc = json::parse(fetch(port, http::verb::get, fmt::format("/api/v1/events/{}", id), token).body());
    CHECK(doc == first);
    res = fetch(port, http::verb::get, doc["snapshot"].get<std::string>(), token);
    REQUIRE(res.result_int() == 200);
    CHECK(res[http::field::content_type] == "image/jpeg");
    const cv::Mat snapshot =
        cv::imdecode(cv::Mat(1, static_cast<int>(res.body().size()), CV_8UC1, res.body().data()), cv::IMREAD_COLOR);
    CHECK(snapshot.size() == frame.size());
    res = fetch(port, http::verb::get, doc["crop"].get<std::string>(), token);
    REQUIRE(res.result_int() == 200);
    CHECK(cv::imdecode(cv::Mat(1, static_cast<int>(res.body().size()), CV_8UC1, res.body().data()), cv::IMREAD_COLOR)
              .size() == cv::Size(30, 37));
    CHECK(fetch(port, http::verb::get, fmt::format("/api/v1/events/{}/crop.jpg", blurred_id), token).result_int() ==
          404);

    // Errors: bad parameters, unknown ids and paths, methods.
    CHECK(fetch(port, http::verb::get, "/api/v1/events?limit=0", token).result_int() == 400);
    CHECK(fetch(port, http::verb::get, "/api/v1/events?label=hat", token).result_int() == 400);
    CHECK(fetch(port, http::verb::get, "/api/v1/events?since=yesterday", token).result_int() == 400);
    CHECK(fetch(port, http::verb::get, "/api/v1/events/999999", token).result_int() == 404);
    CHECK(fetch(port, http::verb::get, "/api/v1/events/abc", token).result_int() == 404);
    CHECK(fetch(port, http::verb::get, fmt::format("/api/v1/events/{}/face.png", id), token).result_int() == 404);
    res = fetch(port, http::verb::post, "/api/v1/events", token);
    CHECK(res.result_int() == 405);
    CHECK(res[http::field::allow] == "GET");

    // DELETE with the token removes the row and its files.
    CHECK(fetch(port, http::verb::delete_, fmt::format("/api/v1/events/{}", id)).result_int() == 401);
    CHECK(fetch(port, http::verb::delete_, fmt::format("/api/v1/events/{}", id), token).result_int() == 200);
    CHECK(fetch(port, http::verb::get, fmt::format("/api/v1/events/{}", id), token).result_int() == 404);
    CHECK(fetch(port, http::verb::delete_, fmt::format("/api/v1/events/{}", id), token).result_int() == 404);
    server->stop();
  }

  // A restart: a new store on the same folder or database serves the same events.
  std::shared_ptr<EventStore> store = where->open();
  auto server = start_server(store);
  const json doc = json::parse(fetch(server->port(), http::verb::get, "/api/v1/events", token).body());
  CHECK(doc["events"].size() == 5);
  CHECK(doc["events"][0]["id"] == blurred_id);
  server->stop();
}

}  // namespace

STORE_TEST("events API: list and filter and page and get and images and delete with the token and a restart",
           events_api)

TEST_CASE("events API: no store gives 404, DELETE without a configured token gives 403", "[monitor]") {
  maskdetect::test::TempDir dir;
  maskdetect::server::ServerOptions options;
  options.port = 0;
  options.io_threads = 1;
  options.inference_workers = 1;
  {
    maskdetect::server::Server server(options);
    server.start();
    CHECK(fetch(server.port(), http::verb::get, "/api/v1/events").result_int() == 404);
    server.stop();
  }
  options.events = maskdetect::server::open_event_store(EventStore::Options{.dir = dir.path()});
  maskdetect::server::Server server(options);
  server.start();
  const Response res = fetch(server.port(), http::verb::get, "/api/v1/events");
  CHECK(res.result_int() == 200);
  CHECK(json::parse(res.body())["events"].empty());
  CHECK(fetch(server.port(), http::verb::delete_, "/api/v1/events/1").result_int() == 403);
  server.stop();
}
