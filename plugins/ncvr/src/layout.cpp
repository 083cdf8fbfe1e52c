#include "ncvr/layout.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <utility>

#include "ncvr/data_file.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw LayoutError(path + ": " + what);
}

// DataTable::load, with the file's path in every error.
sdk::DataTable load_table(const std::string& path) {
  try {
    return sdk::DataTable::load(path);
  } catch (const std::exception& error) {
    fail(path, error.what());
  }
}

std::size_t column_of(const sdk::DataTable& table, const std::string& path, std::string_view name) {
  try {
    return table.column(name);
  } catch (const std::exception& error) {
    fail(path, error.what());
  }
}

bool parse_size(std::string_view text, std::size_t& out) {
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, out);
  return result.ec == std::errc() && result.ptr == end && !text.empty();
}

namespace {

// Longer values cannot be codes; bounds the work of a lookup.
constexpr std::size_t kMaxCodeLength = 64;

std::string upper_ascii(std::string_view text) {
  std::string upper(text);
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return upper;
}

// Up to 8 bytes of `text` from `at`, ASCII upper-cased, packed into one integer.
std::uint64_t packed_upper(std::string_view text, std::size_t at) noexcept {
  std::uint64_t word = 0;
  const std::size_t count = text.size() - at < 8 ? text.size() - at : 8;
  if (count == 8) {
    std::memcpy(&word, text.data() + at, 8);
  } else {
    for (std::size_t i = 0; i < count; ++i)
      word |= static_cast<std::uint64_t>(static_cast<unsigned char>(text[at + i])) << (8 * i);
  }
  // Flip bit 0x20 of exactly the bytes 'a'..'z' (bytes of 0x80 and above are left alone).
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  const std::uint64_t low7 = word & (0x7F * kOnes);
  const std::uint64_t at_least_a = low7 + (0x80 - 'a') * kOnes;
  const std::uint64_t above_z = low7 + (0x80 - 'z' - 1) * kOnes;
  const std::uint64_t lower = at_least_a & ~above_z & ~word & (0x80 * kOnes);
  return word ^ (lower >> 2);
}

Usage parse_usage(const std::string& path, const std::string& where, std::string_view text) {
  if (text == "R") return Usage::kRequired;
  if (text == "RIK") return Usage::kRequiredIfKnown;
  if (text == "O") return Usage::kOptional;
  if (text == "C") return Usage::kConditional;
  fail(path, where + ": unknown usage '" + std::string(text) + "' (expected R, RIK, O or C)");
}

FieldType parse_type(const std::string& path, const std::string& where, std::string_view text) {
  static constexpr std::pair<std::string_view, FieldType> kTypes[] = {
      {"id", FieldType::kId},         {"org_code", FieldType::kOrgCode},
      {"pin", FieldType::kPin},       {"text", FieldType::kText},
      {"name", FieldType::kName},     {"date", FieldType::kDate},
      {"expiry", FieldType::kExpiry}, {"county", FieldType::kCounty},
      {"zip", FieldType::kZip},       {"phone", FieldType::kPhone},
      {"email", FieldType::kEmail},   {"decimal", FieldType::kDecimal},
      {"npi", FieldType::kNpi},       {"ndc", FieldType::kNdc},
      {"timestamp", FieldType::kTimestamp}, {"lot", FieldType::kLot},
      {"code", FieldType::kCode},
  };
  for (const auto& [name, type] : kTypes)
    if (name == text) return type;
  fail(path, where + ": unknown type '" + std::string(text) +
                 "' (expected id, org_code, pin, text, name, date, expiry, county, zip, phone, "
                 "email, decimal, npi, ndc, timestamp, lot or code)");
}

std::vector<CodeSet> load_code_sets(const std::string& path) {
  const sdk::DataTable table = load_table(path);
  const std::size_t set_column = column_of(table, path, "set");
  const std::size_t code_column = column_of(table, path, "code");
  const std::size_t description_column = column_of(table, path, "description");

  // Rows of one set may be anywhere in the file; keep the sets in first-seen order.
  std::vector<std::pair<std::string, std::vector<CodeSet::Entry>>> grouped;
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = "data row " + std::to_string(row + 1);
    const std::string& set = cells[set_column];
    const std::string& code = cells[code_column];
    if (set.empty() || code.empty()) fail(path, where + ": set and code must both be given");
    if (code.size() > kMaxCodeLength)
      fail(path, where + ": code longer than " + std::to_string(kMaxCodeLength) + " characters");
    auto group = std::find_if(grouped.begin(), grouped.end(),
                              [&set](const auto& g) { return g.first == set; });
    if (group == grouped.end()) group = grouped.insert(grouped.end(), {set, {}});
    for (const auto& existing : group->second)
      if (equals_ignore_case(existing.code, code))
        fail(path, where + ": code '" + code + "' appears twice in set '" + set + "'");
    group->second.push_back({code, cells[description_column]});
  }
  std::vector<CodeSet> sets;
  sets.reserve(grouped.size());
  for (auto& [name, entries] : grouped) sets.emplace_back(name, std::move(entries));
  return sets;
}

RuleParameters load_rule_parameters(const std::string& path) {
  const sdk::DataTable table = load_table(path);
  const std::size_t name_column = column_of(table, path, "parameter");
  const std::size_t value_column = column_of(table, path, "value");
  auto value_of = [&](std::string_view name) -> const std::string& {
    for (const auto& cells : table.rows())
      if (cells[name_column] == name && !cells[value_column].empty()) return cells[value_column];
    fail(path, "parameter '" + std::string(name) + "' is missing or empty");
  };
  auto bad = [&](std::string_view name, std::string_view expected) {
    fail(path, "parameter '" + std::string(name) + "' must be " + std::string(expected));
  };

  RuleParameters rules;
  const auto eua = parse_date(value_of("eua_date"));
  if (!eua) bad("eua_date", "a date YYYY-MM-DD");
  rules.eua_date = *eua;
  std::size_t max_age = 0;
  if (!parse_size(value_of("max_age_years"), max_age) || max_age == 0 || max_age > 200)
    bad("max_age_years", "a whole number of years from 1 to 200");
  rules.max_age_years = static_cast<int>(max_age);
  rules.janssen_cvx = value_of("janssen_cvx");
  rules.janssen_dose_status = value_of("janssen_dose_status");
  rules.refusal_yes = value_of("refusal_yes");
  rules.refused_dose_status = value_of("refused_dose_status");
  const std::string& range = value_of("refusal_fields");
  const std::size_t dash = range.find('-');
  if (dash == std::string::npos ||
      !parse_size(std::string_view(range).substr(0, dash), rules.refusal_first) ||
      !parse_size(std::string_view(range).substr(dash + 1), rules.refusal_last) ||
      rules.refusal_first == 0 || rules.refusal_first > rules.refusal_last)
    bad("refusal_fields", "a position range like 34-43");
  const std::string& race_values = value_of("race_without_extras");
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = race_values.find(',', start);
    const std::string_view item = sdk::trim(std::string_view(race_values).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) rules.race_without_extras.emplace_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  rules.home_state = value_of("home_state");
  rules.home_county_fips_prefix = value_of("home_county_fips_prefix");
  return rules;
}

}  // namespace

namespace {
std::vector<std::string_view> codes_of(const std::vector<CodeSet::Entry>& entries) {
  std::vector<std::string_view> codes;
  for (const auto& entry : entries) codes.emplace_back(entry.code);
  return codes;
}
std::vector<std::string_view> descriptions_of(const std::vector<CodeSet::Entry>& entries) {
  std::vector<std::string_view> descriptions;
  for (const auto& entry : entries)
    descriptions.push_back(entry.description.size() <= kMaxCodeLength ? std::string_view(entry.description)
                                                                        : std::string_view());
  return descriptions;
}
}  // namespace

CodeSet::Index::Index(const std::vector<std::string_view>& keys) {
  std::size_t size = 8;
  while (size < keys.size() * 2) size *= 2;
  slots_.resize(size);
  shift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
  for (std::size_t entry = 0; entry < keys.size(); ++entry) {
    const std::string_view key = keys[entry];
    upper_.push_back(upper_ascii(key));
    if (key.empty()) continue;
    const std::uint64_t prefix = packed_upper(key, 0);
    std::size_t slot = slot_of(prefix, key.size());
    // Keys are unique ignoring case (checked on load), except descriptions: first one wins.
    while (slots_[slot].entry != kEmptySlot) {
      if (slots_[slot].prefix == prefix && upper_[slots_[slot].entry] == upper_.back()) break;
      slot = (slot + 1) & (size - 1);
    }
    if (slots_[slot].entry == kEmptySlot)
      slots_[slot] = Slot{prefix, static_cast<std::uint32_t>(key.size()), static_cast<std::uint32_t>(entry)};
  }
}

std::size_t CodeSet::Index::slot_of(std::uint64_t prefix, std::size_t length) const noexcept {
  return static_cast<std::size_t>(((prefix + length) * 0x9E3779B97F4A7C15ull) >> shift_);
}

std::size_t CodeSet::Index::find(std::string_view value) const noexcept {
  if (value.empty() || value.size() > kMaxCodeLength) return std::string_view::npos;
  const std::uint64_t prefix = packed_upper(value, 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = slot_of(prefix, value.size());; slot = (slot + 1) & mask) {
    const Slot& candidate = slots_[slot];
    if (candidate.entry == kEmptySlot) return std::string_view::npos;
    if (candidate.prefix != prefix || candidate.length != value.size()) continue;
    const std::string& upper = upper_[candidate.entry];
    bool same = true;
    for (std::size_t at = 8; at < value.size() && same; at += 8)
      same = packed_upper(value, at) == packed_upper(upper, at);
    if (same) return candidate.entry;
  }
}

CodeSet::CodeSet(std::string name, std::vector<Entry> entries)
    : name_(std::move(name)),
      entries_(std::move(entries)),
      codes_(codes_of(entries_)),
      descriptions_(descriptions_of(entries_)) {}

std::string_view CodeSet::find_code_or_description(std::string_view value) const noexcept {
  const std::string_view code = find_code(value);
  if (!code.empty()) return code;
  const std::size_t entry = descriptions_.find(value);
  return entry < entries_.size() ? std::string_view(entries_[entry].description) : std::string_view();
}

std::string_view CodeSet::code_of_code_or_description(std::string_view value) const noexcept {
  const std::string_view code = find_code(value);
  if (!code.empty()) return code;
  const std::size_t entry = descriptions_.find(value);
  return entry < entries_.size() ? std::string_view(entries_[entry].code) : std::string_view();
}

LayoutFiles LayoutFiles::in_directory(const std::string& data_dir, std::string_view version) {
  const std::string stem = data_dir + "/ncvr-v" + std::string(version);
  return LayoutFiles{stem + ".tsv", data_dir + "/codesets.tsv", stem + "-rules.tsv"};
}

Layout Layout::load(const LayoutFiles& files) {
  Layout layout;
  layout.code_sets_ = load_code_sets(files.code_sets);
  layout.rules_ = load_rule_parameters(files.rule_parameters);

  const std::string& path = files.layout;
  const sdk::DataTable table = load_table(path);
  const std::size_t pos_column = column_of(table, path, "pos");
  const std::size_t name_column = column_of(table, path, "name");
  const std::size_t usage_column = column_of(table, path, "usage");
  const std::size_t type_column = column_of(table, path, "type");
  const std::size_t max_len_column = column_of(table, path, "max_len");
  const std::size_t code_set_column = column_of(table, path, "code_set");
  const std::size_t canonical_column = column_of(table, path, "canonical");
  const std::size_t expect_column = column_of(table, path, "expect");
  const std::size_t rule_column = column_of(table, path, "rule");

  // At least one canonical column (ndc_as_sent) is derived, never a field of its own.
  constexpr std::size_t kFieldColumns = canonical::kColumns.size() - 1;
  if (table.rows().empty()) fail(path, "the layout has no fields");
  if (table.rows().size() > kFieldColumns)
    fail(path, "the layout has " + std::to_string(table.rows().size()) +
                   " fields; the canonical record holds at most " + std::to_string(kFieldColumns));

  std::vector<bool> canonical_used(canonical::kColumns.size(), false);
  for (std::size_t row = 0; row < table.rows().size(); ++row) {
    const auto& cells = table.rows()[row];
    const std::string where = "field row " + std::to_string(row + 1) + " (" + cells[name_column] + ")";
    FieldSpec field;
    if (!parse_size(cells[pos_column], field.position) || field.position != row + 1)
      fail(path, where + ": pos must be " + std::to_string(row + 1) +
                     " (positions count 1, 2, 3... in file order)");
    field.name = cells[name_column];
    if (field.name.empty()) fail(path, where + ": name is empty");
    for (const FieldSpec& earlier : layout.fields_)
      if (equals_ignore_case(earlier.name, field.name))
        fail(path, where + ": name repeats position " + std::to_string(earlier.position) +
                       " (header names are compared ignoring case)");
    field.usage = parse_usage(path, where, cells[usage_column]);
    field.type = parse_type(path, where, cells[type_column]);
    if (!parse_size(cells[max_len_column], field.max_len) || field.max_len == 0)
      fail(path, where + ": max_len must be a positive whole number");

    const std::string& set_name = cells[code_set_column];
    const bool needs_set = field.type == FieldType::kCode || field.type == FieldType::kCounty;
    if (needs_set && set_name.empty()) fail(path, where + ": type " + cells[type_column] + " needs a code_set");
    if (!needs_set && !set_name.empty())
      fail(path, where + ": code_set is only for types code and county");
    if (needs_set) {
      field.code_set = layout.code_set(set_name);
      if (field.code_set == nullptr)
        fail(path, where + ": code_set '" + set_name + "' is not in " + files.code_sets);
    }

    const std::string& canonical_name = cells[canonical_column];
    const auto found = std::find(canonical::kColumns.begin(), canonical::kColumns.begin() + kFieldColumns,
                                 std::string_view(canonical_name));
    if (found == canonical::kColumns.begin() + kFieldColumns)
      fail(path, where + ": canonical column '" + canonical_name +
                     "' is not a column of the canonical record (canonical_record.hpp)");
    field.canonical_index = static_cast<std::size_t>(found - canonical::kColumns.begin());
    if (canonical_used[field.canonical_index])
      fail(path, where + ": canonical column '" + canonical_name + "' is used by two fields");
    canonical_used[field.canonical_index] = true;

    field.expect = cells[expect_column];
    if (field.expect.empty())
      fail(path, where + ": expect is empty (error messages quote it to say what to send)");
    field.rule = cells[rule_column];
    layout.fields_.push_back(std::move(field));
  }

  const auto& rules = layout.rules_;
  if (rules.refusal_last > layout.fields_.size())
    fail(files.rule_parameters, "refusal_fields ends after the layout's last field");
  return layout;
}

const FieldSpec* Layout::find_field(std::string_view canonical_name) const noexcept {
  for (const FieldSpec& field : fields_)
    if (canonical::kColumns[field.canonical_index] == canonical_name) return &field;
  return nullptr;
}

const CodeSet* Layout::code_set(std::string_view name) const noexcept {
  for (const CodeSet& set : code_sets_)
    if (set.name() == name) return &set;
  return nullptr;
}

}  // namespace vaxetl::ncvr
