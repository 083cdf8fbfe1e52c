// The NCVR source plugin: reads an NCVR flat file line by line, validates every record against
// the layout shipped in the plugin's data directory, and emits canonical-record batches.
// Rejected records travel in the batch too (the host hides them from later stages) so the
// error file can quote them.
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ncvr/header_check.hpp"
#include "ncvr/layout.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/record_validator.hpp"
#include "ncvr/plugin_config.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/line_input.hpp"
#include "vaxetl/sdk/plugin.hpp"
#include "vaxetl/sdk/text.hpp"

namespace {

using vaxetl::sdk::Error;

constexpr std::size_t kEventIdColumn = 0;  // vax_event_id is the first canonical column
static_assert(vaxetl::canonical::kColumns[kEventIdColumn] == "vax_event_id");

const vaxetl_config_field kConfigFields[] = {
    {"layout_version", VAXETL_CONFIG_STRING, 0, "7.2", nullptr,
     "NCVR layout version; the plugin reads ncvr-v<version>.tsv and its rule and code-set files"},
    {"data_dir", VAXETL_CONFIG_PATH, 0, nullptr, nullptr,
     "directory holding the layout, code sets and products.tsv (default: the plugin's own)"},
    vaxetl::ncvr::kUnitOfUseNdcField,
    vaxetl::ncvr::kAsOfDateField,
};

const std::vector<vaxetl_column>& produced_columns() {
  static const auto columns = vaxetl::sdk::canonical_source_columns("input line number", "the record as received");
  return columns;
}

const vaxetl::sdk::PluginInfo kInfo = {
    VAXETL_PLUGIN_NAME,
    VAXETL_PLUGIN_VERSION,
    "Reads North Carolina NCVR v7.2 vaccination flat files (pipe-delimited, header line) and "
    "validates every field and cross-field rule",
    "Apache-2.0",
    "vaxetl",
    kConfigFields,
    VAXETL_ARRAY_COUNT(kConfigFields),
    nullptr,
    0,
    produced_columns().data(),
    static_cast<uint32_t>(produced_columns().size()),
};

// Forwards the validator's findings to the host for the row being built.
class HostFindingSink final : public vaxetl::ncvr::FindingSink {
 public:
  explicit HostFindingSink(const vaxetl::sdk::Host& host) : host_(host) {}
  void set_row(int64_t row) noexcept { row_ = row; }

  void report(const vaxetl::ncvr::Finding& f) override {
    host_.report(row_, static_cast<uint32_t>(f.position), vaxetl::sdk::copy_terminated(field_, f.field_name),
                 vaxetl::sdk::copy_terminated(code_, f.code),
                 f.severity == vaxetl::ncvr::Severity::kError ? VAXETL_SEVERITY_ERROR
                                                              : VAXETL_SEVERITY_WARNING,
                 vaxetl::sdk::copy_terminated(message_, f.message));
  }

 private:
  const vaxetl::sdk::Host& host_;
  int64_t row_ = 0;
  std::array<char, 128> field_{};
  std::array<char, 64> code_{};
  std::array<char, 1100> message_{};
};

class NcvrSource final : public vaxetl::sdk::Source {
 public:
  explicit NcvrSource(const vaxetl::sdk::CreateContext& context)
      : host_(context.host),
        layout_(load_layout(context)),
        catalog_(load_catalog(context)),
        validator_(layout_, catalog_, vaxetl::ncvr::as_of_date(context.config),
                   vaxetl::ncvr::ValidatorOptions{context.config.get_string("unit_of_use_ndc") == "error"}),
        findings_(host_),
        input_(host_, "NCVR_LINE_TOO_LONG",
               "a line is longer than 1 MiB: this is not an NCVR file (records are one line of 50 "
               "pipe-delimited fields); send the file as the NCVR v7.2 layout"),
        builder_(vaxetl::canonical::kColumns.size()) {
    for (const auto& name : vaxetl::canonical::kColumns) column_names_.emplace_back(name);
  }

  void open(const vaxetl::sdk::RunInfo& run) override {
    input_.open(run.input_path);
    std::optional<std::string_view> first;
    std::string_view line;
    if (input_.next(line)) first = line;
    if (auto error = vaxetl::ncvr::check_header(layout_, first)) {
      // Without a header the first line is a record, and it is refused with the rest.
      const bool line_is_record =
          error->code == vaxetl::ncvr::codes::kHeaderMissing && first && !vaxetl::sdk::trim(*first).empty();
      input_.refuse(first ? 1 : 0, error->code, error->message, line_is_record);
    }
  }

  void schema(ArrowSchema* out) override { vaxetl::sdk::export_batch_schema(column_names_, out); }

  bool next_batch(uint32_t max_rows, ArrowArray* out) override {
    std::string_view line;
    while (builder_.rows() < static_cast<int64_t>(max_rows) && input_.next(line)) {
      // A blank line carries no record (trailing newlines are common); skip it.
      if (vaxetl::sdk::trim(line).empty()) continue;
      findings_.set_row(builder_.rows());
      validator_.validate(line, record_, findings_);
      const auto line_no = static_cast<int64_t>(input_.line_number());
      if (record_[kEventIdColumn].empty()) {
        // A record the validator could not split into fields (wrong field count) still names
        // its vax_event_id first; the error file quotes it so the provider can find it.
        auto values = record_.values();
        values[kEventIdColumn] = vaxetl::sdk::trim(line.substr(0, line.find('|')));
        builder_.add_row(line_no, line, values.data());
      } else {
        builder_.add_row(line_no, line, record_.values().data());
      }
    }
    if (builder_.rows() == 0) return false;
    builder_.finish(out);
    return true;
  }

  void progress(uint64_t& done, uint64_t& total) const override { input_.progress(done, total); }

  void close() override { input_.close(); }

  uint64_t unreturned_records() override { return input_.unreturned(builder_.rows()); }

 private:
  static vaxetl::ncvr::Layout load_layout(const vaxetl::sdk::CreateContext& context) {
    try {
      return vaxetl::ncvr::Layout::load(vaxetl::ncvr::LayoutFiles::in_directory(
          data_dir(context), context.config.get_string("layout_version")));
    } catch (const vaxetl::ncvr::LayoutError& e) {
      throw Error(VAXETL_INVALID_CONFIG, e.what());
    }
  }
  static vaxetl::ncvr::ProductCatalog load_catalog(const vaxetl::sdk::CreateContext& context) {
    try {
      return vaxetl::ncvr::ProductCatalog::load(data_dir(context) + "/products.tsv");
    } catch (const std::exception& e) {
      throw Error(VAXETL_INVALID_CONFIG, e.what());
    }
  }
  static std::string data_dir(const vaxetl::sdk::CreateContext& context) {
    auto configured = context.config.find("data_dir");
    if (configured && !configured->empty()) return *configured;
    return context.data_path("");
  }

  vaxetl::sdk::Host host_;
  vaxetl::ncvr::Layout layout_;
  vaxetl::ncvr::ProductCatalog catalog_;
  vaxetl::ncvr::RecordValidator validator_;
  HostFindingSink findings_;
  vaxetl::ncvr::NormalizedRecord record_;
  vaxetl::sdk::LineInput input_;
  vaxetl::sdk::BatchBuilder builder_;
  std::vector<std::string> column_names_;
};

}  // namespace

VAXETL_EXPORT_SOURCE(NcvrSource, kInfo)
