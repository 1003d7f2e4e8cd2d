// leases.hpp - how many cameras a fleet worker claims or hands back at each tick (docs/fleet.md "How cameras
// move"). A pure function of what the worker sees in the database, so that the spreading rules are tested
// without one. The leases themselves are PostgreSQL session advisory locks (fleet.cpp).
//
// The fair share: the enabled cameras are spread over the live workers that are not draining, each up to its
// --max-cameras, as evenly as possible (a water level: workers whose cap is below it take their cap, the
// others the level, rounded down or up). A worker
//  - claims while it owns fewer than its share rounded up and some camera has no owner, but beyond its share
//    rounded down only when no other worker with room owns fewer (so that the last cameras go to the workers
//    with the fewest);
//  - hands back one camera per tick when it owns more than its share rounded up (a worker joined, or its cap
//    fell), or when every camera is owned, some worker with room owns fewer than its share rounded down, and
//    this worker is the first (by name) of those owning the most (one moves at a time).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace maskdetect::server::fleet {

/// A live worker as the database shows it.
struct WorkerLoad {
  std::string name;
  std::size_t owned = 0;  ///< cameras whose lock its connection holds
  int max_cameras = 0;    ///< its --max-cameras (0: no cap)
  bool draining = false;  ///< handing its cameras back (SIGTERM): takes no share
};

struct LeaseView {
  std::string me;                   ///< this worker's name (one of `workers`, or draining)
  std::size_t owned = 0;            ///< cameras this worker runs
  int max_cameras = 0;              ///< this worker's cap (0: none)
  std::size_t cameras = 0;          ///< enabled cameras of the fleet
  std::size_t unowned = 0;          ///< enabled cameras that no live worker holds
  std::vector<WorkerLoad> workers;  ///< the live workers, this one included
};

struct LeasePlan {
  std::size_t claim = 0;  ///< cameras to try to claim now (the unowned ones, as many as this)
  std::size_t shed = 0;   ///< cameras to hand back now
};

/// A worker's fair share of `cameras` among `workers` (not draining): {rounded down, rounded up}, both within
/// its cap. Water-filling: workers with a cap below the level take their cap.
struct Share {
  std::size_t floor = 0;
  std::size_t ceil = 0;
};
[[nodiscard]] Share fair_share(std::size_t cameras, const std::vector<WorkerLoad>& workers, int max_cameras);

[[nodiscard]] LeasePlan plan_leases(const LeaseView& view);

}  // namespace maskdetect::server::fleet
