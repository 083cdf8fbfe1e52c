#include "console.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/Data/Session.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPCookie.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "../db/database.hpp"
#include "../ledger.hpp"
#include "../operations.hpp"
#include "../pipeline.hpp"
#include "auth.hpp"
#include "metrics.hpp"

namespace vaxetl::console {

namespace fs = std::filesystem;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

namespace {

constexpr const char* kSessionCookie = "vaxetl_session";
constexpr std::streamsize kMaxBody = 64 * 1024;
constexpr std::size_t kMaxChildOutput = 1 << 20;

std::string html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

bool valid_run_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
}
bool valid_org(std::string_view org) {
  if (org.empty() || org.size() > 64) return false;
  return std::all_of(org.begin(), org.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// Compares without an early exit, so timing tells nothing about a token.
bool same_token(const std::string& given, const std::string& expected) {
  return !expected.empty() && given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string today_utc() { return utc_timestamp_iso().substr(0, 10); }

struct ChildResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `program args...` (no shell) and collects what it prints.
ChildResult run_child(const std::string& program, const std::vector<std::string>& args) {
  Poco::Pipe out;
  ChildResult result;
  Poco::ProcessHandle handle = Poco::Process::launch(program, args, nullptr, &out, &out);
  Poco::PipeInputStream stream(out);
  char buffer[4096];
  while (stream.read(buffer, sizeof buffer) || stream.gcount() > 0) {
    if (result.output.size() < kMaxChildOutput) result.output.append(buffer, static_cast<std::size_t>(stream.gcount()));
  }
  result.exit_code = handle.wait();
  return result;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct MpiReviews {
  std::string index;
  bool available = false;
  std::string problem;      // why not available (exit code and the tool's message; no PHI)
  int64_t open = 0;
  struct Item {
    std::string review_id, score, record;
  };
  std::vector<Item> shown;
};

MpiReviews read_reviews(const std::string& vaxetl, const std::string& index) {
  MpiReviews reviews;
  reviews.index = index;
  ChildResult child;
  try {
    child = run_child(vaxetl, {"mpi", "review", "--index", index, "--limit", "50"});
  } catch (const std::exception& e) {
    reviews.problem = std::string("cannot run vaxetl mpi review: ") + e.what();
    return reviews;
  }
  const auto lines = lines_of(child.output);
  if (child.exit_code != 0) {
    reviews.problem = "vaxetl mpi review exited with " + std::to_string(child.exit_code);
    for (const auto& line : lines)
      if (line.rfind("vaxetl", 0) == 0) reviews.problem += ": " + line;
    return reviews;
  }
  reviews.available = true;
  static const std::regex kRow(R"(^\s*(\d+)\s+\S+\s+\S+\s+([0-9.+-]+)\s+(\S+)\s+\S+\s+\S+\s*$)");
  static const std::regex kCount(R"(^(\d+) open possible match)");
  for (const auto& line : lines) {
    std::smatch m;
    if (std::regex_match(line, m, kRow)) reviews.shown.push_back({m[1], m[2], m[3]});
    else if (std::regex_search(line, m, kCount)) reviews.open = std::stoll(m[1]);
  }
  return reviews;
}

const char* kStyle =
    "body{font-family:sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left}"
    "td.n{text-align:right}th{background:#eee}"
    ".paused,.problem,.status-failed,.status-rejected,.status-held,.status-interrupted{color:#a00;font-weight:bold}"
    ".status-succeeded{color:#060}form.inline{display:inline;margin:0}nav{float:right}.note{color:#666}"
    ".result{border:1px solid #888;padding:.6em;background:#f6f6f6}";

}  // namespace

struct ConsoleServer::Impl {
  ConsoleSettings settings;
  QueueSnapshot queues;
  Authenticator auth;
  std::vector<fs::path> error_roots;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  uint16_t bound_port = 0;
  std::mutex action_mutex;  // one action at a time

  Impl(ConsoleSettings s, QueueSnapshot q) : settings(std::move(s)), queues(std::move(q)), auth(settings.users_file) {
    if (settings.ledger.empty()) throw std::runtime_error("the console needs the run ledger's location");
    std::vector<std::string> dirs = settings.error_dirs;
    for (const auto& pipeline : settings.pipelines)
      dirs.push_back(pipeline_settings(pipeline, process_environment()).error_dir);
    for (const auto& dir : dirs) {
      if (dir.empty()) continue;
      std::error_code ec;
      const fs::path root = fs::weakly_canonical(fs::absolute(dir), ec);
      if (!ec) error_roots.push_back(root);
    }
  }

  bool tls() const { return !settings.tls_certificate.empty(); }

  // ---- data -----------------------------------------------------------------------------------

  bool ledger_answers() const {
    try {
      const auto location = db::Location::parse(settings.ledger);
      if (!location.is_postgres() && !fs::is_regular_file(location.target)) return false;
      auto session = db::open_session(location, 2000);
      int64_t runs = 0;
      *session << "SELECT COUNT(*) FROM runs", Poco::Data::Keywords::into(runs), Poco::Data::Keywords::now;
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  // The error file of `run_id` when it lies inside a configured error directory.
  std::optional<fs::path> error_file_of(const std::string& run_id) {
    if (!valid_run_id(run_id)) return std::nullopt;
    Ledger ledger(settings.ledger);
    const auto run = ledger.find(run_id);
    if (!run || run->error_file.empty()) return std::nullopt;
    std::error_code ec;
    const fs::path file = fs::weakly_canonical(fs::absolute(run->error_file), ec);
    if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
    for (const auto& root : error_roots) {
      const auto relative = file.lexically_relative(root);
      if (!relative.empty() && *relative.begin() != ".." && relative.is_relative()) return file;
    }
    return std::nullopt;
  }

  // ---- responses ------------------------------------------------------------------------------

  void security_headers(HTTPServerResponse& response) const {
    response.set("Cache-Control", "no-store");
    response.set("X-Content-Type-Options", "nosniff");
    response.set("X-Frame-Options", "DENY");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    if (tls()) response.set("Strict-Transport-Security", "max-age=31536000");
  }

  void send(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& type,
            const std::string& body) const {
    security_headers(response);
    response.setStatusAndReason(status);
    response.setContentType(type);
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send() << body;
  }

  void send_page(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& title,
                 const std::string& body, const std::optional<Session>& session) const {
    std::string page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html(title) +
                       "</title><style>" + kStyle + "</style></head><body><nav>";
    if (session) {
      page += "signed in as <span id=\"user\">" + html(session->user) +
              "</span> <form class=\"inline\" method=\"post\" action=\"/logout\"><input type=\"hidden\" "
              "name=\"csrf\" value=\"" + html(session->csrf_token) + "\"><button id=\"logout\">Log out</button></form>";
    } else if (auth.enabled()) {
      page += "<a id=\"login-link\" href=\"/login\">Log in</a>";
    } else {
      page += "<span class=\"note\">read-only (no users file)</span>";
    }
    page += "</nav>" + body + "</body></html>";
    send(response, status, "text/html; charset=utf-8", page);
  }

  void redirect(HTTPServerResponse& response, const std::string& to) const {
    security_headers(response);
    response.redirect(to, HTTPResponse::HTTP_SEE_OTHER);
  }

  std::optional<Session> current_session(const HTTPServerRequest& request) {
    Poco::Net::NameValueCollection cookies;
    request.getCookies(cookies);
    return auth.session(cookies.get(kSessionCookie, ""));
  }

  // ---- handlers -------------------------------------------------------------------------------

  void handle(HTTPServerRequest& request, HTTPServerResponse& response) {
    const Poco::URI uri(request.getURI());
    const std::string path = uri.getPath();
    const std::string& method = request.getMethod();
    const bool get = method == "GET" || method == "HEAD";
    const bool post = method == "POST";
    // Forms are small: a POST says its length, and it is bounded.
    if (post && (request.getContentLength() == HTTPServerRequest::UNKNOWN_CONTENT_LENGTH || request.getChunkedTransferEncoding()))
      return send(response, HTTPResponse::HTTP_LENGTH_REQUIRED, "text/plain; charset=utf-8", "length required\n");
    if (request.getContentLength() > kMaxBody)
      return send(response, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "text/plain; charset=utf-8", "too large\n");
    if (path == "/healthz" && get) {
      if (ledger_answers()) return send(response, HTTPResponse::HTTP_OK, "text/plain; charset=utf-8", "ok\n");
      return send(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                  "the run ledger does not answer\n");
    }
    if (path == "/metrics" && get)
      return send(response, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", metrics_text());
    if (path == "/" && get) return overview(request, response);
    if (path == "/login" && get) return login_form(response, "", HTTPResponse::HTTP_OK);
    if (path == "/login" && post) return login(request, response);
    if (path == "/logout" && post) return logout(request, response);
    if (path.rfind("/errors/", 0) == 0 && get) return error_file(request, response, path.substr(8));
    if (path == "/actions/rerun" && post) return action(request, response, "rerun");
    if (path == "/actions/resume" && post) return action(request, response, "resume");
    return send(response, HTTPResponse::HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n");
  }

  void login_form(HTTPServerResponse& response, const std::string& problem, HTTPResponse::HTTPStatus status) {
    std::string body = "<h1>vaxetl operator login</h1>";
    if (!auth.enabled()) {
      body += "<p>Logins are off: the console runs without a users file, so the page is read-only.</p>";
      return send_page(response, HTTPResponse::HTTP_NOT_FOUND, "Login", body, std::nullopt);
    }
    if (!problem.empty()) body += "<p id=\"login-problem\" class=\"problem\">" + html(problem) + "</p>";
    body += "<form method=\"post\" action=\"/login\"><p><label>User <input id=\"user-name\" name=\"user\" "
            "autocomplete=\"username\"></label></p><p><label>Password <input id=\"password\" type=\"password\" "
            "name=\"password\" autocomplete=\"current-password\"></label></p><p><button id=\"login-submit\">"
            "Log in</button></p></form>";
    send_page(response, status, "Login", body, std::nullopt);
  }

  void login(HTTPServerRequest& request, HTTPServerResponse& response) {
    if (!auth.enabled()) return login_form(response, "", HTTPResponse::HTTP_NOT_FOUND);
    Poco::Net::HTMLForm form(request, request.stream());
    const std::string user = form.get("user", "");
    std::string session_id;
    const auto client = request.clientAddress().host().toString();
    switch (auth.login(client, user, form.get("password", ""), session_id)) {
      case Authenticator::LoginResult::TooManyFailures:
        spdlog::warn("console: login refused for a while after repeated failures (from {})", client);
        return login_form(response, "Too many failed logins; wait 15 minutes.", HTTPResponse::HTTP_TOO_MANY_REQUESTS);
      case Authenticator::LoginResult::Refused:
        spdlog::warn("console: failed login from {}", client);
        return login_form(response, "Wrong user name or password.", HTTPResponse::HTTP_UNAUTHORIZED);
      case Authenticator::LoginResult::Ok:
        break;
    }
    spdlog::info("console: {} logged in from {}", user, client);
    Poco::Net::HTTPCookie cookie(kSessionCookie, session_id);
    cookie.setPath("/");
    cookie.setHttpOnly(true);
    cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
    cookie.setSecure(tls());
    response.addCookie(cookie);
    redirect(response, "/");
  }

  void logout(HTTPServerRequest& request, HTTPServerResponse& response) {
    Poco::Net::HTMLForm form(request, request.stream());
    const auto session = current_session(request);
    if (session && same_token(form.get("csrf", ""), session->csrf_token)) {
      Poco::Net::NameValueCollection cookies;
      request.getCookies(cookies);
      auth.logout(cookies.get(kSessionCookie, ""));
    }
    Poco::Net::HTTPCookie cookie(kSessionCookie, "");
    cookie.setPath("/");
    cookie.setMaxAge(0);
    cookie.setHttpOnly(true);
    cookie.setSameSite(Poco::Net::HTTPCookie::SAME_SITE_STRICT);
    cookie.setSecure(tls());
    response.addCookie(cookie);
    redirect(response, "/");
  }

  void error_file(HTTPServerRequest& request, HTTPServerResponse& response, const std::string& run_id) {
    // Error files quote records as received (PHI): only for a logged-in operator.
    if (!current_session(request))
      return send(response, HTTPResponse::HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
                  "log in to read error files\n");
    const auto file = error_file_of(run_id);
    if (!file)
      return send(response, HTTPResponse::HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                  "no error file for that run in the configured error directories\n");
    std::ifstream in(*file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    response.set("Content-Disposition", "attachment; filename=\"" + file->filename().string() + "\"");
    send(response, HTTPResponse::HTTP_OK, "text/plain; charset=utf-8", text.str());
  }

  void action(HTTPServerRequest& request, HTTPServerResponse& response, const std::string& verb) {
    Poco::Net::HTMLForm form(request, request.stream());
    const auto session = current_session(request);
    if (!auth.enabled())
      return send_page(response, HTTPResponse::HTTP_FORBIDDEN, "Forbidden",
                       "<p>Actions are off: the console runs without a users file.</p>", std::nullopt);
    if (!session)
      return send_page(response, HTTPResponse::HTTP_UNAUTHORIZED, "Login required",
                       "<p id=\"action-refused\">Log in to run actions. <a href=\"/login\">Log in</a></p>", std::nullopt);
    if (!same_token(form.get("csrf", ""), session->csrf_token))
      return send_page(response, HTTPResponse::HTTP_FORBIDDEN, "Forbidden",
                       "<p id=\"action-refused\">The form is stale or was not sent from this page; reload and try "
                       "again.</p>",
                       session);
    const std::string target = verb == "rerun" ? form.get("run_id", "") : form.get("org", "");
    if (verb == "rerun" ? !valid_run_id(target) : !valid_org(target))
      return send_page(response, HTTPResponse::HTTP_BAD_REQUEST, "Bad request",
                       "<p id=\"action-refused\">That is not a " + std::string(verb == "rerun" ? "run id" : "provider") +
                           ".</p>",
                       session);
    ChildResult child;
    {
      std::lock_guard lock(action_mutex);
      spdlog::info("console: {} runs vaxetl {} {}", session->user, verb, target);
      try {
        child = run_child(settings.vaxetl_executable, {verb, target, "--ledger", settings.ledger, "--no-progress"});
      } catch (const std::exception& e) {
        child.output = std::string("vaxetl: cannot start: ") + e.what();
      }
      spdlog::info("console: vaxetl {} {} exited with {}", verb, target, child.exit_code);
    }
    // The summary names runs, statuses and counts; the lines kept here carry no record values.
    std::string new_runs, details;
    for (const auto& line : lines_of(child.output)) {
      if (line.rfind("run:", 0) == 0) {
        const auto id = line.substr(line.find_first_not_of(' ', 4));
        new_runs += "<li class=\"new-run\">" + html(id) + "</li>";
      }
      for (const char* key : {"run:", "repeats:", "status:", "received:", "loaded:", "rejected:", "held:", "provider ", "vaxetl:"})
        if (line.rfind(key, 0) == 0) details += html(line) + "\n";
    }
    std::string body = "<h1>vaxetl " + html(verb) + " " + html(target) + "</h1><div class=\"result\"><p>exit code <b id=\"action-exit\">" +
                       std::to_string(child.exit_code) + "</b></p>";
    body += new_runs.empty() ? "<p id=\"action-no-run\">no new run</p>" : "<p>new runs:</p><ul id=\"action-runs\">" + new_runs + "</ul>";
    body += "<pre id=\"action-output\">" + details + "</pre></div><p><a id=\"back\" href=\"/\">Back to the overview</a></p>";
    send_page(response, HTTPResponse::HTTP_OK, "vaxetl " + verb, body, session);
  }

  // ---- the overview page ----------------------------------------------------------------------

  void overview(HTTPServerRequest& request, HTTPServerResponse& response) {
    const auto session = current_session(request);
    const bool can_act = session.has_value();
    const std::string csrf = session ? "<input type=\"hidden\" name=\"csrf\" value=\"" + html(session->csrf_token) + "\">" : "";
    std::string body = "<h1>vaxetl operations: " + html(today_utc()) + " (UTC)</h1>";
    std::vector<RunRecord> today;
    std::vector<ProviderReport> reports;
    try {
      Ledger ledger(settings.ledger);
      const std::string day = today_utc();
      for (auto& run : ledger.recent(settings.runs_shown))
        if (run.started_at.rfind(day, 0) == 0) today.push_back(std::move(run));
      reports = provider_reports(settings.ledger, 30, 1);
    } catch (const std::exception& e) {
      body += "<p class=\"problem\" id=\"ledger-problem\">The run ledger does not answer.</p>";
      spdlog::error("console: reading the ledger failed: {}", e.what());
      return send_page(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "vaxetl operations", body, session);
    }

    // Per provider totals of today's runs.
    struct Totals {
      int64_t runs = 0, received = 0, loaded = 0, rejected = 0, held = 0;
    };
    std::map<std::string, Totals> totals;
    for (const auto& run : today) {
      auto& t = totals[run.org.empty() ? "-" : run.org];
      ++t.runs;
      t.received += run.counts.received;
      t.loaded += run.counts.loaded;
      t.rejected += run.counts.rejected;
      t.held += run.counts.held;
    }
    body += "<h2>Today's runs per provider</h2>";
    if (totals.empty()) body += "<p id=\"no-runs\">No runs today.</p>";
    else {
      body += "<table id=\"providers-today\"><tr><th>provider</th><th>runs</th><th>received</th><th>loaded</th>"
              "<th>rejected</th><th>held</th></tr>";
      for (const auto& [org, t] : totals)
        body += "<tr id=\"org-" + html(org) + "\"><td>" + html(org) + "</td><td class=\"n runs\">" + std::to_string(t.runs) +
                "</td><td class=\"n received\">" + std::to_string(t.received) + "</td><td class=\"n loaded\">" +
                std::to_string(t.loaded) + "</td><td class=\"n rejected\">" + std::to_string(t.rejected) +
                "</td><td class=\"n held\">" + std::to_string(t.held) + "</td></tr>";
      body += "</table>";
      body += "<table id=\"runs-today\"><tr><th>run</th><th>provider</th><th>file</th><th>status</th><th>received</th>"
              "<th>loaded</th><th>rejected</th><th>held</th><th>error file</th><th></th></tr>";
      for (const auto& run : today) {
        const std::string file = run.format.empty() ? run.pipeline : run.format + " " + run.environment;
        body += "<tr id=\"run-" + html(run.run_id) + "\"><td>" + html(run.run_id) + "</td><td>" + html(run.org) +
                "</td><td>" + html(file) + "</td><td class=\"status status-" + html(run.status) + "\">" + html(run.status) +
                "</td><td class=\"n received\">" + std::to_string(run.counts.received) + "</td><td class=\"n loaded\">" +
                std::to_string(run.counts.loaded) + "</td><td class=\"n rejected\">" + std::to_string(run.counts.rejected) +
                "</td><td class=\"n held\">" + std::to_string(run.counts.held) + "</td><td>";
        if (!run.error_file.empty())
          body += "<a class=\"error-file\" href=\"/errors/" + html(run.run_id) + "\">error file</a>";
        body += "</td><td>";
        if (can_act)
          body += "<form class=\"inline\" method=\"post\" action=\"/actions/rerun\">" + csrf +
                  "<input type=\"hidden\" name=\"run_id\" value=\"" + html(run.run_id) +
                  "\"><button class=\"rerun\">Rerun</button></form>";
        body += "</td></tr>";
      }
      body += "</table>";
    }

    body += "<h2>Held and paused providers</h2>";
    std::string held_rows;
    for (const auto& report : reports) {
      if (report.state.status != "paused" && report.held_files == 0) continue;
      const auto rate = [&](int64_t part) {
        if (report.window.records == 0) return std::string("-");
        char text[32];
        std::snprintf(text, sizeof text, "%.2f%%", 100.0 * static_cast<double>(part) / static_cast<double>(report.window.records));
        return std::string(text);
      };
      held_rows += "<tr id=\"held-" + html(report.state.org) + "\"><td>" + html(report.state.org) + "</td><td class=\"" +
                   html(report.state.status) + "\">" + html(report.state.status) + "</td><td class=\"n held-files\">" +
                   std::to_string(report.held_files) + "</td><td class=\"n populated\">" + rate(report.window.populated) +
                   "</td><td class=\"n unknown\">" + rate(report.window.unknown) + "</td><td>" + html(report.state.reason) +
                   "</td><td>";
      if (can_act)
        held_rows += "<form class=\"inline\" method=\"post\" action=\"/actions/resume\">" + csrf +
                     "<input type=\"hidden\" name=\"org\" value=\"" + html(report.state.org) +
                     "\"><button class=\"resume\" id=\"resume-" + html(report.state.org) + "\">Resume</button></form>";
      held_rows += "</td></tr>";
    }
    if (held_rows.empty()) body += "<p id=\"no-held\">No provider is paused or has held files.</p>";
    else
      body += "<table id=\"held-providers\"><tr><th>provider</th><th>status</th><th>held files</th><th>race/eth "
              "populated</th><th>unknown</th><th>why</th><th></th></tr>" + held_rows +
              "</table><p class=\"note\">Rates: the provider's PROD files of the last 30 days.</p>";
    if (!can_act && auth.enabled()) body += "<p class=\"note\">Log in to rerun a run or resume a provider.</p>";

    body += "<h2>Possible patient matches to review</h2>";
    if (settings.mpi_indexes.empty()) body += "<p class=\"note\">No patient index configured.</p>";
    for (std::size_t i = 0; i < settings.mpi_indexes.size(); ++i) {
      const auto reviews = read_reviews(settings.vaxetl_executable, settings.mpi_indexes[i]);
      body += "<h3>" + html(fs::path(reviews.index).filename().string()) + "</h3>";
      if (!reviews.available) {
        body += "<p class=\"problem\">" + html(reviews.problem) + "</p>";
        continue;
      }
      body += "<p><span class=\"open-reviews\" id=\"open-reviews-" + std::to_string(i) + "\">" + std::to_string(reviews.open) +
              "</span> open possible matches (<code>vaxetl mpi review</code>)</p>";
      if (!reviews.shown.empty()) {
        body += "<table class=\"reviews\"><tr><th>review</th><th>score</th><th>record (run:line)</th></tr>";
        for (const auto& item : reviews.shown)
          body += "<tr><td>" + html(item.review_id) + "</td><td class=\"n\">" + html(item.score) + "</td><td>" +
                  html(item.record) + "</td></tr>";
        body += "</table>";
      }
    }

    body += "<h2>Queues</h2>";
    const auto channels = queues ? queues() : std::vector<ChannelQueue>{};
    if (channels.empty()) body += "<p id=\"no-queues\" class=\"note\">No daemon queues (the console runs alone).</p>";
    else {
      body += "<table id=\"queues\"><tr><th>channel</th><th>pending</th><th>in progress</th><th>retrying</th>"
              "<th>parked</th><th>oldest pending (s)</th></tr>";
      for (const auto& c : channels)
        body += "<tr><td>" + html(c.channel) + "</td><td class=\"n\">" + std::to_string(c.pending) + "</td><td class=\"n\">" +
                std::to_string(c.in_progress) + "</td><td class=\"n\">" + std::to_string(c.retrying) +
                "</td><td class=\"n\">" + std::to_string(c.parked) + "</td><td class=\"n\">" +
                std::to_string(static_cast<int64_t>(c.oldest_pending_age_seconds)) + "</td></tr>";
      body += "</table>";
    }
    body += "<p class=\"note\" id=\"ledger\">ledger: " + html(db::Location::parse(settings.ledger).display()) + "</p>";
    send_page(response, HTTPResponse::HTTP_OK, "vaxetl operations", body, session);
  }

  std::string metrics_text() {
    MetricsInput input;
    input.ledger = settings.ledger;
    input.ledger_up = ledger_answers();
    if (queues) input.queues = queues();
    return render_metrics(input);
  }
};

namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(ConsoleServer::Impl& impl) : impl_(impl) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      impl_.handle(request, response);
    } catch (const std::exception& e) {
      spdlog::error("console: {} {} failed: {}", request.getMethod(), Poco::URI(request.getURI()).getPath(), e.what());
      if (!response.sent()) {
        response.setStatusAndReason(HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
        response.setContentType("text/plain");
        response.send() << "internal error\n";
      }
    }
  }

 private:
  ConsoleServer::Impl& impl_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ConsoleServer::Impl& impl) : impl_(impl) {}
  // Poco owns the handler it asks for.
  // Poco's contract: the server owns and deletes the handler it is given.
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return std::make_unique<Handler>(impl_).release();
  }

 private:
  ConsoleServer::Impl& impl_;
};

void initialize_ssl_once() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// SO_REUSEADDR so a restarted page gets its port back at once, but never SO_REUSEPORT (Poco's
// default with reuse on): a second page on a port in use must fail, not share it.
void bind_exclusively(Poco::Net::ServerSocket& socket, const Poco::Net::SocketAddress& address) {
  socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
  socket.listen(64);
}

}  // namespace

ConsoleServer::ConsoleServer(ConsoleSettings settings, QueueSnapshot queues)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(queues))) {
  if (impl_->settings.tls_certificate.empty() != impl_->settings.tls_private_key.empty())
    throw std::runtime_error("TLS needs both a certificate and a private key");
}

ConsoleServer::~ConsoleServer() { stop(); }

void ConsoleServer::start() {
  if (impl_->server) return;
  const auto& s = impl_->settings;
  const Poco::Net::SocketAddress address(s.bind_address, s.port);
  auto params = Poco::makeAuto<Poco::Net::HTTPServerParams>();
  params->setMaxThreads(8);
  params->setMaxQueued(64);
  params->setKeepAlive(true);
  if (impl_->tls()) {
    initialize_ssl_once();
    auto context = Poco::makeAuto<Poco::Net::Context>(
        Poco::Net::Context::TLS_SERVER_USE, s.tls_private_key, s.tls_certificate, "", Poco::Net::Context::VERIFY_NONE);
    context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    Poco::Net::SecureServerSocket socket(context);
    bind_exclusively(socket, address);
    impl_->bound_port = socket.address().port();
    impl_->server = std::make_unique<Poco::Net::HTTPServer>(Poco::makeShared<Factory>(*impl_), socket, params);
  } else {
    Poco::Net::ServerSocket socket;
    bind_exclusively(socket, address);
    impl_->bound_port = socket.address().port();
    impl_->server = std::make_unique<Poco::Net::HTTPServer>(Poco::makeShared<Factory>(*impl_), socket, params);
  }
  impl_->server->start();
  spdlog::info("console: serving {}://{}:{}", impl_->tls() ? "https" : "http", s.bind_address, impl_->bound_port);
}

void ConsoleServer::stop() {
  if (!impl_ || !impl_->server) return;
  impl_->server->stopAll(false);
  impl_->server.reset();
}

uint16_t ConsoleServer::port() const { return impl_->bound_port; }
bool ConsoleServer::tls() const { return impl_->tls(); }

}  // namespace vaxetl::console
