#include "cvrs/record_validator.hpp"

#include <algorithm>
#include <charconv>

#include "cvrs/codes.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::cvrs {
namespace {

constexpr std::size_t kWholeRecord = static_cast<std::size_t>(-1);

std::size_t canonical_column(std::string_view name) {
  const auto& columns = canonical::kColumns;
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) throw LayoutError("canonical record has no column " + std::string(name));
  return static_cast<std::size_t>(it - columns.begin());
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Two leading digits of a 5-digit FIPS county code, or -1.
int fips_state_of(std::string_view county) noexcept {
  if (county.size() != 5) return -1;
  for (char c : county)
    if (!is_digit(c)) return -1;
  return (county[0] - '0') * 10 + (county[1] - '0');
}

int zip3_of(std::string_view zip) noexcept {
  if (zip.size() < 3 || !is_digit(zip[0]) || !is_digit(zip[1]) || !is_digit(zip[2])) return -1;
  return (zip[0] - '0') * 100 + (zip[1] - '0') * 10 + (zip[2] - '0');
}

// FNV-1a, then a final mix: event ids often differ only in their last characters.
std::uint64_t hash_id(std::string_view text) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

}  // namespace

// ---- NormalizedRecord ----------------------------------------------------------------------

std::string_view NormalizedRecord::get(std::string_view column_name) const noexcept {
  for (std::size_t i = 0; i < kColumnCount; ++i)
    if (canonical::kColumns[i] == column_name) return values_[i];
  return {};
}

// ---- MessageBuffer -------------------------------------------------------------------------

RecordValidator::MessageBuffer& RecordValidator::MessageBuffer::operator<<(std::string_view text) noexcept {
  const std::size_t take = std::min(buffer_.size() - used_, text.size());
  if (take > 0) std::copy_n(text.data(), take, buffer_.data() + used_);
  used_ += take;
  return *this;
}

RecordValidator::MessageBuffer& RecordValidator::MessageBuffer::operator<<(std::size_t number) noexcept {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, number);
  return *this << std::string_view(digits, static_cast<std::size_t>(result.ptr - digits));
}

// ---- EventIdSet ----------------------------------------------------------------------------

RecordValidator::EventIdSet::EventIdSet(std::size_t max_records) {
  std::size_t capacity = 1024;
  while (capacity < 2 * max_records) capacity *= 2;  // at most half full: short probes
  slots_.assign(capacity, 0);
}

void RecordValidator::EventIdSet::clear() noexcept {
  std::fill(slots_.begin(), slots_.end(), 0);
  size_ = 0;
}

bool RecordValidator::EventIdSet::insert(std::uint64_t hash) noexcept {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = static_cast<std::size_t>(hash) & mask;; slot = (slot + 1) & mask) {
    if (slots_[slot] == hash) return false;
    if (slots_[slot] == 0) {
      slots_[slot] = hash;
      ++size_;
      return true;
    }
  }
}

// ---- setup ---------------------------------------------------------------------------------

RecordValidator::RecordValidator(const Model& model, Date today, ValidatorOptions options)
    : model_(model),
      rules_(model.rules()),
      today_(today),
      options_(std::move(options)),
      placeholder_cvx_(model.require_set("placeholder_cvx")),
      placeholder_mvx_(model.require_set("placeholder_mvx")),
      placeholder_ndc_(model.require_set("placeholder_ndc")),
      dose_status_(model.require_set("dose_status")),
      column_dose_status_(canonical_column("dose_status")),
      column_action_code_(canonical_column("action_code")),
      column_org_code_(canonical_column("org_code")),
      column_inventory_(canonical_column("inventory_source")),
      column_ndc_as_sent_(canonical_column("ndc_as_sent")),
      event_ids_(model.rules().max_records) {
  hold_message_.reserve(512);
  start_file(*model.layouts().front());
}

std::size_t RecordValidator::index_of(std::string_view name) const {
  const FieldSpec* field = layout_->find(name);
  if (field == nullptr)
    throw LayoutError("CVRS layout v" + layout_->version() + " lacks field " + std::string(name) + ", which the rules need");
  return field->position - 1;
}

void RecordValidator::start_file(const Layout& layout) {
  if (layout.fields().size() > kMaxFields) throw LayoutError("CVRS layout has more fields than the reader supports");
  layout_ = &layout;
  event_id_ = index_of("vax_event_id");
  ext_type_ = index_of("ext_type");
  pprl_id_ = index_of("pprl_id");
  dob_ = index_of("recip_dob");
  admin_date_ = index_of("admin_date");
  cvx_ = index_of("cvx");
  ndc_ = index_of("ndc");
  mvx_ = index_of("mvx");
  dose_num_ = index_of("dose_num");
  refusal_ = index_of("vax_refusal");
  pin_ = index_of("vtrcks_prov_pin");
  recip_county_ = index_of("recip_address_county");
  recip_state_ = index_of("recip_address_state");
  recip_zip_ = index_of("recip_address_zip");
  admin_county_ = index_of("admin_address_county");
  admin_state_ = index_of("admin_address_state");
  admin_zip_ = index_of("admin_address_zip");
  const FieldSpec* missed = layout.find("recip_missed_appt");
  missed_appt_ = missed != nullptr ? missed->position - 1 : kMaxFields;
  event_ids_.clear();
  records_ = 0;
  limit_warned_ = false;
}

// ---- helpers -------------------------------------------------------------------------------

void RecordValidator::set_normalized(std::size_t index, std::string_view value) noexcept {
  normalized_[index] = value;
  const std::size_t column = layout_->fields()[index].canonical_index;
  if (column != FieldSpec::kNoColumn) out_->values_[column] = value;
}

void RecordValidator::report(std::size_t index, std::string_view code, Severity severity) noexcept {
  Finding finding;
  if (index != kWholeRecord) {
    const FieldSpec& field = layout_->fields()[index];
    finding.position = field.position;
    finding.field_name = field.name;
  }
  finding.code = code;
  finding.severity = severity;
  finding.message = message_.view();
  if (severity == Severity::kError) has_error_ = true;
  sink_->report(finding);
}

void RecordValidator::fail(std::size_t index, std::string_view code) noexcept {
  states_[index] = FieldState::kInvalid;
  set_normalized(index, {});
  report(index, code);
}

// ---- validate ------------------------------------------------------------------------------

Outcome RecordValidator::validate(std::string_view line, NormalizedRecord& out, FindingSink& sink) {
  sink_ = &sink;
  out_ = &out;
  out.values_.fill(std::string_view());
  has_error_ = false;
  hold_code_ = {};
  hold_message_.clear();
  ++records_;

  const std::size_t expected = layout_->fields().size();
  const std::size_t count = sdk::split_fields(line, '\t', values_.data(), kMaxFields);
  if (count != expected) {
    message() << "the record has " << count << " tab-delimited fields; send exactly " << expected
              << " (CVRS v" << layout_->version() << "), keeping empty fields' tabs and replacing any "
              << "tab inside a value by a space";
    report(kWholeRecord, codes::kFieldCount);
    return Outcome::kRejected;
  }
  for (std::size_t i = 0; i < expected; ++i) {
    values_[i] = sdk::trim(values_[i]);
    normalized_[i] = {};
    states_[i] = values_[i].empty() ? FieldState::kEmpty : FieldState::kValid;
  }

  // The record kind and data model decide every field's usage, so read them first.
  refused_ = ncvr::equals_ignore_case(values_[refusal_], rules_.refusal_yes);
  missed_ = missed_appt_ < expected && ncvr::equals_ignore_case(values_[missed_appt_], rules_.refusal_yes);
  const std::string_view ext = layout_->fields()[ext_type_].code_set->codes.find_code(values_[ext_type_]);
  redacted_model_ = false;
  for (const auto& model : rules_.redacted_models) redacted_model_ = redacted_model_ || ext == model;

  for (std::size_t i = 0; i < expected; ++i) check_field(i);
  check_models();
  check_dates();
  check_places();
  check_product();
  check_duplicate();
  derive_columns();
  if (has_error_) return Outcome::kRejected;
  decide_hold();
  return hold_code_.empty() ? Outcome::kAccepted : Outcome::kHeld;
}

void RecordValidator::check_field(std::size_t index) {
  const FieldSpec& field = layout_->fields()[index];
  const std::string_view value = values_[index];
  const Usage usage = missed_ ? field.missed_appointment : refused_ ? field.refusal : field.vaccination;

  if (value.empty()) {
    if (field.redacted && redacted_model_) {
      message() << "is empty; in the de-identified (D) and PPRL (P) models send the word "
                << rules_.redacted_word << ", or send ext_type I with " << field.expect;
      fail(index, codes::kRedacted);
    } else if (usage == Usage::kRequired) {
      message() << "is required" << (missed_ ? " on a missed-appointment record" : refused_ ? " on a refusal record" : "")
                << "; send " << field.expect;
      fail(index, codes::kRequired);
    }
    return;
  }
  if (usage == Usage::kDoNotPopulate) {
    if (missed_) {
      message() << "must be empty on a missed-appointment record (recip_missed_appt " << rules_.refusal_yes
                << "); send it empty, or send recip_missed_appt NO if the dose was given";
    } else {
      message() << "must be empty on a refusal record (vax_refusal " << rules_.refusal_yes
                << "); send it empty, or send vax_refusal NO if the dose was given";
    }
    fail(index, codes::kRefusalFields);
    return;
  }

  std::size_t length = value.size();
  if (!ncvr::is_printable_ascii(value)) {
    const auto chars = ncvr::count_utf8_chars(value);
    if (!chars) {
      message() << "contains a control character or is not valid UTF-8; send " << field.expect
                << " as UTF-8 text";
      fail(index, codes::kEncoding);
      return;
    }
    length = *chars;
  }
  if (length > field.max_len) {
    message() << "is longer than " << field.max_len << " characters; send " << field.expect;
    fail(index, codes::kTooLong);
    return;
  }

  if (field.redacted) {
    const bool is_redacted_word = ncvr::equals_ignore_case(value, rules_.redacted_word);
    if (redacted_model_ && !is_redacted_word) {
      message() << "must hold the word " << rules_.redacted_word
                << " in the de-identified (D) and PPRL (P) models; send " << rules_.redacted_word
                << ", or send ext_type I for identified data";
      fail(index, codes::kRedacted);
      return;
    }
    // Redacted carries no information: the canonical column stays null.
    if (is_redacted_word) return;
  }

  bool shape_ok = true;
  std::string_view normalized_value = value;
  switch (field.type) {
    case FieldType::kText:
      break;
    case FieldType::kId:
      shape_ok = !ncvr::has_whitespace(value);
      break;
    case FieldType::kCode:
    case FieldType::kState: {
      const std::string_view code = field.code_set->codes.find_code(value);
      if (code.empty()) {
        message() << "is not an accepted code; send " << field.expect;
        fail(index, codes::kCode);
        return;
      }
      const std::string_view mapped = field.code_set->canonical.empty() ? std::string_view() : field.code_set->canonical.find(code);
      normalized_value = mapped.empty() ? code : mapped;
      break;
    }
    case FieldType::kDate: {
      const auto date = ncvr::parse_date(value);
      shape_ok = date.has_value();
      if (date) dates_[index] = *date;
      break;
    }
    case FieldType::kExpiry:
      shape_ok = ncvr::parse_expiry(value).has_value();
      break;
    case FieldType::kCounty:
      shape_ok = !model_.state_of_fips(fips_state_of(value)).empty();
      break;
    case FieldType::kZip:
      shape_ok = ncvr::is_zip(value);
      break;
    case FieldType::kPin:
      shape_ok = ncvr::normalize_pin(value, out_->pin_);
      if (shape_ok) normalized_value = std::string_view(out_->pin_.data(), out_->pin_.size());
      break;
    case FieldType::kNdc:
      shape_ok = ncvr::normalize_ndc(value, out_->ndc_);
      if (shape_ok) normalized_value = std::string_view(out_->ndc_.data(), out_->ndc_.size());
      break;
  }
  if (!shape_ok) {
    message() << "is not in the expected form; send " << field.expect;
    fail(index, codes::kFormat);
    return;
  }
  set_normalized(index, normalized_value);
}

void RecordValidator::check_models() {
  const std::string_view ext = normalized(ext_type_);
  if (!valid(ext_type_) || states_[pprl_id_] == FieldState::kInvalid) return;
  const bool pprl_model = ext == rules_.pprl_model;
  const bool has_pprl = valid(pprl_id_);
  if (pprl_model && !has_pprl) {
    message() << "is required when ext_type is " << rules_.pprl_model
              << "; send the record-linkage id, or send the ext_type of the model used";
    fail(pprl_id_, codes::kPprlId);
  } else if (!pprl_model && has_pprl) {
    message() << "must be empty unless ext_type is " << rules_.pprl_model
              << "; send it empty, or send ext_type " << rules_.pprl_model << " for PPRL data";
    fail(pprl_id_, codes::kPprlId);
  }
}

void RecordValidator::check_dates() {
  bool dob_ok = valid(dob_);
  if (dob_ok && dates_[dob_] > today_) {
    message() << "is in the future; send the recipient's real date of birth as YYYY-MM-DD";
    fail(dob_, codes::kDateFuture);
    dob_ok = false;
  }
  bool admin_ok = valid(admin_date_);
  if (admin_ok && dates_[admin_date_] > today_) {
    message() << "is in the future; send the date the dose was given (or refused) as YYYY-MM-DD";
    fail(admin_date_, codes::kDateFuture);
    admin_ok = false;
  }
  if (dob_ok && admin_ok && !(dates_[dob_] < dates_[admin_date_])) {
    message() << "is not before admin_date; send the recipient's date of birth, which must be earlier "
                 "than the date of the vaccination event";
    fail(dob_, codes::kDateOrder);
  }
}

void RecordValidator::check_places() {
  const std::size_t places[2][3] = {{recip_county_, recip_state_, recip_zip_},
                                    {admin_county_, admin_state_, admin_zip_}};
  for (const auto& place : places) {
    const std::size_t county = place[0], state = place[1], zip = place[2];
    if (!valid(state)) continue;
    const std::string_view usps = normalized(state);
    if (valid(county) && model_.state_of_fips(fips_state_of(normalized(county))) != usps) {
      message() << "is in another state than " << layout_->fields()[state].name
                << " (its first two digits are the state's FIPS code); send the county's 5-digit FIPS "
                   "code in that state, or correct the state";
      fail(county, codes::kCountyState);
    }
    if (valid(zip)) {
      const std::string_view zip_state = model_.state_of_zip3(zip3_of(normalized(zip)));
      // Only where the ZIP3 table knows the prefix: military and unlisted prefixes pass.
      if (!zip_state.empty() && zip_state != usps) {
        message() << "belongs to another state than " << layout_->fields()[state].name
                  << "; check the ZIP code and the state and send the pair that agrees";
        report(zip, codes::kZipState, Severity::kWarning);
      }
    }
  }
}

void RecordValidator::check_product() {
  const Severity placeholder_severity = options_.placeholder_is_error ? Severity::kError : Severity::kWarning;
  auto placeholder = [&](std::size_t index) {
    message() << "is a CDC development placeholder code, not a real product; send the real "
              << layout_->fields()[index].expect;
    if (placeholder_severity == Severity::kError) {
      fail(index, codes::kPlaceholderCode);
    } else {
      report(index, codes::kPlaceholderCode, Severity::kWarning);
    }
  };
  const bool cvx_placeholder = valid(cvx_) && !placeholder_cvx_.codes.find_code(normalized(cvx_)).empty();
  if (cvx_placeholder) placeholder(cvx_);
  const bool mvx_placeholder = valid(mvx_) && !placeholder_mvx_.codes.find_code(normalized(mvx_)).empty();
  if (mvx_placeholder) placeholder(mvx_);

  const ProductCatalog& catalog = model_.catalog();
  const std::string_view cvx = valid(cvx_) ? normalized(cvx_) : std::string_view();
  if (valid(mvx_) && !mvx_placeholder && !cvx.empty() && catalog.has_cvx(cvx) &&
      normalized(mvx_) != "UNK" && !catalog.is_manufacturer(cvx, normalized(mvx_))) {
    message() << "is not the manufacturer of the vaccine in cvx; send " << catalog.manufacturer_of(cvx)
              << " for this CVX, or correct cvx";
    fail(mvx_, codes::kMvxCvx);
  }

  if (!valid(ndc_)) return;
  out_->values_[column_ndc_as_sent_] = values_[ndc_];
  const std::string_view ndc = normalized(ndc_);
  if (!placeholder_ndc_.codes.find_code(ndc).empty()) {
    placeholder(ndc_);
    return;
  }
  const ProductCatalog::NdcEntry* entry = catalog.find_ndc(ncvr::ndc_key(ndc));
  if (entry == nullptr) {
    message() << "is not a COVID-19 vaccine product the catalog knows; send the product's unit-of-sale "
                 "NDC in 5-4-2 form, or leave it empty if unknown";
    fail(ndc_, codes::kNdcCvx);
    return;
  }
  if (!cvx.empty() && !cvx_placeholder && entry->cvx != cvx) {
    message() << "belongs to another vaccine than the one in cvx; send the NDC of the CVX given, or "
                 "correct cvx";
    fail(ndc_, codes::kNdcCvx);
    return;
  }
  if (entry->is_unit_of_use) {
    // CVMS keeps inventory by the carton (unit-of-sale) NDC (nc-rules.md).
    message() << "is a unit-of-use (vial) NDC; it was mapped to its unit-of-sale NDC "
              << entry->unit_of_sale_ndc << ", which is what to send";
    if (options_.unit_of_use_is_error) {
      fail(ndc_, codes::kNdcUnitOfUse);
      return;
    }
    report(ndc_, codes::kNdcUnitOfUse, Severity::kWarning);
  }
  set_normalized(ndc_, entry->unit_of_sale_ndc);
}

void RecordValidator::check_duplicate() {
  if (!valid(event_id_)) return;
  if (event_ids_.size() >= rules_.max_records) {
    if (!limit_warned_) {
      limit_warned_ = true;
      message() << "the file has more than " << rules_.max_records
                << " records, CDC's per-file limit; later records are not checked for repeated "
                   "vax_event_id; split larger submissions into several files";
      report(kWholeRecord, codes::kTooManyRecords, Severity::kWarning);
    }
    return;
  }
  if (!event_ids_.insert(hash_id(values_[event_id_]))) {
    message() << "repeats the vax_event_id of an earlier record of this file; send each vaccination "
                 "event once, with its own unique id";
    fail(event_id_, codes::kDuplicateEvent);
  }
}

void RecordValidator::derive_columns() {
  auto& values = out_->values_;
  values[column_action_code_] = rules_.action_code;
  values[column_org_code_] = options_.org_code;
  values[column_inventory_] = rules_.inventory_source;
  if (refused_ || missed_) {
    values[column_dose_status_] = rules_.refused_dose_status;
  } else if (valid(dose_num_)) {
    values[column_dose_status_] = dose_status_.canonical.find(normalized(dose_num_));  // INV, UNK: null
  }
}

void RecordValidator::decide_hold() {
  // Where the dose was given: the site's state, else what its county, ZIP or PIN says.
  std::string_view state;
  std::string_view source;
  if (valid(admin_state_)) {
    state = normalized(admin_state_);
    source = "admin_address_state";
  } else if (valid(admin_county_)) {
    state = model_.state_of_fips(fips_state_of(normalized(admin_county_)));
    source = "admin_address_county";
  } else if (valid(admin_zip_) && !model_.state_of_zip3(zip3_of(normalized(admin_zip_))).empty()) {
    state = model_.state_of_zip3(zip3_of(normalized(admin_zip_)));
    source = "admin_address_zip";
  } else if (valid(pin_) && values_[pin_].size() == 9 &&
             ncvr::equals_ignore_case(values_[pin_].substr(0, 3), rules_.home_pin_prefix)) {
    state = rules_.home_state;
    source = "vtrcks_prov_pin";
  }
  if (state.empty()) {
    hold_code_ = codes::kAdminStateUnknown;
    hold_message_.append("held: the administration state cannot be told (admin_address_state, "
                         "admin_address_county and admin_address_zip are empty and the PIN has no ");
    hold_message_.append(rules_.home_pin_prefix);
    hold_message_.append(" prefix); only vaccinations given in ");
    hold_message_.append(rules_.home_state);
    hold_message_.append(" are loaded; send admin_address_state");
    return;
  }
  if (state == rules_.home_state) return;
  hold_code_ = codes::kNotNorthCarolina;
  hold_message_.append("held: ");
  hold_message_.append(source);
  hold_message_.append(" places the vaccination outside ");
  hold_message_.append(rules_.home_state);
  hold_message_.append("; only vaccinations given in ");
  hold_message_.append(rules_.home_state);
  hold_message_.append(" are loaded; send this record to the jurisdiction where it was given, or "
                       "correct the administration address");
}

}  // namespace vaxetl::cvrs
