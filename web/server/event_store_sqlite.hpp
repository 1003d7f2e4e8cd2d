// event_store_sqlite.hpp - the SQLite back end of EventStore, the embedded default for one machine: events.db
// (WAL) in the data folder, each event's JPEGs as files in media/ beside it. One server process per data folder.
//
// max_bytes bounds the store's files on disk (apparent sizes): events.db, history.db (the history store's, in
// the same folder) and outbox.db (the webhooks', when there are webhooks) with their -wal and -shm files, and
// media/. Both databases return freed pages to the file
// system (incremental auto-vacuum), so the files shrink when events go.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "event_store.hpp"

namespace maskdetect::server {

/// The SQLite files in the data folder: the events', the history's (history_store.hpp) and the webhooks'
/// outbox (sqlite_outbox.hpp, with webhooks only).
inline constexpr const char* kSqliteEventsFile = "events.db";
inline constexpr const char* kSqliteHistoryFile = "history.db";
inline constexpr const char* kSqliteOutboxFile = "outbox.db";

class SqliteEventStore final : public EventStore {
 public:
  /// Opens or creates the store in options.dir and migrates a folder made by an older version; removes JPEG
  /// files that no row references (left by a crash) and enforces retention. Throws Error(io) naming the file.
  explicit SqliteEventStore(Options options);
  ~SqliteEventStore() override;

  Event record(const PersonTrack& track, Privacy privacy) override;
  [[nodiscard]] EventPage list(const EventQuery& query) const override;
  [[nodiscard]] std::optional<Event> get(std::int64_t id) const override;
  [[nodiscard]] std::optional<std::string> image(std::int64_t id, std::string_view kind) const override;
  bool remove(std::int64_t id) override;
  [[nodiscard]] std::map<std::pair<std::string, std::string>, std::int64_t> counts() const override;
  std::size_t enforce_retention(double now) override;
  [[nodiscard]] std::int64_t stored_bytes() const override;
  [[nodiscard]] std::size_t size() const override;
  [[nodiscard]] std::string description() const override { return db_path_.string(); }

  /// Path of an event's JPEG file ("snapshot" or "crop"); nullopt when it has none.
  [[nodiscard]] std::optional<std::filesystem::path> file(std::int64_t id, std::string_view kind) const;
  [[nodiscard]] const std::filesystem::path& database_path() const noexcept { return db_path_; }

 private:
  struct Db;
  std::size_t enforce_locked(double now);
  std::int64_t stored_bytes_locked() const;
  std::optional<Event> get_locked(std::int64_t id) const;
  std::optional<Event> get_by_uid_locked(const std::string& uid) const;
  void remove_locked(std::int64_t id, std::vector<std::filesystem::path>& files);
  void remove_batch_locked(const std::vector<std::int64_t>& ids);

  Options options_;
  std::filesystem::path db_path_;
  std::filesystem::path media_dir_;
  mutable std::mutex mutex_;
  std::unique_ptr<Db> db_;
  std::int64_t media_bytes_ = 0;
};

}  // namespace maskdetect::server
