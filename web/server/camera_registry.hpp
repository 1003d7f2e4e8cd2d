// camera_registry.hpp - the fleet's cameras in PostgreSQL (docs/fleet.md): the schema (versioned, created and
// migrated by the server), a camera's definition as JSON (the keys of a serve.yaml camera), the import of the
// config file's cameras and the changes made through the API. Internal to the server.
//
//   pg::Connection db(url);
//   fleet::migrate(db);                                     // idempotent; one worker migrates at a time
//   fleet::import_cameras(db, serve.cameras);               // serve.yaml: upserted when the file's entry changed
//   fleet::create_camera(db, parse_camera_config(body, "request body", pipeline));
//
// A camera's row: its name, its definition (canonical JSON), enabled, deleted (a tombstone: a camera deleted
// through the API that the file still declares is not brought back until its file entry changes), version
// (bumped by every change: its owner restarts it), epoch (bumped by every claim: person ids) and
// released_epoch (the last epoch its owner handed back cleanly: the next owner need not wait).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "pg.hpp"
#include "serve_config.hpp"

namespace maskdetect::server::fleet {

/// Advisory lock keys (pg_try_advisory_lock(class, id): pg_locks shows them as classid, objid, objsubid 2).
inline constexpr int kCameraLockClass = 1835270145;   ///< objid: maskdetect_cameras.id, held by its owner
inline constexpr int kWorkerLockClass = 1835270146;   ///< objid: maskdetect_workers.id, held while it lives
inline constexpr int kMigrationLockKey = 1835270144;  ///< pg_advisory_xact_lock while migrating
/// The schema version this build creates and understands.
inline constexpr int kSchemaVersion = 1;

/// Creates or migrates the fleet's tables and views (in one transaction, serialised between workers by an
/// advisory lock). Throws pg::Error; maskdetect::Error(invalid_config) when the database has a newer schema.
void migrate(pg::Connection& db);

/// The canonical JSON of a camera: every key of a serve.yaml camera, defaults filled in (preset and detector
/// only when set). parse_camera_config(definition_json(c).dump(), ...) gives `c` back.
[[nodiscard]] nlohmann::json definition_json(const CameraConfig& camera);
/// A YAML node's value as JSON (quoted scalars stay strings; true/false, numbers and null are typed).
[[nodiscard]] nlohmann::json yaml_to_json(std::string_view yaml);
/// A short stable hash of a definition (FNV-1a 64, hex), to tell whether a file's entry changed.
[[nodiscard]] std::string definition_hash(const nlohmann::json& definition);
/// The definition with its source's credentials hidden (what the API shows).
[[nodiscard]] nlohmann::json redacted(nlohmann::json definition);

/// Upserts the config file's cameras: a camera absent from the database is inserted; one whose file entry
/// changed since it was last imported (or that the API created) takes the file's definition (and comes
/// back if it was deleted); one whose file entry is unchanged keeps what the API made of it. Cameras are never
/// deleted by an import. Returns how many rows changed.
std::size_t import_cameras(pg::Connection& db, const std::vector<CameraConfig>& cameras);
/// import_cameras() of definitions given as JSON text (definition_json(camera).dump()).
std::size_t import_definitions(pg::Connection& db, const std::vector<std::string>& definitions);

/// What a change through the API did.
enum class Change { done, exists, missing };

/// Adds a camera (or brings back a deleted one of that name). `exists`: a live camera has that name.
Change create_camera(pg::Connection& db, const CameraConfig& camera);
/// Replaces a camera's definition (its owner restarts it). `missing`: no live camera of that name.
Change update_camera(pg::Connection& db, const CameraConfig& camera);
/// Deletes a camera (a tombstone; its owner stops it and its figures go). `missing`: none of that name.
Change delete_camera(pg::Connection& db, std::string_view name);

}  // namespace maskdetect::server::fleet
