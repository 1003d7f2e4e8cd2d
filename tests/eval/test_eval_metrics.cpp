// AP and the other metrics of `maskdetect eval` on hand-made cases; the expected values are computed by
// hand in the comments.
#include <cmath>

#include "eval/metrics.hpp"
#include "test_support.hpp"

using maskdetect::MaskLabel;
using namespace maskdetect::eval;

namespace {

Truth gt(std::size_t image, float x, MaskLabel label = MaskLabel::mask) {
  return {image, cv::Rect2f(x, 0.0f, 40.0f, 40.0f), label};
}
Detection det(std::size_t image, float x, float score, MaskLabel label = MaskLabel::mask) {
  return {image, cv::Rect2f(x, 0.0f, 40.0f, 40.0f), label, score, score};
}

}  // namespace

TEST_CASE("IoU of boxes", "[eval][metrics]") {
  // 40x40 boxes offset by 20 px: intersection 20*40 = 800, union 1600 + 1600 - 800 = 2400.
  CHECK(iou({0, 0, 40, 40}, {20, 0, 40, 40}) == Approx(800.0 / 2400.0));
  CHECK(iou({0, 0, 40, 40}, {100, 0, 40, 40}) == 0.0f);
  CHECK(iou({0, 0, 40, 40}, {0, 0, 40, 40}) == 1.0f);
}

TEST_CASE("VOC all-point AP of a simple ranking", "[eval][metrics]") {
  // 3 faces (x = 0, 100, 200). Ranked detections: 0.9 on face 0 (TP), 0.8 on nothing (FP), 0.7 on face 1 (TP).
  // PR points: (R 1/3, P 1/1), (R 1/3, P 1/2), (R 2/3, P 2/3).
  // Precision envelope: 1 up to R 1/3, 2/3 up to R 2/3, 0 beyond.
  // AP = 1/3 * 1 + (2/3 - 1/3) * 2/3 = 1/3 + 2/9 = 5/9.
  const std::vector<Truth> truths{gt(0, 0), gt(0, 100), gt(0, 200)};
  const std::vector<Detection> dets{det(0, 0, 0.9f), det(0, 300, 0.8f), det(0, 100, 0.7f)};
  const ApStats ap = average_precision(dets, truths, 0.5f, false);
  CHECK(ap.ap == Approx(5.0 / 9.0));
  REQUIRE(ap.curve.recall.size() == 3);
  CHECK(ap.curve.precision[1] == Approx(0.5));

  // COCO 101-point on the same ranking: recall thresholds 0.00..0.33 (34 of them) reach the first point,
  // envelope 1; 0.34..0.66 (33) need the third point, envelope 2/3; 0.67..1.00 (34) are never reached: 0.
  // AP = (34 * 1 + 33 * 2/3 + 34 * 0) / 101 = (34 + 22) / 101 = 56/101.
  CHECK(average_precision(dets, truths, 0.5f, true).ap == Approx(56.0 / 101.0));
}

TEST_CASE("Tied scores enter the PR curve together, whatever their order", "[eval][metrics]") {
  // 2 faces. 0.9 on face 0 (TP); two detections at 0.5: one on nothing (FP), one on face 1 (TP).
  // Points: after 0.9: (R 1/2, P 1); after the whole 0.5 tie: (R 2/2, P 2/3). No point between them.
  // AP = 1/2 * 1 + 1/2 * 2/3 = 5/6 for both orders. (Ranking the TP first would give 1, the FP first 5/6:
  // grouping makes the result independent of input order.)
  const std::vector<Truth> truths{gt(0, 0), gt(0, 100)};
  const std::vector<Detection> fp_first{det(0, 0, 0.9f), det(0, 300, 0.5f), det(0, 100, 0.5f)};
  const std::vector<Detection> tp_first{det(0, 0, 0.9f), det(0, 100, 0.5f), det(0, 300, 0.5f)};
  CHECK(average_precision(fp_first, truths, 0.5f, false).ap == Approx(5.0 / 6.0));
  CHECK(average_precision(tp_first, truths, 0.5f, false).ap == Approx(5.0 / 6.0));
  CHECK(average_precision(tp_first, truths, 0.5f, false).curve.recall.size() == 2);
}

TEST_CASE("A duplicate detection of a matched face is a false positive", "[eval][metrics]") {
  // 2 faces. 0.9 on face 0 (TP), 0.8 on face 0 again (FP: already matched), 0.7 on face 1 (TP).
  // Points: (1/2, 1), (1/2, 1/2), (1, 2/3). AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
  const std::vector<Truth> truths{gt(0, 0), gt(0, 100)};
  const std::vector<Detection> dets{det(0, 0, 0.9f), det(0, 2, 0.8f), det(0, 100, 0.7f)};
  const std::vector<bool> tp = match(dets, truths, 0.5f);
  CHECK(tp == std::vector<bool>{true, false, true});
  CHECK(average_precision(dets, truths, 0.5f, false).ap == Approx(5.0 / 6.0));
  // Detections never match faces of another image.
  CHECK(match({det(1, 0, 0.9f)}, truths, 0.5f) == std::vector<bool>{false});
}

TEST_CASE("A class absent from the predictions has AP 0 and counts in the mean", "[eval][metrics]") {
  // One face per class; mask and no_mask found exactly, incorrect never predicted.
  // AP mask = 1, AP no_mask = 1, AP incorrect = 0 (recall never above 0): mAP = (1 + 1 + 0) / 3 = 2/3.
  const std::vector<Truth> truths{gt(0, 0, MaskLabel::mask), gt(0, 100, MaskLabel::no_mask),
                                  gt(0, 200, MaskLabel::incorrect)};
  const std::vector<Detection> dets{det(0, 0, 0.9f, MaskLabel::mask), det(0, 100, 0.8f, MaskLabel::no_mask)};
  const DetectionMetrics m = evaluate_detection(truths, dets, 1, 0.5f);
  CHECK(m.ap50[0].ap == Approx(1.0));
  CHECK(m.ap50[1].ap == Approx(1.0));
  CHECK(m.ap50[2].ap == 0.0);
  CHECK(m.map50 == Approx(2.0 / 3.0));

  // A class without ground truth has no AP (NaN) and is left out: here incorrect has neither truths nor
  // detections, so mAP = (1 + 1) / 2 = 1.
  const std::vector<Truth> two{truths[0], truths[1]};
  const DetectionMetrics m2 = evaluate_detection(two, dets, 1, 0.5f);
  CHECK(std::isnan(m2.ap50[2].ap));
  CHECK(m2.map50 == Approx(1.0));
  CHECK(m2.map50_95 == Approx(1.0));
}

TEST_CASE("COCO mAP@[.5:.95] counts the IoU thresholds a box passes", "[eval][metrics]") {
  // Face 100x100, detection 100x72 inside it: IoU = 7200 / 10000 = 0.72.
  // It is a TP at IoU 0.50, 0.55, 0.60, 0.65, 0.70 (AP 1 each) and a miss at 0.75 .. 0.95 (AP 0 each):
  // AP@[.5:.95] = 5 / 10 = 0.5. AP@0.5 = 1.
  const std::vector<Truth> truths{{0, cv::Rect2f(0, 0, 100, 100), MaskLabel::mask}};
  const std::vector<Detection> dets{{0, cv::Rect2f(0, 0, 100, 72), MaskLabel::mask, 0.9f, 0.9f}};
  const DetectionMetrics m = evaluate_detection(truths, dets, 1, 0.5f);
  CHECK(m.ap50[0].ap == Approx(1.0));
  CHECK(m.ap50_95[0] == Approx(0.5));
  CHECK(m.map50_95 == Approx(0.5));
}

TEST_CASE("AP@0.3 counts a face box inside a head box that AP@0.5 misses", "[eval][metrics]") {
  // Two heads of 100x100 (image 0, x = 0 and x = 200). Detections: a 60x70 face box inside head 0
  // (IoU 4200 / 10000 = 0.42: a TP at 0.3, an FP at 0.5), ranked 0.9; a 100x90 box on head 1 (IoU 0.9: a TP
  // at both), ranked 0.8; and a box on nothing, ranked 0.7.
  // IoU 0.3: TP, TP, FP -> points (1/2, 1), (1, 1), (1, 2/3): AP 1. Face AP@0.3 the same.
  // IoU 0.5: FP, TP, FP -> points (0, 0), (1/2, 1/2), (1/2, 1/3): envelope 1/2 up to R 1/2: AP 1/4.
  const std::vector<Truth> truths{{0, cv::Rect2f(0, 0, 100, 100), MaskLabel::no_mask},
                                  {0, cv::Rect2f(200, 0, 100, 100), MaskLabel::no_mask}};
  const std::vector<Detection> dets{{0, cv::Rect2f(20, 30, 60, 70), MaskLabel::no_mask, 0.9f, 0.9f},
                                    {0, cv::Rect2f(200, 10, 100, 90), MaskLabel::no_mask, 0.8f, 0.8f},
                                    {0, cv::Rect2f(400, 0, 100, 100), MaskLabel::no_mask, 0.7f, 0.7f}};
  const DetectionMetrics m = evaluate_detection(truths, dets, 1, 0.5f);
  const auto no_mask = static_cast<std::size_t>(MaskLabel::no_mask);
  CHECK(m.ap30[no_mask].ap == Approx(1.0));
  CHECK(m.ap50[no_mask].ap == Approx(0.25));
  CHECK(m.map30 == Approx(1.0));  // mask and incorrect have no truths: left out of the mean
  CHECK(m.map50 == Approx(0.25));
  CHECK(m.face_ap30.ap == Approx(1.0));
  CHECK(m.face_ap50.ap == Approx(0.25));
  CHECK(std::isnan(m.ap30[0].ap));
}

TEST_CASE("Operating point, confusion matrix, size buckets", "[eval][metrics]") {
  // Faces: mask at x=0, no_mask at x=100, incorrect at x=200. Detections: mask on face 0 (right), mask on
  // face 1 (wrong label), no_mask on nothing (spurious), and a low-score mask on face 2 (below threshold 0.5).
  const std::vector<Truth> truths{gt(0, 0, MaskLabel::mask), gt(0, 100, MaskLabel::no_mask),
                                  gt(0, 200, MaskLabel::incorrect)};
  const std::vector<Detection> dets{det(0, 0, 0.9f, MaskLabel::mask), det(0, 100, 0.8f, MaskLabel::mask),
                                    det(0, 300, 0.7f, MaskLabel::no_mask), det(0, 200, 0.3f, MaskLabel::mask)};
  const DetectionMetrics m = evaluate_detection(truths, dets, 1, 0.5f);
  // Rows truth, columns predicted (3 = missed / spurious).
  CHECK(m.confusion[0][0] == 1);  // mask -> mask
  CHECK(m.confusion[1][0] == 1);  // no_mask -> mask
  CHECK(m.confusion[2][3] == 1);  // incorrect missed (its only detection is below the threshold)
  CHECK(m.confusion[3][1] == 1);  // spurious no_mask
  // Class-aware at 0.5: mask 1 TP of 2 predicted; no_mask 0 of 1; overall 1 TP / 3 predicted / 3 truths.
  CHECK(m.per_class[0].tp == 1);
  CHECK(m.per_class[0].precision() == Approx(0.5));
  CHECK(m.overall.precision() == Approx(1.0 / 3.0));
  CHECK(m.overall.recall() == Approx(1.0 / 3.0));
  // Faces, any label: 2 of 3 found at the threshold (P 2/3, R 2/3, F1 2/3); 3 of 3 over all detections.
  CHECK(m.faces.recall() == Approx(2.0 / 3.0));
  CHECK(m.faces.f1() == Approx(2.0 / 3.0));
  CHECK(m.face_recall_all == Approx(1.0));
  // All faces are 40x40: medium.
  CHECK(m.bucket_truths[1] == 3);
  CHECK(m.bucket_found[1] == 2);
  CHECK(m.bucket_right_label[1] == 1);
  REQUIRE(m.images.size() == 1);
  CHECK(m.images[0].missed == std::vector<std::size_t>{2});
  CHECK(m.images[0].wrong_label == std::vector<std::size_t>{1});
  CHECK(m.images[0].false_alarms == std::vector<std::size_t>{2});

  // Buckets by sqrt(area): < 32 small, 32..96 medium, > 96 large.
  CHECK(size_bucket({0, 0, 20, 20}) == 0);
  CHECK(size_bucket({0, 0, 32, 32}) == 1);
  CHECK(size_bucket({0, 0, 96, 96}) == 1);
  CHECK(size_bucket({0, 0, 100, 100}) == 2);
}

TEST_CASE("Size-bucket AP ignores the faces and unmatched detections of other sizes", "[eval][metrics]") {
  // Small faces (20x20, bucket 0) at x = 0 and 100; a large face (120x120, bucket 2) at x = 300.
  const auto box = [](float x, float side) { return cv::Rect2f(x, 0.0f, side, side); };
  const std::vector<Truth> truths{
      {0, box(0, 20), MaskLabel::mask}, {0, box(100, 20), MaskLabel::mask}, {0, box(300, 120), MaskLabel::mask}};
  // Ranked: 0.9 on the large face (ignored for bucket 0), 0.8 on small face 0 (TP), 0.7 a large box on
  // nothing (outside the bucket, unmatched: ignored), 0.6 a small box on nothing (FP), 0.5 on small face 1 (TP).
  const std::vector<Detection> dets{{0, box(300, 120), MaskLabel::mask, 0.9f, 0.9f},
                                    {0, box(0, 20), MaskLabel::mask, 0.8f, 0.8f},
                                    {0, box(600, 120), MaskLabel::mask, 0.7f, 0.7f},
                                    {0, box(900, 20), MaskLabel::mask, 0.6f, 0.6f},
                                    {0, box(100, 20), MaskLabel::mask, 0.5f, 0.5f}};
  // Bucket 0 counts 0.8 (TP), 0.6 (FP), 0.5 (TP) against 2 truths: points (1/2, 1), (1/2, 1/2), (1, 2/3).
  // AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
  const ApStats small = bucket_average_precision(dets, truths, 0, 0.5f);
  CHECK(small.truths == 2);
  CHECK(small.detections == 3);
  CHECK(small.ap == Approx(5.0 / 6.0));
  // Bucket 2 counts 0.9 (TP) and 0.7 (FP, a large box): AP 1 (the FP comes after full recall). The small
  // boxes are matched to small faces (ignored) or are outside the bucket.
  const ApStats large = bucket_average_precision(dets, truths, 2, 0.5f);
  CHECK(large.truths == 1);
  CHECK(large.detections == 2);
  CHECK(large.ap == Approx(1.0));
  // No medium face: no AP.
  CHECK(std::isnan(bucket_average_precision(dets, truths, 1, 0.5f).ap));
  // The whole-set AP counts every detection: 0.7 and 0.6 are false positives there.
  const DetectionMetrics m = evaluate_detection(truths, dets, 1, 0.5f);
  CHECK(m.bucket_map50[0] == Approx(5.0 / 6.0));  // one class with truths: the mean is that class
  CHECK(m.bucket_face_ap50[2] == Approx(1.0));
  CHECK(std::isnan(m.bucket_map50[1]));
  CHECK(m.ap50[0].ap < m.bucket_map50[2]);
}

TEST_CASE("Classification accuracy, per-class F1 and macro F1", "[eval][metrics]") {
  // truth    mask mask no_mask no_mask incorrect
  // predicted mask no_mask no_mask no_mask mask
  // accuracy 3/5. mask: TP 1, predicted 2, actual 2 -> P 1/2, R 1/2, F1 1/2.
  // no_mask: TP 2, predicted 3, actual 2 -> P 2/3, R 1, F1 = 2 * (2/3) / (5/3) = 4/5.
  // incorrect: TP 0 -> F1 0. Macro F1 = (1/2 + 4/5 + 0) / 3 = 13/30.
  using L = MaskLabel;
  const ClassificationMetrics m = evaluate_classification({L::mask, L::mask, L::no_mask, L::no_mask, L::incorrect},
                                                          {L::mask, L::no_mask, L::no_mask, L::no_mask, L::mask});
  CHECK(m.accuracy == Approx(0.6));
  CHECK(m.per_class[0].f1() == Approx(0.5));
  CHECK(m.per_class[1].f1() == Approx(0.8));
  CHECK(m.per_class[2].f1() == 0.0);
  CHECK(m.macro_f1 == Approx(13.0 / 30.0));
  CHECK(m.confusion[2][0] == 1);
  // A class with no sample is left out of the macro mean: mask only, all right -> macro F1 = 1.
  CHECK(evaluate_classification({L::mask}, {L::mask}).macro_f1 == Approx(1.0));
}
