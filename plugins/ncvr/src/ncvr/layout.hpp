// The NCVR layout as data: field list, code sets and cross-field rule parameters, loaded from
// the plugin's data files (data/ncvr-v<version>.tsv, data/ncvr-v<version>-rules.tsv,
// data/codesets.tsv). A new specification version is a new file, not new code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ncvr/value_checks.hpp"

namespace vaxetl::ncvr {

// A layout or catalog file the plugin cannot work with; the message names file, row and fix.
class LayoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Usage { kRequired, kRequiredIfKnown, kOptional, kConditional };

enum class FieldType {
  kId, kOrgCode, kPin, kText, kName, kDate, kExpiry, kCounty, kZip, kPhone, kEmail,
  kDecimal, kNpi, kNdc, kTimestamp, kLot, kCode,
};

// A set of accepted codes. Matching ignores ASCII case; a match yields the set's own
// spelling, which is what the normalized record carries.
class CodeSet {
 public:
  struct Entry {
    std::string code;
    std::string description;
  };

  CodeSet(std::string name, std::vector<Entry> entries);
  CodeSet(CodeSet&&) noexcept = default;
  CodeSet& operator=(CodeSet&&) noexcept = default;
  CodeSet(const CodeSet&) = delete;
  CodeSet& operator=(const CodeSet&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::vector<Entry>& entries() const noexcept { return entries_; }
  // The set's spelling of `value`, or an empty view when `value` is not a code of the set.
  std::string_view find_code(std::string_view value) const noexcept {
    const std::size_t entry = codes_.find(value);
    return entry < entries_.size() ? std::string_view(entries_[entry].code) : std::string_view();
  }
  // As find_code, also accepting a description (county names); yields what matched.
  std::string_view find_code_or_description(std::string_view value) const noexcept;
  // The code of a value given either as a code or as its description (an NC county name gives
  // its FIPS code); empty when neither matches.
  std::string_view code_of_code_or_description(std::string_view value) const noexcept;

 private:
  // Open addressing over the upper-cased keys, hashed on their first 8 bytes and length: a
  // lookup is usually one probe and two integer compares, with no allocation.
  class Index {
   public:
    // Key i names entry i; empty keys are left out.
    explicit Index(const std::vector<std::string_view>& keys);
    // The entry whose key equals `value` ignoring ASCII case, or npos.
    std::size_t find(std::string_view value) const noexcept;

   private:
    static constexpr std::uint32_t kEmptySlot = 0xFFFFFFFFu;
    struct Slot {
      std::uint64_t prefix = 0;
      std::uint32_t length = 0;
      std::uint32_t entry = kEmptySlot;
    };
    std::size_t slot_of(std::uint64_t prefix, std::size_t length) const noexcept;

    std::vector<Slot> slots_;          // size a power of two, at most half full
    std::vector<std::string> upper_;   // by entry, for keys longer than the prefix
    unsigned shift_ = 64;
  };

  std::string name_;
  std::vector<Entry> entries_;
  Index codes_;
  Index descriptions_;
};

struct FieldSpec {
  std::size_t position = 0;  // 1-based
  std::string name;
  Usage usage = Usage::kOptional;
  FieldType type = FieldType::kText;
  std::size_t max_len = 0;            // characters
  const CodeSet* code_set = nullptr;  // set for kCode and kCounty
  std::size_t canonical_index = 0;    // into canonical::kColumns
  std::string expect;                 // what to send, for messages
  std::string rule;                   // the specification's text
};

// Facts the cross-field rules use (data/ncvr-v<version>-rules.tsv).
struct RuleParameters {
  Date eua_date;
  int max_age_years = 0;
  std::string janssen_cvx;
  std::string janssen_dose_status;
  std::string refusal_yes;
  std::size_t refusal_first = 0;  // positions, inclusive
  std::size_t refusal_last = 0;
  std::string refused_dose_status;
  std::vector<std::string> race_without_extras;
  std::string home_state;
  std::string home_county_fips_prefix;
};

struct LayoutFiles {
  std::string layout;
  std::string code_sets;
  std::string rule_parameters;

  // The files of `version` (e.g. "7.2") in a plugin data directory.
  static LayoutFiles in_directory(const std::string& data_dir, std::string_view version);
};

// Immutable once loaded. Views and pointers it hands out live as long as the Layout, which
// is therefore move-only.
class Layout {
 public:
  // Throws LayoutError naming the file, the row and what is wrong.
  static Layout load(const LayoutFiles& files);

  Layout(Layout&&) noexcept = default;
  Layout& operator=(Layout&&) noexcept = default;
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;

  const std::vector<FieldSpec>& fields() const noexcept { return fields_; }
  // The field whose canonical column is `canonical_name`, or nullptr.
  const FieldSpec* find_field(std::string_view canonical_name) const noexcept;
  const CodeSet* code_set(std::string_view name) const noexcept;
  const RuleParameters& rules() const noexcept { return rules_; }

 private:
  Layout() = default;

  std::vector<CodeSet> code_sets_;
  std::vector<FieldSpec> fields_;
  RuleParameters rules_;
};

}  // namespace vaxetl::ncvr
