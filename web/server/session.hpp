// session.hpp - the connection classes' entry points (Beast). Internal to the server library.
//
// Listener (server.cpp) accepts a socket on its own strand and hands it to an HTTP session
// (http_session.cpp). On an authorised WebSocket upgrade the HTTP session hands its socket, the request
// and its session slot to a WebSocket session (websocket_session.cpp). Each is kept alive by
// shared_from_this; every async step is a do_x / on_x pair on the connection's strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "state.hpp"

namespace maskdetect::server::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;

/// Logs a failed operation, unless it is a normal ending (closed stream, cancelled on stop, timeout).
void fail(beast::error_code ec, std::string_view what);

/// Starts an HTTP session on an accepted socket (whose executor is its strand). `admission` other than ok:
/// the session holds no slot, reads one request header within header_timeout, answers /healthz or 503
/// too_many_sessions, and closes.
void start_http_session(tcp::socket socket, std::shared_ptr<ServerState> state, SessionSlot slot,
                        ServerState::Admission admission);

/// Why image bytes from the network are refused before decoding: the HTTP status, the error code, a message.
struct ImageRejection {
  unsigned status = 400;
  std::string_view code;
  std::string message;
};

/// Checks image bytes from a client (REST body, WebSocket frame) on their header: 415
/// unsupported_image_format (not JPEG, PNG or WebP), 413 image_too_large (over max_pixels), 400 bad_image
/// (malformed header); nullopt when they may be decoded. Cheap: no decoding.
[[nodiscard]] std::optional<ImageRejection> check_image_bytes(const std::string& bytes, std::string_view name,
                                                              std::uint64_t max_pixels);

/// Which WebSocket endpoint was asked for.
struct WebSocketRoute {
  bool camera = true;         ///< /api/v1/ws: the browser sends frames; else a server stream's detections
  std::size_t stream_id = 0;  ///< /api/v1/streams/<id>/ws
  float threshold = 0.5f;     ///< camera: initial face threshold (?threshold=)
};

/// Takes over a connection whose request is for a camera another fleet worker runs: connects to that worker
/// (host:port, its --advertise-url), sends it the request, then relays bytes both ways until either side
/// closes (an MJPEG stream, a snapshot, a WebSocket). 502 owner_unreachable when it cannot connect.
void start_proxy_session(tcp::socket socket, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
                         std::string host, unsigned short port);

/// Takes over an upgraded connection: accepts the WebSocket handshake for `request` and serves `route`.
void start_websocket_session(tcp::socket socket, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
                             WebSocketRoute route);

}  // namespace maskdetect::server::detail
