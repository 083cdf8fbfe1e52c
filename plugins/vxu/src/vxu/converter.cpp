#include "vxu/converter.hpp"

#include <cstring>

namespace vaxetl::vxu {

namespace {

using hl7::Segment;
using hl7::Value;

constexpr std::size_t kEventId = column("vax_event_id");
constexpr std::size_t kActionCode = column("action_code");
constexpr std::size_t kOrgCode = column("org_code");
constexpr std::size_t kPin = column("vtrcks_prov_pin");
constexpr std::size_t kAdminName = column("admin_name");
constexpr std::size_t kRecipId = column("recip_id");
constexpr std::size_t kFirstName = column("recip_first_name");
constexpr std::size_t kMiddleName = column("recip_middle_name");
constexpr std::size_t kLastName = column("recip_last_name");
constexpr std::size_t kSuffix = column("recip_suffix");
constexpr std::size_t kDob = column("recip_dob");
constexpr std::size_t kSex = column("recip_sex");
constexpr std::size_t kStreet = column("recip_address_street");
constexpr std::size_t kStreet2 = column("recip_address_street_2");
constexpr std::size_t kCity = column("recip_address_city");
constexpr std::size_t kCounty = column("recip_address_county");
constexpr std::size_t kState = column("recip_address_state");
constexpr std::size_t kZip = column("recip_address_zip");
constexpr std::size_t kPhone = column("recip_phone");
constexpr std::size_t kEmail = column("recip_email");
constexpr std::size_t kRace1 = column("recip_race_1");
constexpr std::size_t kEthnicity = column("recip_ethnicity");

// HL7 null flavors for race and ethnicity, in the canonical record's terms: ASKU (asked but
// unknown: the patient declined) and PHC1175 (refused to answer) are DECLINED, which the race
// and ethnicity gate counts as populated; NASK / UNK are unknown (docs/canonical-record.md).
std::string_view race_or_ethnicity_code(std::string_view code) noexcept {
  if (code == "ASKU" || code == "PHC1175") return "DECLINED";
  if (code == "NASK") return "UNK";
  return code;
}
constexpr std::size_t kLanguage = column("recip_language");
constexpr std::size_t kGuardian = column("guardian_name");
constexpr std::size_t kAdminDate = column("admin_date");
constexpr std::size_t kCvx = column("cvx");
constexpr std::size_t kMvx = column("mvx");
constexpr std::size_t kDoseStatus = column("dose_status");
constexpr std::size_t kNdc = column("ndc");
constexpr std::size_t kLot = column("lot_number");
constexpr std::size_t kExpiry = column("vax_expiration");
constexpr std::size_t kSite = column("vax_admin_site");
constexpr std::size_t kRoute = column("vax_route");
constexpr std::size_t kVolume = column("dose_volume_ml");
constexpr std::size_t kProviderName = column("vax_admin_provider_name");
constexpr std::size_t kProviderNpi = column("vax_admin_provider_npi");
constexpr std::size_t kVisEdition = column("vis_edition_date");
constexpr std::size_t kVisGiven = column("vis_given_date");
constexpr std::size_t kInventory = column("inventory_source");
constexpr std::size_t kRefusal = column("vax_refusal");
constexpr std::size_t kRefusalReason = column("refusal_reason");
constexpr std::size_t kComorbid = column("cmorbid_status");
constexpr std::size_t kSerology = column("serology");
constexpr std::size_t kLastModified = column("record_last_modified");
constexpr std::size_t kNdcAsSent = column("ndc_as_sent");
constexpr std::size_t kExtType = column("ext_type");
constexpr std::size_t kPprlId = column("pprl_id");
constexpr std::size_t kDoseNum = column("dose_num");
constexpr std::size_t kSeriesComplete = column("vax_series_complete");
constexpr std::size_t kResponsibleOrg = column("responsible_org");
constexpr std::size_t kAdminType = column("admin_type");
constexpr std::size_t kAdminStreet = column("admin_address_street");
constexpr std::size_t kAdminStreet2 = column("admin_address_street_2");
constexpr std::size_t kAdminCity = column("admin_address_city");
constexpr std::size_t kAdminCounty = column("admin_address_county");
constexpr std::size_t kAdminState = column("admin_address_state");
constexpr std::size_t kAdminZip = column("admin_address_zip");
constexpr std::size_t kFundingSource = column("funding_source");
constexpr std::size_t kFundingEligibility = column("funding_eligibility");
constexpr std::size_t kInformationSource = column("information_source");
constexpr std::size_t kCompletion = column("completion_status");
constexpr std::size_t kRecordType = column("record_type");

// What a DEMOGRAPHICS row carries (docs/vxu.md): the recipient, keyed by org_code + recip_id.
// Every other column of such a row stays null.
constexpr std::size_t kRecipientColumns[] = {
    kOrgCode, kRecipId, kPprlId,   kFirstName, kMiddleName,    kLastName,    kSuffix,
    kDob,     kSex,     kStreet,   kStreet2,   kCity,          kCounty,      kState,
    kZip,     kPhone,   kEmail,    kRace1,     kRace1 + 1,     kRace1 + 2,   kRace1 + 3,
    kRace1 + 4, kRace1 + 5, kEthnicity, kLanguage, kGuardian,
};

// ADT events that update a recipient's demographics: register (A04), update patient
// information (A08), add person (A28), update person (A31).
bool is_demographic_event(std::string_view event) noexcept {
  return ncvr::equals_ignore_case(event, "A04") || ncvr::equals_ignore_case(event, "A08") ||
         ncvr::equals_ignore_case(event, "A28") || ncvr::equals_ignore_case(event, "A31");
}

struct ErrorCode {
  std::string_view code;
  std::uint16_t hl7;
  std::string_view hl7_text;
  std::uint8_t application;
};

// Each code's HL7 table 0357 and 0533 codes; texts as the IG's ACK examples print them.
constexpr ErrorCode kErrorCodes[] = {
    {codes::kNotHl7, 100, "segment sequence error", 0},
    {codes::kUnsupportedType, 200, "unsupported message type", 0},
    {codes::kUnsupportedEvent, 201, "unsupported event code", 0},
    {codes::kUnsupportedProcessingId, 202, "unsupported processing id", 0},
    {codes::kUnsupportedVersion, 203, "unsupported version id", 0},
    {codes::kSegmentMissing, 100, "required segment missing", 0},
    {codes::kSegmentOrder, 100, "segment sequence error", 0},
    {codes::kSegmentUnknown, 100, "segment sequence error", 8},
    {codes::kRequired, 101, "required field missing", 7},
    {codes::kDateInvalid, 102, "data type error", 2},
    // The IG's own example: a birth date after today is "required field missing" with the
    // application code "illogical date": the receiver treats the bad date as absent.
    {codes::kDateFuture, 101, "required field missing", 1},
    {codes::kCodeUnknown, 103, "table value not found", 5},
    {codes::kNotCovid, 103, "table value not found", 5},
    {codes::kValueInvalid, 102, "data type error", 4},
    {codes::kNdcCvx, 103, "table value not found", 3},
    {codes::kMvxCvx, 103, "table value not found", 3},
    {codes::kNdcUnitOfUse, 0, "message accepted", 0},
    {codes::kFieldIgnored, 0, "message accepted", 8},
    {codes::kNoVaccination, 100, "required segment missing", 6},
};

const ErrorCode& error_code(std::string_view code) noexcept {
  for (const auto& entry : kErrorCodes)
    if (entry.code == code) return entry;
  return kErrorCodes[0];  // unreachable: every code above is listed
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  return ncvr::equals_ignore_case(a, b);
}

bool is_segment_id(std::string_view id) noexcept {
  if (id.size() != 3 || id[0] < 'A' || id[0] > 'Z') return false;
  for (char c : id.substr(1))
    if (!((c >= 'A' && c <= 'Z') || is_digit(c))) return false;
  return true;
}

Location at(Segment segment, std::uint32_t field = 0, std::uint32_t component = 0) noexcept {
  return {segment.id(), static_cast<std::uint32_t>(segment.occurrence()), field, component};
}

// Y/N/U spellings CVRS and HL7 use for yes-no observations, as the canonical YES/NO/UNK.
std::string_view yes_no_unk(std::string_view code) noexcept {
  if (equals_ignore_case(code, "Y") || equals_ignore_case(code, "YES")) return "YES";
  if (equals_ignore_case(code, "N") || equals_ignore_case(code, "NO")) return "NO";
  if (equals_ignore_case(code, "U") || equals_ignore_case(code, "UNK")) return "UNK";
  return {};
}

}  // namespace

std::string_view application_error_text(std::uint8_t code) noexcept {
  switch (code) {
    case 1: return "illogical date error";
    case 2: return "invalid date";
    case 3: return "illogical value error";
    case 4: return "invalid value";
    case 5: return "table value not found";
    case 6: return "required observation missing";
    case 7: return "required data missing";
    case 8: return "data was ignored";
    default: return {};
  }
}

// ---- Arena --------------------------------------------------------------------------------

char* Converter::Arena::allocate(std::size_t size) {
  while (block_ < blocks_.size() && used_ + size > sizes_[block_]) {
    ++block_;
    used_ = 0;
  }
  if (block_ == blocks_.size()) {
    const std::size_t block_size = size > kBlock ? size : kBlock;
    blocks_.push_back(std::make_unique<char[]>(block_size));
    sizes_.push_back(block_size);
    used_ = 0;
  }
  char* out = blocks_[block_].get() + used_;
  used_ += size;
  return out;
}

std::string_view Converter::Arena::keep(std::string_view text) {
  if (text.empty()) return {};
  char* out = allocate(text.size());
  std::memcpy(out, text.data(), text.size());
  return {out, text.size()};
}

// ---- Converter ----------------------------------------------------------------------------

Converter::Converter(const ncvr::ProductCatalog& catalog, ConverterOptions options)
    : catalog_(catalog), options_(std::move(options)) {}

bool Converter::row_rejected(std::size_t i) const noexcept {
  const std::size_t group = row_group(i);
  for (const auto& f : findings_)
    if (f.rejects_group(group)) return true;
  return false;
}

void Converter::report(std::string_view code, Scope scope, std::size_t group, Location location,
                       std::string_view message, Severity severity) {
  const ErrorCode& info = error_code(code);
  Finding f;
  f.code = code;
  f.severity = severity;
  f.scope = scope;
  f.group = group;
  f.location = location;
  f.hl7_error = info.hl7;
  f.hl7_error_text = info.hl7_text;
  f.application_error = info.application;
  f.message = message;
  findings_.push_back(f);
}

std::string_view Converter::text(const Value& value) {
  if (!value.has_escape()) return value.raw();
  char* buffer = arena_.allocate(value.raw().size());
  return value.text(std::span<char>(buffer, value.raw().size()));
}

std::string_view Converter::upper(std::string_view code) {
  bool lower = false;
  for (char c : code) lower |= (c >= 'a' && c <= 'z');
  if (!lower) return code;
  char* out = arena_.allocate(code.size());
  for (std::size_t i = 0; i < code.size(); ++i)
    out[i] = (code[i] >= 'a' && code[i] <= 'z') ? static_cast<char>(code[i] - 'a' + 'A') : code[i];
  return {out, code.size()};
}

std::string_view Converter::date(std::string_view hl7_date, ncvr::Date* parsed) {
  // DT/DTM: YYYYMMDD then optional time and zone; fewer than 8 digits is no full date.
  if (hl7_date.size() < 8) return {};
  for (std::size_t i = 0; i < 8; ++i)
    if (!is_digit(hl7_date[i])) return {};
  if (hl7_date.size() > 8 && is_digit(hl7_date[8]) == false && hl7_date[8] != '+' && hl7_date[8] != '-')
    return {};
  char* out = arena_.allocate(10);
  std::memcpy(out, hl7_date.data(), 4);
  out[4] = '-';
  std::memcpy(out + 5, hl7_date.data() + 4, 2);
  out[7] = '-';
  std::memcpy(out + 8, hl7_date.data() + 6, 2);
  const std::string_view iso(out, 10);
  const auto checked = ncvr::parse_date(iso);
  if (!checked) return {};
  if (parsed != nullptr) *parsed = *checked;
  return iso;
}

void Converter::convert(const hl7::Message& message, hl7::Message::Status status) {
  findings_.clear();
  groups_.clear();
  arena_.reset();
  row_count_ = 0;
  has_groups_ = false;
  kind_ = MessageKind::kRefused;
  patient_.fill({});

  auto add_single_row = [&] {
    if (rows_.empty()) rows_.emplace_back();
    rows_[0] = patient_;
    row_count_ = 1;
  };

  if (status != hl7::Message::Status::kOk) {
    report(codes::kNotHl7, Scope::kMessage, 0, {"MSH", 1, 0, 0},
           "the message does not start with an MSH segment declaring its delimiters "
           "(MSH|^~\\&|...); send HL7 v2.5.1 VXU^V04 or ADT^A04/A08/A28/A31 messages");
    add_single_row();
    return;
  }
  if (!check_header(message)) {
    add_single_row();
    return;
  }
  check_segments(message);
  map_patient(message, patient_);

  if (kind_ == MessageKind::kDemographics || groups_.empty()) {
    // An ADT, or a VXU without an order group: the recipient only, one DEMOGRAPHICS row
    // ("demographic-only feeds update masters without creating vaccinations").
    kind_ = MessageKind::kDemographics;
    if (rows_.empty()) rows_.emplace_back();
    CanonicalRow& row = rows_[0];
    row.fill({});
    for (const std::size_t c : kRecipientColumns) row[c] = patient_[c];
    row[kRecordType] = "DEMOGRAPHICS";
    row_count_ = 1;
    return;
  }
  has_groups_ = true;
  patient_[kRecordType] = "VACCINATION";
  if (rows_.size() < groups_.size()) rows_.resize(groups_.size());
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    rows_[g] = patient_;
    map_group(message, g + 1, groups_[g], rows_[g]);
  }
  row_count_ = groups_.size();
}

bool Converter::check_header(const hl7::Message& message) {
  // The IG's first step: type, event, processing id and version; any failure is an AR and
  // the message is not read further.
  const Segment msh = message.segment(0);
  const Value type = message.msh(9);
  const std::string_view event = type.component(2).raw();
  MessageKind kind = MessageKind::kVaccination;
  if (equals_ignore_case(type.component(1).raw(), "VXU")) {
    if (!equals_ignore_case(event, "V04")) {
      report(codes::kUnsupportedEvent, Scope::kMessage, 0, at(msh, 9, 2),
             "MSH-9.2 of a VXU must be V04 (unsolicited vaccination record update) -- message "
             "rejected");
      return false;
    }
  } else if (equals_ignore_case(type.component(1).raw(), "ADT")) {
    if (!is_demographic_event(event)) {
      report(codes::kUnsupportedEvent, Scope::kMessage, 0, at(msh, 9, 2),
             "MSH-9.2 of an ADT must be A04, A08, A28 or A31 (demographic updates); other ADT "
             "events are not taken -- message rejected");
      return false;
    }
    kind = MessageKind::kDemographics;
  } else {
    report(codes::kUnsupportedType, Scope::kMessage, 0, at(msh, 9, 1),
           "MSH-9.1 must be VXU or ADT: this reader takes VXU^V04 and ADT^A04/A08/A28/A31 "
           "messages only -- message rejected");
    return false;
  }
  const std::string_view processing = message.msh(11).component(1).raw();
  if (processing != "P" && processing != "T" && processing != "D") {
    report(codes::kUnsupportedProcessingId, Scope::kMessage, 0, at(msh, 11),
           "MSH-11 must be P, T or D (HL7 table 0103) -- message rejected");
    return false;
  }
  if (message.msh(12).component(1).raw() != "2.5.1") {
    report(codes::kUnsupportedVersion, Scope::kMessage, 0, at(msh, 12),
           "Unsupported HL7 Version ID: MSH-12 must be 2.5.1 -- message rejected");
    return false;
  }
  if (message.msh(10).empty()) {
    report(codes::kRequired, Scope::kMessage, 0, at(msh, 10),
           "MSH-10 (message control id) is required: the ACK echoes it -- message rejected");
  }
  kind_ = kind;
  return true;
}

void Converter::check_segments(const hl7::Message& message) {
  // Order groups: ORC opens one, RXA must follow its ORC, RXR and OBX/NTE belong to the RXA.
  bool saw_pid = false;
  Group* open = nullptr;
  for (std::size_t i = 1; i < message.segment_count(); ++i) {
    const Segment s = message.segment(i);
    const std::string_view id = s.id();
    if (!is_segment_id(id) || s.field_count() == 0) {
      report(codes::kSegmentUnknown, Scope::kSegment, groups_.size(), {"", 0, 0, 0},
             "a segment has no valid 3-character segment id followed by a field separator -- "
             "segment ignored",
             Severity::kWarning);
      continue;
    }
    if (id == "PID") {
      saw_pid = true;
    } else if (kind_ != MessageKind::kVaccination) {
      continue;  // an ADT has no order groups: its other segments are not read
    } else if (id == "ORC") {
      if (open != nullptr) open->end = i;
      groups_.push_back(Group{i, 0, 0, i, message.segment_count()});
      open = &groups_.back();
    } else if (id == "RXA") {
      if (open == nullptr || open->rxa != 0) {
        // RXA without its own ORC: the group has no event id, so the RXA cannot be keyed.
        if (open != nullptr) open->end = i;
        groups_.push_back(Group{0, i, 0, i, message.segment_count()});
        open = &groups_.back();
        report(codes::kSegmentOrder, Scope::kOrderGroup, groups_.size(), at(s),
               "RXA must follow its own ORC segment (order group ORC + RXA) -- segment group rejected");
      } else {
        open->rxa = i;
      }
    } else if (id == "RXR") {
      if (open != nullptr && open->rxa != 0 && open->rxr == 0) open->rxr = i;
    }
  }
  if (!saw_pid) {
    report(codes::kSegmentMissing, Scope::kMessage, 0, {"PID", 0, 0, 0},
           "PID is required segment. Message rejected");
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].rxa == 0) {
      report(codes::kSegmentMissing, Scope::kOrderGroup, g + 1, {"RXA", 0, 0, 0},
             "RXA is required segment after each ORC -- segment group rejected");
    }
  }
}

void Converter::map_patient(const hl7::Message& message, CanonicalRow& row) {
  const Segment msh = message.segment(0);
  row[kOrgCode] = !options_.org_code.empty() ? std::string_view(options_.org_code)
                                             : text(message.msh(4).component(1));
  const Value responsible = message.msh(22);
  row[kResponsibleOrg] = !responsible.component(1).empty() ? text(responsible.component(1))
                                                           : text(message.msh(4).component(1));
  row[kExtType] = upper(message.msh(8).component(1).raw());
  {
    // MSH-7 as YYYY-MM-DDTHH:MM:SS; minutes and seconds default to zero when not sent.
    const std::string_view ts = message.msh(7).raw();
    std::size_t digits = 0;
    while (digits < ts.size() && digits < 14 && is_digit(ts[digits])) ++digits;
    if (digits >= 10 && digits % 2 == 0 && !date(ts.substr(0, 8)).empty()) {
      char* out = arena_.allocate(19);
      char padded[14];
      std::memset(padded, '0', sizeof(padded));
      std::memcpy(padded, ts.data(), digits);
      std::memcpy(out, "0000-00-00T00:00:00", 19);
      std::memcpy(out, padded, 4);
      std::memcpy(out + 5, padded + 4, 2);
      std::memcpy(out + 8, padded + 6, 2);
      std::memcpy(out + 11, padded + 8, 2);
      std::memcpy(out + 14, padded + 10, 2);
      std::memcpy(out + 17, padded + 12, 2);
      const int hour = (padded[8] - '0') * 10 + (padded[9] - '0');
      const int minute = (padded[10] - '0') * 10 + (padded[11] - '0');
      const int second = (padded[12] - '0') * 10 + (padded[13] - '0');
      if (hour < 24 && minute < 60 && second < 60) row[kLastModified] = {out, 19};
    }
    if (row[kLastModified].empty() && !ts.empty()) {
      report(codes::kDateInvalid, Scope::kField, 0, at(msh, 7),
             "MSH-7 must be a date and time YYYYMMDDHHMM[SS][+/-ZZZZ] -- data ignored",
             Severity::kWarning);
    }
  }

  const std::size_t pid_index = message.find("PID");
  if (pid_index == message.segment_count()) return;
  const Segment pid = message.segment(pid_index);
  bool pid_rejected = false;

  if (!pid.field(2).empty()) {
    report(codes::kFieldIgnored, Scope::kField, 0, at(pid, 2),
           "PID-2 is not supported -- data ignored", Severity::kWarning);
  }

  // PID-3: the first repetition is the provider's MRN; a PPRL-typed repetition is the PPRL id.
  const Value ids = pid.field(3);
  row[kRecipId] = text(ids.repetition(1).component(1));
  for (std::size_t r = 1; r <= ids.repetition_count(); ++r) {
    const Value id = ids.repetition(r);
    if (equals_ignore_case(id.component(5).raw(), "PPRL")) row[kPprlId] = text(id.component(1));
  }
  if (row[kRecipId].empty()) {
    report(codes::kRequired, Scope::kMessage, 0, at(pid, 3, 1),
           "Patient identifier is required: send the medical record number in PID-3.1");
    pid_rejected = true;
  }

  // PID-5 is XPN: family^given^middle^suffix. The family name comes first (pitfall P1).
  const Value name = pid.field(5).repetition(1);
  row[kLastName] = text(name.component(1).subcomponent(1));
  row[kFirstName] = text(name.component(2));
  row[kMiddleName] = text(name.component(3));
  row[kSuffix] = upper(text(name.component(4)));
  if (row[kLastName].empty()) {
    report(codes::kRequired, Scope::kMessage, 0, at(pid, 5),
           "Patient name is required: send PID-5 as family^given^middle");
    pid_rejected = true;
  }

  ncvr::Date dob{};
  const std::string_view dob_raw = pid.field(7).raw();
  row[kDob] = date(dob_raw, &dob);
  if (dob_raw.empty()) {
    report(codes::kRequired, Scope::kMessage, 0, at(pid, 7),
           "Birth date is required: send PID-7 as YYYYMMDD");
    pid_rejected = true;
  } else if (row[kDob].empty()) {
    report(codes::kDateInvalid, Scope::kMessage, 0, at(pid, 7),
           "Birth date is not a real date: send PID-7 as YYYYMMDD");
    pid_rejected = true;
  } else if (dob > options_.today) {
    report(codes::kDateFuture, Scope::kMessage, 0, at(pid, 7),
           "Birth date after today: send the real birth date in PID-7");
    row[kDob] = {};
    pid_rejected = true;
  }

  const std::string_view sex = upper(pid.field(8).component(1).raw());
  if (sex == "M" || sex == "F" || sex == "U") {
    row[kSex] = sex;
  } else if (!sex.empty()) {
    report(codes::kCodeUnknown, Scope::kField, 0, at(pid, 8),
           "PID-8 must be F, M or U (HL7 table 0001) -- data ignored", Severity::kWarning);
  }

  const Value races = pid.field(10);
  for (std::size_t r = 1, slot = 0; r <= races.repetition_count() && slot < 6; ++r) {
    const std::string_view code = race_or_ethnicity_code(upper(text(races.repetition(r).component(1))));
    if (!code.empty()) row[kRace1 + slot++] = code;
  }

  const Value address = pid.field(11).repetition(1);
  row[kStreet] = text(address.at(1, 1));
  row[kStreet2] = text(address.component(2));
  row[kCity] = text(address.component(3));
  row[kState] = upper(text(address.component(4)));
  row[kZip] = text(address.component(5));
  row[kCounty] = text(address.component(9));

  // PID-13 XTN: e-mail rides with use code NET in .4; a phone is area .6 + number .7 (or
  // the deprecated free text in .1).
  const Value phones = pid.field(13);
  for (std::size_t r = 1; r <= phones.repetition_count(); ++r) {
    const Value xtn = phones.repetition(r);
    if (equals_ignore_case(xtn.component(2).raw(), "NET")) {
      if (row[kEmail].empty()) row[kEmail] = text(xtn.component(4));
      continue;
    }
    if (!row[kPhone].empty()) continue;
    std::array<char, 32> joined{};
    std::size_t n = 0;
    const std::string_view area = xtn.component(6).raw();
    const std::string_view local = xtn.component(7).raw();
    const std::string_view parts[2] = {area.empty() && local.empty() ? xtn.component(1).raw() : area, local};
    for (const auto part : parts)
      for (char c : part)
        if (n < joined.size()) joined[n++] = c;
    if (n == 0) continue;
    std::array<char, 10> phone{};
    if (ncvr::normalize_phone(std::string_view(joined.data(), n), phone)) {
      row[kPhone] = arena_.keep(std::string_view(phone.data(), phone.size()));
    } else {
      report(codes::kValueInvalid, Scope::kField, 0, at(pid, 13),
             "PID-13 phone must be a 10-digit number (area code in .6, number in .7) -- data ignored",
             Severity::kWarning);
    }
  }

  row[kLanguage] = text(pid.field(15).component(1));
  row[kEthnicity] = race_or_ethnicity_code(upper(text(pid.field(22).component(1))));

  if (pid_rejected) {
    report(codes::kSegmentMissing, Scope::kMessage, 0, {"PID", 0, 0, 0},
           "PID is required segment. Message rejected");
  }

  // The first NK1 names the responsible person; without the relationship (NK1-3) the IG
  // rejects the segment, so no guardian is taken from it.
  const std::size_t nk1_index = message.find("NK1");
  if (nk1_index < message.segment_count()) {
    const Segment nk1 = message.segment(nk1_index);
    if (nk1.field(3).component(1).empty()) {
      report(codes::kRequired, Scope::kSegment, 0, at(nk1, 3),
             "Relationship missing (NK1-3, HL7 table 0063) -- segment rejected");
    } else {
      const std::string_view family = text(nk1.field(2).component(1).subcomponent(1));
      const std::string_view given = text(nk1.field(2).component(2));
      if (!family.empty() || !given.empty()) {
        // "family, given", as docs/canonical-record.md lists it.
        const std::size_t size = family.size() + given.size() + 2;
        char* out = arena_.allocate(size);
        std::size_t n = 0;
        std::memcpy(out, family.data(), family.size());
        n += family.size();
        if (!family.empty() && !given.empty()) {
          out[n++] = ',';
          out[n++] = ' ';
        }
        if (!given.empty()) std::memcpy(out + n, given.data(), given.size());
        n += given.size();
        row[kGuardian] = {out, n};
      }
    }
  }
}

void Converter::map_group(const hl7::Message& message, std::size_t group_no, const Group& group,
                          CanonicalRow& row) {
  if (group.orc != 0) {
    const Segment orc = message.segment(group.orc);
    row[kEventId] = text(orc.field(3).component(1));
    if (row[kEventId].empty()) {
      report(codes::kRequired, Scope::kOrderGroup, group_no, at(orc, 3),
             "ORC-3 (filler order number) is required: it is the vaccination event id that "
             "updates and deletes refer to -- segment group rejected");
    }
  }
  if (group.rxa == 0) return;
  const Segment rxa = message.segment(group.rxa);
  bool rxa_rejected = false;

  ncvr::Date admin{};
  const std::string_view admin_raw = rxa.field(3).raw();
  row[kAdminDate] = date(admin_raw, &admin);
  if (admin_raw.empty()) {
    report(codes::kRequired, Scope::kOrderGroup, group_no, at(rxa, 3),
           "Administration date is required: send RXA-3 as YYYYMMDD");
    rxa_rejected = true;
  } else if (row[kAdminDate].empty()) {
    report(codes::kDateInvalid, Scope::kOrderGroup, group_no, at(rxa, 3),
           "Administration date is not a real date: send RXA-3 as YYYYMMDD");
    rxa_rejected = true;
  } else if (admin > options_.today) {
    report(codes::kDateFuture, Scope::kOrderGroup, group_no, at(rxa, 3),
           "Administration date after today: send the date the dose was given in RXA-3");
    row[kAdminDate] = {};
    rxa_rejected = true;
  }

  const std::size_t findings_before = findings_.size();
  map_product(message, group_no, rxa, row);
  for (std::size_t i = findings_before; i < findings_.size(); ++i)
    rxa_rejected |= findings_[i].rejects_group(group_no) && findings_[i].location.field == 5;

  row[kVolume] = {};
  const std::string_view amount = rxa.field(6).raw();
  if (amount != "999" && ncvr::is_decimal(amount) &&
      equals_ignore_case(rxa.field(7).component(1).raw(), "mL"))
    row[kVolume] = amount;

  row[kInformationSource] = text(rxa.field(9).component(1));

  // RXA-10 XCN: id^family^given; "given family" is the provider's name as written.
  const Value provider = rxa.field(10).repetition(1);
  {
    const std::string_view family = text(provider.component(2).subcomponent(1));
    const std::string_view given = text(provider.component(3));
    if (!family.empty() || !given.empty()) {
      char* out = arena_.allocate(family.size() + given.size() + 1);
      std::size_t n = 0;
      if (!given.empty()) std::memcpy(out, given.data(), given.size());
      n += given.size();
      if (!given.empty() && !family.empty()) out[n++] = ' ';
      if (!family.empty()) std::memcpy(out + n, family.data(), family.size());
      n += family.size();
      row[kProviderName] = {out, n};
    }
    if (equals_ignore_case(provider.component(9).subcomponent(1).raw(), "NPI") ||
        equals_ignore_case(provider.component(13).raw(), "NPI"))
      row[kProviderNpi] = text(provider.component(1));
  }

  // RXA-11 LA2: .4 is the facility as name&id, the id being the VTrckS PIN.
  const Value location = rxa.field(11);
  row[kAdminName] = text(location.component(4).subcomponent(1));
  const std::string_view pin_raw = location.component(4).subcomponent(2).raw();
  std::array<char, 9> pin{};
  if (pin_raw.empty()) {
    report(codes::kRequired, Scope::kOrderGroup, group_no, at(rxa, 11, 4),
           "VTrckS PIN of the administering location is required: send RXA-11.4 as "
           "name&NCA123456 -- segment group rejected");
  } else if (ncvr::normalize_pin(pin_raw, pin)) {
    row[kPin] = arena_.keep(std::string_view(pin.data(), pin.size()));
  } else {
    report(codes::kValueInvalid, Scope::kOrderGroup, group_no, at(rxa, 11, 4),
           "RXA-11.4.2 must be a VTrckS PIN: NCA followed by 6 letters or digits -- segment "
           "group rejected");
  }
  row[kAdminType] = upper(text(location.component(6)));
  row[kAdminStreet] = text(location.component(9));
  row[kAdminStreet2] = text(location.component(10));
  row[kAdminCity] = text(location.component(11));
  row[kAdminState] = upper(text(location.component(12)));
  row[kAdminZip] = text(location.component(13));
  row[kAdminCounty] = text(location.component(16));

  row[kLot] = text(rxa.field(15).repetition(1));
  const std::string_view expiry_raw = rxa.field(16).repetition(1).raw();
  if (!expiry_raw.empty()) {
    row[kExpiry] = date(expiry_raw);
    if (row[kExpiry].empty() && expiry_raw.size() == 6) {
      // YYYYMM: a month-only expiry is allowed in the canonical record.
      char iso[10];
      std::memcpy(iso, expiry_raw.data(), 4);
      iso[4] = '-';
      std::memcpy(iso + 5, expiry_raw.data() + 4, 2);
      if (ncvr::parse_expiry(std::string_view(iso, 7))) row[kExpiry] = arena_.keep({iso, 7});
    }
    if (row[kExpiry].empty()) {
      report(codes::kDateInvalid, Scope::kField, group_no, at(rxa, 16),
             "RXA-16 (lot expiration) must be YYYYMMDD -- data ignored", Severity::kWarning);
    }
  }

  const std::string_view mvx = upper(text(rxa.field(17).component(1)));
  row[kMvx] = mvx;
  if (!mvx.empty() && !row[kCvx].empty() && catalog_.has_cvx(row[kCvx]) &&
      !catalog_.is_manufacturer(row[kCvx], mvx)) {
    report(codes::kMvxCvx, Scope::kField, group_no, at(rxa, 17),
           "RXA-17 manufacturer does not make the vaccine in RXA-5; send the MVX of the product given",
           Severity::kWarning);
  }

  row[kRefusalReason] = text(rxa.field(18).component(1));
  const std::string_view completion = upper(rxa.field(20).component(1).raw());
  if (completion.empty() || completion == "CP" || completion == "RE" || completion == "NA" ||
      completion == "PA") {
    row[kCompletion] = completion;
  } else {
    report(codes::kCodeUnknown, Scope::kField, group_no, at(rxa, 20),
           "RXA-20 must be CP, RE, NA or PA (HL7 table 0322) -- data ignored", Severity::kWarning);
  }
  row[kRefusal] = completion == "RE" ? "YES" : "NO";
  if (completion == "RE" && row[kRefusalReason].empty()) {
    report(codes::kRequired, Scope::kField, group_no, at(rxa, 18),
           "RXA-18 (refusal reason, NIP002) is required when RXA-20 is RE", Severity::kWarning);
  }

  const std::string_view action = upper(rxa.field(21).component(1).raw());
  if (action.empty()) {
    row[kActionCode] = "A";
  } else if (action == "A" || action == "U" || action == "D") {
    row[kActionCode] = action;
  } else {
    report(codes::kCodeUnknown, Scope::kOrderGroup, group_no, at(rxa, 21),
           "RXA-21 must be A, U or D (HL7 table 0323) -- segment group rejected");
  }

  if (group.rxr != 0) {
    const Segment rxr = message.segment(group.rxr);
    row[kRoute] = upper(text(rxr.field(1).component(1)));
    row[kSite] = upper(text(rxr.field(2).component(1)));
  }

  map_observations(message, group, row);

  // dose_status as the CVRS reader derives it: a dose not given, else by dose number.
  if (completion == "RE" || completion == "NA") {
    row[kDoseStatus] = "Not Administered";
  } else if (row[kDoseNum] == "1") {
    row[kDoseStatus] = "Dose One Administered";
  } else if (row[kDoseNum] == "2") {
    row[kDoseStatus] = "Dose Two Administered";
  } else if (row[kDoseNum].size() == 1 && row[kDoseNum] >= "3" && row[kDoseNum] <= "6") {
    row[kDoseStatus] = "Additional Dose Administered";
  }

  if (rxa_rejected) {
    report(codes::kSegmentMissing, Scope::kOrderGroup, group_no, {"RXA", 0, 0, 0},
           "RXA is required segment segment-group rejected");
  }
}

void Converter::map_product(const hl7::Message&, std::size_t group_no, Segment rxa, CanonicalRow& row) {
  // RXA-5 holds two CE triplets; CVX and NDC may come in either order (pitfall P3).
  const Value code = rxa.field(5);
  std::string_view cvx;
  std::string_view ndc_sent;
  for (std::size_t first : {1u, 4u}) {
    const std::string_view system = code.component(first + 2).raw();
    const std::string_view value = code.component(first).raw();
    if (value.empty()) continue;
    if (equals_ignore_case(system, "CVX") || equals_ignore_case(system, "HL70292")) {
      if (cvx.empty()) cvx = value;
    } else if (equals_ignore_case(system, "NDC")) {
      if (ndc_sent.empty()) ndc_sent = value;
    }
  }
  row[kNdcAsSent] = ndc_sent;

  const ncvr::ProductCatalog::NdcEntry* product = nullptr;
  if (!ndc_sent.empty()) {
    std::array<char, 13> normalized{};
    if (ncvr::normalize_ndc(ndc_sent, normalized))
      product = catalog_.find_ndc(ncvr::ndc_key(std::string_view(normalized.data(), normalized.size())));
    if (product == nullptr) {
      report(codes::kCodeUnknown, Scope::kField, group_no, at(rxa, 5, 4),
             "RXA-5 NDC is not the NDC of a COVID-19 vaccine product -- data ignored; send the "
             "unit-of-sale NDC with system NDC",
             Severity::kWarning);
    }
  }

  if (cvx.empty() && product != nullptr) cvx = product->cvx;  // an NDC alone names its CVX
  if (cvx.empty()) {
    report(codes::kRequired, Scope::kOrderGroup, group_no, at(rxa, 5),
           "RXA-5 is required: send the vaccine as CVX code^text^CVX -- segment rejected");
    return;
  }
  if (!catalog_.has_cvx(cvx)) {
    report(codes::kNotCovid, Scope::kOrderGroup, group_no, at(rxa, 5),
           "Vaccine code not recognized as a COVID-19 vaccine (CVX) -- field rejected; CVMS "
           "takes COVID-19 vaccinations only");
    report(codes::kRequired, Scope::kOrderGroup, group_no, at(rxa, 5),
           "RXA-5 is required segment rejected");
    return;
  }
  row[kCvx] = cvx;
  if (product == nullptr) return;
  if (product->cvx != cvx) {
    report(codes::kNdcCvx, Scope::kOrderGroup, group_no, at(rxa, 5, 4),
           "RXA-5 NDC belongs to a different vaccine than its CVX; send the NDC and CVX of the "
           "product given -- segment group rejected");
    return;
  }
  row[kNdc] = product->unit_of_sale_ndc;
  if (product->is_unit_of_use) {
    report(codes::kNdcUnitOfUse, Scope::kOrderGroup, group_no, at(rxa, 5, 4),
           "RXA-5 NDC is a unit-of-use (vial) NDC; CVMS counts inventory by the unit-of-sale "
           "(carton) NDC, which was recorded instead",
           options_.unit_of_use_is_error ? Severity::kError : Severity::kWarning);
  }
}

void Converter::map_observations(const hl7::Message& message, const Group& group, CanonicalRow& row) {
  row[kInventory] = "FEDERAL";  // only a state-funds source makes a dose STATE inventory
  const std::size_t group_no = static_cast<std::size_t>(&group - groups_.data()) + 1;
  for (std::size_t i = (group.rxa != 0 ? group.rxa : group.first) + 1; i < group.end; ++i) {
    const Segment obx = message.segment(i);
    if (obx.id() != "OBX") continue;
    const std::string_view observation = obx.field(3).component(1).raw();
    const Value value = obx.field(5);
    const std::string_view code = upper(text(value.component(1)));
    if (observation == "64994-7") {
      row[kFundingEligibility] = code;
    } else if (observation == "30963-3") {
      row[kFundingSource] = code;
      row[kInventory] = code == "VXC2" ? "STATE" : "FEDERAL";
    } else if (observation == "29768-9" || observation == "29769-7") {
      const std::string_view iso = date(value.raw());
      if (iso.empty() && !value.empty()) {
        report(codes::kDateInvalid, Scope::kField, group_no, at(obx, 5),
               "VIS date in OBX-5 must be YYYYMMDD -- data ignored", Severity::kWarning);
      }
      row[observation == "29768-9" ? kVisEdition : kVisGiven] = iso;
    } else if (observation == "30973-2") {
      // NM per the IG; CVRS-oriented senders send it as CE (1^^DCHDOSE): the code either way.
      const std::string_view n = value.component(1).raw();
      if (n.size() == 1 && n[0] >= '1' && n[0] <= '6') {
        row[kDoseNum] = n;
      } else if (equals_ignore_case(n, "UNK")) {
        row[kDoseNum] = "UNK";
      } else if (!n.empty()) {
        row[kDoseNum] = "INV";
        report(codes::kValueInvalid, Scope::kField, group_no, at(obx, 5),
               "dose number (OBX 30973-2) must be 1 to 6", Severity::kWarning);
      }
    } else if (observation == "59783-1") {
      row[kSeriesComplete] = yes_no_unk(code);
    } else if (observation == "VXC8") {
      row[kComorbid] = yes_no_unk(code);
    } else if (observation == "75505-8") {
      // A coded finding of serological evidence (SNOMED) means YES.
      const std::string_view yn = yes_no_unk(code);
      row[kSerology] = !yn.empty() ? yn : (equals_ignore_case(code, "UNK") || code.empty() ? "" : "YES");
    }
  }
}

}  // namespace vaxetl::vxu
