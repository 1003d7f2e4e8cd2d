// The server's pure parsing functions (web/server/http_parse.hpp), also driven by tests/fuzz/server/.
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http_parse.hpp"

using namespace maskdetect::server::detail;  // NOLINT(google-build-using-namespace)

TEST_CASE("valid_utf8 is strict", "[server][http_parse]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain /path"));
  CHECK(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK(!valid_utf8("\xc0\xae"));          // overlong '.'
  CHECK(!valid_utf8("\xe0\x80\xaf"));      // overlong '/'
  CHECK(!valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK(!valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK(!valid_utf8("\xff"));
  CHECK(!valid_utf8("\xc3"));  // truncated
}

TEST_CASE("parse_target refuses traversal, bad escapes and invalid UTF-8", "[server][http_parse]") {
  Target t;
  REQUIRE(parse_target("/api/v1/detect?threshold=0.5&annotated=1&x", t));
  CHECK(t.path == "/api/v1/detect");
  CHECK(t.param("threshold") == "0.5");
  CHECK(t.param("annotated") == "1");
  CHECK(t.param("x").empty());
  for (const char* bad : {"", "api", "/%c0%ae", "/%ff", "/..", "/a/%2e%2e/b", "/a\\b", "/%00", "/%z1", "/%4"}) {
    INFO(bad);
    CHECK(!parse_target(bad, t));
  }
}

TEST_CASE("error_json never throws on invalid UTF-8", "[server][http_parse]") {
  const std::string text = error_json(404, "not_found", "no file at /\xc0\xae\xff");
  const nlohmann::json doc = nlohmann::json::parse(text);
  CHECK(doc["error"]["status"] == 404);
  CHECK(doc["error"]["message"].get<std::string>().starts_with("no file at /"));
}

TEST_CASE("Authorization: the Bearer scheme in any case, the token compared whole", "[server][http_parse]") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer abc") == "abc");
  CHECK(bearer_token("BEARER   abc  ") == "abc");
  CHECK(bearer_token("Basic abc").empty());
  CHECK(bearer_token("Bearerabc").empty());
  CHECK(bearer_token("Bearer").empty());
  CHECK(authorized("", "", ""));
  CHECK(authorized("abc", "bearer abc", ""));
  CHECK(authorized("abc", "", "abc"));
  CHECK(!authorized("abc", "bearer ab", ""));
  CHECK(!authorized("abc", "bearer abcd", ""));
  CHECK(!authorized("abc", "", ""));
  CHECK(!authorized("abc", "Bearer wrong", "abc"));  // the header wins
}

TEST_CASE("header parameters and multipart bodies", "[server][http_parse]") {
  CHECK(media_type(" Multipart/Form-Data ; boundary=x") == "multipart/form-data");
  CHECK(header_param("multipart/form-data; boundary=abc", "boundary") == "abc");
  CHECK(header_param("multipart/form-data; charset=utf-8; BOUNDARY=\"a;b\\\"c\"", "boundary") == "a;b\"c");
  CHECK(!header_param("multipart/form-data; boundary=\"abc", "boundary"));
  CHECK(!header_param("multipart/form-data", "boundary"));
  CHECK(header_param("form-data; name=\"image\"; filename=\"a.jpg\"", "filename") == "a.jpg");

  std::string error;
  const std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
      "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
      "JPEGDATA\r\n--b--\r\n";
  const auto part = multipart_image("multipart/form-data; boundary=b", body, error);
  REQUIRE(part.has_value());
  CHECK(*part == "JPEGDATA");
  CHECK(!multipart_image("multipart/form-data", body, error));
  CHECK(!multipart_image("multipart/form-data; boundary=zz", body, error));
  CHECK(!multipart_image("multipart/form-data; boundary=b",
                         "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
                         "hi\r\n--b--\r\n",
                         error));
  CHECK(!error.empty());
}

TEST_CASE("WebSocket control messages", "[server][http_parse]") {
  CHECK(parse_control_message(R"({"threshold": 0.6})") == Approx(0.6f));
  CHECK(parse_control_message(R"({"threshold": 0})") == Approx(0.0f));
  for (const char* bad : {"", "x", "[]", R"({"threshold": "0.5"})", R"({"threshold": 1.5})", R"({"threshold": -1})",
                          R"({"threshold": 1e400})", R"({"t": 0.5})"}) {
    INFO(bad);
    CHECK(!parse_control_message(bad));
  }
}

TEST_CASE("printable escapes what could forge a log line", "[server][http_parse]") {
  CHECK(printable("GET /a?b=1") == "GET /a?b=1");
  CHECK(printable("/\xff\x1b[31m\n") == "/\\xff\\x1b[31m\\x0a");
  CHECK(printable("a\\b") == "a\\x5cb");
}

TEST_CASE("history parameters: defaults, steps of whole minutes, ranges the store can answer", "[server][http_parse]") {
  const double now = 1733300000.4;
  const auto params = [now](const std::string& target_text, HistoryParams& out) {
    Target target;
    REQUIRE(parse_target(target_text, target));
    return parse_history_params(target, now, out);
  };
  HistoryParams p;
  REQUIRE_FALSE(params("/api/v1/history", p));
  CHECK(p.camera.empty());
  CHECK(p.step_s == 60);
  CHECK(p.until == 1733300001);  // now, rounded up
  CHECK(p.since == p.until - 3600);
  REQUIRE_FALSE(params("/api/v1/history?camera=door&since=1733200000.9&until=1733290000&step=600", p));
  CHECK(p.camera == "door");
  CHECK(p.since == 1733200000);
  CHECK(p.until == 1733290000);
  CHECK(p.step_s == 600);
  for (const char* bad : {"step=90", "step=0", "step=-60", "step=60s", "step=1e2", "since=yesterday", "since=nan",
                          "until=1e300", "since=%205", "since=1733300000&until=1733300000",
                          "since=0&until=1733300000"}) {  // the last: 28 million minutes > kMaxHistoryPoints
    INFO(bad);
    const auto error = params(std::string("/api/v1/history?") + bad, p);
    REQUIRE(error);
    CHECK_FALSE(error->empty());
  }
  // The widest range of one-minute steps is accepted; one more step is not.
  const std::string until = std::to_string(1733300000 + 60 * kMaxHistoryPoints);
  CHECK_FALSE(params("/api/v1/history?since=1733300000&until=" + until, p));
  CHECK(params("/api/v1/history?since=1733299999&until=" + until, p));
}

TEST_CASE("percent_encode keeps unreserved characters and escapes every other byte", "[server][http_parse]") {
  CHECK(percent_encode("door-1_a.b~") == "door-1_a.b~");
  CHECK(percent_encode("a&b=c d/%") == "a%26b%3Dc%20d%2F%25");
  CHECK(percent_encode("\xff\x01") == "%FF%01");
  Target t;  // what it writes decodes back to the same value
  REQUIRE(parse_target("/x?v=" + percent_encode("caf\xc3\xa9 & co"), t));
  CHECK(t.param("v") == "caf\xc3\xa9 & co");
}
