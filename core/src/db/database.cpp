#include "db/database.hpp"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <libpq-fe.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace vaxetl::db {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

void register_connectors() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });
}

// Poco's PostgreSQL connector takes only libpq's key=value form; libpq itself parses a URI
// (and key=value) into options, which are written back as quoted key=value pairs.
std::string keyword_value_form(const std::string& target) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(target.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw std::invalid_argument("not a PostgreSQL connection string: " + message);
  }
  std::string text;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    if (!text.empty()) text += ' ';
    text += option->keyword;
    text += "='";
    for (const char* c = option->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') text += '\\';
      text += *c;
    }
    text += '\'';
  }
  PQconninfoFree(options);
  return text;
}

}  // namespace

Location Location::parse(std::string_view text) {
  Location location;
  if (starts_with(text, "postgresql://") || starts_with(text, "postgres://")) {
    location.backend = Backend::PostgreSQL;
    location.target = std::string(text);
  } else if (starts_with(text, "postgresql:")) {
    location.backend = Backend::PostgreSQL;
    location.target = std::string(text.substr(11));
  } else if (starts_with(text, "sqlite:")) {
    location.target = std::string(text.substr(7));
  } else {
    location.target = std::string(text);
  }
  if (location.target.empty())
    throw std::invalid_argument(
        "a store location must be a SQLite file path or a PostgreSQL URL (postgresql://host/db)");
  return location;
}

std::string Location::display() const {
  if (backend == Backend::SQLite) return target;
  std::string shown = target;
  if (starts_with(shown, "postgres")) {
    // URI: scheme://user:password@host -> scheme://user:***@host
    const auto scheme_end = shown.find("://");
    const auto at = shown.find('@', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    if (scheme_end != std::string::npos && at != std::string::npos) {
      const auto colon = shown.find(':', scheme_end + 3);
      if (colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
    }
    const auto query = shown.find("password=");
    if (query != std::string::npos) {
      const auto end = shown.find('&', query);
      shown.replace(query + 9, (end == std::string::npos ? shown.size() : end) - query - 9, "***");
    }
    return shown;
  }
  // key=value form
  const auto key = shown.find("password=");
  if (key != std::string::npos) {
    const auto end = shown.find(' ', key);
    shown.replace(key + 9, (end == std::string::npos ? shown.size() : end) - key - 9, "***");
  }
  return "postgresql:" + shown;
}

namespace {

// Poco's PostgreSQL connector never frees the libpq connection of a failed connect, so a daemon
// polling an unreachable server would leak one per attempt. Asking the server first (PQping
// opens and frees its own connection) keeps that path out of Poco. Throws std::invalid_argument
// with libpq's reason, which names the host, never the password.
void refuse_unreachable_server(const std::string& connection_string) {
  const char* keys[] = {"dbname", nullptr};
  const char* values[] = {connection_string.c_str(), nullptr};
  switch (PQpingParams(keys, values, /*expand_dbname=*/1)) {
    case PQPING_OK:
      return;
    case PQPING_REJECT:
      throw std::invalid_argument("the server is up but refuses connections (starting up or shutting down)");
    case PQPING_NO_RESPONSE:
      throw std::invalid_argument("no PostgreSQL server answers there (connection refused or timed out)");
    case PQPING_NO_ATTEMPT:
      throw std::invalid_argument("the connection settings are invalid");
  }
}

}  // namespace

std::unique_ptr<Poco::Data::Session> open_session(const Location& location, int busy_timeout_ms) {
  register_connectors();
  try {
    if (location.backend == Backend::SQLite) {
      const auto parent = std::filesystem::path(location.target).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      auto session = std::make_unique<Poco::Data::Session>(Poco::Data::SQLite::Connector::KEY, location.target);
      *session << "PRAGMA busy_timeout = " + std::to_string(busy_timeout_ms), Poco::Data::Keywords::now;
      *session << "PRAGMA journal_mode = WAL", Poco::Data::Keywords::now;
      return session;
    }
    const std::string connection_string = keyword_value_form(location.target);
    refuse_unreachable_server(connection_string);
    auto session = std::make_unique<Poco::Data::Session>(Poco::Data::PostgreSQL::Connector::KEY, connection_string);
    // Lock waits are bounded like SQLite's busy timeout.
    *session << "SET lock_timeout = " + std::to_string(busy_timeout_ms), Poco::Data::Keywords::now;
    return session;
  } catch (const Poco::Exception& e) {
    // libpq's and SQLite's messages name hosts, files and causes, never the password.
    throw std::runtime_error("cannot open the store " + location.display() + ": " + e.displayText());
  } catch (const std::filesystem::filesystem_error& e) {
    throw std::runtime_error("cannot open the store " + location.display() + ": " + e.code().message());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("cannot open the store " + location.display() + ": " + e.what());
  }
}

void* postgres_connection(Poco::Data::Session& session) {
  auto* impl = dynamic_cast<Poco::Data::PostgreSQL::SessionImpl*>(session.impl());
  if (impl == nullptr) return nullptr;
  PGconn* connection = impl->handle();
  return connection;
}

std::string bind_markers(Backend backend, std::string_view sql) {
  if (backend == Backend::SQLite) return std::string(sql);
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  char quote = 0;
  for (const char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(next++);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace vaxetl::db
