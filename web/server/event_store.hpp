// event_store.hpp - persistent events of `maskdetect serve`: one row per alert of a person (maskdetect::People:
// their state became an alert label, no_mask or incorrect by default, and held), with the clean face crop and the
// full analysed frame as JPEGs.
// Retention by age and by size; privacy modes. EventStore is the interface; two back ends implement it:
//   SqliteEventStore (event_store_sqlite.hpp): SQLite (WAL) in the data folder, JPEG files beside it; the
//                    embedded default for one machine;
//   PgEventStore     (event_store_pg.hpp): PostgreSQL, JPEGs as bytea; several `serve` workers share it.
//
//   auto store = open_event_store({.dir = data_dir});                        // or {.database = "postgresql://..."}
//   Event e = store->record(track, Privacy::full);      // a person's alert; e.id: its id (0: not stored)
//   auto page = store->list(EventQuery{.camera = "door", .limit = 50});
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

/// One person's alert as the camera reports it (times are Unix seconds, UTC).
struct PersonTrack {
  std::string camera;            ///< the camera's stable name
  std::int64_t track_id = 0;     ///< the person's id, unique per camera while the server runs
  std::string label;             ///< the label alerted (the person's state): "mask", "no_mask" or "incorrect"
  float confidence = 0.0f;       ///< confidence of the person's whole-visit vote, in [0, 1]
  double first_seen = 0.0;       ///< Unix seconds
  double last_seen = 0.0;        ///< Unix seconds
  cv::Rect box;                  ///< the person's face in `frame` (blurred under privacy: blur), in frame pixels
  std::vector<cv::Rect> others;  ///< other faces in `frame` (also blurred under privacy: blur)
  cv::Mat crop;                  ///< clean BGR face crop (the track's best); may be empty
  cv::Mat frame;                 ///< the BGR frame that was analysed, without drawn boxes; may be empty
  cv::Size frame_size;           ///< the analysed frame's size; empty: frame.size()
  std::string previous_label;    ///< the person's label before this one ("mask removed": "mask"); "" when none
  std::string event_uid;         ///< the event's UUID if the caller made one (a retry passes the same); "": new
};

/// What is kept of an event. full: row, crop and frame. blur: row and the frame with every face blurred, no
/// crop. none_stored: no row and no image, only a count per camera and label.
enum class Privacy { full, blur, none_stored };

[[nodiscard]] std::string_view to_string(Privacy privacy) noexcept;
/// "full", "blur", "none_stored"; nullopt for another name.
[[nodiscard]] std::optional<Privacy> parse_privacy(std::string_view name) noexcept;

/// The serve.yaml `events:` keys of a camera: the people component's alert settings under their serve.yaml names
/// (camera_pipeline() in serve_config.hpp maps them onto PeopleConfig::alerts; docs/server.md "Events"). Who
/// becomes an event, and when, is decided by maskdetect::People (people.hpp): one definition of a person.
struct EventRuleConfig {
  std::set<std::string> labels{"no_mask", "incorrect"};  ///< people.alerts.labels: states that raise an event
  double min_seen_s = 0.5;                               ///< people.alerts.min_seen_s: seconds the state held
  double cooldown_s = 30.0;  ///< people.alerts.cooldown_s: per person, label and kind (mask removal or not)
};

/// A stored event.
struct Event {
  std::int64_t id = 0;  ///< unique in the store (from a sequence); 0: not stored (privacy none_stored)
  std::string uid;      ///< a UUID made when the event was recorded: a retried write finds it instead of a copy
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
  std::int64_t bytes = 0;      ///< size of its JPEGs
  cv::Rect box;                ///< the person's face in the frame, in frame pixels; empty: unknown
  cv::Size frame_size;         ///< the analysed frame's size; empty: unknown
  std::string previous_label;  ///< the label before this one (a "mask removed" alert); "": none
  [[nodiscard]] bool stored() const noexcept { return id > 0; }
};

/// The JSON of one event (docs/server.md "Events"): id (null when not stored), uid, camera, track_id, label,
/// confidence, first_seen, last_seen, created (Unix seconds and ISO 8601 UTC), privacy, box [x, y, w, h] and
/// frame_size [w, h] (null when unknown), previous_label (null when none), snapshot/crop URLs or null.
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

/// Where events are kept: the interface of the SQLite and PostgreSQL back ends. Implementations are
/// thread-safe; errors are maskdetect::Error(io) naming the database (a PostgreSQL URL without its password).
class EventStore {
 public:
  struct Options {
    std::filesystem::path dir;  ///< SQLite: the data folder (created); events.db and media/ inside
    std::string database;       ///< PostgreSQL: a postgresql:// URL (then `dir` is unused); empty: SQLite in dir
    std::string password;       ///< PostgreSQL password (a password file's); empty: the URL's, PGPASSWORD, ~/.pgpass
    double max_age_s = 30.0 * 86400.0;               ///< events older than this are deleted (0: no age limit)
    std::int64_t max_bytes = std::int64_t{2} << 30;  ///< what max_size bounds (back end's doc; 0: no size limit)
    int jpeg_quality = 90;
  };

  EventStore() = default;
  virtual ~EventStore() = default;
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  /// Stores `track` under `privacy` (under none_stored only its count grows), then enforces retention, which
  /// never deletes the event just stored for its size. Returns the event as recorded (id 0 under none_stored).
  /// Idempotent per event uid: a track whose event_uid was recorded already returns that event, stored and
  /// counted once. Crash-safe: a crash leaves the event whole (row and images) or absent. Throws Error(io).
  virtual Event record(const PersonTrack& track, Privacy privacy) = 0;

  /// Events matching `query`, newest (highest id) first, across every camera and writer.
  [[nodiscard]] virtual EventPage list(const EventQuery& query) const = 0;
  [[nodiscard]] virtual std::optional<Event> get(std::int64_t id) const = 0;
  /// The JPEG bytes of an event's "snapshot" or "crop"; nullopt when it has none (or no such event).
  [[nodiscard]] virtual std::optional<std::string> image(std::int64_t id, std::string_view kind) const = 0;
  /// Deletes the event and its images. False when there is no such event.
  virtual bool remove(std::int64_t id) = 0;
  /// Events recorded per (camera, label), including those not stored (none_stored) or since deleted.
  [[nodiscard]] virtual std::map<std::pair<std::string, std::string>, std::int64_t> counts() const = 0;

  /// Deletes events whose last_seen is older than max_age_s before `now`, then, while the store is over
  /// max_bytes, the oldest events, only as many as needed and never the newest. Returns how many went.
  virtual std::size_t enforce_retention(double now) = 0;
  /// What max_bytes bounds, in bytes (SQLite: the data folder's store files; PostgreSQL: the JPEGs).
  [[nodiscard]] virtual std::int64_t stored_bytes() const = 0;
  [[nodiscard]] virtual std::size_t size() const = 0;
  /// Where the events are, for logs: a file path or a URL without its password.
  [[nodiscard]] virtual std::string description() const = 0;
};

/// Opens the store `options` names: PostgreSQL when options.database is set (a postgresql:// or postgres://
/// URL), else SQLite in options.dir. Creates or migrates the schema. Throws Error(io), or Error(bad_input)
/// for a database that is not a PostgreSQL URL.
[[nodiscard]] std::unique_ptr<EventStore> open_event_store(const EventStore::Options& options);

namespace detail {

/// The JPEGs kept of an event: full: frame and crop; blur: the frame with every face blurred; none_stored: none.
struct EventImages {
  std::vector<unsigned char> snapshot;
  std::vector<unsigned char> crop;
};
[[nodiscard]] EventImages encode_images(const PersonTrack& track, Privacy privacy, int jpeg_quality);

/// The event of `track` as it will be recorded: everything but id, created, images and bytes; its uid is the
/// track's event_uid, else a new one.
[[nodiscard]] Event event_of(const PersonTrack& track, Privacy privacy);

/// A random (version 4) UUID, lower case: "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b".
[[nodiscard]] std::string new_uid();

}  // namespace detail

/// The default data folder: $XDG_STATE_HOME/maskdetect, else ~/.local/state/maskdetect.
[[nodiscard]] std::filesystem::path default_data_dir();

/// Current time as Unix seconds.
[[nodiscard]] double unix_now();

}  // namespace maskdetect::server
