// http_parse.hpp - the server's parsing of untrusted request data as pure functions: request target and
// query, Authorization, Content-Type, multipart/form-data bodies, WebSocket control messages, error JSON.
// No I/O and no Beast: the sessions call them, and so do the libFuzzer harnesses in tests/fuzz/server/.
// Internal to the server library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace maskdetect::server::detail {

/// A request target split into a percent-decoded path and query parameters.
struct Target {
  std::string path;
  std::unordered_map<std::string, std::string> query;
  [[nodiscard]] std::string param(const std::string& key) const {
    const auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  }
};

/// Parses an origin-form target. False for a malformed one: not starting with '/', a bad %-escape, a NUL or
/// backslash, a path that is not valid UTF-8 once decoded (overlong forms such as %c0%ae included), or a ".."
/// path segment (no path traversal, escaped or not).
[[nodiscard]] bool parse_target(std::string_view raw, Target& target);

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
[[nodiscard]] bool valid_utf8(std::string_view text) noexcept;

/// `text` safe for a log line: bytes outside printable ASCII (controls, escape sequences, invalid UTF-8)
/// written as \xNN, so that a request cannot forge log lines or drive a terminal.
[[nodiscard]] std::string printable(std::string_view text);

/// {"error": {"status": 404, "code": "not_found", "message": "..."}}. Never throws on invalid UTF-8 in
/// `message` (such bytes become U+FFFD).
[[nodiscard]] std::string error_json(unsigned status, std::string_view code, std::string_view message);

/// The credentials of an Authorization header with the Bearer scheme (any case, RFC 7235), else empty.
[[nodiscard]] std::string_view bearer_token(std::string_view authorization) noexcept;

/// Constant-time comparison (in the presented token's content) of a presented token with `expected`; true
/// when `expected` is empty (no token configured). The Authorization header wins over `query_token` (the
/// ?token= parameter: browsers cannot set headers on a WebSocket or an <img>).
[[nodiscard]] bool authorized(std::string_view expected, std::string_view authorization,
                              std::string_view query_token) noexcept;

/// A threshold parameter: empty text gives `fallback`; false for a value that is not a number in [0, 1].
[[nodiscard]] bool parse_threshold(const std::string& text, float fallback, float& out);

/// The media type of a Content-Type value, lower case, without parameters or spaces.
[[nodiscard]] std::string media_type(std::string_view value);

/// A parameter of a header value such as Content-Type ("boundary"), unquoted; nullopt when absent.
[[nodiscard]] std::optional<std::string> header_param(std::string_view value, std::string_view name);

/// multipart/form-data (RFC 7578): the content of the part named "image" or "file", else of the first part
/// that carries a file (a filename or an image/* type). nullopt with `error` set when the body is malformed or
/// holds no such part. The view points into `body`.
[[nodiscard]] std::optional<std::string_view> multipart_image(std::string_view content_type, std::string_view body,
                                                              std::string& error);

/// "<id>/<rest>" after /api/v1/streams/: the id and the rest; false when the id is not a number.
[[nodiscard]] bool split_stream_path(std::string_view tail, std::size_t& id, std::string_view& rest);

/// `text` as a query-parameter value: RFC 3986 unreserved characters kept, every other byte as %XX.
[[nodiscard]] std::string percent_encode(std::string_view text);

/// The most points GET /api/v1/history returns per camera ((until - since) / step).
inline constexpr std::int64_t kMaxHistoryPoints = 2000;

/// The parameters of GET /api/v1/history (camera, step, since, until), checked: step a whole number of seconds
/// and a multiple of 60 (default 60), since/until Unix seconds (defaults now - 3600 and now), since before
/// until, at most kMaxHistoryPoints steps. nullopt on success (`camera` .. `step_s` set), else the message of
/// a 400. Does not check that the camera exists.
struct HistoryParams {
  std::string camera;
  std::int64_t since = 0;
  std::int64_t until = 0;
  std::int64_t step_s = 60;
};
[[nodiscard]] std::optional<std::string> parse_history_params(const Target& target, double now, HistoryParams& out);

/// A WebSocket text control message {"threshold": x} with x in [0, 1]: x, else nullopt.
[[nodiscard]] std::optional<float> parse_control_message(std::string_view text);

}  // namespace maskdetect::server::detail
