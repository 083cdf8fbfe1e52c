// What VXU validation reports. Code strings are a contract with providers' error files and
// ACKs: never rename one. docs/vxu.md documents each, with its HL7 table 0357 and 0533 codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vaxetl::vxu {

namespace codes {
inline constexpr std::string_view kNotHl7 = "VXU_NOT_HL7";
inline constexpr std::string_view kUnsupportedType = "VXU_UNSUPPORTED_TYPE";
inline constexpr std::string_view kUnsupportedEvent = "VXU_UNSUPPORTED_EVENT";
inline constexpr std::string_view kUnsupportedProcessingId = "VXU_UNSUPPORTED_PROCESSING_ID";
inline constexpr std::string_view kUnsupportedVersion = "VXU_UNSUPPORTED_VERSION";
inline constexpr std::string_view kSegmentMissing = "VXU_SEGMENT_MISSING";
inline constexpr std::string_view kSegmentOrder = "VXU_SEGMENT_ORDER";
inline constexpr std::string_view kSegmentUnknown = "VXU_SEGMENT_UNKNOWN";
inline constexpr std::string_view kRequired = "VXU_REQUIRED";
inline constexpr std::string_view kDateInvalid = "VXU_DATE_INVALID";
inline constexpr std::string_view kDateFuture = "VXU_DATE_FUTURE";
inline constexpr std::string_view kCodeUnknown = "VXU_CODE_UNKNOWN";
inline constexpr std::string_view kNotCovid = "VXU_NOT_COVID";
inline constexpr std::string_view kValueInvalid = "VXU_VALUE_INVALID";
inline constexpr std::string_view kNdcCvx = "VXU_NDC_CVX";
inline constexpr std::string_view kMvxCvx = "VXU_MVX_CVX";
inline constexpr std::string_view kNdcUnitOfUse = "VXU_NDC_UNIT_OF_USE";
inline constexpr std::string_view kFieldIgnored = "VXU_FIELD_IGNORED";
inline constexpr std::string_view kNoVaccination = "VXU_NO_VACCINATION";
}  // namespace codes

// HL7 table 0516.
enum class Severity : char { kError = 'E', kWarning = 'W', kInfo = 'I' };

// What a finding takes out, following the IG's receiver rules (Table 3-1): a bad field is
// ignored, a segment missing required data is ignored, an order group without a usable RXA is
// rejected, and a message without a usable MSH or PID is rejected.
enum class Scope : std::uint8_t { kField, kSegment, kOrderGroup, kMessage };

// ERR-2 (ERL). field 0: the whole segment.
struct Location {
  std::string_view segment;
  std::uint32_t sequence = 0;   // 1-based occurrence of the segment id in the message
  std::uint32_t field = 0;
  std::uint32_t component = 0;  // 0: the whole field
};

// One problem. Every view points at static text: findings may be kept as long as needed.
// `message` says what is wrong and what to send instead, never a value of the message.
struct Finding {
  std::string_view code;
  Severity severity = Severity::kError;
  Scope scope = Scope::kField;
  std::size_t group = 0;  // 1-based order group the finding belongs to; 0: the patient part
  Location location;
  std::uint16_t hl7_error = 0;      // table 0357
  std::string_view hl7_error_text;  // its text as the IG prints it
  std::uint8_t application_error = 0;  // table 0533; 0: none (ERR-5 empty)
  std::string_view message;

  // Whether the canonical row of order group `row_group` (1-based) is rejected by this.
  bool rejects_group(std::size_t row_group) const noexcept {
    if (severity != Severity::kError) return false;
    if (scope == Scope::kMessage) return true;
    return scope == Scope::kOrderGroup && group == row_group;
  }
};

// Text of a table 0533 code, as the IG examples spell it.
std::string_view application_error_text(std::uint8_t code) noexcept;

}  // namespace vaxetl::vxu
