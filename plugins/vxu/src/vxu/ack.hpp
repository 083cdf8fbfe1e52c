// ACK builder (ACK^V04 for a VXU, ACK^A04/A08/A28/A31 for an ADT) for the CDC IG's
// acknowledgement profile Z23: MSH, MSA and one ERR per finding. MSA-1 is AR when the message was refused before it was read (unsupported type,
// event, processing id or version), AE when any finding is an error, else AA.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "hl7/message.hpp"
#include "vxu/findings.hpp"

namespace vaxetl::vxu {

enum class AckCode { kAccept, kError, kReject };  // AA, AE, AR (HL7 table 0008)

std::string_view to_string(AckCode code) noexcept;
AckCode ack_code(std::span<const Finding> findings) noexcept;

// The ACK's own MSH fields. Texts are written escaped, so any value is safe.
struct AckHeader {
  std::string_view sending_application;
  std::string_view sending_facility;
  std::string_view receiving_application;
  std::string_view receiving_facility;
  std::string_view timestamp;   // MSH-7, e.g. 20260102030405-0500
  std::string_view control_id;  // MSH-10 of the ACK itself
  std::string_view processing_id = "P";
  std::string_view event = "V04";  // MSH-9.2: ACK^<event>^ACK, the acknowledged message's event
};

// A reply's header: we are the sender, the VXU's sender (MSH-3/4) the receiver. The
// processing id is echoed so a test message gets a test ACK, and the trigger event (MSH-9.2)
// so an ADT^A08 gets an ACK^A08 (V04 when the message has none that looks like an event).
// Views point into `vxu`.
AckHeader reply_header(const hl7::Message& vxu, std::string_view our_application,
                       std::string_view our_facility, std::string_view timestamp,
                       std::string_view control_id) noexcept;

// Appends the ACK to `out`, each segment ended by CR. `acknowledged_control_id` is the VXU's
// MSH-10 (MSA-2). ERR-8 carries each finding's message, which never holds a value.
void build_ack(const AckHeader& header, std::string_view acknowledged_control_id,
               std::span<const Finding> findings, std::string& out);

// ERR-2 as written: SEG^sequence^field[^1^component], or SEG alone for a whole segment.
std::string format_location(const Location& location);

}  // namespace vaxetl::vxu
