// vaxetl-console: the operator's page on its own (`vaxetl console ...`), and its users file.
//
//   vaxetl console [--ledger L] [--bind ADDR] [--port N] [--users FILE] [--tls-cert C --tls-key K]
//                  [--pipeline P ...] [--error-dir D ...] [--mpi-index I ...] [--vaxetl BIN]
//   vaxetl console passwd FILE NAME      reads the password from stdin (one line)
//
// Exit codes: 0 stopped by SIGTERM/SIGINT, 64 usage, 70 failure.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "../logging.hpp"
#include "../operations.hpp"
#include "../pipeline.hpp"
#include "console.hpp"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitFailed = 70;

constexpr std::string_view kUsage =
    "usage: vaxetl console [--ledger L] [--bind ADDR] [--port N] [--users FILE]\n"
    "                      [--tls-cert CERT.pem --tls-key KEY.pem] [--pipeline P ...]\n"
    "                      [--error-dir DIR ...] [--mpi-index FILE ...] [--vaxetl BIN]\n"
    "       vaxetl console passwd FILE NAME   (the password is read from stdin)\n"
    "Serves /healthz, /metrics and the operator's page (docs/operator-page.md). Defaults: bind\n"
    "127.0.0.1, port 0 (any free port, printed), ledger: the first pipeline's, else\n"
    "$VAXETL_LEDGER, else ${VAXETL_HOME:-var}/ledger.sqlite; error files from the pipelines'\n"
    "error_dir (else ${VAXETL_HOME:-var}/errors). Without --users the page is read-only.\n";

struct UsageError {
  std::string message;
};

int passwd(const std::vector<std::string>& args) {
  if (args.size() != 2) throw UsageError{"passwd takes FILE NAME"};
  std::string password;
  if (!std::getline(std::cin, password) || password.empty()) throw UsageError{"no password on stdin"};
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.size() < 12) throw UsageError{"a password needs at least 12 characters"};
  vaxetl::console::set_user_password(args[0], args[1], password);
  std::cout << "password set for " << args[1] << " in " << args[0] << "\n";
  return 0;
}

int serve(const std::vector<std::string>& args) {
  vaxetl::console::ConsoleSettings settings;
  const std::map<std::string_view, std::string*> single = {
      {"--ledger", &settings.ledger},          {"--bind", &settings.bind_address},
      {"--users", &settings.users_file},       {"--tls-cert", &settings.tls_certificate},
      {"--tls-key", &settings.tls_private_key}, {"--vaxetl", &settings.vaxetl_executable}};
  const std::map<std::string_view, std::vector<std::string>*> repeated = {
      {"--pipeline", &settings.pipelines}, {"--mpi-index", &settings.mpi_indexes}, {"--error-dir", &settings.error_dirs}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::string value;
    bool inline_value = false;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
      inline_value = true;
    }
    const bool known = single.count(name) || repeated.count(name) || name == "--port";
    if (!known) throw UsageError{"unknown argument " + std::string(name)};
    if (!inline_value) {
      if (i + 1 >= args.size()) throw UsageError{std::string(name) + " needs a value"};
      value = args[++i];
    }
    if (name == "--port") {
      try {
        const int port = std::stoi(value);
        if (port < 0 || port > 65535) throw std::out_of_range("port");
        settings.port = static_cast<uint16_t>(port);
      } catch (const std::exception&) {
        throw UsageError{"--port must be 0-65535"};
      }
    } else if (const auto s = single.find(name); s != single.end()) {
      *s->second = value;
    } else {
      repeated.at(name)->push_back(value);
    }
  }
  const auto env = vaxetl::process_environment();
  if (settings.ledger.empty())
    settings.ledger = settings.pipelines.empty() ? vaxetl::default_ledger_location()
                                                 : vaxetl::pipeline_settings(settings.pipelines.front(), env).ledger;
  if (settings.pipelines.empty() && settings.error_dirs.empty())
    settings.error_dirs.push_back(vaxetl::interpolate("${VAXETL_HOME:-var}/errors", env));
  if (settings.vaxetl_executable.empty())
    settings.vaxetl_executable = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "vaxetl").string();

  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  vaxetl::console::ConsoleServer server(settings);
  server.start();
  std::cout << "console: " << (server.tls() ? "https" : "http") << "://"
            << (settings.bind_address.find(':') != std::string::npos ? "[" + settings.bind_address + "]"
                                                                       : settings.bind_address)
            << ":" << server.port() << "/" << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  spdlog::info("console: stopping on signal {}", received);
  server.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      std::cout << kUsage;
      return 0;
    }
    if (!args.empty() && args[0] == "passwd") return passwd({args.begin() + 1, args.end()});
    vaxetl::configure_logging("text", "info");  // the log goes to stderr; stdout prints the URL
    return serve(args);
  } catch (const UsageError& e) {
    std::cerr << "vaxetl console: " << e.message << "\n" << kUsage;
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "vaxetl console: " << e.what() << "\n";
    return kExitFailed;
  }
}
