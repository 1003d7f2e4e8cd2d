// eval/dataset.hpp - labelled datasets for `maskdetect eval`: VOC, YOLO, COCO (detection) and one folder per
// class (classification), a class-name map, and split files. Not part of the SDK.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core/types.hpp>

#include "maskdetect/types.hpp"

namespace maskdetect::eval {

enum class DatasetFormat { voc, yolo, coco, folders };

[[nodiscard]] std::string_view to_string(DatasetFormat format) noexcept;
/// "voc", "yolo", "coco" or "folders"; std::nullopt for anything else.
[[nodiscard]] std::optional<DatasetFormat> parse_format(std::string_view name) noexcept;

/// Dataset class names -> maskdetect labels. Names are compared case-insensitively. Built-in defaults:
/// with_mask, mask, correct_mask -> mask; without_mask, no_mask -> no_mask;
/// mask_weared_incorrect, with_incorrect_mask, incorrect_mask, incorrect -> incorrect.
/// A label map file (`eval --label-map`, models/label_maps/) replaces the defaults with its own names.
class ClassMap {
 public:
  ClassMap();
  /// A label map file's text: a YAML mapping `class name: mask|no_mask|incorrect` (models/label_maps/*.yaml).
  /// Only its names are known (the built-in defaults are not added). Throws Error(invalid_config) naming
  /// `origin` and the line for anything else: not a mapping, a value that is not a label, a name twice.
  [[nodiscard]] static ClassMap parse_label_map(std::string_view yaml, std::string_view origin);
  /// parse_label_map on a file. Throws Error(invalid_config) when it cannot be read.
  [[nodiscard]] static ClassMap read_label_map(const std::filesystem::path& path);
  /// Maps `from` to `to` (mask, no_mask, incorrect), replacing any earlier rule for `from`. Throws
  /// Error(invalid_config) for another `to`.
  void set(std::string_view from, std::string_view to);
  /// Parses "from=to" (the --class-map flag). Throws Error(invalid_config).
  void set_rule(std::string_view rule);
  [[nodiscard]] std::optional<MaskLabel> find(std::string_view name) const;

  /// The names known, in order (lower case), with their labels.
  [[nodiscard]] const std::map<std::string, MaskLabel>& names() const noexcept { return map_; }

 private:
  struct Empty {};
  explicit ClassMap(Empty /*no defaults*/) {}
  std::map<std::string, MaskLabel> map_;
};

/// One ground-truth face box.
struct GtBox {
  cv::Rect2f box;  ///< pixels (YOLO: normalised until resolve_boxes())
  MaskLabel label = MaskLabel::mask;
};

/// One image of a dataset with its labels.
struct Sample {
  std::string name;                ///< path relative to the image folder ("a.jpg", "with_mask/b.png")
  std::filesystem::path path;      ///< the image file
  std::vector<GtBox> boxes;        ///< detection datasets
  std::optional<MaskLabel> label;  ///< classification datasets
  cv::Size size;                   ///< from the annotation when it gives one; else 0x0
  bool normalized = false;         ///< YOLO: boxes are in [0, 1] and need the image size
  std::int64_t image_id = 0;       ///< COCO: the file's image id; other formats: 1-based position by name
};

/// Something wrong with a dataset: counted, reported by name, and an error under --strict.
struct DatasetIssue {
  std::string kind;    ///< image_without_annotation, annotation_without_image, unknown_class, malformed,
                       ///< box_clamped, empty_box, missing_from_split, unreadable_image, no_prediction
  std::string name;    ///< the file concerned
  std::string detail;  ///< what is wrong
  std::string key;     ///< stem of the image concerned ("" when none): split filtering keeps matching ones
};

/// Issue kinds that are only notes (never errors, even under --strict).
[[nodiscard]] bool is_note(std::string_view kind) noexcept;

struct Dataset {
  std::filesystem::path root;
  DatasetFormat format = DatasetFormat::voc;
  std::vector<Sample> samples;  ///< sorted by name
  std::vector<DatasetIssue> issues;
  /// COCO category id of each label (COCO: the file's first category mapped to it; else 1, 2, 3).
  std::array<std::int64_t, kNumLabels> category_ids{1, 2, 3};
  [[nodiscard]] bool classification() const noexcept { return format == DatasetFormat::folders; }
};

/// The format of the dataset in `dir`: a *.json with "images" and "annotations" -> coco; a labels/ folder
/// or a classes file -> yolo; an annotations/ (or Annotations/) folder of XML -> voc; otherwise subfolders
/// holding images -> folders. Throws Error(bad_input) when none fits.
[[nodiscard]] DatasetFormat detect_format(const std::filesystem::path& dir);

/// Reads a dataset. Problems with single files are recorded in Dataset::issues; a dataset that cannot be
/// read at all (missing folder, no classes file, unparsable COCO JSON) throws Error(bad_input), and so does a
/// detection dataset whose every box was dropped (unknown classes: a wrong classes file or class map).
/// Images without annotation are not evaluated (recorded as an issue); annotations without an image
/// likewise. Boxes of an unknown class are dropped (issue).
[[nodiscard]] Dataset read_dataset(const std::filesystem::path& dir, std::optional<DatasetFormat> format,
                                   const ClassMap& classes);

/// Keeps the samples listed in a split file (one name per line: a file name, a relative path or a stem;
/// blank lines and lines starting with '#' are ignored). Entries that match no sample become
/// `missing_from_split` issues. Throws Error(bad_input) when the file cannot be read.
void apply_split(Dataset& dataset, const std::filesystem::path& split_file);

/// Turns a sample's boxes into clamped pixel boxes for an image of `size` (denormalising YOLO boxes).
/// Clamped boxes and boxes left empty (dropped) are appended to `issues`.
void resolve_boxes(Sample& sample, cv::Size size, std::vector<DatasetIssue>& issues);

/// Numbers read from annotation files (pixels, or normalised YOLO values) must be finite and within
/// +-kMaxCoordinate; image sides must be whole numbers in 0..kMaxCoordinate. Anything else makes the file
/// (or COCO entry) malformed, naming the field: it is never cast to an int.
inline constexpr double kMaxCoordinate = 1e6;

/// Parses one PASCAL VOC XML document (any element order, attributes, comments, entities) into `sample`:
/// its size when given and its boxes. Boxes of an unknown class are dropped with an `unknown_class` issue.
/// Returns why the document is malformed (naming the element), or std::nullopt.
[[nodiscard]] std::optional<std::string> parse_voc(std::string_view xml, std::string_view origin,
                                                   const ClassMap& classes, Sample& sample,
                                                   std::vector<DatasetIssue>& issues);

/// The class names of a YOLO classes file (classes.txt, obj.names): one name a line, or "index name" lines
/// ("0 mask", "1 no_mask") with the indices 0..n-1. Blank lines are ignored. Throws Error(bad_input).
[[nodiscard]] std::vector<std::string> parse_yolo_classes(std::string_view text, std::string_view origin);

/// Parses one YOLO label file ("class cx cy w h" lines, normalised) into `sample`'s boxes; boxes of an id or
/// class not known are dropped with an `unknown_class` issue named `origin`:line. Returns why the file is
/// malformed ("line N: ..."), or std::nullopt.
[[nodiscard]] std::optional<std::string> parse_yolo_labels(std::string_view text, std::string_view origin,
                                                           const std::vector<std::string>& names,
                                                           const ClassMap& classes, Sample& sample,
                                                           std::vector<DatasetIssue>& issues);

/// One image entry of a COCO file with its boxes (pixels).
struct CocoImage {
  std::int64_t id = 0;
  std::string file_name;
  cv::Size size;  ///< 0x0 when the file does not give it
  std::vector<GtBox> boxes;
};

/// What a COCO detection file says, before its images are looked for.
struct CocoFile {
  std::vector<CocoImage> images;
  std::array<std::int64_t, kNumLabels> category_ids{1, 2, 3};
  std::vector<DatasetIssue> issues;  ///< malformed entries (skipped), unknown classes (dropped)
};

/// Parses COCO detection JSON. Throws Error(bad_input) naming `origin` when it is not JSON or has no "images".
[[nodiscard]] CocoFile parse_coco(std::string_view json, std::string_view origin, const ClassMap& classes);

/// Image file extensions read (lower case, with the dot).
[[nodiscard]] bool is_image_path(const std::filesystem::path& path);

}  // namespace maskdetect::eval
