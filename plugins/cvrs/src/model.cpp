#include "cvrs/model.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "cvrs/codes.hpp"
#include "ncvr/data_file.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::cvrs {
namespace {

// The data-file helpers of the NCVR rules library: same files, same errors.
using ncvr::column_of;
using ncvr::fail;
using ncvr::load_table;
using ncvr::parse_size;


bool parse_int(std::string_view text, int& out) {
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, out);
  return !text.empty() && result.ec == std::errc() && result.ptr == end;
}

Usage parse_usage(const std::string& path, const std::string& where, std::string_view text) {
  if (text == "R") return Usage::kRequired;
  if (text == "RIK") return Usage::kRequiredIfKnown;
  if (text == "DNP") return Usage::kDoNotPopulate;
  fail(path, where + ": unknown usage '" + std::string(text) + "' (expected R, RIK or DNP)");
}

FieldType parse_type(const std::string& path, const std::string& where, std::string_view text) {
  static constexpr std::pair<std::string_view, FieldType> kTypes[] = {
      {"id", FieldType::kId},         {"text", FieldType::kText},   {"code", FieldType::kCode},
      {"date", FieldType::kDate},     {"expiry", FieldType::kExpiry}, {"county", FieldType::kCounty},
      {"state", FieldType::kState},   {"zip", FieldType::kZip},     {"ndc", FieldType::kNdc},
      {"pin", FieldType::kPin},
  };
  for (const auto& [name, type] : kTypes)
    if (name == text) return type;
  fail(path, where + ": unknown type '" + std::string(text) +
                 "' (expected id, text, code, date, expiry, county, state, zip, ndc or pin)");
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = sdk::trim(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

// Header names compare ignoring ASCII case and surrounding blanks (CVRS v2 instructions).
bool same_name(std::string_view header_cell, std::string_view name) {
  return ncvr::equals_ignore_case(sdk::trim(header_cell), name);
}

}  // namespace

const FieldSpec* Layout::find(std::string_view name) const noexcept {
  for (const auto& field : fields_)
    if (field.name == name) return &field;
  return nullptr;
}

Model::Model(const std::string& data_dir, const std::string& products_path) {
  load_code_sets(data_dir + "/codesets.tsv");
  load_states(data_dir + "/states.tsv");
  load_rules(data_dir + "/cvrs-rules.tsv");
  try {
    catalog_ = ProductCatalog::load(products_path);
  } catch (const LayoutError&) {
    throw;
  } catch (const std::exception& error) {
    fail(products_path, error.what());
  }
  // Newest first: detection reports against the current version when nothing matches.
  layouts_.push_back(load_layout(data_dir + "/cvrs-v2.tsv", "2"));
  layouts_.push_back(load_layout(data_dir + "/cvrs-v1.tsv", "1"));
  for (const auto& layout : layouts_) layout_list_.push_back(&layout);
  // Every catalog CVX and MVX must be a code the layout accepts, or no record could use it.
  const NamedSet& cvx = require_set("cvx");
  const NamedSet& mvx = require_set("mvx");
  for (const auto& entry : catalog_.entries()) {
    if (cvx.codes.find_code(entry.cvx).empty())
      fail(products_path, "CVX " + entry.cvx + " is missing from code set cvx");
    if (mvx.codes.find_code(entry.mvx).empty())
      fail(products_path, "MVX " + entry.mvx + " is missing from code set mvx");
  }
}

const Layout& Model::layout(std::string_view version) const {
  for (const auto& layout : layouts_)
    if (layout.version() == version) return layout;
  throw LayoutError("no CVRS layout version " + std::string(version));
}

const NamedSet* Model::code_set(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < set_names_.size(); ++i)
    if (set_names_[i] == name) return &sets_[i];
  return nullptr;
}

const NamedSet& Model::require_set(std::string_view name) const {
  const NamedSet* set = code_set(name);
  if (set == nullptr) throw LayoutError("codesets.tsv: the rules need code set '" + std::string(name) + "'");
  return *set;
}

const StateInfo* Model::state(std::string_view usps) const noexcept {
  for (const auto& info : states_)
    if (ncvr::equals_ignore_case(info.code, usps)) return &info;
  return nullptr;
}

void Model::load_code_sets(const std::string& path) {
  const sdk::DataTable table = load_table(path);
  const std::size_t set_column = column_of(table, path, "set");
  const std::size_t code_column = column_of(table, path, "code");
  const std::size_t canonical_column = column_of(table, path, "canonical");
  const std::size_t description_column = column_of(table, path, "description");
  struct Group {
    std::string name;
    std::vector<CodeSet::Entry> entries;
    CodeMap canonical;
  };
  std::vector<Group> groups;
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = "data row " + std::to_string(row + 1);
    if (cells[set_column].empty() || cells[code_column].empty())
      fail(path, where + ": set and code must both be given");
    auto group = std::find_if(groups.begin(), groups.end(),
                              [&](const Group& g) { return g.name == cells[set_column]; });
    if (group == groups.end()) group = groups.insert(groups.end(), Group{cells[set_column], {}, {}});
    for (const auto& existing : group->entries)
      if (ncvr::equals_ignore_case(existing.code, cells[code_column]))
        fail(path, where + ": code '" + cells[code_column] + "' appears twice in set '" + group->name + "'");
    group->entries.push_back({cells[code_column], cells[description_column]});
    if (!cells[canonical_column].empty()) group->canonical.add(cells[code_column], cells[canonical_column]);
  }
  for (auto& group : groups) {
    sets_.push_back(NamedSet{CodeSet(group.name, std::move(group.entries)), std::move(group.canonical)});
    set_names_.push_back(group.name);
  }
}

void Model::load_states(const std::string& path) {
  const sdk::DataTable table = load_table(path);
  const std::size_t state_column = column_of(table, path, "state");
  const std::size_t fips_column = column_of(table, path, "fips");
  const std::size_t zip3_column = column_of(table, path, "zip3");
  const std::size_t name_column = column_of(table, path, "name");
  std::vector<CodeSet::Entry> entries;
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = "data row " + std::to_string(row + 1);
    StateInfo info;
    info.code = cells[state_column];
    if (info.code.size() != 2) fail(path, where + ": state must be a 2-letter USPS code");
    if (!cells[fips_column].empty()) {
      if (!parse_int(cells[fips_column], info.fips) || info.fips < 1 || info.fips > 99)
        fail(path, where + ": fips must be a 2-digit FIPS state code");
      if (!state_by_fips_[static_cast<std::size_t>(info.fips)].empty())
        fail(path, where + ": FIPS code claimed by two states");
      state_by_fips_[static_cast<std::size_t>(info.fips)] = info.code;
    }
    for (const auto& range : split_list(cells[zip3_column])) {
      const std::size_t dash = range.find('-');
      int low = 0, high = 0;
      if (!parse_int(std::string_view(range).substr(0, dash), low) ||
          !parse_int(dash == std::string::npos ? std::string_view(range) : std::string_view(range).substr(dash + 1), high) ||
          low < 0 || high > 999 || low > high)
        fail(path, where + ": zip3 must list ranges like 270-289 or single prefixes");
      for (int z = low; z <= high; ++z) {
        if (!state_by_zip3_[static_cast<std::size_t>(z)].empty())
          fail(path, where + ": ZIP3 prefix " + std::to_string(z) + " claimed by two states");
        state_by_zip3_[static_cast<std::size_t>(z)] = info.code;
      }
      info.zip3.emplace_back(low, high);
    }
    entries.push_back({info.code, cells[name_column]});
    states_.push_back(std::move(info));
  }
  sets_.push_back(NamedSet{CodeSet("state", std::move(entries)), {}});
  set_names_.emplace_back("state");
  states_set_ = &sets_.back();
}

void Model::load_rules(const std::string& path) {
  const sdk::DataTable table = load_table(path);
  const std::size_t name_column = column_of(table, path, "parameter");
  const std::size_t value_column = column_of(table, path, "value");
  auto get = [&](std::string_view name) -> const std::string& {
    for (const auto& row : table.rows())
      if (row[name_column] == name) {
        if (row[value_column].empty()) fail(path, "parameter " + std::string(name) + " has no value");
        return row[value_column];
      }
    fail(path, "missing parameter " + std::string(name));
  };
  rules_.refusal_yes = get("refusal_yes");
  rules_.redacted_word = get("redacted_word");
  rules_.redacted_models = split_list(get("redacted_models"));
  rules_.pprl_model = get("pprl_model");
  rules_.refused_dose_status = get("refused_dose_status");
  rules_.action_code = get("action_code");
  rules_.inventory_source = get("inventory_source");
  rules_.home_state = get("home_state");
  rules_.home_pin_prefix = get("home_pin_prefix");
  if (!parse_size(get("max_records"), rules_.max_records) || rules_.max_records == 0)
    fail(path, "max_records must be a positive number");
  if (rules_.home_pin_prefix.size() != 3) fail(path, "home_pin_prefix must be 3 characters");
}

Layout Model::load_layout(const std::string& path, std::string version) {
  const sdk::DataTable table = load_table(path);
  const std::size_t c_pos = column_of(table, path, "pos");
  const std::size_t c_name = column_of(table, path, "name");
  const std::size_t c_vacc = column_of(table, path, "vaccination");
  const std::size_t c_ref = column_of(table, path, "refusal");
  const std::size_t c_red = column_of(table, path, "redacted");
  // Only v1 has missed-appointment records; other layouts may leave the column out.
  const bool has_missed = std::find(table.columns().begin(), table.columns().end(), "missed_appt") != table.columns().end();
  const std::size_t c_missed = has_missed ? table.column("missed_appt") : c_ref;
  const std::size_t c_type = column_of(table, path, "type");
  const std::size_t c_len = column_of(table, path, "max_len");
  const std::size_t c_set = column_of(table, path, "code_set");
  const std::size_t c_canon = column_of(table, path, "canonical");
  const std::size_t c_expect = column_of(table, path, "expect");
  const std::size_t c_rule = column_of(table, path, "rule");
  Layout layout;
  layout.version_ = std::move(version);
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = "data row " + std::to_string(row + 1) + " (" + cells[c_name] + ")";
    FieldSpec field;
    if (!parse_size(cells[c_pos], field.position) || field.position != row + 1)
      fail(path, where + ": pos must number the fields 1, 2, 3, ... in order");
    field.name = cells[c_name];
    if (field.name.empty()) fail(path, where + ": name is empty");
    field.vaccination = parse_usage(path, where, cells[c_vacc]);
    field.refusal = parse_usage(path, where, cells[c_ref]);
    field.missed_appointment = parse_usage(path, where, cells[c_missed]);
    field.redacted = cells[c_red] == "yes";
    if (!cells[c_red].empty() && !field.redacted) fail(path, where + ": redacted must be yes or empty");
    field.type = parse_type(path, where, cells[c_type]);
    if (!parse_size(cells[c_len], field.max_len) || field.max_len == 0)
      fail(path, where + ": max_len must be a positive number");
    if (field.type == FieldType::kCode) {
      field.code_set = code_set(cells[c_set]);
      if (field.code_set == nullptr) fail(path, where + ": code_set '" + cells[c_set] + "' is not in codesets.tsv");
    } else if (field.type == FieldType::kState) {
      field.code_set = states_set_;
    } else if (!cells[c_set].empty()) {
      fail(path, where + ": only code fields name a code_set");
    }
    if (cells[c_canon] != "-") {
      const auto& columns = canonical::kColumns;
      const auto it = std::find(columns.begin(), columns.end(), cells[c_canon]);
      if (it == columns.end()) fail(path, where + ": canonical column '" + cells[c_canon] + "' does not exist");
      field.canonical_index = static_cast<std::size_t>(it - columns.begin());
    }
    field.expect = cells[c_expect];
    field.rule = cells[c_rule];
    if (field.expect.empty()) fail(path, where + ": expect is empty (messages quote it)");
    layout.fields_.push_back(std::move(field));
  }
  if (layout.fields_.empty()) fail(path, "the layout has no fields");
  return layout;
}

HeaderResult detect_layout(const Model& model, std::optional<std::string_view> first_line) {
  HeaderResult result;
  if (!first_line || sdk::trim(*first_line).empty()) {
    result.error = FileError{codes::kFileEmpty,
                             "the file is empty or its first line is blank; send the CVRS header line "
                             "(the 45 variable names, tab-delimited) followed by the records"};
    return result;
  }
  std::string_view line = *first_line;
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);

  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    cells.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }

  // An exact match of some version's names, in order.
  for (const Layout* layout : model.layouts()) {
    const auto& fields = layout->fields();
    if (cells.size() != fields.size()) continue;
    bool all = true;
    for (std::size_t i = 0; i < cells.size() && all; ++i) all = same_name(cells[i], fields[i].name);
    if (all) {
      result.layout = layout;
      return result;
    }
  }

  const Layout& current = *model.layouts().front();
  auto known = [&](std::string_view cell) {
    for (const Layout* layout : model.layouts())
      for (const auto& field : layout->fields())
        if (same_name(cell, field.name)) return true;
    return false;
  };
  std::size_t known_count = 0;
  for (const auto cell : cells) known_count += known(cell);

  if (known_count == 0) {
    // Perhaps the right names with the wrong delimiter.
    const std::string_view first_name = current.fields().front().name;
    std::string upper_line(line.substr(0, 256));
    bool names_inside = false;
    for (std::size_t i = 0; i + first_name.size() <= upper_line.size() && !names_inside; ++i)
      names_inside = ncvr::equals_ignore_case(std::string_view(upper_line).substr(i, first_name.size()), first_name);
    if (names_inside && cells.size() == 1) {
      result.error = FileError{codes::kDelimiter,
                               "the header names are not separated by tabs; CVRS files are TAB-delimited "
                               "(a tab inside a value must be replaced by a space)"};
    } else {
      result.error = FileError{codes::kNotCvrs,
                               "the first line is not a CVRS header; send a CDC CVRS v2 file whose first line "
                               "holds the 45 variable names (vax_event_id, ext_type, ...) separated by tabs"};
    }
    return result;
  }

  // Name the problem against the version the header is closest to (by the names it shares).
  const Layout* closest = &current;
  std::size_t best = 0;
  for (const Layout* layout : model.layouts()) {
    std::size_t shared = 0;
    for (const auto& field : layout->fields())
      for (const auto cell : cells)
        if (same_name(cell, field.name)) {
          ++shared;
          break;
        }
    if (shared > best) {
      best = shared;
      closest = layout;
    }
  }
  std::string missing;
  std::size_t missing_count = 0;
  for (const auto& field : closest->fields()) {
    bool present = false;
    for (const auto cell : cells) present = present || same_name(cell, field.name);
    if (!present) {
      if (missing_count < 12) missing += (missing.empty() ? "" : ", ") + field.name;
      ++missing_count;
    }
  }
  const std::string version = "CVRS v" + closest->version();
  if (missing_count > 0) {
    result.error = FileError{codes::kHeaderMissing,
                             "the header lacks " + std::to_string(missing_count) + " of the " +
                                 std::to_string(closest->fields().size()) + " " + version + " variable names (" +
                                 missing + (missing_count > 12 ? ", ..." : "") +
                                 "); every name must be present, even for an empty column"};
    return result;
  }
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!known(cells[i])) {
      result.error = FileError{codes::kHeaderUnknown,
                               "header position " + std::to_string(i + 1) + " is not a " + version +
                                   " variable name; send exactly the " +
                                   std::to_string(closest->fields().size()) + " names of the specification"};
      return result;
    }
  }
  for (std::size_t i = 0; i < cells.size() && i < closest->fields().size(); ++i) {
    if (!same_name(cells[i], closest->fields()[i].name)) {
      result.error = FileError{codes::kHeaderOrder,
                               "header position " + std::to_string(i + 1) + " should be " +
                                   closest->fields()[i].name + "; send the " + version +
                                   " variables in the specification's order"};
      return result;
    }
  }
  result.error = FileError{codes::kHeaderUnknown,
                           "the header repeats a variable name; send each of the " +
                               std::to_string(closest->fields().size()) + " " + version + " names once"};
  return result;
}

}  // namespace vaxetl::cvrs
