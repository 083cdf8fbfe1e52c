#include "format_convert.hpp"

// gcc 12 reports a false -Wrestrict inside std::string concatenation at -O3 (GCC bug 105329);
// this file builds messages by concatenation, so the warning is silenced here only.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#include <array>
#include <stdexcept>

#include "vaxetl/sdk/text.hpp"

namespace vaxetl::convert {

namespace {

constexpr std::size_t kNcvrFields = 50;
// NCVR v7.2 field positions (0-based) the conversion reads.
enum Field : std::size_t {
  kEventId = 0, kOrgCode = 2, kPin = 3, kAdminName = 4, kRecipId = 5, kFirst = 6, kMiddle = 7,
  kLast = 8, kSuffix = 9, kDob = 10, kSex = 11, kStreet = 12, kStreet2 = 13, kCity = 14,
  kCounty = 15, kState = 16, kZip = 17, kPhone = 18, kEmail = 19, kRace1 = 20, kEthnicity = 26,
  kLanguage = 27, kGuardian = 28, kAdminDate = 29, kCvx = 30, kMvx = 31, kDoseStatus = 32,
  kNdc = 33, kLot = 34, kExpiry = 35, kSite = 36, kRoute = 37, kVolume = 38, kProviderName = 39,
  kNpi = 40, kVisEdition = 41, kVisGiven = 42, kInventory = 43, kRefusal = 44,
  kRefusalReason = 45, kComorbid = 46, kSerology = 47
};

class Converter {
 public:
  Converter(const Options& options, std::FILE* out) : options_(options), out_(out) {
    if (!options.county_codes_path.empty()) {
      const auto table = sdk::DataTable::load(options.county_codes_path);
      const std::size_t set = table.column("set"), code = table.column("code"),
                        description = table.column("description");
      for (const auto& row : table.rows())
        if (row[set] == "county") county_fips_[upper(row[description])] = row[code];
    }
  }

  void record(const std::array<std::string_view, kNcvrFields>& f, std::size_t ordinal) {
    if (options_.format == Format::Cvrs) {
      cvrs(f);
    } else {
      vxu(f, ordinal);
    }
  }

  void cvrs_header() {
    static constexpr const char* kNames[] = {
        "vax_event_id", "ext_type", "pprl_id", "recip_id", "recip_first_name", "recip_middle_name",
        "recip_last_name", "recip_dob", "recip_sex", "recip_address_street",
        "recip_address_street_2", "recip_address_city", "recip_address_county",
        "recip_address_state", "recip_address_zip", "recip_race_1", "recip_race_2",
        "recip_race_3", "recip_race_4", "recip_race_5", "recip_race_6", "recip_ethnicity",
        "admin_date", "cvx", "ndc", "mvx", "lot_number", "vax_expiration", "vax_admin_site",
        "vax_route", "dose_num", "vax_series_complete", "responsible_org", "admin_name",
        "vtrcks_prov_pin", "admin_type", "admin_address_street", "admin_address_street_2",
        "admin_address_city", "admin_address_county", "admin_address_state", "admin_address_zip",
        "vax_refusal", "cmorbid_status", "serology"};
    std::string line;
    for (const char* name : kNames) line += (line.empty() ? "" : "\t") + std::string(name);
    line += "\n";
    std::fputs(line.c_str(), out_);
  }

 private:
  static std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    return out;
  }

  // CVRS and HL7 carry counties as FIPS codes.
  std::string county_fips(std::string_view county) const {
    if (county.empty()) return {};
    if (county.size() == 5 && county.find_first_not_of("0123456789") == std::string_view::npos)
      return std::string(county);
    const auto it = county_fips_.find(upper(county));
    return it != county_fips_.end() ? it->second : std::string(county);
  }

  static std::string_view dose_num(std::string_view dose_status) {
    if (dose_status == "Dose One Administered") return "1";
    if (dose_status == "Dose Two Administered") return "2";
    if (dose_status == "Additional Dose Administered" || dose_status == "Booster Dose Administered")
      return "3";
    return {};
  }

  static std::string_view pin_six(std::string_view pin) {
    return pin.size() == 9 && pin.substr(0, 3) == "NCA" ? pin.substr(3) : pin;
  }

  // NCVR's DECLINED is CVRS's POL (could not report) on the way out; readers map it back.
  static std::string_view cvrs_code(std::string_view race_or_ethnicity) {
    return race_or_ethnicity == "DECLINED" ? std::string_view("POL") : race_or_ethnicity;
  }

  void cvrs(const std::array<std::string_view, kNcvrFields>& f) {
    const bool refused = f[kRefusal] == "YES";
    std::string line;
    auto put = [&](std::string_view value) {
      if (!line.empty() || put_count_ > 0) line += '\t';
      line += value;
      ++put_count_;
    };
    put_count_ = 0;
    put(f[kEventId]);
    put("I");
    put("");
    put(f[kRecipId]);
    put(f[kFirst]);
    put(f[kMiddle]);
    put(f[kLast]);
    put(f[kDob]);
    put(f[kSex]);
    put(f[kStreet]);
    put(f[kStreet2]);
    put(f[kCity]);
    const std::string county = county_fips(f[kCounty]);
    put(county);
    put(f[kState]);
    put(f[kZip]);
    for (std::size_t r = 0; r < 6; ++r) put(cvrs_code(f[kRace1 + r]));
    put(cvrs_code(f[kEthnicity]));
    put(f[kAdminDate]);
    put(f[kCvx]);
    put(refused ? "" : f[kNdc]);
    put(refused ? "" : f[kMvx]);
    put(refused ? "" : f[kLot]);
    put(refused ? "" : f[kExpiry]);
    put(refused ? "" : f[kSite]);
    put(refused ? "" : f[kRoute]);
    put(refused ? "" : dose_num(f[kDoseStatus]));
    put(refused ? "" : "UNK");
    put(f[kOrgCode]);
    put(f[kAdminName]);
    put(pin_six(f[kPin]));
    put("UNK");
    // NCVR reports North Carolina locations: say so, or a CVRS reader cannot tell the state.
    for (int i = 0; i < 4; ++i) put("");
    put("NC");
    put("");
    put(f[kRefusal]);
    put(f[kComorbid]);
    put(f[kSerology]);
    line += "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
  }

  static std::string hl7_date(std::string_view iso) {
    std::string out;
    for (char c : iso)
      if (c != '-') out += c;
    return out;
  }

  static std::string_view hl7_race(std::string_view code, std::string& text) {
    if (code == "UNK") return text = "UNK^Unknown^NullFlavor", text;
    if (code == "DECLINED") return text = "ASKU^Asked but unknown^NullFlavor", text;
    text = std::string(code) + "^^CDCREC";
    return text;
  }

  void vxu(const std::array<std::string_view, kNcvrFields>& f, std::size_t ordinal) {
    const bool refused = f[kRefusal] == "YES";
    std::string m;
    const std::string id = std::to_string(ordinal);
    m += "MSH|^~\\&|VAXETL-CONVERT|" + hl7_escape(f[kOrgCode]) + "|NCIR|NCDHHS|" +
         hl7_date(f[kAdminDate]) + "120000-0500||VXU^V04^VXU_V04|" + id +
         "|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r";
    // PID-5 is family^given^middle^suffix (HL7 XPN: component 1 is the family name).
    m += "PID|1||" + hl7_escape(f[kRecipId]) + "^^^" + hl7_escape(f[kOrgCode]) + "^MR||" +
         hl7_escape(f[kLast]) + "^" + hl7_escape(f[kFirst]) + "^" + hl7_escape(f[kMiddle]) + "^" +
         hl7_escape(f[kSuffix]) + "^^^L||" + hl7_date(f[kDob]) + "|" + std::string(f[kSex]) + "||";
    std::string race_text;
    std::string races;
    for (std::size_t r = 0; r < 6; ++r) {
      if (f[kRace1 + r].empty()) continue;
      if (!races.empty()) races += "~";
      races += hl7_race(f[kRace1 + r], race_text);
    }
    m += races + "|" + hl7_escape(f[kStreet]) + "^" + hl7_escape(f[kStreet2]) + "^" +
         hl7_escape(f[kCity]) + "^" + std::string(f[kState]) + "^" + std::string(f[kZip]) +
         "^USA^L^^" + county_fips(f[kCounty]) + "||";
    std::string phone;
    for (char c : f[kPhone])
      if (c >= '0' && c <= '9') phone += c;
    if (phone.size() == 10) m += "^PRN^PH^^^" + phone.substr(0, 3) + "^" + phone.substr(3);
    if (!f[kEmail].empty()) m += std::string(phone.size() == 10 ? "~" : "") + "^NET^X.400^" + hl7_escape(f[kEmail]);
    m += "||" + hl7_escape(f[kLanguage]) + "|||||||";
    std::string ethnicity_text;
    m += std::string(f[kEthnicity].empty() ? "" : hl7_race(f[kEthnicity], ethnicity_text)) + "\r";
    if (!f[kGuardian].empty()) m += "NK1|1|" + hl7_escape(f[kGuardian]) + "|GRD^Guardian^HL70063\r";
    m += "ORC|RE||" + hl7_escape(f[kEventId]) + "^" + hl7_escape(f[kOrgCode]) + "\r";
    // RXA-5: the CVX triplet, with the NDC as the alternate triplet.
    m += "RXA|0|1|" + hl7_date(f[kAdminDate]) + "||" + std::string(f[kCvx]) + "^^CVX";
    if (!refused) m += "^" + std::string(f[kNdc]) + "^^NDC";
    m += "|" + std::string(refused || f[kVolume].empty() ? std::string_view("999") : f[kVolume]) +
         (refused || f[kVolume].empty() ? "|" : "|mL^^UCUM") + "||00^New record^NIP001|";
    if (!f[kNpi].empty() || !f[kProviderName].empty())
      m += hl7_escape(f[kNpi]) + "^" + hl7_escape(f[kProviderName]) + "^^^^^^^NPI";
    m += "|^^^" + hl7_escape(f[kAdminName]) + "&" + std::string(f[kPin]) + "||||";
    m += refused ? "|||" : hl7_escape(f[kLot]) + "|" + hl7_date(f[kExpiry]) + "|" + std::string(f[kMvx]) + "^^MVX";
    m += "|" + std::string(refused ? f[kRefusalReason] : std::string_view()) + (refused ? "^^NIP002" : "") +
         "||" + (refused ? "RE" : "CP") + "|A\r";
    if (!refused && (!f[kRoute].empty() || !f[kSite].empty()))
      m += "RXR|" + std::string(f[kRoute]) + "|" + std::string(f[kSite]) + "\r";
    int obx = 0;
    auto add_obx = [&](std::string_view type, std::string_view loinc, std::string_view value) {
      m += "OBX|" + std::to_string(++obx) + "|" + std::string(type) + "|" + std::string(loinc) +
           "|1|" + std::string(value) + "||||||F\r";
    };
    add_obx("CE", "30963-3^Vaccine funding source^LN",
            f[kInventory] == "STATE" ? "VXC2^State funds^CDCPHINVS" : "VXC1^Federal funds^CDCPHINVS");
    if (!refused && !dose_num(f[kDoseStatus]).empty())
      add_obx("NM", "30973-2^Dose number in series^LN", dose_num(f[kDoseStatus]));
    if (!f[kVisEdition].empty()) add_obx("TS", "29768-9^VIS publication date^LN", hl7_date(f[kVisEdition]));
    if (!f[kVisGiven].empty()) add_obx("TS", "29769-7^VIS presentation date^LN", hl7_date(f[kVisGiven]));
    add_obx("CE", "VXC8^Member of Special Risk Group^PHINVS", std::string(f[kComorbid]) + "^^HL70136");
    add_obx("CE", "75505-8^Serological evidence of immunity^LN", std::string(f[kSerology]) + "^^HL70136");
    m += "\n";  // a blank line between messages, as batch files often have
    std::fwrite(m.data(), 1, m.size(), out_);
  }

  const Options& options_;
  std::FILE* out_;
  std::map<std::string, std::string> county_fips_;
  int put_count_ = 0;
};

}  // namespace

std::string hl7_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '|': out += "\\F\\"; break;
      case '^': out += "\\S\\"; break;
      case '~': out += "\\R\\"; break;
      case '\\': out += "\\E\\"; break;
      case '&': out += "\\T\\"; break;
      default: out += c;
    }
  }
  return out;
}

std::size_t convert_file(const std::string& input, std::FILE* out, const Options& options) {
  sdk::LineReader reader(input);
  Converter converter(options, out);
  std::string_view line;
  if (!reader.next(line)) throw std::runtime_error("the NCVR file is empty");
  if (options.format == Format::Cvrs) converter.cvrs_header();
  std::size_t written = 0;
  std::array<std::string_view, kNcvrFields> fields{};
  while (reader.next(line)) {
    if (sdk::trim(line).empty()) continue;
    if (sdk::split_fields(line, '|', fields.data(), fields.size()) != kNcvrFields)
      throw std::runtime_error("line " + std::to_string(reader.line_number()) +
                               " does not have 50 fields; convert valid NCVR files only");
    converter.record(fields, ++written);
  }
  return written;
}

}  // namespace vaxetl::convert
