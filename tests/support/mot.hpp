// CLEAR MOT (MOTA, ID switches) and IDF1 of tracker output against ground truth, for the tracking tests and
// tests/tools/mot_bench. Matching: IoU >= 0.5; a ground-truth object keeps its previous hypothesis while they
// still overlap that much (CLEAR MOT), the rest is an optimal assignment.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include <opencv2/core/types.hpp>

#include "maskdetect/tracker.hpp"

namespace maskdetect::test {

struct MotBox {
  std::int64_t id = 0;
  cv::Rect2f box;
};

struct MotScores {
  std::int64_t gt = 0;   ///< ground-truth boxes
  std::int64_t hyp = 0;  ///< tracker boxes
  std::int64_t tp = 0;
  std::int64_t fn = 0;
  std::int64_t fp = 0;
  std::int64_t id_switches = 0;
  std::int64_t idtp = 0;
  [[nodiscard]] double mota() const {
    return gt == 0 ? 0.0 : 1.0 - static_cast<double>(fn + fp + id_switches) / static_cast<double>(gt);
  }
  [[nodiscard]] double idf1() const {
    return gt + hyp == 0 ? 0.0 : 2.0 * static_cast<double>(idtp) / static_cast<double>(gt + hyp);
  }
};

inline constexpr float kMotIou = 0.5f;

/// Per frame: ground truth and hypotheses (both with ids).
inline MotScores score_mot(const std::vector<std::vector<MotBox>>& gt, const std::vector<std::vector<MotBox>>& hyp) {
  MotScores s;
  std::map<std::int64_t, std::int64_t> last;                            // gt id -> hyp id of its last match
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> pairs;  // (gt, hyp) -> frames matched
  std::map<std::int64_t, std::int64_t> gt_frames;
  std::map<std::int64_t, std::int64_t> hyp_frames;
  for (std::size_t f = 0; f < gt.size(); ++f) {
    const auto& g = gt[f];
    const std::vector<MotBox> empty;
    const auto& h = f < hyp.size() ? hyp[f] : empty;
    s.gt += static_cast<std::int64_t>(g.size());
    s.hyp += static_cast<std::int64_t>(h.size());
    for (const auto& b : g) ++gt_frames[b.id];
    for (const auto& b : h) ++hyp_frames[b.id];
    std::vector<int> match(g.size(), -1);
    std::vector<bool> used(h.size(), false);
    for (std::size_t i = 0; i < g.size(); ++i) {  // keep last frame's correspondences
      const auto it = last.find(g[i].id);
      if (it == last.end()) continue;
      for (std::size_t j = 0; j < h.size(); ++j) {
        if (!used[j] && h[j].id == it->second && iou(g[i].box, h[j].box) >= kMotIou) {
          match[i] = static_cast<int>(j);
          used[j] = true;
        }
      }
    }
    std::vector<std::size_t> rows;
    std::vector<std::size_t> cols;
    for (std::size_t i = 0; i < g.size(); ++i)
      if (match[i] < 0) rows.push_back(i);
    for (std::size_t j = 0; j < h.size(); ++j)
      if (!used[j]) cols.push_back(j);
    std::vector<std::vector<float>> score(rows.size(), std::vector<float>(cols.size()));
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (std::size_t c = 0; c < cols.size(); ++c) score[r][c] = iou(g[rows[r]].box, h[cols[c]].box);
    const auto assigned = match_rows(score, kMotIou, TrackMatching::hungarian);
    for (std::size_t r = 0; r < rows.size(); ++r)
      if (assigned[r] >= 0) match[rows[r]] = static_cast<int>(cols[static_cast<std::size_t>(assigned[r])]);
    for (std::size_t i = 0; i < g.size(); ++i) {
      if (match[i] < 0) {
        ++s.fn;
        continue;
      }
      ++s.tp;
      const std::int64_t hid = h[static_cast<std::size_t>(match[i])].id;
      const auto it = last.find(g[i].id);
      if (it != last.end() && it->second != hid) ++s.id_switches;
      last[g[i].id] = hid;
    }
    s.fp +=
        static_cast<std::int64_t>(h.size()) - std::count_if(match.begin(), match.end(), [](int m) { return m >= 0; });
    // IDF1 counts every overlapping (gt, hyp) pair per frame, then keeps the best one-to-one identity map.
    for (const auto& gb : g)
      for (const auto& hb : h)
        if (iou(gb.box, hb.box) >= kMotIou) ++pairs[{gb.id, hb.id}];
  }
  std::vector<std::int64_t> gids;
  std::vector<std::int64_t> hids;
  for (const auto& [id, n] : gt_frames) gids.push_back(id);
  for (const auto& [id, n] : hyp_frames) hids.push_back(id);
  std::vector<std::vector<float>> score(gids.size(), std::vector<float>(hids.size(), 0.0f));
  float top = 1.0f;
  for (const auto& [key, n] : pairs) top = std::max(top, static_cast<float>(n));
  for (std::size_t r = 0; r < gids.size(); ++r)
    for (std::size_t c = 0; c < hids.size(); ++c) {
      const auto it = pairs.find({gids[r], hids[c]});
      score[r][c] = it == pairs.end() ? 0.0f : static_cast<float>(it->second) / top;
    }
  const auto assigned = match_rows(score, 1e-6f, TrackMatching::hungarian);
  for (std::size_t r = 0; r < gids.size(); ++r)
    if (assigned[r] >= 0) s.idtp += pairs[{gids[r], hids[static_cast<std::size_t>(assigned[r])]}];
  return s;
}

}  // namespace maskdetect::test
