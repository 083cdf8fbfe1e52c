#include "ncvr/record_validator.hpp"

#include <algorithm>
#include <charconv>

#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {
namespace {

constexpr std::size_t kNoField = static_cast<std::size_t>(-1);

std::string_view field_type_name(FieldType type) noexcept {
  switch (type) {
    case FieldType::kDate: return "date";
    case FieldType::kExpiry: return "expiry";
    case FieldType::kNdc: return "ndc";
    case FieldType::kCode: return "code";
    case FieldType::kCounty: return "county";
    default: return "another type";
  }
}

// "Wake County" names the county "Wake"; providers' systems often add the word.
std::string_view without_county_word(std::string_view value) noexcept {
  constexpr std::string_view kWord = " county";
  if (value.size() > kWord.size() && equals_ignore_case(value.substr(value.size() - kWord.size()), kWord))
    value.remove_suffix(kWord.size());
  return sdk::trim(value);
}

}  // namespace

// ---- NormalizedRecord ----------------------------------------------------------------------

std::string_view NormalizedRecord::get(std::string_view column_name) const noexcept {
  for (std::size_t i = 0; i < kColumnCount; ++i)
    if (canonical::kColumns[i] == column_name) return values_[i];
  return {};
}

void NormalizedRecord::reset() noexcept {
  values_.fill(std::string_view());
  scratch_used_ = 0;
}

std::string_view NormalizedRecord::keep(std::string_view text) noexcept {
  // PIN + phone + NDC fit the capacity, so running out cannot happen with this layout.
  if (scratch_used_ + text.size() > scratch_.size()) return {};
  char* start = scratch_.data() + scratch_used_;
  std::copy(text.begin(), text.end(), start);
  scratch_used_ += text.size();
  return {start, text.size()};
}

// ---- MessageBuffer -------------------------------------------------------------------------

RecordValidator::MessageBuffer& RecordValidator::MessageBuffer::operator<<(std::string_view text) noexcept {
  const std::size_t room = buffer_.size() - used_;
  const std::size_t take = std::min(room, text.size());
  std::copy_n(text.data(), take, buffer_.data() + used_);
  used_ += take;
  return *this;
}

RecordValidator::MessageBuffer& RecordValidator::MessageBuffer::operator<<(std::size_t number) noexcept {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, number);
  return *this << std::string_view(digits, static_cast<std::size_t>(result.ptr - digits));
}

RecordValidator::MessageBuffer& RecordValidator::MessageBuffer::operator<<(int number) noexcept {
  char digits[16];
  const auto result = std::to_chars(digits, digits + sizeof digits, number);
  return *this << std::string_view(digits, static_cast<std::size_t>(result.ptr - digits));
}

// ---- RecordValidator: setup ----------------------------------------------------------------

std::size_t RecordValidator::require_field(std::string_view canonical_name, FieldType type,
                                           std::string_view rule) const {
  const FieldSpec* field = layout_.find_field(canonical_name);
  if (field == nullptr)
    throw LayoutError("the layout lacks field '" + std::string(canonical_name) + "', which rule " +
                      std::string(rule) + " needs");
  const bool expiry_as_date = type == FieldType::kExpiry && field->type == FieldType::kDate;
  if (field->type != type && !expiry_as_date)
    throw LayoutError("layout field '" + field->name + "' must have type " +
                      std::string(field_type_name(type)) + " for rule " + std::string(rule));
  return field->position - 1;
}

std::size_t RecordValidator::require_code_field(std::string_view canonical_name, std::string_view rule) const {
  return require_field(canonical_name, FieldType::kCode, rule);
}

std::string_view RecordValidator::require_code(std::size_t field, std::string_view code,
                                               std::string_view parameter) const {
  const FieldSpec& spec = layout_.fields()[field];
  const std::string_view spelling = spec.code_set->find_code(code);
  if (spelling.empty())
    throw LayoutError("rule parameter " + std::string(parameter) + " ('" + std::string(code) +
                      "') is not in code set '" + spec.code_set->name() + "' of field " + spec.name);
  return spelling;
}

RecordValidator::RecordValidator(const Layout& layout, const ProductCatalog& catalog, Date today,
                                 ValidatorOptions options)
    : layout_(layout), catalog_(catalog), rules_(layout.rules()), today_(today), options_(options) {
  if (layout_.fields().size() > kMaxFields)
    throw LayoutError("the layout has more fields than the validator supports (" +
                      std::to_string(kMaxFields) + ")");
  for (const FieldSpec& field : layout_.fields()) {
    FieldRule& rule = field_rules_[field.position - 1];
    rule.type = field.type;
    rule.required = field.usage == Usage::kRequired;
    rule.in_refusal_range = field.position >= rules_.refusal_first && field.position <= rules_.refusal_last;
    rule.max_len = field.max_len;
    rule.canonical_index = field.canonical_index;
    rule.code_set = field.code_set;
  }
  dob_ = require_field("recip_dob", FieldType::kDate, "NCVR_DATE_ORDER");
  admin_date_ = require_field("admin_date", FieldType::kDate, "NCVR_ADMIN_BEFORE_EUA");
  expiry_ = require_field("vax_expiration", FieldType::kExpiry, "NCVR_EXPIRED_LOT");
  ndc_ = require_field("ndc", FieldType::kNdc, "NCVR_NDC_CVX");
  cvx_ = require_code_field("cvx", "NCVR_MVX_CVX");
  mvx_ = require_code_field("mvx", "NCVR_MVX_CVX");
  dose_status_ = require_code_field("dose_status", "NCVR_JANSSEN_DOSE");
  refusal_ = require_code_field("vax_refusal", "NCVR_REFUSAL_FIELDS");
  refusal_reason_ = require_code_field("refusal_reason", "NCVR_CONDITIONAL");
  state_ = require_code_field("recip_address_state", "NCVR_COUNTY_STATE");
  county_ = require_field("recip_address_county", FieldType::kCounty, "NCVR_COUNTY_STATE");
  constexpr std::string_view kRaceColumns[] = {"recip_race_1", "recip_race_2", "recip_race_3",
                                               "recip_race_4", "recip_race_5", "recip_race_6"};
  for (std::size_t i = 0; i < race_.size(); ++i) race_[i] = require_code_field(kRaceColumns[i], "NCVR_RACE_EXTRA");
  ndc_as_sent_column_ = static_cast<std::size_t>(
      std::find(canonical::kColumns.begin(), canonical::kColumns.end(), "ndc_as_sent") -
      canonical::kColumns.begin());

  janssen_cvx_ = require_code(cvx_, rules_.janssen_cvx, "janssen_cvx");
  janssen_dose_status_ = require_code(dose_status_, rules_.janssen_dose_status, "janssen_dose_status");
  refused_dose_status_ = require_code(dose_status_, rules_.refused_dose_status, "refused_dose_status");
  refusal_yes_ = require_code(refusal_, rules_.refusal_yes, "refusal_yes");
  for (const std::string& race : rules_.race_without_extras)
    race_without_extras_.push_back(require_code(race_[0], race, "race_without_extras"));

  // The CVX code set and the catalog must name the same vaccines, or a valid record could
  // never pass (or an unknown product would).
  const CodeSet& cvx_set = *layout_.fields()[cvx_].code_set;
  for (const auto& entry : cvx_set.entries()) {
    if (!catalog_.has_cvx(entry.code))
      throw LayoutError("CVX " + entry.code + " is in code set '" + cvx_set.name() +
                        "' but has no product in the catalog");
    sale_ndcs_by_cvx_.emplace_back(entry.code, catalog_.unit_of_sale_list(entry.code));
    manufacturer_by_cvx_.emplace_back(entry.code.data(), catalog_.manufacturer_of(entry.code));
  }
  for (const auto& entry : catalog_.entries()) {
    if (cvx_set.find_code(entry.cvx) != entry.cvx)
      throw LayoutError("catalog CVX " + entry.cvx + " is not in code set '" + cvx_set.name() + "'");
    if (layout_.fields()[mvx_].code_set->find_code(entry.mvx) != entry.mvx)
      throw LayoutError("catalog MVX " + entry.mvx + " is not in the MVX code set");
  }
}

// ---- RecordValidator: per record -----------------------------------------------------------

std::string_view RecordValidator::normalized(std::size_t index) const noexcept {
  return (*out_)[field_rules_[index].canonical_index];
}

void RecordValidator::set_normalized(std::size_t index, std::string_view value) noexcept {
  out_->values_[field_rules_[index].canonical_index] = value;
}

RecordValidator::MessageBuffer& RecordValidator::message_about(std::size_t index) noexcept {
  message_.clear();
  return message_ << layout_.fields()[index].name;
}

void RecordValidator::report(std::size_t index, std::string_view code, Severity severity) noexcept {
  Finding finding;
  if (index != kNoField) {
    finding.position = index + 1;
    finding.field_name = layout_.fields()[index].name;
  }
  finding.code = code;
  finding.severity = severity;
  finding.message = message_.view();
  if (severity == Severity::kError) has_error_ = true;
  sink_->report(finding);
}

bool RecordValidator::validate(std::string_view line, NormalizedRecord& out, FindingSink& sink) {
  out.reset();
  out_ = &out;
  sink_ = &sink;
  has_error_ = false;

  const auto& fields = layout_.fields();
  std::string_view* raw = raw_fields_.data();
  const std::size_t count = sdk::split_fields(line, '|', raw, kMaxFields);
  if (count != fields.size()) {
    message_.clear();
    message_ << "the record has " << count << " fields; expected " << fields.size()
             << " separated by '|'. Send every field, empty ones too, and no '|' inside a value";
    report(kNoField, codes::kFieldCount);
    return false;
  }

  refused_ = equals_ignore_case(sdk::trim(raw[refusal_]), refusal_yes_);
  // One pass over the whole line spares the per-field UTF-8 scan in the common case.
  line_is_printable_ascii_ = is_printable_ascii(line);
  for (std::size_t i = 0; i < count; ++i) {
    const FieldRule& rule = field_rules_[i];
    const std::string_view value = sdk::trim(raw[i]);
    values_[i] = value;
    out.values_[rule.canonical_index] = value;
    if (!value.empty()) {
      states_[i] = check_value(i, rule, value) ? FieldState::kValid : FieldState::kInvalid;
      continue;
    }
    states_[i] = FieldState::kEmpty;
    // A refused dose leaves the administration fields empty; check_refusal covers them.
    if (rule.required && !(refused_ && rule.in_refusal_range)) {
      message_about(i) << " is required but empty; send " << layout_.fields()[i].expect;
      report(i, codes::kRequired);
    }
  }

  check_dates();
  check_refusal();
  check_product();
  check_race();
  check_county();
  return !has_error_;
}

bool RecordValidator::check_value(std::size_t index, const FieldRule& rule, std::string_view value) {
  const FieldSpec& field = layout_.fields()[index];
  const auto chars = line_is_printable_ascii_ ? std::optional<std::size_t>(value.size())
                                               : count_utf8_chars(value);
  if (!chars) {
    message_about(index) << " contains a control character (tab, line break) or bytes that are not "
                            "UTF-8 text; send " << field.expect << ", as UTF-8 text";
    report(index, codes::kFormat);
    return false;
  }
  if (*chars > rule.max_len) {
    message_about(index) << " is longer than " << field.max_len << " characters; send "
                         << field.expect << ", at most " << field.max_len << " characters";
    report(index, codes::kTooLong);
    return false;
  }

  bool shape_ok = true;
  switch (rule.type) {
    case FieldType::kText:
    case FieldType::kName:
    case FieldType::kCounty:  // checked against the state in check_county
      break;
    case FieldType::kId:
      shape_ok = !has_whitespace(value);
      break;
    case FieldType::kOrgCode:
      shape_ok = is_upper_alnum(value);
      break;
    case FieldType::kPin: {
      std::array<char, 9> pin{};
      shape_ok = normalize_pin(value, pin);
      const std::string_view normalized_pin(pin.data(), pin.size());
      if (shape_ok && value != normalized_pin) set_normalized(index, out_->keep(normalized_pin));
      break;
    }
    case FieldType::kPhone: {
      std::array<char, 10> phone{};
      shape_ok = normalize_phone(value, phone);
      const std::string_view normalized_phone(phone.data(), phone.size());
      if (shape_ok && value != normalized_phone) set_normalized(index, out_->keep(normalized_phone));
      break;
    }
    case FieldType::kDate: {
      const auto date = parse_date(value);
      shape_ok = date.has_value();
      if (shape_ok) dates_[index] = *date;
      break;
    }
    case FieldType::kExpiry: {
      const auto date = parse_expiry(value);
      shape_ok = date.has_value();
      if (shape_ok) dates_[index] = *date;
      break;
    }
    case FieldType::kZip:
      shape_ok = is_zip(value);
      break;
    case FieldType::kEmail:
      shape_ok = is_email(value);
      break;
    case FieldType::kDecimal:
      shape_ok = is_decimal(value);
      break;
    case FieldType::kTimestamp:
      shape_ok = is_timestamp(value);
      break;
    case FieldType::kLot:
      shape_ok = is_lot_number(value);
      break;
    case FieldType::kNpi:
      shape_ok = is_npi_shape(value);
      if (shape_ok && !npi_check_digit_ok(value)) {
        message_about(index) << " fails the NPI check digit, so one of its digits is wrong; send "
                             << field.expect << " exactly as registered in NPPES";
        report(index, codes::kNpiCheck);
        return false;
      }
      break;
    case FieldType::kNdc:
      // The catalog lookup in check_product picks the stored spelling; this is the fallback.
      shape_ok = normalize_ndc(value, ndc_normalized_);
      if (shape_ok) {
        const std::string_view normalized_ndc(ndc_normalized_.data(), ndc_normalized_.size());
        if (value != normalized_ndc) set_normalized(index, out_->keep(normalized_ndc));
      }
      break;
    case FieldType::kCode: {
      const std::string_view code = rule.code_set->find_code(value);
      if (code.empty()) {
        message_about(index) << " is not an accepted code; send " << field.expect;
        report(index, codes::kCode);
        return false;
      }
      set_normalized(index, code);
      break;
    }
  }
  if (!shape_ok) {
    message_about(index) << " is not in the expected form; send " << field.expect;
    report(index, codes::kFormat);
    return false;
  }
  return true;
}

void RecordValidator::check_dates() {
  bool dob_usable = valid(dob_);
  if (dob_usable && dates_[dob_] > today_) {
    message_about(dob_) << " is in the future; send the recipient's real date of birth as YYYY-MM-DD";
    report(dob_, codes::kDateFuture);
    dob_usable = false;
  }
  bool admin_usable = valid(admin_date_);
  if (admin_usable && dates_[admin_date_] > today_) {
    message_about(admin_date_) << " is in the future; send the date the dose was given as YYYY-MM-DD";
    report(admin_date_, codes::kDateFuture);
    admin_usable = false;
  }
  if (admin_usable && dates_[admin_date_] < rules_.eua_date) {
    const Date& eua = rules_.eua_date;
    message_about(admin_date_) << " is before " << eua.year << "-" << (eua.month < 10 ? "0" : "")
                               << eua.month << "-" << (eua.day < 10 ? "0" : "") << eua.day
                               << ", the first COVID-19 emergency use authorization; send the date "
                                  "the dose was actually given as YYYY-MM-DD";
    report(admin_date_, codes::kAdminBeforeEua);
  }
  if (dob_usable && admin_usable) {
    const Date& dob = dates_[dob_];
    const Date& admin = dates_[admin_date_];
    if (dob > admin) {
      message_about(dob_) << " is after admin_date; send the recipient's date of birth, which cannot "
                             "be later than the date the dose was given";
      report(dob_, codes::kDateOrder);
    } else if (age_in_years(dob, admin) > rules_.max_age_years) {
      message_about(dob_) << " makes the recipient older than " << rules_.max_age_years
                          << " years on admin_date; check and send the recipient's date of birth "
                             "as YYYY-MM-DD";
      report(dob_, codes::kAge);
    }
  }
  if (admin_usable && valid(expiry_) && dates_[admin_date_] > dates_[expiry_]) {
    message_about(expiry_) << " is before admin_date: the dose was given from an expired lot. Check "
                              "lot_number and vax_expiration and send the lot's real expiration "
                              "date; report the expired dose to your immunization program";
    report(expiry_, codes::kExpiredLot, Severity::kWarning);
  }
}

void RecordValidator::check_refusal() {
  if (!refused_) return;
  for (std::size_t position = rules_.refusal_first; position <= rules_.refusal_last; ++position) {
    const std::size_t index = position - 1;
    if (states_[index] == FieldState::kEmpty) continue;
    message_about(index) << " must be empty when vax_refusal is " << refusal_yes_
                         << " (the dose was refused); leave it empty, or send vax_refusal NO "
                            "if the dose was given";
    report(index, codes::kRefusalFields);
  }
  if (valid(dose_status_) && normalized(dose_status_) != refused_dose_status_) {
    message_about(dose_status_) << " must be " << refused_dose_status_ << " when vax_refusal is "
                                << refusal_yes_ << "; send " << refused_dose_status_
                                << ", or send vax_refusal NO if the dose was given";
    report(dose_status_, codes::kRefusalFields);
  }
  if (states_[refusal_reason_] == FieldState::kEmpty) {
    message_about(refusal_reason_) << " is required when vax_refusal is " << refusal_yes_ << "; send "
                                   << layout_.fields()[refusal_reason_].expect;
    report(refusal_reason_, codes::kConditional);
  }
}

std::string_view RecordValidator::sale_ndcs_of(std::string_view cvx) const noexcept {
  for (const auto& [code, list] : sale_ndcs_by_cvx_)
    if (code == cvx) return list;
  return {};
}

void RecordValidator::check_product() {
  const bool cvx_ok = valid(cvx_);
  const std::string_view cvx = normalized(cvx_);
  if (cvx_ok && valid(mvx_)) {
    // A valid cvx is the code set's own string, so its address identifies the code.
    std::string_view manufacturer;
    for (const auto& [code, mvx] : manufacturer_by_cvx_)
      if (code == cvx.data()) manufacturer = mvx;
    if (manufacturer != normalized(mvx_)) {
      message_about(mvx_) << " is not the manufacturer of the vaccine in cvx; send " << manufacturer
                          << " for this CVX, or correct cvx";
      report(mvx_, codes::kMvxCvx);
    }
  }
  if (cvx_ok && !refused_ && valid(dose_status_) && cvx == janssen_cvx_ &&
      normalized(dose_status_) != janssen_dose_status_) {
    message_about(dose_status_) << " must be " << janssen_dose_status_ << " for Janssen (CVX "
                                << janssen_cvx_ << "); send " << janssen_dose_status_;
    report(dose_status_, codes::kJanssenDose);
  }

  if (states_[ndc_] != FieldState::kEmpty) out_->values_[ndc_as_sent_column_] = values_[ndc_];
  if (!valid(ndc_)) return;
  const ProductCatalog::NdcEntry* entry =
      catalog_.find_ndc(ndc_key(std::string_view(ndc_normalized_.data(), ndc_normalized_.size())));
  if (entry == nullptr) {
    message_about(ndc_) << " is not the NDC of a COVID-19 vaccine product; send the unit-of-sale "
                           "(carton) NDC as 5-4-2 digits with hyphens";
    if (cvx_ok) message_ << " (for this CVX: " << sale_ndcs_of(cvx) << ")";
    report(ndc_, codes::kNdcCvx);
    return;
  }
  if (cvx_ok && entry->cvx != cvx) {
    message_about(ndc_) << " belongs to a different vaccine than cvx; send the unit-of-sale NDC of the "
                           "product given (for this CVX: " << sale_ndcs_of(cvx) << "), or correct cvx";
    report(ndc_, codes::kNdcCvx);
    return;
  }
  set_normalized(ndc_, entry->unit_of_sale_ndc);
  if (entry->is_unit_of_use) {
    message_about(ndc_) << " is a unit-of-use (vial) NDC; CVMS counts inventory by the unit-of-sale "
                           "(carton) NDC, so send " << entry->unit_of_sale_ndc
                        << (options_.unit_of_use_is_error ? "" : " (used in its place for this record)");
    report(ndc_, codes::kNdcUnitOfUse,
           options_.unit_of_use_is_error ? Severity::kError : Severity::kWarning);
  }
}

void RecordValidator::check_race() {
  if (!valid(race_[0])) return;
  const std::string_view first = normalized(race_[0]);
  if (std::find(race_without_extras_.begin(), race_without_extras_.end(), first) == race_without_extras_.end())
    return;
  for (std::size_t i = 1; i < race_.size(); ++i) {
    if (states_[race_[i]] == FieldState::kEmpty) continue;
    message_about(race_[i]) << " must be empty when recip_race_1 is " << first
                            << "; leave it empty, or send the race codes starting in recip_race_1";
    report(race_[i], codes::kRaceExtra);
  }
}

void RecordValidator::check_county() {
  if (!valid(state_) || !valid(county_)) return;
  const std::string_view county = values_[county_];
  if (normalized(state_) == rules_.home_state) {
    const CodeSet& counties = *field_rules_[county_].code_set;
    // Normalized to the FIPS code, the one form every format (CVRS, HL7 PID-11.9) shares.
    std::string_view spelling = counties.code_of_code_or_description(county);
    if (spelling.empty()) spelling = counties.code_of_code_or_description(without_county_word(county));
    if (!spelling.empty()) {
      set_normalized(county_, spelling);
      return;
    }
    message_about(county_) << " is not a county of " << rules_.home_state << " although recip_address_state is "
                           << rules_.home_state << "; send the " << rules_.home_state << " county name or its "
                           << rules_.home_county_fips_prefix << "xxx FIPS code, or leave it empty if unknown";
    report(county_, codes::kCountyState);
    return;
  }
  // Names like Union or Wayne exist in many states; only a home-state FIPS code is conclusive.
  const std::string_view prefix = rules_.home_county_fips_prefix;
  const bool fips_shape = county.size() == 5 &&
                          std::all_of(county.begin(), county.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (fips_shape && county.substr(0, prefix.size()) == prefix) {
    message_about(county_) << " is a " << rules_.home_state << " county code but recip_address_state is not "
                           << rules_.home_state << "; send the county of the recipient's state, or correct "
                              "recip_address_state";
    report(county_, codes::kCountyState);
  }
}

}  // namespace vaxetl::ncvr
