// pg_outbox.cpp - the outbox table in PostgreSQL; see pg_outbox.hpp and outbox.hpp.
#include "pg_outbox.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <openssl/sha.h>

#include "event_store.hpp"
#include "maskdetect/error.hpp"

namespace maskdetect::server {

namespace {

constexpr Migration kMigrations[] = {
    {1, "webhook deliveries waiting, per owner", R"sql(
CREATE TABLE outbox(
  id bigserial PRIMARY KEY,
  owner text NOT NULL,
  owner_key bigint NOT NULL,
  target text NOT NULL,
  body bytea NOT NULL,
  created double precision NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt double precision NOT NULL DEFAULT 0);
CREATE INDEX outbox_owner_target_id ON outbox(owner, target, id);
)sql"},
};

constexpr std::size_t kMaxTargetBytes = 200;

void check_target(std::string_view target, const std::string& where) {
  if (target.empty() || target.size() > kMaxTargetBytes)
    throw Error(Errc::bad_input, fmt::format("outbox in '{}': an outbox target must be 1 to {} bytes, got {}", where,
                                             kMaxTargetBytes, target.size()));
}

/// A lock key for `owner`: the first 62 bits of its SHA-256 (not negative, so that pg_locks' two 32-bit halves
/// give it back as (classid << 32) | objid).
std::int64_t key_of(const std::string& owner) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(owner.data()), owner.size(), digest.data());
  std::uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(key >> 2);
}

OutboxItem read_item(const pg::Result& r) {
  OutboxItem item;
  item.id = r.int64(0, 0);
  item.target = std::string(r.text(0, 1));
  item.body = r.bytes(0, 2);  // bytea: any bytes the sender queued
  item.created = r.real(0, 3);
  item.attempts = static_cast<int>(r.int64(0, 4));
  item.next_attempt = r.real(0, 5);
  return item;
}

}  // namespace

std::span<const Migration> pg_outbox_migrations() { return kMigrations; }

std::string PgOutbox::make_owner() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{}", host.data(), ::getpid(), detail::new_uid().substr(0, 8));
}

template <typename Work>
auto PgOutbox::with_db(Work&& work) -> decltype(work()) {
  const std::lock_guard lock(mutex_);
  try {
    return work();
  } catch (const pg::Error&) {
    if (db_.ok()) throw;  // the statement failed, not the connection
  }
  db_.reconnect();
  lock_owner();  // a new session: the owner's lock went with the old one
  return work();
}

void PgOutbox::lock_owner() {
  // Held by this session until it ends: while it is, nobody adopts this owner's items.
  db_.exec("SELECT pg_advisory_lock($1)", {pg::Param(key_)});
}

PgOutbox::PgOutbox(const std::string& url, const std::string& password, std::string owner)
    : owner_(std::move(owner)), key_(key_of(owner_)), db_(url, "maskdetect", password) {
  if (owner_.empty()) throw Error(Errc::bad_input, "an outbox needs an owner name");
  (void)pg::migrate(db_, "outbox", kMigrations);
  lock_owner();
  // Items of owners whose session is gone (no advisory lock held for their key) become this owner's.
  adopted_ = db_.exec(
                    "UPDATE outbox o SET owner = $1, owner_key = $2 WHERE owner_key <> $2 AND NOT EXISTS ("
                    "SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND "
                    "l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
                    "((l.classid::bigint << 32) | l.objid::bigint) = o.owner_key)",
                    {pg::Param(owner_), pg::Param(key_)})
                 .affected();
}

PgOutbox::~PgOutbox() = default;  // closing the connection releases the owner's lock

OutboxPush PgOutbox::push(std::string_view target, std::string_view body, double now, std::size_t max_items) {
  check_target(target, db_.description());
  return with_db([&] {
    // The insert, then the owner's items of this target beyond the newest max_items deleted (the new one is
    // the newest, so it stays), in one transaction.
    pg::Transaction tx(db_);
    OutboxPush out;
    out.id = db_.exec(
                    "INSERT INTO outbox(owner, owner_key, target, body, created) VALUES($1, $2, $3, $4, $5) "
                    "RETURNING id",
                    {pg::Param(owner_), pg::Param(key_), pg::Param(target), pg::Param::binary(body), pg::Param(now)})
                 .int64(0, 0);
    out.dropped = db_.exec(
                         "DELETE FROM outbox WHERE owner = $1 AND target = $2 AND id < (SELECT id FROM outbox WHERE "
                         "owner = $1 AND target = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)",
                         {pg::Param(owner_), pg::Param(target),
                          pg::Param(static_cast<std::int64_t>(std::max<std::size_t>(1, max_items) - 1))})
                      .affected();
    tx.commit();
    return out;
  });
}

std::optional<OutboxItem> PgOutbox::oldest(std::string_view target) {
  return with_db([&]() -> std::optional<OutboxItem> {
    const pg::Result r = db_.exec(
        "SELECT id, target, body, created, attempts, next_attempt FROM outbox WHERE owner = $1 AND target = $2 "
        "ORDER BY id LIMIT 1",
        {pg::Param(owner_), pg::Param(target)});
    if (r.rows() == 0) return std::nullopt;
    return read_item(r);
  });
}

bool PgOutbox::record_attempt(std::int64_t id, double next_attempt) {
  return with_db([&] {
    return db_.exec("UPDATE outbox SET attempts = attempts + 1, next_attempt = $3 WHERE id = $1 AND owner = $2",
                    {pg::Param(id), pg::Param(owner_), pg::Param(next_attempt)})
               .affected() > 0;
  });
}

bool PgOutbox::remove(std::int64_t id) {
  return with_db([&] {
    return db_.exec("DELETE FROM outbox WHERE id = $1 AND owner = $2", {pg::Param(id), pg::Param(owner_)}).affected() >
           0;
  });
}

std::size_t PgOutbox::size(std::string_view target) {
  return with_db([&] {
    return static_cast<std::size_t>(
        db_.exec("SELECT count(*) FROM outbox WHERE owner = $1 AND target = $2", {pg::Param(owner_), pg::Param(target)})
            .int64(0, 0));
  });
}

std::vector<std::string> PgOutbox::targets() {
  return with_db([&] {
    const pg::Result r =
        db_.exec("SELECT DISTINCT target FROM outbox WHERE owner = $1 ORDER BY target", {pg::Param(owner_)});
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) out.emplace_back(r.text(row, 0));
    return out;
  });
}

std::size_t PgOutbox::clear(std::string_view target) {
  return with_db([&] {
    return static_cast<std::size_t>(
        db_.exec("DELETE FROM outbox WHERE owner = $1 AND target = $2", {pg::Param(owner_), pg::Param(target)})
            .affected());
  });
}

}  // namespace maskdetect::server
