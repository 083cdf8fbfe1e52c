// The vaxetl command line (Poco::Util::Application).
//
//   vaxetl run PIPELINE --input FILE [--force] [--dry-run] [--batch-size N]
//   vaxetl validate PIPELINE --input FILE
//   vaxetl rerun RUN_ID [--ledger FILE | --pipeline PIPELINE]
//   vaxetl resume ORG [--ledger FILE | --pipeline PIPELINE]
//   vaxetl providers [--ledger FILE | --pipeline PIPELINE]
//   vaxetl COMMAND ...   runs vaxetl-COMMAND (next to this program) when it exists, e.g.
//                        vaxetl inventory (plugins/cvms_sink)
//   vaxetl check PIPELINE
//   vaxetl plugins [--pipeline PIPELINE]
//   vaxetl runs [--ledger FILE | --pipeline PIPELINE] [--limit N]
//   vaxetl db migrate|status PIPELINE [--environment ENV]
#include <Poco/Util/Application.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "../logging.hpp"
#include "../operations.hpp"
#include "../race_ethnicity_gate.hpp"
#include "../db/pipeline_stores.hpp"
#include "../pipeline.hpp"
#include "../runner.hpp"
#include "../serve/daemon_config.hpp"
#include "../serve/file_daemon.hpp"
#include "../serve/operator_page.hpp"
#include "../serve/serve.hpp"

namespace {

using Poco::Util::Option;
using Poco::Util::OptionCallback;

constexpr const char* kUsage =
    "COMMAND [ARGS] [OPTIONS]\n"
    "Commands:\n"
    "  run PIPELINE --input FILE     validate and load FILE through PIPELINE (routed by its\n"
    "                                North Carolina file name); --dry-run lists what each\n"
    "                                record would change and changes nothing\n"
    "  validate PIPELINE --input FILE  everything but the load: writes the findings\n"
    "                                (..._validation.txt), changes no data\n"
    "  check PIPELINE                validate the pipeline and its plugins without input\n"
    "  plugins                       list installed plugins (name, version, kind, ABI, path)\n"
    "  runs                          show recent runs from the ledger\n"
    "  rerun RUN_ID                  run a ledger run's input again (e.g. after a code-set update)\n"
    "  resume ORG                    unpause a provider and load its held files in order\n"
    "  providers                     each provider's status, onboarding stage, race/ethnicity\n"
    "                                rates and last runs\n"
    "  db migrate PIPELINE           apply pending schema migrations to the ledger and every store\n"
    "                                of the pipeline, for each environment (--environment ENV: one)\n"
    "  db status PIPELINE            show each store's schema version and pending migrations\n"
    "  inventory receive|show        record vaccine shipments, show on-hand doses (vaxetl-inventory)\n"
    "  serve CONFIG                  the daemon (docs/serve.md): poll the channels, claim each\n"
    "                                file through the database, run it in a child process, send\n"
    "                                its error file back; the MLLP listener when configured;\n"
    "                                SIGTERM or Ctrl-C finishes the file in hand and exits 0\n"
    "  serve PIPELINE                MLLP only: listen for HL7 (the pipeline's mllp: section),\n"
    "                                queue and ACK every message, load queued batches\n"
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
    add("ledger", "l", "run ledger: SQLite file or PostgreSQL URL (default $VAXETL_LEDGER, else ${VAXETL_HOME:-var}/ledger.sqlite)",
        "LOCATION", &VaxetlApp::onValue);
    add("limit", "n", "rows to show (runs)", "N", &VaxetlApp::onValue);
    add("no-progress", "", "never print the progress line", nullptr, &VaxetlApp::onValue);
    add("dry-run", "", "run: show what each record would change; change nothing", nullptr, &VaxetlApp::onValue);
    add("window-days", "", "providers: the race/ethnicity window (default 30)", "N", &VaxetlApp::onValue);
    add("environment", "e", "db: only the stores of this environment (PROD, PHI, NOPHI)", "ENV", &VaxetlApp::onValue);
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
      if (command == "rerun") return rerunCommand(rest);
      if (command == "resume") return resumeCommand(rest);
      if (command == "providers") return providersCommand();
      if (command == "serve") return serveCommand(rest);
      if (command == "db") return dbCommand(rest);
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
    vaxetl::RunOptions options;
    if (!parseRunOptions(options, mode)) return vaxetl::kExitUsage;
    vaxetl::FileRunRequest request;
    request.pipeline_path = args[0];
    request.input_path = *value("input");
    request.options = options;
    try {
      return report(vaxetl::run_file(request, vaxetl::process_environment()), options);
    } catch (const std::invalid_argument& e) {
      std::cerr << "vaxetl: " << e.what() << "\n";
      return vaxetl::kExitUsage;
    }
  }

  bool parseRunOptions(vaxetl::RunOptions& options, vaxetl_run_mode mode) {
    options.mode = mode;
    if (value("dry-run")) {
      options.mode = VAXETL_MODE_VALIDATE;
      options.list_changes = true;
    }
    options.force = value("force").has_value();
    if (auto size = value("batch-size")) {
      try {
        const long parsed = std::stol(*size);
        if (parsed < 1 || parsed > 1000000) throw std::out_of_range("batch size");
        options.batch_size = static_cast<uint32_t>(parsed);
      } catch (const std::exception&) {
        std::cerr << "vaxetl: --batch-size must be an integer from 1 to 1000000\n";
        return false;
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
    return true;
  }

  // Prints every run a request made (a recovery loads held files too); no PHI, only counts.
  static int report(const vaxetl::FileRunResult& result, const vaxetl::RunOptions& options) {
    if (options.on_progress) std::fprintf(stderr, "\n");
    const bool validating = options.mode == VAXETL_MODE_VALIDATE;
    bool first = true;
    for (const auto& outcome : result.runs) {
      const auto& r = outcome.record;
      if (!first) std::cout << "\n";
      first = false;
      std::cout << "run:        " << r.run_id << "\n";
      if (!r.rerun_of.empty()) std::cout << "repeats:    " << r.rerun_of << "\n";
      if (!r.environment.empty())
        std::cout << "file:       " << r.format << " " << r.environment << (r.corrections ? " corrections" : "")
                  << " from " << r.org << " (V" << r.file_version << ")\n";
      std::cout << "status:     " << r.status << "\n"
                << "received:   " << r.counts.received << "\n"
                << "loaded:     " << r.counts.loaded << (validating ? " (would load)" : "") << "\n"
                << "rejected:   " << r.counts.rejected << "\n"
                << "held:       " << r.counts.held << "\n"
                << "warnings:   " << r.counts.warnings << "\n";
      const auto& c = r.changes;
      if (c.added + c.updated + c.voided + c.unchanged > 0)
        std::cout << "changes:    " << c.added << " added, " << c.updated << " updated, " << c.voided
                  << " voided, " << c.unchanged << " unchanged" << (validating ? " (would be)" : "") << "\n";
      if (!r.gate.empty()) std::cout << "race/eth:   " << r.gate << "\n";
      if (r.status == "succeeded" || r.status == "validated")
        std::cout << "clean:      " << (r.clean ? "yes" : "no") << "\n";
      if (!r.error_file.empty()) std::cout << "error file: " << r.error_file << "\n";
      if (!outcome.changes_file.empty()) std::cout << "change list: " << outcome.changes_file << "\n";
      if (!r.kept_path.empty()) std::cout << "kept:       " << r.kept_path << "\n";
      if (!outcome.findings_by_code.empty()) {
        std::cout << "findings by code:\n";
        for (const auto& [code, count] : outcome.findings_by_code)
          std::cout << "  " << code << ": " << count << "\n";
      }
      if (r.status != "succeeded" && r.status != "validated") std::cout << "message:    " << r.message << "\n";
    }
    return result.exit_code;
  }

  std::string ledgerPath() const {
    if (auto ledger = value("ledger")) return *ledger;
    if (auto pipeline = value("pipeline"))
      return vaxetl::pipeline_settings(*pipeline, vaxetl::process_environment()).ledger;
    return vaxetl::default_ledger_location();
  }

  int rerunCommand(const ArgVec& args) {
    if (args.size() != 1) {
      std::cerr << "usage: vaxetl rerun RUN_ID [--ledger FILE | --pipeline PIPELINE] [--dry-run]\n";
      return vaxetl::kExitUsage;
    }
    vaxetl::RunOptions options;
    if (!parseRunOptions(options, VAXETL_MODE_LOAD)) return vaxetl::kExitUsage;
    try {
      return report(vaxetl::rerun(ledgerPath(), args[0], options, vaxetl::process_environment()), options);
    } catch (const vaxetl::PipelineError&) {
      throw;  // exit 65, like run
    } catch (const std::runtime_error& e) {
      std::cerr << "vaxetl: " << e.what() << "\n";
      return vaxetl::kExitInputMissing;
    }
  }

  int resumeCommand(const ArgVec& args) {
    if (args.size() != 1) {
      std::cerr << "usage: vaxetl resume ORG [--ledger FILE | --pipeline PIPELINE]\n";
      return vaxetl::kExitUsage;
    }
    vaxetl::RunOptions options;
    if (!parseRunOptions(options, VAXETL_MODE_LOAD)) return vaxetl::kExitUsage;
    const std::string ledger = ledgerPath();
    const auto result = vaxetl::resume_provider(ledger, args[0], "resumed by an operator", options,
                                                vaxetl::process_environment());
    std::cout << "provider " << args[0] << " resumed; held files loaded: " << result.runs.size() << "\n";
    if (result.runs.empty()) return vaxetl::kExitOk;
    std::cout << "\n";
    return report(result, options);
  }

  int providersCommand() {
    int window_days = 30;
    if (auto n = value("window-days")) window_days = std::clamp(std::atoi(n->c_str()), 1, 366);
    const auto reports = vaxetl::provider_reports(ledgerPath(), window_days, 3);
    std::printf("%-20s %-8s %-36s %10s %9s %6s  %s\n", "ORG", "STATUS", "STAGE", "POPULATED", "UNKNOWN",
                "HELD", "LAST RUNS");
    for (const auto& p : reports) {
      const double populated = vaxetl::populated_percent(p.window);
      const double unknown = vaxetl::unknown_percent(p.window);
      std::string runs;
      for (const auto& r : p.last_runs) {
        if (!runs.empty()) runs += ", ";
        runs += r.run_id + " " + r.environment + " " + r.status;
      }
      char populated_text[32], unknown_text[32];
      if (p.window.records == 0) {
        std::snprintf(populated_text, sizeof(populated_text), "-");
        std::snprintf(unknown_text, sizeof(unknown_text), "-");
      } else {
        std::snprintf(populated_text, sizeof(populated_text), "%.2f%%", populated);
        std::snprintf(unknown_text, sizeof(unknown_text), "%.2f%%", unknown);
      }
      std::printf("%-20s %-8s %-36s %10s %9s %6lld  %s\n", p.state.org.c_str(), p.state.status.c_str(),
                  p.stage.c_str(), populated_text, unknown_text, static_cast<long long>(p.held_files),
                  runs.c_str());
      if (p.state.status == "paused")
        std::printf("%-20s paused %s by run %s: %s\n", "", p.state.changed_at.c_str(), p.state.run_id.c_str(),
                    p.state.reason.c_str());
    }
    std::printf("rates: PROD files of the last %d days, each file once\n", window_days);
    return vaxetl::kExitOk;
  }

  int serveCommand(const ArgVec& args) {
    if (args.size() != 1) {
      std::cerr << "usage: vaxetl serve CONFIG | PIPELINE\n";
      return vaxetl::kExitUsage;
    }
    // A daemon configuration (channels, pipelines) or, as before, one pipeline's MLLP listener.
    const bool daemon = vaxetl::daemon::is_daemon_config(args[0]);
    std::optional<vaxetl::daemon::DaemonConfig> config;
    std::optional<vaxetl::BoundPipeline> pipeline;
    std::optional<vaxetl::ServeSettings> settings;
    if (daemon) {
      config = vaxetl::daemon::DaemonConfig::load(args[0], vaxetl::process_environment());
    } else {
      pipeline = bind(args[0]);
      settings = vaxetl::ServeSettings::from(pipeline->spec);
    }
    // SIGINT/SIGTERM are blocked in every thread (threads inherit the mask) and received by one
    // waiter, which asks the daemon to stop after the file (or batch) in hand.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::atomic<bool> stop{false};
    std::thread waiter([&] {
      int received = 0;
      sigwait(&signals, &received);
      if (!stop) spdlog::info("vaxetl serve: signal {} received; finishing the work in hand", received);
      stop = true;
    });
    auto release_waiter = [&] {
      if (!stop) {
        stop = true;
        pthread_kill(waiter.native_handle(), SIGTERM);
      }
      waiter.join();
    };
    int exit_code = vaxetl::kExitOk;
    try {
      // The operator page (the http: section) starts with the daemon and stops after its last file.
      vaxetl::daemon::DaemonHooks hooks;
      hooks.start_operator_page = vaxetl::daemon::start_operator_page;
      exit_code = daemon ? vaxetl::daemon::run_daemon(*config, stop, hooks)
                         : vaxetl::serve(*pipeline, *settings, stop);
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
    const auto pipelines = vaxetl::bind_for_check(args[0], vaxetl::process_environment());
    std::cout << vaxetl::describe(pipelines.front());
    if (pipelines.size() > 1)
      std::cout << "environments: PROD, PHI and NOPHI each bind (routed by North Carolina file names)\n";
    std::cout << "OK: stages, config and columns agree\n";
    return vaxetl::kExitOk;
  }

  int pluginsCommand() {
    std::vector<std::string> paths = vaxetl::default_plugin_search_path();
    if (auto pipeline = value("pipeline"))
      paths = vaxetl::plugin_search_path(vaxetl::pipeline_settings(*pipeline, vaxetl::process_environment()));
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

  // vaxetl db migrate|status PIPELINE [--environment ENV]. Exit 65 when a store refuses its
  // migrations (changed file, gap, newer database, a failing file), 70 when one cannot be reached.
  int dbCommand(const ArgVec& args) {
    if (args.size() != 2 || (args[0] != "migrate" && args[0] != "status")) {
      std::cerr << "usage: vaxetl db migrate|status PIPELINE [--environment PROD|PHI|NOPHI]\n";
      return vaxetl::kExitUsage;
    }
    const bool apply = args[0] == "migrate";
    std::vector<vaxetl::db::StoreMigration> stores;
    try {
      stores = vaxetl::db::pipeline_store_migrations(args[1], value("environment"), apply, vaxetl::process_environment());
    } catch (const std::invalid_argument& e) {
      std::cerr << "vaxetl: " << e.what() << "\n";
      return vaxetl::kExitUsage;
    }
    int exit_code = vaxetl::kExitOk;
    std::printf("%-6s %-22s %-10s %-8s %-8s %s\n", "ENV", "STORE", "COMPONENT", "VERSION", "PENDING", "LOCATION");
    for (const auto& store : stores) {
      const std::string version = store.skipped.empty() && store.error.empty()
                                      ? std::to_string(store.status.applied) + "/" + std::to_string(store.status.latest)
                                      : "-";
      const std::string pending =
          store.skipped.empty() && store.error.empty() ? std::to_string(store.status.pending.size()) : "-";
      std::printf("%-6s %-22s %-10s %-8s %-8s %s\n", store.environment.empty() ? "-" : store.environment.c_str(),
                  store.store.c_str(), store.component.c_str(), version.c_str(), pending.c_str(),
                  store.location.c_str());
      for (const auto& file : store.status.newly_applied) std::printf("         applied %s\n", file.c_str());
      if (!apply)
        for (const auto& file : store.status.pending) std::printf("         pending %s\n", file.c_str());
      if (store.absent) std::printf("         not created yet: db migrate creates it\n");
      if (!store.skipped.empty()) std::printf("         skipped: %s\n", store.skipped.c_str());
      if (!store.error.empty()) {
        std::fprintf(stderr, "vaxetl: %s: %s\n", store.location.c_str(), store.error.c_str());
        exit_code = std::max(exit_code, store.refused ? static_cast<int>(vaxetl::kExitPipelineInvalid)
                                                      : static_cast<int>(vaxetl::kExitRunFailed));
      }
    }
    return exit_code;
  }

  static int kExitOkOrRefused(int refused) { return refused == 0 ? vaxetl::kExitOk : vaxetl::kExitPipelineInvalid; }

  int runsCommand() {
    const std::string ledger_path = ledgerPath();
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

// `vaxetl NAME ARGS` runs `vaxetl-NAME ARGS` from this program's directory when NAME is not a
// built-in command: tools that belong to a plugin (vaxetl-inventory, from the CVMS sink) ship
// with it, and the core stays free of their dependencies. Returns only when there is none.
void run_companion_command(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return;
  const std::string name = argv[1];
  for (const char* builtin : {"run", "validate", "check", "plugins", "runs", "serve", "rerun", "resume", "providers", "db"})
    if (name == builtin) return;
  if (name.find('/') != std::string::npos || name.find('.') != std::string::npos) return;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  const std::string companion = (self.parent_path() / ("vaxetl-" + name)).string();
  if (::access(companion.c_str(), X_OK) != 0) return;
  std::vector<char*> arguments;
  arguments.push_back(const_cast<char*>(companion.c_str()));
  for (int i = 2; i < argc; ++i) arguments.push_back(argv[i]);
  arguments.push_back(nullptr);
  ::execv(companion.c_str(), arguments.data());
  std::cerr << "vaxetl: cannot run " << companion << "\n";
  std::exit(vaxetl::kExitRunFailed);
}

int main(int argc, char** argv) {
  run_companion_command(argc, argv);
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
