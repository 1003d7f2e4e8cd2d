// The store tests run against both back ends: SQLite in a temporary data folder, and PostgreSQL in a fresh
// database of the shared test cluster (tests/support/postgres_server.hpp).
//
//   STORE_TEST("events persist across reopen", events_persist)   // two TEST_CASEs: "... (SQLite)" [monitor]
//                                                                // and "... (PostgreSQL)" [monitor][postgres]
//   void events_persist(Backend backend) {
//     auto where = StoreLocation::make(backend);
//     if (!where) return;                       // no PostgreSQL here (WARN; a FAIL under CI=true)
//     auto store = where->open({.max_age_s = 3600.0});
#pragma once

#include <memory>
#include <string>

#include "event_store.hpp"
#include "history_store.hpp"
#include "postgres_server.hpp"
#include "test_support.hpp"

namespace maskdetect::test {

enum class Backend { sqlite, postgres };

/// Where one test's stores live: a temporary data folder, and for PostgreSQL a fresh database.
class StoreLocation {
 public:
  /// nullptr when the back end cannot run here (PostgreSQL missing: WARN, or FAIL under CI=true).
  static std::unique_ptr<StoreLocation> make(Backend backend) {
    if (backend == Backend::sqlite) return std::unique_ptr<StoreLocation>(new StoreLocation(backend, std::nullopt));
    std::optional<TestDatabase> database = TestDatabase::create();
    if (!database) return nullptr;
    return std::unique_ptr<StoreLocation>(new StoreLocation(backend, std::move(database)));
  }

  [[nodiscard]] Backend backend() const noexcept { return backend_; }
  [[nodiscard]] bool postgres() const noexcept { return backend_ == Backend::postgres; }
  /// The data folder (SQLite's files; unused by PostgreSQL).
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
  [[nodiscard]] const TestDatabase& database() const { return *database_; }

  /// `options` pointed at this location.
  [[nodiscard]] server::EventStore::Options events(server::EventStore::Options options = {}) const {
    options.dir = dir_.path();
    if (database_) options.database = database_->url();
    return options;
  }
  [[nodiscard]] server::HistoryStore::Options history(server::HistoryStore::Options options = {}) const {
    options.dir = dir_.path();
    if (database_) options.database = database_->url();
    return options;
  }
  /// An event store here (a worker: each call opens another connection to the same database).
  [[nodiscard]] std::unique_ptr<server::EventStore> open(server::EventStore::Options options = {}) const {
    return server::open_event_store(events(std::move(options)));
  }

 private:
  StoreLocation(Backend backend, std::optional<TestDatabase> database)
      : backend_(backend), database_(std::move(database)) {}
  Backend backend_;
  TempDir dir_;
  std::optional<TestDatabase> database_;
};

}  // namespace maskdetect::test

/// Defines TEST_CASE NAME " (SQLite)" [monitor] and NAME " (PostgreSQL)" [monitor][postgres], each calling
/// FUNCTION(Backend).
#define STORE_TEST(NAME, FUNCTION)                                                          \
  TEST_CASE(NAME " (SQLite)", "[monitor]") { FUNCTION(maskdetect::test::Backend::sqlite); } \
  TEST_CASE(NAME " (PostgreSQL)", "[monitor][postgres]") { FUNCTION(maskdetect::test::Backend::postgres); }
