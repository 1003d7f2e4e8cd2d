// webhook_sender.hpp - POSTs event JSON to configured URLs on a worker thread with a bounded queue: a slow
// or dead receiver never blocks the caller (inference). Each POST has a timeout; a failure (no answer, or
// a status that is not 2xx) is retried with exponential backoff. With a secret, the request carries
// `X-Maskdetect-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "serve_config.hpp"

namespace maskdetect::server {

/// Lower-case hex HMAC-SHA256 of `body` with `secret`.
[[nodiscard]] std::string hmac_sha256_hex(std::string_view secret, std::string_view body);

class WebhookSender {
 public:
  struct Counters {
    std::int64_t delivered = 0;  ///< POSTs answered 2xx
    std::int64_t failed = 0;     ///< deliveries given up after every retry
    std::int64_t attempts = 0;   ///< HTTP attempts, retries included
    std::int64_t dropped = 0;    ///< not queued: the queue was full
  };

  /// Starts the worker thread.
  explicit WebhookSender(std::vector<WebhookConfig> hooks, std::size_t max_queue = 256);
  /// Stops the worker: the delivery in progress ends at its timeout; what is still queued is dropped.
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Queues `json` for every hook that takes `camera`. Never blocks; false when the queue was full.
  bool send(const std::string& camera, const std::string& json);
  [[nodiscard]] Counters counters() const;
  /// Blocks until the queue is empty and no delivery is in progress (for tests and a graceful stop).
  void drain();

 private:
  struct Job {
    std::size_t hook;
    std::string body;
  };
  void run();
  bool deliver(const WebhookConfig& hook, const std::string& body);

  std::vector<WebhookConfig> hooks_;
  std::size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  Counters counters_;
  std::thread worker_;
};

}  // namespace maskdetect::server
