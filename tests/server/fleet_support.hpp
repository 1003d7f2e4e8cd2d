// Helpers of the fleet tests: who analysed which camera when, read from the workers' log lines
//   serve: fleet: camera door analysed by w1 from 1796281146.200 (epoch 3)
//   serve: fleet: camera door analysed by w1 until 1796281149.700 (120 frames; drained)
// ("from": no frame of it analysed by that worker before; "until": none after, its thread joined), and the
// check that no camera was ever analysed by two workers at once.
#pragma once

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace fleet_test {

struct Interval {
  std::string worker;
  double from = 0.0;
  double until = 0.0;  ///< the end of the log (or the worker's kill) when it never said
  bool open = false;   ///< no "until" line: the worker died, or still runs it
};

/// Every camera's ownership intervals in the log `text` (several workers' logs may be concatenated). An
/// interval left open ends at `end_of[worker]` when given (the time the test killed it), else at `now`.
inline std::map<std::string, std::vector<Interval>> ownership(const std::string& text,
                                                              const std::map<std::string, double>& end_of, double now) {
  static const std::regex line(R"(fleet: camera (\S+) analysed by (\S+) (from|until) ([0-9.]+))");
  std::map<std::string, std::vector<Interval>> out;
  std::istringstream in(text);
  std::string row;
  while (std::getline(in, row)) {
    std::smatch m;
    if (!std::regex_search(row, m, line)) continue;
    auto& list = out[m[1]];
    const double t = std::stod(m[4]);
    if (m[3] == "from") {
      list.push_back(Interval{m[2], t, 0.0, true});
    } else {
      for (auto it = list.rbegin(); it != list.rend(); ++it) {
        if (it->worker == m[2] && it->open) {
          it->until = t;
          it->open = false;
          break;
        }
      }
    }
  }
  for (auto& [camera, list] : out) {
    for (Interval& i : list) {
      if (!i.open) continue;
      const auto it = end_of.find(i.worker);
      i.until = it != end_of.end() ? it->second : now;
    }
    std::sort(list.begin(), list.end(), [](const Interval& a, const Interval& b) { return a.from < b.from; });
  }
  return out;
}

/// "" when no two intervals of a camera overlap; else a description of the first overlap.
inline std::string overlap(const std::map<std::string, std::vector<Interval>>& intervals) {
  for (const auto& [camera, list] : intervals) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (list[j].until > list[i].from) {
          std::ostringstream text;
          text.precision(15);
          text << "camera " << camera << ": " << list[j].worker << " [" << list[j].from << ", " << list[j].until
               << "] overlaps " << list[i].worker << " [" << list[i].from << ", " << list[i].until << "]";
          return text.str();
        }
      }
    }
  }
  return "";
}

}  // namespace fleet_test
