// webhook_sender.cpp - libcurl POSTs with retries and an OpenSSL HMAC; see webhook_sender.hpp.
#include "webhook_sender.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "maskdetect/video/frame_source.hpp"
#include "state.hpp"

namespace maskdetect::server {

std::string hmac_sha256_hex(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

namespace {
std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }
}  // namespace

WebhookSender::WebhookSender(std::vector<WebhookConfig> hooks, std::size_t max_queue)
    : hooks_(std::move(hooks)), max_queue_(std::max<std::size_t>(1, max_queue)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  worker_ = std::thread([this] { run(); });
}

WebhookSender::~WebhookSender() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool WebhookSender::send(const std::string& camera, const std::string& json) {
  bool all = true;
  {
    const std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < hooks_.size(); ++i) {
      const auto& cams = hooks_[i].cameras;
      if (!cams.empty() && std::find(cams.begin(), cams.end(), camera) == cams.end()) continue;
      if (queue_.size() >= max_queue_) {
        ++counters_.dropped;
        all = false;
        continue;
      }
      queue_.push_back(Job{i, json});
    }
  }
  changed_.notify_all();
  return all;
}

WebhookSender::Counters WebhookSender::counters() const {
  const std::lock_guard lock(mutex_);
  return counters_;
}

void WebhookSender::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return stopping_ || (queue_.empty() && !busy_); });
}

void WebhookSender::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    const bool ok = deliver(hooks_[job.hook], job.body);
    lock.lock();
    busy_ = false;
    ++(ok ? counters_.delivered : counters_.failed);
    changed_.notify_all();
  }
}

bool WebhookSender::deliver(const WebhookConfig& hook, const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return false;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "User-Agent: maskdetect");
  if (!hook.secret.empty())
    headers = curl_slist_append(
        headers, fmt::format("X-Maskdetect-Signature: sha256={}", hmac_sha256_hex(hook.secret, body)).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, hook.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(hook.timeout_s * 1000.0));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  bool ok = false;
  std::string last_error;
  double backoff = hook.backoff_s;
  for (int attempt = 0; attempt <= hook.retries; ++attempt) {
    if (attempt > 0) {
      // Sleep the backoff, unless the sender is stopping.
      std::unique_lock lock(mutex_);
      if (changed_.wait_for(lock, std::chrono::duration<double>(backoff), [this] { return stopping_; })) break;
      backoff *= 2.0;
    }
    {
      const std::lock_guard lock(mutex_);
      ++counters_.attempts;
    }
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
      ok = true;
      break;
    }
    last_error = rc != CURLE_OK ? curl_easy_strerror(rc) : fmt::format("HTTP {}", status);
  }
  if (!ok)
    detail::log_line(fmt::format("webhook {}: not delivered after {} attempt(s): {}", video::redact_url(hook.url),
                                 hook.retries + 1, last_error));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return ok;
}

}  // namespace maskdetect::server
