// The fleet's cameras in PostgreSQL (web/server/camera_registry.hpp) against a real server
// (tests/support/postgres_server.hpp): the schema migrates once, the config file's cameras are imported by the
// rule of docs/fleet.md, API changes, tombstones, and a camera's definition round-trips through JSON with the
// same checks and messages as the config file.
#include <string>

#include <catch2/catch.hpp>

#include "camera_registry.hpp"
#include "maskdetect/error.hpp"
#include "pg.hpp"
#include "postgres_server.hpp"
#include "serve_config.hpp"

namespace pg = maskdetect::server::pg;
namespace fleet = maskdetect::server::fleet;
using maskdetect::server::CameraConfig;
using maskdetect::server::parse_camera_config;

namespace {

CameraConfig camera(const std::string& name, double fps) {
  CameraConfig c;
  c.name = name;
  c.source = "rtsp://op:s3cret@10.0.0.7/" + name;
  c.fps = fps;
  return c;
}

double stored_fps(pg::Connection& db, const std::string& name) {
  return db.exec("SELECT (definition->>'fps')::float8 FROM maskdetect_cameras WHERE name = $1", {pg::Param(name)})
      .real(0, 0);
}

bool deleted(pg::Connection& db, const std::string& name) {
  return db.exec("SELECT deleted FROM maskdetect_cameras WHERE name = $1", {pg::Param(name)}).text(0, 0) == "t";
}

}  // namespace

TEST_CASE("fleet registry: the schema is created once and migrating again changes nothing", "[fleet][postgres]") {
  auto server = maskdetect::test::PostgresServer::start();
  if (!server) return;
  pg::Connection db(server->url());
  fleet::migrate(db);
  fleet::migrate(db);  // idempotent
  CHECK(db.exec("SELECT count(*) FROM maskdetect_fleet_schema").int64(0, 0) == 1);
  CHECK(db.exec("SELECT max(version) FROM maskdetect_fleet_schema").int64(0, 0) == fleet::kSchemaVersion);
  // The scaling view answers on an empty fleet (KEDA's query, docs/fleet.md).
  const pg::Result empty = db.exec("SELECT cameras, owned, unowned, workers, workers_needed FROM maskdetect_fleet");
  CHECK(empty.int64(0, 0) == 0);
  CHECK(empty.int64(0, 2) == 0);
  CHECK(empty.int64(0, 4) == 0);
  // A database migrated by a newer maskdetect is refused, with what to do.
  db.exec("INSERT INTO maskdetect_fleet_schema VALUES (99)");
  try {
    fleet::migrate(db);
    FAIL("a newer schema was accepted");
  } catch (const maskdetect::Error& e) {
    CHECK(std::string(e.what()).find("upgrade maskdetect") != std::string::npos);
  }
}

TEST_CASE("fleet registry: the config file's cameras are imported when their entry changed", "[fleet][postgres]") {
  auto server = maskdetect::test::PostgresServer::start();
  if (!server) return;
  pg::Connection db(server->url());
  fleet::migrate(db);

  CHECK(fleet::import_cameras(db, {camera("door", 5), camera("hall", 5)}) == 2);
  CHECK(fleet::import_cameras(db, {camera("door", 5), camera("hall", 5)}) == 0);  // every worker imports at start

  // Changed through the API; the file's entry is unchanged: the API's change stays.
  CHECK(fleet::update_camera(db, camera("door", 7)) == fleet::Change::done);
  CHECK(fleet::import_cameras(db, {camera("door", 5)}) == 0);
  CHECK(stored_fps(db, "door") == 7.0);
  // The file's entry changed (its author edited it): the file wins.
  CHECK(fleet::import_cameras(db, {camera("door", 9)}) == 1);
  CHECK(stored_fps(db, "door") == 9.0);

  // Deleted through the API: a tombstone that an unchanged file does not bring back; a changed one does.
  CHECK(fleet::delete_camera(db, "hall") == fleet::Change::done);
  CHECK(fleet::delete_camera(db, "hall") == fleet::Change::missing);
  CHECK(fleet::import_cameras(db, {camera("hall", 5)}) == 0);
  CHECK(deleted(db, "hall"));
  CHECK(fleet::import_cameras(db, {camera("hall", 6)}) == 1);
  CHECK_FALSE(deleted(db, "hall"));

  // Created through the API; POST of a live name is refused, of a deleted one brings it back.
  CHECK(fleet::create_camera(db, camera("yard", 3)) == fleet::Change::done);
  CHECK(fleet::create_camera(db, camera("yard", 3)) == fleet::Change::exists);
  CHECK(fleet::update_camera(db, camera("nowhere", 3)) == fleet::Change::missing);
  CHECK(fleet::delete_camera(db, "yard") == fleet::Change::done);
  CHECK(fleet::create_camera(db, camera("yard", 4)) == fleet::Change::done);
  CHECK(stored_fps(db, "yard") == 4.0);
  // Every change bumps the version (the owner restarts the camera).
  CHECK(db.exec("SELECT version FROM maskdetect_cameras WHERE name = 'door'").int64(0, 0) == 3);
  CHECK(db.exec("SELECT count(*) FROM maskdetect_fleet").int64(0, 0) == 1);
  CHECK(db.exec("SELECT cameras, unowned FROM maskdetect_fleet").int64(0, 0) == 3);
}

TEST_CASE("fleet registry: a camera's definition round-trips and is checked like the config file's",
          "[fleet][postgres]") {
  const maskdetect::Config pipeline;
  const CameraConfig original = parse_camera_config(
      R"({"name": "door", "source": "rtsp://op:pw@cam/live", "fps": 4, "enabled": false, "preset": "webcam",
          "detector": {"score_threshold": 0.7}, "events": {"labels": ["no_mask"], "min_seen_s": 2, "cooldown_s": 5},
          "privacy": "blur"})",
      "request body", pipeline);
  const nlohmann::json definition = fleet::definition_json(original);
  const CameraConfig again = parse_camera_config(definition.dump(), "database", pipeline);
  CHECK(again.name == "door");
  CHECK(again.source == "rtsp://op:pw@cam/live");
  CHECK(again.fps == 4.0);
  CHECK_FALSE(again.enabled);
  CHECK(again.preset == "webcam");
  CHECK(maskdetect::server::camera_pipeline(again, pipeline).detector.score_threshold == Approx(0.7f));
  CHECK(again.events.labels == std::set<std::string>{"no_mask"});
  CHECK(again.events.min_seen_s == 2.0);
  CHECK(again.events.cooldown_s == 5.0);
  CHECK(again.privacy == maskdetect::server::Privacy::blur);
  CHECK(fleet::definition_json(again) == definition);
  CHECK(fleet::definition_hash(definition) == fleet::definition_hash(fleet::definition_json(again)));
  CHECK(fleet::redacted(definition)["source"] == "rtsp://op:***@cam/live");
  // YAML as well as JSON; quoted scalars stay strings.
  CHECK(fleet::yaml_to_json("a: '10'\nb: 10\nc: true\nd: [x, 1.5]") ==
        nlohmann::json{{"a", "10"}, {"b", 10}, {"c", true}, {"d", {"x", 1.5}}});

  // Errors name the field, as the config file's do.
  auto message = [&](const std::string& body) {
    try {
      (void)parse_camera_config(body, "request body", pipeline);
    } catch (const maskdetect::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(message(R"({"name": "door", "source": "x", "fps": 5000})") ==
        "request body:1: key 'fps': 5000 is not in [0, 1000]");
  CHECK(message(R"({"name": "a b", "source": "x"})").find("key 'name': 'a b' is not a camera name") !=
        std::string::npos);
  CHECK(message(R"({"name": "door"})") == "request body:1: key 'source': is required");
  CHECK(message(R"({"name": "door", "source": "x", "colour": 1})").find("key 'colour': unknown key") !=
        std::string::npos);
  CHECK(message(R"({"name": "door", "source": "x", "events": {"labels": ["hat"]}})")
            .find("key 'events.labels': unknown label 'hat'") != std::string::npos);
  CHECK(message(R"({"name": "door", "source": "x", "detector": {"score_threshold": 3}})").find("score_threshold") !=
        std::string::npos);
  CHECK(message("[1, 2").find("request body:1: malformed YAML or JSON") != std::string::npos);
}
