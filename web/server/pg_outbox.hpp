// pg_outbox.hpp - the Outbox (outbox.hpp) in PostgreSQL, for a fleet: the `outbox` table of the database the
// events are in (migrations component "outbox"), so that a worker's undelivered webhooks outlive the worker
// (a pod has no data folder that survives it).
//
//   auto outbox = std::make_shared<PgOutbox>(url, password, PgOutbox::make_owner());
//
// Each worker delivers what it pushed: every item carries its owner (this object's name), and the methods see
// the owner's items only, so each target still has one deliverer, in push order (WebhookSender's assumption).
// An owner is alive while its connection holds a session advisory lock on its key (one-bigint form: a hash of
// the name, below 2^62). When a PgOutbox opens, it adopts the items of owners that are gone (no session holds
// their lock: a worker killed, a pod replaced), keeping their ids, so they go out first, in order. Items of a
// worker that dies wait for the next worker to start. Thread-safe (one connection behind a mutex); a dropped
// connection is reopened once per call, and the owner's lock taken again.
#pragma once

#include <mutex>
#include <span>
#include <string>

#include "migrations.hpp"
#include "outbox.hpp"
#include "pg.hpp"

namespace maskdetect::server {

class PgOutbox final : public Outbox {
 public:
  /// Connects, migrates the "outbox" component, takes the owner's lock and adopts the items of owners that are
  /// gone. Throws pg::Error (an Error(io)) naming the database without its password, Error(bad_input) for an
  /// empty owner.
  PgOutbox(const std::string& url, const std::string& password, std::string owner);
  ~PgOutbox() override;
  PgOutbox(const PgOutbox&) = delete;
  PgOutbox& operator=(const PgOutbox&) = delete;

  OutboxPush push(std::string_view target, std::string_view body, double now, std::size_t max_items) override;
  [[nodiscard]] std::optional<OutboxItem> oldest(std::string_view target) override;
  bool record_attempt(std::int64_t id, double next_attempt) override;
  bool remove(std::int64_t id) override;
  [[nodiscard]] std::size_t size(std::string_view target) override;
  [[nodiscard]] std::vector<std::string> targets() override;
  std::size_t clear(std::string_view target) override;

  /// This worker's name: host name, process id and a random part (unique across restarts).
  [[nodiscard]] static std::string make_owner();
  [[nodiscard]] const std::string& owner() const noexcept { return owner_; }
  /// Items adopted from owners that were gone when this one opened.
  [[nodiscard]] std::int64_t adopted() const noexcept { return adopted_; }
  [[nodiscard]] std::string description() const { return db_.description(); }

 private:
  template <typename Work>
  auto with_db(Work&& work) -> decltype(work());
  void lock_owner();

  std::string owner_;
  std::int64_t key_ = 0;  ///< the owner's advisory lock key
  std::int64_t adopted_ = 0;
  std::mutex mutex_;
  pg::Connection db_;
};

/// The PostgreSQL schema of the outbox.
[[nodiscard]] std::span<const Migration> pg_outbox_migrations();

}  // namespace maskdetect::server
