// Fuzz target: an HTTP request as the server reads it. Beast parses the bytes (header and body limits as in
// the server); then the target, query, Authorization, Content-Type and multipart body go through the same
// functions the server calls (web/server/http_parse.hpp), the history query's parameters included, and the
// request line through the log redaction.
// Invariants checked: nothing throws, an accepted path is valid UTF-8 without a ".." segment, error JSON
// always parses, a multipart part lies inside the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "http_parse.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace http = boost::beast::http;
using namespace maskdetect::server::detail;  // NOLINT(google-build-using-namespace)

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void exercise_target(std::string_view raw) {
  Target target;
  if (parse_target(raw, target)) {
    check(!target.path.empty() && target.path.front() == '/');
    check(valid_utf8(target.path));
    check(target.path.find('\\') == std::string::npos);
    check(target.path != ".." && target.path.find("/../") == std::string::npos && !target.path.ends_with("/.."));
    float threshold = 0.0f;
    if (parse_threshold(target.param("threshold"), 0.5f, threshold)) check(threshold >= 0.0f && threshold <= 1.0f);
    (void)authorized("s3cret", "", target.param("token"));
    HistoryParams history;
    if (!parse_history_params(target, 1.7e9, history)) {  // accepted: a range the history store can answer
      check(history.step_s >= 60 && history.step_s % 60 == 0 && history.since < history.until);
      check((history.until - history.since + history.step_s - 1) / history.step_s <= kMaxHistoryPoints);
    }
  }
  // Error messages echo the path; the JSON must stay valid whatever the bytes.
  const std::string doc = error_json(404, "not_found", std::string("no file at ") + std::string(raw));
  check(!nlohmann::json::parse(doc, nullptr, false).is_discarded());
  const std::string line = printable(maskdetect::video::redact_url(raw));
  for (const char c : line) check(c >= 0x20 && c < 0x7F);
}

void exercise_body(std::string_view content_type, std::string_view body) {
  (void)media_type(content_type);
  (void)header_param(content_type, "boundary");
  std::string error;
  if (const auto part = multipart_image(content_type, body, error)) {
    check(part->data() >= body.data() && part->data() + part->size() <= body.data() + body.size());
  } else {
    check(!error.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's byte buffer

  // The raw bytes straight into each function.
  exercise_target(bytes);
  (void)bearer_token(bytes);
  (void)authorized("s3cret", bytes, "");
  exercise_body("multipart/form-data; boundary=b", bytes);

  // The bytes as an HTTP request, as the server receives it.
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 20);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  exercise_target(req.target());
  (void)authorized("s3cret", req[http::field::authorization], "");
  if (parser.is_done()) exercise_body(req[http::field::content_type], req.body());
  return 0;
}
