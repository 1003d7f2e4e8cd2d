// session.hpp - the connection classes' entry points (Beast). Internal to the server library.
//
// Listener (server.cpp) accepts a socket on its own strand and hands it to an HTTP session
// (http_session.cpp). On an authorised WebSocket upgrade the HTTP session hands its socket, the request
// and its session slot to a WebSocket session (websocket_session.cpp). Each is kept alive by
// shared_from_this; every async step is a do_x / on_x pair on the connection's strand.
#pragma once

#include <cstddef>
#include <memory>
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

/// Starts an HTTP session on an accepted socket (whose executor is its strand). `over_capacity`: the
/// session answers 503 too_many_sessions to its first request and closes.
void start_http_session(tcp::socket socket, std::shared_ptr<ServerState> state, bool over_capacity);

/// Which WebSocket endpoint was asked for.
struct WebSocketRoute {
  bool camera = true;         ///< /api/v1/ws: the browser sends frames; else a server stream's detections
  std::size_t stream_id = 0;  ///< /api/v1/streams/<id>/ws
  float threshold = 0.5f;     ///< camera: initial face threshold (?threshold=)
};

/// Takes over an upgraded connection: accepts the WebSocket handshake for `request` and serves `route`.
void start_websocket_session(tcp::socket socket, Request request, std::shared_ptr<ServerState> state, SessionSlot slot,
                             WebSocketRoute route);

}  // namespace maskdetect::server::detail
