// sqlite_outbox.hpp - the Outbox (outbox.hpp) in SQLite: one table in its own database file of the data folder
// (`outbox.db`, WAL mode, synchronous=NORMAL: a committed push survives a killed process; a power cut may lose
// the last ones, never consistency). Thread-safe (one connection behind a mutex). One server per data folder.
//
//   auto outbox = std::make_shared<SqliteOutbox>(data_dir / "outbox.db");
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "outbox.hpp"

namespace maskdetect::server {

class SqliteOutbox final : public Outbox {
 public:
  /// Opens or creates the database (and its folder). Throws maskdetect::Error(io) naming the file.
  explicit SqliteOutbox(const std::filesystem::path& file);
  ~SqliteOutbox() override;
  SqliteOutbox(const SqliteOutbox&) = delete;
  SqliteOutbox& operator=(const SqliteOutbox&) = delete;

  OutboxPush push(std::string_view target, std::string_view body, double now, std::size_t max_items) override;
  [[nodiscard]] std::optional<OutboxItem> oldest(std::string_view target) override;
  bool record_attempt(std::int64_t id, double next_attempt) override;
  bool remove(std::int64_t id) override;
  [[nodiscard]] std::size_t size(std::string_view target) override;
  [[nodiscard]] std::vector<std::string> targets() override;
  std::size_t clear(std::string_view target) override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  struct Db;
  std::filesystem::path path_;
  std::mutex mutex_;
  std::unique_ptr<Db> db_;
};

}  // namespace maskdetect::server
