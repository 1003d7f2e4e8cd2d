#include "eval/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "maskdetect/error.hpp"

namespace fs = std::filesystem;

namespace maskdetect::eval {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::bad_input, fmt::format("cannot read '{}'", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<float> parse_float(std::string_view text) {
  const std::string s = trim(text);
  if (s.empty()) return std::nullopt;
  float value = 0.0f;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

/// Relative path without extension, '/'-separated: the key that pairs an image with its annotation.
std::string stem_key(const fs::path& relative) {
  fs::path p = relative;
  p.replace_extension();
  return p.generic_string();
}

/// Images under `dir` (recursively), by stem key, sorted.
std::map<std::string, fs::path> images_by_stem(const fs::path& dir, std::vector<DatasetIssue>& issues) {
  std::map<std::string, fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || !is_image_path(entry.path())) continue;
    const std::string key = stem_key(fs::relative(entry.path(), dir));
    if (const auto [it, inserted] = out.emplace(key, entry.path()); !inserted) {
      issues.push_back({"malformed", entry.path().string(),
                        fmt::format("two images share the stem '{}' ('{}' is used)", key, it->second.string()), key});
    }
  }
  return out;
}

std::map<std::string, fs::path> files_by_stem(const fs::path& dir, std::string_view ext) {
  std::map<std::string, fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || lower(entry.path().extension().string()) != ext) continue;
    out.emplace(stem_key(fs::relative(entry.path(), dir)), entry.path());
  }
  return out;
}

fs::path first_dir(const fs::path& root, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (fs::is_directory(root / name)) return root / name;
  return {};
}

// ---------------------------------------------------------------------------------------------- VOC
/// The text between <tag> and </tag> at or after `from` within [from, to); npos-safe.
std::optional<std::string_view> xml_child(std::string_view xml, std::string_view tag, std::size_t* end = nullptr) {
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  const auto a = xml.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  if (end != nullptr) *end = b + close.size();
  return xml.substr(a + open.size(), b - a - open.size());
}

/// Parses one VOC XML file. Returns false (with `why`) when it is malformed.
bool parse_voc(std::string_view xml, const ClassMap& classes, Sample& sample, std::vector<DatasetIssue>& issues,
               const std::string& file, std::string& why) {
  const auto annotation = xml_child(xml, "annotation");
  if (!annotation) {
    why = "no <annotation> element";
    return false;
  }
  if (const auto size = xml_child(*annotation, "size")) {
    const auto w = xml_child(*size, "width");
    const auto h = xml_child(*size, "height");
    const float wv = w ? parse_float(*w).value_or(0.0f) : 0.0f;
    const float hv = h ? parse_float(*h).value_or(0.0f) : 0.0f;
    if (wv > 0.0f && hv > 0.0f) sample.size = cv::Size(static_cast<int>(wv), static_cast<int>(hv));
  }
  std::string_view rest = *annotation;
  std::size_t end = 0;
  int index = 0;
  while (const auto object = xml_child(rest, "object", &end)) {
    rest = rest.substr(end);
    ++index;
    const auto name = xml_child(*object, "name");
    const auto bndbox = xml_child(*object, "bndbox");
    if (!name || !bndbox) {
      why = fmt::format("object {} has no <name> or <bndbox>", index);
      return false;
    }
    std::array<float, 4> v{};
    const std::array<const char*, 4> tags{"xmin", "ymin", "xmax", "ymax"};
    for (std::size_t i = 0; i < 4; ++i) {
      const auto text = xml_child(*bndbox, tags[i]);
      const auto value = text ? parse_float(*text) : std::nullopt;
      if (!value) {
        why = fmt::format("object {}: <{}> missing or not a number", index, tags[i]);
        return false;
      }
      v[i] = *value;
    }
    const std::string class_name = trim(*name);
    const auto label = classes.find(class_name);
    if (!label) {
      issues.push_back({"unknown_class", file, fmt::format("class '{}' (box dropped)", class_name), sample.name});
      continue;
    }
    sample.boxes.push_back({cv::Rect2f(v[0], v[1], v[2] - v[0], v[3] - v[1]), *label});
  }
  return true;
}

Dataset read_voc(const fs::path& root, const ClassMap& classes) {
  Dataset dataset;
  const fs::path ann_dir = first_dir(root, {"annotations", "Annotations"});
  const fs::path img_dir = first_dir(root, {"images", "JPEGImages"});
  if (ann_dir.empty() || img_dir.empty())
    throw Error(Errc::bad_input, fmt::format("VOC dataset '{}' needs images/ and annotations/ folders (or "
                                             "JPEGImages/ and Annotations/)",
                                             root.string()));
  const auto images = images_by_stem(img_dir, dataset.issues);
  const auto xmls = files_by_stem(ann_dir, ".xml");
  for (const auto& [key, xml_path] : xmls) {
    const auto image = images.find(key);
    if (image == images.end()) {
      dataset.issues.push_back({"annotation_without_image", xml_path.string(), "no image with this stem", key});
      continue;
    }
    Sample sample;
    sample.name = fs::relative(image->second, img_dir).generic_string();
    sample.path = image->second;
    std::string why;
    if (!parse_voc(read_text(xml_path), classes, sample, dataset.issues, xml_path.string(), why)) {
      dataset.issues.push_back({"malformed", xml_path.string(), why + " (image not evaluated)", key});
      continue;
    }
    dataset.samples.push_back(std::move(sample));
  }
  for (const auto& [key, path] : images)
    if (xmls.find(key) == xmls.end())
      dataset.issues.push_back(
          {"image_without_annotation", path.string(), "no XML with this stem (not evaluated)", key});
  return dataset;
}

// --------------------------------------------------------------------------------------------- YOLO
std::vector<std::string> read_yolo_classes(const fs::path& root) {
  for (const char* name : {"data.yaml", "dataset.yaml"}) {
    const fs::path path = root / name;
    if (!fs::exists(path)) continue;
    try {
      const YAML::Node names = YAML::LoadFile(path.string())["names"];
      std::vector<std::string> out;
      if (names.IsSequence()) {
        for (const auto& n : names) out.push_back(n.as<std::string>());
      } else if (names.IsMap()) {
        std::map<int, std::string> by_id;
        for (const auto& kv : names) by_id[kv.first.as<int>()] = kv.second.as<std::string>();
        for (const auto& [id, n] : by_id) {
          if (id != static_cast<int>(out.size())) throw Error(Errc::bad_input, "class ids are not 0..n-1");
          out.push_back(n);
        }
      }
      if (!out.empty()) return out;
    } catch (const YAML::Exception& e) {
      throw Error(Errc::bad_input, fmt::format("YOLO classes file '{}': {}", path.string(), e.what()));
    }
  }
  std::vector<fs::path> candidates{root / "classes.txt", root / "obj.names", root / "labels" / "classes.txt"};
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.path().extension() == ".names") candidates.push_back(entry.path());
  for (const fs::path& path : candidates) {
    if (!fs::exists(path)) continue;
    std::istringstream in(read_text(path));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      if (const std::string name = trim(line); !name.empty()) out.push_back(name);
    if (!out.empty()) return out;
  }
  throw Error(Errc::bad_input, fmt::format("YOLO dataset '{}' has no classes file (classes.txt, obj.names, "
                                           "*.names or data.yaml with names)",
                                           root.string()));
}

Dataset read_yolo(const fs::path& root, const ClassMap& classes) {
  Dataset dataset;
  const std::vector<std::string> names = read_yolo_classes(root);
  fs::path img_dir = first_dir(root, {"images"});
  fs::path lbl_dir = first_dir(root, {"labels"});
  if (img_dir.empty()) img_dir = root;
  if (lbl_dir.empty()) lbl_dir = img_dir;
  const auto images = images_by_stem(img_dir, dataset.issues);
  auto txts = files_by_stem(lbl_dir, ".txt");
  txts.erase("classes");
  for (const auto& [key, txt_path] : txts) {
    const auto image = images.find(key);
    if (image == images.end()) {
      dataset.issues.push_back({"annotation_without_image", txt_path.string(), "no image with this stem", key});
      continue;
    }
    Sample sample;
    sample.name = fs::relative(image->second, img_dir).generic_string();
    sample.path = image->second;
    sample.normalized = true;
    std::istringstream in(read_text(txt_path));
    bool ok = true;
    int line_no = 0;
    for (std::string line; ok && std::getline(in, line);) {
      ++line_no;
      if (trim(line).empty()) continue;
      std::istringstream fields(line);
      std::string id_text;
      std::array<std::string, 4> v_text;
      fields >> id_text >> v_text[0] >> v_text[1] >> v_text[2] >> v_text[3];
      std::array<float, 4> v{};
      bool numbers = !fields.fail();
      for (std::size_t i = 0; numbers && i < 4; ++i) {
        const auto value = parse_float(v_text[i]);
        numbers = value.has_value();
        if (value) v[i] = *value;
      }
      int id = -1;
      const auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
      if (!numbers || ec != std::errc() || ptr != id_text.data() + id_text.size()) {
        dataset.issues.push_back({"malformed", fmt::format("{}:{}", txt_path.string(), line_no),
                                  "expected 'class cx cy w h' (image not evaluated)", key});
        ok = false;
        break;
      }
      if (id < 0 || static_cast<std::size_t>(id) >= names.size()) {
        dataset.issues.push_back({"unknown_class", fmt::format("{}:{}", txt_path.string(), line_no),
                                  fmt::format("class id {} not in the classes file (box dropped)", id), key});
        continue;
      }
      const auto label = classes.find(names[static_cast<std::size_t>(id)]);
      if (!label) {
        dataset.issues.push_back({"unknown_class", fmt::format("{}:{}", txt_path.string(), line_no),
                                  fmt::format("class '{}' (box dropped)", names[static_cast<std::size_t>(id)]), key});
        continue;
      }
      sample.boxes.push_back({cv::Rect2f(v[0] - v[2] / 2, v[1] - v[3] / 2, v[2], v[3]), *label});
    }
    if (ok) dataset.samples.push_back(std::move(sample));
  }
  for (const auto& [key, path] : images)
    if (txts.find(key) == txts.end())
      dataset.issues.push_back({"image_without_annotation", path.string(), "no label .txt (not evaluated)", key});
  return dataset;
}

// --------------------------------------------------------------------------------------------- COCO
bool looks_like_coco(const fs::path& path) {
  if (lower(path.extension().string()) != ".json") return false;
  std::ifstream in(path);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head.find("\"images\"") != std::string::npos || head.find("\"annotations\"") != std::string::npos;
}

fs::path find_coco_json(const fs::path& root) {
  for (const fs::path& dir : {root, root / "annotations"}) {
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file() && looks_like_coco(entry.path())) found.push_back(entry.path());
    std::sort(found.begin(), found.end());
    if (!found.empty()) return found.front();
  }
  return {};
}

Dataset read_coco(const fs::path& root, const ClassMap& classes) {
  Dataset dataset;
  const fs::path json_path = find_coco_json(root);
  if (json_path.empty()) throw Error(Errc::bad_input, fmt::format("no COCO JSON file in '{}'", root.string()));
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_text(json_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::bad_input, fmt::format("COCO file '{}': {}", json_path.string(), e.what()));
  }
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    throw Error(Errc::bad_input, fmt::format("COCO file '{}': no \"images\" array", json_path.string()));
  fs::path img_dir = first_dir(root, {"images"});
  if (img_dir.empty()) img_dir = root;
  std::map<std::int64_t, std::string> category;
  if (doc.contains("categories") && doc["categories"].is_array())
    for (const auto& c : doc["categories"])
      if (c.is_object() && c.contains("id") && c["id"].is_number_integer() && c.contains("name") &&
          c["name"].is_string())
        category[c["id"].get<std::int64_t>()] = c["name"].get<std::string>();

  std::map<std::int64_t, std::size_t> by_id;  // image id -> index in samples
  std::set<std::string> listed;
  for (const auto& img : doc["images"]) {
    if (!img.is_object() || !img.contains("id") || !img["id"].is_number_integer() || !img.contains("file_name") ||
        !img["file_name"].is_string()) {
      dataset.issues.push_back({"malformed", json_path.string(), "an image entry lacks id or file_name (skipped)", ""});
      continue;
    }
    const std::string file_name = img["file_name"].get<std::string>();
    listed.insert(file_name);
    fs::path path = img_dir / file_name;
    if (!fs::exists(path)) path = json_path.parent_path() / file_name;
    if (!fs::exists(path)) {
      dataset.issues.push_back(
          {"annotation_without_image", file_name, "listed in the COCO file, not found", file_name});
      continue;
    }
    Sample sample;
    sample.name = file_name;
    sample.path = path;
    if (img.contains("width") && img["width"].is_number() && img.contains("height") && img["height"].is_number())
      sample.size = cv::Size(img["width"].get<int>(), img["height"].get<int>());
    by_id[img["id"].get<std::int64_t>()] = dataset.samples.size();
    dataset.samples.push_back(std::move(sample));
  }
  if (doc.contains("annotations") && doc["annotations"].is_array()) {
    std::size_t index = 0;
    for (const auto& ann : doc["annotations"]) {
      ++index;
      const bool shape_ok =
          ann.is_object() && ann.contains("image_id") && ann["image_id"].is_number_integer() && ann.contains("bbox") &&
          ann["bbox"].is_array() && ann["bbox"].size() == 4 &&
          std::all_of(ann["bbox"].begin(), ann["bbox"].end(), [](const nlohmann::json& v) { return v.is_number(); }) &&
          ann.contains("category_id") && ann["category_id"].is_number_integer();
      if (!shape_ok) {
        dataset.issues.push_back({"malformed", fmt::format("{} annotation #{}", json_path.string(), index),
                                  "needs image_id, category_id and bbox [x, y, w, h] (skipped)", ""});
        continue;
      }
      const auto sample = by_id.find(ann["image_id"].get<std::int64_t>());
      if (sample == by_id.end()) continue;  // its image is missing (reported above) or unknown
      const auto cat = category.find(ann["category_id"].get<std::int64_t>());
      const std::string cat_name =
          cat == category.end() ? fmt::format("id {}", ann["category_id"].get<std::int64_t>()) : cat->second;
      const auto label = cat == category.end() ? std::nullopt : classes.find(cat->second);
      Sample& s = dataset.samples[sample->second];
      if (!label) {
        dataset.issues.push_back({"unknown_class", s.name, fmt::format("class '{}' (box dropped)", cat_name), s.name});
        continue;
      }
      const auto& b = ann["bbox"];
      s.boxes.push_back(
          {cv::Rect2f(b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()), *label});
    }
  }
  // Images in the folder that the COCO file does not list.
  std::vector<DatasetIssue> ignored;
  for (const auto& [key, path] : images_by_stem(img_dir, ignored)) {
    const std::string rel = fs::relative(path, img_dir).generic_string();
    if (listed.find(rel) == listed.end() && listed.find(path.filename().string()) == listed.end())
      dataset.issues.push_back(
          {"image_without_annotation", path.string(), "not in the COCO file (not evaluated)", rel});
  }
  return dataset;
}

// ------------------------------------------------------------------------------------------ folders
Dataset read_folders(const fs::path& root, const ClassMap& classes) {
  Dataset dataset;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    const std::string class_name = dir.filename().string();
    const auto label = classes.find(class_name);
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file() && is_image_path(entry.path())) files.push_back(entry.path());
    if (!label) {
      dataset.issues.push_back({"unknown_class", dir.string(),
                                fmt::format("folder class '{}' ({} images not evaluated)", class_name, files.size()),
                                ""});
      continue;
    }
    for (const fs::path& file : files) {
      Sample sample;
      sample.name = fs::relative(file, root).generic_string();
      sample.path = file;
      sample.label = *label;
      dataset.samples.push_back(std::move(sample));
    }
  }
  return dataset;
}

bool has_image_subfolders(const fs::path& root) {
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    for (const auto& file : fs::directory_iterator(entry.path()))
      if (file.is_regular_file() && is_image_path(file.path())) return true;
  }
  return false;
}

}  // namespace

std::string_view to_string(DatasetFormat format) noexcept {
  switch (format) {
    case DatasetFormat::voc:
      return "voc";
    case DatasetFormat::yolo:
      return "yolo";
    case DatasetFormat::coco:
      return "coco";
    case DatasetFormat::folders:
      return "folders";
  }
  return "?";
}

std::optional<DatasetFormat> parse_format(std::string_view name) noexcept {
  if (name == "voc") return DatasetFormat::voc;
  if (name == "yolo") return DatasetFormat::yolo;
  if (name == "coco") return DatasetFormat::coco;
  if (name == "folders") return DatasetFormat::folders;
  return std::nullopt;
}

ClassMap::ClassMap() {
  for (const char* n : {"with_mask", "mask", "correct_mask"}) map_[n] = MaskLabel::mask;
  for (const char* n : {"without_mask", "no_mask"}) map_[n] = MaskLabel::no_mask;
  for (const char* n : {"mask_weared_incorrect", "with_incorrect_mask", "incorrect_mask", "incorrect"})
    map_[n] = MaskLabel::incorrect;
}

void ClassMap::set(std::string_view from, std::string_view to) {
  const auto label = parse_label(to);
  if (!label)
    throw Error(Errc::invalid_config,
                fmt::format("--class-map: '{}' is not a label (mask, no_mask or incorrect)", std::string(to)));
  if (from.empty()) throw Error(Errc::invalid_config, "--class-map: empty class name");
  map_[lower(from)] = *label;
}

void ClassMap::set_rule(std::string_view rule) {
  const auto eq = rule.find('=');
  if (eq == std::string_view::npos)
    throw Error(Errc::invalid_config, fmt::format("--class-map: expected from=to, got '{}'", std::string(rule)));
  set(trim(rule.substr(0, eq)), trim(rule.substr(eq + 1)));
}

std::optional<MaskLabel> ClassMap::find(std::string_view name) const {
  const auto it = map_.find(lower(name));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

bool is_note(std::string_view kind) noexcept { return kind == "box_clamped" || kind == "no_prediction"; }

bool is_image_path(const fs::path& path) {
  static const std::set<std::string> exts{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
  return exts.count(lower(path.extension().string())) > 0;
}

DatasetFormat detect_format(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(Errc::bad_input, fmt::format("dataset '{}' is not a folder", dir.string()));
  if (!find_coco_json(dir).empty()) return DatasetFormat::coco;
  if (fs::is_directory(dir / "labels") || fs::exists(dir / "classes.txt") || fs::exists(dir / "obj.names") ||
      fs::exists(dir / "data.yaml"))
    return DatasetFormat::yolo;
  if (!first_dir(dir, {"annotations", "Annotations"}).empty()) return DatasetFormat::voc;
  if (has_image_subfolders(dir)) return DatasetFormat::folders;
  throw Error(Errc::bad_input,
              fmt::format("cannot tell the format of dataset '{}' (expected VOC images/ + annotations/, YOLO "
                          "labels/ + classes.txt, a COCO JSON, or one folder of images per class); pass --format",
                          dir.string()));
}

Dataset read_dataset(const fs::path& dir, std::optional<DatasetFormat> format, const ClassMap& classes) {
  const DatasetFormat f = format ? *format : detect_format(dir);
  if (!fs::is_directory(dir)) throw Error(Errc::bad_input, fmt::format("dataset '{}' is not a folder", dir.string()));
  Dataset dataset;
  switch (f) {
    case DatasetFormat::voc:
      dataset = read_voc(dir, classes);
      break;
    case DatasetFormat::yolo:
      dataset = read_yolo(dir, classes);
      break;
    case DatasetFormat::coco:
      dataset = read_coco(dir, classes);
      break;
    case DatasetFormat::folders:
      dataset = read_folders(dir, classes);
      break;
  }
  dataset.root = dir;
  dataset.format = f;
  std::sort(dataset.samples.begin(), dataset.samples.end(),
            [](const Sample& a, const Sample& b) { return a.name < b.name; });
  return dataset;
}

void apply_split(Dataset& dataset, const fs::path& split_file) {
  std::ifstream in(split_file);
  if (!in) throw Error(Errc::bad_input, fmt::format("cannot read split file '{}'", split_file.string()));
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i) {
    const fs::path name = dataset.samples[i].name;
    for (const std::string& key :
         {name.generic_string(), stem_key(name), name.filename().string(), name.stem().string()})
      index.emplace(key, i);
  }
  std::vector<bool> keep(dataset.samples.size(), false);
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    const std::string entry = trim(line);
    if (entry.empty() || entry[0] == '#') continue;
    auto it = index.find(entry);
    if (it == index.end()) it = index.find(stem_key(entry));
    if (it == index.end()) {
      dataset.issues.push_back({"missing_from_split", fmt::format("{}:{}", split_file.string(), line_no),
                                fmt::format("'{}' matches no evaluable image of the dataset", entry), ""});
      continue;
    }
    keep[it->second] = true;
  }
  std::vector<Sample> kept;
  for (std::size_t i = 0; i < dataset.samples.size(); ++i)
    if (keep[i]) kept.push_back(std::move(dataset.samples[i]));
  // Issues about images outside the split do not concern this evaluation.
  std::set<std::string> split_stems;
  {
    std::ifstream again(split_file);
    for (std::string line; std::getline(again, line);)
      if (const std::string e = trim(line); !e.empty()) split_stems.insert(fs::path(e).stem().string());
  }
  std::erase_if(dataset.issues, [&](const DatasetIssue& issue) {
    return !issue.key.empty() && split_stems.find(fs::path(issue.key).stem().string()) == split_stems.end();
  });
  dataset.samples = std::move(kept);
}

void resolve_boxes(Sample& sample, cv::Size size, std::vector<DatasetIssue>& issues) {
  const float w = static_cast<float>(size.width);
  const float h = static_cast<float>(size.height);
  const cv::Rect2f whole(0.0f, 0.0f, w, h);
  std::vector<GtBox> out;
  for (GtBox gt : sample.boxes) {
    if (sample.normalized) gt.box = cv::Rect2f(gt.box.x * w, gt.box.y * h, gt.box.width * w, gt.box.height * h);
    const cv::Rect2f clamped = gt.box & whole;
    if (clamped.width <= 0.0f || clamped.height <= 0.0f) {
      issues.push_back({"empty_box", sample.name,
                        fmt::format("box [{}, {}, {}, {}] is empty inside the {}x{} image (dropped)", gt.box.x,
                                    gt.box.y, gt.box.width, gt.box.height, size.width, size.height),
                        sample.name});
      continue;
    }
    if (clamped != gt.box)
      issues.push_back({"box_clamped", sample.name,
                        fmt::format("box [{}, {}, {}, {}] clamped to the {}x{} image", gt.box.x, gt.box.y, gt.box.width,
                                    gt.box.height, size.width, size.height),
                        sample.name});
    gt.box = clamped;
    out.push_back(gt);
  }
  sample.boxes = std::move(out);
  sample.normalized = false;
  sample.size = size;
}

}  // namespace maskdetect::eval
