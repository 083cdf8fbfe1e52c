// Validates one VXU^V04 message against the CDC IG and maps each order group (ORC + RXA +
// RXR + OBX) to one canonical record, exactly as docs/canonical-record.md says. An ADT^A04,
// A08, A28 or A31, or a VXU without an order group, is one DEMOGRAPHICS record: the recipient
// only, validated like a VXU's patient part. Reuses the
// NCVR rules library for dates, PIN, phone and NDC normalization and the product catalog, so
// the same vaccination yields the same canonical values whichever format it came in.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hl7/message.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/value_checks.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vxu/findings.hpp"

namespace vaxetl::vxu {

// Values of one canonical record, indexed like canonical::kColumns; empty = null.
using CanonicalRow = std::array<std::string_view, canonical::kColumns.size()>;

// Index of a canonical column by name, at compile time.
consteval std::size_t column(std::string_view name) {
  for (std::size_t i = 0; i < canonical::kColumns.size(); ++i)
    if (canonical::kColumns[i] == name) return i;
  throw "no such canonical column";
}

// What convert() made of a message.
enum class MessageKind : std::uint8_t {
  kRefused,       // not HL7, or refused at MSH (type, event, processing id, version)
  kVaccination,   // a VXU^V04 with order groups: one VACCINATION row per group
  kDemographics,  // an ADT^A04/A08/A28/A31 or a VXU without an order group: one DEMOGRAPHICS row
};

struct ConverterOptions {
  std::string org_code;  // empty: MSH-4.1
  ncvr::Date today{};    // for the future-date rules
  bool unit_of_use_is_error = false;
};

// One per thread. convert() reuses every buffer, so after warm-up it does not allocate.
class Converter {
 public:
  Converter(const ncvr::ProductCatalog& catalog, ConverterOptions options);

  // Validates and maps `message`, which `status` says parsed (Message::parse's result). The
  // rows' views point into the message's input and into this converter: valid until the next
  // convert() call and while the input lives.
  void convert(const hl7::Message& message, hl7::Message::Status status);

  const std::vector<Finding>& findings() const noexcept { return findings_; }
  MessageKind kind() const noexcept { return kind_; }
  std::size_t row_count() const noexcept { return row_count_; }
  const CanonicalRow& row(std::size_t i) const noexcept { return rows_[i]; }
  // 1-based order group of row i (0 for the single row of a message without one).
  std::size_t row_group(std::size_t i) const noexcept { return i + (has_groups_ ? 1 : 0); }
  bool row_rejected(std::size_t i) const noexcept;

 private:
  struct Group {
    std::size_t orc = 0;
    std::size_t rxa = 0;  // 0: none (segment 0 is always MSH)
    std::size_t rxr = 0;
    std::size_t first = 0;  // segments [first, end) belong to the group
    std::size_t end = 0;
  };

  // Stable storage for normalized text: fixed blocks, so views never move.
  class Arena {
   public:
    void reset() noexcept { block_ = 0, used_ = 0; }
    std::string_view keep(std::string_view text);
    char* allocate(std::size_t size);

   private:
    static constexpr std::size_t kBlock = 16 * 1024;
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::vector<std::size_t> sizes_;
    std::size_t block_ = 0;
    std::size_t used_ = 0;
  };

  void report(std::string_view code, Scope scope, std::size_t group, Location location,
              std::string_view message, Severity severity = Severity::kError);
  bool check_header(const hl7::Message& message);
  void check_segments(const hl7::Message& message);
  void map_patient(const hl7::Message& message, CanonicalRow& row);
  void map_group(const hl7::Message& message, std::size_t group_no, const Group& group, CanonicalRow& row);
  void map_product(const hl7::Message& message, std::size_t group_no, hl7::Segment rxa, CanonicalRow& row);
  void map_observations(const hl7::Message& message, const Group& group, CanonicalRow& row);

  std::string_view text(const hl7::Value& value);  // unescaped, kept in the arena if decoded
  // An HL7 DT/DTM as YYYY-MM-DD; empty when not a real date.
  std::string_view date(std::string_view hl7_date, ncvr::Date* parsed = nullptr);
  std::string_view upper(std::string_view code);

  const ncvr::ProductCatalog& catalog_;
  ConverterOptions options_;
  std::vector<Finding> findings_;
  std::vector<Group> groups_;
  std::vector<CanonicalRow> rows_;
  std::size_t row_count_ = 0;
  bool has_groups_ = false;
  MessageKind kind_ = MessageKind::kRefused;
  CanonicalRow patient_{};
  Arena arena_;
};

}  // namespace vaxetl::vxu
