#include "mllp/hl7_ack.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <vector>

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

namespace vaxetl::mllp {

namespace {

std::string_view first_segment(std::string_view message) {
  const std::size_t end = message.find_first_of("\r\n");
  return end == std::string_view::npos ? message : message.substr(0, end);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Our ACKs need their own MSH-10; a per-process prefix plus a counter is unique enough for
// correlation in the sender's logs and never derived from message content.
std::string next_ack_control_id() {
  static const std::string prefix =
      "VX" + Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%d%H%M%S");
  static std::atomic<uint64_t> counter{0};
  return prefix + "." + std::to_string(++counter);
}

const char* code_text(AckCode code) {
  switch (code) {
    case AckCode::AA: return "AA";
    case AckCode::AE: return "AE";
    case AckCode::AR: return "AR";
  }
  return "AR";
}

}  // namespace

std::optional<MshInfo> parse_msh(std::string_view message) {
  // Tolerate a UTF-8 BOM and leading blank lines (spec C.10 P2).
  if (message.substr(0, 3) == "\xEF\xBB\xBF") message.remove_prefix(3);
  while (!message.empty() && (message.front() == '\r' || message.front() == '\n'))
    message.remove_prefix(1);
  const std::string_view msh = first_segment(message);
  if (msh.size() < 8 || msh.substr(0, 3) != "MSH") return std::nullopt;
  const char sep = msh[3];
  // The field separator must be a printable non-alphanumeric character.
  if (sep <= ' ' || sep > '~' || std::isalnum(static_cast<unsigned char>(sep))) return std::nullopt;
  const auto fields = split(msh, sep);  // fields[n] is MSH-(n+1): MSH-1 is the separator
  auto field = [&](std::size_t msh_number) -> std::string {
    const std::size_t index = msh_number - 1;
    return index < fields.size() ? std::string(fields[index]) : std::string();
  };
  MshInfo info;
  info.field_separator = sep;
  info.encoding_characters = field(2);
  if (info.encoding_characters.empty()) return std::nullopt;
  info.sending_application = field(3);
  info.sending_facility = field(4);
  info.receiving_application = field(5);
  info.receiving_facility = field(6);
  info.message_type = field(9);
  info.control_id = field(10);
  info.processing_id = field(11);
  info.version = field(12);
  if (info.control_id.empty()) return std::nullopt;
  return info;
}

std::string build_ack(const MshInfo* original, AckCode code, const AckError* error,
                      const AckIdentity& identity) {
  // Always answer with the standard delimiters; values copied from the original are plain
  // identifiers (applications, facilities, control id).
  const std::string now = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y%m%d%H%M%S");
  std::string ack = "MSH|^~\\&|";
  ack += original && !original->receiving_application.empty() ? original->receiving_application
                                                              : identity.application;
  ack += '|';
  ack += original && !original->receiving_facility.empty() ? original->receiving_facility
                                                           : identity.facility;
  ack += '|';
  if (original) ack += original->sending_application;
  ack += '|';
  if (original) ack += original->sending_facility;
  ack += '|' + now + "||ACK^V04^ACK|" + next_ack_control_id() + '|';
  ack += original && !original->processing_id.empty() ? original->processing_id : std::string("P");
  ack += "|2.5.1|||NE|NE|||||Z23^CDCPHINVS\r";
  ack += "MSA|";
  ack += code_text(code);
  ack += '|';
  if (original) ack += original->control_id;
  ack += '\r';
  if (error) {
    ack += "ERR||" + error->location + '|' + error->hl7_code + '|';
    ack += code == AckCode::AA ? "W" : "E";
    ack += "||||" + error->user_message + '\r';
  }
  return ack;
}

std::string default_ack(std::string_view message, const QueueReceipt& receipt,
                        const AckIdentity& identity) {
  const std::optional<MshInfo> msh = parse_msh(message);
  const MshInfo* original = msh ? &*msh : nullptr;
  AckError error;
  switch (receipt.disposition) {
    case Disposition::Queued:
      return build_ack(original, AckCode::AA, nullptr, identity);
    case Disposition::NotHl7:
      error.hl7_code = "100^Segment sequence error^HL70357";
      error.location = "MSH^1";
      error.user_message = "not an HL7 v2 message: no MSH segment with MSH-10";
      break;
    case Disposition::Oversize:
      error.hl7_code = "207^Application internal error^HL70357";
      error.user_message = "message of " + std::to_string(receipt.size) +
                           " bytes exceeds the limit of " + std::to_string(receipt.limit) + " bytes";
      break;
    case Disposition::Garbage:
      error.hl7_code = "100^Segment sequence error^HL70357";
      error.user_message = std::to_string(receipt.size) +
                           " bytes outside MLLP framing (expected 0x0B message 0x1C 0x0D)";
      break;
    case Disposition::StoreFailed:
      error.hl7_code = "207^Application internal error^HL70357";
      error.user_message = "message could not be stored; resend it";
      break;
  }
  return build_ack(original, AckCode::AR, &error, identity);
}

std::optional<AckSummary> read_ack(std::string_view ack) {
  std::size_t pos = 0;
  while (pos < ack.size()) {
    std::size_t end = ack.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = ack.size();
    const std::string_view segment = ack.substr(pos, end - pos);
    if (segment.substr(0, 4) == "MSA|") {
      const auto fields = split(segment, '|');
      AckSummary s;
      s.code = fields.size() > 1 ? std::string(fields[1]) : std::string();
      s.control_id = fields.size() > 2 ? std::string(fields[2]) : std::string();
      return s;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace vaxetl::mllp
