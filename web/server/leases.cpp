// leases.cpp - the spreading rules; see leases.hpp.
#include "leases.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace maskdetect::server::fleet {

namespace {

std::size_t cap_of(int max_cameras) {
  return max_cameras > 0 ? static_cast<std::size_t>(max_cameras) : std::numeric_limits<std::size_t>::max();
}

}  // namespace

Share fair_share(std::size_t cameras, const std::vector<WorkerLoad>& workers, int max_cameras) {
  std::vector<std::size_t> caps;
  for (const WorkerLoad& w : workers)
    if (!w.draining) caps.push_back(cap_of(w.max_cameras));
  const std::size_t mine = cap_of(max_cameras);
  if (caps.empty()) return {std::min(cameras, mine), std::min(cameras, mine)};
  std::sort(caps.begin(), caps.end());
  // Water level: the workers whose cap is below it take their cap; the others share the rest evenly.
  double rest = static_cast<double>(cameras);
  std::size_t left = caps.size();
  for (const std::size_t cap : caps) {
    if (static_cast<double>(cap) * static_cast<double>(left) >= rest) break;
    rest -= static_cast<double>(cap);
    --left;
  }
  // Every worker capped below the level: each takes its cap.
  const double level = left > 0 ? rest / static_cast<double>(left) : static_cast<double>(cameras);
  const auto down = static_cast<std::size_t>(std::floor(level + 1e-9));
  const auto up = static_cast<std::size_t>(std::ceil(level - 1e-9));
  return {std::min(down, mine), std::min(up, mine)};
}

LeasePlan plan_leases(const LeaseView& view) {
  LeasePlan plan;
  const bool draining = std::any_of(view.workers.begin(), view.workers.end(),
                                    [&](const WorkerLoad& w) { return w.name == view.me && w.draining; });
  if (draining) {
    plan.shed = view.owned;
    return plan;
  }
  const Share share = fair_share(view.cameras, view.workers, view.max_cameras);
  if (view.owned > share.ceil) {
    plan.shed = 1;
    return plan;
  }
  // The other workers with room below their own share: who needs cameras more than this one.
  std::size_t fewest_with_room = std::numeric_limits<std::size_t>::max();
  bool someone_below_floor = false;
  std::size_t most = view.owned;
  std::string first_of_most = view.me;
  for (const WorkerLoad& w : view.workers) {
    if (w.draining || w.name == view.me) continue;
    const Share theirs = fair_share(view.cameras, view.workers, w.max_cameras);
    if (w.owned < theirs.ceil) fewest_with_room = std::min(fewest_with_room, w.owned);
    if (w.owned < theirs.floor) someone_below_floor = true;
    if (w.owned > most || (w.owned == most && w.name < first_of_most)) {
      most = w.owned;
      first_of_most = w.name;
    }
  }
  if (view.unowned > 0 && view.owned < share.ceil) {
    if (view.owned < share.floor) {
      plan.claim = std::min(view.unowned, share.floor - view.owned);
    } else if (view.owned <= fewest_with_room) {
      plan.claim = 1;
    }
    return plan;
  }
  if (view.unowned == 0 && someone_below_floor && view.owned > share.floor && first_of_most == view.me &&
      most == view.owned)
    plan.shed = 1;
  return plan;
}

}  // namespace maskdetect::server::fleet
