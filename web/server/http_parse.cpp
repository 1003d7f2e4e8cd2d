#include "http_parse.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

namespace maskdetect::server::detail {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

char lower_char(char c) noexcept { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_char(x) == lower_char(y); });
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

bool valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0U) == 0xC0U) {
      len = 2;
      cp = c & 0x1FU;
      min = 0x80;
    } else if ((c & 0xF0U) == 0xE0U) {
      len = 3;
      cp = c & 0x0FU;
      min = 0x800;
    } else if ((c & 0xF8U) == 0xF0U) {
      len = 4;
      cp = c & 0x07U;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool parse_target(std::string_view raw, Target& target) {
  const auto qmark = raw.find('?');
  const std::string_view path = raw.substr(0, qmark);
  if (path.empty() || path.front() != '/') return false;
  if (!percent_decode(path, false, target.path)) return false;
  for (const char c : target.path) {
    if (c == '\0' || c == '\\') return false;
  }
  if (!valid_utf8(target.path)) return false;
  // Reject any ".." segment.
  std::size_t start = 0;
  while (start <= target.path.size()) {
    const auto slash = target.path.find('/', start);
    const auto end = slash == std::string::npos ? target.path.size() : slash;
    if (target.path.compare(start, end - start, "..") == 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  target.query.clear();
  if (qmark == std::string_view::npos) return true;
  std::string_view query = raw.substr(qmark + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), true, key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value)) return false;
    target.query[key] = value;
  }
  return true;
}

std::string printable(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4U];
      out += kHex[u & 0xFU];
    }
  }
  return out;
}

std::string error_json(unsigned status, std::string_view code, std::string_view message) {
  const nlohmann::json doc = {{"error", {{"status", status}, {"code", code}, {"message", message}}}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view bearer_token(std::string_view authorization) noexcept {
  authorization = trim(authorization);
  constexpr std::string_view kBearer = "bearer";
  if (authorization.size() <= kBearer.size() || !iequals(authorization.substr(0, kBearer.size()), kBearer)) return {};
  const char sep = authorization[kBearer.size()];
  if (sep != ' ' && sep != '\t') return {};
  return trim(authorization.substr(kBearer.size() + 1));
}

bool authorized(std::string_view expected, std::string_view authorization, std::string_view query_token) noexcept {
  if (expected.empty()) return true;
  std::string_view presented = bearer_token(authorization);
  if (presented.empty()) presented = query_token;
  // Every byte of the expected token is compared, whatever the presented one holds; the time depends on the
  // expected token's length only.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char p = i < presented.size() ? presented[i] : '\0';
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(p) ^ static_cast<unsigned char>(expected[i])));
  }
  return diff == 0;
}

bool parse_threshold(const std::string& text, float fallback, float& out) {
  if (text.empty()) {
    out = fallback;
    return true;
  }
  float value = 0.0f;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0.0f || value > 1.0f)
    return false;
  out = value;
  return true;
}

std::string media_type(std::string_view value) {
  value = trim(value.substr(0, value.find(';')));
  std::string out(value);
  std::transform(out.begin(), out.end(), out.begin(), lower_char);
  return out;
}

std::optional<std::string> header_param(std::string_view value, std::string_view name) {
  std::size_t i = value.find(';');
  if (i == std::string_view::npos) return std::nullopt;
  ++i;
  while (i < value.size()) {
    const std::size_t key_end = value.find_first_of("=;", i);
    if (key_end == std::string_view::npos) return std::nullopt;
    const std::string_view key = trim(value.substr(i, key_end - i));
    i = key_end + 1;
    if (value[key_end] == ';') continue;  // a parameter without a value
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    std::string out;
    if (i < value.size() && value[i] == '"') {
      ++i;
      while (i < value.size() && value[i] != '"') {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        out += value[i++];
      }
      if (i >= value.size()) return std::nullopt;  // unterminated quote
      const std::size_t next = value.find(';', i);
      i = next == std::string_view::npos ? value.size() : next + 1;
    } else {
      const std::size_t next = value.find(';', i);
      out = std::string(trim(value.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i)));
      i = next == std::string_view::npos ? value.size() : next + 1;
    }
    if (iequals(key, name)) return out;
  }
  return std::nullopt;
}

std::optional<std::string_view> multipart_image(std::string_view content_type, std::string_view body,
                                                std::string& error) {
  const auto boundary = header_param(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 70) {
    error = "multipart/form-data without a valid boundary parameter";
    return std::nullopt;
  }
  const std::string delimiter = "--" + *boundary;
  // The first delimiter line (a preamble before it is allowed).
  std::size_t pos = body.starts_with(delimiter) ? 0 : body.find("\r\n" + delimiter);
  if (pos == std::string_view::npos) {
    error = "multipart body without its boundary";
    return std::nullopt;
  }
  if (pos != 0) pos += 2;
  std::optional<std::string_view> first_file;
  const std::string next_delimiter = "\r\n" + delimiter;
  for (int parts = 0; parts < 64; ++parts) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") break;  // the close delimiter
    const auto line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) break;
    const auto headers_end = body.find("\r\n\r\n", line_end);
    if (headers_end == std::string_view::npos) break;
    const std::string_view headers = body.substr(line_end + 2, headers_end - line_end);
    const std::size_t content_start = headers_end + 4;
    const auto content_end = body.find(next_delimiter, content_start);
    if (content_end == std::string_view::npos) break;
    const std::string_view content = body.substr(content_start, content_end - content_start);

    std::string name;
    bool has_filename = false;
    bool image_type = false;
    std::size_t h = 0;
    while (h < headers.size()) {
      const auto eol = headers.find("\r\n", h);
      const std::string_view line = headers.substr(h, eol == std::string_view::npos ? eol : eol - h);
      h = eol == std::string_view::npos ? headers.size() : eol + 2;
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view field = trim(line.substr(0, colon));
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(field, "content-disposition")) {
        name = header_param(value, "name").value_or("");
        has_filename = header_param(value, "filename").has_value();
      } else if (iequals(field, "content-type")) {
        image_type = media_type(value).starts_with("image/");
      }
    }
    if (name == "image" || name == "file") return content;
    if (!first_file && (has_filename || image_type)) first_file = content;
    pos = content_end + 2;
  }
  if (first_file) return first_file;
  error = "the multipart body has no part named \"image\" or \"file\", nor any file part";
  return std::nullopt;
}

bool split_stream_path(std::string_view tail, std::size_t& id, std::string_view& rest) {
  const auto slash = tail.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view digits = tail.substr(0, slash);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  rest = tail.substr(slash + 1);
  return true;
}

std::optional<float> parse_control_message(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  const auto it = doc.find("threshold");
  if (it == doc.end() || !it->is_number()) return std::nullopt;
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0.0 || value > 1.0) return std::nullopt;
  return static_cast<float>(value);
}

namespace {

/// Unix seconds (an integer or a decimal number, nothing around it); false when malformed or out of range.
bool parse_seconds(const std::string& text, std::int64_t& out) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || std::fabs(v) > 1e13)
    return false;
  out = static_cast<std::int64_t>(std::floor(v));
  return true;
}

}  // namespace

std::string percent_encode(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    }
  }
  return out;
}

std::optional<std::string> parse_history_params(const Target& target, double now, HistoryParams& out) {
  out.camera = target.param("camera");
  out.step_s = 60;
  if (const std::string step = target.param("step"); !step.empty()) {
    const auto [end, ec] = std::from_chars(step.data(), step.data() + step.size(), out.step_s);
    if (ec != std::errc() || end != step.data() + step.size() || out.step_s < 60 || out.step_s % 60 != 0)
      return "step must be a whole number of seconds, a multiple of 60";
  }
  out.until = static_cast<std::int64_t>(std::ceil(now));
  if (const std::string until = target.param("until"); !until.empty() && !parse_seconds(until, out.until))
    return "until must be a Unix time in seconds";
  out.since = out.until - 3600;
  if (const std::string since = target.param("since"); !since.empty() && !parse_seconds(since, out.since))
    return "since must be a Unix time in seconds";
  if (out.since >= out.until) return "since must be before until";
  // Both within +-1e13 s, so the difference cannot overflow; step_s >= 60.
  if ((out.until - out.since + out.step_s - 1) / out.step_s > kMaxHistoryPoints)
    return "at most " + std::to_string(kMaxHistoryPoints) + " points per camera: widen step or narrow since..until";
  return std::nullopt;
}

}  // namespace maskdetect::server::detail
