// fleet.cpp - a fleet worker: leases, cameras, figures; see fleet.hpp and docs/fleet.md.
#include "fleet.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "camera_registry.hpp"
#include "event_store.hpp"
#include "leases.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"
#include "pg.hpp"
#include "state.hpp"
#include "stats.hpp"
#include "stream_hub.hpp"

namespace maskdetect::server {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t to_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

/// The wall-clock time of a steady-clock time point (for log lines other processes compare).
double unix_at(Clock::time_point t) { return unix_now() + std::chrono::duration<double>(t - Clock::now()).count(); }

bool valid_worker_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

/// TCP keepalives and a user timeout on a worker's connections (unless the URL sets them): a worker whose
/// network to the database dies notices within seconds instead of minutes (its frames stop at the lease
/// timeout anyway).
const std::vector<std::pair<std::string, std::string>>& keepalives() {
  static const std::vector<std::pair<std::string, std::string>> settings{{"keepalives", "1"},
                                                                         {"keepalives_idle", "5"},
                                                                         {"keepalives_interval", "2"},
                                                                         {"keepalives_count", "2"},
                                                                         {"tcp_user_timeout", "9000"}};
  return settings;
}

std::array<std::int64_t, kNumLabels> labels_from(std::string_view json_text) {
  std::array<std::int64_t, kNumLabels> out{};
  if (json_text.empty()) return out;
  const auto doc = nlohmann::json::parse(json_text, nullptr, false);
  if (!doc.is_object()) return out;
  for (const MaskLabel label : kAllLabels) {
    const auto it = doc.find(std::string(to_string(label)));
    if (it != doc.end() && it->is_number_integer()) out[static_cast<std::size_t>(label)] = it->get<std::int64_t>();
  }
  return out;
}

std::string labels_json(const std::array<std::int64_t, kNumLabels>& counts) {
  nlohmann::json doc = nlohmann::json::object();
  for (const MaskLabel label : kAllLabels) doc[std::string(to_string(label))] = counts[static_cast<std::size_t>(label)];
  return doc.dump();
}

/// FNV-1a of the worker and camera names: each worker tries the unowned cameras in its own order.
std::uint64_t spread_order(const std::string& worker, const std::string& camera) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto add = [&hash](std::string_view text) {
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
  };
  add(worker);
  add("/");
  add(camera);
  return hash;
}

}  // namespace

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "worker");
  return fmt::format("{}-{}", host, static_cast<long>(getpid()));
}

const FleetCamera* FleetSnapshot::find(std::string_view name) const {
  for (const FleetCamera& camera : cameras)
    if (camera.name == name) return &camera;
  return nullptr;
}

struct Fleet::Owned {
  int id = 0;
  std::string name;
  std::int64_t epoch = 0;
  std::int64_t version = 0;
  CameraConfig config;
  std::array<std::int64_t, kNumLabels> base{};      ///< people counted by earlier owners
  std::array<std::int64_t, kNumLabels> at_start{};  ///< this worker's count of it when it started here
  std::optional<std::size_t> hub_id;                ///< running in the hub
  Clock::time_point not_before{};
  Clock::time_point claimed{};
};

Fleet::Fleet(FleetOptions options, Config server_pipeline, StreamHub& hub, Stats& stats)
    : options_(std::move(options)), server_pipeline_(std::move(server_pipeline)), hub_(hub), stats_(stats) {
  if (options_.worker_id.empty()) options_.worker_id = default_worker_id();
  if (!valid_worker_id(options_.worker_id))
    throw Error(Errc::bad_input,
                fmt::format("--worker-id '{}': expected 1 to 128 of A-Z a-z 0-9 _ - .", options_.worker_id));
  if (!parse_advertise_url(options_.advertise_url))
    throw Error(Errc::bad_input,
                fmt::format("--advertise-url '{}': expected http://host:port (where the other workers reach this one)",
                            options_.advertise_url));
  if (options_.max_cameras < 0) throw Error(Errc::bad_input, "--max-cameras must be 0 (no cap) or more");
  snapshot_.worker = options_.worker_id;
}

Fleet::~Fleet() { stop(); }

void Fleet::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Fleet::drain() {
  draining_ = true;
  wake();
}

void Fleet::stop() {
  {
    const std::lock_guard lock(wake_mutex_);
    stop_ = true;
  }
  drain();
  if (thread_.joinable()) thread_.join();
}

void Fleet::wake() {
  {
    const std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

bool Fleet::may_analyse() const noexcept { return !draining_ && to_ns(Clock::now()) < deadline_.load(); }

bool Fleet::ready() const noexcept { return registered_ && may_analyse(); }

FleetSnapshot Fleet::snapshot() const {
  const std::lock_guard lock(snapshot_mutex_);
  FleetSnapshot out = snapshot_;
  out.ready = ready();
  return out;
}

void Fleet::run() {
  double backoff = options_.tick_s;
  bool imported = false;
  for (;;) {
    {
      const std::lock_guard lock(wake_mutex_);
      woken_ = false;
    }
    bool failed = false;
    try {
      if (!db_) {
        connect();
        if (!imported) {
          const std::size_t changed = fleet::import_definitions(*db_, options_.import);
          imported = true;
          if (changed > 0) detail::log_line(fmt::format("fleet: {} camera(s) of the config file stored", changed));
        }
        if (logged_down_) detail::log_line(fmt::format("fleet: database '{}' is back", pg::redact(options_.database)));
        logged_down_ = false;
        last_error_.clear();
        backoff = options_.tick_s;
      }
      if (draining_) {
        db_->exec("UPDATE maskdetect_workers SET draining = true WHERE id = $1", {pg::Param(worker_key_)});
        while (!owned_.empty()) release(owned_.begin()->first, true, "drained");
        break;
      }
      tick();
    } catch (const pg::Error& e) {
      failed = true;
      if (!db_ || e.connection_lost() || !db_->ok()) {  // also 57P01: the server ended the connection
        lost_database(e.what());
      } else {
        log_once(e.what());
      }
    } catch (const std::exception& e) {  // a worker name in use, a newer schema: said once, retried
      failed = true;
      log_once(e.what());
    }
    if (draining_ && !db_) {
      // Draining without the database: the cameras are stopped (lost_database); nothing more to hand back.
      for (auto& [name, owned] : owned_) stop_camera(*owned, "drained");
      owned_.clear();
      break;
    }
    const double wait = failed && !db_ ? backoff : options_.tick_s;
    if (failed && !db_) backoff = std::min(backoff * 2.0, 5.0);
    std::unique_lock lock(wake_mutex_);
    wake_cv_.wait_for(lock, seconds(wait), [this] { return woken_ || stop_ || draining_.load(); });
    if (stop_ && !draining_) break;
  }
  db_.reset();  // the worker's lock goes with its connection
  registered_ = false;
}

void Fleet::log_once(const std::string& message) {
  if (message == last_error_) return;
  last_error_ = message;
  detail::log_line(fmt::format("fleet: {}", message));
}

void Fleet::connect() {
  auto db = std::make_unique<pg::Connection>(options_.database, "maskdetect-worker " + options_.worker_id,
                                             options_.password, keepalives());
  // The server drops a vanished worker's connection (and its locks) only after the worker has stopped
  // analysing: idle 5 s + 3 probes x 2 s = 11 s (and 11 s for data it cannot deliver), above the lease timeout.
  db->exec(
      "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; "
      "SET tcp_user_timeout = 11000; SET statement_timeout = '10s'");
  fleet::migrate(*db);
  // Register: one live worker per name (its lock says it lives).
  db->exec(
      "INSERT INTO maskdetect_workers (name, advertise_url, max_cameras) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO NOTHING",
      {pg::Param(options_.worker_id), pg::Param(options_.advertise_url), pg::Param(options_.max_cameras)});
  const pg::Result row = db->exec("SELECT id FROM maskdetect_workers WHERE name = $1", {pg::Param(options_.worker_id)});
  const auto key = static_cast<int>(row.int64(0, 0));
  const pg::Result locked =
      db->exec("SELECT pg_try_advisory_lock($1, $2)", {pg::Param(fleet::kWorkerLockClass), pg::Param(key)});
  if (locked.text(0, 0) != "t")
    throw Error(Errc::bad_input, fmt::format("fleet: another live worker is called '{}' (--worker-id must be unique)",
                                             options_.worker_id));
  db->exec(
      "UPDATE maskdetect_workers SET advertise_url = $2, max_cameras = $3, draining = false, "
      "started_at = now(), heartbeat_at = now() WHERE id = $1",
      {pg::Param(key), pg::Param(options_.advertise_url), pg::Param(options_.max_cameras)});
  // Workers gone for a day are forgotten.
  db->exec(
      "DELETE FROM maskdetect_workers w WHERE heartbeat_at < now() - interval '1 day' "
      "AND NOT EXISTS (SELECT 1 FROM maskdetect_live_workers l WHERE l.id = w.id)");
  worker_key_ = key;
  db_ = std::move(db);
  registered_ = true;
  detail::log_line(fmt::format("fleet: worker {} registered in '{}' (advertised at {}, {} camera(s) at most)",
                               options_.worker_id, db_->description(), options_.advertise_url,
                               options_.max_cameras > 0 ? std::to_string(options_.max_cameras) : "any"));
}

void Fleet::tick() {
  const Clock::time_point started = Clock::now();
  db_->exec("UPDATE maskdetect_workers SET heartbeat_at = now() WHERE id = $1", {pg::Param(worker_key_)});
  // The database answered: this worker still holds its locks, and will for at least the lease timeout after
  // the question was asked (a connection the server drops takes longer than that: see connect()).
  deadline_ = to_ns(started + seconds(options_.lease_timeout_s));

  const pg::Result rows = db_->exec(
      "SELECT c.name, c.definition::text, c.enabled, c.version, c.id, o.worker, o.advertise_url, "
      "coalesce(o.pid = pg_backend_pid(), false), s.state, s.fps, s.in_view, s.counted::text, s.tracked::text, "
      "extract(epoch FROM s.updated_at) "
      "FROM maskdetect_camera_owners o JOIN maskdetect_cameras c ON c.id = o.id "
      "LEFT JOIN maskdetect_camera_status s ON s.camera = c.name ORDER BY c.name");
  std::vector<FleetCamera> cameras;
  std::map<std::string, std::pair<int, std::int64_t>> keys;  // name -> (id, version)
  for (int i = 0; i < rows.rows(); ++i) {
    FleetCamera camera;
    camera.name = std::string(rows.text(i, 0));
    camera.definition = std::string(rows.text(i, 1));
    camera.enabled = rows.text(i, 2) == "t";
    keys[camera.name] = {static_cast<int>(rows.int64(i, 4)), rows.int64(i, 3)};
    camera.owner = std::string(rows.text(i, 5));
    camera.owner_url = std::string(rows.text(i, 6));
    camera.mine = rows.text(i, 7) == "t";
    try {
      camera.config =
          parse_camera_config(camera.definition, fmt::format("database camera '{}'", camera.name), server_pipeline_);
    } catch (const std::exception& e) {  // a definition this build cannot read: shown, never run here
      camera.config.name = camera.name;
      camera.config.source = nlohmann::json::parse(camera.definition, nullptr, false).value("source", "");
      failed_[camera.name] = Clock::now();
    }
    if (!rows.is_null(i, 8)) {
      camera.state = std::string(rows.text(i, 8));
      camera.fps = rows.real(i, 9);
      camera.in_view = rows.int64(i, 10);
      camera.counted = labels_from(rows.text(i, 11));
      camera.tracked = labels_from(rows.text(i, 12));
      camera.reported = rows.real(i, 13);
    }
    if (!camera.enabled) {
      camera.state = "disabled";
    } else if (camera.owner.empty()) {
      camera.state = "unowned";
      camera.tracked = {};
      camera.in_view = 0;
      camera.fps = 0.0;
    }
    cameras.push_back(std::move(camera));
  }
  const pg::Result workers_rows = db_->exec(
      "SELECT w.name, w.advertise_url, w.max_cameras, w.draining, "
      "(SELECT count(*) FROM maskdetect_camera_owners o WHERE o.pid = w.pid AND o.enabled) "
      "FROM maskdetect_live_workers w ORDER BY w.name");
  std::vector<FleetWorker> workers;
  workers.reserve(static_cast<std::size_t>(workers_rows.rows()));
  for (int i = 0; i < workers_rows.rows(); ++i) {
    workers.push_back(FleetWorker{.name = std::string(workers_rows.text(i, 0)),
                                  .url = std::string(workers_rows.text(i, 1)),
                                  .max_cameras = static_cast<int>(workers_rows.int64(i, 2)),
                                  .draining = workers_rows.text(i, 3) == "t",
                                  .owned = static_cast<std::size_t>(workers_rows.int64(i, 4))});
  }

  // Cameras deleted, disabled or changed since this worker took them.
  for (auto it = owned_.begin(); it != owned_.end();) {
    const std::string name = it->first;
    Owned& owned = *it->second;
    ++it;
    const auto found =
        std::find_if(cameras.begin(), cameras.end(), [&](const FleetCamera& c) { return c.name == name; });
    if (found == cameras.end()) {
      release(name, true, "deleted");
    } else if (!found->enabled) {
      release(name, true, "disabled");
    } else if (keys[name].second != owned.version) {
      restart(owned, *found);
    }
  }
  // A lock this worker holds without running the camera (a release that failed half-way): hand it back.
  for (const FleetCamera& camera : cameras) {
    if (camera.mine && !owned_.contains(camera.name))
      db_->exec("SELECT pg_advisory_unlock($1, $2)",
                {pg::Param(fleet::kCameraLockClass), pg::Param(keys[camera.name].first)});
  }

  // Spread: claim or hand back (leases.hpp).
  fleet::LeaseView view;
  view.me = options_.worker_id;
  view.owned = owned_.size();
  view.max_cameras = options_.max_cameras;
  std::vector<FleetCamera> candidates;
  const auto now = Clock::now();
  for (const FleetCamera& camera : cameras) {
    if (!camera.enabled) continue;
    ++view.cameras;
    if (!camera.owner.empty()) continue;
    ++view.unowned;
    const auto failed = failed_.find(camera.name);
    if (failed != failed_.end() && now - failed->second < std::chrono::seconds(30)) continue;
    candidates.push_back(camera);
  }
  for (const FleetWorker& w : workers) {
    fleet::WorkerLoad load{.name = w.name, .owned = w.owned, .max_cameras = w.max_cameras, .draining = w.draining};
    if (w.name == options_.worker_id) load.owned = owned_.size();
    view.workers.push_back(std::move(load));
  }
  if (std::none_of(view.workers.begin(), view.workers.end(),
                   [&](const fleet::WorkerLoad& w) { return w.name == options_.worker_id; }))
    view.workers.push_back({.name = options_.worker_id, .owned = owned_.size(), .max_cameras = options_.max_cameras});
  const fleet::LeasePlan plan = fleet::plan_leases(view);
  for (std::size_t i = 0; i < plan.shed && !owned_.empty(); ++i) {
    // The camera taken last goes first.
    const auto last = std::max_element(owned_.begin(), owned_.end(), [](const auto& a, const auto& b) {
      return a.second->claimed < b.second->claimed;
    });
    release(last->first, true, "rebalanced");
  }
  if (plan.claim > 0) {
    std::sort(candidates.begin(), candidates.end(), [this](const FleetCamera& a, const FleetCamera& b) {
      return spread_order(options_.worker_id, a.name) < spread_order(options_.worker_id, b.name);
    });
    claim(candidates, plan.claim);
  }
  if (Clock::now() - last_report_ >= seconds(options_.report_s)) {
    report();
    last_report_ = Clock::now();
  }

  // The snapshot the API serves: this worker's own cameras with their live figures.
  std::int64_t unowned = 0;
  for (FleetCamera& camera : cameras) {
    const auto it = owned_.find(camera.name);
    camera.mine = it != owned_.end();
    if (camera.mine) {
      camera.owner = options_.worker_id;
      camera.owner_url = options_.advertise_url;
      refresh_figures(camera, *it->second);
    } else if (camera.enabled && camera.owner.empty()) {
      ++unowned;
    }
    if (camera.enabled && camera.owner.empty() && camera.state != "unowned") camera.state = "unowned";
  }
  unowned_ = unowned;
  FleetSnapshot next;
  next.worker = options_.worker_id;
  next.taken = unix_now();
  next.cameras = std::move(cameras);
  next.workers = std::move(workers);
  next.unowned = unowned;
  const std::lock_guard lock(snapshot_mutex_);
  snapshot_ = std::move(next);
}

void Fleet::refresh_figures(FleetCamera& camera, const Owned& owned) const {
  if (!owned.hub_id) {
    camera.state = "starting";
    return;
  }
  const CameraFigures figures = stats_.camera(*owned.hub_id);
  for (std::size_t i = 0; i < kNumLabels; ++i)
    camera.counted[i] = owned.base[i] + figures.people.counted[i] - owned.at_start[i];
  camera.tracked = figures.people.tracked;
  camera.in_view = figures.people.in_view;
  camera.fps = figures.fps;
  camera.state = std::string(hub_.state(*owned.hub_id).name());
  if (Clock::now() < owned.not_before) camera.state = "starting";
  camera.reported = unix_now();
}

void Fleet::claim(const std::vector<FleetCamera>& candidates, std::size_t count) {
  for (const FleetCamera& candidate : candidates) {
    if (count == 0 || draining_) return;
    const pg::Result row = db_->exec("SELECT id FROM maskdetect_cameras WHERE name = $1", {pg::Param(candidate.name)});
    if (row.rows() != 1) continue;
    const auto id = static_cast<int>(row.int64(0, 0));
    const pg::Result locked =
        db_->exec("SELECT pg_try_advisory_lock($1, $2)", {pg::Param(fleet::kCameraLockClass), pg::Param(id)});
    if (locked.text(0, 0) != "t") continue;  // another worker was quicker
    const pg::Result taken = db_->exec(
        "UPDATE maskdetect_cameras SET epoch = epoch + 1, owner = $2, updated_at = now() "
        "WHERE id = $1 AND NOT deleted AND enabled RETURNING epoch, released_epoch, definition::text, version",
        {pg::Param(id), pg::Param(options_.worker_id)});
    if (taken.rows() != 1) {
      db_->exec("SELECT pg_advisory_unlock($1, $2)", {pg::Param(fleet::kCameraLockClass), pg::Param(id)});
      continue;
    }
    auto owned = std::make_unique<Owned>();
    owned->id = id;
    owned->name = candidate.name;
    owned->epoch = taken.int64(0, 0);
    owned->version = taken.int64(0, 3);
    owned->claimed = Clock::now();
    // Its previous owner handed it back (it stopped before it released the lock), or nobody ever had it: at
    // once. Otherwise that owner may still be analysing until its own lease runs out: wait that long.
    const bool clean = taken.int64(0, 1) == owned->epoch - 1;
    owned->not_before = clean ? owned->claimed : owned->claimed + seconds(options_.lease_timeout_s + 1.0);
    const pg::Result status =
        db_->exec("SELECT counted::text FROM maskdetect_camera_status WHERE camera = $1", {pg::Param(candidate.name)});
    if (status.rows() == 1) owned->base = labels_from(status.text(0, 0));
    try {
      owned->config =
          parse_camera_config(taken.text(0, 2), fmt::format("database camera '{}'", candidate.name), server_pipeline_);
    } catch (const std::exception& e) {
      detail::log_line(fmt::format("fleet: camera {} cannot run here: {}", candidate.name, e.what()));
      failed_[candidate.name] = Clock::now();
      owned_.emplace(candidate.name, std::move(owned));
      release(candidate.name, true, "not runnable here");
      continue;
    }
    Owned& ref = *owned_.emplace(candidate.name, std::move(owned)).first->second;
    if (!start_camera(ref)) {
      failed_[candidate.name] = Clock::now();
      release(candidate.name, true, "not runnable here");
      continue;
    }
    --count;
  }
}

bool Fleet::start_camera(Owned& owned) {
  CameraOptions camera;
  camera.name = owned.config.name;
  camera.source = owned.config.source;
  camera.fps = owned.config.fps;
  camera.detect_every = owned.config.detect_every;
  try {
    camera.config = camera_pipeline(owned.config, server_pipeline_);
    // Person ids: unique per camera across its owners (a million per epoch).
    camera.first_track_id = owned.epoch * 1000000;
    camera.not_before = owned.not_before;
    detail::log_line(fmt::format("fleet: camera {} analysed by {} from {:.3f} (epoch {}{})", owned.name,
                                 options_.worker_id, unix_at(std::max(owned.not_before, Clock::now())), owned.epoch,
                                 owned.not_before > owned.claimed ? ", after its previous owner's lease ran out" : ""));
    if (options_.on_camera_started) options_.on_camera_started(owned.config);
    owned.hub_id = hub_.add(camera);
    owned.at_start = stats_.camera(*owned.hub_id).people.counted;
    return true;
  } catch (const std::exception& e) {
    detail::log_line(fmt::format("fleet: camera {} cannot start here: {}", owned.name, e.what()));
    if (options_.on_camera_stopped) options_.on_camera_stopped(owned.name);
    detail::log_line(fmt::format("fleet: camera {} analysed by {} until {:.3f} (0 frames; did not start)", owned.name,
                                 options_.worker_id, unix_now()));
    return false;
  }
}

void Fleet::stop_camera(Owned& owned, const char* why) {
  if (!owned.hub_id) return;
  const std::int64_t frames = hub_.frames(*owned.hub_id);
  hub_.remove(owned.name);  // joined: no frame of it is analysed from here on
  detail::log_line(fmt::format("fleet: camera {} analysed by {} until {:.3f} ({} frames; {})", owned.name,
                               options_.worker_id, unix_now(), frames, why));
  if (options_.on_camera_stopped) options_.on_camera_stopped(owned.name);
}

void Fleet::release(const std::string& name, bool clean, const char* why) {
  const auto it = owned_.find(name);
  if (it == owned_.end()) return;
  Owned& owned = *it->second;
  stop_camera(owned, why);
  if (owned.hub_id) {  // its last figures, so that the next owner counts on from them
    FleetCamera figures;
    refresh_figures(figures, owned);
    db_->exec(
        "INSERT INTO maskdetect_camera_status (camera, worker, epoch, state, fps, in_view, counted, tracked, frames) "
        "SELECT $1, $2, $3, 'released', 0, 0, $4::jsonb, '{}'::jsonb, $5 "
        "WHERE EXISTS (SELECT 1 FROM maskdetect_cameras WHERE name = $1 AND NOT deleted) "
        "ON CONFLICT (camera) DO UPDATE SET worker = EXCLUDED.worker, epoch = EXCLUDED.epoch, state = EXCLUDED.state, "
        "fps = 0, in_view = 0, counted = EXCLUDED.counted, tracked = EXCLUDED.tracked, updated_at = now() "
        "WHERE maskdetect_camera_status.epoch <= EXCLUDED.epoch",
        {pg::Param(name), pg::Param(options_.worker_id), pg::Param(owned.epoch),
         pg::Param(labels_json(figures.counted)), pg::Param(std::int64_t{0})});
  }
  if (clean)
    db_->exec("UPDATE maskdetect_cameras SET released_epoch = $2 WHERE id = $1 AND epoch = $2",
              {pg::Param(owned.id), pg::Param(owned.epoch)});
  db_->exec("SELECT pg_advisory_unlock($1, $2)", {pg::Param(fleet::kCameraLockClass), pg::Param(owned.id)});
  owned_.erase(it);
}

void Fleet::restart(Owned& owned, const FleetCamera& camera) {
  // A new definition: the camera starts again here under a new epoch (person ids go on above the old ones).
  stop_camera(owned, "changed");
  owned.hub_id.reset();
  const pg::Result taken = db_->exec(
      "UPDATE maskdetect_cameras SET epoch = epoch + 1, released_epoch = epoch + 1, updated_at = now() "
      "WHERE id = $1 AND epoch = $2 RETURNING epoch, version, definition::text",
      {pg::Param(owned.id), pg::Param(owned.epoch)});
  if (taken.rows() != 1) {
    release(owned.name, false, "changed");
    return;
  }
  owned.epoch = taken.int64(0, 0);
  owned.version = taken.int64(0, 1);
  owned.config = camera.config;
  owned.not_before = Clock::now();
  owned.claimed = owned.not_before;
  try {
    owned.config =
        parse_camera_config(taken.text(0, 2), fmt::format("database camera '{}'", owned.name), server_pipeline_);
  } catch (const std::exception& e) {
    detail::log_line(fmt::format("fleet: camera {} cannot run here: {}", owned.name, e.what()));
    failed_[owned.name] = Clock::now();
    release(owned.name, true, "not runnable here");
    return;
  }
  if (!start_camera(owned)) {
    failed_[owned.name] = Clock::now();
    release(owned.name, true, "not runnable here");
  }
}

void Fleet::report() {
  if (owned_.empty()) return;
  pg::Transaction tx(*db_);
  for (const auto& [name, owned] : owned_) {
    FleetCamera figures;
    refresh_figures(figures, *owned);
    db_->exec(
        "INSERT INTO maskdetect_camera_status (camera, worker, epoch, state, fps, in_view, counted, tracked, frames) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9) "
        "ON CONFLICT (camera) DO UPDATE SET worker = EXCLUDED.worker, epoch = EXCLUDED.epoch, state = EXCLUDED.state, "
        "fps = EXCLUDED.fps, in_view = EXCLUDED.in_view, counted = EXCLUDED.counted, tracked = EXCLUDED.tracked, "
        "frames = EXCLUDED.frames, updated_at = now() WHERE maskdetect_camera_status.epoch <= EXCLUDED.epoch",
        {pg::Param(name), pg::Param(options_.worker_id), pg::Param(owned->epoch), pg::Param(figures.state),
         pg::Param(figures.fps), pg::Param(figures.in_view), pg::Param(labels_json(figures.counted)),
         pg::Param(labels_json(figures.tracked)), pg::Param(owned->hub_id ? hub_.frames(*owned->hub_id) : 0)});
  }
  tx.commit();
}

void Fleet::lost_database(const std::string& why) {
  if (!logged_down_) {
    if (registered_ || !owned_.empty()) {
      detail::log_line(
          fmt::format("fleet: lost the database ({}); stopping this worker's {} camera(s) before "
                      "reconnecting",
                      why, owned_.size()));
    } else {
      detail::log_line(fmt::format("fleet: {}; retrying", why));
    }
  }
  logged_down_ = true;
  deadline_ = 0;
  for (auto& [name, owned] : owned_) stop_camera(*owned, "lost the database");
  owned_.clear();
  db_.reset();
  registered_ = false;
  const std::lock_guard lock(snapshot_mutex_);
  for (FleetCamera& camera : snapshot_.cameras) {
    if (camera.mine) {
      camera.mine = false;
      camera.owner.clear();
      camera.owner_url.clear();
      camera.state = "unowned";
    }
  }
}

namespace {

template <typename Op>
auto with_api_connection(std::mutex& mutex, std::unique_ptr<pg::Connection>& db, const FleetOptions& options, Op op) {
  const std::lock_guard lock(mutex);
  for (int attempt = 0;; ++attempt) {
    try {
      if (!db)
        db = std::make_unique<pg::Connection>(options.database, "maskdetect-api " + options.worker_id, options.password,
                                              keepalives());
      return op(*db);
    } catch (const pg::Error& e) {
      const bool lost = e.connection_lost() || !db || !db->ok();
      if (!lost || attempt > 0) throw;
      db.reset();  // a connection lost since its last use: once more on a new one
    }
  }
}

Fleet::Change to_change(fleet::Change change) {
  switch (change) {
    case fleet::Change::done:
      return Fleet::Change::done;
    case fleet::Change::exists:
      return Fleet::Change::exists;
    case fleet::Change::missing:
      return Fleet::Change::missing;
  }
  return Fleet::Change::done;
}

}  // namespace

Fleet::Change Fleet::create_camera(const CameraConfig& camera) {
  const auto change = with_api_connection(api_mutex_, api_db_, options_,
                                          [&](pg::Connection& db) { return fleet::create_camera(db, camera); });
  wake();
  return to_change(change);
}

Fleet::Change Fleet::update_camera(const CameraConfig& camera) {
  const auto change = with_api_connection(api_mutex_, api_db_, options_,
                                          [&](pg::Connection& db) { return fleet::update_camera(db, camera); });
  wake();
  return to_change(change);
}

Fleet::Change Fleet::delete_camera(const std::string& name) {
  const auto change = with_api_connection(api_mutex_, api_db_, options_,
                                          [&](pg::Connection& db) { return fleet::delete_camera(db, name); });
  wake();
  return to_change(change);
}

std::optional<HttpEndpoint> parse_advertise_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = url.substr(kScheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return std::nullopt;  // a path prefix is not supported
    rest = rest.substr(0, slash);
  }
  HttpEndpoint out;
  std::string_view port = "80";
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(rest.substr(1, close - 1));
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return std::nullopt;
      port = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  } else {
    out.host = std::string(rest);
  }
  if (out.host.empty() || out.host.find('@') != std::string::npos) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return std::nullopt;
  out.port = static_cast<unsigned short>(value);
  return out;
}

}  // namespace maskdetect::server
