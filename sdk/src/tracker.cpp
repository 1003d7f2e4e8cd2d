// The face tracker: constant-velocity Kalman prediction, ByteTrack-style two-stage IoU association,
// track life cycle, label vote and best crop (see maskdetect/tracker.hpp).
#include "maskdetect/tracker.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "maskdetect/error.hpp"
#include "maskdetect/mask_classifier.hpp"

namespace maskdetect {
namespace {

using Vec8 = cv::Matx<float, 8, 1>;
using Mat8 = cv::Matx<float, 8, 8>;
using Vec4 = cv::Matx<float, 4, 1>;
using Mat4 = cv::Matx<float, 4, 4>;
using Mat48 = cv::Matx<float, 4, 8>;

// Process and measurement noise scale with the face height, as in SORT/ByteTrack's Kalman filter.
constexpr float kStdPosition = 1.0f / 20.0f;
constexpr float kStdVelocity = 1.0f / 160.0f;
constexpr float kCropMargin = 0.15f;

Vec4 measurement(const cv::Rect2f& box) {
  return {box.x + box.width / 2.0f, box.y + box.height / 2.0f, box.width, box.height};
}

cv::Rect2f box_of(const Vec8& mean) {
  const float w = std::max(1.0f, mean(2));
  const float h = std::max(1.0f, mean(3));
  return {mean(0) - w / 2.0f, mean(1) - h / 2.0f, w, h};
}

Mat8 transition() {
  Mat8 f = Mat8::eye();
  for (int i = 0; i < 4; ++i) f(i, i + 4) = 1.0f;
  return f;
}

Mat48 observation() {
  Mat48 h;
  for (int i = 0; i < 4; ++i) h(i, i) = 1.0f;
  return h;
}

float sq(float v) { return v * v; }

/// While a track is unmatched its size stops changing (as ByteTrack does): a face shrinking as it is covered
/// would otherwise be predicted to vanish and never be matched again.
template <typename Filter>
void hold_size(Filter& k) {
  k.mean(6) = 0.0f;
  k.mean(7) = 0.0f;
}

/// One constant-velocity Kalman prediction step; the size is held while the track is unmatched (`lost`).
template <typename Filter>
void predict_ahead(Filter& k, bool lost) {
  static const Mat8 f = transition();
  const float size = std::max(1.0f, k.mean(3));
  Mat8 q = Mat8::zeros();
  for (int d = 0; d < 4; ++d) {
    q(d, d) = sq(kStdPosition * size);
    q(d + 4, d + 4) = sq(kStdVelocity * size);
  }
  if (lost) hold_size(k);
  k.mean = f * k.mean;
  k.cov = f * k.cov * f.t() + q;
}

/// One Kalman correction step with a measured `box` (measurement noise scales with the predicted height).
template <typename Filter>
void correct_with(Filter& k, const cv::Rect2f& box) {
  static const Mat48 h = observation();
  const float size = std::max(1.0f, k.mean(3));
  Mat4 r = Mat4::zeros();
  for (int d = 0; d < 4; ++d) r(d, d) = sq(kStdPosition * size);
  const Mat4 s = h * k.cov * h.t() + r;
  const cv::Matx<float, 8, 4> gain = k.cov * h.t() * s.inv(cv::DECOMP_CHOLESKY);
  k.mean = k.mean + gain * (measurement(box) - h * k.mean);
  k.cov = (Mat8::eye() - gain * h) * k.cov;
}

bool classified(const LabelProbs& probs) {
  return std::any_of(probs.begin(), probs.end(), [](float p) { return p > 0.0f; });
}

/// Large and sharp: min side of the box times the square root of the Laplacian variance of the crop.
float crop_quality(const cv::Mat& crop, const cv::Rect2f& box) {
  cv::Mat gray;
  cv::Mat lap;
  cv::cvtColor(crop, gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_32F);
  cv::Scalar mean;
  cv::Scalar stddev;
  cv::meanStdDev(lap, mean, stddev);
  return std::min(box.width, box.height) * static_cast<float>(stddev[0]);
}

/// Kuhn-Munkres on a square cost matrix (n x n, row-major); returns the column assigned to each row.
std::vector<int> hungarian(const std::vector<double>& cost, std::size_t n) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0);
  std::vector<double> v(n + 1, 0.0);
  std::vector<std::size_t> p(n + 1, 0);
  std::vector<std::size_t> way(n + 1, 0);
  for (std::size_t i = 1; i <= n; ++i) {
    p[0] = i;
    std::size_t j0 = 0;
    std::vector<double> minv(n + 1, inf);
    std::vector<bool> used(n + 1, false);
    do {
      used[j0] = true;
      const std::size_t i0 = p[j0];
      double delta = inf;
      std::size_t j1 = 0;
      for (std::size_t j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (std::size_t j = 0; j <= n; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const std::size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> row_to_col(n, -1);
  for (std::size_t j = 1; j <= n; ++j) {
    if (p[j] != 0) row_to_col[p[j] - 1] = static_cast<int>(j - 1);
  }
  return row_to_col;
}

}  // namespace

float iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

std::vector<int> match_rows(const std::vector<std::vector<float>>& score, float min_score, TrackMatching matching) {
  const std::size_t rows = score.size();
  const std::size_t cols = rows == 0 ? 0 : score.front().size();
  std::vector<int> result(rows, -1);
  if (rows == 0 || cols == 0) return result;
  if (matching == TrackMatching::greedy) {
    struct Pair {
      float score;
      std::size_t row;
      std::size_t col;
    };
    std::vector<Pair> pairs;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < cols; ++c) {
        if (score[r][c] >= min_score) pairs.push_back({score[r][c], r, c});
      }
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.score > b.score; });
    std::vector<bool> col_used(cols, false);
    for (const Pair& pair : pairs) {
      if (result[pair.row] >= 0 || col_used[pair.col]) continue;
      result[pair.row] = static_cast<int>(pair.col);
      col_used[pair.col] = true;
    }
    return result;
  }
  // Pairs below min_score cost more than leaving both unmatched could ever save, so the optimum never needs
  // them; any that the padding forces in are dropped afterwards.
  const std::size_t n = std::max(rows, cols);
  constexpr double kForbidden = 1e6;
  std::vector<double> cost(n * n, 1.0);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      cost[r * n + c] = score[r][c] >= min_score ? 1.0 - static_cast<double>(score[r][c]) : kForbidden;
    }
  }
  const std::vector<int> assigned = hungarian(cost, n);
  for (std::size_t r = 0; r < rows; ++r) {
    const int c = assigned[r];
    if (c >= 0 && static_cast<std::size_t>(c) < cols && score[r][static_cast<std::size_t>(c)] >= min_score)
      result[r] = c;
  }
  return result;
}

Tracker::Tracker(const TrackerOptions& options) : options_(options) {
  auto bad = [](const char* name, auto value, const char* rule) {
    throw Error(Errc::invalid_config, fmt::format("tracker option '{}' = {}: {}", name, value, rule));
  };
  if (!(options.low_score >= 0.0f && options.low_score <= 1.0f)) bad("low_score", options.low_score, "not in [0, 1]");
  if (!(options.high_score >= options.low_score && options.high_score <= 1.0f))
    bad("high_score", options.high_score, "not in [low_score, 1]");
  if (!(options.match_iou > 0.0f && options.match_iou <= 1.0f)) bad("match_iou", options.match_iou, "not in (0, 1]");
  if (!(options.low_match_iou > 0.0f && options.low_match_iou <= 1.0f))
    bad("low_match_iou", options.low_match_iou, "not in (0, 1]");
  if (options.min_hits < 1) bad("min_hits", options.min_hits, "must be at least 1");
  if (options.max_lost_frames < 1) bad("max_lost_frames", options.max_lost_frames, "must be at least 1");
  if (options.crop_size < 8) bad("crop_size", options.crop_size, "must be at least 8");
}

void Tracker::update(std::vector<Face>& faces, double t, const cv::Mat& bgr) {
  // 1. Predict every track one frame ahead.
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    predict_ahead(filters_[i], tracks_[i].lost_frames > 0);
    tracks_[i].box = box_of(filters_[i].mean);
  }

  // 2. High-score faces against every track, then low-score faces against tracks matched last time.
  std::vector<std::size_t> high;
  std::vector<std::size_t> low;
  for (std::size_t j = 0; j < faces.size(); ++j) {
    faces[j].track_id = -1;
    if (faces[j].face_score >= options_.high_score) {
      high.push_back(j);
    } else if (faces[j].face_score >= options_.low_score) {
      low.push_back(j);
    }
  }
  std::vector<int> track_face(tracks_.size(), -1);  // track -> face index
  auto associate = [&](const std::vector<std::size_t>& candidates, const std::vector<std::size_t>& rows,
                       float min_iou) {
    std::vector<std::vector<float>> score(rows.size(), std::vector<float>(candidates.size(), 0.0f));
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (std::size_t c = 0; c < candidates.size(); ++c)
        score[r][c] = iou(tracks_[rows[r]].box, faces[candidates[c]].box);
    }
    const std::vector<int> matched = match_rows(score, min_iou, options_.matching);
    std::vector<bool> used(candidates.size(), false);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if (matched[r] < 0) continue;
      const auto c = static_cast<std::size_t>(matched[r]);
      track_face[rows[r]] = static_cast<int>(candidates[c]);
      used[c] = true;
    }
    std::vector<std::size_t> left;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      if (!used[c]) left.push_back(candidates[c]);
    }
    return left;
  };
  std::vector<std::size_t> all_rows(tracks_.size());
  std::iota(all_rows.begin(), all_rows.end(), std::size_t{0});
  const std::vector<std::size_t> new_faces = associate(high, all_rows, options_.match_iou);
  std::vector<std::size_t> recent_rows;
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    if (track_face[i] < 0 && hit_streak_[i] > 0) recent_rows.push_back(i);
  }
  (void)associate(low, recent_rows, options_.low_match_iou);

  // 3. Matched tracks take their face; unmatched ones lose a frame (tentative ones end at once).
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    Track& track = tracks_[i];
    track.matched_face = track_face[i];
    if (track_face[i] < 0) {
      ++track.lost_frames;
      hit_streak_[i] = 0;
      continue;
    }
    Face& face = faces[static_cast<std::size_t>(track_face[i])];
    correct_with(filters_[i], face.box);
    track.box = face.box;
    track.lost_frames = 0;
    track.last_seen = t;
    ++track.frames_seen;
    ++hit_streak_[i];
    track.face_score = face.face_score;
    if (classified(face.probs)) {
      const auto n = static_cast<float>(++track.votes);
      for (std::size_t c = 0; c < kNumLabels; ++c) track.mean_probs[c] += (face.probs[c] - track.mean_probs[c]) / n;
      const auto best = std::max_element(track.mean_probs.begin(), track.mean_probs.end());
      track.label = static_cast<MaskLabel>(best - track.mean_probs.begin());
      track.confidence = *best;
    }
    if (options_.keep_best_crop && !bgr.empty()) {
      const cv::Mat crop = make_face_crop(bgr, face.box, kCropMargin, options_.crop_size);
      const float quality = crop_quality(crop, face.box);
      if (track.best_crop.empty() || quality > track.best_crop_quality) {
        track.best_crop = crop;
        track.best_crop_quality = quality;
        track.best_crop_time = t;
      }
    }
    if (!track.confirmed && hit_streak_[i] >= options_.min_hits) {
      track.confirmed = true;
      track.id = next_id_++;
    }
    face.track_id = track.id;
  }

  // 4. Unmatched high-score faces start tentative tracks.
  for (const std::size_t j : new_faces) {
    Track track;
    track.key = next_key_++;
    track.matched_face = static_cast<int>(j);
    track.box = faces[j].box;
    track.first_seen = t;
    track.last_seen = t;
    track.frames_seen = 1;
    track.face_score = faces[j].face_score;
    if (classified(faces[j].probs)) {
      track.mean_probs = faces[j].probs;
      track.votes = 1;
      const auto best = std::max_element(track.mean_probs.begin(), track.mean_probs.end());
      track.label = static_cast<MaskLabel>(best - track.mean_probs.begin());
      track.confidence = *best;
    }
    if (options_.keep_best_crop && !bgr.empty()) {
      track.best_crop = make_face_crop(bgr, faces[j].box, kCropMargin, options_.crop_size);
      track.best_crop_quality = crop_quality(track.best_crop, faces[j].box);
      track.best_crop_time = t;
    }
    Filter k;
    const Vec4 z = measurement(faces[j].box);
    k.mean = Vec8::zeros();
    for (int d = 0; d < 4; ++d) k.mean(d) = z(d);
    k.cov = Mat8::zeros();
    const float size = std::max(1.0f, z(3));
    for (int d = 0; d < 4; ++d) {
      k.cov(d, d) = sq(2.0f * kStdPosition * size);
      k.cov(d + 4, d + 4) = sq(10.0f * kStdVelocity * size);
    }
    if (options_.min_hits <= 1) {
      track.confirmed = true;
      track.id = next_id_++;
    }
    faces[j].track_id = track.id;
    tracks_.push_back(std::move(track));
    filters_.push_back(k);
    hit_streak_.push_back(1);
  }

  // 5. End tentative tracks that missed and tracks lost too long.
  for (std::size_t i = tracks_.size(); i-- > 0;) {
    Track& track = tracks_[i];
    const bool end = (!track.confirmed && track.lost_frames > 0) || track.lost_frames > options_.max_lost_frames;
    if (end) end_track(i);
  }
  for (std::size_t i = 0; i < tracks_.size(); ++i) tracks_[i].velocity = {filters_[i].mean(4), filters_[i].mean(5)};
}

void Tracker::end_track(std::size_t i) {
  Track& track = tracks_[i];
  if (track.confirmed) {
    track.active = false;
    ended_.push_back(std::move(track));
  }
  const auto at = static_cast<std::ptrdiff_t>(i);
  tracks_.erase(tracks_.begin() + at);
  filters_.erase(filters_.begin() + at);
  hit_streak_.erase(hit_streak_.begin() + at);
}

std::vector<Face> Tracker::predict() {
  std::vector<Face> out;
  for (std::size_t i = tracks_.size(); i-- > 0;) {
    Filter& k = filters_[i];
    Track& track = tracks_[i];
    const bool was_current = hit_streak_[i] > 0;
    track.matched_face = -1;
    predict_ahead(k, track.lost_frames > 0);
    track.box = box_of(k.mean);
    track.velocity = {k.mean(4), k.mean(5)};
    ++track.lost_frames;
    if (track.lost_frames > options_.max_lost_frames) {
      end_track(i);
      continue;
    }
    if (!track.confirmed || !was_current) continue;
    Face face;
    face.box = track.box;
    face.face_score = track.face_score;
    face.probs = track.mean_probs;
    face.label = track.label;
    face.score = track.confidence;
    face.track_id = track.id;
    out.push_back(std::move(face));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

cv::Rect2f Tracker::correct(std::int64_t track_id, const cv::Rect2f& box) {
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    if (tracks_[i].id != track_id || track_id < 0) continue;
    Filter& k = filters_[i];
    correct_with(k, box);
    tracks_[i].box = box_of(k.mean);
    tracks_[i].velocity = {k.mean(4), k.mean(5)};
    return tracks_[i].box;
  }
  return {};
}

const std::vector<Track>& Tracker::tracks() const noexcept { return tracks_; }

std::vector<Track> Tracker::people() const {
  std::vector<Track> out = ended_;
  for (const Track& track : tracks_) {
    if (track.confirmed) out.push_back(track);
  }
  std::sort(out.begin(), out.end(), [](const Track& a, const Track& b) { return a.id < b.id; });
  return out;
}

PeopleCount Tracker::count() const {
  PeopleCount count;
  for (const Track& person : people()) {
    ++count.total;
    ++count.per_label.at(static_cast<std::size_t>(person.label));
  }
  return count;
}

void Tracker::reset() {
  tracks_.clear();
  ended_.clear();
  filters_.clear();
  hit_streak_.clear();
  next_id_ = 1;
}

}  // namespace maskdetect
