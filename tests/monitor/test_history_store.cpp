// The history store on both back ends (SQLite and PostgreSQL): minutes per camera, buckets of several
// minutes, persistence across reopen, retention by age.
#include <chrono>
#include <filesystem>
#include <thread>

#include "history_store.hpp"
#include "store_backends.hpp"

using maskdetect::MaskLabel;
using maskdetect::server::HistoryQuery;
using maskdetect::server::HistoryStore;
using maskdetect::test::Backend;
using maskdetect::test::StoreLocation;

namespace {

void minutes_steps_reopen(Backend backend) {
  auto where = StoreLocation::make(backend);
  if (!where) return;
  const double t0 = 1'800'000'000.0;  // a minute boundary (divisible by 60)
  {
    HistoryStore store(where->history({.max_age_s = 0.0, .flush_interval_s = 0.05}));
    for (int i = 0; i < 10; ++i) store.add_frame("door", t0 + i, 2, 1.0);       // minute 0: 10 frames, 2 in view
    for (int i = 0; i < 30; ++i) store.add_frame("door", t0 + 60 + i, 1, 0.5);  // minute 1: 30 frames in 15 s
    for (int i = 0; i < 5; ++i) store.add_frame("hall", t0 + 400 + i, 0, 1.0);  // minute 6
    store.add_person("door", t0 + 5, MaskLabel::mask);
    store.add_person("door", t0 + 70, MaskLabel::no_mask);
    store.add_person("door", t0 + 71, MaskLabel::mask);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the writer stores them
  }
  HistoryStore store(where->history({.max_age_s = 0.0}));
  auto series =
      store.query(HistoryQuery{.since = static_cast<std::int64_t>(t0), .until = static_cast<std::int64_t>(t0) + 3600});
  REQUIRE(series.size() == 2);
  const auto& door = series.at("door");
  REQUIRE(door.size() == 2);
  CHECK(door[0].t == static_cast<std::int64_t>(t0));
  CHECK(door[0].frames == 10);
  CHECK(door[0].in_view() == Approx(2.0));
  CHECK(door[0].fps() == Approx(1.0));
  CHECK(door[0].people_total() == 1);
  CHECK(door[0].compliance().value() == Approx(1.0));
  CHECK(door[1].t == static_cast<std::int64_t>(t0) + 60);
  CHECK(door[1].fps() == Approx(2.0));
  CHECK(door[1].compliance().value() == Approx(0.5));
  CHECK(series.at("hall").front().t == static_cast<std::int64_t>(t0) + 360);
  CHECK(!series.at("hall").front().compliance());

  // Five-minute steps: door's two minutes in one bucket; a camera filter.
  series = store.query(HistoryQuery{.camera = "door",
                                    .since = static_cast<std::int64_t>(t0),
                                    .until = static_cast<std::int64_t>(t0) + 3600,
                                    .step_s = 300});
  REQUIRE(series.size() == 1);
  REQUIRE(series.at("door").size() == 1);
  CHECK(series.at("door")[0].frames == 40);
  CHECK(series.at("door")[0].people_total() == 3);
  CHECK(series.at("door")[0].in_view() == Approx((10 * 2 + 30 * 1) / 40.0));
  CHECK(series.at("door")[0].fps() == Approx(40.0 / 25.0));

  // A range that ends before the data.
  CHECK(store.query(HistoryQuery{.since = 0, .until = static_cast<std::int64_t>(t0)}).empty());

  // Additions to a stored minute add up (upsert), they do not replace it.
  store.add_frame("door", t0 + 30, 4, 1.0);
  series = store.query(HistoryQuery{
      .camera = "door", .since = static_cast<std::int64_t>(t0), .until = static_cast<std::int64_t>(t0) + 60});
  CHECK(series.at("door").at(0).frames == 11);

  // A person counted on arrival whose final vote differs moves between labels within their arrival minute,
  // also after that minute was stored; the same vote changes nothing.
  store.relabel_person("door", t0 + 5, MaskLabel::mask, MaskLabel::incorrect);
  store.relabel_person("door", t0 + 70, MaskLabel::no_mask, MaskLabel::no_mask);
  series = store.query(HistoryQuery{
      .camera = "door", .since = static_cast<std::int64_t>(t0), .until = static_cast<std::int64_t>(t0) + 120});
  REQUIRE(series.at("door").size() == 2);
  const auto& moved = series.at("door")[0];
  CHECK(moved.people_total() == 1);
  CHECK(moved.people[static_cast<std::size_t>(MaskLabel::mask)] == 0);
  CHECK(moved.people[static_cast<std::size_t>(MaskLabel::incorrect)] == 1);
  CHECK(moved.compliance().value() == Approx(0.0));
  CHECK(series.at("door")[1].people[static_cast<std::size_t>(MaskLabel::no_mask)] == 1);
  CHECK(series.at("door")[1].people_total() == 2);
}

STORE_TEST("history: minutes per camera, summed into steps, kept across reopen", minutes_steps_reopen)

void age_limit(Backend backend) {
  auto where = StoreLocation::make(backend);
  if (!where) return;
  HistoryStore store(where->history({.max_age_s = 3600.0}));
  const double now = 1'800'000'000.0;
  store.add_frame("door", now - 7200, 1, 1.0);
  store.add_frame("door", now - 60, 1, 1.0);
  store.flush();
  CHECK(store.enforce_retention(now) == 1);
  const auto series = store.query(HistoryQuery{.since = 0, .until = static_cast<std::int64_t>(now)});
  REQUIRE(series.at("door").size() == 1);
  CHECK(series.at("door")[0].t == static_cast<std::int64_t>(now) - 60);
}
STORE_TEST("history: rows older than the age limit are deleted", age_limit)

}  // namespace
