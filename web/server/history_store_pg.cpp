// history_store_pg.cpp - the PostgreSQL back end of the history: the `history` table, one row per camera and
// minute, which every worker adds to (INSERT ... ON CONFLICT DO UPDATE adding each figure).
#include <fmt/format.h>

#include "history_store.hpp"
#include "migrations.hpp"
#include "pg.hpp"

namespace maskdetect::server {

namespace {

constexpr Migration kMigrations[] = {
    {1, "minutes per camera", R"sql(
CREATE TABLE history(
  camera text NOT NULL,
  t bigint NOT NULL,
  frames bigint NOT NULL DEFAULT 0,
  in_view_sum double precision NOT NULL DEFAULT 0,
  seconds double precision NOT NULL DEFAULT 0,
  mask bigint NOT NULL DEFAULT 0,
  no_mask bigint NOT NULL DEFAULT 0,
  incorrect bigint NOT NULL DEFAULT 0,
  PRIMARY KEY(camera, t));
CREATE INDEX history_t ON history(t);
)sql"},
};

class PgHistoryBackend final : public HistoryBackend {
 public:
  PgHistoryBackend(const std::string& url, const std::string& password) : db_(url, "maskdetect", password) {
    (void)pg::migrate(db_, "history", kMigrations);
  }

  void add(const HistoryRows& rows) override {
    with_db([&] {
      // Rows in key order (the map's): two workers adding to the same minutes lock them in the same order.
      pg::Transaction tx(db_);
      for (const auto& [key, p] : rows) {
        db_.exec(
            "INSERT INTO history(camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect) "
            "VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(camera, t) DO UPDATE SET "
            "frames = history.frames + excluded.frames, in_view_sum = history.in_view_sum + excluded.in_view_sum, "
            "seconds = history.seconds + excluded.seconds, mask = history.mask + excluded.mask, "
            "no_mask = history.no_mask + excluded.no_mask, incorrect = history.incorrect + excluded.incorrect",
            {pg::Param(key.first), pg::Param(key.second), pg::Param(p.frames), pg::Param(p.in_view_sum),
             pg::Param(p.seconds), pg::Param(p.people[static_cast<std::size_t>(MaskLabel::mask)]),
             pg::Param(p.people[static_cast<std::size_t>(MaskLabel::no_mask)]),
             pg::Param(p.people[static_cast<std::size_t>(MaskLabel::incorrect)])});
      }
      tx.commit();
      return 0;
    });
  }

  HistoryRows read(const std::string& camera, std::int64_t since, std::int64_t until) override {
    return with_db([&] {
      std::string sql =
          "SELECT camera, t, frames, in_view_sum, seconds, mask, no_mask, incorrect FROM history "
          "WHERE t >= $1 AND t < $2";
      std::vector<pg::Param> params{pg::Param(since), pg::Param(until)};
      if (!camera.empty()) {
        sql += " AND camera = $3";
        params.emplace_back(camera);
      }
      const pg::Result r = db_.exec(sql, params);
      HistoryRows out;
      for (int row = 0; row < r.rows(); ++row) {
        HistoryPoint& p = out[{std::string(r.text(row, 0)), r.int64(row, 1)}];
        p.t = r.int64(row, 1);
        p.frames = r.int64(row, 2);
        p.in_view_sum = r.real(row, 3);
        p.seconds = r.real(row, 4);
        p.people[static_cast<std::size_t>(MaskLabel::mask)] = r.int64(row, 5);
        p.people[static_cast<std::size_t>(MaskLabel::no_mask)] = r.int64(row, 6);
        p.people[static_cast<std::size_t>(MaskLabel::incorrect)] = r.int64(row, 7);
      }
      return out;
    });
  }

  std::size_t remove_before(std::int64_t t) override {
    return with_db([&] {
      return static_cast<std::size_t>(db_.exec("DELETE FROM history WHERE t < $1", {pg::Param(t)}).affected());
    });
  }

  [[nodiscard]] std::string description() const override { return db_.description(); }

 private:
  /// Runs `work`; when the connection was lost, reconnects and runs it once more.
  template <typename Work>
  auto with_db(Work&& work) -> decltype(work()) {
    try {
      return work();
    } catch (const pg::Error&) {
      if (db_.ok()) throw;
    }
    db_.reconnect();
    return work();
  }

  pg::Connection db_;
};

}  // namespace

std::unique_ptr<HistoryBackend> pg_history_backend(const std::string& url, const std::string& password) {
  return std::make_unique<PgHistoryBackend>(url, password);
}

}  // namespace maskdetect::server
