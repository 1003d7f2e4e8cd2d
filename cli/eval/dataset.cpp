#include "eval/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>
#include <tinyxml2.h>
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

/// Images under `dir` (recursively), by stem key, sorted. Keys are lexically relative to `dir`: an image that is
/// a symlink to a file elsewhere keeps its own name (fs::relative would follow the link).
std::map<std::string, fs::path> images_by_stem(const fs::path& dir, std::vector<DatasetIssue>& issues) {
  std::map<std::string, fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || !is_image_path(entry.path())) continue;
    const std::string key = stem_key(entry.path().lexically_relative(dir));
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
    out.emplace(stem_key(entry.path().lexically_relative(dir)), entry.path());
  }
  return out;
}

fs::path first_dir(const fs::path& root, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (fs::is_directory(root / name)) return root / name;
  return {};
}

// ---------------------------------------------------------------------------------------------- VOC
/// A number read from an annotation: finite and within +-kMaxCoordinate, else why not.
std::optional<std::string> check_number(std::string_view field, std::string_view text, float& out) {
  const auto value = parse_float(text);
  if (!value) return fmt::format("{} '{}' is not a number", field, trim(text));
  if (!std::isfinite(*value) || std::abs(*value) > kMaxCoordinate)
    return fmt::format("{} '{}' is out of range (a finite number within +-{})", field, trim(text), kMaxCoordinate);
  out = *value;
  return std::nullopt;
}

/// The text of the child element `name` of `parent` ("" when it has none), or nullptr when absent.
const char* child_text(const tinyxml2::XMLElement* parent, const char* name) {
  const tinyxml2::XMLElement* child = parent->FirstChildElement(name);
  if (child == nullptr) return nullptr;
  const char* text = child->GetText();
  return text == nullptr ? "" : text;
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
    sample.name = image->second.lexically_relative(img_dir).generic_string();
    sample.path = image->second;
    if (const auto why = parse_voc(read_text(xml_path), xml_path.string(), classes, sample, dataset.issues)) {
      dataset.issues.push_back({"malformed", xml_path.string(), *why + " (image not evaluated)", key});
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
/// classes.txt and obj.names (any case), then *.names, in `root` and then in `root`/labels.
std::vector<fs::path> yolo_classes_files(const fs::path& root) {
  std::vector<fs::path> first;
  std::vector<fs::path> then;
  for (const fs::path& dir : {root, root / "labels"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      const std::string name = lower(file.filename().string());
      if (name == "classes.txt" || name == "obj.names")
        first.push_back(file);
      else if (dir == root && lower(file.extension().string()) == ".names")
        then.push_back(file);
    }
  }
  first.insert(first.end(), then.begin(), then.end());
  return first;
}

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
  for (const fs::path& path : yolo_classes_files(root)) {
    auto out = parse_yolo_classes(read_text(path), path.string());
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
  for (auto it = txts.begin(); it != txts.end();) it = lower(it->first) == "classes" ? txts.erase(it) : std::next(it);
  for (const auto& [key, txt_path] : txts) {
    const auto image = images.find(key);
    if (image == images.end()) {
      dataset.issues.push_back({"annotation_without_image", txt_path.string(), "no image with this stem", key});
      continue;
    }
    Sample sample;
    sample.name = image->second.lexically_relative(img_dir).generic_string();
    sample.path = image->second;
    sample.normalized = true;
    if (const auto why =
            parse_yolo_labels(read_text(txt_path), txt_path.string(), names, classes, sample, dataset.issues)) {
      dataset.issues.push_back({"malformed", txt_path.string(), *why + " (image not evaluated)", key});
      continue;
    }
    dataset.samples.push_back(std::move(sample));
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
  CocoFile coco = parse_coco(read_text(json_path), json_path.string(), classes);
  dataset.issues = std::move(coco.issues);
  dataset.category_ids = coco.category_ids;
  fs::path img_dir = first_dir(root, {"images"});
  if (img_dir.empty()) img_dir = root;
  std::set<std::string> listed;
  for (CocoImage& img : coco.images) {
    listed.insert(img.file_name);
    fs::path path = img_dir / img.file_name;
    if (!fs::exists(path)) path = json_path.parent_path() / img.file_name;
    if (!fs::exists(path)) {
      dataset.issues.push_back(
          {"annotation_without_image", img.file_name, "listed in the COCO file, not found", img.file_name});
      continue;
    }
    Sample sample;
    sample.name = img.file_name;
    sample.path = path;
    sample.size = img.size;
    sample.image_id = img.id;
    sample.boxes = std::move(img.boxes);
    dataset.samples.push_back(std::move(sample));
  }
  // Images in the folder that the COCO file does not list.
  std::vector<DatasetIssue> ignored;
  for (const auto& [key, path] : images_by_stem(img_dir, ignored)) {
    const std::string rel = path.lexically_relative(img_dir).generic_string();
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
      sample.name = file.lexically_relative(root).generic_string();
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

ClassMap ClassMap::parse_label_map(std::string_view yaml, std::string_view origin) {
  const auto fail = [&](const YAML::Mark& mark, const std::string& what) -> ClassMap {
    throw Error(Errc::invalid_config, mark.line >= 0 ? fmt::format("label map {}:{}: {}", origin, mark.line + 1, what)
                                                     : fmt::format("label map {}: {}", origin, what));
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(e.mark, fmt::format("not valid YAML: {}", e.msg));
  }
  if (!root.IsMap() || root.size() == 0)
    return fail(root.Mark(), "expected a mapping 'class name: mask|no_mask|incorrect', one per line");
  ClassMap map{Empty{}};
  for (const auto& item : root) {
    if (!item.first.IsScalar() || item.first.Scalar().empty())
      return fail(item.first.Mark(), "a class name must be a plain, non-empty name");
    const std::string name = item.first.Scalar();
    if (!item.second.IsScalar())
      return fail(item.second.Mark(), fmt::format("class '{}': expected a label (mask, no_mask or incorrect)", name));
    const auto label = parse_label(item.second.Scalar());
    if (!label)
      return fail(item.second.Mark(), fmt::format("class '{}': '{}' is not a label (mask, no_mask or incorrect)", name,
                                                  item.second.Scalar()));
    if (!map.map_.emplace(lower(name), *label).second)
      return fail(item.first.Mark(),
                  fmt::format("class '{}' is mapped twice (names are compared case-insensitively)", name));
  }
  return map;
}

ClassMap ClassMap::read_label_map(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(Errc::invalid_config, fmt::format("label map '{}' is a folder, not a file", path.string()));
  std::ifstream in(path);
  if (!in) throw Error(Errc::invalid_config, fmt::format("cannot read label map '{}'", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return parse_label_map(text.str(), path.string());
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

std::optional<std::string> parse_voc(std::string_view xml, std::string_view origin, const ClassMap& classes,
                                     Sample& sample, std::vector<DatasetIssue>& issues) {
  tinyxml2::XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS)
    return fmt::format("not well-formed XML: {}", doc.ErrorStr());
  const tinyxml2::XMLElement* annotation = doc.RootElement();
  if (annotation == nullptr || std::string_view(annotation->Name()) != "annotation")
    return std::string("the root element is not <annotation>");
  if (const tinyxml2::XMLElement* size = annotation->FirstChildElement("size")) {
    float w = 0.0f;
    float h = 0.0f;
    const char* w_text = child_text(size, "width");
    const char* h_text = child_text(size, "height");
    if (w_text != nullptr && h_text != nullptr && !trim(w_text).empty() && !trim(h_text).empty()) {
      if (auto why = check_number("<size><width>", w_text, w)) return why;
      if (auto why = check_number("<size><height>", h_text, h)) return why;
      if (w < 0.0f || h < 0.0f) return fmt::format("<size> {}x{} is negative", w, h);
      // 0x0 (some tools write it) means "unknown": the image gives the size.
      if (w >= 1.0f && h >= 1.0f) sample.size = cv::Size(static_cast<int>(w), static_cast<int>(h));
    }
  }
  int index = 0;
  for (const tinyxml2::XMLElement* object = annotation->FirstChildElement("object"); object != nullptr;
       object = object->NextSiblingElement("object")) {
    ++index;
    const char* name = child_text(object, "name");
    const tinyxml2::XMLElement* bndbox = object->FirstChildElement("bndbox");
    if (name == nullptr || bndbox == nullptr) return fmt::format("object {} has no <name> or <bndbox>", index);
    std::array<float, 4> v{};
    const std::array<const char*, 4> tags{"xmin", "ymin", "xmax", "ymax"};
    for (std::size_t i = 0; i < 4; ++i) {
      const char* text = child_text(bndbox, tags[i]);
      if (text == nullptr) return fmt::format("object {}: <{}> missing", index, tags[i]);
      if (auto why = check_number(fmt::format("object {}: <{}>", index, tags[i]), text, v[i])) return why;
    }
    const std::string class_name = trim(name);
    const auto label = classes.find(class_name);
    if (!label) {
      issues.push_back(
          {"unknown_class", std::string(origin), fmt::format("class '{}' (box dropped)", class_name), sample.name});
      continue;
    }
    sample.boxes.push_back({cv::Rect2f(v[0], v[1], v[2] - v[0], v[3] - v[1]), *label});
  }
  return std::nullopt;
}

std::vector<std::string> parse_yolo_classes(std::string_view text, std::string_view origin) {
  std::vector<std::string> lines;
  std::size_t from = 0;
  while (from <= text.size()) {
    const auto eol = text.find('\n', from);
    const std::string line =
        trim(text.substr(from, eol == std::string_view::npos ? std::string_view::npos : eol - from));
    if (!line.empty()) lines.push_back(line);
    if (eol == std::string_view::npos) break;
    from = eol + 1;
  }
  // "0 mask" / "1 no_mask": an index and a name on every line, indices 0..n-1 each once.
  std::vector<std::string> indexed(lines.size());
  bool all_indexed = !lines.empty();
  for (const std::string& line : lines) {
    const auto space = line.find_first_of(" \t:");
    std::size_t id = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + std::min(space, line.size()), id);
    const std::string name =
        space == std::string::npos ? std::string() : trim(std::string_view(line).substr(space + 1));
    if (space == std::string::npos || ec != std::errc() || ptr != line.data() + space || id >= lines.size() ||
        name.empty() || !indexed[id].empty()) {
      all_indexed = false;
      break;
    }
    indexed[id] = name;
  }
  if (all_indexed) return indexed;
  for (const std::string& line : lines)
    if (line.size() > 256)
      throw Error(Errc::bad_input,
                  fmt::format("YOLO classes file '{}': a class name of {} characters", origin, line.size()));
  return lines;
}

std::optional<std::string> parse_yolo_labels(std::string_view text, std::string_view origin,
                                             const std::vector<std::string>& names, const ClassMap& classes,
                                             Sample& sample, std::vector<DatasetIssue>& issues) {
  std::istringstream in{std::string(text)};
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::istringstream fields(line);
    std::string id_text;
    std::array<std::string, 4> v_text;
    fields >> id_text >> v_text[0] >> v_text[1] >> v_text[2] >> v_text[3];
    if (fields.fail()) return fmt::format("line {}: expected 'class cx cy w h'", line_no);
    std::array<float, 4> v{};
    const std::array<const char*, 4> fields_named{"cx", "cy", "w", "h"};
    for (std::size_t i = 0; i < 4; ++i)
      if (auto why = check_number(fmt::format("line {}: {}", line_no, fields_named[i]), v_text[i], v[i])) return why;
    if (v[2] < 0.0f || v[3] < 0.0f) return fmt::format("line {}: negative width or height", line_no);
    int id = -1;
    const auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || ptr != id_text.data() + id_text.size())
      return fmt::format("line {}: class id '{}' is not an integer", line_no, id_text);
    const std::string where = fmt::format("{}:{}", origin, line_no);
    if (id < 0 || static_cast<std::size_t>(id) >= names.size()) {
      issues.push_back(
          {"unknown_class", where, fmt::format("class id {} not in the classes file (box dropped)", id), sample.name});
      continue;
    }
    const auto label = classes.find(names[static_cast<std::size_t>(id)]);
    if (!label) {
      issues.push_back({"unknown_class", where,
                        fmt::format("class '{}' (box dropped)", names[static_cast<std::size_t>(id)]), sample.name});
      continue;
    }
    sample.boxes.push_back({cv::Rect2f(v[0] - v[2] / 2, v[1] - v[3] / 2, v[2], v[3]), *label});
  }
  return std::nullopt;
}

namespace {

/// A JSON number within [lo, hi] (whole when `whole`), else why not.
std::optional<std::string> check_json_number(const nlohmann::json& j, std::string_view field, double lo, double hi,
                                             bool whole, double& out) {
  if (!j.is_number()) return fmt::format("{} is not a number", field);
  const auto value = j.get<double>();
  if (!std::isfinite(value) || value < lo || value > hi || (whole && value != std::floor(value)))
    return fmt::format("{} = {} is out of range ({} in {}..{})", field, j.dump(), whole ? "a whole number" : "a number",
                       lo, hi);
  out = value;
  return std::nullopt;
}

}  // namespace

CocoFile parse_coco(std::string_view json, std::string_view origin, const ClassMap& classes) {
  CocoFile out;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::bad_input, fmt::format("COCO file '{}': {}", origin, e.what()));
  }
  if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
    throw Error(Errc::bad_input, fmt::format("COCO file '{}': no \"images\" array", origin));
  const std::string file(origin);
  std::map<std::int64_t, std::string> category;
  std::array<bool, kNumLabels> category_found{};
  if (doc.contains("categories") && doc["categories"].is_array()) {
    for (const auto& c : doc["categories"]) {
      if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer() || !c.contains("name") ||
          !c["name"].is_string())
        continue;
      const auto id = c["id"].get<std::int64_t>();
      const auto name = c["name"].get<std::string>();
      category[id] = name;
      if (const auto label = classes.find(name); label && !category_found[static_cast<std::size_t>(*label)]) {
        category_found[static_cast<std::size_t>(*label)] = true;
        out.category_ids[static_cast<std::size_t>(*label)] = id;
      }
    }
  }
  std::map<std::int64_t, std::size_t> by_id;  // image id -> index in images
  std::size_t image_index = 0;
  for (const auto& img : doc["images"]) {
    ++image_index;
    const std::string where = fmt::format("{} images[{}]", file, image_index - 1);
    if (!img.is_object() || !img.contains("id") || !img["id"].is_number_integer() || !img.contains("file_name") ||
        !img["file_name"].is_string()) {
      out.issues.push_back({"malformed", where, "an image entry lacks id or file_name (skipped)", ""});
      continue;
    }
    CocoImage image;
    image.id = img["id"].get<std::int64_t>();
    image.file_name = img["file_name"].get<std::string>();
    if (img.contains("width") && img.contains("height")) {
      double w = 0.0;
      double h = 0.0;
      auto why = check_json_number(img["width"], "width", 0.0, kMaxCoordinate, true, w);
      if (!why) why = check_json_number(img["height"], "height", 0.0, kMaxCoordinate, true, h);
      if (why) {
        out.issues.push_back({"malformed", where, *why + " (image skipped)", image.file_name});
        continue;
      }
      if (w >= 1.0 && h >= 1.0) image.size = cv::Size(static_cast<int>(w), static_cast<int>(h));
    }
    if (!by_id.emplace(image.id, out.images.size()).second) {
      out.issues.push_back(
          {"malformed", where, fmt::format("image id {} appears twice (skipped)", image.id), image.file_name});
      continue;
    }
    out.images.push_back(std::move(image));
  }
  if (doc.contains("annotations") && doc["annotations"].is_array()) {
    std::size_t index = 0;
    for (const auto& ann : doc["annotations"]) {
      ++index;
      const std::string where = fmt::format("{} annotations[{}]", file, index - 1);
      const bool shape_ok = ann.is_object() && ann.contains("image_id") && ann["image_id"].is_number_integer() &&
                            ann.contains("bbox") && ann["bbox"].is_array() && ann["bbox"].size() == 4 &&
                            ann.contains("category_id") && ann["category_id"].is_number_integer();
      if (!shape_ok) {
        out.issues.push_back({"malformed", where, "needs image_id, category_id and bbox [x, y, w, h] (skipped)", ""});
        continue;
      }
      const auto& b = ann["bbox"];
      std::array<double, 4> v{};
      std::optional<std::string> why;
      const std::array<const char*, 4> names{"bbox x", "bbox y", "bbox width", "bbox height"};
      for (std::size_t i = 0; i < 4 && !why; ++i)
        why = check_json_number(b[i], names[i], i < 2 ? -kMaxCoordinate : 0.0, kMaxCoordinate, false, v[i]);
      if (why) {
        out.issues.push_back({"malformed", where, *why + " (box skipped)", ""});
        continue;
      }
      const auto image = by_id.find(ann["image_id"].get<std::int64_t>());
      if (image == by_id.end()) continue;  // an unknown image (or one skipped above)
      CocoImage& img = out.images[image->second];
      const auto cat = category.find(ann["category_id"].get<std::int64_t>());
      const std::string cat_name =
          cat == category.end() ? fmt::format("id {}", ann["category_id"].get<std::int64_t>()) : cat->second;
      const auto label = cat == category.end() ? std::nullopt : classes.find(cat->second);
      if (!label) {
        out.issues.push_back(
            {"unknown_class", img.file_name, fmt::format("class '{}' (box dropped)", cat_name), img.file_name});
        continue;
      }
      img.boxes.push_back({cv::Rect2f(static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2]),
                                      static_cast<float>(v[3])),
                           *label});
    }
  }
  return out;
}

DatasetFormat detect_format(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(Errc::bad_input, fmt::format("dataset '{}' is not a folder", dir.string()));
  if (!find_coco_json(dir).empty()) return DatasetFormat::coco;
  if (fs::is_directory(dir / "labels") || !yolo_classes_files(dir).empty() || fs::exists(dir / "data.yaml"))
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
  if (f != DatasetFormat::coco)
    for (std::size_t i = 0; i < dataset.samples.size(); ++i)
      dataset.samples[i].image_id = static_cast<std::int64_t>(i + 1);
  if (!dataset.classification()) {
    std::size_t kept = 0;
    for (const Sample& sample : dataset.samples) kept += sample.boxes.size();
    const auto dropped = static_cast<std::size_t>(std::count_if(
        dataset.issues.begin(), dataset.issues.end(), [](const DatasetIssue& i) { return i.kind == "unknown_class"; }));
    if (kept == 0 && dropped > 0) {
      const auto first = std::find_if(dataset.issues.begin(), dataset.issues.end(),
                                      [](const DatasetIssue& i) { return i.kind == "unknown_class"; });
      throw Error(
          Errc::bad_input,
          fmt::format(
              "dataset '{}': every box was dropped ({} of unknown classes, e.g. {}: {}); check the "
              "classes file, give the dataset's label map (--label-map FILE; models/label_maps/ has andrewmvd's and "
              "moxa3k's) or map the classes with --class-map FROM=mask|no_mask|incorrect",
              dir.string(), dropped, first->name, first->detail));
    }
  }
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
