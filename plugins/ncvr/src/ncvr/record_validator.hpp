// Validates and normalizes one NCVR record: field count, usage, length, type, code sets and
// the cross-field rules, reporting every finding of the record (docs/ncvr-error-codes.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ncvr/findings.hpp"
#include "ncvr/layout.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/value_checks.hpp"
#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::ncvr {

// The normalized values of one record, indexed like canonical::kColumns; empty = null.
// Views point into the validated line (keep it alive), into the Layout and ProductCatalog,
// or into this object's own scratch space: so it is neither copied nor moved.
class NormalizedRecord {
 public:
  static constexpr std::size_t kColumnCount = canonical::kColumns.size();

  NormalizedRecord() = default;
  NormalizedRecord(const NormalizedRecord&) = delete;
  NormalizedRecord& operator=(const NormalizedRecord&) = delete;

  std::string_view operator[](std::size_t column) const noexcept { return values_[column]; }
  const std::array<std::string_view, kColumnCount>& values() const noexcept { return values_; }
  // By canonical column name (a linear search: for tests and diagnostics, not per field).
  std::string_view get(std::string_view column_name) const noexcept;

 private:
  friend class RecordValidator;
  // PIN (9) + phone (10) + NDC (13) are the only values normalized into new text.
  static constexpr std::size_t kScratchSize = 64;

  void reset() noexcept;
  std::string_view keep(std::string_view text) noexcept;

  std::array<std::string_view, kColumnCount> values_{};
  std::array<char, kScratchSize> scratch_{};
  std::size_t scratch_used_ = 0;
};

struct ValidatorOptions {
  // A known unit-of-use NDC is mapped to its unit of sale either way; this makes it an error.
  bool unit_of_use_is_error = false;
};

// One per thread: validate() formats messages into a buffer the validator owns. The Layout
// and ProductCatalog must outlive it.
class RecordValidator {
 public:
  // Throws LayoutError when the layout lacks a field a rule needs or disagrees with the
  // catalog (a catalog CVX or MVX missing from the code sets, for example).
  RecordValidator(const Layout& layout, const ProductCatalog& catalog, Date today,
                  ValidatorOptions options = {});

  // `line` is one record without its line end (the caller strips LF / CRLF). Reports every
  // finding to `sink` (a wrong field count stops the checks of this record) and fills `out`.
  // Returns true when the record has no error (warnings allowed). Does not allocate.
  bool validate(std::string_view line, NormalizedRecord& out, FindingSink& sink);

 private:
  static constexpr std::size_t kMaxFields = 64;
  enum class FieldState : std::uint8_t { kEmpty, kValid, kInvalid };

  class MessageBuffer {
   public:
    MessageBuffer& operator<<(std::string_view text) noexcept;
    MessageBuffer& operator<<(std::size_t number) noexcept;
    MessageBuffer& operator<<(int number) noexcept;
    std::string_view view() const noexcept { return {buffer_.data(), used_}; }
    void clear() noexcept { used_ = 0; }

   private:
    std::array<char, 1024> buffer_{};
    std::size_t used_ = 0;
  };

  std::size_t require_field(std::string_view canonical_name, FieldType type, std::string_view rule) const;
  std::size_t require_code_field(std::string_view canonical_name, std::string_view rule) const;
  std::string_view require_code(std::size_t field, std::string_view code, std::string_view parameter) const;

  // What the per-field loop needs of a FieldSpec, packed together for the hot path.
  struct FieldRule {
    FieldType type = FieldType::kText;
    bool required = false;
    bool in_refusal_range = false;
    std::size_t max_len = 0;
    std::size_t canonical_index = 0;
    const CodeSet* code_set = nullptr;
  };

  // Checks a non-empty value's encoding, length and type; reports and returns false on error.
  bool check_value(std::size_t index, const FieldRule& rule, std::string_view value);
  void check_dates();
  void check_refusal();
  void check_product();
  // The catalog's unit-of-sale NDCs of `cvx`, comma-separated (for messages).
  std::string_view sale_ndcs_of(std::string_view cvx) const noexcept;
  void check_race();
  void check_county();

  bool valid(std::size_t index) const noexcept { return states_[index] == FieldState::kValid; }
  // The normalized value of field `index`.
  std::string_view normalized(std::size_t index) const noexcept;
  void set_normalized(std::size_t index, std::string_view value) noexcept;
  // Starts a message naming the field.
  MessageBuffer& message_about(std::size_t index) noexcept;
  void report(std::size_t index, std::string_view code, Severity severity = Severity::kError) noexcept;

  const Layout& layout_;
  const ProductCatalog& catalog_;
  const RuleParameters& rules_;
  Date today_;
  ValidatorOptions options_;

  std::array<FieldRule, kMaxFields> field_rules_{};
  // Field indexes (0-based) the cross-field rules read.
  std::size_t dob_, admin_date_, cvx_, mvx_, dose_status_, ndc_, expiry_;
  std::size_t refusal_, refusal_reason_, state_, county_;
  std::array<std::size_t, 6> race_{};
  std::size_t ndc_as_sent_column_;
  // Rule parameters in the code sets' own spelling, to compare with normalized values.
  std::string_view janssen_cvx_, janssen_dose_status_, refused_dose_status_, refusal_yes_;
  std::vector<std::string_view> race_without_extras_;
  std::vector<std::pair<std::string, std::string>> sale_ndcs_by_cvx_;  // for messages
  std::vector<std::pair<const char*, std::string_view>> manufacturer_by_cvx_;  // code set text → MVX

  // Per-record state, reused by every validate() call.
  FindingSink* sink_ = nullptr;
  NormalizedRecord* out_ = nullptr;
  bool has_error_ = false;
  bool refused_ = false;
  bool line_is_printable_ascii_ = false;
  std::array<std::string_view, kMaxFields> raw_fields_{};  // as split
  std::array<std::string_view, kMaxFields> values_{};      // trimmed as received
  std::array<FieldState, kMaxFields> states_{};
  std::array<Date, kMaxFields> dates_{};                // set for valid date and expiry fields
  std::array<char, 13> ndc_normalized_{};
  MessageBuffer message_;
};

}  // namespace vaxetl::ncvr
