// camera_registry.cpp - the fleet's cameras in PostgreSQL; see camera_registry.hpp.
#include "camera_registry.hpp"

#include <charconv>
#include <cstdio>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "maskdetect/error.hpp"
#include "maskdetect/video/frame_source.hpp"

namespace maskdetect::server::fleet {

namespace {

// Version 1 of the schema. The views read pg_locks: who holds a camera's advisory lock owns it, and a worker
// lives while it holds its own (both are session locks: they go when the worker's connection goes).
std::string schema_v1() {
  return fmt::format(R"sql(
CREATE TABLE maskdetect_cameras (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  definition jsonb NOT NULL,
  enabled boolean NOT NULL,
  file_hash text,
  deleted boolean NOT NULL DEFAULT false,
  version bigint NOT NULL DEFAULT 1,
  epoch bigint NOT NULL DEFAULT 0,
  released_epoch bigint NOT NULL DEFAULT 0,
  owner text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE maskdetect_workers (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  advertise_url text NOT NULL,
  max_cameras integer NOT NULL,
  draining boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE maskdetect_camera_status (
  camera text PRIMARY KEY,
  worker text NOT NULL,
  epoch bigint NOT NULL,
  state text NOT NULL,
  fps double precision NOT NULL,
  in_view integer NOT NULL,
  counted jsonb NOT NULL,
  tracked jsonb NOT NULL,
  frames bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE VIEW maskdetect_live_workers AS
  SELECT w.id, w.name, w.advertise_url, w.max_cameras, w.draining, w.heartbeat_at, l.pid
  FROM maskdetect_workers w
  JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = {worker}
   AND l.objid = w.id::oid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
CREATE VIEW maskdetect_camera_owners AS
  SELECT c.id, c.name, c.enabled, w.name AS worker, w.advertise_url, l.pid
  FROM maskdetect_cameras c
  LEFT JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = {camera}
   AND l.objid = c.id::oid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  LEFT JOIN maskdetect_live_workers w ON w.pid = l.pid
  WHERE NOT c.deleted;
CREATE VIEW maskdetect_fleet AS
  SELECT count(*) FILTER (WHERE enabled) AS cameras,
         count(*) FILTER (WHERE enabled AND pid IS NOT NULL) AS owned,
         count(*) FILTER (WHERE enabled AND pid IS NULL) AS unowned,
         (SELECT count(*) FROM maskdetect_live_workers WHERE NOT draining) AS workers,
         (SELECT max(max_cameras) FROM maskdetect_live_workers WHERE NOT draining) AS max_cameras,
         CASE WHEN coalesce((SELECT max(max_cameras) FROM maskdetect_live_workers WHERE NOT draining), 0) = 0
              THEN least(count(*) FILTER (WHERE enabled), 1)
              ELSE ceil(count(*) FILTER (WHERE enabled)::numeric /
                        (SELECT max(max_cameras) FROM maskdetect_live_workers WHERE NOT draining))::bigint
         END AS workers_needed
  FROM maskdetect_camera_owners;
)sql",
                     fmt::arg("worker", kWorkerLockClass), fmt::arg("camera", kCameraLockClass));
}

nlohmann::json scalar_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: a string whatever it looks like
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  long long integer = 0;
  if (const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
      ec == std::errc() && end == text.data() + text.size())
    return integer;
  double real = 0.0;
  if (const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), real);
      ec == std::errc() && end == text.data() + text.size())
    return real;
  return text;
}

nlohmann::json node_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) out[item.first.Scalar()] = node_json(item.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(node_json(item));
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar_json(node);
    default:
      return nullptr;
  }
}

}  // namespace

void migrate(pg::Connection& db) {
  pg::Transaction tx(db);
  db.exec("SET LOCAL client_min_messages = warning");  // no "already exists, skipping" notices on stderr
  db.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLockKey));
  db.exec("CREATE TABLE IF NOT EXISTS maskdetect_fleet_schema (version integer NOT NULL)");
  const pg::Result current = db.exec("SELECT coalesce(max(version), 0) FROM maskdetect_fleet_schema");
  const std::int64_t version = current.int64(0, 0);
  if (version > kSchemaVersion)
    throw Error(Errc::invalid_config,
                fmt::format("database '{}': its fleet schema is version {}, newer than this maskdetect knows ({}): "
                            "upgrade maskdetect",
                            db.description(), version, kSchemaVersion));
  if (version < 1) {
    db.exec(schema_v1());
    db.exec("INSERT INTO maskdetect_fleet_schema (version) VALUES (1)");
  }
  // Later versions: if (version < 2) { ...; INSERT 2 }, each step once, in order.
  tx.commit();
}

nlohmann::json yaml_to_json(std::string_view yaml) { return node_json(YAML::Load(std::string(yaml))); }

nlohmann::json definition_json(const CameraConfig& camera) {
  nlohmann::json out = {{"name", camera.name},
                        {"source", camera.source},
                        {"fps", camera.fps},
                        {"enabled", camera.enabled},
                        {"privacy", std::string(to_string(camera.privacy))}};
  // events only when the camera has them: without, its alerts are those of its people section (or the server's).
  if (camera.events_given) {
    nlohmann::json labels = nlohmann::json::array();
    for (const std::string& label : camera.events.labels) labels.push_back(label);
    out["events"] = {{"labels", std::move(labels)},
                     {"min_seen_s", camera.events.min_seen_s},
                     {"cooldown_s", camera.events.cooldown_s}};
  }
  if (!camera.preset.empty()) out["preset"] = camera.preset;
  if (!camera.detector_yaml.empty()) out["detector"] = yaml_to_json(camera.detector_yaml)["detector"];
  if (!camera.people_yaml.empty()) out["people"] = yaml_to_json(camera.people_yaml)["people"];
  if (camera.detect_every != 1) out["detect_every"] = camera.detect_every;
  return out;
}

std::string definition_hash(const nlohmann::json& definition) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : definition.dump()) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", hash);
}

nlohmann::json redacted(nlohmann::json definition) {
  if (definition.contains("source") && definition["source"].is_string())
    definition["source"] = video::redact_url(definition["source"].get<std::string>());
  return definition;
}

std::size_t import_definitions(pg::Connection& db, const std::vector<std::string>& definitions) {
  std::size_t changed = 0;
  for (const std::string& text : definitions) {
    const nlohmann::json definition = nlohmann::json::parse(text);
    // The file wins where its entry changed since it was last imported: its author changed it on purpose.
    const pg::Result r = db.exec(
        "INSERT INTO maskdetect_cameras (name, definition, enabled, file_hash) VALUES ($1, $2::jsonb, $3, $4) "
        "ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, enabled = EXCLUDED.enabled, "
        "file_hash = EXCLUDED.file_hash, deleted = false, version = maskdetect_cameras.version + 1, "
        "updated_at = now() WHERE maskdetect_cameras.file_hash IS DISTINCT FROM EXCLUDED.file_hash",
        {pg::Param(definition.at("name").get<std::string>()), pg::Param(definition.dump()),
         pg::Param(definition.value("enabled", true) ? "true" : "false"), pg::Param(definition_hash(definition))});
    changed += static_cast<std::size_t>(r.affected());
  }
  return changed;
}

std::size_t import_cameras(pg::Connection& db, const std::vector<CameraConfig>& cameras) {
  std::vector<std::string> definitions;
  definitions.reserve(cameras.size());
  for (const CameraConfig& camera : cameras) definitions.push_back(definition_json(camera).dump());
  return import_definitions(db, definitions);
}

Change create_camera(pg::Connection& db, const CameraConfig& camera) {
  const nlohmann::json definition = definition_json(camera);
  const pg::Result r = db.exec(
      "INSERT INTO maskdetect_cameras (name, definition, enabled) VALUES ($1, $2::jsonb, $3) "
      "ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, enabled = EXCLUDED.enabled, "
      "file_hash = NULL, deleted = false, version = maskdetect_cameras.version + 1, updated_at = now() "
      "WHERE maskdetect_cameras.deleted",
      {pg::Param(camera.name), pg::Param(definition.dump()), pg::Param(camera.enabled ? "true" : "false")});
  return r.affected() == 1 ? Change::done : Change::exists;
}

Change update_camera(pg::Connection& db, const CameraConfig& camera) {
  const nlohmann::json definition = definition_json(camera);
  const pg::Result r = db.exec(
      "UPDATE maskdetect_cameras SET definition = $2::jsonb, enabled = $3, version = version + 1, "
      "updated_at = now() WHERE name = $1 AND NOT deleted",
      {pg::Param(camera.name), pg::Param(definition.dump()), pg::Param(camera.enabled ? "true" : "false")});
  return r.affected() == 1 ? Change::done : Change::missing;
}

Change delete_camera(pg::Connection& db, std::string_view name) {
  pg::Transaction tx(db);
  const pg::Result r = db.exec(
      "UPDATE maskdetect_cameras SET deleted = true, version = version + 1, updated_at = now() "
      "WHERE name = $1 AND NOT deleted",
      {pg::Param(name)});
  db.exec("DELETE FROM maskdetect_camera_status WHERE camera = $1", {pg::Param(name)});
  tx.commit();
  return r.affected() == 1 ? Change::done : Change::missing;
}

}  // namespace maskdetect::server::fleet
