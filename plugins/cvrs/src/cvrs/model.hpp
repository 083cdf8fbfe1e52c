// The CDC CVRS reader's knowledge as data: the v2 and v1 layouts, code sets, states with their
// FIPS codes and ZIP3 prefixes, and rule parameters, loaded from the plugin's data files
// (data/cvrs-v2.tsv, cvrs-v1.tsv, codesets.tsv, states.tsv, cvrs-rules.tsv). The value checks,
// code-set index and product catalog are NCVR's (vaxetl_ncvr_rules), reused, not copied.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ncvr/findings.hpp"
#include "ncvr/layout.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/value_checks.hpp"

namespace vaxetl::cvrs {

using ncvr::CodeSet;
using ncvr::Date;
using ncvr::FileError;
using ncvr::Finding;
using ncvr::FindingList;
using ncvr::FindingSink;
using ncvr::LayoutError;
using ncvr::ProductCatalog;
using ncvr::Severity;

enum class Usage : std::uint8_t { kRequired, kRequiredIfKnown, kDoNotPopulate };

enum class FieldType : std::uint8_t { kId, kText, kCode, kDate, kExpiry, kCounty, kState, kZip, kNdc, kPin };

// Codes of a set whose canonical spelling differs from the code (POL -> DECLINED) or that map
// to another column's text (dose_num -> dose_status). A few entries: a linear scan.
class CodeMap {
 public:
  void add(std::string code, std::string value) { entries_.push_back({std::move(code), std::move(value)}); }
  bool empty() const noexcept { return entries_.empty(); }
  // The mapped value of `code` (ignoring ASCII case), or an empty view.
  std::string_view find(std::string_view code) const noexcept {
    for (const auto& entry : entries_)
      if (ncvr::equals_ignore_case(entry.code, code)) return entry.value;
    return {};
  }

 private:
  struct Entry {
    std::string code;
    std::string value;
  };
  std::vector<Entry> entries_;
};

struct NamedSet {
  CodeSet codes;
  CodeMap canonical;  // codes whose canonical value is not their own spelling
};

struct FieldSpec {
  std::size_t position = 0;  // 1-based
  std::string name;
  Usage vaccination = Usage::kRequiredIfKnown;
  Usage refusal = Usage::kRequiredIfKnown;
  Usage missed_appointment = Usage::kRequiredIfKnown;  // v1 recip_missed_appt YES
  bool redacted = false;  // must hold the redacted word in the D and P models
  FieldType type = FieldType::kText;
  std::size_t max_len = 0;
  const NamedSet* code_set = nullptr;
  static constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);
  std::size_t canonical_index = kNoColumn;  // into canonical::kColumns
  std::string expect;
  std::string rule;
};

// One specification version's field list.
class Layout {
 public:
  const std::string& version() const noexcept { return version_; }
  const std::vector<FieldSpec>& fields() const noexcept { return fields_; }
  // The field named `name`, or nullptr.
  const FieldSpec* find(std::string_view name) const noexcept;

 private:
  friend class Model;
  std::string version_;
  std::vector<FieldSpec> fields_;
};

struct StateInfo {
  std::string code;  // USPS
  int fips = -1;     // -1: none
  std::vector<std::pair<int, int>> zip3;  // inclusive ranges
};

struct RuleParameters {
  std::string refusal_yes;
  std::string redacted_word;
  std::vector<std::string> redacted_models;
  std::string pprl_model;
  std::string refused_dose_status;
  std::string action_code;
  std::string inventory_source;
  std::string home_state;
  std::string home_pin_prefix;
  std::size_t max_records = 0;
};

// Everything the reader knows. Immutable once loaded; pointers it hands out live as long as
// the Model, which is therefore neither copied nor moved (hold it by unique_ptr).
class Model {
 public:
  // Loads every file of `data_dir`; the catalog comes from `products_path` (NCVR's products.tsv).
  // Throws LayoutError naming file, row and fix.
  Model(const std::string& data_dir, const std::string& products_path);
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::vector<const Layout*>& layouts() const noexcept { return layout_list_; }
  const Layout& layout(std::string_view version) const;
  const NamedSet* code_set(std::string_view name) const noexcept;
  const NamedSet& require_set(std::string_view name) const;
  const ProductCatalog& catalog() const noexcept { return catalog_; }
  const RuleParameters& rules() const noexcept { return rules_; }
  const NamedSet& states() const noexcept { return *states_set_; }

  // The state of a normalized USPS code, or nullptr.
  const StateInfo* state(std::string_view usps) const noexcept;
  // The USPS code whose FIPS state code is `fips` (0-99), or empty.
  std::string_view state_of_fips(int fips) const noexcept {
    return fips >= 0 && fips < 100 ? std::string_view(state_by_fips_[static_cast<std::size_t>(fips)]) : std::string_view();
  }
  // The USPS code ZIP3 prefix `zip3` (0-999) belongs to, or empty when the table has none.
  std::string_view state_of_zip3(int zip3) const noexcept {
    return zip3 >= 0 && zip3 < 1000 ? std::string_view(state_by_zip3_[static_cast<std::size_t>(zip3)]) : std::string_view();
  }

 private:
  Layout load_layout(const std::string& path, std::string version);
  void load_code_sets(const std::string& path);
  void load_states(const std::string& path);
  void load_rules(const std::string& path);

  std::deque<NamedSet> sets_;  // a deque: FieldSpecs keep pointers into it
  std::vector<std::string> set_names_;
  const NamedSet* states_set_ = nullptr;
  std::vector<StateInfo> states_;
  std::array<std::string, 100> state_by_fips_{};
  std::array<std::string, 1000> state_by_zip3_{};
  ProductCatalog catalog_;
  RuleParameters rules_;
  std::deque<Layout> layouts_;
  std::vector<const Layout*> layout_list_;
};

// The layout a file's first line (without its line end) names, or the error that refuses the
// file. A UTF-8 byte-order mark is accepted; names are compared ignoring ASCII case and blanks.
struct HeaderResult {
  const Layout* layout = nullptr;
  std::optional<FileError> error;
};
HeaderResult detect_layout(const Model& model, std::optional<std::string_view> first_line);

}  // namespace vaxetl::cvrs
