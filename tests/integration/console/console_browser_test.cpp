// The operator's page in headless Chromium, driven over the WebDriver HTTP API (Poco's client
// and Poco::JSON) against Debian's chromedriver (tools/test-servers/chromedriver.sh): the page's
// numbers against the ledger, a login, a resume clicked and its result, and screenshots.
#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

#include "console_test_support.hpp"

namespace vaxetl::console::test {
namespace {

constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

// A WebDriver session in Chromium; ends it on destruction.
class Browser {
 public:
  Browser(const std::string& driver_url, const std::string& binary, const std::string& args) : driver_(driver_url) {
    Poco::JSON::Object::Ptr options = new Poco::JSON::Object;
    Poco::JSON::Array::Ptr flags = new Poco::JSON::Array;
    std::istringstream words(args);
    for (std::string word; words >> word;) flags->add(word);
    options->set("args", flags);
    if (!binary.empty()) options->set("binary", binary);
    Poco::JSON::Object::Ptr always = new Poco::JSON::Object;
    always->set("browserName", "chrome");
    always->set("goog:chromeOptions", options);
    Poco::JSON::Object::Ptr capabilities = new Poco::JSON::Object;
    capabilities->set("alwaysMatch", always);
    Poco::JSON::Object body;
    body.set("capabilities", capabilities);
    const auto value = call("POST", "/session", body);
    session_ = value.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("sessionId");
  }
  ~Browser() {
    try {
      if (!session_.empty()) call("DELETE", "/session/" + session_);
    } catch (const std::exception& e) {
      std::cerr << "ending the WebDriver session failed: " << e.what() << "\n";
    }
  }

  void go(const std::string& url) {
    Poco::JSON::Object body;
    body.set("url", url);
    call("POST", path("/url"), body);
  }
  std::string find(const std::string& css) {
    Poco::JSON::Object body;
    body.set("using", "css selector");
    body.set("value", css);
    const auto value = call("POST", path("/element"), body);
    return value.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>(kElementKey);
  }
  // find(), waiting for the element: a click that submits a form can return before the next
  // page is there (chromedriver does not always wait for that navigation).
  std::string wait_for(const std::string& css) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      try {
        return find(css);
      } catch (const std::runtime_error&) {
        if (std::chrono::steady_clock::now() > deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  std::string text(const std::string& css) {
    return call("GET", path("/element/" + wait_for(css) + "/text")).convert<std::string>();
  }
  void type(const std::string& css, const std::string& text) {
    Poco::JSON::Object body;
    body.set("text", text);
    call("POST", path("/element/" + wait_for(css) + "/value"), body);
  }
  void click(const std::string& css) { call("POST", path("/element/" + wait_for(css) + "/click"), Poco::JSON::Object()); }
  std::string title() { return call("GET", path("/title")).convert<std::string>(); }
  // The visible page as PNG bytes.
  std::string screenshot() {
    std::istringstream encoded(call("GET", path("/screenshot")).convert<std::string>());
    Poco::Base64Decoder decoder(encoded);
    return std::string(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  }

 private:
  std::string path(const std::string& rest) const { return "/session/" + session_ + rest; }

  Poco::Dynamic::Var call(const std::string& method, const std::string& path,
                          const std::optional<Poco::JSON::Object>& body = std::nullopt) {
    const Poco::URI uri(driver_);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    std::string text;
    if (body) {
      std::ostringstream out;
      Poco::JSON::Stringifier::stringify(*body, out);
      text = out.str();
    }
    if (method == "POST") {
      request.setContentType("application/json; charset=utf-8");
      request.setContentLength(static_cast<std::streamsize>(text.size()));
    }
    session.sendRequest(request) << text;
    Poco::Net::HTTPResponse response;
    std::string reply;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), reply);
    if (response.getStatus() != 200)
      throw std::runtime_error("WebDriver " + method + " " + path + ": " + std::to_string(response.getStatus()) + " " + reply);
    return Poco::JSON::Parser().parse(reply).extract<Poco::JSON::Object::Ptr>()->get("value");
  }

  std::string driver_;
  std::string session_;
};

std::string save_screenshot(const std::string& png, const std::string& name) {
  const std::string dir = std::string(VAXETL_BINARY_DIR) + "/console-screenshots";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/" + name;
  write_file(file, png);
  std::cout << "screenshot: " << file << "\n";
  return file;
}

TEST(ConsoleBrowserTest, OperatorSeesTheLedgersNumbersLogsInAndResumesAProvider) {
  std::string driver, binary, args;
  VAXETL_TEST_SERVER_SETTING("VAXETL_TEST_CHROMEDRIVER_URL", driver);
  if (const char* b = std::getenv("VAXETL_TEST_CHROMIUM_BINARY")) binary = b;
  if (const char* a = std::getenv("VAXETL_TEST_CHROMIUM_ARGS")) args = a;
  if (args.empty()) args = "--headless=new --no-sandbox --disable-gpu";

  TempDir dir;
  const FilledLedger filled = fill_ledger(dir);
  ConsoleSettings settings;
  settings.ledger = filled.ledger;
  settings.error_dirs = {filled.error_dir};
  settings.users_file = filled.users_file;
  settings.vaxetl_executable = VAXETL_EXECUTABLE;
  ConsoleServer server(settings, [] { return std::vector<ChannelQueue>{{"sftp-nchc", 4, 1, 0, 1, 95}}; });
  server.start();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());

  // What the page should say, from the ledger itself.
  int64_t received = 0, loaded = 0, rejected = 0, runs = 0;
  for (const auto& run : Ledger(filled.ledger).runs_of("ORGA", 100)) {
    if (run.started_at.substr(0, 10) != utc_timestamp_iso().substr(0, 10)) continue;
    ++runs;
    received += run.counts.received;
    loaded += run.counts.loaded;
    rejected += run.counts.rejected;
  }
  ASSERT_EQ(runs, 2);

  Browser browser(driver, binary, args);
  browser.go(base + "/");
  EXPECT_EQ(browser.title(), "vaxetl operations");
  EXPECT_EQ(browser.text("#org-ORGA .runs"), std::to_string(runs));
  EXPECT_EQ(browser.text("#org-ORGA .received"), std::to_string(received));
  EXPECT_EQ(browser.text("#org-ORGA .loaded"), std::to_string(loaded));
  EXPECT_EQ(browser.text("#org-ORGA .rejected"), std::to_string(rejected));
  EXPECT_EQ(browser.text("#run-" + filled.run_b + " .held"), "300");
  EXPECT_EQ(browser.text("#held-ORGB .populated"), "90.00%");
  EXPECT_EQ(browser.text("#held-ORGB .unknown"), "10.00%");
  EXPECT_THROW(browser.find("#resume-ORGC"), std::runtime_error) << "no actions before login";

  browser.click("#login-link");
  browser.type("#user-name", kUser);
  browser.type("#password", kPassword);
  browser.click("#login-submit");
  EXPECT_EQ(browser.text("#user"), kUser);
  const std::string overview = save_screenshot(browser.screenshot(), "console-overview.png");
  EXPECT_EQ(vaxetl::test::read_file(overview).substr(1, 3), "PNG");

  browser.click("#resume-ORGC");
  EXPECT_EQ(browser.text("#action-exit"), "0");
  EXPECT_NE(browser.text("#action-output").find("provider ORGC resumed; held files loaded: 0"), std::string::npos);
  save_screenshot(browser.screenshot(), "console-resume.png");
  EXPECT_EQ(Ledger(filled.ledger).provider("ORGC").status, "active");

  browser.click("#back");
  EXPECT_NE(browser.wait_for("#held-ORGB"), "");  // the overview is back
  EXPECT_THROW(browser.find("#held-ORGC"), std::runtime_error) << "ORGC is active now and holds nothing";
}

}  // namespace
}  // namespace vaxetl::console::test
