// Shared fixtures: the shipped layout and catalog, and a valid baseline record to mutate.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "ncvr/layout.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/record_validator.hpp"

namespace vaxetl::ncvr::testing {

inline const std::string kDataDir = VAXETL_SOURCE_DIR "/plugins/ncvr/data";

inline const Layout& shipped_layout() {
  static const Layout layout = Layout::load(LayoutFiles::in_directory(kDataDir, "7.2"));
  return layout;
}

inline const ProductCatalog& shipped_catalog() {
  static const ProductCatalog catalog = ProductCatalog::load(kDataDir + "/products.tsv");
  return catalog;
}

// The day the tests run "on": every baseline date is before it.
inline constexpr Date kToday{2021, 6, 1};

// A record as 50 editable fields, valid as built: tests change one field and expect one code.
class RecordBuilder {
 public:
  RecordBuilder() {
    constexpr std::array<std::string_view, 50> kBaseline = {
        "EVT-0001", "A", "ACMEPHARM", "NCA123456", "Acme Pharmacy Raleigh", "MRN000123",
        "Jane", "Q", "Doe", "", "1980-05-17", "F", "1 Main St", "", "Raleigh", "Wake", "NC",
        "27601", "9195550123", "jane@example.org", "2106-3", "", "", "", "", "", "2186-5",
        "English", "", "2021-03-15", "208", "PFR", "Dose One Administered", "59267-1000-02",
        "EN6201", "2021-06-30", "LD", "IM", "0.3", "Pat Nurse", "1234567893", "2020-12-11",
        "2021-03-15", "STATE", "NO", "", "NO", "UNK", "Group 2", "2021-03-15T10:20:30"};
    for (std::size_t i = 0; i < kBaseline.size(); ++i) fields_[i] = kBaseline[i];
  }

  // Sets a field by its layout name.
  RecordBuilder& set(std::string_view name, std::string_view value) {
    const FieldSpec* field = shipped_layout().find_field(name);
    if (field == nullptr) throw std::invalid_argument("no field " + std::string(name));
    fields_[field->position - 1] = std::string(value);
    return *this;
  }

  // A refused dose: administration fields empty, Not Administered, a reason.
  RecordBuilder& refused() {
    for (std::size_t position = 34; position <= 43; ++position) fields_[position - 1].clear();
    return set("dose_status", "Not Administered").set("vax_refusal", "YES").set("refusal_reason", "03");
  }

  std::string line() const {
    std::string joined;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0) joined += '|';
      joined += fields_[i];
    }
    return joined;
  }

 private:
  std::array<std::string, 50> fields_;
};

// Validates lines with the shipped layout and catalog; keeps the last record's findings.
class ValidatorFixture : public ::testing::Test {
 protected:
  bool validate(const std::string& line, ValidatorOptions options = {}) {
    RecordValidator validator(shipped_layout(), shipped_catalog(), kToday, options);
    findings_.clear();
    line_ = line;
    return validator.validate(line_, record_, findings_);
  }
  bool validate(const RecordBuilder& builder, ValidatorOptions options = {}) {
    return validate(builder.line(), options);
  }

  // Asserts the last record produced exactly one finding, with this code at this position.
  void expect_only(std::string_view code, std::size_t position, Severity severity = Severity::kError) {
    ASSERT_EQ(findings_.items().size(), 1u) << describe();
    const auto& finding = findings_.items().front();
    EXPECT_EQ(finding.code, code) << describe();
    EXPECT_EQ(finding.position, position) << describe();
    EXPECT_EQ(finding.severity, severity) << describe();
    EXPECT_FALSE(finding.message.empty());
  }

  std::string describe() const {
    std::string text = "findings:";
    for (const auto& f : findings_.items())
      text += "\n  " + std::to_string(f.position) + " " + f.field_name + " " + f.code + " " +
              static_cast<char>(f.severity) + ": " + f.message;
    return text;
  }

  std::string line_;
  NormalizedRecord record_;
  FindingList findings_;
};

}  // namespace vaxetl::ncvr::testing
