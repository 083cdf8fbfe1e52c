// Test sink `mpi_capture`: buffers the live rows of one input and, on commit, writes
// "_record_no, vax_event_id, recip_id, mpi_id, mpi_decision, mpi_score" per row (tab-separated,
// with a header) to `output`. Rollback leaves no file; so does validate mode unless
// `keep_dry_run`. `fail_on_commit` makes commit fail after the transforms finished (a load the
// sink rolls back); `fail_at_record` makes write() fail on that record, before any transform
// finished (a crash mid-file).
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace {

using namespace vaxetl::sdk;

constexpr vaxetl_config_field kConfig[] = {
    {"output", VAXETL_CONFIG_PATH, VAXETL_CONFIG_REQUIRED, nullptr, nullptr, "file written on commit"},
    {"fail_on_commit", VAXETL_CONFIG_BOOL, 0, "false", nullptr, "commit fails with IO_ERROR"},
    {"fail_at_record", VAXETL_CONFIG_INT, 0, "0", nullptr, "write() fails on this _record_no (0: never)"},
    {"keep_dry_run", VAXETL_CONFIG_BOOL, 0, "false", nullptr, "write the file in validate mode too"},
};
constexpr vaxetl_column kConsumes[] = {
    {"mpi_id", "u", VAXETL_COLUMN_REQUIRED, "captured"},
    {"mpi_decision", "u", VAXETL_COLUMN_REQUIRED, "captured"},
    {"mpi_score", "u", VAXETL_COLUMN_REQUIRED, "captured"},
    {"vax_event_id", "u", 0, "captured"},
    {"recip_id", "u", 0, "captured"},
};
constexpr PluginInfo kInfo{"mpi_capture", VAXETL_PLUGIN_VERSION, "test sink: captures the mpi columns",
                           "MIT", "vaxetl tests", kConfig, VAXETL_ARRAY_COUNT(kConfig), kConsumes,
                           VAXETL_ARRAY_COUNT(kConsumes), nullptr, 0};

class MpiCaptureSink : public Sink {
 public:
  explicit MpiCaptureSink(const CreateContext& context)
      : output_(context.config.get_string("output")),
        fail_on_commit_(context.config.get_bool("fail_on_commit")),
        fail_at_record_(context.config.get_int("fail_at_record")),
        keep_dry_run_(context.config.get_bool("keep_dry_run")) {}

  void begin(const RunInfo& run, const ArrowSchema& schema) override {
    validate_ = run.mode == VAXETL_MODE_VALIDATE;
    const SchemaIndex index(schema);
    columns_.clear();
    for (const char* name : {"vax_event_id", "recip_id", "mpi_id", "mpi_decision", "mpi_score"})
      columns_.push_back(index.has(name) ? static_cast<int64_t>(index.column(name)) : -1);
    record_no_ = index.column("_record_no");
    rows_.clear();
  }

  void write(const ArrowArray& batch) override {
    const BatchView view(batch);
    for (int64_t row = 0; row < view.rows(); ++row) {
      if (!view.live(row)) continue;
      const int64_t record_no = view.int64(record_no_, row);
      if (fail_at_record_ != 0 && record_no == fail_at_record_)
        throw Error(VAXETL_IO_ERROR, "mpi_capture: failing on purpose");
      std::string line = std::to_string(record_no);
      for (const int64_t c : columns_) {
        line += '\t';
        if (c >= 0) line += view.text(static_cast<std::size_t>(c), row);
      }
      rows_.push_back(std::move(line));
    }
  }

  void commit() override {
    if (fail_on_commit_) throw Error(VAXETL_IO_ERROR, "mpi_capture: commit failing on purpose");
    if (validate_ && !keep_dry_run_) {
      rows_.clear();
      return;
    }
    std::ofstream out(output_, std::ios::binary | std::ios::trunc);
    out << "_record_no\tvax_event_id\trecip_id\tmpi_id\tmpi_decision\tmpi_score\n";
    for (const auto& line : rows_) out << line << '\n';
    if (!out.flush()) throw Error(VAXETL_IO_ERROR, "mpi_capture: cannot write the output");
    rows_.clear();
  }

  void rollback() noexcept override { rows_.clear(); }

 private:
  std::string output_;
  bool fail_on_commit_;
  int64_t fail_at_record_;
  bool keep_dry_run_;
  bool validate_ = false;
  std::size_t record_no_ = 0;
  std::vector<int64_t> columns_;
  std::vector<std::string> rows_;
};

}  // namespace

VAXETL_EXPORT_SINK(MpiCaptureSink, kInfo)
