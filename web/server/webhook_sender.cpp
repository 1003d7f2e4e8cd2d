// webhook_sender.cpp - libcurl POSTs (multi interface, so that a stop interrupts an attempt at once) with
// retries kept in the outbox, and an OpenSSL HMAC; see webhook_sender.hpp.
#include "webhook_sender.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "event_store.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "state.hpp"

namespace maskdetect::server {

std::string hmac_sha256_hex(std::string_view secret, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex;
  hex.reserve(std::size_t{length} * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

namespace {

std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

/// Longest wait between two attempts of a delivery.
constexpr double kMaxBackoffS = 3600.0;

/// A 4xx answer that retrying cannot change (408 timeout, 425 too early and 429 too many requests can).
bool refused(long status) { return status >= 400 && status < 500 && status != 408 && status != 425 && status != 429; }

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

struct WebhookSender::Hook {
  Hook() = default;
  ~Hook() {
    curl_easy_cleanup(curl);
    curl_multi_cleanup(multi);
  }
  Hook(const Hook&) = delete;
  Hook& operator=(const Hook&) = delete;
  WebhookConfig config;
  std::string name;
  std::string target;  ///< outbox key
  std::string where;   ///< the URL with credentials hidden, for logs
  CURL* curl = nullptr;
  CURLM* multi = nullptr;
  std::condition_variable wake_cv;
  bool wake = false;  ///< something was queued since the worker last looked
  bool idle = false;  ///< the worker found the outbox empty and waits
  Counters counters;
  std::thread worker;
};

std::string WebhookSender::target_for(std::string_view url, std::size_t occurrence) {
  std::string key = "webhook:" + sha256_hex(url).substr(0, 16);
  if (occurrence > 0) key += fmt::format("#{}", occurrence);
  return key;
}

WebhookSender::WebhookSender(std::vector<WebhookConfig> hooks, std::shared_ptr<Outbox> outbox)
    : outbox_(std::move(outbox)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::vector<std::string> names;
  for (const WebhookConfig& h : hooks)
    if (!h.name.empty()) names.push_back(h.name);
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    auto hook = std::make_unique<Hook>();
    hook->config = std::move(hooks[i]);
    hook->name = hook->config.name;
    if (hook->name.empty()) {  // "webhook<index>", unless another webhook took that name
      hook->name = fmt::format("webhook{}", i);
      for (int k = 2; std::find(names.begin(), names.end(), hook->name) != names.end(); ++k)
        hook->name = fmt::format("webhook{}-{}", i, k);
      names.push_back(hook->name);
    }
    std::size_t occurrence = 0;
    for (const auto& earlier : hooks_) occurrence += earlier->config.url == hook->config.url ? 1U : 0U;
    hook->target = target_for(hook->config.url, occurrence);
    hook->where = video::redact_url(hook->config.url);
    hook->curl = curl_easy_init();
    hook->multi = curl_multi_init();
    if (hook->curl == nullptr || hook->multi == nullptr)
      throw Error(Errc::internal, "webhooks: cannot create a libcurl handle");
    hooks_.push_back(std::move(hook));
  }
  // Deliveries of a previous run: those of webhooks still configured go out first; the others are deleted.
  for (const std::string& target : outbox_->targets()) {
    const auto it =
        std::find_if(hooks_.begin(), hooks_.end(), [&](const auto& hook) { return hook->target == target; });
    if (it == hooks_.end()) {
      const std::size_t n = outbox_->clear(target);
      detail::log_line(fmt::format("webhooks: {} delivery(ies) to a webhook no longer configured deleted", n));
    } else if (const std::size_t n = outbox_->size(target); n > 0) {
      detail::log_line(fmt::format("webhook {} ({}): {} delivery(ies) left by the last run are sent first", (*it)->name,
                                   (*it)->where, n));
    }
  }
  for (auto& hook : hooks_) hook->worker = std::thread([this, h = hook.get()] { run(*h); });
}

WebhookSender::~WebhookSender() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  for (auto& hook : hooks_) {
    hook->wake_cv.notify_all();
    curl_multi_wakeup(hook->multi);  // ends an attempt's wait for the network now
  }
  for (auto& hook : hooks_)
    if (hook->worker.joinable()) hook->worker.join();
}

std::size_t WebhookSender::send(const std::string& camera, const std::string& json) {
  std::size_t queued = 0;
  for (auto& hook : hooks_) {
    const auto& cams = hook->config.cameras;
    if (!cams.empty() && std::find(cams.begin(), cams.end(), camera) == cams.end()) continue;
    std::int64_t dropped = 0;
    try {
      dropped =
          outbox_->push(hook->target, json, unix_now(), static_cast<std::size_t>(hook->config.max_pending)).dropped;
      ++queued;
    } catch (const std::exception& e) {
      dropped = 1;
      detail::log_line(fmt::format("webhook {}: an event could not be queued: {}", hook->name, e.what()));
    }
    bool first_drop = false;
    {
      const std::lock_guard lock(mutex_);
      first_drop = dropped > 0 && hook->counters.dropped == 0;
      hook->counters.dropped += dropped;
      hook->wake = true;
      hook->idle = false;
    }
    if (first_drop)  // logged the first time only; then the metric tells
      detail::log_line(fmt::format("webhook {} ({}): over {} deliveries waiting, the oldest are dropped", hook->name,
                                   hook->where, hook->config.max_pending));
    hook->wake_cv.notify_all();
  }
  return queued;
}

WebhookSender::Counters WebhookSender::counters(std::size_t index) const {
  Counters c;
  const Hook& hook = *hooks_.at(index);
  {
    const std::lock_guard lock(mutex_);
    c = hook.counters;
  }
  try {
    c.pending = outbox_->size(hook.target);
  } catch (const std::exception&) {
    c.pending = 0;
  }
  return c;
}

WebhookSender::Counters WebhookSender::totals() const {
  Counters sum;
  for (std::size_t i = 0; i < hooks_.size(); ++i) {
    const Counters c = counters(i);
    sum.delivered += c.delivered;
    sum.failed += c.failed;
    sum.attempts += c.attempts;
    sum.dropped += c.dropped;
    sum.pending += c.pending;
  }
  return sum;
}

const std::string& WebhookSender::name(std::size_t index) const { return hooks_.at(index)->name; }

void WebhookSender::drain() {
  std::unique_lock lock(mutex_);
  idle_cv_.wait(lock, [this] {
    return stopping_ || std::all_of(hooks_.begin(), hooks_.end(), [](const auto& hook) { return hook->idle; });
  });
}

void WebhookSender::run(Hook& hook) {
  bool read_failed = false;
  for (;;) {
    std::optional<OutboxItem> item;
    try {
      item = outbox_->oldest(hook.target);
      read_failed = false;
    } catch (const std::exception& e) {
      if (!read_failed) detail::log_line(fmt::format("webhook {}: the outbox cannot be read: {}", hook.name, e.what()));
      read_failed = true;
      std::unique_lock lock(mutex_);
      hook.wake_cv.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_.load(); });
      if (stopping_) return;
      continue;
    }
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      if (!item) {
        if (hook.wake) {  // queued after the look: look again
          hook.wake = false;
          continue;
        }
        hook.idle = true;
        idle_cv_.notify_all();
        hook.wake_cv.wait(lock, [&] { return stopping_ || hook.wake; });
        hook.wake = false;
        continue;
      }
      const double wait_s = item->next_attempt - unix_now();
      if (wait_s > 0.0) {  // a retry not yet due; a push may have dropped it meanwhile, so look again on a wake
        hook.wake = false;
        hook.wake_cv.wait_for(lock, std::chrono::duration<double>(std::min(wait_s, kMaxBackoffS)),
                              [&] { return stopping_ || hook.wake; });
        continue;
      }
    }
    std::string error;
    const Outcome outcome = attempt(hook, *item, error);
    if (outcome == Outcome::interrupted) return;  // stopping: the delivery stays as it was
    const int attempts = item->attempts + 1;
    try {
      if (outcome == Outcome::delivered) {
        outbox_->remove(item->id);
      } else if (outcome == Outcome::give_up || attempts >= 1 + hook.config.retries) {
        outbox_->remove(item->id);
        detail::log_line(fmt::format("webhook {} ({}): delivery {} given up after {} attempt(s): {}", hook.name,
                                     hook.where, item->id, attempts, error));
      } else {
        const double backoff =
            std::min(kMaxBackoffS, hook.config.backoff_s * std::pow(2.0, static_cast<double>(attempts - 1)));
        outbox_->record_attempt(item->id, unix_now() + backoff);
      }
    } catch (const std::exception& e) {
      detail::log_line(fmt::format("webhook {}: the outbox cannot be updated: {}", hook.name, e.what()));
    }
    const std::lock_guard lock(mutex_);
    ++hook.counters.attempts;
    if (outcome == Outcome::delivered)
      ++hook.counters.delivered;
    else if (outcome == Outcome::give_up || attempts >= 1 + hook.config.retries)
      ++hook.counters.failed;
  }
}

WebhookSender::Outcome WebhookSender::attempt(Hook& hook, const OutboxItem& item, std::string& error) {
  CURL* curl = hook.curl;
  const WebhookConfig& config = hook.config;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "User-Agent: maskdetect");
  headers = curl_slist_append(headers, fmt::format("X-Maskdetect-Delivery: {}", item.id).c_str());
  if (!config.secret.empty())
    headers = curl_slist_append(
        headers, fmt::format("X-Maskdetect-Signature: sha256={}", hmac_sha256_hex(config.secret, item.body)).c_str());
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, config.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, item.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(item.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout_s * 1000.0));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

  Outcome outcome = Outcome::retry;
  curl_multi_add_handle(hook.multi, curl);
  int running = 1;
  while (running > 0) {
    if (curl_multi_perform(hook.multi, &running) != CURLM_OK) break;
    if (running == 0) break;
    curl_multi_poll(hook.multi, nullptr, 0, 1000, nullptr);
    if (stopping_) {
      outcome = Outcome::interrupted;
      break;
    }
  }
  if (outcome != Outcome::interrupted) {
    CURLcode rc = CURLE_FAILED_INIT;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(hook.multi, &left))
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == curl) rc = msg->data.result;
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
      outcome = Outcome::delivered;
    } else {
      error = rc != CURLE_OK ? curl_easy_strerror(rc) : fmt::format("HTTP {}", status);
      outcome = rc == CURLE_OK && refused(status) ? Outcome::give_up : Outcome::retry;
    }
  }
  curl_multi_remove_handle(hook.multi, curl);
  curl_slist_free_all(headers);
  return outcome;
}

}  // namespace maskdetect::server
