// The MPI index on both backends (a real SQLite file, a real PostgreSQL scratch database): the
// persist/load round trip, the append-only logs, merge/unmerge with aliases and values back by
// origin, reviews, reruns, models, dry runs and the write lock. SQLite's own schema creation
// and upgrade are tested at the top; PostgreSQL's migrations in mpi_store_pg_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "mpi_test_support.hpp"

namespace mpi_test {
namespace {

namespace fs = std::filesystem;
using mpi::Decision;
using mpi::Field;
using mpi::MasterId;

std::vector<std::pair<Field, std::string>> sorted(std::vector<std::pair<Field, std::string>> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Everything a matcher holds, per master: its values per field in order.
std::map<MasterId, std::vector<std::pair<Field, std::string>>> snapshot(const mpi::Matcher& matcher,
                                                                        MasterId max_id) {
  std::map<MasterId, std::vector<std::pair<Field, std::string>>> state;
  for (MasterId id = 1; id <= max_id; ++id) {
    std::vector<std::pair<Field, std::string>> values;
    matcher.for_each_value(id, [&](Field f, std::string_view v) { values.emplace_back(f, std::string(v)); });
    if (!values.empty()) state[id] = sorted(std::move(values));
  }
  return state;
}

struct Person {
  std::string source, recip, first, middle, last, dob, sex, street, city, zip, phone, email;
  mpi::PersonInput input() const {
    mpi::PersonInput p;
    p.source = source;
    p.recipient_id = recip;
    p.first_name = first;
    p.middle_name = middle;
    p.last_name = last;
    p.birth_date = dob;
    p.sex = sex;
    p.street = street;
    p.city = city;
    p.state = "NC";
    p.zip = zip;
    p.phone = phone;
    p.email = email;
    return p;
  }
};

std::vector<Person> people() {
  return {
      {"ACME", "A1", "JONATHAN", "Q", "SMITHERS", "1970-05-17", "M", "12 OAK STREET", "RALEIGH", "27601", "9195550101", "js@example.org"},
      {"ACME", "A2", "MARIA", "", "GONZALEZ", "1985-11-02", "F", "400 ELM AVENUE", "DURHAM", "27701", "9195550102", ""},
      {"BETA", "B7", "JON", "", "SMITHERS", "1970-05-17", "M", "12 OAK ST", "RALEIGH", "27601", "9195550101", ""},
      {"BETA", "B8", "MARIA", "L", "GONZALEZ", "1985-11-02", "F", "400 ELM AVE", "DURHAM", "27701", "", "mg@example.org"},
      {"ACME", "A3", "PRIYA", "", "RAMANATHAN", "1992-01-30", "F", "9 PINE ROAD", "CARY", "27511", "9195550103", ""},
      {"GAMA", "G1", "PRIYA", "", "RAMANATHAN", "1992-01-30", "F", "77 BIRCH LANE", "APEX", "27502", "9195550199", ""},
      {"ACME", "A4", "DEWAYNE", "", "CARTER", "2001-07-04", "M", "5 MAPLE DRIVE", "GARNER", "27529", "", ""},
      {"ACME", "A5", "DESHAWN", "", "CARTER", "2001-07-04", "M", "5 MAPLE DRIVE", "GARNER", "27529", "", ""},
  };
}

class StoreFixture : public IndexTest {
 protected:
  mpi::Matcher fresh_matcher(mpi::Model model = mpi::Model::defaults()) const {
    return mpi::Matcher(tables(), model);
  }
  static std::shared_ptr<const mpi::ReferenceTables> tables() {
    static const auto loaded = mpi::load_reference_tables(kDataDir);
    return loaded;
  }
};

// The SQLite index file itself: schema files applied on open, upgrades, WAL.
class SqliteStoreTest : public StoreFixture {};

// Every documented behaviour, once per backend.
class MpiStoreTest : public StoreFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::PostgreSQL) use_postgres();
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, MpiStoreTest, ::testing::Values(Backend::SQLite, Backend::PostgreSQL),
                         backend_name);

// ---- schema ---------------------------------------------------------------------------------

TEST_F(SqliteStoreTest, CreatesTheIndexAtTheCurrentSchemaVersion) {
  { auto store = open(); }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), mpi::kIndexSchemaVersion);
  EXPECT_EQ(count("schema_version"), 2);
  for (const char* table : {"masters", "master_values", "aliases", "runs", "decisions", "reviews",
                            "operator_actions", "models", "fields"})
    EXPECT_EQ(scalar(std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'"), 1) << table;
  EXPECT_EQ(text("PRAGMA journal_mode"), "wal");
  // The fields table names the matcher's fields by their numbers.
  for (std::size_t i = 0; i < mpi::kFieldCount; ++i)
    EXPECT_EQ(text("SELECT name FROM fields WHERE field = " + std::to_string(i)),
              std::string(mpi::field_name(static_cast<Field>(i))));
  // Opening again changes nothing.
  { auto store = open(); }
  EXPECT_EQ(count("schema_version"), 2);
}

TEST_F(SqliteStoreTest, UpgradesAVersion1IndexAndKeepsItsData) {
  ASSERT_EQ(exec(vaxetl::test::read_file(std::string(kDataDir) + "/mpi-schema.sql")), "");
  ASSERT_EQ(exec("INSERT INTO runs VALUES (1, 'R-old', 'sha-old', '2025-01-01T00:00:00Z');"
                 "INSERT INTO masters VALUES (7, 'active', 1, '2025-01-01T00:00:00Z', NULL);"
                 "INSERT INTO master_values (mpi_id, field, value, first_run) VALUES (7, 0, 'ANN', 1);"
                 "INSERT INTO decisions (run_no, record_no, decision, mpi_id, score, candidates, "
                 "model_version, decided_at) VALUES (1, 3, 'new', 7, 0, 0, 0, '2025-01-01T00:00:00Z');"),
            "");
  ASSERT_EQ(scalar("SELECT max(version) FROM schema_version"), 1);

  auto store = open();
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), 2);
  const auto prior = store->decisions_of_input("sha-old");
  ASSERT_EQ(prior.size(), 1u);
  EXPECT_EQ(prior[0].record_no, 3);
  EXPECT_EQ(prior[0].mpi_id_now, 7u);
  EXPECT_EQ(store->own_values(7), (std::vector<std::pair<Field, std::string>>{{Field::FirstName, "ANN"}}));
  EXPECT_EQ(scalar("SELECT count(*) FROM decisions WHERE replay_of IS NULL"), 1);
}

TEST_F(SqliteStoreTest, AFailedUpgradeLeavesTheIndexAsItWas) {
  ASSERT_EQ(exec(vaxetl::test::read_file(std::string(kDataDir) + "/mpi-schema.sql")), "");
  // A data directory that lacks the version-2 step.
  const std::string partial = dir_ / "partial-data";
  fs::create_directories(partial);
  fs::copy_file(std::string(kDataDir) + "/mpi-schema.sql", partial + "/mpi-schema.sql");
  auto o = options();
  o.data_dir = partial;
  try {
    mpi::MpiStore store(o);
    FAIL() << "opened without the upgrade step";
  } catch (const mpi::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("mpi-schema-0002.sql"), std::string::npos) << e.what();
  }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM pragma_table_info('decisions') WHERE name = 'replay_of'"), 0);
}

TEST_F(SqliteStoreTest, RefusesAnIndexNewerThanThisBuild) {
  { auto store = open(); }
  ASSERT_EQ(exec("INSERT INTO schema_version (version) VALUES (99)"), "");
  try {
    open();
    FAIL() << "opened a newer index";
  } catch (const mpi::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this build"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteStoreTest, AnAbsentIndexIsCreatedOnlyWhenAllowed) {
  auto o = options();
  o.create = false;
  EXPECT_THROW(mpi::MpiStore{o}, mpi::IndexMissing);
  EXPECT_THROW(open(/*dry_run=*/true), mpi::IndexMissing);
  EXPECT_FALSE(fs::exists(path_));
  { auto store = open(); }
  EXPECT_TRUE(fs::exists(path_));
}

// ---- append-only logs -------------------------------------------------------------------------

TEST_P(MpiStoreTest, DecisionsAndOperatorActionsRefuseUpdateAndDelete) {
  auto store = open();
  add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}, {2, {{Field::FirstName, "ANNE"}}}});
  store->begin({"R-1", "sha-1"});
  store->append_decision(Context{}.view(), result(2, Decision::Possible, 8.5, 1));
  store->commit();
  store->dismiss(1, {"alice", "different people"});
  ASSERT_EQ(count("decisions"), 1);
  ASSERT_EQ(count("operator_actions"), 1);

  for (const std::string sql : {"UPDATE decisions SET mpi_id = 1", "DELETE FROM decisions",
                                "UPDATE decisions SET comparison = NULL WHERE seq = 1"}) {
    const std::string error = exec(sql);
    EXPECT_NE(error.find("decisions are append-only"), std::string::npos) << sql << ": " << error;
  }
  for (const std::string sql : {"UPDATE operator_actions SET performed_by = 'mallory'",
                                "DELETE FROM operator_actions"}) {
    const std::string error = exec(sql);
    EXPECT_NE(error.find("operator_actions are append-only"), std::string::npos) << sql << ": " << error;
  }
  EXPECT_EQ(count("decisions"), 1);
  EXPECT_EQ(text("SELECT performed_by FROM operator_actions"), "alice");
  EXPECT_EQ(scalar("SELECT mpi_id FROM decisions"), 2);
}

// ---- persist and load ----------------------------------------------------------------------------

TEST_P(MpiStoreTest, PersistThenLoadGivesTheSameMatcherState) {
  const auto persons = people();
  mpi::Matcher live = fresh_matcher();
  {
    auto store = open();
    store->begin({"R-1", "sha-1"});
    for (std::size_t i = 0; i < persons.size(); ++i) {
      const auto& r = live.match(persons[i].input());
      Context c;
      c.record_no = static_cast<std::int64_t>(i + 1);
      store->append_decision(c.view(), r);
    }
    store->persist(live.changes(), "2026-01-02T03:04:05Z");
    live.clear_changes();
    store->commit();
  }
  ASSERT_GT(live.master_count(), 0u);
  EXPECT_EQ(count("masters"), static_cast<std::int64_t>(live.master_count()));
  EXPECT_EQ(count("decisions"), static_cast<std::int64_t>(persons.size()));

  mpi::Matcher restored = fresh_matcher();
  auto store = open();
  const auto summary = store->load(restored);
  EXPECT_EQ(summary.masters, live.master_count());
  EXPECT_EQ(restored.master_count(), live.master_count());
  EXPECT_EQ(restored.next_id(), live.next_id());
  EXPECT_EQ(summary.next_id, live.next_id());
  EXPECT_EQ(snapshot(restored, live.next_id()), snapshot(live, live.next_id()));

  // Both now decide a new record identically.
  Person again = persons[0];
  again.source = "DELTA";
  again.recip = "D9";
  again.street = "12 OAK STREET APT 2";
  const mpi::MatchResult from_live = live.match(again.input());
  const mpi::MatchResult from_restored = restored.match(again.input());
  EXPECT_EQ(from_restored.mpi_id, from_live.mpi_id);
  EXPECT_EQ(from_restored.decision, from_live.decision);
  EXPECT_DOUBLE_EQ(from_restored.score, from_live.score);
  EXPECT_EQ(from_restored.best_candidate, from_live.best_candidate);
}

TEST_P(MpiStoreTest, NothingOfALoadRemainsWithoutCommit) {
  auto store = open();
  add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}});
  store->begin({"R-2", "sha-2"});
  store->persist(std::vector<mpi::IndexChange>{{mpi::IndexChange::Kind::NewMaster, 2, Field::FirstName, ""},
                                               {mpi::IndexChange::Kind::AddValue, 2, Field::LastName, "LEE"}},
                 "2026-01-02T03:04:05Z");
  store->append_decision(Context{}.view(), result(2, Decision::New));
  store->rollback();
  EXPECT_EQ(count("masters"), 1);
  EXPECT_EQ(count("master_values"), 1);
  EXPECT_EQ(count("decisions"), 0);
  EXPECT_EQ(count("runs"), 1) << "only the setup's";

  // Destroying the store mid-load (a crash of the stage) rolls back too.
  store->begin({"R-3", "sha-3"});
  store->persist(std::vector<mpi::IndexChange>{{mpi::IndexChange::Kind::NewMaster, 2, Field::FirstName, ""}},
                 "2026-01-02T03:04:05Z");
  store.reset();
  EXPECT_EQ(count("masters"), 1);
}

TEST_P(MpiStoreTest, AValueLearnedTwiceIsStoredOnce) {
  auto store = open();
  add_masters(*store, {{1, {{Field::FirstName, "ANN"}, {Field::FirstName, "ANN"}}}});
  EXPECT_EQ(count("master_values"), 1);
}

// ---- merge and unmerge ----------------------------------------------------------------------------

class MergeTest : public MpiStoreTest {
 protected:
  void SetUp() override {
    MpiStoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    store_ = open();
    add_masters(*store_, {{1, {{Field::FirstName, "ROBERT"}, {Field::BirthDate, "1950-02-03"}}},
                          {2, {{Field::FirstName, "BOB"}, {Field::BirthDate, "1950-02-03"}, {Field::Phone, "9195550000"}}},
                          {3, {{Field::FirstName, "CAROL"}}}});
    store_->begin({"R-1", "sha-1"});
    Context first;
    first.record_no = 1;
    store_->append_decision(first.view(), result(1, Decision::New));
    Context second;
    second.record_no = 2;
    second.recipient_id = "MRN-B";
    store_->append_decision(second.view(), result(2, Decision::Possible, 9.0, 1, 3, 1.5));
    store_->commit();
  }
  std::unique_ptr<mpi::MpiStore> store_;
};
INSTANTIATE_TEST_SUITE_P(Backends, MergeTest, ::testing::Values(Backend::SQLite, Backend::PostgreSQL),
                         backend_name);

TEST_P(MergeTest, MergeKeepsTheSurvivorsIdMakesAnAliasAndClosesTheReview) {
  ASSERT_EQ(store_->reviews(false).size(), 1u);
  const auto r = store_->merge(1, 2, {"alice", "same person, nickname"});
  EXPECT_EQ(r.reviews_resolved, 1);

  const auto retired = store_->master(2);
  ASSERT_TRUE(retired);
  EXPECT_FALSE(retired->active);
  EXPECT_EQ(retired->merged_into, 1u);
  EXPECT_TRUE(store_->master(1)->active);
  EXPECT_EQ(store_->resolve(2), 1u);
  EXPECT_EQ(store_->resolve(1), 1u);
  EXPECT_EQ(store_->resolve(99), 0u);

  const auto aliases = store_->aliases_of(2);
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].retired, 2u);
  EXPECT_EQ(aliases[0].survivor, 1u);
  EXPECT_EQ(aliases[0].created_by, "alice");
  EXPECT_EQ(aliases[0].reason, "same person, nickname");
  EXPECT_TRUE(aliases[0].ended_at.empty());

  EXPECT_TRUE(store_->reviews(false).empty());
  const auto all = store_->reviews(true);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status, "merged");
  EXPECT_EQ(all[0].resolved_by, "alice");

  const auto actions = store_->actions_on(2);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].action, "merge");
  EXPECT_EQ(actions[0].survivor, 1u);
  EXPECT_EQ(actions[0].performed_by, "alice");

  // Values stay with their origin; the survivor answers for both when the index is loaded.
  EXPECT_EQ(store_->own_values(2).size(), 3u);
  mpi::Matcher matcher = fresh_matcher();
  const auto summary = store_->load(matcher);
  EXPECT_EQ(summary.masters, 2u);
  EXPECT_EQ(matcher.master_count(), 2u);
  EXPECT_EQ(matcher.next_id(), 4u);
  const auto state = snapshot(matcher, 3);
  ASSERT_TRUE(state.count(1));
  EXPECT_FALSE(state.count(2));
  std::set<std::string> first_names;
  for (const auto& [field, value] : state.at(1))
    if (field == Field::FirstName) first_names.insert(value);
  EXPECT_TRUE(first_names.count("BOB") && first_names.count("ROBERT"));

  // The master's history: its decisions include the retired master's.
  const auto decisions = store_->decisions_for_master(1);
  ASSERT_EQ(decisions.size(), 2u);
  EXPECT_EQ(decisions[1].mpi_id, 2u);
  EXPECT_EQ(store_->merged_into(1), std::vector<MasterId>{2});
}

TEST_P(MergeTest, MergeRefusesUnknownSameAndRetiredMastersAndWritesNothing) {
  auto refused = [&](MasterId survivor, MasterId retired) -> std::string {
    try {
      store_->merge(survivor, retired, {"alice", ""});
    } catch (const mpi::Refused& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(refused(1, 42).find("MPI0000000042 (retired) is not in the index"), std::string::npos);
  EXPECT_NE(refused(42, 1).find("is not in the index"), std::string::npos);
  EXPECT_NE(refused(1, 1).find("into itself"), std::string::npos);
  store_->merge(1, 2, {"alice", ""});
  // The retired master cannot survive a merge: the message names the master it answers for.
  const std::string retired_survivor = refused(2, 3);
  EXPECT_NE(retired_survivor.find("vaxetl mpi merge MPI0000000001 MPI0000000003"), std::string::npos)
      << retired_survivor;
  const std::string merged_again = refused(3, 2);
  EXPECT_NE(merged_again.find("already merged into MPI0000000001"), std::string::npos) << merged_again;
  EXPECT_EQ(count("operator_actions"), 1);
  EXPECT_EQ(count("aliases"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM masters WHERE status = 'retired'"), 1);
}

TEST_P(MergeTest, UnmergeGivesTheRetiredMasterBackExactlyItsOwnValues) {
  const auto before_1 = store_->own_values(1);
  const auto before_2 = store_->own_values(2);
  store_->merge(1, 2, {"alice", "looked the same"});
  // A later load learns a new value for the survivor.
  store_->begin({"R-9", "sha-9"});
  store_->persist(std::vector<mpi::IndexChange>{{mpi::IndexChange::Kind::AddValue, 1, Field::Email, "r@example.org"}},
                  "2026-02-01T00:00:00Z");
  store_->commit();

  const auto r = store_->unmerge(1, 2, {"bob", "twins, different phone"});
  EXPECT_EQ(r.reviews_resolved, 1);
  EXPECT_TRUE(store_->master(2)->active);
  EXPECT_EQ(store_->master(2)->merged_into, 0u);
  EXPECT_EQ(store_->resolve(2), 2u);
  EXPECT_EQ(store_->own_values(2), before_2);
  auto expected_1 = before_1;
  expected_1.emplace_back(Field::Email, "r@example.org");
  EXPECT_EQ(sorted(store_->own_values(1)), sorted(expected_1));

  const auto aliases = store_->aliases_of(2);
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].ended_by, "bob");
  EXPECT_EQ(aliases[0].end_reason, "twins, different phone");
  EXPECT_FALSE(aliases[0].ended_at.empty());
  // The review the merge closed is dismissed by the unmerge; both actions stay in the log.
  const auto reviews = store_->reviews(true);
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0].status, "dismissed");
  EXPECT_EQ(reviews[0].resolved_by, "bob");
  const auto actions = store_->actions_on(2);
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(actions[0].action, "merge");
  EXPECT_EQ(actions[1].action, "unmerge");
  EXPECT_EQ(actions[1].reason, "twins, different phone");

  // Loaded again, the two masters are apart, each with its own values.
  mpi::Matcher matcher = fresh_matcher();
  store_->load(matcher);
  EXPECT_EQ(matcher.master_count(), 3u);
  const auto state = snapshot(matcher, 3);
  EXPECT_EQ(state.at(2), sorted(before_2));
  EXPECT_EQ(state.at(1), sorted(expected_1));

  // And they can be merged again later.
  EXPECT_NO_THROW(store_->merge(1, 2, {"carol", "confirmed by phone"}));
}

TEST_P(MergeTest, UnmergeRefusesWhatWasNotMergedThatWay) {
  auto refused = [&](MasterId survivor, MasterId retired) -> std::string {
    try {
      store_->unmerge(survivor, retired, {"bob", ""});
    } catch (const mpi::Refused& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(refused(1, 2).find("is not merged into any master"), std::string::npos);
  store_->merge(1, 2, {"alice", ""});
  const std::string wrong = refused(3, 2);
  EXPECT_NE(wrong.find("run: vaxetl mpi unmerge MPI0000000001 MPI0000000002"), std::string::npos) << wrong;
  EXPECT_NE(refused(1, 77).find("not in the index"), std::string::npos);
  EXPECT_EQ(count("operator_actions"), 1);
  EXPECT_FALSE(store_->master(2)->active);
}

TEST_P(MergeTest, ResolveFollowsChainsOfMerges) {
  store_->merge(2, 3, {"alice", ""});
  store_->merge(1, 2, {"alice", ""});
  EXPECT_EQ(store_->resolve(3), 1u);
  EXPECT_EQ(store_->merged_into(1), (std::vector<MasterId>{2, 3}));
  // Unmerging the middle link brings 2 back with 3 still merged into it.
  store_->unmerge(1, 2, {"bob", ""});
  EXPECT_EQ(store_->resolve(3), 2u);
  mpi::Matcher matcher = fresh_matcher();
  store_->load(matcher);
  EXPECT_EQ(matcher.master_count(), 2u);
}

TEST_P(MergeTest, DismissClosesAnOpenReviewOnce) {
  const auto open_reviews = store_->reviews(false);
  ASSERT_EQ(open_reviews.size(), 1u);
  const auto& item = open_reviews[0];
  EXPECT_EQ(item.mpi_id, 2u);
  EXPECT_EQ(item.candidate, 1u);
  EXPECT_DOUBLE_EQ(item.score, 9.0);
  EXPECT_EQ(item.record_no, 2);
  EXPECT_FALSE(item.comparison.empty());

  store_->dismiss(item.review_id, {"alice", "different mothers"});
  EXPECT_TRUE(store_->reviews(false).empty());
  EXPECT_EQ(store_->review(item.review_id)->status, "dismissed");
  try {
    store_->dismiss(item.review_id, {"alice", ""});
    FAIL() << "dismissed twice";
  } catch (const mpi::Refused& e) {
    EXPECT_NE(std::string(e.what()).find("already dismissed (by alice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store_->dismiss(999, {"alice", ""}), mpi::Refused);
  EXPECT_EQ(count("operator_actions"), 1);
  // Dismissing merges nothing.
  EXPECT_TRUE(store_->master(2)->active);
}

// ---- the decision log ------------------------------------------------------------------------

TEST_P(MergeTest, DecisionsAreFoundByRecordByRecipientAndByMaster) {
  const auto by_record = store_->decisions_for_record("R-1", 2);
  ASSERT_EQ(by_record.size(), 1u);
  const auto& d = by_record[0];
  EXPECT_EQ(d.decision, "possible");
  EXPECT_EQ(d.mpi_id, 2u);
  EXPECT_EQ(d.best_candidate, 1u);
  EXPECT_EQ(d.runner_up, 3u);
  EXPECT_DOUBLE_EQ(d.runner_up_score, 1.5);
  EXPECT_EQ(d.source, "ACMEPHARM");
  EXPECT_EQ(d.vax_event_id, "EV1");
  const std::string zip_level(mpi::level_name(Field::Zip, static_cast<std::uint8_t>(mpi::level_count(Field::Zip) - 1)));
  EXPECT_EQ(d.comparison, "first_name=" + std::string(mpi::level_name(Field::FirstName, 1)) +
                              ":+3.50;birth_date=" + std::string(mpi::level_name(Field::BirthDate, 1)) +
                              ":+9.75;zip=" + zip_level + ":-2.25");
  const auto parsed = mpi::parse_comparison(d.comparison);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[2].field, "zip");
  EXPECT_DOUBLE_EQ(parsed[2].weight, -2.25);

  EXPECT_EQ(store_->decisions_for_recipient("ACMEPHARM", "MRN-B").size(), 1u);
  EXPECT_EQ(store_->decisions_for_recipient("ACMEPHARM", "MRN-A").size(), 1u);
  EXPECT_TRUE(store_->decisions_for_recipient("OTHER", "MRN-A").empty());
  EXPECT_EQ(store_->decisions_for_master(2).size(), 1u);
  EXPECT_TRUE(store_->decisions_for_record("R-404", 2).empty());
  EXPECT_TRUE(store_->has_run("R-1"));
  EXPECT_FALSE(store_->has_run("R-404"));
  // A new master's row has no candidate and no comparison.
  const auto first = store_->decisions_for_record("R-1", 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].best_candidate, 0u);
  EXPECT_TRUE(first[0].comparison.empty());
}

TEST_P(MergeTest, ARerunRepeatsTheFirstDecisionsFollowedThroughMerges) {
  auto prior = store_->decisions_of_input("sha-1");
  ASSERT_EQ(prior.size(), 2u);
  EXPECT_EQ(prior[1].decision, Decision::Possible);
  EXPECT_EQ(prior[1].mpi_id_now, 2u);
  store_->merge(1, 2, {"alice", ""});
  prior = store_->decisions_of_input("sha-1");
  EXPECT_EQ(prior[1].mpi_id, 2u);
  EXPECT_EQ(prior[1].mpi_id_now, 1u);

  store_->begin({"R-2", "sha-1"});
  Context rerun;
  rerun.record_no = 2;
  const std::int64_t seq = store_->append_replay(rerun.view(), prior[1].seq, prior[1].mpi_id_now);
  store_->commit();
  const auto row = store_->decision(seq);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->replay_of, prior[1].seq);
  EXPECT_EQ(row->run_id, "R-2");
  EXPECT_EQ(row->mpi_id, 1u);
  EXPECT_EQ(row->decision, "possible");
  EXPECT_EQ(row->comparison, store_->decision(prior[1].seq)->comparison);
  // A rerun adds no review, and the originals are still what a further rerun repeats.
  EXPECT_EQ(count("reviews"), 1);
  EXPECT_EQ(store_->decisions_of_input("sha-1")[1].seq, prior[1].seq);
  EXPECT_TRUE(store_->decisions_of_input("sha-other").empty());
  EXPECT_EQ(store_->counts().replayed, 1);
}

TEST_P(MergeTest, CountsSummarizeTheIndex) {
  store_->merge(1, 2, {"alice", ""});
  const auto c = store_->counts();
  EXPECT_EQ(c.active_masters, 2);
  EXPECT_EQ(c.retired_masters, 1);
  EXPECT_EQ(c.values, 6);
  EXPECT_EQ(c.decisions, 2);
  EXPECT_EQ(c.created, 1);
  EXPECT_EQ(c.possible, 1);
  EXPECT_EQ(c.linked, 0);
  EXPECT_EQ(c.merged_reviews, 1);
  EXPECT_EQ(c.open_reviews, 0);
  EXPECT_EQ(c.active_aliases, 1);
  EXPECT_EQ(c.operator_actions, 1);
  EXPECT_EQ(c.models, 0);
}

// ---- models -------------------------------------------------------------------------------------

TEST_P(MpiStoreTest, ModelsAreStoredAsNewVersions) {
  auto store = open();
  EXPECT_FALSE(store->latest_model());
  mpi::Model model = mpi::Model::defaults();
  mpi::EstimationReport report;
  report.pairs = 1234;
  report.iterations = 17;
  report.match_share = 0.25;
  store->begin({"R-1", "sha-1"});
  EXPECT_EQ(store->save_model(model, report), 1);
  store->commit();
  model.link_threshold += 1.5;
  store->begin({"R-2", "sha-2"});
  EXPECT_EQ(store->save_model(model, report), 2);
  store->commit();
  const auto latest = store->latest_model();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, 2);
  EXPECT_EQ(latest->run_id, "R-2");
  EXPECT_EQ(latest->pairs, 1234u);
  EXPECT_EQ(latest->iterations, 17u);
  EXPECT_EQ(latest->model.to_text(), model.to_text());
  EXPECT_EQ(store->counts().latest_model_version, 2);
}

// ---- dry runs and the write lock -------------------------------------------------------------------

TEST_P(MpiStoreTest, ADryRunReadsTheIndexAndWritesNothing) {
  { auto store = open(); add_masters(*store, {{1, {{Field::FirstName, "ANN"}}}}); }
  const auto size_before = postgres() ? 0 : fs::file_size(path_);
  {
    auto dry = open(/*dry_run=*/true);
    EXPECT_TRUE(dry->dry_run());
    dry->begin({"R", "sha"});  // nothing: already in its read transaction
    mpi::Matcher matcher = fresh_matcher();
    EXPECT_EQ(dry->load(matcher).masters, 1u);
    EXPECT_THROW(dry->persist(std::vector<mpi::IndexChange>{}, "T"), std::logic_error);
    EXPECT_THROW(dry->append_decision(Context{}.view(), result(1, Decision::Linked, 20, 1)), std::logic_error);
    EXPECT_THROW(dry->commit(), std::logic_error);
    EXPECT_THROW(dry->merge(1, 1, {"a", ""}), std::logic_error);
  }
  if (!postgres()) {
    EXPECT_EQ(fs::file_size(path_), size_before);
  }
  EXPECT_EQ(count("decisions"), 0);
  EXPECT_EQ(count("runs"), 1) << "only the setup's";
}

TEST_F(SqliteStoreTest, ADryRunOnAnOldIndexSeesTheUpgradeButLeavesTheIndexOld) {
  ASSERT_EQ(exec(vaxetl::test::read_file(std::string(kDataDir) + "/mpi-schema.sql")), "");
  {
    auto dry = open(/*dry_run=*/true);
    EXPECT_TRUE(dry->decisions_of_input("sha").empty());  // needs the version-2 column
  }
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_version"), 1);
}

TEST_P(MpiStoreTest, ALoadHoldsTheWriteLockUntilItEnds) {
  auto load = open();
  load->begin({"R-1", "sha-1"});
  auto other = open();
  EXPECT_THROW(other->begin({"R-2", "sha-2"}), mpi::StoreBusy);
  EXPECT_THROW(other->merge(1, 2, {"a", ""}), mpi::StoreBusy);
  // Readers are not blocked.
  EXPECT_EQ(other->counts().active_masters, 0);
  load->commit();
  EXPECT_NO_THROW(other->begin({"R-2", "sha-2"}));
  other->rollback();
}

}  // namespace
}  // namespace mpi_test
