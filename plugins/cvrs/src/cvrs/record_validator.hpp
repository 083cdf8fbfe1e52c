// Validates and normalizes one CVRS record against the layout its file's header named: usage
// per data model and refusal, lengths, types, code sets, cross-field and NC rules, reporting
// every finding (docs/cvrs-error-codes.md) and filling the canonical record
// (docs/canonical-record.md, CVRS column).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cvrs/model.hpp"
#include "vaxetl/sdk/canonical_record.hpp"

namespace vaxetl::cvrs {

// The normalized values of one record, indexed like canonical::kColumns; empty = null. Views
// point into the validated line (keep it alive), the Model, the validator, or this object's
// scratch space: so it is neither copied nor moved.
class NormalizedRecord {
 public:
  static constexpr std::size_t kColumnCount = canonical::kColumns.size();

  NormalizedRecord() = default;
  NormalizedRecord(const NormalizedRecord&) = delete;
  NormalizedRecord& operator=(const NormalizedRecord&) = delete;

  std::string_view operator[](std::size_t column) const noexcept { return values_[column]; }
  const std::array<std::string_view, kColumnCount>& values() const noexcept { return values_; }
  // By canonical column name (linear: for tests and diagnostics).
  std::string_view get(std::string_view column_name) const noexcept;

 private:
  friend class RecordValidator;
  std::array<std::string_view, kColumnCount> values_{};
  std::array<char, 9> pin_{};   // NCA + 6
  std::array<char, 13> ndc_{};  // 5-4-2 with hyphens
};

struct ValidatorOptions {
  // A known unit-of-use NDC is mapped to its unit of sale either way; this makes it an error.
  bool unit_of_use_is_error = false;
  // CDC's development placeholders (CVX 900-902, MVX AAA/BBB, two NDCs): warning or error.
  bool placeholder_is_error = false;
  // Canonical org_code: a CVRS record carries none (file-name routing will supply it).
  std::string org_code;
};

enum class Outcome : std::uint8_t { kAccepted, kRejected, kHeld };

// One per thread and per file: it remembers the file's event ids. The Model must outlive it.
class RecordValidator {
 public:
  RecordValidator(const Model& model, Date today, ValidatorOptions options);

  // Starts a file of `layout` (one of model.layouts()): forgets the previous file's event ids.
  void start_file(const Layout& layout);
  const Layout* layout() const noexcept { return layout_; }

  // `line` is one record without its line end. Reports every error and warning to `sink`,
  // fills `out` and returns the outcome; for kHeld, hold_code() and hold_message() say why.
  // Does not allocate.
  Outcome validate(std::string_view line, NormalizedRecord& out, FindingSink& sink);
  std::string_view hold_code() const noexcept { return hold_code_; }
  std::string_view hold_message() const noexcept { return hold_message_; }

 private:
  static constexpr std::size_t kMaxFields = 64;
  enum class FieldState : std::uint8_t { kEmpty, kValid, kInvalid };

  class MessageBuffer {
   public:
    MessageBuffer& operator<<(std::string_view text) noexcept;
    MessageBuffer& operator<<(std::size_t number) noexcept;
    std::string_view view() const noexcept { return {buffer_.data(), used_}; }
    void clear() noexcept { used_ = 0; }

   private:
    std::array<char, 1024> buffer_{};
    std::size_t used_ = 0;
  };

  // Open-addressing set of 64-bit event id hashes, sized once for the file record limit.
  class EventIdSet {
   public:
    explicit EventIdSet(std::size_t max_records);
    void clear() noexcept;
    // False when the hash was already present.
    bool insert(std::uint64_t hash) noexcept;
    std::size_t size() const noexcept { return size_; }

   private:
    std::vector<std::uint64_t> slots_;
    std::size_t size_ = 0;
  };

  std::size_t index_of(std::string_view name) const;
  void check_field(std::size_t index);
  void check_models();
  void check_dates();
  void check_places();
  void check_product();
  void check_duplicate();
  void derive_columns();
  void decide_hold();

  bool valid(std::size_t index) const noexcept { return states_[index] == FieldState::kValid; }
  std::string_view normalized(std::size_t index) const noexcept { return normalized_[index]; }
  void set_normalized(std::size_t index, std::string_view value) noexcept;
  MessageBuffer& message() noexcept {
    message_.clear();
    return message_;
  }
  // Reports the message built since message() about field `index` (npos: the whole record).
  void report(std::size_t index, std::string_view code, Severity severity = Severity::kError) noexcept;
  void fail(std::size_t index, std::string_view code) noexcept;

  const Model& model_;
  const RuleParameters& rules_;
  Date today_;
  ValidatorOptions options_;
  const NamedSet& placeholder_cvx_;
  const NamedSet& placeholder_mvx_;
  const NamedSet& placeholder_ndc_;
  const NamedSet& dose_status_;
  std::size_t column_dose_status_, column_action_code_, column_org_code_, column_inventory_;
  std::size_t column_ndc_as_sent_;

  const Layout* layout_ = nullptr;
  // Field indexes (0-based) the cross-field rules read.
  std::size_t event_id_ = 0, ext_type_ = 0, pprl_id_ = 0, dob_ = 0, admin_date_ = 0, cvx_ = 0;
  std::size_t ndc_ = 0, mvx_ = 0, dose_num_ = 0, refusal_ = 0, pin_ = 0;
  std::size_t missed_appt_ = kMaxFields;  // kMaxFields: the layout has no such field
  std::size_t recip_county_ = 0, recip_state_ = 0, recip_zip_ = 0;
  std::size_t admin_county_ = 0, admin_state_ = 0, admin_zip_ = 0;

  EventIdSet event_ids_;
  std::size_t records_ = 0;
  bool limit_warned_ = false;

  // Per-record state.
  FindingSink* sink_ = nullptr;
  NormalizedRecord* out_ = nullptr;
  bool has_error_ = false;
  bool refused_ = false;
  bool missed_ = false;  // a v1 missed-appointment record
  bool redacted_model_ = false;
  std::string_view hold_code_;
  std::string hold_message_;  // reserved once; assigned without growing
  std::array<std::string_view, kMaxFields> values_{};
  std::array<std::string_view, kMaxFields> normalized_{};
  std::array<FieldState, kMaxFields> states_{};
  std::array<Date, kMaxFields> dates_{};
  MessageBuffer message_;
};

}  // namespace vaxetl::cvrs
