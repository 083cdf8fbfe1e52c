// The vaxetl command line (Poco::Util::Application).
//
//   vaxetl run PIPELINE --input FILE [--force] [--batch-size N]
//   vaxetl validate PIPELINE --input FILE
//   vaxetl check PIPELINE
//   vaxetl plugins [--pipeline PIPELINE]
//   vaxetl runs [--ledger FILE | --pipeline PIPELINE] [--limit N]
#include <Poco/Util/Application.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "../logging.hpp"
#include "../pipeline.hpp"
#include "../runner.hpp"
#include "../serve/serve.hpp"

namespace {

using Poco::Util::Option;
using Poco::Util::OptionCallback;

constexpr const char* kUsage =
    "COMMAND [ARGS] [OPTIONS]\n"
    "Commands:\n"
    "  run PIPELINE --input FILE     validate and load FILE through PIPELINE\n"
    "  validate PIPELINE --input FILE  everything but the load: writes the error file,\n"
    "                                changes no data\n"
    "  check PIPELINE                validate the pipeline and its plugins without input\n"
    "  plugins                       list installed plugins (name, version, kind, ABI, path)\n"
    "  runs                          show recent runs from the ledger\n"
    "  serve PIPELINE                listen for HL7 over MLLP (the pipeline's mllp: section),\n"
    "                                queue and ACK every message, load queued batches; stops\n"
    "                                cleanly on SIGTERM or Ctrl-C\n"
    "Exit codes: 0 done (see counts), 64 usage, 65 pipeline invalid, 66 input refused whole,\n"
    "            70 run failed (nothing loaded; rerun), 74 input missing";

class VaxetlApp : public Poco::Util::Application {
 public:
  VaxetlApp() { setUnixOptions(true); }

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    Poco::Util::Application::defineOptions(options);
    auto add = [&](const char* name, const char* shortName, const char* help, const char* arg,
                   void (VaxetlApp::*handler)(const std::string&, const std::string&)) {
      Option option(name, shortName, help);
      option.required(false).repeatable(false);
      if (arg) option.argument(arg);
      option.callback(OptionCallback<VaxetlApp>(this, handler));
      options.addOption(option);
    };
    add("help", "h", "show this help", nullptr, &VaxetlApp::onHelp);
    add("input", "i", "the input file", "FILE", &VaxetlApp::onValue);
    add("force", "f", "process a file even if it was loaded before", nullptr, &VaxetlApp::onValue);
    add("batch-size", "b", "records per batch (overrides the pipeline)", "N", &VaxetlApp::onValue);
    add("log-format", "", "text (default) or json", "FORMAT", &VaxetlApp::onValue);
    add("log-level", "", "debug, info (default), warn, error", "LEVEL", &VaxetlApp::onValue);
    add("pipeline", "p", "pipeline whose plugin paths or ledger to use", "FILE", &VaxetlApp::onValue);
    add("ledger", "l", "run ledger file (default ${VAXETL_HOME:-var}/ledger.sqlite)", "FILE", &VaxetlApp::onValue);
    add("limit", "n", "rows to show (runs)", "N", &VaxetlApp::onValue);
    add("no-progress", "", "never print the progress line", nullptr, &VaxetlApp::onValue);
  }

  void onHelp(const std::string&, const std::string&) {
    help_ = true;
    stopOptionsProcessing();
  }
  void onValue(const std::string& name, const std::string& value) { values_[name] = value; }

  int main(const ArgVec& args) override {
    if (help_ || args.empty()) {
      Poco::Util::HelpFormatter formatter(options());
      formatter.setCommand("vaxetl");
      formatter.setUsage(kUsage);
      formatter.format(std::cout);
      return help_ ? vaxetl::kExitOk : vaxetl::kExitUsage;
    }
    try {
      vaxetl::configure_logging(value("log-format").value_or("text"), value("log-level").value_or("info"));
    } catch (const std::invalid_argument& e) {
      std::cerr << "vaxetl: " << e.what() << "\n";
      return vaxetl::kExitUsage;
    }
    const std::string& command = args[0];
    const ArgVec rest(args.begin() + 1, args.end());
    try {
      if (command == "run") return runCommand(rest, VAXETL_MODE_LOAD);
      if (command == "validate") return runCommand(rest, VAXETL_MODE_VALIDATE);
      if (command == "check") return checkCommand(rest);
      if (command == "plugins") return pluginsCommand();
      if (command == "runs") return runsCommand();
      if (command == "serve") return serveCommand(rest);
    } catch (const vaxetl::PipelineError& e) {
      std::cerr << e.what() << "\n";
      return vaxetl::kExitPipelineInvalid;
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return vaxetl::kExitRunFailed;
    }
    std::cerr << "vaxetl: unknown command '" << command << "'; run vaxetl --help\n";
    return vaxetl::kExitUsage;
  }

 private:
  std::optional<std::string> value(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }

  static vaxetl::BoundPipeline bind(const std::string& path) {
    const auto spec = vaxetl::parse_pipeline(path, vaxetl::process_environment());
    vaxetl::PluginRegistry registry(vaxetl::plugin_search_path(spec));
    return vaxetl::bind_pipeline(spec, registry);
  }

  int runCommand(const ArgVec& args, vaxetl_run_mode mode) {
    if (args.size() != 1 || !value("input")) {
      std::cerr << "usage: vaxetl " << (mode == VAXETL_MODE_LOAD ? "run" : "validate")
                << " PIPELINE --input FILE\n";
      return vaxetl::kExitUsage;
    }
    const auto pipeline = bind(args[0]);
    vaxetl::RunOptions options;
    options.mode = mode;
    options.force = value("force").has_value();
    if (auto size = value("batch-size")) {
      try {
        const long parsed = std::stol(*size);
        if (parsed < 1 || parsed > 1000000) throw std::out_of_range("batch size");
        options.batch_size = static_cast<uint32_t>(parsed);
      } catch (const std::exception&) {
        std::cerr << "vaxetl: --batch-size must be an integer from 1 to 1000000\n";
        return vaxetl::kExitUsage;
      }
    }
    const bool show_progress = ::isatty(STDERR_FILENO) != 0 && !value("no-progress");
    if (show_progress) {
      options.on_progress = [](const vaxetl::ProgressInfo& p) {
        const double rate = p.seconds > 0 ? static_cast<double>(p.records) / p.seconds : 0;
        const double percent =
            p.bytes_total > 0 ? 100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 0;
        std::fprintf(stderr, "\r%12lld records  %10.0f records/s  %5.1f%% of bytes",
                     static_cast<long long>(p.records), rate, percent);
        std::fflush(stderr);
      };
    }
    const auto outcome = vaxetl::run_pipeline(pipeline, *value("input"), options);
    if (show_progress) std::fprintf(stderr, "\n");
    const auto& r = outcome.record;
    std::cout << "run:        " << r.run_id << "\n"
              << "status:     " << r.status << "\n"
              << "received:   " << r.counts.received << "\n"
              << "loaded:     " << r.counts.loaded << (mode == VAXETL_MODE_VALIDATE ? " (would load)" : "") << "\n"
              << "rejected:   " << r.counts.rejected << "\n"
              << "held:       " << r.counts.held << "\n"
              << "warnings:   " << r.counts.warnings << "\n";
    if (!r.error_file.empty()) std::cout << "error file: " << r.error_file << "\n";
    if (!outcome.findings_by_code.empty()) {
      std::cout << "findings by code:\n";
      for (const auto& [code, count] : outcome.findings_by_code)
        std::cout << "  " << code << ": " << count << "\n";
    }
    if (r.status != "succeeded" && r.status != "validated") std::cout << "message:    " << r.message << "\n";
    return outcome.exit_code;
  }

  int serveCommand(const ArgVec& args) {
    if (args.size() != 1) {
      std::cerr << "usage: vaxetl serve PIPELINE\n";
      return vaxetl::kExitUsage;
    }
    const auto pipeline = bind(args[0]);
    const auto settings = vaxetl::ServeSettings::from(pipeline.spec);
    // SIGINT/SIGTERM are blocked in every thread (threads inherit the mask) and received by one
    // waiter, which asks serve() to stop after the batch in hand.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::atomic<bool> stop{false};
    std::thread waiter([&] {
      int received = 0;
      sigwait(&signals, &received);
      stop = true;
    });
    auto release_waiter = [&] {
      if (!stop) pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
    };
    int exit_code = vaxetl::kExitOk;
    try {
      exit_code = vaxetl::serve(pipeline, settings, stop);
    } catch (...) {
      release_waiter();
      throw;
    }
    release_waiter();
    return exit_code;
  }

  int checkCommand(const ArgVec& args) {
    if (args.size() != 1) {
      std::cerr << "usage: vaxetl check PIPELINE\n";
      return vaxetl::kExitUsage;
    }
    const auto pipeline = bind(args[0]);
    std::cout << vaxetl::describe(pipeline) << "OK: stages, config and columns agree\n";
    return vaxetl::kExitOk;
  }

  int pluginsCommand() {
    std::vector<std::string> paths = vaxetl::default_plugin_search_path();
    if (auto pipeline = value("pipeline"))
      paths = vaxetl::plugin_search_path(vaxetl::parse_pipeline(*pipeline, vaxetl::process_environment()));
    vaxetl::PluginRegistry registry(paths);
    std::printf("%-14s %-9s %-10s %-5s %s\n", "NAME", "VERSION", "KIND", "ABI", "PATH");
    int refused = 0;
    for (const auto& entry : registry.list()) {
      if (entry.plugin) {
        const auto& p = *entry.plugin;
        std::printf("%-14s %-9s %-10s %u.%-3u %s\n", p.name.c_str(), p.version.str().c_str(),
                    vaxetl::kind_name(p.kind), p.abi_major, p.abi_minor, p.path.c_str());
      } else {
        ++refused;
        std::printf("%-14s %-9s %-10s %-5s %s\n    refused: %s\n", "?", "?", "?", "?",
                    entry.path.c_str(), entry.refusal.c_str());
      }
    }
    std::printf("searched: ");
    for (const auto& p : paths) std::printf("%s ", p.c_str());
    std::printf("\n");
    return kExitOkOrRefused(refused);
  }

  static int kExitOkOrRefused(int refused) { return refused == 0 ? vaxetl::kExitOk : vaxetl::kExitPipelineInvalid; }

  int runsCommand() {
    std::string ledger_path;
    if (auto ledger = value("ledger")) {
      ledger_path = *ledger;
    } else if (auto pipeline = value("pipeline")) {
      ledger_path = vaxetl::parse_pipeline(*pipeline, vaxetl::process_environment()).ledger;
    } else {
      ledger_path = vaxetl::interpolate("${VAXETL_HOME:-var}/ledger.sqlite", vaxetl::process_environment());
    }
    int limit = 20;
    if (auto n = value("limit")) limit = std::max(1, std::atoi(n->c_str()));
    vaxetl::Ledger ledger(ledger_path);
    std::printf("%-28s %-12s %-9s %-24s %9s %9s %9s %6s  %s\n", "RUN", "STATUS", "MODE", "STARTED",
                "RECEIVED", "LOADED", "REJECTED", "HELD", "INPUT");
    for (const auto& r : ledger.recent(limit)) {
      std::printf("%-28s %-12s %-9s %-24s %9lld %9lld %9lld %6lld  %s\n", r.run_id.c_str(),
                  r.status.c_str(), r.mode.c_str(), r.started_at.c_str(),
                  static_cast<long long>(r.counts.received), static_cast<long long>(r.counts.loaded),
                  static_cast<long long>(r.counts.rejected), static_cast<long long>(r.counts.held),
                  r.input_name.c_str());
    }
    return vaxetl::kExitOk;
  }

  bool help_ = false;
  std::map<std::string, std::string> values_;
};

}  // namespace

int main(int argc, char** argv) {
  // Before any SQLite use: every connection in vaxetl (the ledger, a sink's store) is used by
  // one thread at a time, so SQLite's per-call connection mutexes and its allocation counters
  // are pure overhead on the load path.
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  VaxetlApp app;
  try {
    app.init(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "vaxetl: " << e.displayText() << "; run vaxetl --help\n";
    return vaxetl::kExitUsage;
  }
  return app.run();
}
