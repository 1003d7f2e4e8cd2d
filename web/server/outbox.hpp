// outbox.hpp - deliveries waiting to go out (webhook POSTs today), kept across restarts so that a stop, a crash
// or a receiver that is down loses nothing the server already promised to send. The interface is what the
// senders use; each storage back end implements it (sqlite_outbox.hpp: a table in the data folder).
//
//   std::shared_ptr<Outbox> outbox = std::make_shared<SqliteOutbox>(data_dir / "outbox.db");
//   const auto pushed = outbox->push("webhook:1f2e...", json, unix_now(), 1000);   // on the producer's thread
//   ... on the target's own worker:
//   while (auto item = outbox->oldest("webhook:1f2e...")) {
//     if (send(item->body)) outbox->remove(item->id);                                // delivered
//     else outbox->record_attempt(item->id, unix_now() + backoff);                   // or given up: remove()
//   }
//
// Contract for every implementation (tests/monitor/test_outbox.cpp checks the SQLite one):
// - A *target* is an opaque key (at most 200 bytes) naming one destination; targets never see each other's
//   items, and each target is delivered in push order (ids grow with every push, across targets and restarts).
// - push() is durable when it returns: a process killed afterwards finds the item on the next open.
// - push() bounds each target: when the target then holds more than `max_items`, its oldest items are deleted
//   and their number returned (the caller counts them as dropped). Other targets are not touched.
// - An item stays until remove() (delivered, or given up by the sender's rules): a stop is never a reason to
//   delete. Its attempts and next_attempt survive restarts, so retries go on where they stopped.
// - Every method is thread-safe (the producer and one worker per target call at the same time) and throws
//   maskdetect::Error(io) naming the storage when it fails (Error(bad_input) for an empty or over-long target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maskdetect::server {

/// One delivery waiting in an outbox.
struct OutboxItem {
  std::int64_t id = 0;        ///< unique; grows with every push (oldest first)
  std::string target;         ///< the destination's key
  std::string body;           ///< what to send (the event JSON for webhooks)
  double created = 0.0;       ///< Unix seconds, when pushed
  int attempts = 0;           ///< failed attempts so far (record_attempt)
  double next_attempt = 0.0;  ///< Unix seconds: not to be tried before (0: at once)
};

/// What push() did.
struct OutboxPush {
  std::int64_t id = 0;       ///< the new item's id
  std::int64_t dropped = 0;  ///< oldest items of the same target deleted to keep it within max_items
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  Outbox() = default;
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Appends `body` for `target` (created = now, no attempts), then deletes the target's oldest items
  /// beyond `max_items` (at least 1 is kept: the new one). Durable on return.
  virtual OutboxPush push(std::string_view target, std::string_view body, double now, std::size_t max_items) = 0;
  /// The target's oldest item (the next to deliver), whether or not it is due; nullopt when it has none.
  [[nodiscard]] virtual std::optional<OutboxItem> oldest(std::string_view target) = 0;
  /// A failed attempt: attempts + 1 and the time of the next one. False when the item is gone (dropped).
  virtual bool record_attempt(std::int64_t id, double next_attempt) = 0;
  /// Deletes one item (delivered or given up). False when it was already gone.
  virtual bool remove(std::int64_t id) = 0;
  /// Items waiting for `target`.
  [[nodiscard]] virtual std::size_t size(std::string_view target) = 0;
  /// Targets that have items waiting (to find those of destinations no longer configured).
  [[nodiscard]] virtual std::vector<std::string> targets() = 0;
  /// Deletes every item of `target`; returns how many.
  virtual std::size_t clear(std::string_view target) = 0;
};

}  // namespace maskdetect::server
