// event_store_pg.hpp - the PostgreSQL back end of EventStore: several `serve` workers (processes on different
// machines) share one database. Tables (migrations "events", migrations.hpp): events (ids from a sequence, a
// UUID per event made by the worker), event_images (the JPEGs as bytea, deleted with their event),
// event_counts, event_uids (none_stored events already counted).
//
// - A write that is retried (the connection dropped, maybe after the commit) finds its event by uid instead of
//   storing it twice; a none_stored event is counted once likewise.
// - Retention runs under a transaction-scoped advisory lock, so two workers running it at once delete only
//   what is needed once; it never deletes the newest event for size.
// - max_bytes bounds the events' JPEG bytes (the sum of events.bytes: what event_images holds). Rows, indexes,
//   the history and space PostgreSQL keeps after deletions (reused, given back by VACUUM FULL only) are not
//   counted: see docs/server.md "PostgreSQL".
// A connection lost between statements is reopened once per call, then the error is thrown.
#pragma once

#include <mutex>
#include <span>

#include "event_store.hpp"
#include "migrations.hpp"
#include "pg.hpp"

namespace maskdetect::server {

class PgEventStore final : public EventStore {
 public:
  /// Connects to options.database (options.password when set), creates or migrates the schema and enforces
  /// retention. Throws pg::Error (an Error(io)) naming the database without its password.
  explicit PgEventStore(Options options);
  ~PgEventStore() override;

  Event record(const PersonTrack& track, Privacy privacy) override;
  [[nodiscard]] EventPage list(const EventQuery& query) const override;
  [[nodiscard]] std::optional<Event> get(std::int64_t id) const override;
  [[nodiscard]] std::optional<std::string> image(std::int64_t id, std::string_view kind) const override;
  bool remove(std::int64_t id) override;
  [[nodiscard]] std::map<std::pair<std::string, std::string>, std::int64_t> counts() const override;
  std::size_t enforce_retention(double now) override;
  [[nodiscard]] std::int64_t stored_bytes() const override;
  [[nodiscard]] std::size_t size() const override;
  [[nodiscard]] std::string description() const override { return db_.description(); }

 private:
  /// Runs `work` on the connection under the mutex; when the connection was lost, reconnects and runs it once
  /// more (so `work` must be safe to repeat: one transaction, idempotent).
  template <typename Work>
  auto with_db(Work&& work) const;
  Event record_once(const Event& e, const detail::EventImages& images);

  Options options_;
  mutable std::mutex mutex_;
  mutable pg::Connection db_;
  double last_uid_cleanup_ = 0.0;  ///< when event_uids was last pruned (Unix seconds)
};

/// The PostgreSQL schema of the events (for the history's and other components' migrations to sit beside).
[[nodiscard]] std::span<const Migration> pg_event_migrations();

}  // namespace maskdetect::server
