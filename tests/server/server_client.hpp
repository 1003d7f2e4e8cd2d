// Helpers of the server integration tests: a started server on 127.0.0.1 port 0, and HTTP / WebSocket
// clients written with Beast.
#pragma once
#include <array>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "maskdetect/config.hpp"
#include "server.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using maskdetect::server::Server;
using maskdetect::server::ServerOptions;
using nlohmann::json;

namespace server_test {

inline fs::path images_dir() { return maskdetect::test::andrewmvd_dir() / "images"; }

/// Dataset images with several faces each (annotations: 3+ faces).
inline const std::vector<std::string>& sample_names() {
  static const std::vector<std::string> names{"maksssksksss0.jpg", "maksssksksss1.jpg", "maksssksksss10.jpg"};
  return names;
}

using maskdetect::test::read_text;

inline ServerOptions test_options() {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  options.inference_workers = 1;
  options.max_fps = 0.0;
  return options;
}

/// A started server, stopped on scope exit.
class TestServer {
 public:
  explicit TestServer(ServerOptions options) : server_(std::make_unique<Server>(std::move(options))) {
    server_->start();
  }
  ~TestServer() { server_->stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  [[nodiscard]] unsigned short port() const { return server_->port(); }
  Server& server() { return *server_; }

 private:
  std::unique_ptr<Server> server_;
};

inline tcp::endpoint endpoint(unsigned short port) { return {net::ip::make_address("127.0.0.1"), port}; }

using Response = http::response<http::string_body>;

struct Request {
  http::verb verb = http::verb::get;
  std::string target = "/";
  std::string body;
  std::string content_type;
  std::string token;
};

/// One request on an open stream; reads the answer (its headers alone for HEAD).
inline Response exchange(tcp::socket& socket, const Request& r) {
  http::request<http::string_body> req{r.verb, r.target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
  if (!r.token.empty()) req.set(http::field::authorization, "Bearer " + r.token);
  req.body() = r.body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{64} << 20);
  if (r.verb == http::verb::head) parser.skip(true);
  http::read(socket, buffer, parser);
  return parser.release();
}

/// A request on a fresh connection.
inline Response fetch(unsigned short port, const Request& r) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(endpoint(port));
  Response res = exchange(socket, r);
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  return res;
}

/// A request without a body on a fresh connection, with a bearer token unless `token` is empty.
inline Response fetch(unsigned short port, http::verb verb, const std::string& target, const std::string& token = {}) {
  return fetch(port, Request{.verb = verb, .target = target, .body = {}, .content_type = {}, .token = token});
}

inline Response get(unsigned short port, const std::string& target, const std::string& token = {}) {
  return fetch(port, http::verb::get, target, token);
}

inline Response post_image(unsigned short port, const std::string& target, std::string body,
                           const std::string& type = "image/jpeg", const std::string& token = {}) {
  return fetch(
      port,
      Request{
          .verb = http::verb::post, .target = target, .body = std::move(body), .content_type = type, .token = token});
}

/// Checks the JSON error shape and returns its code.
inline std::string error_code(const Response& res) {
  INFO(res.body());
  CHECK(res[http::field::content_type] == "application/json");
  const json doc = json::parse(res.body());
  REQUIRE(doc.contains("error"));
  CHECK(doc["error"]["status"].get<unsigned>() == res.result_int());
  CHECK(!doc["error"]["message"].get<std::string>().empty());
  return doc["error"]["code"].get<std::string>();
}

/// Sends raw bytes and reads one answer; an empty optional when the server closed without answering.
inline std::optional<Response> try_raw_request(unsigned short port, const std::string& text) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(endpoint(port));
  net::write(socket, net::buffer(text));
  beast::flat_buffer buffer;
  Response res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  if (ec) return std::nullopt;
  return res;
}

/// Sends raw bytes and reads one answer; throws when the server closed without answering.
inline Response raw_request(unsigned short port, const std::string& text) {
  std::optional<Response> res = try_raw_request(port, text);
  if (!res) throw std::runtime_error("the server closed the connection without answering");
  return std::move(*res);
}

/// A WebSocket upgrade request sent as raw HTTP; returns the answer (101 on success).
inline Response upgrade(unsigned short port, const std::string& target) {
  return raw_request(port, "GET " + target +
                               " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
}

struct WsClient {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};

  /// Connects and performs the handshake; returns the handshake error (and the HTTP answer in `res`).
  beast::error_code open(unsigned short port, const std::string& target, const std::string& token = {}) {
    ws.next_layer().connect(endpoint(port));
    if (!token.empty()) {
      ws.set_option(websocket::stream_base::decorator(
          [token](websocket::request_type& req) { req.set(http::field::authorization, "Bearer " + token); }));
    }
    beast::error_code ec;
    ws.handshake(handshake_response, "127.0.0.1", target, ec);
    return ec;
  }
  std::string send_binary(const std::string& bytes) {
    ws.binary(true);
    ws.write(net::buffer(bytes));
    return read();
  }
  std::string send_text(const std::string& text) {
    ws.text(true);
    ws.write(net::buffer(text));
    return read();
  }
  std::string read() {
    beast::flat_buffer buffer;
    ws.read(buffer);
    return beast::buffers_to_string(buffer.data());
  }
  websocket::response_type handshake_response;
};

inline std::string sample_jpeg(std::size_t i = 0) { return read_text(images_dir() / sample_names().at(i)); }

/// The first 200 bytes of a PNG of the sample: a sound header, then too little pixel data to decode.
inline std::string truncated_png() {
  const cv::Mat image = cv::imread((images_dir() / sample_names().at(0)).string(), cv::IMREAD_COLOR);
  std::vector<unsigned char> png;
  cv::imencode(".png", image, png);
  return {png.begin(), png.begin() + 200};
}

}  // namespace server_test
