// Shared fixtures: the shipped CVRS model and a valid North Carolina baseline record to mutate.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "cvrs/codes.hpp"
#include "cvrs/model.hpp"
#include "cvrs/record_validator.hpp"

namespace vaxetl::cvrs::testing {

inline const std::string kDataDir = VAXETL_SOURCE_DIR "/plugins/cvrs/data";
inline const std::string kProducts = VAXETL_SOURCE_DIR "/plugins/ncvr/data/products.tsv";
inline const std::string kSamples = VAXETL_SOURCE_DIR "/tests/fixtures/samples/CDCgov_CDC_IIS_Open_Tools__";

inline const Model& shipped_model() {
  static const auto model = std::make_unique<Model>(kDataDir, kProducts);
  return *model;
}

// The day the tests run "on": every baseline date is before it.
inline constexpr Date kToday{2021, 6, 1};

// A v2 record as 45 editable fields, valid as built (an identified NC vaccination): tests
// change one field and expect one code.
class RecordBuilder {
 public:
  RecordBuilder() {
    constexpr std::array<std::string_view, 45> kBaseline = {
        "EVT-0001", "I", "", "MRN000123", "Jane", "Q", "Doe", "1980-05-17", "F", "1 Main St", "",
        "Raleigh", "37183", "NC", "27601", "2106-3", "", "", "", "", "", "2186-5", "2021-03-15",
        "208", "59267-1000-02", "PFR", "EN6201", "2021-06-30", "LD", "C28161", "1", "NO",
        "Acme Health", "Acme Pharmacy Raleigh", "123456", "17", "2 Main St", "", "Raleigh",
        "37183", "NC", "27601", "NO", "UNK", "UNK"};
    for (std::size_t i = 0; i < kBaseline.size(); ++i) fields_[i] = kBaseline[i];
  }

  RecordBuilder& set(std::string_view name, std::string_view value) {
    const FieldSpec* field = shipped_model().layout("2").find(name);
    if (field == nullptr) throw std::invalid_argument("no field " + std::string(name));
    fields_[field->position - 1] = std::string(value);
    return *this;
  }

  // A refusal: the do-not-populate fields empty.
  RecordBuilder& refused() {
    for (std::string_view name : {"ndc", "mvx", "lot_number", "vax_expiration", "vax_admin_site", "vax_route",
                                  "dose_num", "vax_series_complete"})
      set(name, "");
    return set("vax_refusal", "YES");
  }

  // The de-identified model: names and addresses Redacted.
  RecordBuilder& redacted(std::string_view ext_type = "D") {
    for (std::string_view name : {"recip_first_name", "recip_middle_name", "recip_last_name", "recip_address_street",
                                  "recip_address_street_2", "recip_address_city"})
      set(name, "Redacted");
    return set("ext_type", ext_type);
  }

  std::string line() const {
    std::string joined;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (i > 0) joined += '\t';
      joined += fields_[i];
    }
    return joined;
  }

 private:
  std::array<std::string, 45> fields_;
};

struct Result {
  Outcome outcome;
  FindingList findings;
  std::string hold_code;

  bool has(std::string_view code) const {
    for (const auto& item : findings.items())
      if (item.code == code) return true;
    return false;
  }
  bool has(std::string_view code, Severity severity) const {
    for (const auto& item : findings.items())
      if (item.code == code && item.severity == severity) return true;
    return false;
  }
  std::string codes() const {
    std::string all;
    for (const auto& item : findings.items()) all += item.code + "(" + item.field_name + ") ";
    return all;
  }
};

inline ValidatorOptions test_options() {
  ValidatorOptions options;
  options.org_code = "TESTORG";
  return options;
}

}  // namespace vaxetl::cvrs::testing
