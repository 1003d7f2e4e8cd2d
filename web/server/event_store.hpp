// event_store.hpp - persistent events of `maskdetect serve`: one row per tracked person whose voted label is
// an event label (no_mask, incorrect by default), kept in SQLite (WAL) with the clean face crop and the full
// analysed frame as JPEG files beside the database. Retention by age and by size; privacy modes.
//
//   EventStore store(EventStore::Options{.dir = data_dir});
//   EventRules rules;                                   // per camera: labels, min seconds seen, cooldown
//   if (rules.admit(track)) store.record(track, Privacy::full);
//   auto page = store.list(EventQuery{.camera = "door", .limit = 50});
//
// The store does not know the tracker: a caller converts its tracks into PersonTrack. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace maskdetect::server {

/// One tracked person as the tracker reports it (times are Unix seconds, UTC).
struct PersonTrack {
  std::string camera;            ///< the camera's stable name
  std::int64_t track_id = 0;     ///< the tracker's id, unique per camera while the server runs
  std::string label;             ///< voted label: "mask", "no_mask" or "incorrect"
  float confidence = 0.0f;       ///< confidence of the voted label, in [0, 1]
  double first_seen = 0.0;       ///< Unix seconds
  double last_seen = 0.0;        ///< Unix seconds
  cv::Rect box;                  ///< the person's face in `frame` (blurred under privacy: blur)
  std::vector<cv::Rect> others;  ///< other faces in `frame` (also blurred under privacy: blur)
  cv::Mat crop;                  ///< clean BGR face crop (the track's best); may be empty
  cv::Mat frame;                 ///< the BGR frame that was analysed, without drawn boxes; may be empty
};

/// What is kept of an event. full: row, crop and frame. blur: row and the frame with every face blurred, no
/// crop. none_stored: no row and no image, only a count per camera and label.
enum class Privacy { full, blur, none_stored };

[[nodiscard]] std::string_view to_string(Privacy privacy) noexcept;
/// "full", "blur", "none_stored"; nullopt for another name.
[[nodiscard]] std::optional<Privacy> parse_privacy(std::string_view name) noexcept;

/// When a camera's track becomes an event.
struct EventRuleConfig {
  std::set<std::string> labels{"no_mask", "incorrect"};  ///< voted labels that make an event
  double min_seen_s = 1.0;                               ///< the track was seen at least this long
  double cooldown_s = 30.0;                              ///< no second event of the same camera and label sooner
};

/// Decides which tracks become events: each track at most once, labels, minimum time seen, cooldown per
/// camera and label. Thread-safe.
class EventRules {
 public:
  EventRules() = default;
  /// Rules of one camera (cameras without rules use the defaults of EventRuleConfig).
  void set(const std::string& camera, EventRuleConfig rules);
  /// True when `track` should be recorded now; then remembers it (same track never twice, cooldown starts).
  [[nodiscard]] bool admit(const PersonTrack& track);

 private:
  std::mutex mutex_;
  std::map<std::string, EventRuleConfig> rules_;
  std::map<std::pair<std::string, std::int64_t>, double> recorded_;   ///< (camera, track id) -> last_seen
  std::map<std::pair<std::string, std::string>, double> last_event_;  ///< (camera, label) -> last_seen
};

/// A stored event.
struct Event {
  std::int64_t id = 0;
  std::string camera;
  std::int64_t track_id = 0;
  std::string label;
  float confidence = 0.0f;
  double first_seen = 0.0;
  double last_seen = 0.0;
  double created = 0.0;  ///< when it was stored (Unix seconds)
  Privacy privacy = Privacy::full;
  bool has_snapshot = false;
  bool has_crop = false;
  std::int64_t bytes = 0;  ///< size of its JPEG files
};

/// The JSON of one event (docs/server.md "Events"): id, camera, track_id, label, confidence, first_seen,
/// last_seen, created (Unix seconds and ISO 8601 UTC), privacy, snapshot/crop URLs or null.
[[nodiscard]] std::string event_json(const Event& event);

struct EventQuery {
  std::string camera;                     ///< empty: every camera
  std::string label;                      ///< empty: every label
  std::optional<double> since;            ///< last_seen >= since
  std::optional<double> until;            ///< last_seen < until
  std::optional<std::int64_t> before_id;  ///< paging: only ids below this (the previous page's next_before)
  std::size_t limit = 50;
};

struct EventPage {
  std::vector<Event> events;                ///< newest first
  std::optional<std::int64_t> next_before;  ///< set when more may follow: pass as before_id
};

class EventStore {
 public:
  struct Options {
    std::filesystem::path dir;                       ///< the data folder (created); events.db and media/ inside
    double max_age_s = 30.0 * 86400.0;               ///< events older than this are deleted (0: no age limit)
    std::int64_t max_bytes = std::int64_t{2} << 30;  ///< database + JPEG files at most (0: no size limit)
    int jpeg_quality = 90;
  };

  /// Opens or creates the store; removes JPEG files that no row references (left by a crash) and enforces
  /// retention. Throws maskdetect::Error(io) naming the file.
  explicit EventStore(Options options);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  /// Stores `track` under `privacy`, then enforces retention. Returns the event id (nullopt under
  /// none_stored: only the count grows). Files are written before the row is committed, so a crash leaves
  /// either a row whose files exist or no row. Throws Error(io).
  std::optional<std::int64_t> record(const PersonTrack& track, Privacy privacy);

  [[nodiscard]] EventPage list(const EventQuery& query) const;
  [[nodiscard]] std::optional<Event> get(std::int64_t id) const;
  /// Path of an event's JPEG ("snapshot" or "crop"); nullopt when absent.
  [[nodiscard]] std::optional<std::filesystem::path> file(std::int64_t id, std::string_view kind) const;
  /// Deletes the row, then its files. False when there is no such event.
  bool remove(std::int64_t id);
  /// Events recorded per (camera, label), including those not stored (none_stored) or since deleted.
  [[nodiscard]] std::map<std::pair<std::string, std::string>, std::int64_t> counts() const;

  /// Deletes events older than max_age_s before `now`, then the oldest until the store fits max_bytes.
  /// Returns how many were deleted.
  std::size_t enforce_retention(double now);
  /// Database (used pages) + JPEG files, in bytes.
  [[nodiscard]] std::int64_t stored_bytes() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] const std::filesystem::path& database_path() const noexcept { return db_path_; }

 private:
  struct Db;
  std::size_t enforce_locked(double now);
  std::int64_t stored_bytes_locked() const;
  void remove_locked(std::int64_t id, std::vector<std::filesystem::path>& files);

  Options options_;
  std::filesystem::path db_path_;
  std::filesystem::path media_dir_;
  mutable std::mutex mutex_;
  std::unique_ptr<Db> db_;
  std::int64_t media_bytes_ = 0;
};

/// The default data folder: $XDG_STATE_HOME/maskdetect, else ~/.local/state/maskdetect.
[[nodiscard]] std::filesystem::path default_data_dir();

/// Current time as Unix seconds.
[[nodiscard]] double unix_now();

}  // namespace maskdetect::server
