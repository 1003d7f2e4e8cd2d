// video::redact_url: credentials never reach a message, a log line or the API.
#include <catch2/catch.hpp>

#include "maskdetect/video/frame_source.hpp"

using maskdetect::video::redact_url;

TEST_CASE("redact_url hides the password of the userinfo and keeps the rest") {
  CHECK(redact_url("rtsp://admin:S3cretPw@10.0.0.7:554/stream1") == "rtsp://admin:***@10.0.0.7:554/stream1");
  CHECK(redact_url("http://admin:p@ss@host/cam?x=1") == "http://admin:***@host/cam?x=1");
  CHECK(redact_url("http://tokenonly@host/") == "http://***@host/");
}

TEST_CASE("redact_url hides secret query parameters, whatever their case") {
  CHECK(redact_url("http://host/mjpg?user=bob&PASSWORD=hunter2&fps=5") ==
        "http://host/mjpg?user=bob&PASSWORD=***&fps=5");
  CHECK(redact_url("/api/v1/ws?token=abc123") == "/api/v1/ws?token=***");
  CHECK(redact_url("http://host/a?token=abc#frag") == "http://host/a?token=***#frag");
}

TEST_CASE("redact_url leaves URLs without secrets, files and devices alone") {
  for (const char* text : {"rtsp://10.0.0.7/stream", "clip.mp4", "/dev/video0", "0", "photos/*.jpg",
                           "http://host/a?fps=5&size=640", "http://host/user@example/path", ""}) {
    CHECK(redact_url(text) == text);
  }
}
