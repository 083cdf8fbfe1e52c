// Stable CVRS finding codes: a contract with providers' error files. Never rename one;
// docs/cvrs-error-codes.md documents each with the CDC validator code it corresponds to.
#pragma once

#include <string_view>

namespace vaxetl::cvrs::codes {

// File level: the whole file is refused.
inline constexpr std::string_view kFileEmpty = "CVRS_FILE_EMPTY";
inline constexpr std::string_view kNotCvrs = "CVRS_NOT_CVRS";
inline constexpr std::string_view kDelimiter = "CVRS_DELIMITER";
inline constexpr std::string_view kHeaderMissing = "CVRS_HEADER_MISSING";
inline constexpr std::string_view kHeaderUnknown = "CVRS_HEADER_UNKNOWN";
inline constexpr std::string_view kHeaderOrder = "CVRS_HEADER_ORDER";
inline constexpr std::string_view kLineTooLong = "CVRS_LINE_TOO_LONG";
// Record level, errors unless noted.
inline constexpr std::string_view kFieldCount = "CVRS_FIELD_COUNT";
inline constexpr std::string_view kRequired = "CVRS_REQUIRED";
inline constexpr std::string_view kRefusalFields = "CVRS_REFUSAL_FIELDS";
inline constexpr std::string_view kTooLong = "CVRS_TOO_LONG";
inline constexpr std::string_view kEncoding = "CVRS_ENCODING";
inline constexpr std::string_view kFormat = "CVRS_FORMAT";
inline constexpr std::string_view kCode = "CVRS_CODE";
inline constexpr std::string_view kRedacted = "CVRS_REDACTED";
inline constexpr std::string_view kPprlId = "CVRS_PPRL_ID";
inline constexpr std::string_view kCountyState = "CVRS_COUNTY_STATE";
inline constexpr std::string_view kZipState = "CVRS_ZIP_STATE";  // warning
inline constexpr std::string_view kDateFuture = "CVRS_DATE_FUTURE";
inline constexpr std::string_view kDateOrder = "CVRS_DATE_ORDER";
inline constexpr std::string_view kDuplicateEvent = "CVRS_DUPLICATE_EVENT";
inline constexpr std::string_view kTooManyRecords = "CVRS_TOO_MANY_RECORDS";      // warning, once
inline constexpr std::string_view kNdcUnitOfUse = "CVRS_NDC_UNIT_OF_USE";        // warning by default
inline constexpr std::string_view kNdcCvx = "CVRS_NDC_CVX";
inline constexpr std::string_view kMvxCvx = "CVRS_MVX_CVX";
inline constexpr std::string_view kPlaceholderCode = "CVRS_PLACEHOLDER_CODE";    // warning by default
// Holds: the record is kept, not loaded.
inline constexpr std::string_view kNotNorthCarolina = "CVRS_NOT_NC";
inline constexpr std::string_view kAdminStateUnknown = "CVRS_ADMIN_STATE_UNKNOWN";

}  // namespace vaxetl::cvrs::codes
