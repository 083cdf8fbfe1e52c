// The record generator. Every record is built in a fixed arena (no per-record allocation),
// then at most one error or warning is injected, chosen so that exactly the intended rule of
// the NCVR v7.2 layout is broken (see docs/generator.md for the reasoning per code).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

#include "ncvr_gen.hpp"
#include "reference_data.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr_gen {

// ---------------------------------------------------------------- dates, NPI, catalog

Days days_from_civil(int y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<Days>(era * 146097 + static_cast<int>(doe) - 719468);
}

void civil_from_days(Days z, int& year, unsigned& month, unsigned& day) noexcept {
  const int zz = z + 719468;
  const int era = (zz >= 0 ? zz : zz - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(zz - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int>(yoe) + era * 400 + (month <= 2);
}

namespace {
bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}
bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int v = *it - '0';
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}
}  // namespace

bool parse_date(std::string_view t, Days& out) noexcept {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return false;
  if (!all_digits(t.substr(0, 4)) || !all_digits(t.substr(5, 2)) || !all_digits(t.substr(8, 2)))
    return false;
  const int y = (t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0');
  const unsigned m = static_cast<unsigned>((t[5] - '0') * 10 + (t[6] - '0'));
  const unsigned d = static_cast<unsigned>((t[8] - '0') * 10 + (t[9] - '0'));
  if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return false;
  out = days_from_civil(y, m, d);
  return true;
}

std::string format_date(Days days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

bool npi_valid(std::string_view npi) noexcept {
  if (npi.size() != 10 || !all_digits(npi)) return false;
  char buf[15] = {'8', '0', '8', '4', '0'};
  std::memcpy(buf + 5, npi.data(), 10);
  return luhn_ok(std::string_view(buf, 15));
}

int npi_check_digit(std::string_view first_nine) noexcept {
  if (first_nine.size() != 9 || !all_digits(first_nine)) return -1;
  char buf[10];
  std::memcpy(buf, first_nine.data(), 9);
  for (int c = 0; c < 10; ++c) {
    buf[9] = static_cast<char>('0' + c);
    if (npi_valid(std::string_view(buf, 10))) return c;
  }
  return -1;
}

Catalog Catalog::load(const std::string& products_path, const std::string& layout_path) {
  Catalog catalog;
  const sdk::DataTable products = sdk::DataTable::load(products_path);
  const std::size_t c_cvx = products.column("cvx"), c_mvx = products.column("mvx"),
                    c_name = products.column("product"),
                    c_sale = products.column("ndc_unit_of_sale"),
                    c_use = products.column("ndc_unit_of_use");
  for (const auto& row : products.rows()) {
    Product p{std::string(sdk::trim(row[c_cvx])), std::string(sdk::trim(row[c_mvx])),
              std::string(sdk::trim(row[c_name])), std::string(sdk::trim(row[c_sale])),
              std::string(sdk::trim(row[c_use]))};
    if (p.cvx.empty() || p.mvx.empty() || p.ndc_unit_of_sale.empty())
      throw std::runtime_error("products file has a row without cvx, mvx or unit-of-sale NDC: " +
                               products_path);
    catalog.products.push_back(std::move(p));
  }
  if (catalog.products.empty()) throw std::runtime_error("products file is empty: " + products_path);

  const sdk::DataTable layout = sdk::DataTable::load(layout_path);
  const std::size_t c_field = layout.column("name");
  for (const auto& row : layout.rows()) catalog.field_names.emplace_back(sdk::trim(row[c_field]));
  if (catalog.field_names.size() != kFieldCount)
    throw std::runtime_error("layout file must list 50 fields, found " +
                             std::to_string(catalog.field_names.size()) + ": " + layout_path);
  return catalog;
}

#ifndef VAXETL_NCVR_DATA_DIR
#define VAXETL_NCVR_DATA_DIR "plugins/ncvr/data"
#endif
std::string default_products_path() { return VAXETL_NCVR_DATA_DIR "/products.tsv"; }
std::string default_layout_path() { return VAXETL_NCVR_DATA_DIR "/ncvr-v7.2.tsv"; }

bool parse_environment(std::string_view text, Environment& out) noexcept {
  if (text == "PROD") out = Environment::kProd;
  else if (text == "PHI") out = Environment::kPhi;
  else if (text == "NOPHI") out = Environment::kNophi;
  else return false;
  return true;
}

std::string file_name_for_org(std::string_view org, std::string_view timestamp, unsigned version,
                              Environment environment, bool corrections) {
  if (corrections && environment != Environment::kProd)
    throw std::invalid_argument("corrections files exist only for PROD (nc-rules.md)");
  std::string name(org);
  name += "COVID_";
  name += timestamp;
  switch (environment) {
    case Environment::kProd: name += "_CVMS_PROD_PHI_DIRECT"; break;
    case Environment::kPhi: name += "_CVMS_PHI_DIRECT"; break;
    case Environment::kNophi: name += "_CVMS_NOPHI_DIRECT"; break;
  }
  if (corrections) name += "_CORRECTIONS";
  name += "_V";
  name += std::to_string(version);
  name += ".txt";
  return name;
}

std::array<double, kCaseCount> parse_mix(std::string_view text) {
  std::array<double, kCaseCount> mix{};
  std::array<bool, kCaseCount> named{};
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const auto it = std::find(kCaseNames.begin(), kCaseNames.end(), name);
    if (eq == std::string_view::npos || it == kCaseNames.end())
      throw std::invalid_argument(std::string("--mix expects case=weight items with a case among "
                                              "add-fixed, update, update-same, delete, "
                                              "update-unknown, delete-unknown, add-conflict, "
                                              "add-same; got '")
                                      .append(item)
                                      .append("'"));
    const std::size_t k = static_cast<std::size_t>(it - kCaseNames.begin());
    const std::string weight(item.substr(eq + 1));
    char* end = nullptr;
    const double w = std::strtod(weight.c_str(), &end);
    if (weight.empty() || end != weight.c_str() + weight.size() || !(w >= 0.0 && w <= 1e9))
      throw std::invalid_argument(std::string("--mix weight must be a non-negative number, got '")
                                      .append(item)
                                      .append("'"));
    if (named[k])
      throw std::invalid_argument(std::string("--mix names '").append(name).append("' twice"));
    named[k] = true;
    mix[k] = w;
  }
  return mix;
}

Options base_options(const Options& o) {
  Options base = o;
  base.records = o.base_records;
  base.seed = o.base_seed;
  base.corrections = false;
  base.lots_out.clear();
  return base;
}

void validate(const Options& o) {
  auto rate = [](double r, const char* what) {
    if (!(r >= 0.0 && r <= 1.0))
      throw std::invalid_argument(std::string(what) + " must be between 0 and 1");
  };
  rate(o.error_rate, "--error-rate");
  rate(o.warning_rate, "--warning-rate");
  rate(o.repeat_rate, "--repeat-rate");
  rate(o.federal_rate, "--federal-rate");
  rate(o.refusal_rate, "--refusal-rate");
  rate(o.alt_form_rate, "--alt-form-rate");
  if (o.error_rate + o.warning_rate + o.refusal_rate > 1.0 + 1e-9)
    throw std::invalid_argument("--error-rate + --warning-rate + --refusal-rate must not exceed 1");
  if (o.org.empty() || o.org.size() > 20 ||
      !std::all_of(o.org.begin(), o.org.end(),
                   [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }))
    throw std::invalid_argument("--org must be 1-20 characters A-Z0-9");
  if (o.today < days_from_civil(2021, 3, 1))
    throw std::invalid_argument("--today must be 2021-03-01 or later");
  if (o.file_version == 0) throw std::invalid_argument("--file-version must be 1 or more");
  if (o.race_unknown_rate >= 0 || o.race_declined_rate >= 0) {
    if (o.race_unknown_rate > 1.0) throw std::invalid_argument("--race-unknown-rate must be between 0 and 1");
    if (o.race_declined_rate > 1.0) throw std::invalid_argument("--race-declined-rate must be between 0 and 1");
    const double unknown = o.race_unknown_rate >= 0 ? o.race_unknown_rate : 0.02;
    const double declined = o.race_declined_rate >= 0 ? o.race_declined_rate : 0.02;
    if (unknown + declined > 1.0 + 1e-9)
      throw std::invalid_argument("--race-unknown-rate + --race-declined-rate must not exceed 1");
  }
  if (o.admin_days > 100000) throw std::invalid_argument("--admin-days must be at most 100000");
  if (o.corrections) {
    if (o.environment != Environment::kProd)
      throw std::invalid_argument("--corrections exists only for PROD files (nc-rules.md)");
    rate(o.corrections_error_rate, "--corrections-error-rate");
    double total = 0;
    for (double w : o.mix) {
      if (!(w >= 0.0)) throw std::invalid_argument("--mix weights must be non-negative");
      total += w;
    }
    if (!(total > 0)) throw std::invalid_argument("--mix must give at least one case a weight");
    if (o.base_records == 0) throw std::invalid_argument("--base-records must be 1 or more");
    if (o.base_records >= 900000000)
      throw std::invalid_argument("--base-records must be below 900000000");
    if (o.records > 100000000)
      throw std::invalid_argument("a corrections file has at most 100000000 records");
  }
}

// ---------------------------------------------------------------- generator internals

namespace {

using ref::sv;

enum Field : int {
  kEventId, kAction, kOrg, kPin, kAdminName, kRecipId, kFirst, kMiddle, kLast, kSuffix, kDob,
  kSex, kStreet, kStreet2, kCity, kCounty, kState, kZip, kPhone, kEmail, kRace1, kRace2, kRace3,
  kRace4, kRace5, kRace6, kEthnicity, kLanguage, kGuardian, kAdminDate, kCvx, kMvx, kDoseStatus,
  kNdc, kLot, kExpiration, kSite, kRoute, kVolume, kProviderName, kNpi, kVisEdition, kVisGiven,
  kInventory, kRefusal, kRefusalReason, kCmorbid, kSerology, kPriority, kLastModified
};
static_assert(kLastModified + 1 == static_cast<int>(kFieldCount));

enum ErrorKind : int {
  eRequired, eFieldCount, eTooLong, eFormat, eCode, eDateFuture, eDateOrder, eAge, eBeforeEua,
  eMvxCvx, eJanssenDose, eNdcCvx, eRefusalFields, eConditional, eRaceExtra, eCountyState,
  eNpiCheck
};
enum WarningKind : int { wUnitOfUse, wExpiredLot };

// xoshiro256** seeded through splitmix64.
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t mix64(std::uint64_t x) { return splitmix64(x); }

class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  // Uniform in [lo, hi].
  int range(int lo, int hi) { return lo + static_cast<int>(below(static_cast<std::uint32_t>(hi - lo + 1))); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  template <typename T, std::size_t N>
  const T& pick(const T (&arr)[N]) { return arr[below(N)]; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// Per-record text arena: fields are views into it, reset for every record.
class Arena {
 public:
  void reset() { pos_ = mark_ = 0; }
  Arena& put(sv s) {
    if (s.empty()) return *this;
    room(s.size());
    std::memcpy(buf_ + pos_, s.data(), s.size());
    pos_ += s.size();
    return *this;
  }
  Arena& put(char c) {
    room(1);
    buf_[pos_++] = c;
    return *this;
  }
  Arena& num(std::uint64_t v, int width = 0) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    room(static_cast<std::size_t>(std::max(n, width)));
    for (int i = n; i < width; ++i) buf_[pos_++] = '0';
    while (n > 0) buf_[pos_++] = tmp[--n];
    return *this;
  }
  Arena& date(Days d) {
    int y;
    unsigned m, dd;
    civil_from_days(d, y, m, dd);
    return num(static_cast<std::uint64_t>(y), 4).put('-').num(m, 2).put('-').num(dd, 2);
  }
  Arena& month(Days d) {
    int y;
    unsigned m, dd;
    civil_from_days(d, y, m, dd);
    return num(static_cast<std::uint64_t>(y), 4).put('-').num(m, 2);
  }
  // Appends `s` as lower-case ASCII letters only (for e-mail local parts).
  Arena& ascii_lower(sv s) {
    for (char c : s) {
      if (c >= 'A' && c <= 'Z') put(static_cast<char>(c - 'A' + 'a'));
      else if (c >= 'a' && c <= 'z') put(c);
    }
    return *this;
  }
  std::size_t size_since_mark() const { return pos_ - mark_; }
  sv take() {
    const sv out(buf_ + mark_, pos_ - mark_);
    mark_ = pos_;
    return out;
  }

 private:
  void room(std::size_t n) const {
    if (pos_ + n > sizeof buf_) throw std::logic_error("ncvr_gen: record arena overflow");
  }
  char buf_[16384];
  std::size_t pos_ = 0;
  std::size_t mark_ = 0;
};

// Buffered output to a FILE*; a null FILE* discards.
class Writer {
 public:
  explicit Writer(std::FILE* f) : f_(f), buf_(f ? kCap : 0) {}
  ~Writer() = default;
  void put(sv s) {
    if (!f_ || s.empty()) return;
    if (len_ + s.size() > kCap) flush();
    if (s.size() > kCap) {
      write(s.data(), s.size());
      return;
    }
    std::memcpy(buf_.data() + len_, s.data(), s.size());
    len_ += s.size();
  }
  void put(char c) {
    if (!f_) return;
    if (len_ == kCap) flush();
    buf_[len_++] = c;
  }
  void num(std::uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) put(tmp[--n]);
  }
  void flush() {
    if (!f_ || len_ == 0) return;
    write(buf_.data(), len_);
    len_ = 0;
  }

 private:
  void write(const char* p, std::size_t n) {
    if (std::fwrite(p, 1, n, f_) != n) throw std::runtime_error("write error on output file");
  }
  static constexpr std::size_t kCap = std::size_t{1} << 20;
  std::FILE* f_;
  std::vector<char> buf_;
  std::size_t len_ = 0;
};

// A lot number shaped per manufacturer, from the bits of `x` (no randomness of its own).
template <typename Out>
sv lot_text(Out& a, sv mvx, std::uint64_t x) {
  static constexpr char kLetters[] = "ABCDEFGHJKLMNPRSTUVWXYZ";
  auto letter = [&] { char c = kLetters[x % 23]; x /= 23; return c; };
  auto digit = [&] { char c = static_cast<char>('0' + x % 10); x /= 10; return c; };
  if (mvx == "PFR") {
    a.put(letter()).put(letter());
    for (int i = 0; i < 4; ++i) a.put(digit());
  } else if (mvx == "MOD") {
    for (int i = 0; i < 3; ++i) a.put(digit());
    a.put(letter());
    for (int i = 0; i < 2; ++i) a.put(digit());
    a.put('A');
  } else if (mvx == "JSN") {
    for (int i = 0; i < 7; ++i) a.put(digit());
  } else {
    a.put(letter()).put(letter()).put(letter()).put('-');
    for (int i = 0; i < 4; ++i) a.put(digit());
  }
  return a.take();
}

// How a record's race_1 and ethnicity count for the race/ethnicity quality gate.
enum RaceClass { kRaceNeither, kRacePopulated, kRaceUnknown };
RaceClass race_class(sv race1, sv ethnicity) {
  if (race1 == "UNK" || ethnicity == "UNK") return kRaceUnknown;
  bool race_ok = race1 == "DECLINED";
  for (sv code : ref::kRaceCodes) race_ok |= race1 == code;
  const bool eth_ok = ethnicity == "2135-2" || ethnicity == "2186-5" || ethnicity == "DECLINED";
  return race_ok && eth_ok ? kRacePopulated : kRaceNeither;
}

void count_race(Summary& s, sv race1, sv ethnicity, bool loads) {
  switch (race_class(race1, ethnicity)) {
    case kRacePopulated:
      ++s.race_populated;
      s.race_populated_loaded += loads;
      break;
    case kRaceUnknown:
      ++s.race_unknown;
      s.race_unknown_loaded += loads;
      break;
    default: break;
  }
}

// Distinct (PIN, unit-of-sale NDC, lot) keys of STATE doses, written sorted; keys whose
// doses add up to 0 are left out.
class Lots {
 public:
  void add(sv pin, sv ndc, sv lot, std::int64_t doses = 1) {
    key_.assign(pin.data(), pin.size()).append(1, '\t').append(ndc).append(1, '\t').append(lot);
    lots_[key_] += doses;
  }
  void write(std::FILE* f, Summary& s) const {
    if (!f) return;
    std::string out = "vtrcks_prov_pin\tndc\tlot_number\tdoses\n";
    for (const auto& [key, doses] : lots_) {
      if (doses == 0) continue;
      out.append(key).append(1, '\t').append(std::to_string(doses)).append(1, '\n');
      ++s.lot_keys;
      s.lot_doses += doses;
      if (out.size() > (std::size_t{1} << 20)) flush(f, out);
    }
    flush(f, out);
  }

 private:
  static void flush(std::FILE* f, std::string& out) {
    if (std::fwrite(out.data(), 1, out.size(), f) != out.size())
      throw std::runtime_error("write error on the lots file");
    out.clear();
  }
  std::map<std::string, std::int64_t, std::less<>> lots_;
  std::string key_;
};

// The PIN as the loader stores it: NCA + the 6 characters, upper case.
std::string normalized_pin(sv pin) {
  std::string out = "NCA";
  const sv six = pin.size() == 9 ? pin.substr(3) : pin;
  for (char c : six) out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

constexpr sv kLongLetters =
    "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessenschafe"
    "warenwohlgepflegeundsorgfaltigkeitbeschutzenvonangreifendurchihrraubgierigfeinde";
constexpr sv kLongCity = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogochuchaf";
static_assert(kLongLetters.size() >= 120 && kLongCity.size() > 51);

struct ProductInfo {
  const Product* p = nullptr;
  Days era = 0;  // EUA / authorization date: first plausible admin date and VIS edition
  int band = 2;  // 0: under 5, 1: 5-11, 2: 12 and over
  bool janssen = false;
  sv volume;
  std::string ndc10;  // 5-4-1 form of the unit-of-sale NDC when it has one, else empty
  // The unit of sale the loader maps this product's unit-of-use NDC to: the first catalog row
  // listing that unit of use (59267-1000-01 is listed under -02 and -03; -02 comes first).
  sv use_sale;
  std::vector<sv> foreign_ndcs;  // unit-of-sale NDCs of other CVX codes (for NCVR_NDC_CVX)
  std::vector<sv> other_mvx;     // MVX codes of other manufacturers (for NCVR_MVX_CVX)
};

enum class Want { Any, Janssen, NotJanssen, UnitOfUse, ForeignNdc, OtherMvx };

struct Provider {
  std::uint16_t first, last, cred;
  char npi[10];
};
struct Location {
  char pin[6];
  std::uint16_t city, kind, store;
  std::uint8_t nproviders;
  Provider providers[5];
};

struct Recipient {
  std::uint64_t serial;
  Days dob, last_admin;
  std::uint16_t first, middle, last, suffix, street_no, street_name, street_type, unit_type,
      unit_no, city, zip_low2, zip4, phone_exch, phone_line, guardian_first, email_num;
  std::uint16_t area;
  char sex;
  std::uint8_t oos, county_fips, phone_fmt, email_kind, race_special, race_count, race[2],
      ethnicity, language, doses, had_janssen, guardian, zip4_present;
};

constexpr std::size_t kRecipientPool = std::size_t{1} << 16;

struct Era {
  const char* cvx;
  int y, m, d, band;
  const char* volume;
};
constexpr Era kEras[] = {
    {"208", 2020, 12, 11, 2, "0.3"}, {"207", 2020, 12, 18, 2, "0.5"}, {"212", 2021, 2, 27, 2, "0.5"},
    {"217", 2022, 1, 3, 2, "0.3"},   {"218", 2021, 10, 29, 1, "0.3"}, {"219", 2022, 6, 17, 0, "0.3"},
    {"221", 2021, 10, 20, 2, "0.25"}, {"227", 2022, 6, 17, 1, "0.25"}, {"228", 2022, 6, 17, 0, "0.25"},
    {"229", 2022, 8, 31, 2, "0.5"},  {"230", 2022, 12, 8, 0, "0.25"}, {"300", 2022, 8, 31, 2, "0.3"},
    {"301", 2022, 10, 12, 1, "0.3"}, {"302", 2022, 12, 8, 0, "0.3"},  {"211", 2022, 7, 13, 2, "0.5"}};

class Generator {
 public:
  Generator(const Options& o, const Catalog& c)
      : o_(o), c_(c), rng_(o.seed), race_rng_(o.seed ^ 0x7261636571756c74ULL) {
    if (c_.field_names.size() != kFieldCount)
      throw std::runtime_error("catalog must carry the 50 layout field names");
    std::uint64_t t = o.seed ^ 0x6e637672ULL;
    const std::uint64_t h = splitmix64(t);
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int i = 0; i < 6; ++i) tag_[i] = kHex[(h >> (4 * i)) & 15];
    first_admin_ = days_from_civil(2021, 1, 1);
    last_admin_ = o.today - 1;
    if (o.admin_days > 0)
      first_admin_ = std::max(first_admin_, o.today - static_cast<Days>(o.admin_days));
    race_quality_ = o.race_unknown_rate >= 0 || o.race_declined_rate >= 0;
    race_unknown_ = o.race_unknown_rate >= 0 ? o.race_unknown_rate : 0.02;
    race_declined_ = o.race_declined_rate >= 0 ? o.race_declined_rate : 0.02;
    setup_products();
    setup_locations();
    setup_kinds();
    pool_.resize(kRecipientPool);
  }

  Summary run(std::FILE* data_file, std::FILE* truth_file, std::FILE* lots_file) {
    Writer data(data_file), truth(truth_file);
    Lots lots;
    const sv eol = o_.crlf ? sv("\r\n") : sv("\n");
    for (std::size_t i = 0; i < c_.field_names.size(); ++i) {
      if (i) data.put('|');
      data.put(c_.field_names[i]);
    }
    data.put(eol);
    truth.put("line\tvax_event_id\texpected\tcodes\n");
    for (std::uint64_t n = 0; n < o_.records; ++n) {
      make_record(n);
      const int count = static_cast<int>(kFieldCount) + count_delta_;
      for (int i = 0; i < count; ++i) {
        if (i) data.put('|');
        if (i < static_cast<int>(kFieldCount)) data.put(f_[i]);
        else data.put("EXTRA");
      }
      data.put(eol);
      truth.num(n + 2);
      truth.put('\t');
      truth.put(f_[kEventId]);
      truth.put(error_ >= 0 ? sv("\trejected\t") : sv("\tloaded\t"));
      if (error_ >= 0) truth.put(kErrorCodes[static_cast<std::size_t>(error_)]);
      else if (warning_ >= 0) truth.put(kWarningCodes[static_cast<std::size_t>(warning_)]);
      truth.put('\n');
      count_race(summary_, f_[kRace1], f_[kEthnicity], error_ < 0);
      if (lots_file && error_ < 0 && !refusal_ && f_[kInventory] == "STATE")
        lots.add(normalized_pin(f_[kPin]), sale_ndc(), f_[kLot]);
    }
    data.flush();
    truth.flush();
    lots.write(lots_file, summary_);
    return summary_;
  }

  // ------------------------------------------------------------ for the corrections writer
  // make_record(n) builds base record n; after it, fields() are as written to the file and
  // valid_fields() as they were before any error or warning was injected (a valid record).
  // Both view into the arena and last until the next make_record.
  void next(std::uint64_t n) { make_record(n); }
  const sv* fields() const { return f_; }
  const sv* valid_fields() const { return pre_; }
  int error() const { return error_; }
  int warning() const { return warning_; }
  sv tag() const { return sv(tag_, 6); }
  // The unit-of-sale NDC the loader stores for the current record (valid or with a warning).
  sv sale_ndc() const {
    const ProductInfo& p = products_[static_cast<std::size_t>(pi_)];
    return warning_ == wUnitOfUse ? p.use_sale : sv(p.p->ndc_unit_of_sale);
  }

 private:
  // ------------------------------------------------------------ setup
  void setup_products() {
    for (const Product& p : c_.products) {
      ProductInfo info;
      info.p = &p;
      info.era = days_from_civil(2021, 1, 1);
      info.volume = p.mvx == "PFR" ? "0.3" : "0.5";
      for (const Era& e : kEras) {
        if (p.cvx == e.cvx) {
          info.era = days_from_civil(e.y, static_cast<unsigned>(e.m), static_cast<unsigned>(e.d));
          info.band = e.band;
          info.volume = e.volume;
        }
      }
      info.janssen = p.cvx == "212";
      const std::string& ndc = p.ndc_unit_of_sale;
      if (ndc.size() == 13 && ndc[5] == '-' && ndc[10] == '-' && ndc[11] == '0')
        info.ndc10 = ndc.substr(0, 11) + ndc.substr(12, 1);
      info.use_sale = p.ndc_unit_of_sale;
      for (const Product& first : c_.products) {
        if (!p.ndc_unit_of_use.empty() && first.ndc_unit_of_use == p.ndc_unit_of_use) {
          info.use_sale = first.ndc_unit_of_sale;
          break;
        }
      }
      products_.push_back(std::move(info));
    }
    for (ProductInfo& info : products_) {
      for (const Product& other : c_.products) {
        if (other.cvx == info.p->cvx) continue;
        bool own = false;  // an NDC listed for this CVX too is not "another CVX's"
        for (const Product& same : c_.products)
          if (same.cvx == info.p->cvx &&
              (same.ndc_unit_of_sale == other.ndc_unit_of_sale ||
               same.ndc_unit_of_use == other.ndc_unit_of_sale))
            own = true;
        if (!own &&
            std::find(info.foreign_ndcs.begin(), info.foreign_ndcs.end(), other.ndc_unit_of_sale) ==
                info.foreign_ndcs.end())
          info.foreign_ndcs.emplace_back(other.ndc_unit_of_sale);
      }
      for (const Product& other : c_.products) {
        // Another manufacturer: an MVX that makes none of this CVX's products.
        bool makes_cvx = false;
        for (const Product& same : c_.products)
          if (same.cvx == info.p->cvx && same.mvx == other.mvx) makes_cvx = true;
        if (!makes_cvx && std::find(info.other_mvx.begin(), info.other_mvx.end(), other.mvx) ==
                              info.other_mvx.end())
          info.other_mvx.emplace_back(other.mvx);
      }
    }
  }

  void setup_locations() {
    const int n = rng_.range(20, 200);
    static constexpr char kAlnum[] = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    for (int i = 0; i < n; ++i) {
      Location loc{};
      for (;;) {
        for (char& ch : loc.pin) ch = kAlnum[rng_.below(sizeof kAlnum - 1)];
        bool dup = false;
        for (const Location& other : locations_)
          if (std::memcmp(other.pin, loc.pin, 6) == 0) dup = true;
        if (!dup) break;
      }
      loc.city = static_cast<std::uint16_t>(rng_.below(std::size(ref::kNcCities)));
      loc.kind = static_cast<std::uint16_t>(rng_.below(std::size(ref::kLocationKinds)));
      loc.store = static_cast<std::uint16_t>(rng_.range(1, 9999));
      loc.nproviders = static_cast<std::uint8_t>(rng_.range(1, 5));
      for (int k = 0; k < loc.nproviders; ++k) {
        Provider& pr = loc.providers[k];
        const bool female = rng_.chance(0.6);
        pr.first = static_cast<std::uint16_t>(
            rng_.below(female ? std::size(ref::kFemaleFirst) : std::size(ref::kMaleFirst)) |
            (female ? 0x8000 : 0));
        pr.last = static_cast<std::uint16_t>(rng_.below(std::size(ref::kLast)));
        pr.cred = static_cast<std::uint16_t>(rng_.below(std::size(ref::kCredentials)));
        pr.npi[0] = rng_.chance(0.5) ? '1' : '2';
        for (int d = 1; d < 9; ++d) pr.npi[d] = static_cast<char>('0' + rng_.below(10));
        pr.npi[9] = static_cast<char>('0' + npi_check_digit(sv(pr.npi, 9)));
      }
      locations_.push_back(loc);
    }
  }

  void setup_kinds() {
    bool has_janssen = false, has_other = false, has_use = false;
    for (const ProductInfo& p : products_) {
      (p.janssen ? has_janssen : has_other) = true;
      if (!p.p->ndc_unit_of_use.empty()) has_use = true;
    }
    bool any_foreign = false, any_mvx = false;
    for (const ProductInfo& p : products_) {
      any_foreign |= !p.foreign_ndcs.empty();
      any_mvx |= !p.other_mvx.empty();
    }
    for (int k = 0; k < static_cast<int>(kErrorCodes.size()); ++k) {
      if (k == eJanssenDose && !has_janssen) continue;
      if ((k == eRefusalFields || k == eConditional) && !has_other) continue;
      if (k == eNdcCvx && !any_foreign) continue;
      if (k == eMvxCvx && !any_mvx) continue;
      error_kinds_.push_back(k);
    }
    warning_kinds_.push_back(wExpiredLot);
    if (has_use) warning_kinds_.push_back(wUnitOfUse);
    refusal_ok_ = has_other;
  }

  // ------------------------------------------------------------ helpers
  Days random_admin() {
    if (o_.admin_days > 0) return first_admin_ + rng_.range(0, last_admin_ - first_admin_);
    const Days end_2021 = std::min(last_admin_, days_from_civil(2021, 12, 31));
    if (rng_.chance(0.5)) return first_admin_ + rng_.range(0, end_2021 - first_admin_);
    return first_admin_ + rng_.range(0, last_admin_ - first_admin_);
  }

  static int age_years(Days dob, Days at) {
    int y1, y2;
    unsigned m1, d1, m2, d2;
    civil_from_days(dob, y1, m1, d1);
    civil_from_days(at, y2, m2, d2);
    int age = y2 - y1;
    if (m2 < m1 || (m2 == m1 && d2 < d1)) --age;
    return age;
  }

  int pick_product(Days admin, Days dob, Want want) {
    const int age = age_years(dob, admin);
    const int band = age < 5 ? 0 : age < 12 ? 1 : 2;
    int cand[64];
    int n = 0;
    auto ok = [&](const ProductInfo& p) {
      switch (want) {
        case Want::Any: return true;
        case Want::Janssen: return p.janssen;
        case Want::NotJanssen: return !p.janssen;
        case Want::UnitOfUse: return !p.p->ndc_unit_of_use.empty();
        case Want::ForeignNdc: return !p.foreign_ndcs.empty();
        case Want::OtherMvx: return !p.other_mvx.empty();
      }
      return true;
    };
    for (int pass = 0; pass < 3 && n == 0; ++pass) {
      for (int i = 0; i < static_cast<int>(products_.size()) && n < 64; ++i) {
        const ProductInfo& p = products_[static_cast<std::size_t>(i)];
        if (!ok(p)) continue;
        if (pass <= 1 && p.era > admin) continue;
        if (pass == 0 && p.band != band) continue;
        cand[n++] = i;
      }
    }
    if (n == 0) throw std::logic_error("ncvr_gen: no product fits");  // ruled out by setup_kinds
    return cand[rng_.below(static_cast<std::uint32_t>(n))];
  }

  void new_recipient(Recipient& r, Days admin) {
    r = Recipient{};
    r.serial = ++recipients_;
    r.dob = admin - rng_.range(182, 36524);
    if (rng_.chance(0.08)) r.dob = admin - rng_.range(182, 11 * 365);  // more children
    const double s = rng_.unit();
    r.sex = s < 0.52 ? 'F' : s < 0.995 ? 'M' : 'U';
    const bool female = r.sex == 'F' || (r.sex == 'U' && rng_.chance(0.5));
    r.first = static_cast<std::uint16_t>(
        rng_.below(female ? std::size(ref::kFemaleFirst) : std::size(ref::kMaleFirst)) |
        (female ? 0x8000 : 0));
    r.middle = rng_.chance(0.6) ? static_cast<std::uint16_t>(1 + rng_.below(std::size(ref::kMiddle))) : 0;
    r.last = static_cast<std::uint16_t>(rng_.below(std::size(ref::kLast)));
    r.suffix = (!female && rng_.chance(0.06))
                   ? static_cast<std::uint16_t>(1 + rng_.below(std::size(ref::kSuffix)))
                   : 0;
    r.street_no = static_cast<std::uint16_t>(rng_.range(1, 9999));
    r.street_name = static_cast<std::uint16_t>(rng_.below(std::size(ref::kStreetNames)));
    r.street_type = static_cast<std::uint16_t>(rng_.below(std::size(ref::kStreetTypes)));
    r.unit_type = rng_.chance(0.15) ? static_cast<std::uint16_t>(1 + rng_.below(std::size(ref::kUnitTypes))) : 0;
    r.unit_no = static_cast<std::uint16_t>(rng_.range(1, 450));
    r.oos = rng_.chance(0.06);
    r.city = static_cast<std::uint16_t>(
        rng_.below(r.oos ? std::size(ref::kOtherCities) : std::size(ref::kNcCities)));
    r.county_fips = rng_.chance(0.25);
    r.zip_low2 = static_cast<std::uint16_t>(rng_.below(100));
    r.zip4_present = rng_.chance(0.2);
    r.zip4 = static_cast<std::uint16_t>(rng_.range(1, 9999));
    r.area = static_cast<std::uint16_t>(rng_.below(4));  // 0: city's area code, else NC overlay
    r.phone_exch = static_cast<std::uint16_t>(rng_.range(200, 999));
    if (r.phone_exch % 100 == 11) ++r.phone_exch;
    r.phone_line = static_cast<std::uint16_t>(rng_.range(0, 9999));
    const double pf = rng_.unit();
    r.phone_fmt = pf < 0.03 ? 0 : pf < 0.45 ? 1 : pf < 0.75 ? 2 : pf < 0.95 ? 3 : 4;  // 0: none
    r.email_kind = rng_.chance(0.4) ? static_cast<std::uint8_t>(rng_.range(1, 3)) : 0;
    r.email_num = static_cast<std::uint16_t>(rng_.range(1, 99));
    const double rs = rng_.unit();
    r.race_special = rs < 0.01 ? 1 : rs < 0.02 ? 2 : 0;
    if (!r.race_special) {
      r.race_count = rng_.chance(0.05) ? 2 : 1;
      for (int k = 0; k < r.race_count; ++k) {
        for (;;) {
          const int w = rng_.range(0, 999);
          std::uint8_t code = 0;
          while (ref::kRaceWeights[code] <= w) ++code;
          if (k == 0 || code != r.race[0]) {
            r.race[k] = code;
            break;
          }
        }
      }
    }
    const double es = rng_.unit();
    r.ethnicity = es < 0.11 ? 0 : es < 0.98 ? 1 : es < 0.99 ? 2 : 3;
    r.language = rng_.chance(0.5) ? static_cast<std::uint8_t>(1 + rng_.below(std::size(ref::kLanguages))) : 0;
    r.guardian = age_years(r.dob, admin) < 18 && rng_.chance(0.7);
    r.guardian_first = static_cast<std::uint16_t>(rng_.below(std::size(ref::kFemaleFirst)));
    if (race_quality_) apply_race_quality(r);
  }

  // Overrides race_1/ethnicity from a stream of its own, so every other field (and the main
  // stream) is what it would be without the race options.
  void apply_race_quality(Recipient& r) {
    enum { kReal, kUnk, kDeclined };
    int race = kReal, eth = kReal;
    const double u = race_rng_.unit();
    const int special = u < race_unknown_ ? kUnk : u < race_unknown_ + race_declined_ ? kDeclined : kReal;
    if (special != kReal) {
      const std::uint32_t which = race_rng_.below(3);  // race only, ethnicity only, both
      if (which != 1) race = special;
      if (which != 0) eth = special;
    }
    if (race == kReal) {
      if (r.race_special) {
        r.race_special = 0;
        r.race_count = 1;
        const int w = race_rng_.range(0, 999);
        std::uint8_t code = 0;
        while (ref::kRaceWeights[code] <= w) ++code;
        r.race[0] = code;
      }
    } else {
      r.race_special = race == kUnk ? 1 : 2;
      r.race_count = 0;
    }
    if (eth == kReal) {
      if (r.ethnicity >= 2) r.ethnicity = race_rng_.chance(0.11) ? 0 : 1;
    } else {
      r.ethnicity = eth == kUnk ? 2 : 3;
    }
  }

  sv first_name(std::uint16_t code) const {
    return (code & 0x8000) ? ref::kFemaleFirst[code & 0x7fff] : ref::kMaleFirst[code];
  }

  sv marker(const char* prefix, std::uint64_t serial) {
    return a_.put(prefix).num(serial, 7).take();
  }

  // Lot number and expiry are a function of (product, admin month, variant): a site uses
  // a few lots a month, and every dose from one lot shows the same expiry.
  void lot_for(int product, Days admin, sv& lot, Days& expiry, bool& month_only) {
    int y;
    unsigned m, d;
    civil_from_days(admin, y, m, d);
    const Days month_start = days_from_civil(y, m, 1);
    const std::uint64_t h = mix64((static_cast<std::uint64_t>(product) << 40) ^
                                  (static_cast<std::uint64_t>(y * 12 + static_cast<int>(m)) << 8) ^
                                  rng_.below(3) ^ (o_.seed * 0x9e3779b97f4a7c15ULL));
    expiry = month_start + 150 + static_cast<Days>(h % 250);
    month_only = ((h >> 20) % 100) < 15;
    lot = lot_text(a_, products_[static_cast<std::size_t>(product)].p->mvx, h >> 24);
  }

  sv phone(const Recipient& r, int fmt) {
    sv area;
    if (r.oos) {
      a_.num(static_cast<std::uint64_t>(ref::kOtherCities[r.city].area_code));
    } else if (r.area == 0) {
      a_.num(static_cast<std::uint64_t>(ref::kNcCities[r.city].area_code));
    } else {
      a_.put(ref::kNcAreaCodes[(r.city + r.area) % std::size(ref::kNcAreaCodes)]);
    }
    area = a_.take();
    switch (fmt) {
      case 1: a_.put(area).put('-').num(r.phone_exch, 3).put('-').num(r.phone_line, 4); break;
      case 2: a_.put('(').put(area).put(") ").num(r.phone_exch, 3).put('-').num(r.phone_line, 4); break;
      case 3: a_.put(area).num(r.phone_exch, 3).num(r.phone_line, 4); break;
      default: a_.put(area).put('.').num(r.phone_exch, 3).put('.').num(r.phone_line, 4); break;
    }
    return a_.take();
  }

  sv zip(const Recipient& r) {
    const int zip3 = r.oos ? ref::kOtherCities[r.city].zip3 : ref::kNcCities[r.city].zip3;
    a_.num(static_cast<std::uint64_t>(zip3), 3).num(r.zip_low2, 2);
    if (r.zip4_present) a_.put('-').num(r.zip4, 4);
    return a_.take();
  }

  sv county_of(int nc_city, bool fips) {
    const sv name = ref::kNcCities[nc_city].county;
    if (!fips) return name;
    return a_.num(static_cast<std::uint64_t>(37001 + 2 * ref::county_index(name))).take();
  }

  void fill_demographics(const Recipient& r) {
    a_.put("MRN").put(sv(tag_, 6)).num(r.serial, 8);
    f_[kRecipId] = a_.take();
    if (o_.phi_markers) {
      f_[kFirst] = marker("PHIFN", r.serial);
      f_[kMiddle] = r.middle ? marker("PHIMN", r.serial) : sv();
      f_[kLast] = marker("PHILN", r.serial);
      f_[kStreet] = marker("PHIST", r.serial);
      f_[kStreet2] = r.unit_type ? marker("PHIS2", r.serial) : sv();
      if (r.email_kind) {
        a_.put("PHIEM").num(r.serial, 7).put("@example.com");
        f_[kEmail] = a_.take();
      }
      f_[kGuardian] = r.guardian ? marker("PHIGN", r.serial) : sv();
    } else {
      f_[kFirst] = first_name(r.first);
      f_[kMiddle] = r.middle ? ref::kMiddle[r.middle - 1] : sv();
      f_[kLast] = ref::kLast[r.last];
      a_.num(r.street_no).put(' ').put(ref::kStreetNames[r.street_name]).put(' ')
          .put(ref::kStreetTypes[r.street_type]);
      f_[kStreet] = a_.take();
      if (r.unit_type) {
        const sv ut = ref::kUnitTypes[r.unit_type - 1];
        a_.put(ut);
        if (ut != "#") a_.put(' ');
        f_[kStreet2] = a_.num(r.unit_no).take();
      }
      if (r.email_kind) {
        a_.ascii_lower(first_name(r.first));
        if (r.email_kind >= 2) a_.put('.').ascii_lower(ref::kLast[r.last]);
        if (r.email_kind == 3) a_.num(r.email_num);
        static constexpr sv kDomains[] = {"@example.com", "@example.net", "@example.org"};
        f_[kEmail] = a_.put(kDomains[r.serial % 3]).take();
      }
      if (r.guardian) {
        f_[kGuardian] =
            a_.put(ref::kFemaleFirst[r.guardian_first]).put(' ').put(ref::kLast[r.last]).take();
      }
    }
    f_[kSuffix] = r.suffix ? ref::kSuffix[r.suffix - 1] : sv();
    f_[kDob] = a_.date(r.dob).take();
    f_[kSex] = r.sex == 'F' ? sv("F") : r.sex == 'M' ? sv("M") : sv("U");
    if (r.oos) {
      f_[kCity] = ref::kOtherCities[r.city].city;
      f_[kCounty] = sv();
      f_[kState] = ref::kOtherCities[r.city].state;
    } else {
      f_[kCity] = ref::kNcCities[r.city].city;
      f_[kCounty] = county_of(r.city, r.county_fips);
      f_[kState] = "NC";
    }
    f_[kZip] = zip(r);
    f_[kPhone] = r.phone_fmt ? phone(r, r.phone_fmt) : sv();
    if (r.race_special) {
      f_[kRace1] = r.race_special == 1 ? sv("UNK") : sv("DECLINED");
    } else {
      for (int k = 0; k < r.race_count; ++k) f_[kRace1 + k] = ref::kRaceCodes[r.race[k]];
    }
    static constexpr sv kEthnicities[] = {"2135-2", "2186-5", "UNK", "DECLINED"};
    f_[kEthnicity] = kEthnicities[r.ethnicity];
    f_[kLanguage] = r.language ? ref::kLanguages[r.language - 1] : sv();
  }

  // ------------------------------------------------------------ one record
  void make_record(std::uint64_t n) {
    a_.reset();
    for (sv& f : f_) f = sv();
    count_delta_ = 0;
    error_ = -1;
    warning_ = -1;

    // What this record will be.
    bool refusal = false;
    const double u = rng_.unit();
    if (u < o_.error_rate && !error_kinds_.empty()) {
      error_ = error_kinds_[rng_.below(static_cast<std::uint32_t>(error_kinds_.size()))];
    } else if (u < o_.error_rate + o_.warning_rate) {
      warning_ = warning_kinds_[rng_.below(static_cast<std::uint32_t>(warning_kinds_.size()))];
    } else if (u < o_.error_rate + o_.warning_rate + o_.refusal_rate && refusal_ok_) {
      refusal = true;
    }
    Want want = Want::Any;
    if (refusal || error_ == eRefusalFields || error_ == eConditional) want = Want::NotJanssen;
    if (error_ == eJanssenDose) want = Want::Janssen;
    if (error_ == eNdcCvx) want = Want::ForeignNdc;
    if (error_ == eMvxCvx) want = Want::OtherMvx;
    if (warning_ == wUnitOfUse) want = Want::UnitOfUse;

    // Who, and when.
    Recipient* r = nullptr;
    Days admin = 0;
    if (o_.admin_days == 0 && rng_.chance(o_.repeat_rate) && pool_count_ > 0 && error_ != eBeforeEua) {
      const std::uint64_t filled = std::min<std::uint64_t>(pool_count_, kRecipientPool);
      for (int attempt = 0; attempt < 4 && !r; ++attempt) {
        Recipient& cand = pool_[rng_.below(static_cast<std::uint32_t>(filled))];
        if (cand.last_admin <= last_admin_ - 1) r = &cand;
      }
      if (r) {
        admin = std::min<Days>(r->last_admin + rng_.range(14, 300), last_admin_);
        ++summary_.repeats;
      }
    } else if (o_.admin_days > 0 && rng_.chance(o_.repeat_rate) && pool_count_ > 0 &&
               error_ != eBeforeEua) {
      // A short window: the date first, then a recipient whose last dose is 14+ days earlier
      // (none in a window under 15 days), so dates stay uniform over the window.
      admin = random_admin();
      const std::uint64_t filled = std::min<std::uint64_t>(pool_count_, kRecipientPool);
      for (int attempt = 0; attempt < 4 && !r; ++attempt) {
        Recipient& cand = pool_[rng_.below(static_cast<std::uint32_t>(filled))];
        if (cand.last_admin <= admin - 14) r = &cand;
      }
      if (r) ++summary_.repeats;
    }
    if (!r) {
      if (admin == 0) admin = random_admin();
      r = &pool_[pool_count_ % kRecipientPool];
      ++pool_count_;
      new_recipient(*r, admin);
    }
    if (error_ == eDateOrder && admin > last_admin_ - 1) admin = last_admin_ - 1;

    const int pi = pick_product(admin, r->dob, r->doses > 0 && want == Want::Any && rng_.chance(0.95)
                                                   ? Want::NotJanssen
                                                   : want);
    const ProductInfo& prod = products_[static_cast<std::size_t>(pi)];
    pi_ = pi;
    refusal_ = refusal;
    const Location& loc = locations_[rng_.below(static_cast<std::uint32_t>(locations_.size()))];

    // Identity and location.
    f_[kEventId] = a_.put("EV").put(sv(tag_, 6)).num(n + 1, 9).take();
    f_[kAction] = "A";
    f_[kOrg] = o_.org;
    const bool alt_form = o_.alt_form_rate > 0 && rng_.chance(o_.alt_form_rate);
    if (!alt_form || rng_.chance(0.5)) a_.put("NCA");
    f_[kPin] = a_.put(sv(loc.pin, 6)).take();
    f_[kAdminName] = a_.put(ref::kLocationKinds[loc.kind]).put(" #").num(loc.store, 4).put(' ')
                         .put(ref::kNcCities[loc.city].city).take();
    fill_demographics(*r);

    // The dose.
    f_[kAdminDate] = a_.date(admin).take();
    f_[kCvx] = prod.p->cvx;
    f_[kMvx] = prod.p->mvx;
    if (prod.janssen) f_[kDoseStatus] = "Dose One Administered";
    else if (r->doses == 0) f_[kDoseStatus] = rng_.chance(0.8) ? sv("Dose One Administered")
                                                                : sv("Booster Dose Administered");
    else if (r->doses == 1 && !r->had_janssen) f_[kDoseStatus] = "Dose Two Administered";
    else f_[kDoseStatus] = rng_.chance(0.7) ? sv("Booster Dose Administered")
                                            : sv("Additional Dose Administered");
    f_[kNdc] = (alt_form && !prod.ndc10.empty() && rng_.chance(0.5)) ? sv(prod.ndc10)
                                                                     : sv(prod.p->ndc_unit_of_sale);
    Days expiry;
    bool month_only;
    lot_for(pi, admin, f_[kLot], expiry, month_only);
    f_[kExpiration] = month_only ? a_.month(expiry).take() : a_.date(expiry).take();
    f_[kSite] = rng_.chance(0.85) ? (rng_.chance(0.5) ? sv("LD") : sv("RD")) : rng_.pick(ref::kSites);
    if (rng_.chance(0.03)) f_[kSite] = sv();
    f_[kRoute] = rng_.chance(0.8) ? sv("IM") : sv("C28161");
    f_[kVolume] = rng_.chance(0.9) ? prod.volume : sv();
    const Provider& pr = loc.providers[rng_.below(loc.nproviders)];
    if (rng_.chance(0.9)) {
      f_[kProviderName] = a_.put(first_name(pr.first)).put(' ').put(ref::kLast[pr.last]).put(' ')
                              .put(ref::kCredentials[pr.cred]).take();
      if (rng_.chance(0.85)) f_[kNpi] = sv(pr.npi, 10);
    }
    if (rng_.chance(0.75) && prod.era <= admin) {
      f_[kVisEdition] = a_.date(prod.era).take();
      f_[kVisGiven] = f_[kAdminDate];
    }
    f_[kInventory] = rng_.chance(o_.federal_rate) ? sv("FEDERAL") : sv("STATE");
    f_[kRefusal] = "NO";
    static constexpr sv kYnu[] = {"YES", "NO", "UNK"};
    const double cm = rng_.unit();
    f_[kCmorbid] = kYnu[cm < 0.25 ? 0 : cm < 0.85 ? 1 : 2];
    const double se = rng_.unit();
    f_[kSerology] = kYnu[se < 0.05 ? 0 : se < 0.35 ? 1 : 2];
    if (rng_.chance(0.15)) f_[kPriority] = rng_.pick(ref::kPriorityGroups);
    if (rng_.chance(0.85)) {
      f_[kLastModified] = a_.date(admin).put('T').num(static_cast<std::uint64_t>(rng_.range(7, 20)), 2)
                              .put(':').num(rng_.below(60), 2).put(':').num(rng_.below(60), 2).take();
    }

    // Bookkeeping uses the intended (valid) dose, whatever is injected below.
    r->last_admin = std::max(r->last_admin, admin);
    if (refusal) {
      make_refusal(rng_.range(0, 3));
      ++summary_.refusals;
    } else if (error_ < 0) {
      ++r->doses;
      r->had_janssen |= prod.janssen;
    }

    std::copy(std::begin(f_), std::end(f_), std::begin(pre_));
    if (error_ >= 0) {
      inject_error(*r, prod, admin);
      ++summary_.rejected;
      ++summary_.error_counts[static_cast<std::size_t>(error_)];
    } else if (warning_ >= 0) {
      inject_warning(prod, admin);
      ++summary_.warnings;
      ++summary_.warning_counts[static_cast<std::size_t>(warning_)];
    }
    ++summary_.records;
  }

  void blank_dose_fields() {
    for (int i = kNdc; i <= kVisGiven; ++i) f_[i] = sv();
  }

  void make_refusal(int reason) {
    static constexpr sv kReasons[] = {"00", "01", "02", "03"};
    f_[kRefusal] = "YES";
    f_[kRefusalReason] = kReasons[reason];
    f_[kDoseStatus] = "Not Administered";
    blank_dose_fields();
  }

  // A 1-based FIPS county code of another state (SC 45xxx, VA 51xxx, GA 13xxx, TN 47xxx).
  sv foreign_fips() {
    static constexpr int kStates[] = {45, 51, 13, 47};
    return a_.num(static_cast<std::uint64_t>(rng_.pick(kStates) * 1000 + 2 * rng_.range(0, 45) + 1), 5)
        .take();
  }

  sv padded(sv base, std::size_t length, sv filler) {
    a_.put(base.substr(0, std::min(base.size(), length)));
    std::size_t i = 0;
    while (a_.size_since_mark() < length) a_.put(filler[i++ % filler.size()]);
    return a_.take();
  }

  void inject_error(const Recipient& r, const ProductInfo& prod, Days admin) {
    switch (error_) {
      case eRequired: {
        // Required fields with no other rule riding on them, plus the ones the brief names.
        static constexpr int kFields[] = {kLast, kFirst, kAdminDate, kCvx, kLot, kCity, kStreet,
                                          kRecipId, kInventory, kCmorbid};
        const int fi = rng_.pick(kFields);
        f_[fi] = sv();
        if (fi == kAdminDate) f_[kVisGiven] = sv();
        break;
      }
      case eFieldCount:
        count_delta_ = rng_.chance(0.5) ? -1 : 1;
        break;
      case eTooLong: {
        switch (rng_.below(6)) {
          case 0:
            f_[kFirst] = o_.phi_markers ? padded(f_[kFirst], 51, "X") : padded(kLongLetters.substr(35), 51, "a");
            break;
          case 1:
            f_[kLast] = o_.phi_markers ? padded(f_[kLast], 51, "X") : padded(kLongLetters, 51, "a");
            break;
          case 2: f_[kCity] = padded(kLongCity, 51, "a"); break;
          case 3: {
            const sv base = o_.phi_markers ? f_[kStreet] : sv("1200 Wolfeschlegelsteinhausenbergerdorff");
            a_.put(base).put(' ');
            const sv head = a_.take();
            f_[kStreet] = padded(head, 101, kLongLetters);
            break;
          }
          case 4: f_[kLot] = padded("EW", 21, "0123456789"); break;
          default: f_[kRecipId] = padded(f_[kRecipId], 65, "0"); break;
        }
        break;
      }
      case eFormat: {
        int y;
        unsigned m, d;
        civil_from_days(admin, y, m, d);
        switch (rng_.below(4)) {
          case 0:
            f_[kVisEdition] = a_.num(static_cast<std::uint64_t>(y), 4).put("-02-30").take();
            if (f_[kVisGiven].empty()) f_[kVisGiven] = f_[kAdminDate];
            break;
          case 1: f_[kZip] = "12AB4"; break;
          case 2:
            f_[kPhone] = a_.num(r.phone_exch, 3).put('-').num(r.phone_line, 4).take();
            break;
          default:
            f_[kRecipId] = a_.put("MRN ").put(sv(tag_, 6)).num(r.serial, 8).take();
            break;
        }
        break;
      }
      case eCode:
        switch (rng_.below(5)) {
          case 0: f_[kSex] = "X"; break;
          case 1:
            f_[kRace1] = "9999-9";
            for (int i = kRace2; i <= kRace6; ++i) f_[i] = sv();
            break;
          case 2:
            f_[kState] = "ZZ";
            f_[kCounty] = sv();
            break;
          case 3: f_[kSite] = "XX"; break;
          default: f_[kEthnicity] = "9999-9"; break;
        }
        break;
      case eDateFuture: {
        // Far enough ahead (1-2 years) to be in the future for a validator on the real clock
        // too; expiry follows so the lot is not expired; no VIS given date in the future.
        const Days future = o_.today + rng_.range(366, 730);
        f_[kAdminDate] = a_.date(future).take();
        f_[kExpiration] = a_.date(future + rng_.range(60, 400)).take();
        f_[kVisGiven] = sv();
        break;
      }
      case eDateOrder: {
        // DOB after the admin date, but not in the future; age stays under 120.
        const Days dob = admin + rng_.range(1, std::min<Days>(5 * 365, last_admin_ - admin));
        f_[kDob] = a_.date(dob).take();
        break;
      }
      case eAge: {
        int y;
        unsigned m, d;
        civil_from_days(admin, y, m, d);
        if (m == 2 && d == 29) d = 28;
        const Days dob = days_from_civil(y - 121 - rng_.range(0, 9), m, d) - rng_.range(0, 300);
        f_[kDob] = a_.date(dob).take();
        break;
      }
      case eBeforeEua: {
        const Days early = days_from_civil(2020, 11, static_cast<unsigned>(rng_.range(1, 30)));
        f_[kAdminDate] = a_.date(early).take();
        f_[kExpiration] = a_.date(early + rng_.range(60, 400)).take();
        f_[kVisEdition] = sv();
        f_[kVisGiven] = sv();
        if (r.dob >= early) f_[kDob] = a_.date(early - rng_.range(18 * 365, 80 * 365)).take();
        break;
      }
      case eMvxCvx:
        f_[kMvx] = prod.other_mvx[rng_.below(static_cast<std::uint32_t>(prod.other_mvx.size()))];
        break;
      case eJanssenDose:
        f_[kDoseStatus] = "Dose Two Administered";
        break;
      case eNdcCvx:
        f_[kNdc] = prod.foreign_ndcs[rng_.below(static_cast<std::uint32_t>(prod.foreign_ndcs.size()))];
        break;
      case eRefusalFields:
        f_[kRefusal] = "YES";
        f_[kRefusalReason] = "03";
        f_[kDoseStatus] = "Not Administered";
        break;
      case eConditional:
        make_refusal(0);
        f_[kRefusalReason] = sv();
        break;
      case eRaceExtra:
        f_[kRace1] = rng_.chance(0.5) ? sv("UNK") : sv("DECLINED");
        f_[kRace2] = ref::kRaceCodes[rng_.below(std::size(ref::kRaceCodes))];
        for (int i = kRace3; i <= kRace6; ++i) f_[i] = sv();
        break;
      case eCountyState:
        switch (rng_.below(2)) {
          case 0:  // NC with another state's FIPS
            f_[kState] = "NC";
            f_[kCounty] = foreign_fips();
            break;
          default:  // an NC FIPS with VA or SC. Not an NC county *name*: names like Union or
                    // Wayne exist in many states, so only the 37xxx code is conclusive.
            f_[kCounty] = a_.num(static_cast<std::uint64_t>(37001 + 2 * rng_.range(0, 99))).take();
            f_[kState] = rng_.chance(0.5) ? sv("VA") : sv("SC");
            break;
        }
        break;
      case eNpiCheck: {
        const Location& loc = locations_[rng_.below(static_cast<std::uint32_t>(locations_.size()))];
        const Provider& pr = loc.providers[0];
        char bad[10];
        std::memcpy(bad, pr.npi, 10);
        bad[9] = static_cast<char>('0' + (bad[9] - '0' + rng_.range(1, 9)) % 10);
        f_[kNpi] = a_.put(sv(bad, 10)).take();
        if (f_[kProviderName].empty())
          f_[kProviderName] = a_.put(first_name(pr.first)).put(' ').put(ref::kLast[pr.last]).take();
        break;
      }
      default: break;
    }
  }

  void inject_warning(const ProductInfo& prod, Days admin) {
    if (warning_ == wUnitOfUse) {
      f_[kNdc] = prod.p->ndc_unit_of_use;
    } else {
      // Expired at least 35 days before the dose: an earlier month whichever way a
      // validator reads a YYYY-MM expiry, so always write the full date.
      f_[kExpiration] = a_.date(admin - rng_.range(35, 400)).take();
    }
  }

  const Options& o_;
  const Catalog& c_;
  Rng rng_;
  Rng race_rng_;
  bool race_quality_ = false;
  double race_unknown_ = 0, race_declined_ = 0;
  char tag_[6];
  Days first_admin_ = 0, last_admin_ = 0;
  std::vector<ProductInfo> products_;
  std::vector<Location> locations_;
  std::vector<int> error_kinds_, warning_kinds_;
  bool refusal_ok_ = false;
  std::vector<Recipient> pool_;
  std::uint64_t pool_count_ = 0;
  std::uint64_t recipients_ = 0;
  Arena a_;
  sv f_[kFieldCount];
  sv pre_[kFieldCount];
  int pi_ = 0;
  bool refusal_ = false;
  int count_delta_ = 0;
  int error_ = -1;
  int warning_ = -1;
  Summary summary_;
};


// ---------------------------------------------------------------- corrections files

// A corrections file of a base daily file. The base is regenerated twice, never held: pass 1
// learns which base records load cleanly and which are rejected and samples the picks
// (reservoir sampling, a few bytes per pick); pass 2 regenerates the base again and writes a
// corrections line whenever it reaches a picked record, so lines follow base order.
class Corrections {
 public:
  Corrections(const Options& o, const Catalog& c)
      : o_(o), base_(base_options(o)), c_(c), rng_(mix64(o.seed ^ 0x636f7272656374ULL)) {}

  Summary run(std::FILE* data_file, std::FILE* truth_file, std::FILE* lots_file) {
    const auto counts = allocate();
    sample(counts);
    Writer data(data_file), truth(truth_file);
    Lots lots;
    const sv eol = o_.crlf ? sv("\r\n") : sv("\n");
    for (std::size_t i = 0; i < c_.field_names.size(); ++i) {
      if (i) data.put('|');
      data.put(c_.field_names[i]);
    }
    data.put(eol);
    truth.put("line\tvax_event_id\texpected\tcodes\taction\tcase\tbase_line\tchanged\n");
    auto gen = std::make_unique<Generator>(base_, c_);
    std::size_t p = 0;
    for (std::uint64_t n = 0; p < picks_.size(); ++n) {
      gen->next(n);
      while (p < picks_.size() && picks_[p].index == n) emit(*gen, picks_[p++], data, truth, eol, lots);
    }
    data.flush();
    truth.flush();
    lots.write(lots_file, summary_);
    return summary_;
  }

 private:
  struct Pick {
    std::uint64_t index;  // base record (0-based)
    int kase;
  };

  static bool unknown_case(int k) { return k == kUpdateUnknown || k == kDeleteUnknown; }

  // Lines per case: largest remainders of records * weight / total, then every case with a
  // weight gets at least one line when there are enough lines.
  std::array<std::uint64_t, kCaseCount> allocate() const {
    std::array<std::uint64_t, kCaseCount> counts{};
    double total = 0;
    for (double w : o_.mix) total += w;
    std::array<double, kCaseCount> frac{};
    std::uint64_t given = 0;
    for (int k = 0; k < kCaseCount; ++k) {
      const double exact = static_cast<double>(o_.records) * o_.mix[k] / total;
      counts[k] = static_cast<std::uint64_t>(exact);
      frac[k] = exact - static_cast<double>(counts[k]);
      given += counts[k];
    }
    while (given < o_.records) {
      int best = -1;
      for (int k = 0; k < kCaseCount; ++k)
        if (o_.mix[k] > 0 && (best < 0 || frac[k] > frac[best])) best = k;
      ++counts[best];
      frac[best] = -1;
      ++given;
      if (std::all_of(frac.begin(), frac.end(), [](double f) { return f < 0; }))
        for (int k = 0; k < kCaseCount; ++k) frac[k] = o_.mix[k] > 0 ? 0.0 : -1.0;
    }
    int positive = 0;
    for (double w : o_.mix) positive += w > 0;
    if (o_.records >= static_cast<std::uint64_t>(positive)) {
      for (int k = 0; k < kCaseCount; ++k) {
        if (o_.mix[k] <= 0 || counts[k] > 0) continue;
        const auto most = std::max_element(counts.begin(), counts.end());
        --*most;
        ++counts[k];
      }
    }
    return counts;
  }

  void reservoir(std::vector<std::uint64_t>& kept, std::uint64_t capacity, std::uint64_t& seen,
                 std::uint64_t n) {
    if (capacity == 0) return;
    if (kept.size() < capacity) kept.push_back(n);
    else if (const std::uint64_t j = rng_.next() % (seen + 1); j < capacity) kept[j] = n;
    ++seen;
  }

  void sample(const std::array<std::uint64_t, kCaseCount>& counts) {
    const std::uint64_t need_rejected = counts[kAddFixed];
    std::uint64_t need_loaded = 0;
    for (int k : {kUpdate, kUpdateSame, kDelete, kAddConflict, kAddSame}) need_loaded += counts[k];
    std::vector<std::uint64_t> rejected, loaded;
    std::uint64_t seen_rejected = 0, seen_loaded = 0;
    {
      auto gen = std::make_unique<Generator>(base_, c_);
      for (std::uint64_t n = 0; n < base_.records; ++n) {
        gen->next(n);
        if (gen->error() >= 0) reservoir(rejected, need_rejected, seen_rejected, n);
        else if (gen->warning() < 0) reservoir(loaded, need_loaded, seen_loaded, n);
      }
    }
    auto too_few = [&](const char* what, std::uint64_t have, std::uint64_t need, const char* cases) {
      throw std::runtime_error(std::string("the base file (")
                                   .append(std::to_string(base_.records))
                                   .append(" records, seed ")
                                   .append(std::to_string(base_.seed))
                                   .append(") has ")
                                   .append(std::to_string(have))
                                   .append(what)
                                   .append(" but the mix needs ")
                                   .append(std::to_string(need))
                                   .append(" for ")
                                   .append(cases)
                                   .append(": raise --base-records, lower --records or change --mix"));
    };
    if (seen_rejected < need_rejected) too_few(" rejected records", seen_rejected, need_rejected, "add-fixed");
    if (seen_loaded < need_loaded)
      too_few(" clean loaded records", seen_loaded, need_loaded,
              "update, update-same, delete, add-conflict and add-same");
    for (std::size_t i = loaded.size(); i > 1; --i)
      std::swap(loaded[i - 1], loaded[rng_.next() % i]);
    for (std::uint64_t n : rejected) picks_.push_back({n, kAddFixed});
    std::size_t next = 0;
    for (int k : {kUpdate, kUpdateSame, kDelete, kAddConflict, kAddSame})
      for (std::uint64_t i = 0; i < counts[k]; ++i) picks_.push_back({loaded[next++], k});
    // Never-sent ids carry the content of some base record (any: its valid form).
    for (int k : {kUpdateUnknown, kDeleteUnknown})
      for (std::uint64_t i = 0; i < counts[k]; ++i) picks_.push_back({rng_.next() % base_.records, k});
    std::stable_sort(picks_.begin(), picks_.end(),
                     [](const Pick& a, const Pick& b) { return a.index < b.index; });
  }

  // Changes one value of a valid record so that it stays valid; returns the field's name.
  sv change_one(std::array<sv, kFieldCount>& f) {
    enum { kChangeLot, kChangeSite, kChangeRoute, kChangeInventory, kChangeReason };
    int what;
    if (f[kRefusal] == "YES") {
      what = rng_.chance(0.6) ? kChangeInventory : kChangeReason;
    } else {
      const double u = rng_.unit();
      what = u < 0.35 ? kChangeLot : u < 0.65 ? kChangeSite : u < 0.75 ? kChangeRoute : kChangeInventory;
    }
    switch (what) {
      case kChangeLot: {
        // Another lot of the same product: the manufacturer's shape, a different number.
        sv lot;
        do lot = lot_text(a_, f[kMvx], rng_.next()); while (lot == f[kLot]);
        f[kLot] = lot;
        return c_.field_names[kLot];
      }
      case kChangeSite: {
        sv site;
        if (f[kSite].empty()) site = rng_.chance(0.5) ? sv("LD") : sv("RD");
        else do site = rng_.pick(ref::kSites); while (site == f[kSite]);
        f[kSite] = site;
        return c_.field_names[kSite];
      }
      case kChangeRoute:
        // Not IM <-> C28161: both say intramuscular, so a reader mapping one to the other
        // would see no change.
        f[kRoute] = f[kRoute].empty() ? sv("IM") : sv("SC");
        return c_.field_names[kRoute];
      case kChangeInventory:
        f[kInventory] = f[kInventory] == "STATE" ? sv("FEDERAL") : sv("STATE");
        return c_.field_names[kInventory];
      default: {
        static constexpr sv kReasons[] = {"00", "01", "02", "03"};
        sv reason;
        do reason = rng_.pick(kReasons); while (reason == f[kRefusalReason]);
        f[kRefusalReason] = reason;
        return c_.field_names[kRefusalReason];
      }
    }
  }

  void emit(const Generator& gen, const Pick& pick, Writer& data, Writer& truth, sv eol, Lots& lots) {
    a_.reset();
    std::array<sv, kFieldCount> f;
    std::copy(gen.valid_fields(), gen.valid_fields() + kFieldCount, f.begin());
    const int k = pick.kase;
    const bool unknown = unknown_case(k);
    if (unknown) f[kEventId] = a_.put("EV").put(gen.tag()).num(900000000 + ++unknown_serial_, 9).take();
    sv changed;
    if (k == kUpdate || k == kAddConflict) changed = change_one(f);
    f[kAction] = (k == kAddFixed || k == kAddConflict || k == kAddSame) ? sv("A")
                 : (k == kDelete || k == kDeleteUnknown)                 ? sv("D")
                                                                         : sv("U");
    int outcome;  // index in kOutcomes
    sv code;
    switch (k) {
      case kAddFixed: outcome = 0; break;
      case kUpdate: outcome = 1; break;
      case kDelete: outcome = 2; break;
      case kUpdateSame:
      case kAddSame: outcome = 3; break;
      case kAddConflict: outcome = 4; code = "CVMS_EVENT_CONFLICT"; break;
      default: outcome = 4; code = "CVMS_UNKNOWN_EVENT"; break;
    }
    if (o_.corrections_error_rate > 0 && rng_.chance(o_.corrections_error_rate)) {
      // A record error is found before the store sees the record: it wins over any store code.
      outcome = 4;
      switch (rng_.below(3)) {
        case 0: f[kSex] = "X"; code = "NCVR_CODE"; break;
        case 1: f[kZip] = "12AB4"; code = "NCVR_FORMAT"; break;
        default: f[kLast] = sv(); code = "NCVR_REQUIRED"; break;
      }
    }
    for (std::size_t i = 0; i < kFieldCount; ++i) {
      if (i) data.put('|');
      data.put(f[i]);
    }
    data.put(eol);
    truth.num(summary_.records + 2);
    truth.put('\t');
    truth.put(f[kEventId]);
    truth.put('\t');
    truth.put(kOutcomes[static_cast<std::size_t>(outcome)]);
    truth.put('\t');
    truth.put(code);
    truth.put('\t');
    truth.put(f[kAction]);
    truth.put('\t');
    truth.put(kCaseNames[static_cast<std::size_t>(k)]);
    truth.put('\t');
    if (!unknown) truth.num(pick.index + 2);
    truth.put('\t');
    truth.put(changed);
    truth.put('\n');

    ++summary_.records;
    ++summary_.case_counts[static_cast<std::size_t>(k)];
    ++summary_.outcome_counts[static_cast<std::size_t>(outcome)];
    summary_.rejected += outcome == 4;
    summary_.refusals += f[kRefusal] == "YES";
    count_race(summary_, f[kRace1], f[kEthnicity], outcome != 4);
    // Net change of STATE doses administered per inventory key: the base version (what the
    // store holds) gives its dose back when updated or voided, the new version takes one.
    auto state_dose = [](const sv* r) { return r[kInventory] == "STATE" && r[kRefusal] == "NO"; };
    const sv* stored = gen.valid_fields();
    if ((outcome == 1 || outcome == 2) && state_dose(stored))
      lots.add(normalized_pin(stored[kPin]), gen.sale_ndc(), stored[kLot], -1);
    if ((outcome == 0 || outcome == 1) && state_dose(f.data()))
      lots.add(normalized_pin(f[kPin]), gen.sale_ndc(), f[kLot], 1);
  }

  const Options& o_;
  const Options base_;
  const Catalog& c_;
  Rng rng_;
  std::vector<Pick> picks_;
  std::uint64_t unknown_serial_ = 0;
  Arena a_;
  Summary summary_;
};

}  // namespace

Summary generate(const Options& options, const Catalog& catalog, std::FILE* data,
                 std::FILE* truth, std::FILE* lots) {
  validate(options);
  if (options.corrections) {
    validate(base_options(options));
    auto corrections = std::make_unique<Corrections>(options, catalog);
    return corrections->run(data, truth, lots);
  }
  auto gen = std::make_unique<Generator>(options, catalog);
  return gen->run(data, truth, lots);
}

namespace {
// A FILE* writing into memory (open_memstream), freed whatever happens.
class MemFile {
 public:
  MemFile() : f_(open_memstream(&buf_, &len_)) {
    if (!f_) throw std::runtime_error("open_memstream failed");
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  ~MemFile() {
    if (f_) std::fclose(f_);
    std::free(buf_);
  }
  std::FILE* get() const { return f_; }
  std::string take() {
    std::fclose(f_);
    f_ = nullptr;
    return std::string(buf_, len_);
  }

 private:
  char* buf_ = nullptr;
  std::size_t len_ = 0;
  std::FILE* f_;
};
}  // namespace

InMemory generate_to_memory(const Options& options, const Catalog& catalog) {
  InMemory out;
  MemFile data, truth, lots;
  out.summary = generate(options, catalog, data.get(), truth.get(), lots.get());
  out.data = data.take();
  out.truth = truth.take();
  out.lots = lots.take();
  return out;
}

}  // namespace vaxetl::ncvr_gen
