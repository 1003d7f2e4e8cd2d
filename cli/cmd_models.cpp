// maskdetect models list | fetch NAME: the model files the tool uses and where they are found, and a
// checked download of the ones the project does not ship (e.g. YuNet).
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "app/config_options.hpp"
#include "commands.hpp"
#include "maskdetect/config.hpp"
#include "maskdetect/error.hpp"
#include "maskdetect/models.hpp"

namespace fs = std::filesystem;

namespace maskdetect::cli {

namespace {

struct FetchOptions {
  std::string name;
  std::string mirror;
  std::string dir;
  bool force = false;
};

// ---- SHA-256 (OpenSSL EVP) ------------------------------------------------------------------------------

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw Error(Errc::internal, "OpenSSL: cannot initialise SHA-256");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(ctx_, data, size) != 1) throw Error(Errc::internal, "OpenSSL: SHA-256 update failed");
  }
  /// Lower-case hex digest.
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_, digest.data(), &length) != 1)
      throw Error(Errc::internal, "OpenSSL: SHA-256 final failed");
    std::string text;
    for (unsigned int i = 0; i < length; ++i) text += fmt::format("{:02x}", digest[i]);
    return text;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io, fmt::format("cannot read '{}'", path.string()));
  Sha256 sha;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) sha.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return sha.hex();
}

// ---- download -------------------------------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_fetch_signal(int) { g_interrupted = 1; }

/// A temporary file in the destination folder, deleted unless committed.
class TempFile {
 public:
  explicit TempFile(const fs::path& target) {
    std::string pattern = (target.parent_path() / ("." + target.filename().string() + ".part-XXXXXX")).string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0)
      throw Error(Errc::io, fmt::format("cannot create a temporary file in '{}': {}", target.parent_path().string(),
                                        std::error_code(errno, std::generic_category()).message()));
    path_ = pattern;
    file_ = fdopen(fd, "wb");
    if (file_ == nullptr) {
      ::close(fd);
      remove();
      throw Error(Errc::io, fmt::format("cannot open '{}'", path_.string()));
    }
  }
  ~TempFile() {
    close();
    remove();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  [[nodiscard]] std::FILE* file() const noexcept { return file_; }
  [[nodiscard]] const fs::path& path() const noexcept { return path_; }
  void close() {
    if (file_ != nullptr) {
      const int rc = std::fclose(file_);
      file_ = nullptr;
      if (rc != 0) throw Error(Errc::io, fmt::format("cannot write '{}'", path_.string()));
    }
  }
  /// Renames the file to `target` (same folder, so atomic).
  void commit(const fs::path& target) {
    close();
    std::error_code ec;
    fs::permissions(
        path_, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read, ec);
    fs::rename(path_, target, ec);
    if (ec)
      throw Error(Errc::io,
                  fmt::format("cannot rename '{}' to '{}': {}", path_.string(), target.string(), ec.message()));
    path_.clear();
  }

 private:
  void remove() noexcept {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove(path_, ec);
    path_.clear();
  }

  fs::path path_;
  std::FILE* file_ = nullptr;
};

struct Transfer {
  std::FILE* out = nullptr;
  Sha256* sha = nullptr;
  std::uintmax_t received = 0;
  std::uintmax_t limit = 0;  ///< abort when more than this arrives
  bool too_big = false;
  bool write_failed = false;
  bool tty = false;
  double last_shown = -1.0;
};

extern "C" std::size_t on_data(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  transfer->received += bytes;
  if (transfer->limit > 0 && transfer->received > transfer->limit) {
    transfer->too_big = true;
    return 0;
  }
  transfer->sha->update(data, bytes);
  if (std::fwrite(data, 1, bytes, transfer->out) != bytes) {
    transfer->write_failed = true;
    return 0;
  }
  return bytes;
}

extern "C" int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (g_interrupted != 0) return 1;  // aborts the transfer
  if (transfer->tty && total > 0) {
    const double percent = 100.0 * static_cast<double>(now) / static_cast<double>(total);
    if (percent - transfer->last_shown >= 1.0 || now == total) {
      transfer->last_shown = percent;
      std::fprintf(stderr, "\r  %lld / %lld bytes (%.0f%%)\x1b[K", static_cast<long long>(now),
                   static_cast<long long>(total), percent);
    }
  }
  return 0;
}

struct CurlHandle {
  CURL* handle = curl_easy_init();
  ~CurlHandle() { curl_easy_cleanup(handle); }
  CurlHandle() = default;
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
};

/// Downloads `url` into `target` through a temporary file, checking size and SHA-256 first.
void download(const std::string& url, const fs::path& target, std::uintmax_t size, const std::string& sha256) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) throw Error(Errc::internal, "libcurl: global initialisation failed");

  TempFile temp(target);
  Sha256 sha;
  Transfer transfer;
  transfer.out = temp.file();
  transfer.sha = &sha;
  transfer.limit = size;
  transfer.tty = isatty(STDERR_FILENO) != 0;

  CurlHandle curl;
  if (curl.handle == nullptr) throw Error(Errc::internal, "libcurl: cannot create a handle");
  std::array<char, CURL_ERROR_SIZE> error_text{};
  CURL* h = curl.handle;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 100L);  // bytes/s ...
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);    // ... for this many seconds: give up
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "maskdetect-models-fetch");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text.data());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);

  g_interrupted = 0;
  struct sigaction action {};
  struct sigaction old_action {};
  action.sa_handler = on_fetch_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_action);
  const CURLcode rc = curl_easy_perform(h);
  sigaction(SIGINT, &old_action, nullptr);
  if (transfer.tty && transfer.last_shown >= 0.0) std::fputc('\n', stderr);

  if (transfer.too_big)
    throw Error(Errc::io, fmt::format("downloading {}: size larger than the expected {} bytes", url, size));
  if (transfer.write_failed)
    throw Error(Errc::io, fmt::format("downloading {}: cannot write '{}'", url, temp.path().string()));
  if (g_interrupted != 0) throw Error(Errc::io, fmt::format("downloading {}: interrupted", url));
  if (rc != CURLE_OK) {
    const std::string detail = error_text[0] != '\0' ? std::string(error_text.data()) : curl_easy_strerror(rc);
    throw Error(Errc::io, fmt::format("downloading {}: {}", url, detail));
  }
  temp.close();
  if (transfer.received != size)
    throw Error(Errc::io, fmt::format("downloading {}: size {} bytes, expected {}", url, transfer.received, size));
  const std::string got = sha.hex();
  if (got != sha256)
    throw Error(Errc::io, fmt::format("downloading {}: sha256 mismatch: got {}, expected {}", url, got, sha256));
  temp.commit(target);
}

// ---- commands -------------------------------------------------------------------------------------------

std::string locate(std::string_view file_name) {
  for (const fs::path& dir : model_search_path()) {
    std::error_code ec;
    if (fs::exists(dir / file_name, ec)) return (dir / file_name).string();
  }
  return "not installed";
}

int run_list() {
  std::string text = "Models (search path:";
  for (const fs::path& dir : model_search_path()) text += " " + dir.string();
  text += ")\n\nshipped or set up by scripts/setup.sh:\n";
  for (const std::string_view file : {kBlazeFaceFrontFile, kBlazeFaceBackFile, kClassifierCardFile, kMaskDetectorFile})
    text += fmt::format("  {:<36} {}\n", file, locate(file));
  text += "\nfetched with `maskdetect models fetch NAME`:\n";
  for (const KnownModel& model : known_models()) {
    text += fmt::format("  {:<10} {:<36} {}\n", model.name, model.file_name, locate(model.file_name));
    if (!model.description.empty()) text += fmt::format("  {:<10} {} ({})\n", "", model.description, model.license);
  }
  text += fmt::format("\nthe default preset: {}\n", app::detector_note(resolve_preset("default")));
  std::fputs(text.c_str(), stdout);
  return kExitOk;
}

int run_fetch(const FetchOptions& options) {
  const KnownModel& model = known_model(options.name);
  const fs::path dir = options.dir.empty() ? user_model_dir() : fs::path(options.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(Errc::io, fmt::format("cannot create model folder '{}': {}", dir.string(), ec.message()));
  const fs::path target = dir / model.file_name;

  if (fs::exists(target, ec) && !options.force) {
    if (fs::file_size(target, ec) == model.size && sha256_file(target) == model.sha256) {
      std::fprintf(stderr, "%s is already in %s (sha256 checked); nothing to do\n", model.name.c_str(), target.c_str());
      return kExitOk;
    }
    throw Error(Errc::io, fmt::format("'{}' exists but is not the expected file (size or sha256 differs); "
                                      "use --force to replace it",
                                      target.string()));
  }

  std::string url = model.url;
  if (!options.mirror.empty()) {
    std::string base = options.mirror;
    while (!base.empty() && base.back() == '/') base.pop_back();
    url = base + "/" + model.file_name;
  }
  std::fprintf(stderr, "fetching %s from %s\n", model.name.c_str(), url.c_str());
  download(url, target, model.size, model.sha256);
  std::fprintf(stderr, "saved %s (%ju bytes, sha256 %s)\n", target.c_str(), model.size, model.sha256.c_str());
  return kExitOk;
}

}  // namespace

void add_models_command(CLI::App& app, CommandContext& context) {
  CLI::App* models = app.add_subcommand("models", "List the model files, or fetch one that is not shipped");
  models->require_subcommand(1);

  CLI::App* list = models->add_subcommand("list", "Known models and where each is found");
  list->callback([&context] { context.action = [] { return run_list(); }; });

  auto options = std::make_shared<FetchOptions>();
  CLI::App* fetch = models->add_subcommand("fetch", "Download a model, checking its size and SHA-256");
  fetch->add_option("name", options->name, "Model name (see models list)")->required();
  fetch->add_option("--mirror", options->mirror, "Base URL to fetch <URL>/<file name> from instead")->type_name("URL");
  fetch->add_option("--dir", options->dir, "Destination folder (default: the user model folder)")->type_name("DIR");
  fetch->add_flag("--force", options->force, "Download even if the file exists");
  fetch->callback([options, &context] { context.action = [options] { return run_fetch(*options); }; });
}

}  // namespace maskdetect::cli
