// Just enough HL7 v2 to acknowledge a message: read its MSH header and build an ACK^V04
// (profile Z23, see shared/specs/cvrs-vxu.md C.5). Content validation lives elsewhere.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mllp/inbox_queue.hpp"

namespace vaxetl::mllp {

struct MshInfo {
  char field_separator = '|';
  std::string encoding_characters;  // MSH-2
  std::string sending_application;  // MSH-3
  std::string sending_facility;     // MSH-4
  std::string receiving_application;  // MSH-5
  std::string receiving_facility;     // MSH-6
  std::string message_type;           // MSH-9
  std::string control_id;             // MSH-10
  std::string processing_id;          // MSH-11
  std::string version;                // MSH-12
};

// The MSH of `message`, or nullopt when there is none: the message must start with "MSH"
// (after an optional UTF-8 BOM and blank lines) and carry a non-empty MSH-10, because an
// ACK that cannot name its message is useless to the sender.
std::optional<MshInfo> parse_msh(std::string_view message);

enum class AckCode { AA, AE, AR };

struct AckError {
  std::string hl7_code;       // table 0357, e.g. "100^Segment sequence error^HL70357"
  std::string location;       // ERR-2, e.g. "MSH^1^10" (may be empty)
  std::string user_message;   // ERR-8; never a value from the message (PHI)
};

// Our side of the ACK's MSH when the original gives nothing to swap.
struct AckIdentity {
  std::string application = "VAXETL";
  std::string facility = "NCDHHS";
};

// An ACK^V04 for `original` (sending and receiving parties swapped, MSA-2 = MSH-10). With no
// original (garbage, unparsable message) MSA-2 is empty. Returned without MLLP framing.
std::string build_ack(const MshInfo* original, AckCode code, const AckError* error = nullptr,
                      const AckIdentity& identity = AckIdentity());

// The default handler: AA once the message is queued; AR when it was not (no MSH, garbage,
// too large, storage failure), with ERR naming the reason.
std::string default_ack(std::string_view message, const QueueReceipt& receipt,
                        const AckIdentity& identity = AckIdentity());

// MSA-1 and MSA-2 of an ACK (for clients and tests); nullopt when there is no MSA.
struct AckSummary {
  std::string code;
  std::string control_id;
};
std::optional<AckSummary> read_ack(std::string_view ack);

}  // namespace vaxetl::mllp
