// Blocking, decisions and their guards, determinism, learning, restore/merge, the model's text
// form and EM.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "matcher/matcher_impl.hpp"
#include "test_tables.hpp"

namespace vaxetl::mpi {
namespace {

struct Person {
  std::string source = "PRV001", recipient_id, first, middle, last, dob, sex, street, city, zip, phone,
              email, ssn;
  PersonInput input() const {
    PersonInput in;
    in.source = source;
    in.recipient_id = recipient_id;
    in.first_name = first;
    in.middle_name = middle;
    in.last_name = last;
    in.birth_date = dob;
    in.sex = sex;
    in.street = street;
    in.city = city;
    in.zip = zip;
    in.phone = phone;
    in.email = email;
    in.ssn = ssn;
    return in;
  }
};

Person alice() {
  Person p;
  p.recipient_id = "A-1";
  p.first = "Alice";
  p.middle = "Jane";
  p.last = "Whitfield";
  p.dob = "1984-03-17";
  p.sex = "F";
  p.street = "118 Magnolia Street";
  p.city = "Raleigh";
  p.zip = "27615";
  p.phone = "919-555-0134";
  p.email = "alice.whitfield@example.org";
  return p;
}

Person stranger() {
  Person p;
  p.recipient_id = "Z-9";
  p.first = "Gregory";
  p.last = "Okonkwo";
  p.dob = "1950-11-02";
  p.sex = "M";
  p.street = "4 Pine Lane";
  p.city = "Asheville";
  p.zip = "28801";
  p.phone = "828-555-0199";
  return p;
}

Matcher make() { return Matcher(test::tables(), Model::defaults()); }

TEST(MpiMatcher, IdsStartAtOneAndAnExactRepeatLinks) {
  Matcher m = make();
  const MatchResult first = m.match(alice().input());
  EXPECT_EQ(first.decision, Decision::New);
  EXPECT_EQ(first.mpi_id, 1u);
  EXPECT_EQ(first.candidates, 0u);
  Person again = alice();
  again.source = "PRV002";
  again.recipient_id = "X77";
  const MatchResult& second = m.match(again.input());
  EXPECT_EQ(second.decision, Decision::Linked);
  EXPECT_EQ(second.mpi_id, 1u);
  EXPECT_GE(second.score, Model::defaults().link_threshold);
  EXPECT_EQ(second.rule, "");
  EXPECT_EQ(second.comparison[static_cast<std::size_t>(Field::FirstName)].level, detail::kLevelExact);
  EXPECT_GT(second.comparison[static_cast<std::size_t>(Field::FirstName)].weight, 0.0f);
  EXPECT_EQ(m.match(stranger().input()).mpi_id, 2u);
  EXPECT_EQ(m.master_count(), 2u);
  EXPECT_EQ(m.next_id(), 3u);
}

TEST(MpiMatcher, ErrorsStillLink) {
  Matcher m = make();
  m.match(alice().input());
  Person typo = alice();  // nickname, a DOB typo, a new phone, moved
  typo.first = "Ally";
  typo.first = "Alicia";
  typo.last = "Whitfeild";
  typo.dob = "1984-03-18";
  typo.phone = "";
  typo.recipient_id = "";
  typo.street = "9 Oak Avenue";
  const MatchResult& result = m.match(typo.input());
  EXPECT_EQ(result.decision, Decision::Linked) << result.score << " " << result.rule;
  EXPECT_EQ(result.mpi_id, 1u);

  Person swapped = alice();  // first and last exchanged
  std::swap(swapped.first, swapped.last);
  swapped.recipient_id = "";
  const MatchResult& s = m.match(swapped.input());
  EXPECT_EQ(s.mpi_id, 1u);
  EXPECT_EQ(level_name(Field::FirstName, s.comparison[0].level), "transposed");

  Person day_month = alice();
  day_month.dob = "1984-17-03";  // not a date: missing, the rest links
  day_month.recipient_id = "";
  EXPECT_EQ(m.match(day_month.input()).mpi_id, 1u);
}

TEST(MpiMatcher, ClearlyDifferentPeopleGetNewMasters) {
  Matcher m = make();
  m.match(alice().input());
  const MatchResult& result = m.match(stranger().input());
  EXPECT_EQ(result.decision, Decision::New);
  EXPECT_EQ(result.mpi_id, 2u);
}

TEST(MpiMatcher, TwinsAreNeverLinked) {
  Matcher m = make();
  m.match(alice().input());
  Person twin = alice();  // same DOB, surname, address and phone; another first name
  twin.first = "Beatrice";
  twin.middle = "";
  twin.recipient_id = "A-2";
  twin.email = "";
  const MatchResult& result = m.match(twin.input());
  EXPECT_NE(result.decision, Decision::Linked);
  EXPECT_NE(result.mpi_id, 1u);
  EXPECT_EQ(result.rule, "twins_guard");
  EXPECT_EQ(result.best_candidate, 1u);
  // An opposite-sex twin with a similar name is guarded too.
  Person brother = alice();
  brother.first = "Alex";
  brother.sex = "M";
  brother.middle = "";
  brother.recipient_id = "A-3";
  brother.email = "";
  EXPECT_NE(m.match(brother.input()).decision, Decision::Linked);
}

TEST(MpiMatcher, FamilyMembersAreNotLinked) {
  Matcher m = make();
  m.match(alice().input());
  Person child = alice();
  child.first = "Thomas";
  child.middle = "";
  child.sex = "M";
  child.dob = "1984-09-02";  // same birth year: a year_only agreement is not enough
  child.recipient_id = "A-7";
  child.email = "";
  const MatchResult& result = m.match(child.input());
  EXPECT_NE(result.decision, Decision::Linked);
  EXPECT_EQ(result.rule, "family_guard");
}

TEST(MpiMatcher, AnSsnTypoIsNoTwinButConsecutiveNumbersAre) {
  Matcher m = make();
  Person a = alice();
  a.ssn = "245-61-3907";
  m.match(a.input());
  Person typo = a;  // the first name replaced, the SSN one digit off (not consecutive)
  typo.first = "Beatrice";
  typo.middle = "";
  typo.recipient_id = "";
  typo.ssn = "245-61-3937";
  const MatchResult& linked = m.match(typo.input());
  EXPECT_EQ(linked.decision, Decision::Linked) << linked.rule;
  EXPECT_EQ(linked.mpi_id, 1u);
  Person twin = a;  // consecutive SSN: the twin, held apart
  twin.first = "Clementine";
  twin.middle = "";
  twin.recipient_id = "A-2";
  twin.email = "";
  twin.ssn = "245-61-3908";
  const MatchResult& held = m.match(twin.input());
  EXPECT_NE(held.decision, Decision::Linked);
  EXPECT_EQ(held.rule, "twins_guard");
}

TEST(MpiMatcher, TheClosestLevelCountsWhateverTheWeights) {
  // A model that weighs a one-digit SSN difference above an exact SSN (EM can do this on
  // small samples) must still report, and guard on, the exact agreement.
  Model model = Model::defaults();
  auto& ssn = model.fields[static_cast<std::size_t>(Field::Ssn)];
  ssn.m = {0, .5, .5, .01};
  ssn.u = {0, .001, .00001, .99};
  Matcher m(test::tables(), model);
  Person a = alice();
  a.ssn = "245-61-3907";
  m.match(a.input());
  Person b = a;  // teaches the master a mistyped SSN too
  b.ssn = "245-61-3937";
  m.match(b.input());
  Person probe = a;
  probe.recipient_id = "";
  const MatchResult& r = m.score_only(probe.input());
  EXPECT_EQ(level_name(Field::Ssn, r.comparison[static_cast<std::size_t>(Field::Ssn)].level), "exact");
}

TEST(MpiMatcher, ADobAboutAYearOffLinksOnlyWithTheSameFirstNameAndAContact) {
  Matcher m = make();
  Person a;
  a.first = "Gabriel";
  a.last = "Thompson";
  a.dob = "1976-09-15";
  a.city = "Raleigh";
  a.email = "gabriel.t54@example.org";
  m.match(a.input());
  Person typo = a;  // the year typed wrong and a day off: same name, same email
  typo.dob = "1977-09-13";
  const MatchResult& linked = m.match(typo.input());
  EXPECT_EQ(linked.decision, Decision::Linked) << linked.rule;
  EXPECT_EQ(level_name(Field::BirthDate, linked.comparison[static_cast<std::size_t>(Field::BirthDate)].level),
            "within_year");
  Person namesake = a;  // a namesake born the next year in the same town, no shared contact
  namesake.dob = "1977-10-02";
  namesake.email = "";
  const MatchResult& held = m.match(namesake.input());
  EXPECT_NE(held.decision, Decision::Linked);
  EXPECT_EQ(held.rule, "too_little_data");
  Person sibling = a;  // another first name, born eleven months later, same household email
  sibling.first = "Miriam";
  sibling.dob = "1977-08-20";
  const MatchResult& family = m.match(sibling.input());
  EXPECT_NE(family.decision, Decision::Linked);
  EXPECT_FALSE(family.rule.empty());
  Person similar = a;  // a similar first name (a sister named after him), same email, a year before
  similar.first = "Gabriella";
  similar.dob = "1975-10-20";
  const MatchResult& sister = m.match(similar.input());
  EXPECT_NE(sister.decision, Decision::Linked);
  EXPECT_EQ(sister.rule, "dob_conflict");
}

TEST(MpiMatcher, RecipientIdIsStrongButNotBlind) {
  Matcher m = make();
  m.match(alice().input());
  // Same provider, same id, but another name and DOB: the id was reused or mistyped.
  Person other = stranger();
  other.source = alice().source;
  other.recipient_id = alice().recipient_id;
  other.zip = alice().zip;
  other.city = alice().city;
  other.street = alice().street;
  other.phone = alice().phone;
  const MatchResult& result = m.match(other.input());
  EXPECT_NE(result.decision, Decision::Linked);
  EXPECT_EQ(result.rule, "recipient_id_conflict");
  // The id with little else still finds and links the person.
  Person sparse;
  sparse.source = alice().source;
  sparse.recipient_id = alice().recipient_id;
  sparse.first = "Alice";
  sparse.last = "Whitfield";
  EXPECT_EQ(m.match(sparse.input()).mpi_id, 1u);
}

TEST(MpiMatcher, PlaceholdersNeverMatch) {
  Matcher m = make();
  Person a;
  a.first = "Baby Boy";
  a.last = "Unknown";
  a.dob = "1900-01-01";
  a.phone = "9999999999";
  a.ssn = "999-99-9999";
  m.match(a.input());
  const MatchResult& result = m.match(a.input());
  EXPECT_EQ(result.candidates, 0u);
  EXPECT_EQ(result.decision, Decision::New);
}

TEST(MpiMatcher, AmbiguousRunnerUpIsPossible) {
  Matcher m = make();
  Person a = alice();
  a.phone = a.email = a.recipient_id = a.street = a.middle = a.sex = "";
  Person b = a;  // another person: same name and place, another DOB
  b.dob = "1962-08-30";
  EXPECT_EQ(m.match(a.input()).mpi_id, 1u);
  EXPECT_EQ(m.match(b.input()).mpi_id, 2u);
  Person probe = a;  // no DOB: it fits both equally
  probe.dob = "";
  const MatchResult& result = m.match(probe.input());
  EXPECT_EQ(result.decision, Decision::Possible);
  EXPECT_EQ(result.rule, "ambiguous_runner_up");
  EXPECT_EQ(result.best_candidate, 1u);
  EXPECT_EQ(result.runner_up, 2u);
}

TEST(MpiMatcher, GenericKeysAreCapped) {
  MatcherSettings settings;
  settings.generic_key_cap = 5;
  Matcher m(test::tables(), Model::defaults(), settings);
  const char* firsts[] = {"Aaron", "Bella", "Cyrus", "Dalia", "Ezra", "Fiona", "Gideon", "Hazel"};
  for (const char* f : firsts) {  // same surname and DOB, different people
    Person p;
    p.first = f;
    p.last = "Lindqvist";
    p.dob = "1990-01-01";
    m.match(p.input());
  }
  EXPECT_GE(m.stats().generic_keys, 1u);
  Person probe;
  probe.first = "Ignatius";
  probe.last = "Lindqvist";
  probe.dob = "1990-01-01";
  EXPECT_EQ(m.score_only(probe.input()).candidates, 0u);  // the shared key proposes nobody
  // Below the cap a key proposes its masters.
  Matcher fresh(test::tables(), Model::defaults(), settings);
  Person p;
  p.first = "Aaron";
  p.last = "Lindqvist";
  p.dob = "1990-01-01";
  fresh.match(p.input());
  EXPECT_EQ(fresh.score_only(probe.input()).candidates, 1u);
  EXPECT_EQ(fresh.last_candidates().size(), 1u);
}

TEST(MpiMatcher, BlockingFindsTypoedNamesThroughOtherKeys) {
  Matcher m = make();
  m.match(alice().input());
  Person p;
  p.first = "Alise";   // typo
  p.last = "Witfield"; // typo
  p.dob = "1984-03-17";
  EXPECT_EQ(m.score_only(p.input()).candidates, 1u);
  Person no_dob;
  no_dob.first = "Alice";
  no_dob.last = "Whitfield";
  no_dob.zip = "27615";
  EXPECT_EQ(m.score_only(no_dob.input()).candidates, 1u);
  MatcherSettings single;
  single.single_blocking_key = true;
  EXPECT_EQ(blocking_keys_description(single), "phonetic first+last");
  EXPECT_NE(blocking_keys_description({}).find("phonetic first or last+dob"), std::string::npos);
}

TEST(MpiMatcher, ExchangedNamesWithATypoedDobAreStillFound) {
  Matcher m = make();
  Person a;
  a.first = "Caleb";
  a.last = "Rowe";
  a.dob = "1992-11-20";
  a.city = "Liverpool";
  m.match(a.input());
  Person p;  // names exchanged and the surname misspelled, DOB one digit off
  p.first = "Rowe";
  p.last = "Caleb";
  p.dob = "1992-12-20";
  EXPECT_EQ(m.score_only(p.input()).candidates, 1u);
  Person q;  // exchanged names, exact DOB: the either-name + DOB key alone finds it
  q.first = "Rowe";
  q.last = "Calab";
  q.dob = "1992-11-20";
  EXPECT_EQ(m.score_only(q.input()).candidates, 1u);
}

TEST(MpiMatcher, ExchangedNamesAndADobAloneDoNotLink) {
  // Many people carry each other's names (JAMES THOMAS, THOMAS JAMES): exchanged names are one
  // agreement and ask for a third besides the DOB.
  Matcher m = make();
  Person a;
  a.first = "Isla";
  a.last = "Hallworth";
  a.dob = "1985-02-07";
  m.match(a.input());
  Person swapped;
  swapped.first = "Hallworth";
  swapped.last = "Isla";
  swapped.dob = "1985-02-07";
  const MatchResult& held = m.score_only(swapped.input());
  EXPECT_EQ(level_name(Field::FirstName, held.comparison[0].level), "transposed");
  EXPECT_NE(held.decision, Decision::Linked);
  EXPECT_EQ(held.rule, "too_little_data");
  swapped.email = "isla.h@example.org";  // a third agreement: the same email
  a.email = swapped.email;
  Matcher n = make();
  n.match(a.input());
  EXPECT_EQ(n.match(swapped.input()).decision, Decision::Linked);
}

TEST(MpiMatcher, DobAndCityFindARecordWithGarbledNames) {
  Matcher m = make();
  Person a;
  a.first = "Evie";
  a.last = "Dean";
  a.dob = "2015-03-03";
  a.city = "Portsmouth";
  m.match(a.input());
  Person garbled;  // no name key can meet it; DOB + city does, without any fallback key
  garbled.first = "Qvxe";
  garbled.dob = "2015-03-03";
  garbled.city = "Portsmouth";
  EXPECT_EQ(m.score_only(garbled.input()).candidates, 1u);
}

TEST(MpiMatcher, FallbackKeysFindAMistypedDobAndAnotherMailDomain) {
  Matcher m = make();
  Person a;
  a.first = "Theodora";
  a.last = "Morris";
  a.dob = "1978-08-19";
  a.city = "Durham";
  a.email = "t.m39@brooks-sawyer.com";
  m.match(a.input());
  Person year;  // the year mistyped: no strong key is shared, the names are
  year.first = "Theodora";
  year.last = "Morris";
  year.dob = "1987-08-19";
  m.score_only(year.input());
  ASSERT_EQ(m.last_candidates().size(), 1u);
  EXPECT_EQ(m.last_candidates()[0], 1u);
  Person city;  // the DOB mistyped and no last name: first name + city
  city.first = "Theodora";
  city.dob = "1979-01-01";
  city.city = "Durham";
  EXPECT_EQ(m.score_only(city.input()).candidates, 1u);
  Person mail;  // another domain, nothing else shared
  mail.last = "Quist";
  mail.dob = "1950-01-01";
  mail.email = "t.m39@example.net";
  EXPECT_EQ(m.score_only(mail.input()).candidates, 1u);
  // A record the strong keys find someone for never asks the fallback keys: an exact repeat
  // scores the one master only, though a namesake (same names, another DOB) is indexed.
  Person namesake = a;
  namesake.dob = "1990-02-11";
  namesake.email = "";
  namesake.city = "";
  m.match(namesake.input());
  EXPECT_EQ(m.score_only(a.input()).candidates, 1u);
  EXPECT_EQ(m.score_only(year.input()).candidates, 2u);  // found nobody: both namesakes
}

TEST(MpiMatcher, ScoreOnlyDoesNotLearn) {
  Matcher m = make();
  m.match(alice().input());
  m.clear_changes();
  m.score_only(stranger().input());
  EXPECT_EQ(m.master_count(), 1u);
  EXPECT_TRUE(m.changes().empty());
}

TEST(MpiMatcher, ChangesRecordNewMastersAndValues) {
  Matcher m = make();
  m.match(alice().input());
  auto changes = m.changes();
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes[0].kind, IndexChange::Kind::NewMaster);
  EXPECT_EQ(changes[0].master, 1u);
  bool saw_first = false;
  for (const auto& c : changes) {
    if (c.kind == IndexChange::Kind::AddValue && c.field == Field::FirstName) {
      EXPECT_EQ(c.value, "ALICE");
      saw_first = true;
    }
  }
  EXPECT_TRUE(saw_first);
  m.clear_changes();
  Person moved = alice();
  moved.street = "9 Oak Avenue";
  m.match(moved.input());
  changes = m.changes();
  ASSERT_EQ(changes.size(), 1u);  // only the new street
  EXPECT_EQ(changes[0].field, Field::Street);
  EXPECT_EQ(changes[0].value, "9 OAK AVE");
  std::vector<std::string> streets;
  m.for_each_value(1, [&](Field f, std::string_view v) {
    if (f == Field::Street) streets.emplace_back(v);
  });
  EXPECT_EQ(streets, (std::vector<std::string>{"118 MAGNOLIA ST", "9 OAK AVE"}));
}

TEST(MpiMatcher, ValuesPerFieldAreCapped) {
  MatcherSettings settings;
  settings.max_values_per_field = 2;
  Matcher m(test::tables(), Model::defaults(), settings);
  m.match(alice().input());
  for (const char* street : {"1 A Street", "2 B Street", "3 C Street"}) {
    Person p = alice();
    p.street = street;
    m.match(p.input());
  }
  int streets = 0;
  m.for_each_value(1, [&](Field f, std::string_view) { streets += f == Field::Street; });
  EXPECT_EQ(streets, 2);
}

TEST(MpiMatcher, SameInputTwiceGivesSameIdsAndScores) {
  auto run = [] {
    Matcher m = make();
    std::vector<std::tuple<MasterId, Decision, double>> out;
    Person variants[] = {alice(), stranger(), alice(), stranger(), alice()};
    variants[2].first = "Alicia";
    variants[3].dob = "1950-11-20";
    variants[4].last = "Whitfeld";
    for (const auto& p : variants) {
      const auto& r = m.match(p.input());
      out.emplace_back(r.mpi_id, r.decision, r.score);
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

TEST(MpiMatcher, RestoredIndexMatchesLikeTheLiveOne) {
  Matcher live = make();
  live.match(alice().input());
  live.match(stranger().input());
  Matcher restored = make();
  for (MasterId id : {MasterId{1}, MasterId{2}}) {
    live.for_each_value(id, [&](Field f, std::string_view v) { restored.restore_value(id, f, v); });
  }
  Person probe = alice();
  probe.first = "Alicia";
  const MatchResult a = live.score_only(probe.input());
  const MatchResult b = restored.score_only(probe.input());
  EXPECT_EQ(a.best_candidate, b.best_candidate);
  EXPECT_DOUBLE_EQ(a.score, b.score);
  restored.restore_master(7);  // a master with no values moves next_id past it
  EXPECT_EQ(restored.next_id(), 8u);
  restored.set_next_id(3);
  EXPECT_EQ(restored.match(stranger().input()).mpi_id, 2u);
  EXPECT_EQ(restored.match(Person{}.input()).mpi_id, 3u);
}

TEST(MpiMatcher, MergeMovesValuesToTheSurvivor) {
  Matcher m = make();
  m.match(alice().input());
  Person other_address = alice();  // force a second master: different person data entirely
  other_address = stranger();
  m.match(other_address.input());
  m.merge(1, 2);
  EXPECT_EQ(m.master_count(), 1u);
  const MatchResult& result = m.match(stranger().input());
  EXPECT_EQ(result.decision, Decision::Linked);
  EXPECT_EQ(result.mpi_id, 1u);
  bool retired_has_values = false;
  m.for_each_value(2, [&](Field, std::string_view) { retired_has_values = true; });
  EXPECT_FALSE(retired_has_values);
}

TEST(MpiModel, TextRoundTrip) {
  Model model = Model::defaults();
  model.fields[0].m[1] = 0.123456789012345;
  model.fields[3].u[2] = 3.5e-7;
  model.prior_match = 0.0421;
  model.link_threshold = 13.25;
  model.new_threshold = 2.5;
  model.runner_up_margin = 3.75;
  model.em_pairs = 1234;
  model.em_iterations = 56;
  const Model back = Model::from_text(model.to_text());
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    EXPECT_EQ(back.fields[f].m, model.fields[f].m) << f;
    EXPECT_EQ(back.fields[f].u, model.fields[f].u) << f;
  }
  EXPECT_EQ(back.prior_match, model.prior_match);
  EXPECT_EQ(back.link_threshold, model.link_threshold);
  EXPECT_EQ(back.new_threshold, model.new_threshold);
  EXPECT_EQ(back.runner_up_margin, model.runner_up_margin);
  EXPECT_EQ(back.em_pairs, 1234u);
  EXPECT_EQ(back.em_iterations, 56u);
  EXPECT_EQ(back.to_text(), model.to_text());
}

TEST(MpiModel, AModelStoredBeforeALevelExistedStillLoads) {
  // An index persisted before birth_date's within_year level: its model text has no line for
  // it. The level takes its default; the stored levels keep their values, whatever their
  // number now (disagree moved from 5 to 6).
  std::string text = Model::defaults().to_text();
  const std::string line = "level birth_date within_year ";
  const auto at = text.find(line);
  ASSERT_NE(at, std::string::npos);
  text.erase(at, text.find('\n', at) - at + 1);
  const std::string disagree = "level birth_date disagree ";
  const auto d = text.find(disagree);
  ASSERT_NE(d, std::string::npos);
  text.replace(d, text.find('\n', d) - d, disagree + "0.25 0.75");
  const Model back = Model::from_text(text);
  const auto& dob = back.fields[static_cast<std::size_t>(Field::BirthDate)];
  const Model fresh = Model::defaults();
  const auto& defaults = fresh.fields[static_cast<std::size_t>(Field::BirthDate)];
  EXPECT_EQ(dob.m[detail::level::kDateWithinYear], defaults.m[detail::level::kDateWithinYear]);
  EXPECT_EQ(dob.m[detail::level::kDateDisagree], 0.25);
  EXPECT_EQ(dob.u[detail::level::kDateDisagree], 0.75);
  Matcher m(test::tables(), back);  // and it is usable
  EXPECT_EQ(m.match(alice().input()).mpi_id, 1u);
}

TEST(MpiModel, FromTextRejectsBadInput) {
  EXPECT_THROW(Model::from_text("level first_name exact 2 0.1\n"), std::invalid_argument);
  EXPECT_THROW(Model::from_text("level shoe_size exact 0.5 0.1\n"), std::invalid_argument);
  EXPECT_THROW(Model::from_text("level first_name glitter 0.5 0.1\n"), std::invalid_argument);
  EXPECT_THROW(Model::from_text("link_threshold twelve\n"), std::invalid_argument);
  EXPECT_THROW(Model::from_text("colour blue\n"), std::invalid_argument);
  EXPECT_NO_THROW(Model::from_text("# comment only\n\n"));
}

TEST(MpiModel, DefaultsAreSane) {
  const Model model = Model::defaults();
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    const auto field = static_cast<Field>(f);
    ASSERT_EQ(model.fields[f].m.size(), level_count(field));
    double m = 0, u = 0;
    for (std::size_t l = 1; l < level_count(field); ++l) {
      m += model.fields[f].m[l];
      u += model.fields[f].u[l];
    }
    EXPECT_NEAR(m, 1.0, 0.01) << field_name(field);
    EXPECT_NEAR(u, 1.0, 0.01) << field_name(field);
    EXPECT_GT(model.fields[f].m[1], model.fields[f].u[1]) << field_name(field);  // exact is evidence for
    const std::size_t disagree = level_count(field) - 1;
    EXPECT_LT(model.fields[f].m[disagree], model.fields[f].u[disagree]) << field_name(field);
  }
  EXPECT_THROW(Matcher(nullptr, Model::defaults()), std::invalid_argument);
}

TEST(MpiModel, EmRecoversKnownMAndShare) {
  // Synthetic pairs over three fields with known m, u and a 30% match share.
  const std::array<std::vector<double>, 3> m{{{0, .85, .10, .05}, {0, .90, .10}, {0, .80, .15, .05}}};
  const std::array<std::vector<double>, 3> u{{{0, .05, .15, .80}, {0, .10, .90}, {0, .02, .08, .90}}};
  const std::array<Field, 3> fields{Field::Street, Field::Sex, Field::Zip};
  // street levels: exact, jw_92, same_number(unused), disagree -> use 1, 2, 4
  const std::array<std::vector<std::uint8_t>, 3> level_of{{{0, 1, 2, 4}, {0, 1, 2}, {0, 1, 3, 4}}};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  auto draw = [&](const std::vector<double>& probs) {
    double x = unit(rng);
    for (std::size_t l = 1; l < probs.size(); ++l) {
      if ((x -= probs[l]) <= 0) return l;
    }
    return probs.size() - 1;
  };
  std::vector<detail::Levels> pairs;
  for (int i = 0; i < 40000; ++i) {
    const bool match = unit(rng) < 0.3;
    detail::Levels levels{};
    for (std::size_t k = 0; k < 3; ++k) {
      levels[static_cast<std::size_t>(fields[k])] = level_of[k][draw(match ? m[k] : u[k])];
    }
    pairs.push_back(levels);
  }
  Model model = Model::defaults();
  EstimationReport report;
  detail::run_em(pairs, model, &report);
  EXPECT_NEAR(report.match_share, 0.3, 0.03);
  EXPECT_EQ(report.pairs, 40000u);
  EXPECT_GT(report.iterations, 1u);
  for (std::size_t k = 0; k < 3; ++k) {
    const auto f = static_cast<std::size_t>(fields[k]);
    for (std::size_t l = 1; l < m[k].size(); ++l) {
      EXPECT_NEAR(model.fields[f].m[level_of[k][l]], m[k][l], 0.03) << field_name(fields[k]) << " level " << l;
    }
  }
  // u is not taken from EM (it comes from random pairs).
  EXPECT_EQ(model.fields[static_cast<std::size_t>(Field::Sex)].u, Model::defaults().fields[4].u);
}

TEST(MpiModel, EmKeepsTheCrossFieldLevelsStartingM) {
  // Exchanged names show as transposed in both name fields at once, which breaks EM's
  // independence assumption; their m must stay where it started.
  std::vector<detail::Levels> pairs;
  for (int i = 0; i < 2000; ++i) {
    detail::Levels levels{};
    const bool match = i % 3 != 0;
    const bool swapped = match && i % 5 == 0;
    const std::uint8_t exact = detail::kLevelExact;
    const std::uint8_t first_disagree = detail::level::kFirstDisagree, last_disagree = detail::level::kLastDisagree;
    const std::uint8_t first_swapped = detail::level::kFirstTransposed, last_swapped = detail::level::kLastTransposed;
    const std::uint8_t dob_disagree = detail::level::kDateDisagree;
    levels[static_cast<std::size_t>(Field::FirstName)] = swapped ? first_swapped : match ? exact : first_disagree;
    levels[static_cast<std::size_t>(Field::LastName)] = swapped ? last_swapped : match ? exact : last_disagree;
    levels[static_cast<std::size_t>(Field::BirthDate)] = match ? exact : dob_disagree;
    pairs.push_back(levels);
  }
  Model model = Model::defaults();
  detail::run_em(pairs, model, nullptr);
  const auto first = static_cast<std::size_t>(Field::FirstName), last = static_cast<std::size_t>(Field::LastName);
  EXPECT_EQ(model.fields[first].m[detail::level::kFirstTransposed],
            Model::defaults().fields[first].m[detail::level::kFirstTransposed]);
  EXPECT_EQ(model.fields[last].m[detail::level::kLastTransposed],
            Model::defaults().fields[last].m[detail::level::kLastTransposed]);
  EXPECT_NE(model.fields[first].m[detail::kLevelExact], Model::defaults().fields[first].m[detail::kLevelExact]);
}

TEST(MpiModel, EstimateModelAndReestimateRunWithoutLabels) {
  std::vector<Person> people;
  const char* firsts[] = {"Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hal", "Ida", "Jon"};
  const char* lasts[] = {"Moss", "Reyes", "Quinn", "Patel", "Olsen", "Nagy", "Lund", "Kerr", "Ivey", "Holt"};
  for (int i = 0; i < 100; ++i) {
    Person p;
    p.first = firsts[i % 10];
    p.last = lasts[(i / 10) % 10];
    p.dob = "19" + std::to_string(40 + i % 50) + "-0" + std::to_string(1 + i % 9) + "-1" + std::to_string(i % 10);
    p.zip = "27" + std::to_string(100 + i);
    people.push_back(p);
    if (i % 2 == 0) {
      Person dup = p;
      dup.first += "e";
      people.push_back(dup);
    }
  }
  std::vector<PersonInput> inputs;
  for (const auto& p : people) inputs.push_back(p.input());
  EstimationReport report;
  const Model a = estimate_model(inputs, test::tables(), Model::defaults(), &report);
  const Model b = estimate_model(inputs, test::tables(), Model::defaults());
  EXPECT_GT(report.pairs, 0u);
  EXPECT_EQ(a.to_text(), b.to_text());  // deterministic
  Matcher m(test::tables(), a);
  m.collect_comparisons(true);
  for (const auto& in : inputs) m.match(in);
  EstimationReport again;
  const Model next = m.reestimate(&again);
  EXPECT_GT(again.pairs, 0u);
  EXPECT_GT(next.fields[0].m[1], next.fields[0].u[1]);
}

}  // namespace
}  // namespace vaxetl::mpi
