// The generated MPI benchmark population: determinism, ground truth, household structure,
// injected error rates and meaning, the CSV writer and the command line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "population.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::mpi_gen {
namespace {

PopulationOptions small_options(std::uint64_t people = 5000, std::uint64_t day_records = 5000,
                                std::uint64_t seed = 7) {
  PopulationOptions options;
  options.people = people;
  options.day_records = day_records;
  options.seed = seed;
  return options;
}

std::string row(const PersonRecord& record) {
  std::ostringstream out;
  write_csv_row(out, record);
  return out.str();
}

std::vector<PersonRecord> all_base(PopulationGenerator& generator) {
  std::vector<PersonRecord> records;
  PersonRecord record;
  while (generator.next_base(record)) records.push_back(record);
  return records;
}

std::vector<PersonRecord> all_day(PopulationGenerator& generator) {
  std::vector<PersonRecord> records;
  PersonRecord record;
  while (generator.next_day(record)) records.push_back(record);
  return records;
}

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string digits(std::string_view text) {
  std::string out;
  for (char c : text)
    if (std::isdigit(static_cast<unsigned char>(c))) out += c;
  return out;
}

bool has_error(const PersonRecord& record, std::string_view name) {
  for (const auto& part : test::split(record.errors, ';'))
    if (part == name || part.starts_with(std::string(name) + ":")) return true;
  return false;
}

std::uint64_t anchor_of(const PersonRecord& record) {
  const auto colon = record.relation.find(':');
  return colon == std::string::npos ? 0 : std::stoull(record.relation.substr(colon + 1));
}

TEST(MpiPopulation, SameSeedGivesTheSameRecords) {
  PopulationGenerator first(small_options(), default_reference_dir());
  PopulationGenerator second(small_options(), default_reference_dir());
  const auto base_a = all_base(first), base_b = all_base(second);
  const auto day_a = all_day(first), day_b = all_day(second);
  ASSERT_EQ(base_a.size(), base_b.size());
  ASSERT_EQ(day_a.size(), day_b.size());
  for (std::size_t i = 0; i < base_a.size(); ++i) ASSERT_EQ(row(base_a[i]), row(base_b[i])) << "base record " << i;
  for (std::size_t i = 0; i < day_a.size(); ++i) ASSERT_EQ(row(day_a[i]), row(day_b[i])) << "day record " << i;
}

TEST(MpiPopulation, DayStreamDoesNotDependOnReadingTheBaseFirst) {
  PopulationGenerator with_base(small_options(), default_reference_dir());
  all_base(with_base);
  PopulationGenerator day_only(small_options(), default_reference_dir());
  const auto a = all_day(with_base), b = all_day(day_only);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(row(a[i]), row(b[i])) << "day record " << i;
}

TEST(MpiPopulation, DifferentSeedsGiveDifferentPeople) {
  PopulationGenerator a(small_options(2000, 0, 1), default_reference_dir());
  PopulationGenerator b(small_options(2000, 0, 2), default_reference_dir());
  const auto base_a = all_base(a), base_b = all_base(b);
  std::size_t same_name_and_dob = 0;
  for (std::size_t i = 0; i < base_a.size(); ++i)
    if (upper(base_a[i].last_name) == upper(base_b[i].last_name) && base_a[i].birth_date == base_b[i].birth_date)
      ++same_name_and_dob;
  EXPECT_LT(same_name_and_dob, 20u);
}

TEST(MpiPopulation, BaseYieldsEachPersonOnceInOrder) {
  PopulationGenerator generator(small_options(3001, 0), default_reference_dir());
  const auto base = all_base(generator);
  ASSERT_EQ(base.size(), 3001u);
  for (std::size_t i = 0; i < base.size(); ++i) {
    ASSERT_EQ(base[i].person_id, i + 1);
    EXPECT_TRUE(base[i].errors.empty());
    EXPECT_FALSE(base[i].source.empty());
    EXPECT_FALSE(base[i].recipient_id.empty());
    EXPECT_FALSE(base[i].first_name.empty());
    EXPECT_FALSE(base[i].last_name.empty());
    EXPECT_EQ(base[i].birth_date.size(), 10u);
    EXPECT_EQ(base[i].state, "NC");
    EXPECT_TRUE(base[i].zip.starts_with("27") || base[i].zip.starts_with("28")) << "record " << i;
    if (!base[i].phone.empty()) { EXPECT_EQ(digits(base[i].phone).size(), 10u); }
    if (!base[i].ssn.empty()) { EXPECT_EQ(digits(base[i].ssn).size(), 9u); }
  }
  PersonRecord extra;
  EXPECT_FALSE(generator.next_base(extra));
  PopulationGenerator empty(small_options(0, 0), default_reference_dir());
  EXPECT_FALSE(empty.next_base(extra));
  EXPECT_FALSE(empty.next_day(extra));
}

TEST(MpiPopulation, PersonRegeneratedOnDemandEqualsTheStreamedOne) {
  PopulationGenerator generator(small_options(4000, 4000), default_reference_dir());
  const auto base = all_base(generator);
  for (std::uint64_t id : {1ULL, 2ULL, 9ULL, 777ULL, 2048ULL, 3999ULL, 4000ULL})
    EXPECT_EQ(row(generator.person(id)), row(base[id - 1])) << "person " << id;
  // Reverse order too: no hidden state carries from one draw to the next.
  for (std::uint64_t id = 4000; id > 3900; --id) ASSERT_EQ(row(generator.person(id)), row(base[id - 1]));
  // A new person's first record in the day is its base record.
  std::set<std::uint64_t> seen;
  for (const auto& record : all_day(generator)) {
    if (record.person_id <= 4000 || !seen.insert(record.person_id).second) continue;
    ASSERT_EQ(row(generator.person(record.person_id)), row(record)) << "new person " << record.person_id;
  }
  EXPECT_GT(seen.size(), 1000u);
  EXPECT_THROW(generator.person(0), std::invalid_argument);
}

TEST(MpiPopulation, CanonicalPersonIsTheTruthInOneStyle) {
  PopulationGenerator generator(small_options(3000, 0), default_reference_dir());
  std::size_t with_ssn = 0, base_with_ssn = 0;
  for (std::uint64_t id = 1; id <= 3000; ++id) {
    const PersonRecord sent = generator.person(id);
    const PersonRecord truth = generator.canonical_person(id);
    EXPECT_EQ(truth.person_id, id);
    EXPECT_EQ(truth.source, sent.source);
    EXPECT_EQ(truth.recipient_id, sent.recipient_id);
    EXPECT_EQ(truth.first_name, upper(sent.first_name));
    EXPECT_EQ(truth.last_name, upper(sent.last_name));
    EXPECT_EQ(truth.birth_date, sent.birth_date);
    EXPECT_EQ(truth.phone, digits(sent.phone));
    EXPECT_EQ(truth.zip, sent.zip.substr(0, 5));
    EXPECT_TRUE(truth.middle_name.empty() || upper(truth.middle_name).starts_with(upper(sent.middle_name)));
    if (!sent.ssn.empty()) { EXPECT_EQ(truth.ssn, digits(sent.ssn)); }
    with_ssn += !truth.ssn.empty();
    base_with_ssn += !sent.ssn.empty();
  }
  EXPECT_GT(with_ssn, base_with_ssn);  // some providers do not send the SSN the person has
}

TEST(MpiPopulation, TruthIdsAndProviderIdsAreConsistent) {
  const auto options = small_options(5000, 8000);
  PopulationGenerator generator(options, default_reference_dir());
  const auto base = all_base(generator);
  const auto day = all_day(generator);

  // A provider's recipient id names one person, always the same one.
  std::map<std::pair<std::string, std::string>, std::uint64_t> owner;
  for (const auto* records : {&base, &day})
    for (const auto& record : *records) {
      const auto [it, inserted] = owner.emplace(std::pair{record.source, record.recipient_id}, record.person_id);
      ASSERT_EQ(it->second, record.person_id) << "recipient id reused for another person";
    }

  // New persons are numbered after the base in order of first appearance.
  std::uint64_t next_new = options.people + 1;
  std::size_t returning = 0, repeats = 0, other_provider = 0;
  for (const auto& record : day) {
    if (record.person_id <= options.people) {
      ++returning;
      if (record.source != base[record.person_id - 1].source) ++other_provider;
      if (record.errors.empty()) {
        // A clean returning record is the same person: same name, DOB and SSN as the base.
        const auto& truth = base[record.person_id - 1];
        EXPECT_EQ(upper(record.first_name), upper(truth.first_name));
        EXPECT_EQ(upper(record.last_name), upper(truth.last_name));
        EXPECT_EQ(record.birth_date, truth.birth_date);
        if (!record.ssn.empty() && !truth.ssn.empty()) { EXPECT_EQ(digits(record.ssn), digits(truth.ssn)); }
      }
    } else if (record.person_id == next_new) {
      ++next_new;
      EXPECT_TRUE(record.errors.empty());
    } else {
      ASSERT_LT(record.person_id, next_new) << "a new person id skipped ahead";
      ++repeats;
    }
  }
  const double n = static_cast<double>(day.size());
  EXPECT_NEAR(returning / n, options.returning_share, 0.03);
  EXPECT_NEAR(repeats / n, options.day_repeat_share, 0.015);
  EXPECT_NEAR(static_cast<double>(other_provider) / returning, options.other_provider_share, 0.05);
}

TEST(MpiPopulation, TwinsShareDobSurnameAddressAndPhoneButNotFirstName) {
  auto options = small_options(40000, 0);
  PopulationGenerator generator(options, default_reference_dir());
  const auto base = all_base(generator);
  std::set<std::uint64_t> in_twin_pair, in_household;
  std::size_t twins = 0, families = 0;
  for (const auto& record : base) {
    if (record.relation.empty()) continue;
    const std::uint64_t anchor = anchor_of(record);
    ASSERT_GE(anchor, 1u);
    ASSERT_LT(anchor, record.person_id);
    // Compare the persons' true data: their primary providers may format them differently.
    const PersonRecord self = generator.canonical_person(record.person_id);
    const PersonRecord other = generator.canonical_person(anchor);
    EXPECT_EQ(self.last_name, other.last_name);
    EXPECT_EQ(self.street, other.street);
    EXPECT_EQ(self.street_2, other.street_2);
    EXPECT_EQ(self.city, other.city);
    EXPECT_EQ(self.zip, other.zip);
    in_household.insert(record.person_id);
    in_household.insert(anchor);
    if (record.relation.starts_with("twin:")) {
      ++twins;
      in_twin_pair.insert(record.person_id);
      in_twin_pair.insert(anchor);
      EXPECT_EQ(self.birth_date, other.birth_date);
      EXPECT_EQ(self.phone, other.phone);
      EXPECT_NE(self.first_name, other.first_name);
    } else {
      ASSERT_TRUE(record.relation.starts_with("family:")) << record.relation;
      ++families;
      EXPECT_NE(self.birth_date, other.birth_date);
    }
  }
  EXPECT_GT(twins, 100u);
  EXPECT_GT(families, 500u);
  EXPECT_NEAR(static_cast<double>(in_twin_pair.size()) / base.size(), options.twin_share, 0.003);
  EXPECT_NEAR(static_cast<double>(in_household.size()) / base.size(), options.twin_share + options.family_share,
              0.015);
}

TEST(MpiPopulation, NewPersonsIncludeTwinsOfBasePersons) {
  auto options = small_options(5000, 30000);
  options.returning_share = 0.0;
  options.day_repeat_share = 0.0;
  PopulationGenerator generator(options, default_reference_dir());
  std::size_t twins_of_base = 0;
  for (const auto& record : all_day(generator)) {
    if (!record.relation.starts_with("twin:")) continue;
    const std::uint64_t anchor = anchor_of(record);
    ASSERT_LE(anchor, options.people);
    const PersonRecord other = generator.canonical_person(anchor);
    const PersonRecord self = generator.canonical_person(record.person_id);
    EXPECT_EQ(self.birth_date, other.birth_date);
    EXPECT_EQ(self.last_name, other.last_name);
    EXPECT_EQ(self.street, other.street);
    EXPECT_NE(self.first_name, other.first_name);
    ++twins_of_base;
  }
  EXPECT_GT(twins_of_base, 50u);
}

TEST(MpiPopulation, NamesFollowARealisticFrequencyCurve) {
  PopulationGenerator generator(small_options(50000, 0), default_reference_dir());
  std::map<std::string, std::size_t> surnames;
  for (const auto& record : all_base(generator)) ++surnames[upper(record.last_name)];
  std::vector<std::size_t> counts;
  for (const auto& [name, count] : surnames) counts.push_back(count);
  std::sort(counts.rbegin(), counts.rend());
  // Common names are common (SMITH-like ~0.5%), and there is a long tail of rare ones.
  EXPECT_GT(counts[0], 150u);
  EXPECT_LT(counts[0], 600u);
  EXPECT_GT(surnames.size(), 10000u);
  EXPECT_GT(surnames["SMITH"], 100u);
}

TEST(MpiPopulation, ErrorRatesMatchTheOptions) {
  auto options = small_options(20000, 40000);
  options.returning_share = 1.0;
  options.day_repeat_share = 0.0;
  PopulationGenerator generator(options, default_reference_dir());
  std::map<std::string, std::size_t> counts;
  std::size_t clean = 0;
  const auto day = all_day(generator);
  for (const auto& record : day) {
    if (record.errors.empty()) ++clean;
    for (const auto& part : test::split(record.errors, ';'))
      if (!part.empty()) ++counts[part.substr(0, part.find(':'))];
  }
  const double n = static_cast<double>(day.size());
  const ErrorRates& rates = options.errors;
  // Errors that always apply.
  EXPECT_NEAR(counts["moved"] / n, rates.moved, 0.006);
  EXPECT_NEAR(counts["new_phone"] / n, rates.new_phone, 0.006);
  EXPECT_NEAR(counts["missing"] / n, rates.missing_fields, 0.006);
  EXPECT_NEAR(counts["name_swap"] / n, rates.name_swap, 0.003);
  EXPECT_NEAR(counts["middle"] / n, rates.middle_change, 0.004);
  EXPECT_NEAR(counts["name_typo"] / n, rates.name_typo, 0.005);
  EXPECT_NEAR(counts["dob_typo"] / n, rates.dob_typo, 0.003);
  EXPECT_NEAR(counts["sex"] / n, rates.sex_error, 0.002);
  // Errors that apply only where they can: a name with a nickname, day <= 12, adult women.
  EXPECT_LE(counts["nickname"] / n, rates.nickname + 0.003);
  EXPECT_GT(counts["nickname"] / n, rates.nickname * 0.3);
  EXPECT_LE(counts["phonetic"] / n, rates.phonetic + 0.003);
  EXPECT_GT(counts["phonetic"] / n, rates.phonetic * 0.5);
  EXPECT_LE(counts["dob_swap"] / n, rates.dob_day_month_swap + 0.002);
  EXPECT_GT(counts["dob_swap"], 0u);
  EXPECT_LE(counts["married"] / n, rates.married_surname + 0.002);
  EXPECT_GT(counts["married"], 0u);
  EXPECT_GT(clean / n, 0.55);
}

TEST(MpiPopulation, ZeroRatesGiveCleanDayRecords) {
  auto options = small_options(2000, 3000);
  options.errors = ErrorRates{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  PopulationGenerator generator(options, default_reference_dir());
  for (const auto& record : all_day(generator)) {
    ASSERT_TRUE(record.errors.empty()) << record.errors;
    const PersonRecord truth = generator.person(record.person_id);
    EXPECT_EQ(upper(record.first_name), upper(truth.first_name));
    EXPECT_EQ(record.birth_date, truth.birth_date);
    EXPECT_EQ(digits(record.phone), digits(truth.phone));
  }
}

TEST(MpiPopulation, ErrorLabelsDescribeWhatChanged) {
  auto options = small_options(3000, 8000);
  options.returning_share = 1.0;
  options.day_repeat_share = 0.0;
  // One error at a time, at a high rate, so each label can be checked against the truth.
  const auto only = [&options](double ErrorRates::*rate) {
    auto one = options;
    one.errors = ErrorRates{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    one.errors.*rate = 0.5;
    one.other_provider_share = 0.0;  // same provider, same formatting as the base record
    return one;
  };
  {
    PopulationGenerator generator(only(&ErrorRates::name_swap), default_reference_dir());
    std::size_t checked = 0;
    for (const auto& record : all_day(generator)) {
      if (!has_error(record, "name_swap")) continue;
      const auto truth = generator.person(record.person_id);
      EXPECT_EQ(record.first_name, truth.last_name);
      EXPECT_EQ(record.last_name, truth.first_name);
      ++checked;
    }
    EXPECT_GT(checked, 2000u);
  }
  {
    PopulationGenerator generator(only(&ErrorRates::dob_day_month_swap), default_reference_dir());
    std::size_t checked = 0;
    for (const auto& record : all_day(generator)) {
      if (!has_error(record, "dob_swap")) continue;
      const auto truth = generator.person(record.person_id);
      EXPECT_EQ(record.birth_date.substr(0, 4), truth.birth_date.substr(0, 4));
      EXPECT_EQ(record.birth_date.substr(5, 2), truth.birth_date.substr(8, 2));
      EXPECT_EQ(record.birth_date.substr(8, 2), truth.birth_date.substr(5, 2));
      ++checked;
    }
    EXPECT_GT(checked, 300u);
  }
  {
    PopulationGenerator generator(only(&ErrorRates::dob_typo), default_reference_dir());
    for (const auto& record : all_day(generator)) {
      if (!has_error(record, "dob_typo")) continue;
      const auto truth = generator.person(record.person_id);
      int differing = 0;
      for (std::size_t i = 0; i < 10; ++i) differing += record.birth_date[i] != truth.birth_date[i];
      EXPECT_EQ(differing, 1) << "one digit of the date";
    }
  }
  {
    PopulationGenerator generator(only(&ErrorRates::nickname), default_reference_dir());
    std::size_t checked = 0;
    for (const auto& record : all_day(generator)) {
      if (!has_error(record, "nickname")) continue;
      const auto truth = generator.person(record.person_id);
      EXPECT_NE(upper(record.first_name), upper(truth.first_name));
      EXPECT_EQ(upper(record.last_name), upper(truth.last_name));
      ++checked;
    }
    EXPECT_GT(checked, 500u);
  }
  {
    PopulationGenerator generator(only(&ErrorRates::moved), default_reference_dir());
    for (const auto& record : all_day(generator)) {
      const auto truth = generator.person(record.person_id);
      if (has_error(record, "moved")) {
        EXPECT_NE(record.street, truth.street);
        EXPECT_EQ(record.phone, truth.phone);
      } else {
        EXPECT_EQ(record.street, truth.street);
      }
    }
  }
  {
    PopulationGenerator generator(only(&ErrorRates::missing_fields), default_reference_dir());
    for (const auto& record : all_day(generator)) {
      if (!has_error(record, "missing")) continue;
      const auto truth = generator.person(record.person_id);
      const std::string fields = record.errors.substr(record.errors.find(':') + 1);
      for (const auto& field : test::split(fields, '+')) {
        if (field == "street") { EXPECT_TRUE(record.street.empty()); }
        if (field == "phone") { EXPECT_TRUE(record.phone.empty()); }
        if (field == "birth_date") { EXPECT_TRUE(record.birth_date.empty()); }
        if (field == "first_name") { EXPECT_TRUE(record.first_name.empty()); }
      }
      if (fields.find("street") == std::string::npos) { EXPECT_EQ(record.street, truth.street); }
    }
  }
}

TEST(MpiPopulation, RejectsOptionsOutOfRangeAndMissingTables) {
  auto options = small_options();
  options.twin_share = 1.5;
  EXPECT_THROW(PopulationGenerator(options, default_reference_dir()), std::invalid_argument);
  options = small_options();
  options.twin_share = 0.3;
  options.family_share = 0.3;
  EXPECT_THROW(PopulationGenerator(options, default_reference_dir()), std::invalid_argument);
  options = small_options();
  options.errors.moved = -0.1;
  EXPECT_THROW(PopulationGenerator(options, default_reference_dir()), std::invalid_argument);
  test::TempDir empty;
  EXPECT_THROW(PopulationGenerator(small_options(), empty.path()), std::runtime_error);
}

TEST(MpiPopulationCsv, QuotesOnlyWhatNeedsQuoting) {
  EXPECT_EQ(csv_field("SMITH"), "SMITH");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("APT 4, REAR"), "\"APT 4, REAR\"");
  EXPECT_EQ(csv_field("O\"NEIL"), "\"O\"\"NEIL\"");
  EXPECT_EQ(csv_field("a\nb"), "\"a\nb\"");
  EXPECT_EQ(csv_field("a\rb"), "\"a\rb\"");

  PersonRecord record;
  record.person_id = 42;
  record.first_name = "ANN";
  record.last_name = "O\"NEIL";
  record.street_2 = "APT 4, REAR";
  record.errors = "nickname;moved";
  std::ostringstream out;
  write_csv_header(out);
  write_csv_row(out, record);
  const auto lines = test::split(out.str(), '\n');
  ASSERT_EQ(lines.size(), 3u);  // header, row, empty after the last newline
  EXPECT_EQ(test::split(lines[0], ',').size(), 19u);
  EXPECT_EQ(lines[1], "42,,,ANN,,\"O\"\"NEIL\",,,,,\"APT 4, REAR\",,,,,,,nickname;moved,");
}

TEST(MpiPopulationCli, WritesBaseAndDayFiles) {
  test::TempDir dir;
  const std::string base = dir / "base.csv", day = dir / "day.csv";
  const std::vector<std::string_view> args = {"--people", "300", "--day-records", "200", "--seed", "5",
                                              "--out-base", base, "--out-day", day};
  std::ostringstream out, err;
  ASSERT_EQ(run_cli(args, out, err), 0) << err.str();
  const auto base_lines = test::read_lines(base);
  const auto day_lines = test::read_lines(day);
  ASSERT_EQ(base_lines.size(), 301u);
  ASSERT_EQ(day_lines.size(), 201u);
  EXPECT_TRUE(base_lines[0].starts_with("person_id,source,recipient_id,first_name"));
  EXPECT_TRUE(base_lines[1].starts_with("1,PRV"));

  PopulationOptions options = small_options(300, 200, 5);
  PopulationGenerator generator(options, default_reference_dir());
  EXPECT_EQ(base_lines[300] + "\n", row(generator.person(300)));
  // The summary on stderr counts records and names no value.
  EXPECT_NE(err.str().find("300 records"), std::string::npos);
  EXPECT_EQ(err.str().find(generator.person(1).last_name), std::string::npos);
}

TEST(MpiPopulationCli, BadArgumentsExit64) {
  std::ostringstream out, err;
  const auto run = [&](std::vector<std::string_view> args) {
    err.str("");
    return run_cli(args, out, err);
  };
  EXPECT_EQ(run({}), 64);
  EXPECT_NE(err.str().find("--out-base"), std::string::npos);
  EXPECT_EQ(run({"--people", "ten", "--out-base", "/tmp/x.csv"}), 64);
  EXPECT_NE(err.str().find("--people"), std::string::npos);
  EXPECT_EQ(run({"--frobnicate", "1", "--out-base", "/tmp/x.csv"}), 64);
  EXPECT_EQ(run({"--out-base"}), 64);
  EXPECT_EQ(run({"--twin-share", "2", "--out-base", "/tmp/x.csv"}), 64);
  EXPECT_EQ(run({"--twin-share", "0.4", "--family-share", "0.4", "--out-base", "/tmp/x.csv"}), 64);
  EXPECT_EQ(run({"--out-base", "/tmp/x.csv", "--out-day", "/tmp/x.csv"}), 64);
  EXPECT_EQ(run({"stray"}), 64);
  test::TempDir dir;
  EXPECT_EQ(run({"--out-base", dir / "x.csv", "--data-dir", dir / "nowhere"}), 66);
  EXPECT_EQ(run({"--people", "5", "--out-base", dir / "missing/dir/x.csv"}), 73);
  out.str("");
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_NE(out.str().find("usage: mpi_gen"), std::string::npos);
}

}  // namespace
}  // namespace vaxetl::mpi_gen
