#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

namespace maskdetect::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

float rank_score(const Detection& d, bool by_face_score) { return by_face_score ? d.face_score : d.score; }

/// Indices of `detections` in descending score order; ties keep input order.
std::vector<std::size_t> ranked(const std::vector<Detection>& detections, bool by_face_score) {
  std::vector<std::size_t> order(detections.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return rank_score(detections[a], by_face_score) > rank_score(detections[b], by_face_score);
  });
  return order;
}

template <typename T>
std::vector<T> of_label(const std::vector<T>& items, MaskLabel label) {
  std::vector<T> out;
  for (const T& item : items)
    if (item.label == label) out.push_back(item);
  return out;
}

}  // namespace

float iou(const cv::Rect2f& a, const cv::Rect2f& b) noexcept {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0.0f ? inter / uni : 0.0f;
}

std::vector<bool> match(const std::vector<Detection>& detections, const std::vector<Truth>& truths, float iou_threshold,
                        bool by_face_score, std::vector<int>* truth_of_detection) {
  std::unordered_map<std::size_t, std::vector<std::size_t>> truths_of_image;
  for (std::size_t t = 0; t < truths.size(); ++t) truths_of_image[truths[t].image].push_back(t);
  std::vector<bool> taken(truths.size(), false);
  std::vector<bool> tp(detections.size(), false);
  if (truth_of_detection != nullptr) truth_of_detection->assign(detections.size(), -1);
  for (const std::size_t d : ranked(detections, by_face_score)) {
    const auto it = truths_of_image.find(detections[d].image);
    if (it == truths_of_image.end()) continue;
    float best_iou = iou_threshold;
    std::size_t best = truths.size();
    for (const std::size_t t : it->second) {
      if (taken[t]) continue;
      const float overlap = iou(detections[d].box, truths[t].box);
      if (overlap >= best_iou) {
        best_iou = overlap;
        best = t;
      }
    }
    if (best < truths.size()) {
      taken[best] = true;
      tp[d] = true;
      if (truth_of_detection != nullptr) (*truth_of_detection)[d] = static_cast<int>(best);
    }
  }
  return tp;
}

namespace {

/// The PR curve of the detections in `order` (descending score; those with counted[d] false left out),
/// tp[d] telling a true positive, against `truths` truths.
PrCurve curve_of(const std::vector<Detection>& detections, const std::vector<std::size_t>& order,
                 const std::vector<bool>& tp, const std::vector<bool>& counted, std::size_t truths,
                 bool by_face_score) {
  PrCurve curve;
  std::vector<std::size_t> kept;
  for (const std::size_t d : order)
    if (counted[d]) kept.push_back(d);
  std::size_t cum_tp = 0;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    if (tp[kept[k]]) ++cum_tp;
    const float score = rank_score(detections[kept[k]], by_face_score);
    // All detections of one score enter together: a point only after the last of a tie.
    if (k + 1 < kept.size() && rank_score(detections[kept[k + 1]], by_face_score) == score) continue;
    curve.recall.push_back(static_cast<double>(cum_tp) / static_cast<double>(truths));
    curve.precision.push_back(static_cast<double>(cum_tp) / static_cast<double>(k + 1));
    curve.score.push_back(score);
  }
  return curve;
}

}  // namespace

PrCurve pr_curve(const std::vector<Detection>& detections, const std::vector<Truth>& truths, float iou_threshold,
                 bool by_face_score) {
  if (truths.empty()) return {};
  const std::vector<bool> tp = match(detections, truths, iou_threshold, by_face_score);
  return curve_of(detections, ranked(detections, by_face_score), tp, std::vector<bool>(detections.size(), true),
                  truths.size(), by_face_score);
}

ApStats bucket_average_precision(const std::vector<Detection>& detections, const std::vector<Truth>& truths,
                                 std::size_t bucket, float iou_threshold, bool by_face_score) {
  ApStats stats;
  std::unordered_map<std::size_t, std::vector<std::size_t>> truths_of_image;
  for (std::size_t t = 0; t < truths.size(); ++t) {
    truths_of_image[truths[t].image].push_back(t);
    if (size_bucket(truths[t].box) == bucket) ++stats.truths;
  }
  if (stats.truths == 0) {
    stats.ap = kNaN;
    return stats;
  }
  const std::vector<std::size_t> order = ranked(detections, by_face_score);
  std::vector<bool> taken(truths.size(), false);
  std::vector<bool> tp(detections.size(), false);
  std::vector<bool> counted(detections.size(), true);
  for (const std::size_t d : order) {
    // The best free truth of the bucket, else the best free truth of another bucket (ignored).
    std::size_t best = truths.size();
    float best_iou = iou_threshold;
    bool best_in_bucket = false;
    if (const auto it = truths_of_image.find(detections[d].image); it != truths_of_image.end()) {
      for (const std::size_t t : it->second) {
        if (taken[t]) continue;
        const bool in_bucket = size_bucket(truths[t].box) == bucket;
        if (best_in_bucket && !in_bucket) continue;
        const float overlap = iou(detections[d].box, truths[t].box);
        if (overlap < iou_threshold) continue;
        if ((in_bucket && !best_in_bucket) || overlap >= best_iou) {
          best = t;
          best_iou = overlap;
          best_in_bucket = in_bucket;
        }
      }
    }
    if (best < truths.size()) {
      taken[best] = true;
      tp[d] = best_in_bucket;
      counted[d] = best_in_bucket;
    } else {
      counted[d] = size_bucket(detections[d].box) == bucket;
    }
  }
  stats.detections = static_cast<std::size_t>(std::count(counted.begin(), counted.end(), true));
  stats.curve = curve_of(detections, order, tp, counted, stats.truths, by_face_score);
  stats.ap = ap_all_point(stats.curve);
  return stats;
}

double ap_all_point(const PrCurve& curve) {
  std::vector<double> rec{0.0};
  std::vector<double> prec{0.0};
  rec.insert(rec.end(), curve.recall.begin(), curve.recall.end());
  prec.insert(prec.end(), curve.precision.begin(), curve.precision.end());
  rec.push_back(1.0);
  prec.push_back(0.0);
  for (std::size_t i = prec.size() - 1; i > 0; --i) prec[i - 1] = std::max(prec[i - 1], prec[i]);
  double ap = 0.0;
  for (std::size_t i = 0; i + 1 < rec.size(); ++i)
    if (rec[i + 1] != rec[i]) ap += (rec[i + 1] - rec[i]) * prec[i + 1];
  return ap;
}

double ap_101_point(const PrCurve& curve) {
  std::vector<double> envelope = curve.precision;
  for (std::size_t i = envelope.size(); i > 1; --i) envelope[i - 2] = std::max(envelope[i - 2], envelope[i - 1]);
  double sum = 0.0;
  std::size_t i = 0;
  for (int t = 0; t <= 100; ++t) {
    const double r = static_cast<double>(t) / 100.0;
    // First point whose recall reaches r (recall never decreases); 1e-9 absorbs rounding of k/n.
    while (i < curve.recall.size() && curve.recall[i] < r - 1e-9) ++i;
    if (i < curve.recall.size()) sum += envelope[i];
  }
  return sum / 101.0;
}

ApStats average_precision(const std::vector<Detection>& detections, const std::vector<Truth>& truths,
                          float iou_threshold, bool coco101, bool by_face_score) {
  ApStats stats;
  stats.truths = truths.size();
  stats.detections = detections.size();
  if (truths.empty()) {
    stats.ap = kNaN;
    return stats;
  }
  stats.curve = pr_curve(detections, truths, iou_threshold, by_face_score);
  stats.ap = coco101 ? ap_101_point(stats.curve) : ap_all_point(stats.curve);
  return stats;
}

double nan_mean(const std::vector<double>& values) {
  double sum = 0.0;
  std::size_t n = 0;
  for (const double v : values)
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  return n == 0 ? kNaN : sum / static_cast<double>(n);
}

std::size_t size_bucket(const cv::Rect2f& box) noexcept {
  const float side = std::sqrt(std::max(0.0f, box.area()));
  if (side < 32.0f) return 0;
  if (side > 96.0f) return 2;
  return 1;
}

const char* bucket_name(std::size_t bucket) noexcept {
  switch (bucket) {
    case 0:
      return "small <32px";
    case 1:
      return "medium";
    default:
      return "large >96px";
  }
}

double Prf::precision() const noexcept {
  return predicted == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(predicted);
}
double Prf::recall() const noexcept {
  return actual == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(actual);
}
double Prf::f1() const noexcept {
  const double p = precision();
  const double r = recall();
  return p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
}

DetectionMetrics evaluate_detection(const std::vector<Truth>& truths, const std::vector<Detection>& detections,
                                    std::size_t num_images, float operating_threshold) {
  DetectionMetrics m;
  m.operating_threshold = operating_threshold;
  std::vector<double> ap50;
  std::vector<double> ap30;
  std::vector<double> ap50_95;
  std::vector<Detection> operating;
  std::vector<std::size_t> operating_index;  // into `detections`
  for (std::size_t d = 0; d < detections.size(); ++d)
    if (detections[d].face_score >= operating_threshold) {
      operating.push_back(detections[d]);
      operating_index.push_back(d);
    }

  for (const MaskLabel label : kAllLabels) {
    const auto c = static_cast<std::size_t>(label);
    const std::vector<Detection> dets = of_label(detections, label);
    const std::vector<Truth> gts = of_label(truths, label);
    m.ap50[c] = average_precision(dets, gts, 0.5f, false);
    m.ap30[c] = average_precision(dets, gts, 0.3f, false);
    if (gts.empty()) {
      m.ap50_95[c] = kNaN;
    } else {
      double sum = 0.0;
      for (int k = 0; k < 10; ++k) sum += average_precision(dets, gts, 0.5f + 0.05f * static_cast<float>(k), true).ap;
      m.ap50_95[c] = sum / 10.0;
    }
    ap50.push_back(m.ap50[c].ap);
    ap30.push_back(m.ap30[c].ap);
    ap50_95.push_back(m.ap50_95[c]);

    const std::vector<Detection> op = of_label(operating, label);
    const std::vector<bool> tp = match(op, gts, 0.5f);
    m.per_class[c].tp = static_cast<std::size_t>(std::count(tp.begin(), tp.end(), true));
    m.per_class[c].predicted = op.size();
    m.per_class[c].actual = gts.size();
    m.overall.tp += m.per_class[c].tp;
    m.overall.predicted += m.per_class[c].predicted;
    m.overall.actual += m.per_class[c].actual;
  }
  m.map50 = nan_mean(ap50);
  m.map30 = nan_mean(ap30);
  m.map50_95 = nan_mean(ap50_95);

  m.face_ap50 = average_precision(detections, truths, 0.5f, false, true);
  m.face_ap30 = average_precision(detections, truths, 0.3f, false, true);
  for (std::size_t b = 0; b < kNumBuckets; ++b) {
    std::vector<double> per_class;
    per_class.reserve(kNumLabels);
    for (const MaskLabel label : kAllLabels)
      per_class.push_back(bucket_average_precision(of_label(detections, label), of_label(truths, label), b, 0.5f).ap);
    m.bucket_map50[b] = nan_mean(per_class);
    m.bucket_face_ap50[b] = bucket_average_precision(detections, truths, b, 0.5f, true).ap;
  }
  {
    const std::vector<bool> any = match(detections, truths, 0.5f, true);
    const auto found = std::count(any.begin(), any.end(), true);
    m.face_recall_all = truths.empty() ? 0.0 : static_cast<double>(found) / static_cast<double>(truths.size());
  }

  // Class-agnostic matching at the operating threshold: confusion, size buckets, per-image errors.
  m.images.resize(num_images);
  std::vector<int> truth_of;
  const std::vector<bool> tp = match(operating, truths, 0.5f, true, &truth_of);
  std::vector<int> detection_of(truths.size(), -1);
  for (std::size_t k = 0; k < operating.size(); ++k) {
    const auto pred = static_cast<std::size_t>(operating[k].label);
    if (truth_of[k] >= 0) {
      detection_of[static_cast<std::size_t>(truth_of[k])] = static_cast<int>(k);
    } else {
      ++m.confusion[kNumLabels][pred];
      if (operating[k].image < num_images) m.images[operating[k].image].false_alarms.push_back(operating_index[k]);
    }
  }
  m.faces.predicted = operating.size();
  m.faces.actual = truths.size();
  m.faces.tp = static_cast<std::size_t>(std::count(tp.begin(), tp.end(), true));
  for (std::size_t t = 0; t < truths.size(); ++t) {
    const auto gt = static_cast<std::size_t>(truths[t].label);
    const std::size_t bucket = size_bucket(truths[t].box);
    ++m.bucket_truths[bucket];
    ImageErrors* errors = truths[t].image < num_images ? &m.images[truths[t].image] : nullptr;
    if (detection_of[t] < 0) {
      ++m.confusion[gt][kNumLabels];
      if (errors != nullptr) errors->missed.push_back(t);
      continue;
    }
    const auto pred = static_cast<std::size_t>(operating[static_cast<std::size_t>(detection_of[t])].label);
    ++m.confusion[gt][pred];
    ++m.bucket_found[bucket];
    if (pred == gt) {
      ++m.bucket_right_label[bucket];
    } else if (errors != nullptr) {
      errors->wrong_label.push_back(t);
    }
  }
  return m;
}

ClassificationMetrics evaluate_classification(const std::vector<MaskLabel>& truth,
                                              const std::vector<MaskLabel>& predicted) {
  ClassificationMetrics m;
  m.samples = std::min(truth.size(), predicted.size());
  std::size_t correct = 0;
  for (std::size_t i = 0; i < m.samples; ++i) {
    const auto t = static_cast<std::size_t>(truth[i]);
    const auto p = static_cast<std::size_t>(predicted[i]);
    ++m.confusion[t][p];
    ++m.per_class[t].actual;
    ++m.per_class[p].predicted;
    if (t == p) {
      ++m.per_class[t].tp;
      ++correct;
    }
  }
  m.accuracy = m.samples == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(m.samples);
  std::vector<double> f1;
  for (const Prf& prf : m.per_class) f1.push_back(prf.actual > 0 ? prf.f1() : kNaN);
  m.macro_f1 = nan_mean(f1);
  return m;
}

}  // namespace maskdetect::eval
