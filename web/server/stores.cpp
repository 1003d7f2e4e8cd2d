// stores.cpp - open_event_store: the event store a configuration names (event_store.hpp).
#include <fmt/format.h>

#include "event_store.hpp"
#include "event_store_pg.hpp"
#include "event_store_sqlite.hpp"
#include "maskdetect/error.hpp"
#include "pg.hpp"

namespace maskdetect::server {

std::unique_ptr<EventStore> open_event_store(const EventStore::Options& options) {
  if (options.database.empty()) return std::make_unique<SqliteEventStore>(options);
  if (!pg::is_postgres_url(options.database))
    throw Error(Errc::bad_input,
                fmt::format("database '{}': expected a postgresql:// URL", pg::redact(options.database)));
  return std::make_unique<PgEventStore>(options);
}

}  // namespace maskdetect::server
