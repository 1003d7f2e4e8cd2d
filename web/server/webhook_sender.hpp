// webhook_sender.hpp - POSTs event JSON to the configured webhooks. Each webhook has its own worker thread and
// its own queue, kept in an Outbox (outbox.hpp; SQLite in the data folder), so that
// - a slow or dead receiver delays only its own deliveries, never another webhook's nor the caller (inference);
// - deliveries not yet made when the server stops (or crashes) are made after the restart, retries included.
//
// Rules (docs/server.md "Webhooks"): per webhook, one delivery at a time, oldest first. Each attempt has
// `timeout_s`; an attempt that gets no 2xx answer is tried again after `backoff_s`, doubling (at most 1 hour),
// until 1 + `retries` attempts were made, then the delivery is given up (logged once, counted as failed). A 4xx
// answer other than 408, 425 and 429 gives up at once (the receiver refuses this body; sending it again cannot
// help). At most `max_pending` deliveries wait per webhook: beyond, the oldest is dropped (counted). Stopping
// abandons the attempt in progress (it is not counted) and keeps everything in the outbox: delivery is at least
// once, and `X-Maskdetect-Delivery` (the same on every attempt of a delivery) lets a receiver skip repeats.
// With a secret, the request carries `X-Maskdetect-Signature: sha256=<hex HMAC-SHA256 of the body>`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "outbox.hpp"
#include "serve_config.hpp"

namespace maskdetect::server {

/// Lower-case hex HMAC-SHA256 of `body` with `secret`.
[[nodiscard]] std::string hmac_sha256_hex(std::string_view secret, std::string_view body);

class WebhookSender {
 public:
  struct Counters {
    std::int64_t delivered = 0;  ///< deliveries answered 2xx
    std::int64_t failed = 0;     ///< deliveries given up (retries spent, or refused with a 4xx)
    std::int64_t attempts = 0;   ///< HTTP attempts, retries included (not those interrupted by a stop)
    std::int64_t dropped = 0;    ///< deliveries dropped: the oldest beyond max_pending, or not storable
    std::size_t pending = 0;     ///< deliveries waiting in the outbox now (the one being tried included)
  };

  /// Starts one worker per hook over `outbox` (shared with nobody else). Deliveries left in the outbox by a
  /// previous run are sent first; those of webhooks no longer configured are deleted (logged). Throws
  /// maskdetect::Error when the outbox cannot be read.
  WebhookSender(std::vector<WebhookConfig> hooks, std::shared_ptr<Outbox> outbox);
  /// Stops the workers at once: an attempt in progress is abandoned; the outbox keeps every delivery.
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Queues `json` for every hook that takes `camera` (a durable outbox push each). Never blocks on the
  /// network. Returns how many hooks it was queued for.
  std::size_t send(const std::string& camera, const std::string& json);
  /// Hook `index` (in configuration order).
  [[nodiscard]] Counters counters(std::size_t index) const;
  /// Every hook's counters added up.
  [[nodiscard]] Counters totals() const;
  [[nodiscard]] std::size_t size() const noexcept { return hooks_.size(); }
  /// The hook's name: its `name`, else "webhook<index>" (metrics labels, logs).
  [[nodiscard]] const std::string& name(std::size_t index) const;
  /// Blocks until every delivery queued so far is delivered or given up (tests, benchmarks).
  void drain();

  /// The outbox key of a webhook URL: "webhook:" and 16 hex digits of its SHA-256 (the URL itself, which may
  /// hold a credential, is not stored); `occurrence` > 0 tells apart the same URL listed again.
  [[nodiscard]] static std::string target_for(std::string_view url, std::size_t occurrence);

 private:
  struct Hook;
  enum class Outcome { delivered, retry, give_up, interrupted };
  void run(Hook& hook);
  Outcome attempt(Hook& hook, const OutboxItem& item, std::string& error);

  std::shared_ptr<Outbox> outbox_;
  std::vector<std::unique_ptr<Hook>> hooks_;
  mutable std::mutex mutex_;
  std::condition_variable idle_cv_;  ///< a hook went idle
  std::atomic<bool> stopping_{false};
};

}  // namespace maskdetect::server
