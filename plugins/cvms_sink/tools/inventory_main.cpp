// vaxetl-inventory: state vaccine inventory in the CVMS store (docs/inventory.md). The vaxetl
// CLI runs it for `vaxetl inventory ...`.
//
//   vaxetl-inventory receive --pin PIN --ndc NDC --lot LOT --vials N [--reference SHIPMENT]
//   vaxetl-inventory show [--pin PIN] [--discrepancies]
//   common options: --store FILE, --schema FILE, --products FILE
//
// Exit codes: 0 ok, 64 usage, 65 refused (bad PIN, NDC, lot or number, repeated reference),
// 70 store failure. Nothing this tool prints is PHI: PINs, NDCs, lots, counts, file names.
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cvms_store.hpp"
#include "db/database.hpp"
#include "vaxetl/sdk/companion_tool.hpp"

namespace {

namespace fs = std::filesystem;
namespace cvms = vaxetl::cvms;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitRefused = 65;
constexpr int kExitStoreFailed = 70;

constexpr std::string_view kUsage =
    "usage: vaxetl-inventory receive --pin PIN --ndc NDC --lot LOT --vials N [--reference SHIPMENT]\n"
    "       vaxetl-inventory show [--pin PIN] [--discrepancies]\n"
    "options for both:\n"
    "  --store STORE    the CVMS store, a SQLite file or a PostgreSQL URL (default, as the\n"
    "                   pipelines: $VAXETL_CVMS_STORE, else ${VAXETL_HOME:-var}/cvms.sqlite)\n"
    "  --schema FILE    schema.sql (default: the cvms_sink plugin's data directory)\n"
    "  --products FILE  products.tsv (default: the cvms_sink plugin's data directory)\n"
    "receive adds VIALS x doses per vial (from the product catalog) to the PIN's inventory of\n"
    "the unit-of-sale NDC and lot; a shipment reference can be received only once.\n"
    "show lists received, administered and on-hand doses (SHORT: on hand below zero);\n"
    "--discrepancies lists the doses loads took beyond what was on hand, per load.\n"
    "exit codes: 0 ok, 64 usage, 65 refused, 70 store failure\n";

// A request the user must fix (exit 65), as opposed to a usage error or a store failure.
struct Refused {
  std::string message;
};
struct UsageError {
  std::string message;
};

struct Options {
  std::string command;
  std::map<std::string, std::string, std::less<>> values;  // --name VALUE
  bool discrepancies = false;

  std::optional<std::string_view> get(std::string_view name) const {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  }
  std::string_view require(std::string_view name) const {
    const auto value = get(name);
    if (!value) throw UsageError{std::string("missing --").append(name)};
    return *value;
  }
};

Options parse(int argc, char** argv) {
  if (argc < 2) throw UsageError{"no command"};
  Options options;
  options.command = argv[1];
  if (options.command != "receive" && options.command != "show")
    throw UsageError{std::string("unknown command ").append(options.command)};
  const std::vector<std::string_view> allowed =
      options.command == "receive"
          ? std::vector<std::string_view>{"pin", "ndc", "lot", "vials", "reference", "store",
                                          "schema", "products"}
          : std::vector<std::string_view>{"pin", "store", "schema", "products"};
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) throw UsageError{std::string("unexpected argument ").append(arg)};
    arg.remove_prefix(2);
    if (options.command == "show" && arg == "discrepancies") {
      options.discrepancies = true;
      continue;
    }
    std::string_view name = arg, value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      throw UsageError{std::string("unknown option --").append(name).append(" for ").append(options.command)};
    if (!has_value) {
      if (i + 1 >= argc) throw UsageError{std::string("--").append(name).append(" needs a value")};
      value = argv[++i];
    }
    options.values.insert_or_assign(std::string(name), std::string(value));
  }
  return options;
}

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return result;
}

std::string checked_pin(std::string_view text) {
  std::string pin = upper(text);
  if (!cvms::is_vtrcks_pin(pin))
    throw Refused{std::string("--pin ").append(text).append(
        " is not a VTrckS PIN: NCA followed by 6 letters or digits")};
  return pin;
}

// The catalog keeps NDCs 5-4-2 with hyphens; an 11-digit NDC typed without them is accepted.
std::string normalized_ndc(std::string_view text) {
  if (text.size() == 11 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::string(text.substr(0, 5)).append("-").append(text.substr(5, 4)).append("-").append(text.substr(9));
  return std::string(text);
}

std::int64_t checked_vials(std::string_view text) {
  std::int64_t vials = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), vials);
  if (ec != std::errc() || end != text.data() + text.size() || vials < 1 ||
      vials > cvms::kMaxVialsPerReceipt)
    throw Refused{std::string("--vials ").append(text).append(" must be a whole number from 1 to ")
                      .append(std::to_string(cvms::kMaxVialsPerReceipt))};
  return vials;
}

std::string default_store() { return vaxetl::sdk::vaxetl_store_location("VAXETL_CVMS_STORE", "cvms.sqlite"); }

std::optional<fs::path> plugin_data_dir() {
  return vaxetl::sdk::find_plugin_data_dir(VAXETL_CVMS_DATA_DIR, VAXETL_INSTALL_PREFIX,
                                           {"schema.sql", "products.tsv"});
}

cvms::StoreOptions store_options(const Options& options) {
  cvms::StoreOptions store;
  store.database = std::string(options.get("store").value_or(default_store()));
  store.cache_kib = 8 * 1024;
  const auto data = plugin_data_dir();
  const auto schema = options.get("schema");
  const auto products = options.get("products");
  if ((!schema || !products) && !data)
    throw cvms::StoreError(std::string("cannot find the cvms_sink plugin's data directory (")
                               .append(VAXETL_CVMS_DATA_DIR)
                               .append(" next to bin/); pass --schema and --products"));
  store.schema_path = schema ? std::string(*schema) : (*data / "schema.sql").string();
  store.products_path = products ? std::string(*products) : (*data / "products.tsv").string();
  return store;
}

int receive(const Options& options) {
  cvms::Receipt receipt;
  receipt.pin = checked_pin(options.require("pin"));
  receipt.ndc = normalized_ndc(options.require("ndc"));
  receipt.lot_number = std::string(options.require("lot"));
  receipt.vials = checked_vials(options.require("vials"));
  receipt.reference = std::string(options.get("reference").value_or(""));
  if (receipt.lot_number.empty()) throw Refused{"--lot is empty"};

  const cvms::StoreOptions store_config = store_options(options);
  const auto location = vaxetl::db::Location::parse(store_config.database);
  if (!location.is_postgres()) {  // a SQLite store is created where it is named
    const fs::path parent = fs::path(location.target).parent_path();
    std::error_code ignored;
    if (!parent.empty()) fs::create_directories(parent, ignored);
  }
  cvms::CvmsStore store(store_config);
  const cvms::ReceiptResult result = store.receive(receipt);
  std::cout << "received " << receipt.vials << (receipt.vials == 1 ? " vial" : " vials") << " of "
            << result.product << " (" << receipt.ndc << "), lot " << receipt.lot_number << ", at "
            << receipt.pin << ": " << result.doses << " doses added (receipt " << result.receipt_id
            << (receipt.reference.empty() ? "" : ", reference ") << receipt.reference << ")\n"
            << "on hand: " << result.on_hand << " doses\n";
  return kExitOk;
}

void print_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::cout << vaxetl::sdk::format_table(rows, right);
}

int show(const Options& options) {
  const std::string pin = options.get("pin") ? checked_pin(*options.get("pin")) : std::string();
  const cvms::StoreOptions store_config = store_options(options);
  const auto location = vaxetl::db::Location::parse(store_config.database);
  std::error_code ec;
  if (!location.is_postgres() && !fs::exists(location.target, ec))
    throw cvms::StoreError(std::string("no CVMS store at ")
                               .append(location.display())
                               .append(" (set VAXETL_HOME or pass --store)"));
  cvms::CvmsStore store(store_config);
  const std::string scope = pin.empty() ? std::string() : std::string(" at ").append(pin);

  if (options.discrepancies) {
    const auto keys = store.discrepancies(pin);
    if (keys.empty()) {
      std::cout << "no inventory discrepancies" << scope << '\n';
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows = {
        {"PIN", "NDC", "PRODUCT", "LOT", "DOSES SHORT", "ON HAND", "LOAD", "RUN", "INPUT", "COMMITTED"}};
    std::int64_t total = 0;
    for (const auto& key : keys) {
      total += key.doses_short;
      for (const auto& load : key.loads)
        rows.push_back({key.pin, key.ndc, key.product, key.lot_number, std::to_string(load.doses_short),
                        std::to_string(key.on_hand), std::to_string(load.load_id), load.run_id,
                        load.input_name, load.committed_at});
    }
    print_table(rows, {false, false, false, false, true, true, true, false, false, false});
    std::cout << keys.size() << (keys.size() == 1 ? " location/product/lot key, " : " location/product/lot keys, ")
              << total << " doses short in total; receiving the missing shipments restores on hand\n";
    return kExitOk;
  }

  const auto inventory = store.inventory(pin);
  if (inventory.empty()) {
    std::cout << "no state inventory" << scope << '\n';
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"PIN", "NDC", "PRODUCT", "LOT", "RECEIVED", "ADMINISTERED", "ON HAND", ""}};
  for (const auto& row : inventory)
    rows.push_back({row.pin, row.ndc, row.product, row.lot_number, std::to_string(row.received),
                    std::to_string(row.administered), std::to_string(row.on_hand),
                    row.on_hand < 0 ? "SHORT" : ""});
  print_table(rows, {false, false, false, false, true, true, true, false});
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
    return options.command == "receive" ? receive(options) : show(options);
  } catch (const UsageError& e) {
    std::cerr << "vaxetl-inventory: " << e.message << '\n' << kUsage;
    return kExitUsage;
  } catch (const Refused& e) {
    std::cerr << "vaxetl-inventory: refused: " << e.message << '\n';
    return kExitRefused;
  } catch (const cvms::ReceiptRefused& e) {
    std::cerr << "vaxetl-inventory: refused: " << e.what() << '\n';
    return kExitRefused;
  } catch (const cvms::StoreBusy& e) {
    std::cerr << "vaxetl-inventory: the CVMS store is busy with a load; try again when it ends: "
              << e.what() << '\n';
    return kExitStoreFailed;
  } catch (const std::exception& e) {
    std::cerr << "vaxetl-inventory: " << e.what() << '\n';
    return kExitStoreFailed;
  }
}
