// PostgreSQL load benchmark: one generated NCVR file, in the same run,
//   (a) copied by `psql \copy` into a plain table of text columns (no checks, no keys), and
//   (b) validated and loaded by vaxetl (ncvr source -> cvms_sink on PostgreSQL, bench/pg_load/
//       ncvr-pg.yaml) into a CVMS store migrated from scratch;
// prints the rows/s of each and their ratio. Target (issue 6): vaxetl >= 0.8 of psql's rate.
//
//   pg_load_bench --database postgresql://USER@HOST:PORT/DB [--records 200000] [--work-dir DIR]
//                 [--keep]
//
// The URL names a database the bench connects to in order to create (and drop) a scratch
// database of its own, so every run loads into an empty store. It starts no server. psql comes
// from $VAXETL_TEST_PG_BIN/psql when set, else from PATH.
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace {

namespace bench = vaxetl::bench;

namespace fs = std::filesystem;

// The run's wall time; exits when it could not start or did not exit 0.
double require(const bench::ChildRun& run, const std::string& what, const std::string& log) {
  if (run.exit_code == 0) return run.seconds;
  if (!run.started) std::fprintf(stderr, "cannot start %s\n", what.c_str());
  else std::fprintf(stderr, "%s failed (exit %d); see %s\n", what.c_str(), run.exit_code, log.c_str());
  std::exit(1);
}

// Runs one statement on `url`; exits on failure (the message names no data, only the server's
// complaint about the statement).
void execute(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  PGresult* result = PQstatus(connection) == CONNECTION_OK ? PQexec(connection, sql.c_str()) : nullptr;
  const bool ok = result != nullptr && (PQresultStatus(result) == PGRES_COMMAND_OK ||
                                        PQresultStatus(result) == PGRES_TUPLES_OK);
  if (!ok) std::fprintf(stderr, "PostgreSQL: %s: %s", sql.c_str(), PQerrorMessage(connection));
  PQclear(result);
  PQfinish(connection);
  if (!ok) std::exit(1);
}

// The URL of database `name` on the same server as `url` (its last path segment replaced).
std::string with_database(const std::string& url, const std::string& name) {
  const auto scheme = url.find("://");
  const auto slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (slash == std::string::npos) {
    std::fprintf(stderr, "--database must be a postgresql:// URL naming a database\n");
    std::exit(64);
  }
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

long count_rows(const std::string& url, const std::string& sql) {
  PGconn* connection = PQconnectdb(url.c_str());
  PGresult* result = PQexec(connection, sql.c_str());
  const long n = PQresultStatus(result) == PGRES_TUPLES_OK ? std::atol(PQgetvalue(result, 0, 0)) : -1;
  PQclear(result);
  PQfinish(connection);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  long records = 200000;
  std::string url;
  fs::path work = fs::temp_directory_path() / ("vaxetl-pg-bench-" + std::to_string(::getpid()));
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) records = std::stol(argv[++i]);
    else if (arg == "--database" && i + 1 < argc) url = argv[++i];
    else if (arg == "--work-dir" && i + 1 < argc) work = argv[++i];
    else if (arg == "--keep") keep = true;
    else {
      std::fprintf(stderr, "usage: pg_load_bench --database postgresql://... [--records N] "
                           "[--work-dir DIR] [--keep]\n");
      return 64;
    }
  }
  if (url.empty()) {
    std::fprintf(stderr, "pg_load_bench: --database postgresql://USER@HOST:PORT/DB is required "
                         "(the bench starts no server)\n");
    return 64;
  }
  const char* pg_bin = std::getenv("VAXETL_TEST_PG_BIN");
  const std::string psql = pg_bin != nullptr && *pg_bin != '\0' ? std::string(pg_bin) + "/psql" : "psql";
  const std::string bin = VAXETL_BIN_DIR;

  fs::create_directories(work);
  const std::string log = (work / "bench.log").string();
  const std::string scratch_name = "vaxetl_pg_bench_" + std::to_string(::getpid());
  const std::string scratch = with_database(url, scratch_name);

  // The input: a production NCVR file name, race and ethnicity well populated, no injected
  // errors (some change a line's field count, which psql \copy cannot take; vaxetl still
  // validates every field of every record, and the warnings stay in).
  const std::string input = (work / "BENCHCOVID_20261120080000_CVMS_PROD_PHI_DIRECT_V1.txt").string();
  require(bench::run_child({bin + "/ncvr_gen", "--records", std::to_string(records), "--seed", "42", "--org",
               "BENCH", "--error-rate", "0", "--race-unknown-rate", "0.01", "--race-declined-rate",
               "0.01", "--output",
               input, "--truth", (work / "truth.tsv").string()},
              log),
          "ncvr_gen", log);

  execute(url, "DROP DATABASE IF EXISTS " + scratch_name + " WITH (FORCE)");
  execute(url, "CREATE DATABASE " + scratch_name);

  // (a) psql \copy into a plain table of text columns named like the header line.
  std::string header;
  {
    std::ifstream in(input);
    std::getline(in, header);
  }
  std::string create = "CREATE TABLE ncvr_raw (";
  std::size_t columns = 0;
  for (std::size_t from = 0;; ++columns) {
    const std::size_t bar = header.find('|', from);
    create += (columns == 0 ? "" : ", ") + std::string("c") + std::to_string(columns) + " text";
    if (bar == std::string::npos) break;
    from = bar + 1;
  }
  create += ")";
  execute(scratch, create);
  // CSV with a quote character that never occurs: NCVR is '|'-delimited with no quoting, and
  // text format would read backslashes as escapes.
  const std::string copy = "\\copy ncvr_raw FROM '" + input +
                           "' WITH (FORMAT csv, DELIMITER '|', HEADER true, QUOTE E'\\x01')";
  const double psql_seconds =
      require(bench::run_child({psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", scratch, "-c", copy}, log),
              "psql \\copy", log);
  const long copied = count_rows(scratch, "SELECT count(*) FROM ncvr_raw");
  if (copied != records) {
    std::fprintf(stderr, "psql \\copy loaded %ld rows, expected %ld; see %s\n", copied, records, log.c_str());
    return 1;
  }
  execute(scratch, "DROP TABLE ncvr_raw");

  // (b) vaxetl: `vaxetl db migrate` as an operator runs it (not timed), then the load.
  const std::vector<std::string> env = {"VAXETL_BENCH_PG_URL=" + scratch,
                                        "VAXETL_BENCH_LEDGER=" + (work / "ledger.sqlite").string(),
                                        "VAXETL_BENCH_ERRORS=" + (work / "errors").string()};
  require(bench::run_child({bin + "/vaxetl", "db", "migrate", PG_LOAD_PIPELINE}, log, env), "vaxetl db migrate", log);
  const double vaxetl_seconds =
      require(bench::run_child({bin + "/vaxetl", "run", PG_LOAD_PIPELINE, "--input", input, "--no-progress"}, log, env),
              "vaxetl run", log);
  const long loaded = count_rows(scratch, "SELECT count(*) FROM vaccinations");
  const long rejected = count_rows(scratch, "SELECT records_rejected FROM loads");

  const double psql_rate = static_cast<double>(records) / psql_seconds;
  const double vaxetl_rate = static_cast<double>(records) / vaxetl_seconds;
  std::printf("%-44s %10s %12s\n", "what", "seconds", "rows/s");
  std::printf("%-44s %10.2f %12.0f\n", "psql \\copy (text columns, no checks)", psql_seconds, psql_rate);
  std::printf("%-44s %10.2f %12.0f\n", "vaxetl validate + load (cvms_sink, PostgreSQL)", vaxetl_seconds,
              vaxetl_rate);
  std::printf("\n%ld records: %ld vaccinations stored, %ld rejected by validation\n", records, loaded,
              rejected);
  const double ratio = vaxetl_rate / psql_rate;
  std::printf("ratio vaxetl / psql \\copy: %.2f (target >= 0.80: %s)\n", ratio, ratio >= 0.8 ? "met" : "NOT met");

  if (!keep) {
    execute(url, "DROP DATABASE IF EXISTS " + scratch_name + " WITH (FORCE)");
    fs::remove_all(work);
  } else {
    std::printf("kept: %s and database %s\n", work.c_str(), scratch_name.c_str());
  }
  return 0;
}
