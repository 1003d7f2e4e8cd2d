// The committed detection splits (models/splits/, made by models/training/make_splits.py): fixed, disjoint,
// covering each set, moxa3k's duplicate groups never crossing splits, and the images the same ones the
// splits were made from (sha256 per split, models/splits/data_hashes.yaml).
#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "test_support.hpp"

namespace fs = std::filesystem;

namespace {

using maskdetect::test::andrewmvd_dir;
using maskdetect::test::moxa3k_dir;

constexpr std::array<const char*, 3> kSplits{"train", "val", "test"};

fs::path split_file(const std::string& source, const std::string& split) {
  return maskdetect::test::source_dir() / "models" / "splits" / (source + "_" + split + ".txt");
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

/// Lower-case hex SHA-256 of `text` (OpenSSL EVP).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { REQUIRE(EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const std::string& bytes) { REQUIRE(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1); }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    REQUIRE(EVP_DigestFinal_ex(ctx_, digest.data(), &length) == 1);
    std::string text;
    for (unsigned int i = 0; i < length; ++i) text += fmt::format("{:02x}", digest[i]);
    return text;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::stringstream bytes;
  bytes << in.rdbuf();
  Sha256 sha;
  sha.update(bytes.str());
  return sha.hex();
}

/// The recipe's data hash (models/training/data.py data_hash): sha256 over the sorted lines
/// "images/<stem>.jpg\t<sha256 of the file>\n".
std::string data_hash(const fs::path& root, const std::vector<std::string>& stems) {
  std::vector<std::string> rels;
  rels.reserve(stems.size());
  for (const std::string& stem : stems) rels.push_back("images/" + stem + ".jpg");
  std::sort(rels.begin(), rels.end());
  Sha256 sha;
  for (const std::string& rel : rels) sha.update(rel + "\t" + sha256_of_file(root / rel) + "\n");
  return sha.hex();
}

/// MANIFEST.csv of moxa3k: stem -> the value of `column` (the columns used hold no commas or quotes).
std::map<std::string, std::string> manifest_column(const std::string& column) {
  std::ifstream in(moxa3k_dir() / "MANIFEST.csv");
  REQUIRE(in);
  std::string header;
  REQUIRE(std::getline(in, header));
  std::vector<std::string> names;
  std::stringstream hs(header);
  for (std::string name; std::getline(hs, name, ',');) names.push_back(name);
  const auto at = static_cast<std::size_t>(std::find(names.begin(), names.end(), column) - names.begin());
  REQUIRE(at < names.size());
  std::map<std::string, std::string> out;
  for (std::string line; std::getline(in, line);) {
    // The `transform` column is quoted and holds commas: split on commas outside quotes.
    std::vector<std::string> cells(1);
    bool quoted = false;
    for (const char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        cells.emplace_back();
      } else {
        cells.back() += c;
      }
    }
    REQUIRE(cells.size() == names.size());
    out[cells[0]] = cells[at];
  }
  return out;
}

}  // namespace

TEST_CASE("Splits: moxa3k train val test are disjoint, cover the set and keep duplicate groups together",
          "[eval][splits][data]") {
  MASKDETECT_REQUIRE_DATA(moxa3k_dir() / "MANIFEST.csv");
  const auto group = manifest_column("dup_group");
  REQUIRE(group.size() == 2087);
  std::map<std::string, std::string> split_of;  // stem -> split
  std::map<std::string, std::size_t> sizes;
  for (const char* split : kSplits) {
    for (const std::string& stem : read_lines(split_file("moxa3k", split))) {
      INFO(stem);
      CHECK(group.count(stem) == 1);                // a real moxa3k image
      CHECK(split_of.emplace(stem, split).second);  // in one split only, once
      CHECK(fs::exists(moxa3k_dir() / "images" / (stem + ".jpg")));
    }
    sizes[split] = read_lines(split_file("moxa3k", split)).size();
  }
  CHECK(split_of.size() == group.size());  // every image in some split
  // The committed sizes (make_splits.py, seed 20261206): a changed split is a new protocol, not a fix.
  CHECK(sizes["train"] == 1473);
  CHECK(sizes["val"] == 306);
  CHECK(sizes["test"] == 308);
  // No duplicate group crosses splits (video-frame runs and repeated photos stay together).
  std::map<std::string, std::set<std::string>> splits_of_group;
  for (const auto& [stem, split] : split_of) splits_of_group[group.at(stem)].insert(split);
  std::size_t multi = 0;
  for (const auto& [g, splits] : splits_of_group) {
    INFO("dup_group " << g);
    CHECK(splits.size() == 1);
    multi += static_cast<std::size_t>(
        std::count_if(group.begin(), group.end(), [&](const auto& kv) { return kv.second == g; }) > 1);
  }
  CHECK(multi == 103);  // the PROVENANCE's 103 groups of 2 or more images were all seen
  // The images that are the same photos as chandrikadeb7 images are in train (never val or test).
  std::ifstream overlap(moxa3k_dir() / "OVERLAP_with_classifier.csv");
  REQUIRE(overlap);
  std::string line;
  std::getline(overlap, line);
  std::size_t forced = 0;
  while (std::getline(overlap, line)) {
    const auto start = line.find("images/");
    REQUIRE(start != std::string::npos);
    const std::string stem = fs::path(line.substr(start, line.find(',', start) - start)).stem().string();
    INFO(stem);
    CHECK(split_of.at(stem) == "train");
    ++forced;
  }
  CHECK(forced >= 19);
}

TEST_CASE("Splits: andrewmvd train val test are disjoint and cover the set", "[eval][splits][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  std::set<std::string> seen;
  for (const char* split : kSplits)
    for (const std::string& stem : read_lines(split_file("andrewmvd", split))) {
      INFO(stem);
      CHECK(seen.insert(stem).second);
      CHECK(fs::exists(andrewmvd_dir() / "images" / (stem + ".jpg")));
    }
  CHECK(seen.size() == 853);
}

TEST_CASE("Splits: the images of every detection split match their recorded sha256", "[eval][splits][data]") {
  MASKDETECT_REQUIRE_DATA(andrewmvd_dir());
  MASKDETECT_REQUIRE_DATA(moxa3k_dir());
  const YAML::Node hashes =
      YAML::LoadFile((maskdetect::test::source_dir() / "models" / "splits" / "data_hashes.yaml").string());
  const auto manifest_sha = manifest_column("sha256");
  std::size_t checked = 0;
  for (const auto& [source, root] : {std::pair{"andrewmvd", andrewmvd_dir()}, {"moxa3k", moxa3k_dir()}}) {
    for (const char* split : kSplits) {
      const std::string key = fmt::format("{}_{}", source, split);
      INFO(key);
      REQUIRE(hashes[key]);
      const std::vector<std::string> stems = read_lines(split_file(source, split));
      CHECK(hashes[key]["images"].as<std::size_t>() == stems.size());
      CHECK(data_hash(root, stems) == hashes[key]["sha256"].as<std::string>());
      if (std::string(source) == "moxa3k")
        for (const std::string& stem : stems) {
          INFO(stem);  // the dataset's own MANIFEST agrees with the files
          CHECK(sha256_of_file(root / "images" / (stem + ".jpg")) == manifest_sha.at(stem));
        }
      ++checked;
    }
  }
  CHECK(checked == 6);
}
