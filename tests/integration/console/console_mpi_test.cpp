// The page's possible patient matches: a real patient index with one open review, read through
// `vaxetl mpi review` as the console runs it. Ids and scores appear; names and values never do.
#include "console_test_support.hpp"
#include "mpi_test_support.hpp"

namespace mpi_test {
namespace {

using mpi::Decision;
using mpi::Field;
using vaxetl::console::test::Client;

class ConsoleMpiTest : public IndexTest {};

TEST_F(ConsoleMpiTest, ShowsOpenReviewIdsAndScoresWithoutValues) {
  auto store = open();
  add_masters(*store, {{1, {{Field::FirstName, "PHIFIRSTONE"}, {Field::LastName, "PHILASTONE"},
                            {Field::BirthDate, "1950-02-03"}}},
                       {2, {{Field::FirstName, "PHIFIRSTTWO"}, {Field::LastName, "PHILASTONE"}}}},
              "R20260102T030405Z-aaaaaaaa");
  store->begin({"R20260102T030405Z-bbbbbbbb", "sha-t"});
  Context possible;
  possible.record_no = 18;
  possible.recipient_id = "MRN-PHIRECIP";
  possible.event_id = "EV-18";
  store->append_decision(possible.view(), result(2, Decision::Possible, 9.0, 1));
  store->commit();
  store.reset();

  const auto filled = vaxetl::console::test::fill_ledger(dir_);
  vaxetl::console::ConsoleSettings settings;
  settings.ledger = filled.ledger;
  settings.mpi_indexes = {location_, dir_ / "missing-index.sqlite"};
  settings.vaxetl_executable = VAXETL_EXECUTABLE;
  vaxetl::console::ConsoleServer server(settings);
  server.start();
  Client client;
  client.port = server.port();
  const auto page = client.send("GET", "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("id=\"open-reviews-0\">1</span> open possible matches"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("<tr><td>1</td><td class=\"n\">9.00</td><td>R20260102T030405Z-bbbbbbbb:18</td></tr>"),
            std::string::npos)
      << page.body;
  // The second index does not exist: the page says the tool refused, and goes on.
  EXPECT_NE(page.body.find("vaxetl mpi review exited with 65"), std::string::npos) << page.body;
  for (const char* marker : {"PHIFIRST", "PHILAST", "PHIRECIP", "1950-02-03"})
    EXPECT_EQ(page.body.find(marker), std::string::npos) << marker;
}

}  // namespace
}  // namespace mpi_test
