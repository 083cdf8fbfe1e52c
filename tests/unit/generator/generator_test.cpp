// Tests for ncvr_gen. Besides the properties of the output (determinism, shape, rates), a small
// independent reading of the NCVR v7.2 rules (RuleCheck below) recomputes the codes of every
// record and must agree exactly with the ground truth: each injected error fires its one code.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ncvr_gen.hpp"
#include "reference_data.hpp"
#include "vaxetl/sdk/text.hpp"

namespace gen = vaxetl::ncvr_gen;
using std::string;
using std::string_view;

namespace {

string data_dir() { return string(VAXETL_SOURCE_DIR) + "/plugins/ncvr/data"; }

// The layout lives in the ncvr plugin's data folder; before it lands there, use the shared
// spec beside the repository (the same columns).
string layout_path() {
  for (const string& p : {data_dir() + "/ncvr-v7.2.tsv",
                          string(VAXETL_SOURCE_DIR) + "/../shared/specs/ncvr-v7.2.tsv",
                          string("/work/shared/specs/ncvr-v7.2.tsv")})
    if (std::filesystem::exists(p)) return p;
  return data_dir() + "/ncvr-v7.2.tsv";
}

const gen::Catalog& catalog() {
  static const gen::Catalog c = gen::Catalog::load(data_dir() + "/products.tsv", layout_path());
  return c;
}

gen::Options options(std::uint64_t records, std::uint64_t seed = 7) {
  gen::Options o;
  o.records = records;
  o.seed = seed;
  return o;
}

std::vector<string_view> lines_of(string_view text) {
  std::vector<string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == string_view::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<string_view> split(string_view line, char delim) {
  std::vector<string_view> out(64);
  const std::size_t n = vaxetl::sdk::split_fields(line, delim, out.data(), out.size());
  out.resize(std::min<std::size_t>(n, 64));
  return out;
}

struct Row {
  std::uint64_t line;
  string_view event_id;
  string_view expected;
  string_view codes;
  std::vector<string_view> fields;
};

// Parses a generated file and its truth; checks the sidecar lines up with the data. Rows view
// into `out`, which must outlive them.
std::vector<Row> parse(const gen::InMemory&& out) = delete;
std::vector<Row> parse(const gen::InMemory& out) {
  const auto data = lines_of(out.data);
  const auto truth = lines_of(out.truth);
  EXPECT_EQ(truth.at(0), "line\tvax_event_id\texpected\tcodes");
  EXPECT_EQ(data.size(), truth.size());
  std::vector<Row> rows;
  for (std::size_t i = 1; i < truth.size() && i < data.size(); ++i) {
    const auto t = split(truth[i], '\t');
    EXPECT_EQ(t.size(), 4u) << truth[i];
    Row r;
    r.line = std::stoull(string(t.at(0)));
    r.event_id = t.at(1);
    r.expected = t.at(2);
    r.codes = t.at(3);
    r.fields = split(data[r.line - 1], '|');
    rows.push_back(std::move(r));
  }
  return rows;
}

enum F {
  kEventId, kAction, kOrg, kPin, kAdminName, kRecipId, kFirst, kMiddle, kLast, kSuffix, kDob,
  kSex, kStreet, kStreet2, kCity, kCounty, kState, kZip, kPhone, kEmail, kRace1, kRace2, kRace3,
  kRace4, kRace5, kRace6, kEthnicity, kLanguage, kGuardian, kAdminDate, kCvx, kMvx, kDoseStatus,
  kNdc, kLot, kExpiration, kSite, kRoute, kVolume, kProviderName, kNpi, kVisEdition, kVisGiven,
  kInventory, kRefusal, kRefusalReason, kCmorbid, kSerology, kPriority, kLastModified
};

bool clean(const Row& r) { return r.expected == "loaded" && r.codes.empty(); }

// ------------------------------------------------------------ an independent rule reading

class RuleCheck {
 public:
  explicit RuleCheck(gen::Days today) : today_(today) {
    const vaxetl::sdk::DataTable layout = vaxetl::sdk::DataTable::load(layout_path());
    const auto c_usage = layout.column("usage"), c_max = layout.column("max_len");
    for (const auto& row : layout.rows()) {
      usage_.push_back(row[c_usage]);
      max_len_.push_back(std::stoul(row[c_max]));
    }
  }

  // Returns the sorted, comma-joined codes the record breaks (errors, then warnings if no error).
  string codes(const std::vector<string_view>& f) const {
    std::set<string> err, warn;
    if (f.size() != gen::kFieldCount) return "NCVR_FIELD_COUNT";
    const bool refusal = f[kRefusal] == "YES";
    std::vector<bool> present(gen::kFieldCount);
    for (std::size_t i = 0; i < gen::kFieldCount; ++i) {
      present[i] = !f[i].empty();
      const bool dose_field = i >= kNdc && i <= kVisGiven;
      if (!present[i] && usage_[i] == "R" && !(refusal && dose_field)) err.insert("NCVR_REQUIRED");
      if (utf8_length(f[i]) > max_len_[i]) err.insert("NCVR_TOO_LONG");
    }
    gen::Days admin = 0, dob = 0, vis = 0;
    const bool admin_ok = present[kAdminDate] && gen::parse_date(f[kAdminDate], admin);
    const bool dob_ok = present[kDob] && gen::parse_date(f[kDob], dob);
    auto fmt = [&](bool ok) { if (!ok) err.insert("NCVR_FORMAT"); };
    if (present[kAdminDate]) fmt(admin_ok);
    if (present[kDob]) fmt(dob_ok);
    for (int i : {kVisEdition, kVisGiven})
      if (present[i]) fmt(gen::parse_date(f[i], vis));
    if (present[kEventId]) fmt(no_space(f[kEventId]));
    if (present[kRecipId]) fmt(no_space(f[kRecipId]));
    if (present[kZip]) fmt(zip_ok(f[kZip]));
    if (present[kPhone]) fmt(phone_ok(f[kPhone]));
    if (present[kPin]) fmt(pin_ok(f[kPin]));
    if (present[kLot]) fmt(lot_ok(f[kLot]));
    if (present[kNpi]) fmt(f[kNpi].size() == 10 && digits(f[kNpi]));
    if (present[kLastModified]) fmt(timestamp_ok(f[kLastModified]));
    gen::Days expiry = 0, expiry_last = 0;
    if (present[kExpiration]) {
      if (gen::parse_date(f[kExpiration], expiry)) {
        expiry_last = expiry;
      } else if (f[kExpiration].size() == 7 &&
                 gen::parse_date(string(f[kExpiration]) + "-01", expiry)) {
        gen::Days next = expiry + 31;
        int y;
        unsigned m, d;
        gen::civil_from_days(next, y, m, d);
        expiry_last = gen::days_from_civil(y, m, 1) - 1;
      } else {
        err.insert("NCVR_FORMAT");
      }
    }

    auto code = [&](int i, std::initializer_list<string_view> allowed) {
      if (present[i] && std::find(allowed.begin(), allowed.end(), f[i]) == allowed.end())
        err.insert("NCVR_CODE");
    };
    code(kAction, {"A", "U", "D"});
    code(kSex, {"M", "F", "U"});
    code(kSuffix, {"JR", "SR", "II", "III", "IV", "V"});
    code(kRace1, {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "2131-1", "UNK", "DECLINED"});
    for (int i = kRace2; i <= kRace6; ++i)
      code(i, {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "2131-1"});
    code(kEthnicity, {"2135-2", "2186-5", "UNK", "DECLINED"});
    code(kDoseStatus, {"Dose One Administered", "Dose Two Administered",
                       "Additional Dose Administered", "Booster Dose Administered",
                       "Not Administered"});
    code(kSite, {"LA", "RA", "LD", "RD", "LT", "RT", "LVL", "RVL", "LG", "RG", "LLFA", "RLFA"});
    code(kRoute, {"IM", "SC", "ID", "IN", "PO", "C28161", "C38299"});
    code(kInventory, {"STATE", "FEDERAL"});
    code(kRefusal, {"YES", "NO"});
    code(kRefusalReason, {"00", "01", "02", "03"});
    code(kCmorbid, {"YES", "NO", "UNK"});
    code(kSerology, {"YES", "NO", "UNK"});
    if (present[kState] && !state_ok(f[kState])) err.insert("NCVR_CODE");
    bool cvx_known = false;
    for (const auto& p : catalog().products) cvx_known |= p.cvx == f[kCvx];
    if (present[kCvx] && !cvx_known) err.insert("NCVR_CODE");

    if (admin_ok && admin > today_) err.insert("NCVR_DATE_FUTURE");
    if (dob_ok && dob > today_) err.insert("NCVR_DATE_FUTURE");
    if (admin_ok && admin < gen::days_from_civil(2020, 12, 11)) err.insert("NCVR_ADMIN_BEFORE_EUA");
    if (admin_ok && dob_ok && dob > admin && dob <= today_) err.insert("NCVR_DATE_ORDER");
    if (admin_ok && dob_ok && dob <= admin && age(dob, admin) > 120) err.insert("NCVR_AGE");

    if (cvx_known && present[kMvx]) {
      bool ok = false;
      for (const auto& p : catalog().products) ok |= p.cvx == f[kCvx] && p.mvx == f[kMvx];
      if (!ok) err.insert("NCVR_MVX_CVX");
    }
    if (f[kCvx] == "212" && present[kDoseStatus] && f[kDoseStatus] != "Dose One Administered")
      err.insert("NCVR_JANSSEN_DOSE");
    if (cvx_known && present[kNdc]) {
      const string ndc = normalize_ndc(f[kNdc]);
      bool sale = false, use = false;
      for (const auto& p : catalog().products) {
        if (p.cvx != f[kCvx]) continue;
        sale |= p.ndc_unit_of_sale == ndc;
        use |= p.ndc_unit_of_use == ndc;
      }
      if (!sale && use) warn.insert("NCVR_NDC_UNIT_OF_USE");
      if (!sale && !use) err.insert(ndc.empty() ? "NCVR_FORMAT" : "NCVR_NDC_CVX");
    }
    if (refusal) {
      bool dose_fields = f[kDoseStatus] != "Not Administered";
      for (int i = kNdc; i <= kVisGiven; ++i) dose_fields |= present[i];
      if (dose_fields) err.insert("NCVR_REFUSAL_FIELDS");
      if (!present[kRefusalReason]) err.insert("NCVR_CONDITIONAL");
    }
    if ((f[kRace1] == "UNK" || f[kRace1] == "DECLINED"))
      for (int i = kRace2; i <= kRace6; ++i)
        if (present[i]) err.insert("NCVR_RACE_EXTRA");
    if (present[kCounty] && present[kState] && state_ok(f[kState])) {
      const bool nc_name = vaxetl::ncvr_gen::ref::county_index(f[kCounty]) >= 0;
      const bool fips = f[kCounty].size() == 5 && digits(f[kCounty]);
      const bool nc_fips = fips && f[kCounty].substr(0, 2) == "37";
      // Outside NC only a 37xxx code is conclusive: county names repeat across states.
      if (f[kState] == "NC" ? !(nc_name || nc_fips) : nc_fips)
        err.insert("NCVR_COUNTY_STATE");
    }
    if (present[kNpi] && f[kNpi].size() == 10 && digits(f[kNpi]) && !gen::npi_valid(f[kNpi]))
      err.insert("NCVR_NPI_CHECK");
    // Expired under either reading of a YYYY-MM expiry: the generator must never be ambiguous.
    if (admin_ok && present[kExpiration] && expiry_last != 0) {
      const bool strict = admin > expiry, lenient = admin > expiry_last;
      if (strict != lenient) err.insert("AMBIGUOUS_EXPIRY");
      if (strict) warn.insert("NCVR_EXPIRED_LOT");
    }

    string out;
    for (const auto& c : err.empty() ? warn : err) out += (out.empty() ? "" : ",") + c;
    return out;
  }

  static bool digits(string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }

 private:
  static std::size_t utf8_length(string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  }
  static bool no_space(string_view s) { return s.find_first_of(" \t") == string_view::npos; }
  static bool zip_ok(string_view z) {
    return (z.size() == 5 && digits(z)) ||
           (z.size() == 10 && digits(z.substr(0, 5)) && z[5] == '-' && digits(z.substr(6)));
  }
  static bool phone_ok(string_view p) {
    string d;
    for (char c : p) {
      if (c >= '0' && c <= '9') d += c;
      else if (c != '(' && c != ')' && c != '-' && c != '.' && c != ' ') return false;
    }
    return d.size() == 10 && d[0] >= '2' && d[3] >= '2';
  }
  static bool pin_ok(string_view p) {
    if (p.size() == 9 && p.substr(0, 3) == "NCA") p.remove_prefix(3);
    return p.size() == 6 && std::all_of(p.begin(), p.end(), [](char c) {
             return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
           });
  }
  static bool lot_ok(string_view l) {
    return std::all_of(l.begin(), l.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
  }
  static bool timestamp_ok(string_view t) {
    gen::Days d;
    return t.size() == 19 && gen::parse_date(t.substr(0, 10), d) && t[10] == 'T' && t[13] == ':' &&
           t[16] == ':' && digits(t.substr(11, 2)) && digits(t.substr(14, 2)) && digits(t.substr(17, 2));
  }
  static bool state_ok(string_view s) {
    static const std::set<string_view> kStates = {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL",
        "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE",
        "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
        "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP"};
    return kStates.count(s) > 0;
  }
  static string normalize_ndc(string_view n) {
    const auto parts = split(n, '-');
    if (parts.size() != 3) return "";
    for (auto p : parts)
      if (!digits(p)) return "";
    string a(parts[0]), b(parts[1]), c(parts[2]);
    if (a.size() == 4) a = "0" + a;
    if (b.size() == 3) b = "0" + b;
    if (c.size() == 1) c = "0" + c;
    if (a.size() != 5 || b.size() != 4 || c.size() != 2) return "";
    return a + "-" + b + "-" + c;
  }
  static int age(gen::Days dob, gen::Days at) {
    int y1, y2;
    unsigned m1, d1, m2, d2;
    gen::civil_from_days(dob, y1, m1, d1);
    gen::civil_from_days(at, y2, m2, d2);
    return y2 - y1 - ((m2 < m1 || (m2 == m1 && d2 < d1)) ? 1 : 0);
  }

  gen::Days today_;
  std::vector<string> usage_;
  std::vector<std::size_t> max_len_;
};

}  // namespace

// ------------------------------------------------------------ tests

TEST(NcvrGen, SameSeedGivesIdenticalBytes) {
  const auto a = gen::generate_to_memory(options(3000, 42), catalog());
  const auto b = gen::generate_to_memory(options(3000, 42), catalog());
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.truth, b.truth);
}

TEST(NcvrGen, DifferentSeedGivesDifferentOutput) {
  const auto a = gen::generate_to_memory(options(500, 1), catalog());
  const auto b = gen::generate_to_memory(options(500, 2), catalog());
  EXPECT_NE(a.data, b.data);
  // Event ids carry a seed tag, so files from different seeds never share an id.
  const auto ra = parse(a), rb = parse(b);
  std::unordered_set<string_view> ids;
  for (const auto& r : ra) ids.insert(r.event_id);
  for (const auto& r : rb) EXPECT_EQ(ids.count(r.event_id), 0u);
}

TEST(NcvrGen, HeaderIsTheFiftyLayoutNames) {
  const auto out = gen::generate_to_memory(options(10), catalog());
  const auto header = split(lines_of(out.data).at(0), '|');
  ASSERT_EQ(header.size(), 50u);
  const auto& names = catalog().field_names;
  for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(header[i], names[i]);
  EXPECT_EQ(header[0], "vax_event_id");
  EXPECT_EQ(header[32], "dose_status");
  EXPECT_EQ(header[49], "record_last_modified");
}

TEST(NcvrGen, EveryRecordHasFiftyFieldsUnlessFieldCountInjected) {
  auto o = options(5000);
  o.error_rate = 0.3;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  int field_count_errors = 0;
  for (const auto& r : rows) {
    if (r.codes == "NCVR_FIELD_COUNT") {
      ++field_count_errors;
      EXPECT_TRUE(r.fields.size() == 49 || r.fields.size() == 51) << r.line;
    } else {
      EXPECT_EQ(r.fields.size(), 50u) << r.line;
    }
  }
  EXPECT_GT(field_count_errors, 0);
}

TEST(NcvrGen, TruthLinesAndEventIdsMatchTheDataFile) {
  const auto out = gen::generate_to_memory(options(2000), catalog());
  const auto rows = parse(out);
  ASSERT_EQ(rows.size(), 2000u);
  std::unordered_set<string_view> ids;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].line, i + 2);
    EXPECT_EQ(rows[i].fields.at(0), rows[i].event_id);
    EXPECT_TRUE(rows[i].expected == "loaded" || rows[i].expected == "rejected");
    EXPECT_EQ(rows[i].expected == "rejected",
              rows[i].codes.size() > 0 && rows[i].codes != "NCVR_NDC_UNIT_OF_USE" &&
                  rows[i].codes != "NCVR_EXPIRED_LOT");
    EXPECT_TRUE(ids.insert(rows[i].event_id).second) << "duplicate id on line " << rows[i].line;
  }
}

TEST(NcvrGen, CrlfOptionEndsEveryLineWithCrlf) {
  auto o = options(50);
  o.crlf = true;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto lines = lines_of(out.data);
  ASSERT_EQ(lines.size(), 51u);
  for (auto l : lines) EXPECT_EQ(l.back(), '\r');
}

TEST(NcvrGen, RatesAreRoughlyHonoured) {
  const auto out = gen::generate_to_memory(options(20000, 99), catalog());
  const auto rows = parse(out);
  double rejected = 0, warned = 0, federal = 0, refusals = 0;
  std::unordered_map<string_view, int> seen;
  double repeats = 0;
  for (const auto& r : rows) {
    rejected += r.expected == "rejected";
    warned += r.expected == "loaded" && !r.codes.empty();
    if (r.fields.size() == 50) {
      federal += r.fields[kInventory] == "FEDERAL";
      refusals += clean(r) && r.fields[kRefusal] == "YES";
      repeats += seen[r.fields[kRecipId]]++ > 0;
    }
  }
  const double n = 20000;
  EXPECT_NEAR(rejected / n, 0.05, 0.008);
  EXPECT_NEAR(warned / n, 0.02, 0.005);
  EXPECT_NEAR(federal / n, 0.3, 0.02);
  EXPECT_NEAR(refusals / n, 0.01, 0.004);
  EXPECT_NEAR(repeats / n, 0.2, 0.02);
  EXPECT_EQ(out.summary.records, 20000u);
  EXPECT_EQ(out.summary.rejected, static_cast<std::uint64_t>(rejected));
}

TEST(NcvrGen, EveryErrorKindIsInjectedAndCodesAreSingle) {
  auto o = options(20000, 5);
  o.error_rate = 0.6;
  o.warning_rate = 0.2;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  std::map<string, int> counts;
  for (const auto& r : rows) {
    EXPECT_EQ(r.codes.find(','), string_view::npos) << r.line;
    if (!r.codes.empty()) ++counts[string(r.codes)];
  }
  for (auto code : gen::kErrorCodes) EXPECT_GT(counts[string(code)], 300) << code;
  for (auto code : gen::kWarningCodes) EXPECT_GT(counts[string(code)], 300) << code;
}

TEST(NcvrGen, IndependentRuleCheckFindsExactlyTheInjectedCode) {
  for (bool markers : {false, true}) {
    auto o = options(20000, markers ? 11 : 12);
    o.error_rate = 0.5;
    o.warning_rate = 0.1;
    o.refusal_rate = 0.05;
    o.alt_form_rate = 0.05;
    o.phi_markers = markers;
    const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
    const RuleCheck check(o.today);
    int mismatches = 0;
    for (const auto& r : rows) {
      const string got = check.codes(r.fields);
      if (got != r.codes && ++mismatches <= 20)
        ADD_FAILURE() << "line " << r.line << ": truth '" << r.codes << "', rules say '" << got << "'";
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(NcvrGen, RepeatRecipientsShareIdAndDemographics) {
  const auto out = gen::generate_to_memory(options(20000, 3), catalog());
  const auto rows = parse(out);
  std::unordered_map<string_view, const Row*> first;
  int repeated = 0;
  for (const auto& r : rows) {
    if (!clean(r)) continue;
    auto [it, inserted] = first.emplace(r.fields[kRecipId], &r);
    if (inserted) continue;
    ++repeated;
    const auto& a = it->second->fields;
    for (int i = kFirst; i <= kGuardian; ++i) EXPECT_EQ(a[i], r.fields[i]) << "field " << i + 1;
    EXPECT_LT(a[kAdminDate], r.fields[kAdminDate]) << "a later dose must have a later date";
    EXPECT_NE(a[kEventId], r.fields[kEventId]);
  }
  EXPECT_GT(repeated, 2000);
}

TEST(NcvrGen, CleanRecordNpisPassTheLuhnCheck) {
  const auto out = gen::generate_to_memory(options(5000), catalog());
  const auto rows = parse(out);
  int npis = 0;
  for (const auto& r : rows) {
    if (!clean(r) || r.fields[kNpi].empty()) continue;
    ++npis;
    EXPECT_TRUE(gen::npi_valid(r.fields[kNpi])) << r.fields[kNpi];
  }
  EXPECT_GT(npis, 3000);
  EXPECT_TRUE(gen::npi_valid("1234567893"));  // the CMS example NPI
  EXPECT_FALSE(gen::npi_valid("1234567890"));
  EXPECT_EQ(gen::npi_check_digit("123456789"), 3);
}

TEST(NcvrGen, JanssenRecordsAreDoseOne) {
  const auto out = gen::generate_to_memory(options(10000), catalog());
  const auto rows = parse(out);
  int janssen = 0;
  for (const auto& r : rows) {
    if (!clean(r) || r.fields[kCvx] != "212" || r.fields[kRefusal] == "YES") continue;
    ++janssen;
    EXPECT_EQ(r.fields[kDoseStatus], "Dose One Administered");
  }
  EXPECT_GT(janssen, 50);
}

TEST(NcvrGen, CleanRecordsUseTheUnitOfSaleNdcOfTheirCvx) {
  const auto out = gen::generate_to_memory(options(10000), catalog());
  const auto rows = parse(out);
  for (const auto& r : rows) {
    if (!clean(r) || r.fields[kRefusal] == "YES") continue;
    bool ok = false;
    for (const auto& p : catalog().products)
      ok |= p.cvx == r.fields[kCvx] && p.mvx == r.fields[kMvx] && p.ndc_unit_of_sale == r.fields[kNdc];
    EXPECT_TRUE(ok) << "line " << r.line;
  }
}

TEST(NcvrGen, CleanRecordsAreRealistic) {
  auto o = options(10000);
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  const gen::Days eua = gen::days_from_civil(2021, 1, 1);
  std::set<string_view> pins, formats;
  for (const auto& r : rows) {
    if (!clean(r)) continue;
    const auto& f = r.fields;
    gen::Days admin, dob;
    ASSERT_TRUE(gen::parse_date(f[kAdminDate], admin));
    ASSERT_TRUE(gen::parse_date(f[kDob], dob));
    EXPECT_GE(admin, eua);
    EXPECT_LT(admin, o.today);
    EXPECT_LE(dob, admin);
    EXPECT_LE(admin - dob, 101 * 366 + 6 * 366);  // 0-100 at first dose, later doses after
    EXPECT_EQ(f[kAction], "A");
    EXPECT_EQ(f[kOrg], "CAROLINAPHARM");
    EXPECT_EQ(f[kPin].substr(0, 3), "NCA");
    pins.insert(f[kPin]);
    if (f[kState] != "NC") {
      EXPECT_TRUE(f[kCounty].empty());
    }
    if (f[kRefusal] == "YES") {
      EXPECT_EQ(f[kDoseStatus], "Not Administered");
      EXPECT_FALSE(f[kRefusalReason].empty());
      for (int i = kNdc; i <= kVisGiven; ++i) EXPECT_TRUE(f[i].empty());
    }
    if (!f[kPhone].empty()) formats.insert(f[kPhone].substr(0, 1) == "(" ? "paren" : f[kPhone].size() == 12 ? "dash" : "other");
  }
  EXPECT_GE(pins.size(), 20u);
  EXPECT_LE(pins.size(), 200u);
  EXPECT_GE(formats.size(), 3u);
}

TEST(NcvrGen, PhiMarkersAreUniqueDistinctiveTokens) {
  auto o = options(5000);
  o.phi_markers = true;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  std::unordered_map<string, string_view> owner;  // token -> recip_id
  int records_with_markers = 0;
  for (const auto& r : rows) {
    if (r.fields.size() != 50) continue;
    std::set<string> tokens;
    for (int i : {kFirst, kMiddle, kLast, kStreet, kStreet2, kEmail, kGuardian}) {
      const string_view v = r.fields[i];
      if (v.empty()) continue;
      const auto pos = v.find("PHI");
      ASSERT_NE(pos, string_view::npos) << "field " << i + 1 << " on line " << r.line;
      const string token(v.substr(pos, 12));
      EXPECT_TRUE(RuleCheck::digits(string_view(token).substr(5))) << token;
      EXPECT_TRUE(tokens.insert(token).second) << "token reused within a record: " << token;
      // A token belongs to one recipient; only that recipient's later doses repeat it.
      if (r.expected == "loaded") {
        auto [it, inserted] = owner.emplace(token, r.fields[kRecipId]);
        if (!inserted) {
          EXPECT_EQ(it->second, r.fields[kRecipId]) << token;
        }
      }
    }
    records_with_markers += !tokens.empty();
  }
  EXPECT_GT(records_with_markers, 4900);
}

TEST(NcvrGen, FileNameFollowsNcRules) {
  EXPECT_EQ(gen::file_name_for_org("CAROLINAPHARM", "20261101093000"),
            "CAROLINAPHARMCOVID_20261101093000_CVMS_PROD_PHI_DIRECT_V1.txt");
  EXPECT_EQ(gen::file_name_for_org("ABC1", "20210101000000", 3),
            "ABC1COVID_20210101000000_CVMS_PROD_PHI_DIRECT_V3.txt");
}

TEST(NcvrGen, RejectsBadOptions) {
  auto o = options(1);
  o.org = "carolina";
  EXPECT_THROW(gen::validate(o), std::invalid_argument);
  o = options(1);
  o.error_rate = 0.7;
  o.warning_rate = 0.4;
  EXPECT_THROW(gen::validate(o), std::invalid_argument);
  o = options(1);
  o.repeat_rate = 1.5;
  EXPECT_THROW(gen::validate(o), std::invalid_argument);
}

TEST(NcvrGen, DatesRoundTrip) {
  gen::Days d;
  EXPECT_FALSE(gen::parse_date("2021-02-29", d));
  EXPECT_TRUE(gen::parse_date("2024-02-29", d));
  EXPECT_EQ(gen::format_date(d), "2024-02-29");
  EXPECT_FALSE(gen::parse_date("2021-13-01", d));
  EXPECT_EQ(gen::days_from_civil(1970, 1, 1), 0);
}

TEST(NcvrGen, CommandLineWritesBothFilesAndNamesThemForTheOrg) {
  const auto dir = std::filesystem::path(VAXETL_BINARY_DIR) / "generator_cli_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const string products = data_dir() + "/products.tsv", layout = layout_path(),
               out = dir.string();
  std::vector<string> args = {"ncvr_gen", "--records", "100", "--seed", "9", "--org", "TESTORG1",
                              "--output", out, "--file-time", "20261031120000", "--products",
                              products, "--layout", layout};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  const int rc = gen::run_cli(static_cast<int>(argv.size()), argv.data());
  const string printed = testing::internal::GetCapturedStdout();
  ASSERT_EQ(rc, 0);
  const auto file = dir / "TESTORG1COVID_20261031120000_CVMS_PROD_PHI_DIRECT_V1.txt";
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_TRUE(std::filesystem::exists(file.string() + ".truth.tsv"));
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".part"));
  EXPECT_NE(printed.find("100 records"), string::npos);
  std::vector<string> bad = {"ncvr_gen", "--records", "ten"};
  std::vector<char*> bad_argv;
  for (auto& a : bad) bad_argv.push_back(a.data());
  testing::internal::CaptureStderr();
  EXPECT_EQ(gen::run_cli(static_cast<int>(bad_argv.size()), bad_argv.data()), 2);
  testing::internal::GetCapturedStderr();
}
