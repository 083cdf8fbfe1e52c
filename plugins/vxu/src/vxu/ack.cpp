#include "vxu/ack.hpp"

#include <array>
#include <charconv>

namespace vaxetl::vxu {

namespace {

const hl7::Delimiters kAckDelimiters{};

void append_escaped(std::string& out, std::string_view text) {
  const std::size_t at = out.size();
  const std::size_t needed = hl7::escape(text, kAckDelimiters, {});
  out.resize(at + needed);
  hl7::escape(text, kAckDelimiters, std::span<char>(out.data() + at, needed));
}

void append_number(std::string& out, unsigned value) {
  std::array<char, 12> digits{};
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  (void)ec;  // an unsigned always fits 12 characters
  out.append(digits.data(), end);
}

}  // namespace

std::string_view to_string(AckCode code) noexcept {
  switch (code) {
    case AckCode::kAccept: return "AA";
    case AckCode::kError: return "AE";
    case AckCode::kReject: return "AR";
  }
  return "AE";
}

AckCode ack_code(std::span<const Finding> findings) noexcept {
  bool error = false;
  for (const auto& f : findings) {
    // Table 0357's 2xx codes say the message was not processed at all: the IG's AR.
    if (f.hl7_error >= 200 && f.hl7_error <= 203) return AckCode::kReject;
    error |= f.severity == Severity::kError;
  }
  return error ? AckCode::kError : AckCode::kAccept;
}

AckHeader reply_header(const hl7::Message& vxu, std::string_view our_application,
                       std::string_view our_facility, std::string_view timestamp,
                       std::string_view control_id) noexcept {
  AckHeader header;
  header.sending_application = our_application;
  header.sending_facility = our_facility;
  header.receiving_application = vxu.msh(3).raw();
  header.receiving_facility = vxu.msh(4).raw();
  header.timestamp = timestamp;
  header.control_id = control_id;
  const std::string_view processing = vxu.msh(11).component(1).raw();
  if (processing == "P" || processing == "T" || processing == "D") header.processing_id = processing;
  // HL7 events are 3 upper-case letters or digits (V04, A08, R01): echoed; anything else is
  // not copied into the reply.
  const std::string_view event = vxu.msh(9).component(2).raw();
  bool event_ok = event.size() == 3;
  for (char c : event) event_ok &= (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  if (event_ok) header.event = event;
  return header;
}

std::string format_location(const Location& location) {
  std::string out(location.segment);
  if (location.field == 0) return out;
  out += '^';
  append_number(out, location.sequence == 0 ? 1u : location.sequence);
  out += '^';
  append_number(out, location.field);
  if (location.component != 0) {
    out += "^1^";
    append_number(out, location.component);
  }
  return out;
}

void build_ack(const AckHeader& header, std::string_view acknowledged_control_id,
               std::span<const Finding> findings, std::string& out) {
  // The routing fields are HD values already in HL7 form (app^oid^ISO): copied as they are.
  out += "MSH|^~\\&|";
  out.append(header.sending_application);
  out += '|';
  out.append(header.sending_facility);
  out += '|';
  out.append(header.receiving_application);
  out += '|';
  out.append(header.receiving_facility);
  out += '|';
  out.append(header.timestamp);
  out += "||ACK^";
  out.append(header.event);
  out += "^ACK|";
  append_escaped(out, header.control_id);
  out += '|';
  out.append(header.processing_id);
  out += "|2.5.1|||NE|NE|||||Z23^CDCPHINVS\r";

  out += "MSA|";
  out.append(to_string(ack_code(findings)));
  out += '|';
  append_escaped(out, acknowledged_control_id);
  out += '\r';

  for (const auto& f : findings) {
    out += "ERR||";
    // Segment ids come from the message; a malformed one is left out rather than echoed.
    Location location = f.location;
    bool id_ok = location.segment.size() == 3;
    for (char c : location.segment) id_ok &= (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!id_ok) location.segment = {};
    out += format_location(location);
    out += '|';
    append_number(out, f.hl7_error);
    out += '^';
    append_escaped(out, f.hl7_error_text);
    out += "^HL70357|";
    out += static_cast<char>(f.severity);
    out += '|';
    if (f.application_error != 0) {
      append_number(out, f.application_error);
      out += '^';
      append_escaped(out, application_error_text(f.application_error));
      out += "^HL70533";
    }
    out += "|||";  // ERR-6 and ERR-7 are not used; ERR-8 is the user message
    append_escaped(out, f.message);
    out += '\r';
  }
}

}  // namespace vaxetl::vxu
