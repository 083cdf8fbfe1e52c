// Shared by the console tests: a ledger filled with today's runs and providers, a users file,
// and a small HTTP(S) client on Poco.
#pragma once

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>

#include <memory>
#include <regex>
#include <string>

#include "console.hpp"
#include "ledger.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::console::test {

using vaxetl::test::TempDir;
using vaxetl::test::write_file;

constexpr const char* kUser = "alice";
constexpr const char* kPassword = "correct horse battery staple";

// Today at a fixed time, so a run lasts exactly what the test says.
inline std::string today_at(const std::string& hhmmss) { return utc_timestamp_iso().substr(0, 10) + "T" + hhmmss + ".000Z"; }

struct FilledLedger {
  std::string ledger;
  std::string error_dir;
  std::string users_file;
  std::string run_a, run_b, run_outside, run_quoted;
};

// ORGA: one PROD run, 500 received / 476 loaded / 24 rejected, 12 s, error file in error_dir.
// ORGB: one held PROD run (300 held, race/ethnicity 270 populated, 30 unknown), paused.
// ORGC: paused by an operator, nothing held. A run whose error file lies outside error_dir,
// and an org whose name needs escaping in a label.
// `location`: the ledger's location (default: a SQLite file in `dir`).
inline FilledLedger fill_ledger(const TempDir& dir, const std::string& location = "") {
  FilledLedger f;
  f.ledger = location.empty() ? dir / "var/ledger.sqlite" : location;
  f.error_dir = dir / "var/errors";
  f.users_file = dir / "users";
  std::filesystem::create_directories(f.error_dir);
  write_file(f.users_file, "# operators\n" + hash_user_line(kUser, kPassword, 1000) + "\n");
  Ledger ledger(f.ledger);
  auto record = [&](const std::string& id, const std::string& org, const std::string& status, RunCounts counts,
                    const std::string& start, const std::string& end, const std::string& error_file) {
    RunRecord r;
    r.run_id = id;
    r.pipeline = "ncvr-daily";
    r.input_path = dir / ("inbox/" + org + "COVID_20261121080000_CVMS_PROD_PHI_DIRECT_V1.txt");
    r.input_name = org + "COVID_20261121080000_CVMS_PROD_PHI_DIRECT_V1.txt";
    r.input_sha256 = std::string(64, id.back());
    r.mode = "load";
    r.started_at = start;
    r.status = "running";
    r.environment = "PROD";
    r.org = org;
    r.format = "NCVR";
    ledger.start(r);
    r.ended_at = end;
    r.status = status;
    r.counts = counts;
    r.error_file = error_file;
    if (counts.rejected > 0) r.findings_by_code = {{"NCVR_AGE", counts.rejected - 4}, {"NCVR_NDC_UNIT_OF_USE", 4}};
    if (status == "held") r.race_ethnicity = RaceEthnicityCounts{300, 270, 30};
    else r.race_ethnicity = RaceEthnicityCounts{counts.received, counts.received, 0};
    ledger.finish(r);
    return id;
  };
  const std::string error_a = f.error_dir + "/ORGA_error.txt";
  write_file(error_a, "line|vax_event_id|field_position|field_name|severity|code|message|original_record\n");
  write_file(dir / "outside/secret.txt", "not an error file\n");
  f.run_a = record("R20261121T080000Z-aaaaaaa1", "ORGA", "succeeded", {500, 476, 24, 0, 7}, today_at("00:00:01"),
                   today_at("00:00:13"), error_a);
  f.run_b = record("R20261121T080000Z-bbbbbbb2", "ORGB", "held", {300, 0, 0, 300, 0}, today_at("00:00:02"),
                   today_at("00:00:04"), "");
  f.run_outside = record("R20261121T080000Z-ccccccc3", "ORGA", "succeeded", {10, 10, 0, 0, 0}, today_at("00:00:05"),
                         today_at("00:00:06"), dir / "outside/secret.txt");
  f.run_quoted = record("R20261121T080000Z-ddddddd4", "Q\"X\\Y", "failed", {5, 0, 0, 5, 0}, today_at("00:00:07"),
                        today_at("00:00:08"), "");
  ProviderState b;
  b.org = "ORGB";
  b.status = "paused";
  b.changed_at = today_at("00:00:04");
  b.reason = "held: below the production threshold";
  b.run_id = f.run_b;
  ledger.set_provider(b);
  ProviderState c;
  c.org = "ORGC";
  c.status = "paused";
  c.changed_at = today_at("00:00:09");
  c.reason = "paused by an operator";
  ledger.set_provider(c);
  return f;
}

struct Reply {
  int status = 0;
  std::string body;
  std::string set_cookie;  // the raw Set-Cookie header
  std::string location;
  std::string content_type;
};

struct Client {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  Poco::Net::Context::Ptr tls;  // set: HTTPS, verified against this context's CA file
  std::string cookie;           // "name=value" sent with every request

  Reply send(const std::string& method, const std::string& path, const std::string& form_body = "") {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (tls) session = std::make_unique<Poco::Net::HTTPSClientSession>(host, port, tls);
    else session = std::make_unique<Poco::Net::HTTPClientSession>(host, port);
    session->setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!cookie.empty()) request.set("Cookie", cookie);
    if (method == "POST") {
      request.setContentType("application/x-www-form-urlencoded");
      request.setContentLength(static_cast<std::streamsize>(form_body.size()));
      session->sendRequest(request) << form_body;
    } else {
      session->sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    Reply reply;
    reply.status = response.getStatus();
    Poco::StreamCopier::copyToString(in, reply.body);
    reply.set_cookie = response.get("Set-Cookie", "");
    reply.location = response.get("Location", "");
    reply.content_type = response.getContentType();
    return reply;
  }

  // Logs in and keeps the session cookie; returns the login reply.
  Reply login(const std::string& user, const std::string& password) {
    Reply reply = send("POST", "/login", "user=" + encode(user) + "&password=" + encode(password));
    std::smatch m;
    if (std::regex_search(reply.set_cookie, m, std::regex("^(vaxetl_session=[0-9a-f]+)"))) cookie = m[1];
    return reply;
  }

  std::string csrf_token() {
    const Reply page = send("GET", "/");
    std::smatch m;
    if (!std::regex_search(page.body, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\""))) return "";
    return m[1];
  }

  static std::string encode(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c)) out += static_cast<char>(c);
      else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        out += hex;
      }
    }
    return out;
  }
};

}  // namespace vaxetl::console::test
