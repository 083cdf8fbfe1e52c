// A PostgreSQL database of its own for one test, on the test server tools/test-servers/
// postgres.sh starts, dropped (with any connection still open) when the object goes. Tests that
// use it link PkgConfig::LIBPQ.
//
//   std::string admin;
//   VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_PG_ADMIN_URL", admin);
//   vaxetl::test::PgScratchDatabase database(admin);
//   CvmsStore store({.database = database.url(), ...});
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <string>

namespace vaxetl::test {

class PgScratchDatabase {
 public:
  // admin_url: postgresql://user@host:port/postgres (any database the user may connect to).
  explicit PgScratchDatabase(const std::string& admin_url) : admin_url_(admin_url) {
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "vaxetl_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1000000);
    execute("CREATE DATABASE " + name_);
    const auto slash = admin_url_.rfind('/');
    if (slash == std::string::npos || slash < admin_url_.find("://") + 3)
      throw std::invalid_argument("admin URL has no database part");
    url_ = admin_url_.substr(0, slash + 1) + name_;
  }
  ~PgScratchDatabase() {
    try {
      execute("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
      // a leftover database on a throwaway server is harmless
    }
  }
  PgScratchDatabase(const PgScratchDatabase&) = delete;
  PgScratchDatabase& operator=(const PgScratchDatabase&) = delete;

  const std::string& url() const noexcept { return url_; }        // postgresql://.../<name>
  const std::string& name() const noexcept { return name_; }

 private:
  void execute(const std::string& sql) const {
    PGconn* connection = PQconnectdb(admin_url_.c_str());
    const bool connected = PQstatus(connection) == CONNECTION_OK;
    std::string error = connected ? "" : PQerrorMessage(connection);
    if (connected) {
      PGresult* result = PQexec(connection, sql.c_str());
      if (PQresultStatus(result) != PGRES_COMMAND_OK) error = PQerrorMessage(connection);
      PQclear(result);
    }
    PQfinish(connection);
    if (!error.empty()) throw std::runtime_error("test PostgreSQL: " + error);
  }

  std::string admin_url_, name_, url_;
};

}  // namespace vaxetl::test
