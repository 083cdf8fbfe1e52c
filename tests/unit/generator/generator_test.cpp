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

// ------------------------------------------------------------ issue 3: environments, race
// quality, admin window, lots, corrections files

namespace {

std::uint64_t fnv1a(string_view bytes, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

string slurp(const string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  string out;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

int run_cli(std::vector<string> args, string* out = nullptr) {
  args.insert(args.begin(), "ncvr_gen");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  const int rc = gen::run_cli(static_cast<int>(argv.size()), argv.data());
  const string printed = testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  if (out) *out = printed;
  return rc;
}

// The test's own reading of the race/ethnicity gate: 1 populated, 2 unknown, 0 neither.
int race_class(string_view race1, string_view eth) {
  if (race1 == "UNK" || eth == "UNK") return 2;
  const std::set<string_view> races = {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "2131-1",
                                       "DECLINED"};
  const std::set<string_view> eths = {"2135-2", "2186-5", "DECLINED"};
  return races.count(race1) && eths.count(eth) ? 1 : 0;
}

// A corrections truth row (columns after the daily four).
struct CRow {
  std::uint64_t line;
  string_view event_id, expected, codes, action, kase, base_line, changed;
  std::vector<string_view> fields;
};

std::vector<CRow> parse_corrections(const gen::InMemory& out) {
  const auto data = lines_of(out.data);
  const auto truth = lines_of(out.truth);
  EXPECT_EQ(truth.at(0), "line\tvax_event_id\texpected\tcodes\taction\tcase\tbase_line\tchanged");
  EXPECT_EQ(data.size(), truth.size());
  std::vector<CRow> rows;
  for (std::size_t i = 1; i < truth.size() && i < data.size(); ++i) {
    const auto t = split(truth[i], '\t');
    EXPECT_EQ(t.size(), 8u) << truth[i];
    if (t.size() != 8) continue;
    CRow r{std::stoull(string(t[0])), t[1], t[2], t[3], t[4], t[5], t[6], t[7], {}};
    r.fields = split(data[r.line - 1], '|');
    rows.push_back(std::move(r));
  }
  return rows;
}

gen::Options corrections_options(std::uint64_t records = 300, std::uint64_t seed = 8) {
  gen::Options o = options(records, seed);
  o.corrections = true;
  o.base_records = 2000;
  o.base_seed = 7;
  return o;
}

// The loader's unit of sale for an NDC as written (5-4-2, 5-4-1 or a unit of use).
string loader_sale_ndc(string_view ndc) {
  string n(ndc);
  if (n.size() == 12 && n[5] == '-' && n[10] == '-') n.insert(11, "0");
  for (const auto& p : catalog().products)
    if (p.ndc_unit_of_sale == n) return n;
  for (const auto& p : catalog().products)  // the first row listing the unit of use wins
    if (p.ndc_unit_of_use == n) return p.ndc_unit_of_sale;
  return "?" + n;
}

std::map<string, std::int64_t> parse_lots(const string& text) {
  std::map<string, std::int64_t> out;
  const auto lines = lines_of(text);
  EXPECT_EQ(lines.at(0), "vtrcks_prov_pin\tndc\tlot_number\tdoses");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto t = split(lines[i], '\t');
    EXPECT_EQ(t.size(), 4u);
    if (t.size() != 4) continue;
    const string key = string(t[0]) + "|" + string(t[1]) + "|" + string(t[2]);
    EXPECT_TRUE(out.emplace(key, std::stoll(string(t[3]))).second) << "key listed twice: " << key;
    EXPECT_NE(out[key], 0) << "a key netting 0 is left out";
  }
  return out;
}

}  // namespace

TEST(NcvrGen, DefaultOutputIsByteStable) {
  // Other suites rely on the default output of a seed never changing. The constants are the
  // bytes of the generator before issue 3 (checked against its output then); they hold only
  // for the catalog and layout of that time, so the test skips when either changed.
  const std::uint64_t inputs = fnv1a(slurp(data_dir() + "/ncvr-v7.2.tsv"),
                                     fnv1a(slurp(data_dir() + "/products.tsv")));
  if (inputs != 0xcc9afd92eb12d8a8ULL) GTEST_SKIP() << "products.tsv or the layout changed";
  const auto out = gen::generate_to_memory(options(3000, 42), catalog());
  EXPECT_EQ(fnv1a(out.data), 0x495d546987ed8df6ULL);
  EXPECT_EQ(fnv1a(out.truth), 0xaf7cd5ade4eb92b7ULL);
}

TEST(NcvrGen, FileNamesPerEnvironmentAndForCorrections) {
  using gen::Environment;
  EXPECT_EQ(gen::file_name_for_org("ORG1", "20261101093000", 2, Environment::kProd),
            "ORG1COVID_20261101093000_CVMS_PROD_PHI_DIRECT_V2.txt");
  EXPECT_EQ(gen::file_name_for_org("ORG1", "20261101093000", 1, Environment::kPhi),
            "ORG1COVID_20261101093000_CVMS_PHI_DIRECT_V1.txt");
  EXPECT_EQ(gen::file_name_for_org("ORG1", "20261101093000", 7, Environment::kNophi),
            "ORG1COVID_20261101093000_CVMS_NOPHI_DIRECT_V7.txt");
  EXPECT_EQ(gen::file_name_for_org("ORG1", "20261101093000", 3, Environment::kProd, true),
            "ORG1COVID_20261101093000_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V3.txt");
  EXPECT_THROW(gen::file_name_for_org("ORG1", "20261101093000", 1, Environment::kPhi, true),
               std::invalid_argument);
  EXPECT_THROW(gen::file_name_for_org("ORG1", "20261101093000", 1, Environment::kNophi, true),
               std::invalid_argument);
  Environment e = Environment::kProd;
  EXPECT_TRUE(gen::parse_environment("NOPHI", e));
  EXPECT_EQ(e, Environment::kNophi);
  EXPECT_FALSE(gen::parse_environment("prod", e));
}

TEST(NcvrGen, CommandLineNamesFilesPerEnvironmentAndRefusesNonProdCorrections) {
  string out;
  ASSERT_EQ(run_cli({"--org", "ABC", "--file-time", "20261031120000", "--environment", "PHI",
                     "--name-for-org"}, &out), 0);
  EXPECT_EQ(out, "ABCCOVID_20261031120000_CVMS_PHI_DIRECT_V1.txt\n");
  ASSERT_EQ(run_cli({"--org", "ABC", "--file-time", "20261031120000", "--environment", "NOPHI",
                     "--file-version", "4", "--name-for-org"}, &out), 0);
  EXPECT_EQ(out, "ABCCOVID_20261031120000_CVMS_NOPHI_DIRECT_V4.txt\n");
  ASSERT_EQ(run_cli({"--org", "ABC", "--file-time", "20261031120000", "--corrections",
                     "--name-for-org"}, &out), 0);
  EXPECT_EQ(out, "ABCCOVID_20261031120000_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V1.txt\n");
  EXPECT_EQ(run_cli({"--corrections", "--environment", "PHI", "--name-for-org"}), 2);
  EXPECT_EQ(run_cli({"--environment", "STAGING", "--name-for-org"}), 2);
  EXPECT_EQ(run_cli({"--race-unknown-rate", "0.7", "--race-declined-rate", "0.4"}), 2);
  EXPECT_EQ(run_cli({"--corrections", "--mix", "update=x"}), 2);
  EXPECT_EQ(run_cli({"--corrections", "--mix", "bogus=1"}), 2);
}

TEST(NcvrGen, RaceCountsInTheSummaryMatchARecountOfTheData) {
  for (bool knobs : {false, true}) {
    auto o = options(8000, knobs ? 21 : 22);
    o.error_rate = 0.3;  // so rejected records, some with an invalid race or ethnicity, count too
    if (knobs) {
      o.race_unknown_rate = 0.04;
      o.race_declined_rate = 0.03;
    }
    const auto out = gen::generate_to_memory(o, catalog());
    const auto rows = parse(out);
    std::uint64_t populated = 0, unknown = 0, neither = 0, populated_loaded = 0, unknown_loaded = 0;
    for (const auto& r : rows) {
      ASSERT_GE(r.fields.size(), static_cast<std::size_t>(kEthnicity + 1));
      const int c = race_class(r.fields[kRace1], r.fields[kEthnicity]);
      populated += c == 1;
      unknown += c == 2;
      neither += c == 0;
      populated_loaded += c == 1 && r.expected == "loaded";
      unknown_loaded += c == 2 && r.expected == "loaded";
    }
    EXPECT_EQ(out.summary.race_populated, populated);
    EXPECT_EQ(out.summary.race_unknown, unknown);
    EXPECT_EQ(out.summary.race_populated_loaded, populated_loaded);
    EXPECT_EQ(out.summary.race_unknown_loaded, unknown_loaded);
    EXPECT_GT(neither, 0u) << "invalid race/ethnicity codes count as neither";
    EXPECT_EQ(populated + unknown + neither, 8000u);
  }
}

TEST(NcvrGen, RaceKnobsSetTheSharesAndChangeNothingElse) {
  auto plain = options(20000, 31);
  plain.error_rate = 0;  // every record "otherwise valid"
  auto knobs = plain;
  knobs.race_unknown_rate = 0.05;
  knobs.race_declined_rate = 0.03;
  const auto a = gen::generate_to_memory(plain, catalog());
  const auto b = gen::generate_to_memory(knobs, catalog());
  const auto ra = parse(a), rb = parse(b);
  ASSERT_EQ(ra.size(), rb.size());
  double unknown = 0, declined = 0, populated = 0;
  for (std::size_t i = 0; i < rb.size(); ++i) {
    ASSERT_EQ(ra[i].fields.size(), rb[i].fields.size());
    for (std::size_t k = 0; k < ra[i].fields.size(); ++k)
      if (k < kRace1 || k > kEthnicity) {
        ASSERT_EQ(ra[i].fields[k], rb[i].fields[k]) << "line " << ra[i].line << " field " << k + 1;
      }
    EXPECT_EQ(ra[i].codes, rb[i].codes);
    const auto& f = rb[i].fields;
    const int c = race_class(f[kRace1], f[kEthnicity]);
    unknown += c == 2;
    populated += c == 1;
    declined += c == 1 && (f[kRace1] == "DECLINED" || f[kEthnicity] == "DECLINED");
    EXPECT_EQ(RuleCheck(knobs.today).codes(f), string(rb[i].codes)) << "line " << rb[i].line;
  }
  EXPECT_NEAR(unknown / 20000, 0.05, 0.008);
  EXPECT_NEAR(declined / 20000, 0.03, 0.007);
  EXPECT_EQ(populated + unknown, 20000);  // no error injected: every record is one or the other
  // Unset, the historical shares hold: UNK in race or ethnicity about 2%.
  double legacy_unknown = 0;
  for (const auto& r : ra) legacy_unknown += race_class(r.fields[kRace1], r.fields[kEthnicity]) == 2;
  EXPECT_NEAR(legacy_unknown / 20000, 0.02, 0.005);
  // Zero unknowns on request.
  knobs.race_unknown_rate = 0;
  knobs.race_declined_rate = 0;
  EXPECT_EQ(gen::generate_to_memory(knobs, catalog()).summary.race_unknown, 0u);
}

TEST(NcvrGen, AdminDaysPutsValidDosesInTheLastDays) {
  auto o = options(4000, 41);
  o.admin_days = 5;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  const RuleCheck check(o.today);
  int checked = 0;
  std::map<gen::Days, int> per_day;
  for (const auto& r : rows) {
    EXPECT_EQ(check.codes(r.fields), string(r.codes)) << "line " << r.line;
    if (!clean(r)) continue;
    gen::Days admin;
    ASSERT_TRUE(gen::parse_date(r.fields[kAdminDate], admin));
    EXPECT_GE(admin, o.today - 5);
    EXPECT_LT(admin, o.today);
    ++per_day[admin];
    ++checked;
  }
  EXPECT_GT(checked, 3500);
  EXPECT_EQ(per_day.size(), 5u);
  for (const auto& [day, n] : per_day) EXPECT_GT(n, 500) << "dates spread over the window";
  // A 30-day window still has repeat doses, each 14+ days after the recipient's previous one.
  o.admin_days = 30;
  const auto month = gen::generate_to_memory(o, catalog());
  std::unordered_map<string_view, gen::Days> last;
  int repeats = 0;
  for (const auto& r : parse(month)) {
    if (!clean(r)) continue;
    gen::Days admin;
    ASSERT_TRUE(gen::parse_date(r.fields[kAdminDate], admin));
    const auto [it, inserted] = last.emplace(r.fields[kRecipId], admin);
    if (inserted) continue;
    ++repeats;
    EXPECT_GE(admin, it->second + 14) << "line " << r.line;
    it->second = admin;
  }
  EXPECT_GT(repeats, 100);
}

TEST(NcvrGen, LotsListEveryStateDoseExpectedToLoadNormalized) {
  auto o = options(6000, 51);
  o.alt_form_rate = 0.3;  // 6-character PINs and 10-digit NDCs must be listed normalized
  o.warning_rate = 0.2;   // unit-of-use NDCs are listed under their unit of sale
  o.admin_days = 30;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse(out);
  const auto lots = parse_lots(out.lots);
  std::map<string, std::int64_t> expected;
  std::int64_t doses = 0;
  for (const auto& r : rows) {
    if (r.expected != "loaded" || r.fields[kInventory] != "STATE" || r.fields[kRefusal] != "NO")
      continue;
    const string_view pin = r.fields[kPin];
    const string key = (pin.size() == 6 ? "NCA" + string(pin) : string(pin)) + "|" +
                       loader_sale_ndc(r.fields[kNdc]) + "|" + string(r.fields[kLot]);
    ++expected[key];
    ++doses;
  }
  EXPECT_EQ(lots, expected);
  EXPECT_EQ(out.summary.lot_doses, doses);
  EXPECT_EQ(out.summary.lot_keys, lots.size());
  EXPECT_GT(doses, 3000);
  EXPECT_LT(lots.size(), doses) << "a 30-day window shares lots between doses";
}

TEST(NcvrGen, MixParsingAndDefaults) {
  const auto mix = gen::parse_mix("update=3,delete-unknown=1.5");
  EXPECT_EQ(mix[gen::kUpdate], 3);
  EXPECT_EQ(mix[gen::kDeleteUnknown], 1.5);
  EXPECT_EQ(mix[gen::kAddFixed], 0);
  EXPECT_THROW(gen::parse_mix("update"), std::invalid_argument);
  EXPECT_THROW(gen::parse_mix("update=1,update=2"), std::invalid_argument);
  EXPECT_THROW(gen::parse_mix("update=-1"), std::invalid_argument);
  auto o = corrections_options();
  o.mix = gen::parse_mix("update=0");
  EXPECT_THROW(gen::validate(o), std::invalid_argument);
  o = corrections_options();
  o.environment = gen::Environment::kNophi;
  EXPECT_THROW(gen::validate(o), std::invalid_argument);
  // Only the named cases appear.
  o = corrections_options(40);
  o.mix = mix;
  const auto out = gen::generate_to_memory(o, catalog());
  EXPECT_EQ(out.summary.case_counts[gen::kUpdate], 27u);
  EXPECT_EQ(out.summary.case_counts[gen::kDeleteUnknown], 13u);
  EXPECT_EQ(out.summary.records, 40u);
}

TEST(NcvrGen, CorrectionsFileIsValidNcvrWithEveryCaseAndUniqueIds) {
  const auto o = corrections_options();
  const auto out = gen::generate_to_memory(o, catalog());
  const auto daily = gen::generate_to_memory(options(5), catalog());
  EXPECT_EQ(lines_of(out.data).at(0), lines_of(daily.data).at(0)) << "same header as daily files";
  const auto rows = parse_corrections(out);
  ASSERT_EQ(rows.size(), 300u);
  const RuleCheck check(o.today);
  std::set<string_view> ids;
  std::map<string, int> cases;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    EXPECT_EQ(r.line, i + 2);
    ASSERT_EQ(r.fields.size(), 50u) << "line " << r.line;
    EXPECT_EQ(r.fields[kEventId], r.event_id);
    EXPECT_EQ(r.fields[kAction], r.action);
    EXPECT_EQ(check.codes(r.fields), "") << "line " << r.line << " is not valid NCVR";
    EXPECT_TRUE(ids.insert(r.event_id).second) << "event id twice: line " << r.line;
    ++cases[string(r.kase)];
  }
  for (auto name : gen::kCaseNames) EXPECT_GT(cases[string(name)], 0) << name;
  // The allocation is exact: 10/30/10/15/5/5/10/15 of 300.
  EXPECT_EQ(cases["add-fixed"], 30);
  EXPECT_EQ(cases["update"], 90);
  EXPECT_EQ(cases["add-same"], 45);
  for (std::size_t k = 0; k < gen::kCaseNames.size(); ++k)
    EXPECT_EQ(out.summary.case_counts[k], static_cast<std::uint64_t>(cases[string(gen::kCaseNames[k])]));
  // A few hundred lines at the CLI default also cover every case.
  const auto small = gen::generate_to_memory(corrections_options(200, 3), catalog());
  for (auto n : small.summary.case_counts) EXPECT_GT(n, 0u);
}

TEST(NcvrGen, CorrectionsAgreeWithTheBaseFileTruth) {
  const auto o = corrections_options(300, 9);
  const auto base = gen::generate_to_memory(gen::base_options(o), catalog());
  const auto base_rows = parse(base);
  std::unordered_map<string_view, const Row*> by_id;
  for (const auto& r : base_rows) by_id.emplace(r.event_id, &r);
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse_corrections(out);
  std::map<string, int> outcomes;
  for (const auto& r : rows) {
    const string kase(r.kase);
    ++outcomes[string(r.expected)];
    const auto found = by_id.find(r.event_id);
    if (kase == "update-unknown" || kase == "delete-unknown") {
      EXPECT_EQ(found, by_id.end()) << "an unknown id was sent in the base: " << r.event_id;
      EXPECT_TRUE(r.base_line.empty());
      EXPECT_EQ(r.expected, "rejected");
      EXPECT_EQ(r.codes, "CVMS_UNKNOWN_EVENT");
      EXPECT_EQ(r.action, kase == "update-unknown" ? "U" : "D");
      continue;
    }
    ASSERT_NE(found, by_id.end()) << r.event_id;
    const Row& b = *found->second;
    EXPECT_EQ(std::to_string(b.line), string(r.base_line));
    if (kase == "add-fixed") {
      EXPECT_EQ(b.expected, "rejected") << "add-fixed must fix a record the base rejected";
      EXPECT_EQ(r.action, "A");
      EXPECT_EQ(r.expected, "added");
      EXPECT_TRUE(r.codes.empty());
      continue;
    }
    // Every other case names a record the base loaded cleanly.
    EXPECT_TRUE(clean(b)) << "line " << r.line << " picks base line " << b.line;
    ASSERT_EQ(b.fields.size(), 50u);
    std::vector<std::size_t> diff;
    for (std::size_t k = 0; k < 50; ++k)
      if (k != kAction && b.fields[k] != r.fields[k]) diff.push_back(k);
    EXPECT_EQ(b.fields[kAction], "A");
    if (kase == "add-same" || kase == "update-same" || kase == "delete") {
      EXPECT_TRUE(diff.empty()) << kase << " line " << r.line;
      EXPECT_TRUE(r.changed.empty());
      const string want_action = kase == "add-same" ? "A" : kase == "delete" ? "D" : "U";
      EXPECT_EQ(r.action, want_action);
      EXPECT_EQ(r.expected, kase == "delete" ? "voided" : "unchanged");
      EXPECT_TRUE(r.codes.empty());
    } else {
      ASSERT_EQ(diff.size(), 1u) << kase << " line " << r.line << " must change one value";
      EXPECT_EQ(catalog().field_names[diff[0]], r.changed);
      const std::set<std::size_t> allowed = {kLot, kSite, kRoute, kInventory, kRefusalReason};
      EXPECT_EQ(allowed.count(diff[0]), 1u) << r.changed;
      if (diff[0] == kLot) {
        EXPECT_EQ(r.fields[kLot].size(), b.fields[kLot].size()) << "same manufacturer's shape";
      }
      if (kase == "update") {
        EXPECT_EQ(r.action, "U");
        EXPECT_EQ(r.expected, "updated");
        EXPECT_TRUE(r.codes.empty());
      } else {
        EXPECT_EQ(r.action, "A");
        EXPECT_EQ(r.expected, "rejected");
        EXPECT_EQ(r.codes, "CVMS_EVENT_CONFLICT");
      }
    }
  }
  for (std::size_t k = 0; k < gen::kOutcomes.size(); ++k)
    EXPECT_EQ(out.summary.outcome_counts[k],
              static_cast<std::uint64_t>(outcomes[string(gen::kOutcomes[k])]));
  EXPECT_EQ(out.summary.rejected, static_cast<std::uint64_t>(outcomes["rejected"]));
}

TEST(NcvrGen, CorrectionsAreDeterministicAndFollowTheSeed) {
  const auto a = gen::generate_to_memory(corrections_options(), catalog());
  const auto b = gen::generate_to_memory(corrections_options(), catalog());
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.truth, b.truth);
  EXPECT_EQ(a.lots, b.lots);
  const auto c = gen::generate_to_memory(corrections_options(300, 99), catalog());
  EXPECT_NE(a.data, c.data);
}

TEST(NcvrGen, CorrectionsErrorRateInjectsOneValidationCode) {
  auto o = corrections_options(300, 12);
  o.corrections_error_rate = 0.3;
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse_corrections(out);
  const RuleCheck check(o.today);
  int injected = 0;
  for (const auto& r : rows) {
    const string got = check.codes(r.fields);
    if (r.codes.substr(0, 5) == "NCVR_") {
      ++injected;
      EXPECT_EQ(r.expected, "rejected");
      EXPECT_EQ(got, string(r.codes)) << "line " << r.line;
    } else {
      EXPECT_EQ(got, "") << "line " << r.line;
    }
  }
  EXPECT_GT(injected, 50);
  EXPECT_LT(injected, 130);
}

TEST(NcvrGen, CorrectionsRefuseABaseTooSmallForTheMix) {
  auto o = corrections_options(300);
  o.base_records = 30;
  EXPECT_THROW(gen::generate_to_memory(o, catalog()), std::runtime_error);
}

TEST(NcvrGen, CorrectionsLotsAreTheNetChangeInStateDoses) {
  auto o = corrections_options(400, 13);
  o.mix = gen::parse_mix("add-fixed=1,update=2,delete=1,update-same=1");
  o.base_records = 6000;
  o.alt_form_rate = 0.2;
  const auto base = gen::generate_to_memory(gen::base_options(o), catalog());
  const auto base_lines = lines_of(base.data);
  const auto out = gen::generate_to_memory(o, catalog());
  const auto rows = parse_corrections(out);
  const auto lots = parse_lots(out.lots);
  std::map<string, std::int64_t> expected;
  auto count = [&](const std::vector<string_view>& f, int doses) {
    if (f[kInventory] != "STATE" || f[kRefusal] != "NO") return;
    const string_view pin = f[kPin];
    expected[(pin.size() == 6 ? "NCA" + string(pin) : string(pin)) + "|" + loader_sale_ndc(f[kNdc]) +
             "|" + string(f[kLot])] += doses;
  };
  int gives = 0, takes = 0;
  for (const auto& r : rows) {
    if (r.expected == "updated" || r.expected == "voided") {
      count(split(base_lines.at(std::stoull(string(r.base_line)) - 1), '|'), -1);
      ++gives;
    }
    if (r.expected == "added" || r.expected == "updated") {
      count(r.fields, 1);
      ++takes;
    }
  }
  for (auto it = expected.begin(); it != expected.end();)
    it = it->second == 0 ? expected.erase(it) : std::next(it);
  EXPECT_EQ(lots, expected);
  std::int64_t net = 0;
  for (const auto& [key, doses] : expected) net += doses;
  EXPECT_EQ(out.summary.lot_doses, net);
  EXPECT_GT(gives, 100);
  EXPECT_GT(takes, 100);
  bool negative = false, positive = false;
  for (const auto& [key, doses] : lots) (doses < 0 ? negative : positive) = true;
  EXPECT_TRUE(negative && positive);
}

TEST(NcvrGen, CommandLineWritesABaseFileACorrectionsFileAndLots) {
  const auto dir = std::filesystem::path(VAXETL_BINARY_DIR) / "generator_corrections_cli_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const string products = data_dir() + "/products.tsv", layout = layout_path();
  const string base = (dir / "base.txt").string();
  string printed;
  ASSERT_EQ(run_cli({"--records", "1500", "--seed", "4", "--org", "ORG9", "--output", base,
                     "--lots-out", (dir / "base.lots.tsv").string(), "--admin-days", "10",
                     "--products", products, "--layout", layout}, &printed), 0);
  EXPECT_NE(printed.find("race/ethnicity populated"), string::npos);
  EXPECT_NE(printed.find("(lots: "), string::npos);
  ASSERT_EQ(run_cli({"--corrections", "--base-records", "1500", "--base-seed", "4", "--org", "ORG9",
                     "--admin-days", "10", "--seed", "5", "--output", dir.string() + "/",
                     "--file-time", "20261031120000", "--products", products, "--layout", layout},
                    &printed), 0);
  const auto file = dir / "ORG9COVID_20261031120000_CVMS_PROD_PHI_DIRECT_CORRECTIONS_V1.txt";
  ASSERT_TRUE(std::filesystem::exists(file));
  EXPECT_NE(printed.find("200 corrections of 1500 base records"), string::npos) << printed;
  // The CLI's corrections reference the base file the CLI wrote.
  const string base_data = slurp(base), corr_truth = slurp(file.string() + ".truth.tsv");
  const auto base_lines = lines_of(base_data);
  const auto truth_lines = lines_of(corr_truth);
  ASSERT_EQ(truth_lines.size(), 201u);
  const string corr_data = slurp(file.string());
  const auto corr_lines = lines_of(corr_data);
  for (std::size_t i = 1; i < truth_lines.size(); ++i) {
    const auto t = split(truth_lines[i], '\t');
    if (t.at(5) != "add-same") continue;
    EXPECT_EQ(corr_lines.at(i), base_lines.at(std::stoull(string(t.at(6))) - 1));
  }
  // Corrections exist only for PROD.
  EXPECT_EQ(run_cli({"--corrections", "--environment", "NOPHI", "--output", dir.string() + "/"}), 2);
}
