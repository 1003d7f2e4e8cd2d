// The fleet's spreading rules (web/server/leases.hpp), without a database: the fair share, and a simulation
// of workers ticking in turn (each sees the others' counts, claims unowned cameras or hands some back) that
// must settle on an even spread, respect every cap, and then stay still.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "leases.hpp"

using maskdetect::server::fleet::fair_share;
using maskdetect::server::fleet::LeasePlan;
using maskdetect::server::fleet::LeaseView;
using maskdetect::server::fleet::plan_leases;
using maskdetect::server::fleet::WorkerLoad;

namespace {

struct Sim {
  std::size_t cameras = 0;
  std::vector<WorkerLoad> workers;
  std::size_t moves = 0;  ///< claims and hand-backs so far

  [[nodiscard]] std::size_t owned() const {
    std::size_t n = 0;
    for (const WorkerLoad& w : workers) n += w.owned;
    return n;
  }
  /// One tick of worker `i`: what plan_leases says, applied at once.
  bool tick(std::size_t i) {
    LeaseView view;
    view.me = workers[i].name;
    view.owned = workers[i].owned;
    view.max_cameras = workers[i].max_cameras;
    view.cameras = cameras;
    view.unowned = cameras - owned();
    view.workers = workers;
    const LeasePlan plan = plan_leases(view);
    const std::size_t claimed = std::min(plan.claim, view.unowned);
    workers[i].owned += claimed;
    const std::size_t shed = std::min(plan.shed, workers[i].owned);
    workers[i].owned -= shed;
    moves += claimed + shed;
    return claimed + shed > 0;
  }
  /// Ticks every worker in turn until a whole round changes nothing; false after `rounds` rounds.
  bool settle(int rounds = 100) {
    for (int r = 0; r < rounds; ++r) {
      bool changed = false;
      for (std::size_t i = 0; i < workers.size(); ++i) changed = tick(i) || changed;
      if (!changed) return true;
    }
    return false;
  }
  void add(const std::string& name, int max_cameras = 0) { workers.push_back({name, 0, max_cameras, false}); }
};

/// max - min over the workers without a cap (or below it).
std::size_t spread(const Sim& sim) {
  std::size_t lo = SIZE_MAX;
  std::size_t hi = 0;
  for (const WorkerLoad& w : sim.workers) {
    if (w.draining) continue;
    if (w.max_cameras > 0 && w.owned >= static_cast<std::size_t>(w.max_cameras)) continue;
    lo = std::min(lo, w.owned);
    hi = std::max(hi, w.owned);
  }
  return lo == SIZE_MAX ? 0 : hi - lo;
}

}  // namespace

TEST_CASE("fleet fair share is even and within caps (water-filling)", "[fleet]") {
  const std::vector<WorkerLoad> three{{"a", 0, 0, false}, {"b", 0, 0, false}, {"c", 0, 0, false}};
  CHECK(fair_share(6, three, 0).floor == 2);
  CHECK(fair_share(6, three, 0).ceil == 2);
  CHECK(fair_share(7, three, 0).floor == 2);
  CHECK(fair_share(7, three, 0).ceil == 3);
  CHECK(fair_share(7, three, 1).ceil == 1);  // a cap of 1
  CHECK(fair_share(0, three, 0).ceil == 0);
  // A worker capped at 1 leaves the others 5 of 6: 2.5 each.
  const std::vector<WorkerLoad> capped{{"a", 0, 1, false}, {"b", 0, 0, false}, {"c", 0, 0, false}};
  CHECK(fair_share(6, capped, 0).floor == 2);
  CHECK(fair_share(6, capped, 0).ceil == 3);
  // A draining worker takes no share.
  const std::vector<WorkerLoad> draining{{"a", 0, 0, true}, {"b", 0, 0, false}};
  CHECK(fair_share(6, draining, 0).floor == 6);
}

TEST_CASE("fleet spreading: 6 cameras over 3 workers started one after the other end 2/2/2", "[fleet]") {
  Sim sim;
  sim.cameras = 6;
  sim.add("w1");
  REQUIRE(sim.settle());
  CHECK(sim.workers[0].owned == 6);  // alone, it runs them all
  sim.add("w2");
  REQUIRE(sim.settle());
  CHECK(sim.workers[0].owned == 3);
  CHECK(sim.workers[1].owned == 3);
  sim.add("w3");
  REQUIRE(sim.settle());
  for (const WorkerLoad& w : sim.workers) CHECK(w.owned == 2);
  CHECK(sim.owned() == 6);
  // Settled means still: more rounds move nothing.
  const std::size_t moves = sim.moves;
  REQUIRE(sim.settle(3));
  CHECK(sim.moves == moves);
}

TEST_CASE("fleet spreading: a worker that dies leaves its cameras evenly to the others", "[fleet]") {
  Sim sim;
  sim.cameras = 6;
  for (const char* name : {"w1", "w2", "w3"}) sim.add(name);
  REQUIRE(sim.settle());
  sim.workers.erase(sim.workers.begin() + 1);  // w2's connection drops: its locks go
  REQUIRE(sim.settle());
  CHECK(sim.owned() == 6);
  CHECK(sim.workers[0].owned == 3);
  CHECK(sim.workers[1].owned == 3);
}

TEST_CASE("fleet spreading: uneven counts and caps and workers started together settle evenly", "[fleet]") {
  for (std::size_t cameras : {1U, 5U, 7U, 10U, 31U}) {
    for (std::size_t n : {2U, 3U, 4U}) {
      Sim sim;
      sim.cameras = cameras;
      for (std::size_t i = 0; i < n; ++i) sim.add("w" + std::to_string(i));
      INFO(cameras << " cameras, " << n << " workers");
      REQUIRE(sim.settle());
      CHECK(sim.owned() == cameras);
      CHECK(spread(sim) <= 1);
    }
  }
  // Caps: 1 + unlimited + unlimited for 6 cameras: 1, then 2.5 each (2 and 3); nothing left unowned.
  Sim capped;
  capped.cameras = 6;
  capped.add("a", 1);
  capped.add("b");
  capped.add("c");
  REQUIRE(capped.settle());
  CHECK(capped.workers[0].owned == 1);
  CHECK(capped.owned() == 6);
  CHECK(spread(capped) <= 1);
  // More cameras than all caps: every worker full, the rest unowned (maskdetect_cameras_unowned > 0).
  Sim full;
  full.cameras = 10;
  full.add("a", 3);
  full.add("b", 3);
  REQUIRE(full.settle());
  CHECK(full.workers[0].owned == 3);
  CHECK(full.workers[1].owned == 3);
  CHECK(full.cameras - full.owned() == 4);
}

TEST_CASE("fleet spreading: a draining worker hands back everything and takes nothing", "[fleet]") {
  Sim sim;
  sim.cameras = 4;
  sim.add("a");
  sim.add("b");
  REQUIRE(sim.settle());
  sim.workers[0].draining = true;
  REQUIRE(sim.settle());
  CHECK(sim.workers[0].owned == 0);
  CHECK(sim.workers[1].owned == 4);
}
