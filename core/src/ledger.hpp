// The run ledger: one row per run of a pipeline over an input file (SQLite through
// Poco::Data). It answers "was this file already loaded?" and "what happened to it?".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace vaxetl {

struct RunCounts {
  int64_t received = 0;
  int64_t loaded = 0;
  int64_t rejected = 0;
  int64_t held = 0;
  int64_t warnings = 0;  // findings of severity W (records with warnings still load)
  bool add_up() const noexcept { return received == loaded + rejected + held; }
};

struct RunRecord {
  std::string run_id;
  std::string pipeline;
  std::string input_path;
  std::string input_name;
  std::string input_sha256;
  std::string mode;  // load | validate
  std::string started_at;  // ISO 8601 UTC
  std::string ended_at;
  RunCounts counts;
  // running | succeeded | validated | rejected (input refused whole) | failed | skipped |
  // interrupted (the process died while running)
  std::string status;
  std::string message;  // no PHI: counts, codes, file names
  std::string error_file;
  int64_t pid = 0;
};

class Ledger {
 public:
  explicit Ledger(const std::string& sqlite_path);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  void start(const RunRecord& run);
  void finish(const RunRecord& run);
  // The most recent run of `pipeline` that loaded a file with this hash, if any.
  std::optional<RunRecord> successful_load(const std::string& pipeline, const std::string& sha256);
  std::optional<RunRecord> find(const std::string& run_id);
  std::vector<RunRecord> recent(int limit);

 private:
  void mark_interrupted_runs();
  std::vector<RunRecord> query(const std::string& where, const std::string& argument, int limit);

  std::unique_ptr<Poco::Data::Session> session_;
};

std::string utc_timestamp_iso();  // 2026-11-21T14:03:05.123Z
std::string new_run_id();         // R20261121T140305Z-1a2b3c4d

}  // namespace vaxetl
