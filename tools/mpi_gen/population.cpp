#include "population.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tables.hpp"

namespace vaxetl::mpi_gen {

using detail::Rng;
using detail::Tables;

namespace {

// Independent random streams; a draw is a pure function of (seed, stream, counter).
enum Stream : std::uint64_t {
  kPersonStream = 1,
  kProviderStream = 2,
  kDayStream = 3,
  kDayVariantStream = 4,
  kSsnStream = 5,
};

// Ages come from the 2020 census table; records are dated around the day below.
constexpr int kCensusYear = 2020;
constexpr int kReferenceYear = 2021;
constexpr unsigned kReferenceMonth = 6;
constexpr unsigned kReferenceDay = 15;
constexpr int kEarliestYear = 1905;

// Households are laid out in blocks of consecutive base ids: a person may share a household
// only with the person just before it in the same block, so a household is found from an id
// in at most kHouseholdBlock - 1 steps and every draw stays a pure function of the id.
constexpr std::uint64_t kHouseholdBlock = 8;

// The share of names drawn outside the tables: the sample tables hold about 21,500 people, so
// sampling a million from them alone would give every rare name dozens of bearers. Names
// built from parts of two table names stand for the long tail of real US names.
constexpr double kSurnameTail = 0.25;
constexpr double kFirstNameTail = 0.06;

// Natural gaps and shapes of a person's data.
constexpr double kMiddleNameShare = 0.72;
constexpr double kPhoneShare = 0.92;
constexpr double kEmailShare = 0.35;
constexpr double kSsnShare = 0.30;
constexpr double kUnitShare = 0.12;
constexpr double kSuffixShare = 0.03;     // of males
constexpr double kJuniorShare = 0.15;     // of sons in a family who carry the father's name
constexpr double kOverlayAreaShare = 0.3; // numbers in a newer overlay area code
constexpr double kSharedProviderShare = 0.5;  // family members seen by the same provider
constexpr double kHouseholdPhoneShare = 0.5;  // family members sharing the household phone
constexpr double kTwinSameSexShare = 0.67;

// Recipient ids and SSNs are bijections of the person id, so no two persons share one.
constexpr std::uint64_t kRecipientSpace = 1'000'000'000;
constexpr std::uint64_t kSsnSpace = 665ULL * 99 * 9999;  // area 001-665, group 01-99, serial
constexpr std::uint64_t kSsnMultiplier = 1'000'003;      // prime, coprime with kSsnSpace

int days_from_civil(int year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int>(day_of_era) - 719468;
}

struct CivilDate {
  int year;
  unsigned month;
  unsigned day;
};

CivilDate civil_from_days(int days) {
  days += 719468;
  const int era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool valid_date(int year, unsigned month, unsigned day) {
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr std::array<unsigned, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDays[month - 1]) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month != 2 || day <= 28 || leap;
}

const int kReferenceDayNumber = days_from_civil(kReferenceYear, kReferenceMonth, kReferenceDay);
const int kEarliestDayNumber = days_from_civil(kEarliestYear, 1, 1);

void format_date(int days, std::string& out) {
  const CivilDate date = civil_from_days(days);
  out.clear();
  detail::append_number(out, static_cast<std::uint64_t>(date.year), 4);
  out += '-';
  detail::append_number(out, date.month, 2);
  out += '-';
  detail::append_number(out, date.day, 2);
}

bool is_vowel(char c) {
  switch (std::tolower(static_cast<unsigned char>(c))) {
    case 'a': case 'e': case 'i': case 'o': case 'u': case 'y': return true;
    default: return false;
  }
}

char to_upper(char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); }
char to_lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = to_lower(c);
  return out;
}

void upper_in_place(std::string& text) {
  for (char& c : text) c = to_upper(c);
}

// "MALLORY LN" -> "Mallory Ln", "1ST ST" -> "1st St".
void title_in_place(std::string& text) {
  bool word_start = true;
  for (char& c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      c = word_start ? to_upper(c) : to_lower(c);
      word_start = false;
    } else {
      word_start = !std::isdigit(static_cast<unsigned char>(c));
    }
  }
}

std::string capitalized(std::string_view text) {
  std::string out = lower(text);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

// A plausible rare name from the onset of one table name and the ending of another.
std::optional<std::string> blend_names(const std::string& head, const std::string& tail) {
  std::size_t cut = 0;
  while (cut < head.size() && !is_vowel(head[cut])) ++cut;
  while (cut < head.size() && is_vowel(head[cut])) ++cut;
  if (cut < head.size()) ++cut;  // one consonant after the first vowel group
  std::size_t start = tail.size();
  while (start > 0 && !is_vowel(tail[start - 1])) --start;  // past the last vowel group
  if (start == 0) return std::nullopt;
  while (start > 0 && is_vowel(tail[start - 1])) --start;  // to the group's first letter
  if (start == 0) return std::nullopt;  // the ending would be the whole name
  std::string name = head.substr(0, cut) + lower(std::string_view(tail).substr(start));
  if (name.size() < 4 || name.size() > 14 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return name;
}

struct ProviderProfile {
  std::string code;  // "PRV001"
  bool upper_case = true;
  bool abbreviate_suffix = true;
  int phone_style = 0;  // 0: 9195550123, 1: 919-555-0123, 2: (919) 555-0123
  bool middle_initial_only = false;
  bool sends_ssn = false;
  bool ssn_dashes = false;
  bool sends_email = true;
  bool zip_plus4 = false;
  std::string id_prefix;
  std::uint64_t id_multiplier = 1;
  std::uint64_t id_offset = 0;
};

enum class Relation : std::uint8_t { None, Twin, Family };

// A person's true, canonical data. Names in Title case, street upper case "MALLORY LN".
struct Person {
  std::uint64_t id = 0;
  char sex = 'M';
  std::string first, middle, last, suffix;
  int birth_day = 0;  // days since 1970-01-01
  std::uint32_t place = 0, zip = 0, house = 0;
  std::string street, unit;
  std::string phone, email, ssn;
  std::array<std::uint32_t, 3> providers{};  // primary, then two others
  Relation relation = Relation::None;
  std::uint64_t anchor = 0;
  std::string twin_names;  // "|Ann|Amy|": first names of the twin set, kept distinct
};

}  // namespace

struct PopulationGenerator::Impl {
  PopulationOptions options;
  Tables tables;
  detail::WeightedTable<std::uint32_t> provider_weights;
  std::vector<ProviderProfile> providers;
  double twin_follow = 0;    // probability that an eligible person is the twin of its anchor
  double family_follow = 0;  // ... a relative of its anchor
  std::uint64_t ssn_offset = 0;

  std::uint64_t base_next = 1;
  std::uint64_t day_next = 0;
  std::uint64_t new_persons = 0;
  std::vector<std::uint64_t> day_new_ids;  // new persons seen so far in the day

  Impl(PopulationOptions opts, const std::string& reference_dir);

  Person build(std::uint64_t id) const;
  std::string draw_first(Rng& rng, char sex) const;
  std::string draw_surname(Rng& rng) const;
  std::string draw_phone(Rng& rng, std::uint32_t place) const;
  void draw_address(Rng& rng, Person& person) const;
  std::string draw_email(Rng& rng, const Person& person) const;
  std::string ssn_of(std::uint64_t id) const;
  void render(const Person& person, std::uint32_t provider, PersonRecord& out) const {
    render_as(person, provider, providers[provider], out);
  }
  void render_as(const Person& person, std::uint32_t provider, const ProviderProfile& profile,
                 PersonRecord& out) const;
  ProviderProfile canonical_profile;  // upper case, abbreviations, digits only, every value
  std::string recipient_id(const Person& person, std::uint32_t provider) const;
  void apply_errors(Rng& rng, Person& person, std::string& errors) const;
  void apply_missing(Rng& rng, PersonRecord& record, std::string& errors) const;
  bool typo(Rng& rng, std::string& name) const;
  bool phonetic(Rng& rng, std::string& name) const;
};

namespace {

void check_share(double value, const char* name) {
  if (!(value >= 0.0 && value <= 1.0))
    throw std::invalid_argument(std::string("mpi_gen: ") + name + " must be between 0 and 1");
}

}  // namespace

PopulationGenerator::Impl::Impl(PopulationOptions opts, const std::string& reference_dir)
    : options(std::move(opts)), tables(Tables::load(reference_dir)) {
  check_share(options.returning_share, "returning_share");
  check_share(options.day_repeat_share, "day_repeat_share");
  check_share(options.twin_share, "twin_share");
  check_share(options.family_share, "family_share");
  check_share(options.other_provider_share, "other_provider_share");
  const ErrorRates& e = options.errors;
  for (const auto& [value, name] :
       {std::pair{e.name_typo, "name_typo"}, {e.nickname, "nickname"}, {e.phonetic, "phonetic"},
        {e.name_swap, "name_swap"}, {e.dob_typo, "dob_typo"}, {e.dob_day_month_swap, "dob_day_month_swap"},
        {e.moved, "moved"}, {e.new_phone, "new_phone"}, {e.missing_fields, "missing_fields"},
        {e.married_surname, "married_surname"}, {e.middle_change, "middle_change"}, {e.sex_error, "sex_error"}})
    check_share(value, name);
  if (options.returning_share + options.day_repeat_share > 1.0)
    throw std::invalid_argument("mpi_gen: returning_share + day_repeat_share must not exceed 1");
  if (options.twin_share + options.family_share > 0.5)
    throw std::invalid_argument("mpi_gen: twin_share + family_share must not exceed 0.5");
  if (options.providers < 3 || options.providers > 999)
    throw std::invalid_argument("mpi_gen: providers must be between 3 and 999");
  if (options.people + options.day_records >= 100'000'000)
    throw std::invalid_argument("mpi_gen: people + day_records must stay below 100,000,000");

  // A person shares a household with its anchor; pairs (anchor, follower) each hold two of the
  // persons counted by the share, and the first id of each block cannot follow.
  const double eligible = static_cast<double>(kHouseholdBlock - 1) / static_cast<double>(kHouseholdBlock);
  twin_follow = options.twin_share / 2.0 / eligible;
  family_follow = options.family_share / 2.0 / eligible;

  // Providers: a few large health systems and a long tail of clinics and pharmacies.
  for (std::uint32_t p = 0; p < options.providers; ++p) {
    Rng rng(options.seed, kProviderStream, p);
    ProviderProfile profile;
    char code[16];
    std::snprintf(code, sizeof code, "PRV%03u", p + 1);
    profile.code = code;
    profile.upper_case = rng.chance(0.65);
    profile.abbreviate_suffix = rng.chance(0.7);
    const double phone = rng.uniform();
    profile.phone_style = phone < 0.6 ? 0 : phone < 0.85 ? 1 : 2;
    profile.middle_initial_only = rng.chance(0.3);
    profile.sends_ssn = rng.chance(0.4);
    profile.ssn_dashes = rng.chance(0.5);
    profile.sends_email = rng.chance(0.6);
    profile.zip_plus4 = rng.chance(0.1);
    static constexpr std::array<const char*, 4> kPrefixes = {"", "MRN", "E", "P"};
    profile.id_prefix = kPrefixes[rng.below(kPrefixes.size())];
    // An odd multiplier not divisible by 5 makes id -> recipient id a bijection mod 10^9.
    std::uint64_t multiplier = (rng.next() % kRecipientSpace) | 1;
    if (multiplier % 5 == 0) multiplier += 2;
    profile.id_multiplier = multiplier % kRecipientSpace;
    profile.id_offset = rng.below(kRecipientSpace);
    providers.push_back(std::move(profile));
    const double weight = 1e6 / std::pow(static_cast<double>(p + 1), 0.8);
    provider_weights.add(p, static_cast<std::uint64_t>(weight));
  }
  provider_weights.finish();
  ssn_offset = Rng(options.seed, kSsnStream, 0).below(kSsnSpace);
  canonical_profile.sends_ssn = true;
  canonical_profile.sends_email = true;
}

std::string PopulationGenerator::Impl::draw_first(Rng& rng, char sex) const {
  const std::size_t table = sex == 'F' ? 1 : 0;
  if (rng.chance(kFirstNameTail)) {
    const auto& list = tables.first_name_list[table];
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto name = blend_names(list[rng.below(list.size())], list[rng.below(list.size())]);
      if (name) return *name;
    }
  }
  return tables.first_names[table].draw(rng);
}

std::string PopulationGenerator::Impl::draw_surname(Rng& rng) const {
  if (rng.chance(kSurnameTail)) {
    const auto& list = tables.surname_list;
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto name = blend_names(list[rng.below(list.size())], list[rng.below(list.size())]);
      if (name) return *name;
    }
  }
  return tables.surnames.draw(rng);
}

std::string PopulationGenerator::Impl::draw_phone(Rng& rng, std::uint32_t place) const {
  const auto& codes = tables.place_list[place].area_codes;
  std::string area = codes[0];
  if (codes.size() > 1 && rng.chance(kOverlayAreaShare)) area = codes[1 + rng.below(codes.size() - 1)];
  std::uint64_t exchange = 0;
  do {
    exchange = 200 + rng.below(800);
  } while (exchange == 555 || exchange % 100 == 11);  // no fictional or N11 exchanges
  std::string phone = std::move(area);
  detail::append_number(phone, exchange, 3);
  detail::append_number(phone, rng.below(10000), 4);
  return phone;
}

void PopulationGenerator::Impl::draw_address(Rng& rng, Person& person) const {
  person.place = tables.places.draw(rng);
  person.zip = static_cast<std::uint32_t>(rng.below(tables.place_list[person.place].zips.size()));
  static constexpr std::array<std::uint64_t, 5> kDigitWeights = {3, 12, 35, 40, 10};
  std::uint64_t point = rng.below(100);
  std::uint32_t digits = 1;
  for (std::uint64_t weight : kDigitWeights) {
    if (point < weight) break;
    point -= weight;
    ++digits;
  }
  std::uint32_t low = 1;
  for (std::uint32_t i = 1; i < digits; ++i) low *= 10;
  person.house = low + static_cast<std::uint32_t>(rng.below(low * 9));
  person.street = tables.streets.draw(rng);
  person.unit.clear();
  if (rng.chance(kUnitShare)) {
    static constexpr std::array<const char*, 3> kUnitWords = {"APT", "UNIT", "#"};
    std::string unit = kUnitWords[rng.below(kUnitWords.size())];
    unit += ' ';
    unit += std::to_string(1 + rng.below(rng.chance(0.5) ? 30 : 400));
    if (rng.chance(0.2)) unit += static_cast<char>('A' + rng.below(4));
    person.unit = std::move(unit);
  }
}

std::string PopulationGenerator::Impl::draw_email(Rng& rng, const Person& person) const {
  static constexpr std::array<const char*, 6> kDomains = {"gmail.com", "yahoo.com", "hotmail.com",
                                                          "outlook.com", "aol.com", "icloud.com"};
  static constexpr std::array<std::uint64_t, 6> kDomainWeights = {50, 20, 10, 8, 6, 6};
  std::uint64_t point = rng.below(100);
  std::size_t domain = 0;
  while (point >= kDomainWeights[domain]) point -= kDomainWeights[domain++];
  std::string first = lower(person.first);
  std::string last = lower(person.last);
  std::erase_if(last, [](char c) { return !std::isalpha(static_cast<unsigned char>(c)); });
  std::string local;
  switch (rng.below(4)) {
    case 0: local = first + "." + last; break;
    case 1: local = first + last; break;
    case 2: local = first.substr(0, 1) + last; break;
    default: local = last + first.substr(0, 1); break;
  }
  if (rng.chance(0.75)) local += std::to_string(1 + rng.below(rng.chance(0.5) ? 99 : 9999));
  return local + "@" + kDomains[domain];
}

std::string PopulationGenerator::Impl::ssn_of(std::uint64_t id) const {
  const std::uint64_t x =
      static_cast<std::uint64_t>((static_cast<unsigned __int128>(id) * kSsnMultiplier + ssn_offset) % kSsnSpace);
  const unsigned area = static_cast<unsigned>(x / (99 * 9999)) + 1;
  const unsigned group = static_cast<unsigned>((x / 9999) % 99) + 1;
  const unsigned serial = static_cast<unsigned>(x % 9999) + 1;
  std::string ssn;
  detail::append_number(ssn, area, 3);
  detail::append_number(ssn, group, 2);
  detail::append_number(ssn, serial, 4);
  return ssn;
}

Person PopulationGenerator::Impl::build(std::uint64_t id) const {
  Rng rng(options.seed, kPersonStream, id);
  Person person;
  person.id = id;

  // Household: base persons may follow the previous id inside their block; new persons of the
  // day may be the twin or relative of any base person.
  const double role = rng.uniform();
  std::uint64_t anchor_id = 0;
  if (id <= options.people) {
    if ((id - 1) % kHouseholdBlock != 0) anchor_id = id - 1;
  } else if (options.people > 0) {
    anchor_id = 1 + rng.below(options.people);
  }
  if (anchor_id != 0) {
    if (role < twin_follow) person.relation = Relation::Twin;
    else if (role < twin_follow + family_follow) person.relation = Relation::Family;
  }

  std::optional<Person> anchor;
  if (person.relation != Relation::None) {
    anchor = build(anchor_id);
    person.anchor = anchor_id;
  }

  // Sex and names.
  if (person.relation == Relation::Twin) {
    const bool same = rng.chance(kTwinSameSexShare);
    person.sex = same ? anchor->sex : (anchor->sex == 'F' ? 'M' : 'F');
  } else {
    person.sex = rng.chance(0.51) ? 'F' : 'M';
  }
  person.first = draw_first(rng, person.sex);
  if (person.relation == Relation::Twin) {
    // Twins never share a first name (nor with a triplet).
    for (int attempt = 0; attempt < 20 && anchor->twin_names.find("|" + person.first + "|") != std::string::npos;
         ++attempt)
      person.first = draw_first(rng, person.sex);
    person.twin_names = anchor->twin_names;
  } else {
    person.twin_names = "|";
  }
  person.twin_names += person.first + "|";
  if (rng.chance(kMiddleNameShare)) person.middle = draw_first(rng, person.sex);
  person.last = person.relation == Relation::None ? draw_surname(rng) : anchor->last;
  const bool suffixed = rng.chance(kSuffixShare);
  static constexpr std::array<const char*, 4> kSuffixes = {"JR", "SR", "II", "III"};
  const char* suffix = kSuffixes[rng.below(kSuffixes.size())];
  if (person.sex == 'M' && suffixed) person.suffix = suffix;

  // Date of birth: the census age mix, a uniform day within the year.
  const int age = tables.ages.draw(rng);
  int birth = days_from_civil(kCensusYear - age, 1, 1) + static_cast<int>(rng.below(365));
  const double family_kind = rng.uniform();
  const int spread = static_cast<int>(rng.below(365 * 24));
  if (person.relation == Relation::Twin) {
    birth = anchor->birth_day;
  } else if (person.relation == Relation::Family) {
    const int from = anchor->birth_day;
    if (family_kind < 0.4 && from + 365 * 18 + spread < kReferenceDayNumber - 30) {
      birth = from + 365 * 18 + spread;  // a child of the anchor
      if (person.sex == 'M' && anchor->sex == 'M' && rng.chance(kJuniorShare)) {
        person.first = anchor->first;
        person.suffix = "JR";
      }
    } else if (family_kind < 0.75) {
      birth = from + (spread % (365 * 6)) - 365 * 3;  // a spouse
    } else {
      birth = from + (rng.chance(0.5) ? 1 : -1) * (300 + spread % (365 * 9));  // a sibling
    }
    if (birth == from) birth += 400;
  }
  person.birth_day = std::clamp(birth, kEarliestDayNumber, kReferenceDayNumber);

  // Address and phone: a household's are the anchor's.
  Person own_address;
  draw_address(rng, own_address);
  const std::string own_phone = draw_phone(rng, own_address.place);
  const bool has_phone = rng.chance(kPhoneShare);
  if (anchor) {
    person.place = anchor->place;
    person.zip = anchor->zip;
    person.house = anchor->house;
    person.street = anchor->street;
    person.unit = anchor->unit;
  } else {
    person.place = own_address.place;
    person.zip = own_address.zip;
    person.house = own_address.house;
    person.street = std::move(own_address.street);
    person.unit = std::move(own_address.unit);
  }
  const bool household_phone = rng.chance(kHouseholdPhoneShare);
  if (person.relation == Relation::Twin ||
      (person.relation == Relation::Family && household_phone && !anchor->phone.empty())) {
    person.phone = anchor->phone;
  } else if (has_phone) {
    person.phone = anchor ? draw_phone(rng, person.place) : own_phone;
  }

  if (rng.chance(kEmailShare)) person.email = draw_email(rng, person);
  if (rng.chance(kSsnShare)) person.ssn = ssn_of(id);

  // Providers: the primary one sent the base record; the others may send the day's.
  const bool shared_provider = rng.chance(kSharedProviderShare);
  person.providers[0] = anchor && shared_provider ? anchor->providers[0] : provider_weights.draw(rng);
  for (std::size_t i = 1; i < person.providers.size(); ++i) {
    std::uint32_t provider = provider_weights.draw(rng);
    for (int attempt = 0; attempt < 16 && std::find(person.providers.begin(), person.providers.begin() + i,
                                                    provider) != person.providers.begin() + i;
         ++attempt)
      provider = static_cast<std::uint32_t>(rng.below(options.providers));
    person.providers[i] = provider;
  }
  return person;
}

std::string PopulationGenerator::Impl::recipient_id(const Person& person, std::uint32_t provider) const {
  const ProviderProfile& profile = providers[provider];
  const std::uint64_t number = static_cast<std::uint64_t>(
      (static_cast<unsigned __int128>(person.id) * profile.id_multiplier + profile.id_offset) % kRecipientSpace);
  std::string id = profile.id_prefix;
  detail::append_number(id, number, 9);
  return id;
}

void PopulationGenerator::Impl::render_as(const Person& person, std::uint32_t provider,
                                          const ProviderProfile& profile, PersonRecord& out) const {
  const detail::Place& place = tables.place_list[person.place];
  out.person_id = person.id;
  out.source = providers[provider].code;
  out.recipient_id = recipient_id(person, provider);
  out.first_name = person.first;
  out.middle_name = person.middle;
  if (profile.middle_initial_only && out.middle_name.size() > 1) out.middle_name.resize(1);
  out.last_name = person.last;
  out.suffix = person.suffix;
  format_date(person.birth_day, out.birth_date);
  out.sex.assign(1, person.sex);

  out.street.clear();
  detail::append_number(out.street, person.house);
  out.street += ' ';
  const std::size_t last_space = person.street.rfind(' ');
  if (!profile.abbreviate_suffix && last_space != std::string::npos) {
    const auto found = tables.suffix_long_form.find(person.street.substr(last_space + 1));
    if (found != tables.suffix_long_form.end()) {
      out.street.append(person.street, 0, last_space + 1);
      out.street += found->second;
    } else {
      out.street += person.street;
    }
  } else {
    out.street += person.street;
  }
  out.street_2 = person.unit;
  out.city = place.city;
  out.state = "NC";
  out.zip = place.zips[person.zip];
  if (profile.zip_plus4) {
    out.zip += '-';
    detail::append_number(out.zip, detail::mix64(person.house * 131ULL + person.zip + person.place * 7919ULL) % 10000, 4);
  }
  if (profile.upper_case) {
    upper_in_place(out.first_name);
    upper_in_place(out.middle_name);
    upper_in_place(out.last_name);
  } else {
    title_in_place(out.street);
    title_in_place(out.city);
  }

  out.phone.clear();
  if (person.phone.size() == 10) {
    const std::string_view digits = person.phone;
    switch (profile.phone_style) {
      case 1:
        out.phone.append(digits.substr(0, 3)).append("-").append(digits.substr(3, 3)).append("-").append(digits.substr(6));
        break;
      case 2:
        out.phone.append("(").append(digits.substr(0, 3)).append(") ").append(digits.substr(3, 3)).append("-").append(
            digits.substr(6));
        break;
      default: out.phone = person.phone; break;
    }
  }
  out.email = profile.sends_email ? person.email : std::string();
  out.ssn.clear();
  if (profile.sends_ssn && person.ssn.size() == 9) {
    if (profile.ssn_dashes) {
      const std::string_view digits = person.ssn;
      out.ssn.append(digits.substr(0, 3)).append("-").append(digits.substr(3, 2)).append("-").append(digits.substr(5));
    } else {
      out.ssn = person.ssn;
    }
  }
  out.errors.clear();
  out.relation.clear();
  if (person.relation != Relation::None) {
    out.relation = person.relation == Relation::Twin ? "twin:" : "family:";
    out.relation += std::to_string(person.anchor);
  }
}

bool PopulationGenerator::Impl::typo(Rng& rng, std::string& name) const {
  if (name.size() < 2) return false;
  const std::string original = name;
  for (int attempt = 0; attempt < 6 && name == original; ++attempt) {
    const std::size_t at = rng.below(name.size());
    const char c = name[at];
    const bool upper = std::isupper(static_cast<unsigned char>(c)) != 0;
    const double kind = rng.uniform();
    if (kind < 0.35) {  // a neighbouring key
      const std::string& neighbours = tables.qwerty_neighbours[static_cast<unsigned char>(to_lower(c)) & 127];
      if (neighbours.empty()) continue;
      const char replacement = neighbours[rng.below(neighbours.size())];
      name[at] = upper ? to_upper(replacement) : replacement;
    } else if (kind < 0.55) {  // an OCR confusion somewhere in the name
      const auto& [from, to] = tables.ocr[rng.below(tables.ocr.size())];
      const std::size_t found = name.find(from);
      if (found == std::string::npos) continue;
      name.replace(found, from.size(), to);
    } else if (kind < 0.70) {  // a letter left out
      if (name.size() < 3) continue;
      name.erase(at, 1);
    } else if (kind < 0.85) {  // a letter doubled or a neighbouring key struck too
      const std::string& neighbours = tables.qwerty_neighbours[static_cast<unsigned char>(to_lower(c)) & 127];
      char extra = to_lower(c);
      if (!neighbours.empty() && rng.chance(0.5)) extra = neighbours[rng.below(neighbours.size())];
      name.insert(at + 1, 1, extra);
    } else {  // two letters transposed
      if (at + 1 >= name.size()) continue;
      std::swap(name[at], name[at + 1]);
      if (at == 0) {
        name[0] = to_upper(name[0]);
        name[1] = to_lower(name[1]);
      }
    }
  }
  return name != original;
}

bool PopulationGenerator::Impl::phonetic(Rng& rng, std::string& name) const {
  const std::string low = lower(name);
  std::vector<std::pair<const detail::PhoneticRule*, std::size_t>> applicable;
  for (const auto& rule : tables.phonetic) {
    std::size_t at = std::string::npos;
    switch (rule.where) {
      case detail::PhoneticRule::Where::All: at = low.find(rule.from); break;
      case detail::PhoneticRule::Where::Start: at = low.starts_with(rule.from) ? 0 : std::string::npos; break;
      case detail::PhoneticRule::Where::End:
        at = low.size() > rule.from.size() && low.ends_with(rule.from) ? low.size() - rule.from.size() : std::string::npos;
        break;
      case detail::PhoneticRule::Where::Middle:
        at = low.find(rule.from, 1);
        if (at != std::string::npos && at + rule.from.size() >= low.size()) at = std::string::npos;
        break;
    }
    if (at != std::string::npos) applicable.emplace_back(&rule, at);
  }
  if (applicable.empty()) return false;
  const auto& [rule, at] = applicable[rng.below(applicable.size())];
  std::string changed = low;
  changed.replace(at, rule->from.size(), rule->to);
  if (changed.size() < 2 || changed == low) return false;
  name = capitalized(changed);
  return true;
}

void PopulationGenerator::Impl::apply_errors(Rng& rng, Person& person, std::string& errors) const {
  const ErrorRates& rates = options.errors;
  auto note = [&errors](std::string_view name) {
    if (!errors.empty()) errors += ';';
    errors += name;
  };
  // Every Bernoulli is drawn whether or not it applies, so one error's draws never shift another's.
  const bool married = rng.chance(rates.married_surname);
  const bool nickname = rng.chance(rates.nickname);
  const bool phonetic_error = rng.chance(rates.phonetic);
  const bool typo_error = rng.chance(rates.name_typo);
  const bool middle = rng.chance(rates.middle_change);
  const bool swap = rng.chance(rates.name_swap);
  const bool dob_typo = rng.chance(rates.dob_typo);
  const bool dob_swap = rng.chance(rates.dob_day_month_swap);
  const bool sex = rng.chance(rates.sex_error);
  const bool moved = rng.chance(rates.moved);
  const bool new_phone = rng.chance(rates.new_phone);

  const int age_days = kReferenceDayNumber - person.birth_day;
  if (married && person.sex == 'F' && age_days >= 365 * 18) {
    std::string spouse = draw_surname(rng);
    if (spouse != person.last) {
      const double kind = rng.uniform();
      if (kind < 0.55) person.last = spouse;
      else if (kind < 0.85) person.last += "-" + spouse;
      else person.last = spouse + "-" + person.last;
      note("married");
    }
  }
  if (nickname) {
    const auto found = tables.nicknames.find(lower(person.first));
    if (found != tables.nicknames.end() && !found->second.empty()) {
      person.first = capitalized(found->second[rng.below(found->second.size())]);
      note("nickname");
    }
  }
  // Which name a spelling error hits: first 45%, last 45%, middle 10% (last when there is none).
  auto pick_name = [&rng, &person]() -> std::string& {
    const double which = rng.uniform();
    if (which < 0.45) return person.first;
    if (which < 0.9 || person.middle.size() < 2) return person.last;
    return person.middle;
  };
  if (phonetic_error && phonetic(rng, pick_name())) note("phonetic");
  if (typo_error && typo(rng, pick_name())) note("name_typo");
  if (middle) {
    if (person.middle.empty()) {
      person.middle = draw_first(rng, person.sex);
    } else if (person.middle.size() > 1 && rng.chance(0.5)) {
      person.middle.resize(1);
    } else {
      person.middle.clear();
    }
    note("middle");
  }
  if (swap && person.first != person.last) {
    std::swap(person.first, person.last);
    note("name_swap");
  }
  if (dob_typo) {
    const CivilDate date = civil_from_days(person.birth_day);
    for (int attempt = 0; attempt < 10; ++attempt) {
      // Positions 2-3 are the year's last digits, 4-5 the month, 6-7 the day.
      static constexpr std::array<int, 6> kPositions = {2, 3, 4, 5, 6, 7};
      static constexpr std::array<int, 6> kPlace = {10, 1, 10, 1, 10, 1};
      const std::size_t pick = rng.below(kPositions.size());
      int year = date.year;
      int month = static_cast<int>(date.month);
      int day = static_cast<int>(date.day);
      int& part = pick < 2 ? year : pick < 4 ? month : day;
      const int unit = kPlace[pick];
      const int digit = (part / unit) % 10;
      const int replacement = static_cast<int>(rng.below(9));
      part += ((replacement >= digit ? replacement + 1 : replacement) - digit) * unit;
      if (!valid_date(year, static_cast<unsigned>(month), static_cast<unsigned>(day))) continue;
      const int changed = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
      if (changed > kReferenceDayNumber || changed < kEarliestDayNumber) continue;
      person.birth_day = changed;
      note("dob_typo");
      break;
    }
  }
  if (dob_swap) {
    const CivilDate date = civil_from_days(person.birth_day);
    if (date.day <= 12 && date.day != date.month) {
      const int changed = days_from_civil(date.year, date.day, date.month);
      if (changed <= kReferenceDayNumber) {
        person.birth_day = changed;
        note("dob_swap");
      }
    }
  }
  if (sex) {
    person.sex = rng.chance(0.5) ? 'U' : (person.sex == 'F' ? 'M' : 'F');
    note("sex");
  }
  if (moved) {
    Person moved_to;
    draw_address(rng, moved_to);
    if (rng.chance(0.6)) {  // within the same town
      moved_to.place = person.place;
      moved_to.zip = static_cast<std::uint32_t>(rng.below(tables.place_list[person.place].zips.size()));
    }
    if (moved_to.street != person.street || moved_to.house != person.house) {
      person.place = moved_to.place;
      person.zip = moved_to.zip;
      person.house = moved_to.house;
      person.street = std::move(moved_to.street);
      person.unit = std::move(moved_to.unit);
      note("moved");
    }
  }
  if (new_phone) {
    std::string phone = draw_phone(rng, person.place);
    if (phone != person.phone) {
      person.phone = std::move(phone);
      note("new_phone");
    }
  }
}

void PopulationGenerator::Impl::apply_missing(Rng& rng, PersonRecord& record, std::string& errors) const {
  if (!rng.chance(options.errors.missing_fields)) return;
  struct Candidate {
    std::string PersonRecord::*field;
    const char* name;
    std::uint64_t weight;
  };
  static const std::array<Candidate, 10> kCandidates = {{
      {&PersonRecord::street, "street", 30},   {&PersonRecord::phone, "phone", 30},
      {&PersonRecord::middle_name, "middle_name", 20}, {&PersonRecord::email, "email", 10},
      {&PersonRecord::ssn, "ssn", 10},         {&PersonRecord::sex, "sex", 10},
      {&PersonRecord::zip, "zip", 10},         {&PersonRecord::city, "city", 10},
      {&PersonRecord::birth_date, "birth_date", 5}, {&PersonRecord::first_name, "first_name", 2},
  }};
  const double count_draw = rng.uniform();
  const int count = count_draw < 0.6 ? 1 : count_draw < 0.9 ? 2 : 3;
  std::string names;
  for (int i = 0; i < count; ++i) {
    std::uint64_t total = 0;
    for (const auto& candidate : kCandidates)
      if (!(record.*candidate.field).empty()) total += candidate.weight;
    if (total == 0) break;
    std::uint64_t point = rng.below(total);
    for (const auto& candidate : kCandidates) {
      std::string& value = record.*candidate.field;
      if (value.empty()) continue;
      if (point < candidate.weight) {
        value.clear();
        if (candidate.field == &PersonRecord::street) record.street_2.clear();
        if (!names.empty()) names += '+';
        names += candidate.name;
        break;
      }
      point -= candidate.weight;
    }
  }
  if (names.empty()) return;
  if (!errors.empty()) errors += ';';
  errors += "missing:";
  errors += names;
}

PopulationGenerator::PopulationGenerator(PopulationOptions options, const std::string& reference_dir)
    : impl_(std::make_unique<Impl>(std::move(options), reference_dir)) {}
PopulationGenerator::~PopulationGenerator() = default;
PopulationGenerator::PopulationGenerator(PopulationGenerator&&) noexcept = default;
PopulationGenerator& PopulationGenerator::operator=(PopulationGenerator&&) noexcept = default;

const PopulationOptions& PopulationGenerator::options() const { return impl_->options; }

PersonRecord PopulationGenerator::person(std::uint64_t person_id) const {
  if (person_id == 0) throw std::invalid_argument("mpi_gen: person ids start at 1");
  PersonRecord record;
  const Person person = impl_->build(person_id);
  impl_->render(person, person.providers[0], record);
  return record;
}

PersonRecord PopulationGenerator::canonical_person(std::uint64_t person_id) const {
  if (person_id == 0) throw std::invalid_argument("mpi_gen: person ids start at 1");
  PersonRecord record;
  const Person person = impl_->build(person_id);
  impl_->render_as(person, person.providers[0], impl_->canonical_profile, record);
  return record;
}

bool PopulationGenerator::next_base(PersonRecord& out) {
  if (impl_->base_next > impl_->options.people) return false;
  const Person person = impl_->build(impl_->base_next++);
  impl_->render(person, person.providers[0], out);
  return true;
}

bool PopulationGenerator::next_day(PersonRecord& out) {
  Impl& impl = *impl_;
  const PopulationOptions& options = impl.options;
  if (impl.day_next >= options.day_records) return false;
  const std::uint64_t index = impl.day_next++;
  Rng rng(options.seed, kDayStream, index);

  std::uint64_t id = 0;
  bool seen_before = true;
  const double kind = rng.uniform();
  const std::uint64_t pick = rng.next();
  if (kind < options.returning_share && options.people > 0) {
    id = 1 + pick % options.people;
  } else if (kind < options.returning_share + options.day_repeat_share && !impl.day_new_ids.empty()) {
    id = impl.day_new_ids[pick % impl.day_new_ids.size()];
  } else {
    id = options.people + ++impl.new_persons;
    impl.day_new_ids.push_back(id);
    seen_before = false;
  }

  Person person = impl.build(id);
  std::uint32_t provider = person.providers[0];
  std::string errors;
  if (seen_before) {
    if (rng.chance(options.other_provider_share)) provider = person.providers[1 + rng.below(2)];
    Rng variant(options.seed, kDayVariantStream, index);
    impl.apply_errors(variant, person, errors);
    impl.render(person, provider, out);
    impl.apply_missing(variant, out, errors);
  } else {
    impl.render(person, provider, out);
  }
  out.errors = std::move(errors);
  return true;
}

std::string default_reference_dir() { return VAXETL_MPI_GEN_DATA_DIR; }

}  // namespace vaxetl::mpi_gen
