// history_store.hpp - per-camera time series of `maskdetect serve`, one row per camera and minute: people who
// arrived that minute (first confirmed) per voted label, people in view (mean over the frames), frames and the
// seconds the camera ran (fps = frames / seconds). GET /api/v1/history reads it. Kept by a HistoryBackend:
// SQLite (history.db beside events.db) or PostgreSQL (a `history` table that several workers add to).
//
//   HistoryStore history(HistoryStore::Options{.dir = data_dir});           // or {.database = "postgresql://..."}
//   history.add_frame("door", unix_now(), in_view, dt_s);    // capture threads: a map update, no SQLite
//   history.add_person("door", arrived, MaskLabel::no_mask);  // when the person's track is confirmed
//   history.relabel_person("door", arrived, MaskLabel::no_mask, MaskLabel::mask);  // their final vote differs
//   auto series = history.query({.since = t0, .until = t1, .step_s = 300});
//
// Capture threads only add to an in-memory table; a writer thread adds it to the stored minutes every
// flush_interval_s (and query() flushes first), so a slow disk never stalls inference. Stored minutes are
// only ever added to (frames, sums and people add up), so several writers, one per camera or not, merge.
// Rows older than max_age_s are deleted. Thread-safe.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "maskdetect/types.hpp"

namespace maskdetect::server {

/// One bucket of a camera's series (sums over the minutes of the bucket).
struct HistoryPoint {
  std::int64_t t = 0;                             ///< bucket start, Unix seconds (a multiple of the step)
  std::array<std::int64_t, kNumLabels> people{};  ///< people counted, per voted label (indexed by MaskLabel)
  std::int64_t frames = 0;                        ///< frames processed
  double in_view_sum = 0.0;                       ///< people in view, summed over the frames
  double seconds = 0.0;                           ///< seconds the camera ran
  [[nodiscard]] std::int64_t people_total() const noexcept;
  [[nodiscard]] double in_view() const noexcept { return frames > 0 ? in_view_sum / static_cast<double>(frames) : 0.0; }
  [[nodiscard]] double fps() const noexcept { return seconds > 0.0 ? static_cast<double>(frames) / seconds : 0.0; }
  /// masked people / people; nullopt when no one was counted.
  [[nodiscard]] std::optional<double> compliance() const noexcept;
};

struct HistoryQuery {
  std::string camera;        ///< empty: every camera
  std::int64_t since = 0;    ///< minutes starting at or after this (Unix seconds)
  std::int64_t until = 0;    ///< and before this
  std::int64_t step_s = 60;  ///< a multiple of 60
};

/// Stored or pending minutes, keyed by (camera, minute start in Unix seconds).
using HistoryRows = std::map<std::pair<std::string, std::int64_t>, HistoryPoint>;

/// Where the minutes are kept: the interface of the SQLite and PostgreSQL back ends. Called by one thread at a
/// time (the HistoryStore's lock). Errors: maskdetect::Error(io) naming the database.
class HistoryBackend {
 public:
  HistoryBackend() = default;
  virtual ~HistoryBackend() = default;
  HistoryBackend(const HistoryBackend&) = delete;
  HistoryBackend& operator=(const HistoryBackend&) = delete;
  /// Adds `rows` to the stored minutes in one transaction: a new minute is inserted, an existing one has
  /// each figure added (never replaced), whoever stored it.
  virtual void add(const HistoryRows& rows) = 0;
  /// Stored minutes with since <= t < until (of `camera` when not empty), by camera then t.
  [[nodiscard]] virtual HistoryRows read(const std::string& camera, std::int64_t since, std::int64_t until) = 0;
  /// Deletes minutes before `t`; returns how many.
  virtual std::size_t remove_before(std::int64_t t) = 0;
  [[nodiscard]] virtual std::string description() const = 0;
};

/// history.db in `dir` (created; a file made by an older version is migrated). Throws Error(io).
[[nodiscard]] std::unique_ptr<HistoryBackend> sqlite_history_backend(const std::filesystem::path& dir);
/// The `history` table of the PostgreSQL database at `url` (created or migrated). Throws pg::Error.
[[nodiscard]] std::unique_ptr<HistoryBackend> pg_history_backend(const std::string& url, const std::string& password);

class HistoryStore {
 public:
  struct Options {
    std::filesystem::path dir;          ///< SQLite: the data folder (created); history.db inside
    std::string database;               ///< PostgreSQL: a postgresql:// URL (then `dir` is unused); empty: SQLite
    std::string password;               ///< PostgreSQL password; empty: the URL's, PGPASSWORD or ~/.pgpass
    double max_age_s = 30.0 * 86400.0;  ///< rows older than this are deleted (0: kept)
    double flush_interval_s = 5.0;      ///< how often the writer thread stores what was added
  };

  /// Opens the back end `options` names (creating or migrating its schema) and starts the writer. Throws
  /// maskdetect::Error(io) naming the database.
  explicit HistoryStore(const Options& options);
  /// As above, over a back end of the caller's.
  HistoryStore(Options options, std::unique_ptr<HistoryBackend> backend);
  /// Stores what is pending, then stops the writer.
  ~HistoryStore();
  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;

  /// One frame of `camera` at `t` (Unix seconds) with `in_view` people in view; `dt_s` is the time since the
  /// camera's previous frame (what the camera ran). Cheap: never touches the database.
  void add_frame(const std::string& camera, double t, int in_view, double dt_s);
  /// One person counted in the minute of `t` (when their track was confirmed) with their vote so far.
  void add_person(const std::string& camera, double t, MaskLabel label);
  /// The person counted at `t` as `from` ends with the vote `to`: moved between labels in that same minute
  /// (nothing when from == to, or when that minute is already past max_age_s).
  void relabel_person(const std::string& camera, double t, MaskLabel from, MaskLabel to);

  /// Buckets with data, per camera (sorted by name), oldest first. Flushes pending rows first.
  [[nodiscard]] std::map<std::string, std::vector<HistoryPoint>> query(const HistoryQuery& query);
  /// Stores the pending rows now. Throws Error(io).
  void flush();
  /// Deletes rows older than max_age_s before `now`; returns how many.
  std::size_t enforce_retention(double now);
  /// Where the minutes are, for logs: a file path or a URL without its password.
  [[nodiscard]] std::string description() const;

 private:
  void writer_loop();
  void flush_locked_db();

  Options options_;
  std::mutex db_mutex_;  ///< the back end (writer, queries)
  std::unique_ptr<HistoryBackend> backend_;
  std::mutex pending_mutex_;  ///< the in-memory rows: held for a map update only
  HistoryRows pending_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace maskdetect::server
