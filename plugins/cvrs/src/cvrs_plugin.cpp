// The CVRS source plugin: reads a CDC CVRS tab-delimited file line by line, picks the layout
// (v2 or v1) its header names, validates every record and emits canonical-record batches.
// Rejected and held records travel in the batch too (the host hides them from later stages)
// so the error file can quote them.
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cvrs/codes.hpp"
#include "cvrs/model.hpp"
#include "cvrs/record_validator.hpp"
#include "ncvr/plugin_config.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/line_input.hpp"
#include "vaxetl/sdk/plugin.hpp"
#include "vaxetl/sdk/text.hpp"

namespace {

using vaxetl::sdk::Error;

constexpr std::size_t kEventIdColumn = 0;
static_assert(vaxetl::canonical::kColumns[kEventIdColumn] == "vax_event_id");

const vaxetl_config_field kConfigFields[] = {
    {"org_code", VAXETL_CONFIG_STRING, VAXETL_CONFIG_REQUIRED, nullptr, nullptr,
     "submitting organization code (A-Z, 0-9) for every record: a CVRS record carries none"},
    {"data_dir", VAXETL_CONFIG_PATH, 0, nullptr, nullptr,
     "directory holding the layouts, code sets, states, rules and products.tsv (default: the plugin's own)"},
    vaxetl::ncvr::kUnitOfUseNdcField,
    {"placeholder_codes", VAXETL_CONFIG_ENUM, 0, "warning", vaxetl::ncvr::kWarningOrError,
     "CDC's development placeholders (CVX 900-902, MVX AAA/BBB, two NDCs): warn or reject"},
    vaxetl::ncvr::kAsOfDateField,
};

const std::vector<vaxetl_column>& produced_columns() {
  static const auto columns = vaxetl::sdk::canonical_source_columns("input line number", "the record as received");
  return columns;
}

const vaxetl::sdk::PluginInfo kInfo = {
    VAXETL_PLUGIN_NAME,
    VAXETL_PLUGIN_VERSION,
    "Reads CDC COVID-19 Vaccination Reporting Specification (CVRS) v2 and v1 files "
    "(tab-delimited, header line), validates every field and cross-field rule and holds "
    "vaccinations given outside North Carolina",
    "Apache-2.0",
    "vaxetl",
    kConfigFields,
    VAXETL_ARRAY_COUNT(kConfigFields),
    nullptr,
    0,
    produced_columns().data(),
    static_cast<uint32_t>(produced_columns().size()),
};

class HostFindingSink final : public vaxetl::cvrs::FindingSink {
 public:
  explicit HostFindingSink(const vaxetl::sdk::Host& host) : host_(host) {}
  void set_row(int64_t row) noexcept { row_ = row; }

  void report(const vaxetl::cvrs::Finding& f) override {
    host_.report(row_, static_cast<uint32_t>(f.position), vaxetl::sdk::copy_terminated(field_, f.field_name),
                 vaxetl::sdk::copy_terminated(code_, f.code),
                 f.severity == vaxetl::cvrs::Severity::kError ? VAXETL_SEVERITY_ERROR : VAXETL_SEVERITY_WARNING,
                 vaxetl::sdk::copy_terminated(message_, f.message));
  }
  void hold(std::string_view code, std::string_view message) {
    host_.report(row_, 0, nullptr, vaxetl::sdk::copy_terminated(code_, code), VAXETL_SEVERITY_HOLD, vaxetl::sdk::copy_terminated(message_, message));
  }

 private:
  const vaxetl::sdk::Host& host_;
  int64_t row_ = 0;
  std::array<char, 128> field_{};
  std::array<char, 64> code_{};
  std::array<char, 1100> message_{};
};

std::string checked_org_code(const std::string& text) {
  if (text.empty() || text.size() > 20 || !vaxetl::ncvr::is_upper_alnum(text))
    throw Error(VAXETL_INVALID_CONFIG, "org_code must be 1 to 20 upper-case letters and digits");
  return text;
}

class CvrsSource final : public vaxetl::sdk::Source {
 public:
  explicit CvrsSource(const vaxetl::sdk::CreateContext& context)
      : host_(context.host),
        model_(load_model(context)),
        validator_(*model_, vaxetl::ncvr::as_of_date(context.config),
                   vaxetl::cvrs::ValidatorOptions{context.config.get_string("unit_of_use_ndc") == "error",
                                                  context.config.get_string("placeholder_codes") == "error",
                                                  checked_org_code(context.config.get_string("org_code"))}),
        findings_(host_),
        input_(host_, std::string(vaxetl::cvrs::codes::kLineTooLong),
               "a line is longer than 1 MiB: this is not a CVRS file (records are one line of 45 "
               "tab-delimited fields); send the file as CDC CVRS v2"),
        builder_(vaxetl::canonical::kColumns.size()) {
    for (const auto& name : vaxetl::canonical::kColumns) column_names_.emplace_back(name);
  }

  void open(const vaxetl::sdk::RunInfo& run) override {
    input_.open(run.input_path);
    std::optional<std::string_view> first;
    std::string_view line;
    if (input_.next(line)) first = line;
    const auto header = vaxetl::cvrs::detect_layout(*model_, first);
    if (header.error) {
      // A file that is not CVRS at all: its first line counts as one of its refused records.
      const bool line_is_record =
          header.error->code == vaxetl::cvrs::codes::kNotCvrs || header.error->code == vaxetl::cvrs::codes::kDelimiter;
      input_.refuse(first ? 1 : 0, header.error->code, header.error->message, line_is_record);
    }
    validator_.start_file(*header.layout);
    host_.info("CVRS v" + header.layout->version() + " header");
  }

  void schema(ArrowSchema* out) override { vaxetl::sdk::export_batch_schema(column_names_, out); }

  bool next_batch(uint32_t max_rows, ArrowArray* out) override {
    std::string_view line;
    while (builder_.rows() < static_cast<int64_t>(max_rows) && input_.next(line)) {
      if (vaxetl::sdk::trim(line).empty()) continue;  // trailing blank lines carry no record
      findings_.set_row(builder_.rows());
      const auto outcome = validator_.validate(line, record_, findings_);
      if (outcome == vaxetl::cvrs::Outcome::kHeld) findings_.hold(validator_.hold_code(), validator_.hold_message());
      const auto line_no = static_cast<int64_t>(input_.line_number());
      if (record_[kEventIdColumn].empty()) {
        // The error file quotes the event id even of a record that could not be split.
        auto values = record_.values();
        values[kEventIdColumn] = vaxetl::sdk::trim(line.substr(0, line.find('\t')));
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
  static std::unique_ptr<vaxetl::cvrs::Model> load_model(const vaxetl::sdk::CreateContext& context) {
    std::string dir;
    auto configured = context.config.find("data_dir");
    if (configured && !configured->empty()) {
      dir = *configured;
    } else {
      dir = context.data_path("");
      if (!dir.empty() && dir.back() == '/') dir.pop_back();
    }
    try {
      return std::make_unique<vaxetl::cvrs::Model>(dir, dir + "/products.tsv");
    } catch (const std::exception& e) {
      throw Error(VAXETL_INVALID_CONFIG, e.what());
    }
  }

  vaxetl::sdk::Host host_;
  std::unique_ptr<vaxetl::cvrs::Model> model_;
  vaxetl::cvrs::RecordValidator validator_;
  HostFindingSink findings_;
  vaxetl::cvrs::NormalizedRecord record_;
  vaxetl::sdk::LineInput input_;
  vaxetl::sdk::BatchBuilder builder_;
  std::vector<std::string> column_names_;
};

}  // namespace

VAXETL_EXPORT_SOURCE(CvrsSource, kInfo)
