// What NCVR validation reports: stable error codes, record findings and file errors.
// The code strings are a contract with providers' error files and the test-data generator:
// never rename one. docs/ncvr-error-codes.md documents each.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::ncvr {

namespace codes {
// File level: the whole file is rejected.
inline constexpr std::string_view kFileEmpty = "NCVR_FILE_EMPTY";
inline constexpr std::string_view kHeaderMissing = "NCVR_HEADER_MISSING";
inline constexpr std::string_view kHeaderMismatch = "NCVR_HEADER_MISMATCH";
inline constexpr std::string_view kDelimiter = "NCVR_DELIMITER";
inline constexpr std::string_view kEncoding = "NCVR_ENCODING";
// Record level.
inline constexpr std::string_view kFieldCount = "NCVR_FIELD_COUNT";
inline constexpr std::string_view kRequired = "NCVR_REQUIRED";
inline constexpr std::string_view kConditional = "NCVR_CONDITIONAL";
inline constexpr std::string_view kTooLong = "NCVR_TOO_LONG";
inline constexpr std::string_view kFormat = "NCVR_FORMAT";
inline constexpr std::string_view kCode = "NCVR_CODE";
inline constexpr std::string_view kDateFuture = "NCVR_DATE_FUTURE";
inline constexpr std::string_view kDateOrder = "NCVR_DATE_ORDER";
inline constexpr std::string_view kAge = "NCVR_AGE";
inline constexpr std::string_view kAdminBeforeEua = "NCVR_ADMIN_BEFORE_EUA";
inline constexpr std::string_view kMvxCvx = "NCVR_MVX_CVX";
inline constexpr std::string_view kJanssenDose = "NCVR_JANSSEN_DOSE";
inline constexpr std::string_view kNdcCvx = "NCVR_NDC_CVX";
inline constexpr std::string_view kNdcUnitOfUse = "NCVR_NDC_UNIT_OF_USE";
inline constexpr std::string_view kRefusalFields = "NCVR_REFUSAL_FIELDS";
inline constexpr std::string_view kRaceExtra = "NCVR_RACE_EXTRA";
inline constexpr std::string_view kCountyState = "NCVR_COUNTY_STATE";
inline constexpr std::string_view kNpiCheck = "NCVR_NPI_CHECK";
inline constexpr std::string_view kExpiredLot = "NCVR_EXPIRED_LOT";
}  // namespace codes

enum class Severity : char { kError = 'E', kWarning = 'W' };

// One problem in one record. Every view is valid only during FindingSink::report: copy what
// you keep. `message` says what to send instead and never contains a value of the record.
struct Finding {
  std::size_t position = 0;      // 1-based field position; 0 = the whole record
  std::string_view field_name;   // empty when position is 0
  std::string_view code;         // one of codes::
  Severity severity = Severity::kError;
  std::string_view message;
};

class FindingSink {
 public:
  virtual ~FindingSink() = default;
  virtual void report(const Finding& finding) = 0;
};

// Keeps copies of every finding; for tests and for callers that collect per record.
class FindingList final : public FindingSink {
 public:
  struct Item {
    std::size_t position;
    std::string field_name;
    std::string code;
    Severity severity;
    std::string message;
  };

  void report(const Finding& finding) override {
    items_.push_back(Item{finding.position, std::string(finding.field_name),
                          std::string(finding.code), finding.severity,
                          std::string(finding.message)});
  }
  void clear() noexcept { items_.clear(); }
  const std::vector<Item>& items() const noexcept { return items_; }

 private:
  std::vector<Item> items_;
};

// A problem that rejects the whole file. The message names positions and expected names,
// never what the file contained.
struct FileError {
  std::string_view code;
  std::string message;
};

}  // namespace vaxetl::ncvr
