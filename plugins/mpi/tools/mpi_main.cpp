// vaxetl-mpi: the operator's side of the master patient index (docs/mpi-operations.md). The
// vaxetl CLI runs it for `vaxetl mpi ...`.
//
//   vaxetl-mpi explain RECORD       RECORD: RUN_ID:RECORD_NO, ORG:RECIP_ID, or an MPI id
//   vaxetl-mpi review [--all] [--limit N]
//   vaxetl-mpi merge SURVIVOR RETIRED [--reason TEXT] [--by NAME]
//   vaxetl-mpi unmerge SURVIVOR RETIRED [--reason TEXT] [--by NAME]
//   vaxetl-mpi dismiss REVIEW_ID [--reason TEXT] [--by NAME]
//   vaxetl-mpi stats
//   common options: --index FILE, --data-dir DIR
//
// Exit codes: 0 ok, 64 usage, 65 refused (unknown id or record, merging a retired master, no
// index, ...), 70 internal or store failure. Output names ids, runs, record numbers, fields,
// agreement levels and weights; never a record's value.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cvms_store.hpp"
#include "db/database.hpp"
#include "index_store/mpi_store.hpp"
#include "matcher/matcher.hpp"
#include "vaxetl/sdk/companion_tool.hpp"

namespace {

namespace fs = std::filesystem;
namespace mpi = vaxetl::mpi;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitRefused = 65;
constexpr int kExitFailed = 70;

constexpr std::string_view kUsage =
    "usage: vaxetl-mpi explain RECORD\n"
    "       vaxetl-mpi review [--all] [--limit N]\n"
    "       vaxetl-mpi merge SURVIVOR RETIRED [--reason TEXT] [--by NAME] [--cvms FILE]\n"
    "       vaxetl-mpi unmerge SURVIVOR RETIRED [--reason TEXT] [--by NAME] [--cvms FILE]\n"
    "       vaxetl-mpi dismiss REVIEW_ID [--reason TEXT] [--by NAME]\n"
    "       vaxetl-mpi stats\n"
    "options for all:\n"
    "  --index STORE    the MPI index, a SQLite file or a PostgreSQL URL (default, as the\n"
    "                   pipelines: $VAXETL_MPI_INDEX, else ${VAXETL_HOME:-var}/mpi.sqlite)\n"
    "  --data-dir DIR   the schema files (default: the mpi plugin's data directory)\n"
    "explain shows how a record was matched: RECORD is RUN_ID:RECORD_NO (the run id from\n"
    "`vaxetl runs`, the record's line), ORG:RECIP_ID (every decision for the provider's\n"
    "recipient), or an MPI id (the master's decisions, merges and aliases). Per field it shows\n"
    "the agreement level and weight, never a value.\n"
    "review lists the open possible matches, oldest first (--all: also merged and dismissed\n"
    "ones; --limit N: the first N, default 100, 0 for all).\n"
    "merge makes RETIRED an alias of SURVIVOR, whose id stays; unmerge undoes exactly that\n"
    "merge and gives RETIRED back its own values; dismiss closes a review without merging.\n"
    "Both also move the doses in the CVMS store that keeps one recipient per master (--cvms,\n"
    "default $VAXETL_CVMS_STORE, else ${VAXETL_HOME:-var}/cvms.sqlite; skipped when absent).\n"
    "Running a merge again after a failure finishes the CVMS part.\n"
    "--by defaults to $USER. Every merge, unmerge and dismiss is logged with who, when and why.\n"
    "exit codes: 0 ok, 64 usage, 65 refused, 70 failure\n";

struct UsageError {
  std::string message;
};
struct RefusedError {
  std::string message;
};

struct Options {
  std::string command;
  std::vector<std::string> arguments;
  std::map<std::string, std::string, std::less<>> values;
  bool all = false;

  std::optional<std::string> get(std::string_view name) const {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  }
};

Options parse(int argc, char** argv) {
  if (argc < 2) throw UsageError{"no command"};
  Options options;
  options.command = argv[1];
  struct Shape {
    std::size_t arguments;
    std::vector<std::string_view> options;
  };
  const std::map<std::string, Shape, std::less<>> shapes = {
      {"explain", {1, {}}},
      {"review", {0, {"limit"}}},
      {"merge", {2, {"reason", "by", "cvms"}}},
      {"unmerge", {2, {"reason", "by", "cvms"}}},
      {"dismiss", {1, {"reason", "by"}}},
      {"stats", {0, {}}},
  };
  const auto shape = shapes.find(options.command);
  if (shape == shapes.end()) throw UsageError{"unknown command " + options.command};
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      options.arguments.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(2);
    if (options.command == "review" && arg == "all") {
      options.all = true;
      continue;
    }
    std::string_view name = arg, value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const auto& allowed = shape->second.options;
    if (name != "index" && name != "data-dir" &&
        std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      throw UsageError{std::string("unknown option --").append(name).append(" for ").append(options.command)};
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError{std::string("--").append(name).append(" needs a value")};
      value = argv[++i];
    }
    options.values.insert_or_assign(std::string(name), std::string(value));
  }
  if (options.arguments.size() != shape->second.arguments)
    throw UsageError{options.command + " takes " + std::to_string(shape->second.arguments) +
                     (shape->second.arguments == 1 ? " argument" : " arguments") + ", not " +
                     std::to_string(options.arguments.size())};
  return options;
}

std::string default_index() { return vaxetl::sdk::vaxetl_store_location("VAXETL_MPI_INDEX", "mpi.sqlite"); }

std::optional<fs::path> plugin_data_dir() {
  return vaxetl::sdk::find_plugin_data_dir(VAXETL_MPI_DATA_DIR, VAXETL_INSTALL_PREFIX,
                                           {"mpi-schema.sql"});
}

std::unique_ptr<mpi::MpiStore> open_index(const Options& options) {
  mpi::StoreOptions store;
  store.path = options.get("index").value_or(default_index());
  store.create = false;
  store.cache_kib = 8 * 1024;
  store.busy_timeout_ms = 30'000;  // a merge waits for a load in progress to end
  if (const auto dir = options.get("data-dir")) {
    store.data_dir = *dir;
  } else if (const auto found = plugin_data_dir()) {
    store.data_dir = found->string();
  } else {
    throw mpi::StoreError(std::string("cannot find the mpi plugin's data directory (")
                              .append(VAXETL_MPI_DATA_DIR)
                              .append(" next to bin/); pass --data-dir"));
  }
  try {
    return std::make_unique<mpi::MpiStore>(store);
  } catch (const mpi::IndexMissing&) {
    throw RefusedError{"there is no MPI index at " + store.path +
                       "; a load through the mpi stage creates it (set VAXETL_HOME or pass --index)"};
  }
}

std::string operator_name(const Options& options) {
  if (auto by = options.get("by"); by && !by->empty()) return *by;
  for (const char* variable : {"USER", "LOGNAME"})
    if (const char* value = std::getenv(variable); value != nullptr && *value != '\0') return value;
  return "unknown";
}

mpi::MasterId master_argument(std::string_view text, std::string_view role) {
  const auto id = mpi::parse_mpi_id(text);
  if (!id || *id == 0)
    throw UsageError{std::string(role) + " must be an MPI id like " + mpi::format_mpi_id(1)};
  return *id;
}

std::string score_text(double score) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", score);
  return text;
}

std::string weight_text(double weight) {
  char text[32];
  std::snprintf(text, sizeof(text), "%+.2f", weight);
  return text;
}

void print_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::cout << vaxetl::sdk::format_table(rows, right);
}

// "MPI0000000012", or "MPI0000000012 (now MPI0000000010)" when merged since.
std::string id_now(mpi::MpiStore& store, mpi::MasterId id) {
  if (id == 0) return "-";
  const mpi::MasterId now = store.resolve(id);
  std::string text = mpi::format_mpi_id(id);
  if (now != 0 && now != id) text.append(" (now ").append(mpi::format_mpi_id(now)).append(")");
  return text;
}

// ---- explain ----------------------------------------------------------------------------

void print_comparison(const std::string& comparison) {
  const auto compared = mpi::parse_comparison(comparison);
  std::vector<std::vector<std::string>> rows = {{"  FIELD", "LEVEL", "WEIGHT"}};
  for (std::size_t i = 0; i < mpi::kFieldCount; ++i) {
    const std::string name(mpi::field_name(static_cast<mpi::Field>(i)));
    const auto found = std::find_if(compared.begin(), compared.end(),
                                    [&](const mpi::ComparedField& f) { return f.field == name; });
    if (found == compared.end())
      rows.push_back({"  " + name, "missing", "0.00"});
    else
      rows.push_back({"  " + name, found->level, weight_text(found->weight)});
  }
  print_table(rows, {false, false, true});
}

void print_decision(mpi::MpiStore& store, const mpi::StoredDecision& d) {
  std::cout << "record " << d.run_id << ':' << d.record_no;
  std::vector<std::string> notes;
  if (!d.vax_event_id.empty()) notes.push_back("vax_event_id " + d.vax_event_id);
  if (!d.source.empty()) notes.push_back("org " + d.source);
  if (!d.record_type.empty()) notes.push_back(d.record_type);
  for (std::size_t i = 0; i < notes.size(); ++i) std::cout << (i == 0 ? " (" : ", ") << notes[i];
  std::cout << (notes.empty() ? "" : ")") << '\n';
  std::cout << "  decision   " << d.decision;
  if (d.replay_of != 0)
    std::cout << ", repeated from decision " << d.replay_of << " (this input was matched before)";
  std::cout << "\n  mpi_id     " << id_now(store, d.mpi_id) << '\n';
  if (d.best_candidate == 0) {
    std::cout << "  candidates none scored: no master shared a blocking key with the record\n";
  } else {
    std::cout << "  score      " << score_text(d.score) << " against " << id_now(store, d.best_candidate)
              << " (" << d.candidates << (d.candidates == 1 ? " candidate" : " candidates")
              << " scored)\n";
    if (d.runner_up != 0)
      std::cout << "  runner-up  " << id_now(store, d.runner_up) << " at " << score_text(d.runner_up_score)
                << '\n';
    else
      std::cout << "  runner-up  none\n";
  }
  std::cout << "  rule       " << (d.rule.empty() ? "none (the score decided)" : d.rule) << '\n';
  std::cout << "  model      " << (d.model_version == 0 ? std::string("built-in defaults")
                                                        : "version " + std::to_string(d.model_version))
            << "\n  decided    " << d.decided_at << " (decision " << d.seq << ")\n";
  if (d.best_candidate != 0) print_comparison(d.comparison);
}

void explain_master(mpi::MpiStore& store, mpi::MasterId id) {
  const auto info = store.master(id);
  if (!info)
    throw RefusedError{mpi::format_mpi_id(id) +
                       " is not in the index; check the id (vaxetl mpi review lists open possible matches)"};
  std::cout << "master " << mpi::format_mpi_id(id) << ": ";
  if (info->active)
    std::cout << "active";
  else
    std::cout << "retired, merged into " << mpi::format_mpi_id(info->merged_into) << " (answers for "
              << mpi::format_mpi_id(store.resolve(id)) << " now)";
  std::cout << "\n  created    " << info->created_at << " by run " << info->created_run << '\n';
  const auto absorbed = store.merged_into(id);
  if (!absorbed.empty()) {
    std::cout << "  merged in ";
    for (const auto other : absorbed) std::cout << ' ' << mpi::format_mpi_id(other);
    std::cout << '\n';
  }
  const auto counts = store.value_counts(id);
  if (!counts.empty()) {
    std::cout << "  values per field (its own / with merged masters):";
    for (const auto& c : counts)
      std::cout << ' ' << mpi::field_name(c.field) << ' ' << c.own << '/' << c.with_merged;
    std::cout << '\n';
  }
  const auto aliases = store.aliases_of(id);
  if (!aliases.empty()) {
    std::cout << "aliases\n";
    for (const auto& a : aliases) {
      std::cout << "  " << mpi::format_mpi_id(a.retired) << " -> " << mpi::format_mpi_id(a.survivor)
                << "  merged " << a.created_at << " by " << a.created_by << ": " << a.reason;
      if (!a.ended_at.empty())
        std::cout << "; ended " << a.ended_at << " by " << a.ended_by << ": " << a.end_reason;
      std::cout << '\n';
    }
  }
  const auto actions = store.actions_on(id);
  if (!actions.empty()) {
    std::cout << "operator actions\n";
    for (const auto& a : actions) {
      std::cout << "  " << a.action_id << ' ' << a.action << ' ';
      if (a.action == "dismiss")
        std::cout << "review " << a.review_id;
      else
        std::cout << mpi::format_mpi_id(a.retired) << (a.action == "merge" ? " into " : " from ")
                  << mpi::format_mpi_id(a.survivor);
      std::cout << "  " << a.performed_at << " by " << a.performed_by << ": " << a.reason << '\n';
    }
  }
  const auto decisions = store.decisions_for_master(id);
  std::cout << "decisions (" << decisions.size() << ")\n";
  if (decisions.empty()) return;
  std::vector<std::vector<std::string>> rows = {
      {"  SEQ", "RECORD", "DECISION", "MPI_ID", "SCORE", "BEST CANDIDATE", "RULE"}};
  for (const auto& d : decisions)
    rows.push_back({"  " + std::to_string(d.seq), d.run_id + ":" + std::to_string(d.record_no),
                    d.decision + (d.replay_of != 0 ? " (rerun)" : ""), mpi::format_mpi_id(d.mpi_id),
                    score_text(d.score),
                    d.best_candidate == 0 ? "-" : mpi::format_mpi_id(d.best_candidate),
                    d.rule.empty() ? "-" : d.rule});
  print_table(rows, {false, false, false, false, true, false, false});
  std::cout << "`vaxetl mpi explain RUN_ID:RECORD_NO` shows one decision field by field\n";
}

int explain(const Options& options) {
  const std::string& record = options.arguments.at(0);
  auto store = open_index(options);
  if (const auto id = mpi::parse_mpi_id(record)) {
    explain_master(*store, *id);
    return kExitOk;
  }
  const auto colon = record.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == record.size())
    throw UsageError{"RECORD must be RUN_ID:RECORD_NO, ORG:RECIP_ID or an MPI id"};
  const std::string left = record.substr(0, colon);
  const std::string right = record.substr(colon + 1);
  std::vector<mpi::StoredDecision> decisions;
  std::int64_t record_no = 0;
  const auto [end, ec] = std::from_chars(right.data(), right.data() + right.size(), record_no);
  const bool numeric = ec == std::errc() && end == right.data() + right.size();
  if (numeric && store->has_run(left)) decisions = store->decisions_for_record(left, record_no);
  if (decisions.empty()) decisions = store->decisions_for_recipient(left, right);
  if (decisions.empty())
    throw RefusedError{
        "no decision for that record; give RUN_ID:RECORD_NO (run ids are in `vaxetl runs`; the "
        "record number is its line in the input), ORG:RECIP_ID, or an MPI id"};
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (i > 0) std::cout << '\n';
    print_decision(*store, decisions[i]);
  }
  return kExitOk;
}

// ---- review -------------------------------------------------------------------------------

std::string field_list(const std::vector<mpi::ComparedField>& fields, bool agreed) {
  std::string list;
  for (const auto& f : fields) {
    if (agreed ? f.weight <= 0 : f.weight >= 0) continue;
    if (!list.empty()) list += ',';
    list += f.field;
  }
  return list.empty() ? "-" : list;
}

int review(const Options& options) {
  std::size_t limit = 100;
  if (const auto text = options.get("limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size())
      throw UsageError{"--limit must be a number of reviews (0: all)"};
  }
  auto store = open_index(options);
  const auto items = store->reviews(options.all);
  if (items.empty()) {
    std::cout << (options.all ? "no possible matches in the index\n" : "no open possible matches\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"REVIEW", "MPI_ID", "CANDIDATE", "SCORE", "RECORD", "AGREED", "DISAGREED"};
  if (options.all) {
    header.push_back("STATUS");
    header.push_back("RESOLVED");
  }
  rows.push_back(header);
  std::size_t open = 0;
  for (const auto& item : items) open += item.status == "open";
  const std::size_t shown = limit == 0 ? items.size() : std::min(limit, items.size());
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& item = items[i];
    const auto compared = mpi::parse_comparison(item.comparison);
    std::vector<std::string> row = {std::to_string(item.review_id), id_now(*store, item.mpi_id),
                                    id_now(*store, item.candidate), score_text(item.score),
                                    item.run_id + ":" + std::to_string(item.record_no),
                                    field_list(compared, true), field_list(compared, false)};
    if (options.all) {
      row.push_back(item.status);
      row.push_back(item.resolved_at.empty() ? "-" : item.resolved_at + " by " + item.resolved_by);
    }
    rows.push_back(std::move(row));
  }
  std::vector<bool> right = {true, false, false, true, false, false, false};
  if (options.all) right.insert(right.end(), {false, false});
  print_table(rows, right);
  if (shown < items.size())
    std::cout << "the first " << shown << " of " << items.size() << " shown; --limit 0 lists all\n";
  std::cout << open << (open == 1 ? " open possible match" : " open possible matches")
            << "; to join them run `vaxetl mpi merge CANDIDATE MPI_ID` (the candidate keeps its "
               "id), or close one with `vaxetl mpi dismiss REVIEW`; `vaxetl mpi explain RECORD` "
               "shows the comparison\n";
  return kExitOk;
}

// ---- merge, unmerge, dismiss ----------------------------------------------------------------

// The CVMS store the pipelines load (one recipient per master): merges and unmerges move its
// doses too. A SQLite store that does not exist yet holds no doses and is skipped; a PostgreSQL
// store is always used. Its schema and catalog come from the cvms_sink plugin's data
// directory, found like ours.
std::optional<vaxetl::cvms::StoreOptions> cvms_store(const Options& options) {
  const std::string path =
      options.get("cvms").value_or(vaxetl::sdk::vaxetl_store_location("VAXETL_CVMS_STORE", "cvms.sqlite"));
  const auto location = vaxetl::db::Location::parse(path);
  std::error_code ec;
  if (!location.is_postgres() && !fs::exists(location.target, ec)) return std::nullopt;
  const auto dir = vaxetl::sdk::find_plugin_data_dir(VAXETL_CVMS_DATA_DIR, VAXETL_INSTALL_PREFIX,
                                                     {"schema.sql", "products.tsv"});
  if (!dir)
    throw mpi::StoreError(std::string("cannot find the cvms_sink plugin's data directory (")
                              .append(VAXETL_CVMS_DATA_DIR)
                              .append(" next to bin/) to update the CVMS store"));
  vaxetl::cvms::StoreOptions store;
  store.database = path;
  store.schema_path = (*dir / "schema.sql").string();
  store.products_path = (*dir / "products.tsv").string();
  store.cache_kib = 8 * 1024;
  return store;
}

// Applies an index merge (or unmerge) to CVMS. The index has committed first: on a failure
// here the operator runs the same command again, which finds the index already done.
void apply_to_cvms(const Options& options, mpi::MasterId survivor, mpi::MasterId retired,
                   bool unmerging) {
  const auto config = cvms_store(options);
  if (!config) {
    std::cout << "no CVMS store at " << options.get("cvms").value_or("${VAXETL_HOME:-var}/cvms.sqlite")
              << ": the index only\n";
    return;
  }
  try {
    vaxetl::cvms::CvmsStore cvms(*config);
    const std::string s = mpi::format_mpi_id(survivor), r = mpi::format_mpi_id(retired);
    const auto moved = unmerging ? cvms.unmerge_masters(s, r) : cvms.merge_masters(s, r);
    std::cout << "CVMS " << config->database << ": " << moved.vaccinations_moved
              << (moved.vaccinations_moved == 1 ? " vaccination" : " vaccinations") << " moved to "
              << (unmerging ? r : s) << (moved.survivor_created ? " (its recipient created)" : "")
              << '\n';
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the index is done but the CVMS store was not updated (")
                                 .append(e.what())
                                 .append("); run the same command again to finish it"));
  }
}

int merge(const Options& options) {
  const mpi::MasterId survivor = master_argument(options.arguments.at(0), "SURVIVOR");
  const mpi::MasterId retired = master_argument(options.arguments.at(1), "RETIRED");
  auto store = open_index(options);
  const mpi::Operator by{operator_name(options), options.get("reason").value_or("")};
  if (survivor != retired && store->resolve(retired) == survivor) {
    // Merged before: the index is done; finish what an earlier attempt left in CVMS.
    std::cout << mpi::format_mpi_id(retired) << " is already an alias of "
              << mpi::format_mpi_id(survivor) << " in the index\n";
    apply_to_cvms(options, survivor, retired, false);
    return kExitOk;
  }
  try {
    const auto result = store->merge(survivor, retired, by);
    std::cout << "merged " << mpi::format_mpi_id(retired) << " into " << mpi::format_mpi_id(survivor)
              << " (action " << result.action_id << "): " << mpi::format_mpi_id(retired)
              << " is now an alias of " << mpi::format_mpi_id(survivor) << "; "
              << result.reviews_resolved
              << (result.reviews_resolved == 1 ? " open review closed" : " open reviews closed")
              << "; undo with `vaxetl mpi unmerge " << mpi::format_mpi_id(survivor) << ' '
              << mpi::format_mpi_id(retired) << "`\n";
  } catch (const mpi::Refused& e) {
    throw RefusedError{e.what()};
  }
  apply_to_cvms(options, survivor, retired, false);
  return kExitOk;
}

int unmerge(const Options& options) {
  const mpi::MasterId survivor = master_argument(options.arguments.at(0), "SURVIVOR");
  const mpi::MasterId retired = master_argument(options.arguments.at(1), "RETIRED");
  auto store = open_index(options);
  const mpi::Operator by{operator_name(options), options.get("reason").value_or("")};
  const bool merged_in_index = survivor != retired && store->resolve(retired) == survivor;
  if (!merged_in_index && survivor != retired && store->resolve(retired) == retired) {
    // Unmerged in the index before: give CVMS back what an earlier attempt left there, if any.
    if (const auto config = cvms_store(options)) {
      vaxetl::cvms::CvmsStore cvms(*config);
      const auto moved = cvms.unmerge_masters(mpi::format_mpi_id(survivor), mpi::format_mpi_id(retired));
      if (moved.vaccinations_moved > 0) {
        std::cout << mpi::format_mpi_id(retired) << " was already unmerged in the index; CVMS "
                  << config->database << ": " << moved.vaccinations_moved
                  << " vaccinations moved back to " << mpi::format_mpi_id(retired) << '\n';
        return kExitOk;
      }
    }
  }
  try {
    const auto result = store->unmerge(survivor, retired, by);
    std::cout << "unmerged " << mpi::format_mpi_id(retired) << " from " << mpi::format_mpi_id(survivor)
              << " (action " << result.action_id << "): " << mpi::format_mpi_id(retired)
              << " is active again with its own values and the alias has ended; "
              << result.reviews_resolved
              << (result.reviews_resolved == 1 ? " review the merge had closed is now dismissed"
                                               : " reviews the merge had closed are now dismissed")
              << '\n';
  } catch (const mpi::Refused& e) {
    throw RefusedError{e.what()};
  }
  apply_to_cvms(options, survivor, retired, true);
  return kExitOk;
}

int dismiss(const Options& options) {
  const std::string& text = options.arguments.at(0);
  std::int64_t review_id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), review_id);
  if (ec != std::errc() || end != text.data() + text.size() || review_id <= 0)
    throw UsageError{"REVIEW_ID must be a review number from `vaxetl mpi review`"};
  auto store = open_index(options);
  const mpi::Operator by{operator_name(options), options.get("reason").value_or("")};
  try {
    const auto result = store->dismiss(review_id, by);
    std::cout << "dismissed review " << review_id << " (action " << result.action_id
              << "): the two masters stay apart\n";
  } catch (const mpi::Refused& e) {
    throw RefusedError{e.what()};
  }
  return kExitOk;
}

// ---- stats ----------------------------------------------------------------------------------

int stats(const Options& options) {
  auto store = open_index(options);
  const auto c = store->counts();
  std::vector<std::vector<std::string>> rows = {
      {"masters", std::to_string(c.active_masters) + " active, " + std::to_string(c.retired_masters) +
                      " retired (merged into another)"},
      {"values", std::to_string(c.values)},
      {"decisions", std::to_string(c.decisions) + ": " + std::to_string(c.linked) + " linked, " +
                        std::to_string(c.created) + " new, " + std::to_string(c.possible) +
                        " possible, " + std::to_string(c.replayed) + " reruns"},
      {"reviews", std::to_string(c.open_reviews) + " open, " + std::to_string(c.merged_reviews) +
                      " merged, " + std::to_string(c.dismissed_reviews) + " dismissed"},
      {"aliases", std::to_string(c.active_aliases) + " in force"},
      {"operator actions", std::to_string(c.operator_actions)},
  };
  std::string model = "built-in defaults (no model estimated yet)";
  if (const auto latest = store->latest_model())
    model = "version " + std::to_string(latest->version) + " of " + std::to_string(c.models) +
            ", estimated " + latest->created_at + " from " + std::to_string(latest->pairs) +
            " pairs in " + std::to_string(latest->iterations) + " iterations";
  rows.push_back({"model", model});
  rows.push_back({"index", store->path()});
  print_table(rows, {false, false});
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "help" ||
                      std::string_view(argv[1]) == "-h")) {
      std::cout << kUsage;
      return kExitOk;
    }
    const Options options = parse(argc, argv);
    if (options.command == "explain") return explain(options);
    if (options.command == "review") return review(options);
    if (options.command == "merge") return merge(options);
    if (options.command == "unmerge") return unmerge(options);
    if (options.command == "dismiss") return dismiss(options);
    return stats(options);
  } catch (const UsageError& e) {
    std::cerr << "vaxetl-mpi: " << e.message << '\n' << kUsage;
    return kExitUsage;
  } catch (const RefusedError& e) {
    std::cerr << "vaxetl-mpi: refused: " << e.message << '\n';
    return kExitRefused;
  } catch (const mpi::StoreBusy& e) {
    std::cerr << "vaxetl-mpi: the index is busy with a load; try again when it ends: " << e.what()
              << '\n';
    return kExitFailed;
  } catch (const std::exception& e) {
    std::cerr << "vaxetl-mpi: " << e.what() << '\n';
    return kExitFailed;
  }
}
