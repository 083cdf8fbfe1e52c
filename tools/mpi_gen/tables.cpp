#include "tables.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vaxetl::mpi_gen::detail {

std::uint64_t mix64(std::uint64_t value) {
  value ^= value >> 30;
  value *= 0xBF58476D1CE4E5B9ULL;
  value ^= value >> 27;
  value *= 0x94D049BB133111EBULL;
  value ^= value >> 31;
  return value;
}

Rng::Rng(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter)
    : state_(mix64(mix64(seed ^ 0x5851F42D4C957F2DULL) + stream * 0x9E3779B97F4A7C15ULL) ^
             mix64(counter + 0xD1B54A32D192ED03ULL)) {}

std::uint64_t Rng::next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  return mix64(state_);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::uint64_t Rng::below(std::uint64_t bound) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
}

template <typename T>
void WeightedTable<T>::finish() {
  const std::size_t n = values_.size();
  if (n == 0) throw std::runtime_error("mpi_gen: a frequency table is empty");
  double total = 0;
  for (std::uint64_t weight : weights_) total += static_cast<double>(weight);
  std::vector<double> scaled(n);
  for (std::size_t i = 0; i < n; ++i) scaled[i] = static_cast<double>(weights_[i]) * static_cast<double>(n) / total;
  keep_.assign(n, 1.0);
  alias_.resize(n);
  for (std::size_t i = 0; i < n; ++i) alias_[i] = static_cast<std::uint32_t>(i);
  std::vector<std::size_t> small, large;
  for (std::size_t i = 0; i < n; ++i) (scaled[i] < 1.0 ? small : large).push_back(i);
  while (!small.empty() && !large.empty()) {
    const std::size_t less = small.back();
    small.pop_back();
    const std::size_t more = large.back();
    keep_[less] = scaled[less];
    alias_[less] = static_cast<std::uint32_t>(more);
    scaled[more] -= 1.0 - scaled[less];
    if (scaled[more] < 1.0) {
      large.pop_back();
      small.push_back(more);
    }
  }
  // Whatever is left is 1 up to rounding: keeps its own value.
}

void append_number(std::string& out, std::uint64_t value, int width) {
  char buffer[24];
  int length = 0;
  do {
    buffer[length++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (int i = length; i < width; ++i) out += '0';
  while (length > 0) out += buffer[--length];
}

template class WeightedTable<std::string>;
template class WeightedTable<int>;
template class WeightedTable<std::uint32_t>;

namespace {

std::vector<std::string> read_lines(const std::string& directory, const std::string& name) {
  std::ifstream in(directory + "/" + name);
  if (!in) throw std::runtime_error("mpi_gen: cannot read reference table " + name);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> split(std::string_view line, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(separator, start);
    parts.emplace_back(line.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return std::string(text);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::uint64_t parse_count(const std::string& text, const std::string& table) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size())
    throw std::runtime_error("mpi_gen: malformed count in reference table " + table);
  return value;
}

bool all_letters(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
  });
}

// Header line skipped; each row needs at least `columns` fields.
std::vector<std::vector<std::string>> read_csv(const std::string& directory,
                                               const std::string& name, std::size_t columns) {
  std::vector<std::vector<std::string>> rows;
  const auto lines = read_lines(directory, name);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto fields = split(lines[i], ',');
    if (fields.size() < columns)
      throw std::runtime_error("mpi_gen: row " + std::to_string(i + 1) + " of reference table " +
                               name + " has too few fields");
    rows.push_back(std::move(fields));
  }
  if (rows.empty()) throw std::runtime_error("mpi_gen: reference table " + name + " is empty");
  return rows;
}

}  // namespace

Tables Tables::load(const std::string& directory) {
  Tables tables;

  for (const auto& row : read_csv(directory, "first_names.csv", 3)) {
    const std::size_t sex = row[1] == "F" ? 1 : 0;
    tables.first_names[sex].add(row[0], parse_count(row[2], "first_names.csv"));
    tables.first_name_list[sex].push_back(row[0]);
  }
  if (tables.first_names[0].empty() || tables.first_names[1].empty())
    throw std::runtime_error("mpi_gen: first_names.csv needs names of both sexes");
  tables.first_names[0].finish();
  tables.first_names[1].finish();

  for (const auto& row : read_csv(directory, "surnames.csv", 2)) {
    tables.surnames.add(row[0], parse_count(row[1], "surnames.csv"));
    tables.surname_list.push_back(row[0]);
  }
  tables.surnames.finish();
  for (const auto& row : read_csv(directory, "streets.csv", 2))
    tables.streets.add(row[0], parse_count(row[1], "streets.csv"));
  for (const auto& row : read_csv(directory, "ages.csv", 2))
    tables.ages.add(static_cast<int>(parse_count(row[0], "ages.csv")), parse_count(row[1], "ages.csv"));
  tables.streets.finish();
  tables.ages.finish();

  for (const auto& row : read_csv(directory, "nc_places.csv", 4)) {
    Place place{row[0], split(row[1], ';'), split(row[2], ';')};
    if (place.zips.empty() || place.area_codes.empty() || place.area_codes[0].size() != 3)
      throw std::runtime_error("mpi_gen: malformed row in reference table nc_places.csv");
    tables.places.add(static_cast<std::uint32_t>(tables.place_list.size()),
                      parse_count(row[3], "nc_places.csv"));
    tables.place_list.push_back(std::move(place));
  }
  tables.places.finish();

  for (const auto& row : read_csv(directory, "pseudopeople_nicknames.csv", 2)) {
    auto& list = tables.nicknames[lower(trim(row[0]))];
    for (std::size_t i = 1; i < row.size(); ++i) {
      std::string nickname = lower(trim(row[i]));
      if (all_letters(nickname)) list.push_back(std::move(nickname));
    }
  }

  // A minimal reader for the flat "key:\n- value" YAML of keyboard neighbours.
  {
    char key = 0;
    for (const auto& raw : read_lines(directory, "pseudopeople_qwerty_errors.yaml")) {
      std::string line = trim(raw);
      std::erase(line, '\'');
      if (line.empty() || line[0] == '#') continue;
      if (line.size() == 2 && line[1] == ':') {
        key = line[0];
      } else if (line.size() == 3 && line[0] == '-' && key != 0) {
        const char neighbour = line[2];
        if (std::isalpha(static_cast<unsigned char>(key)) &&
            std::isalpha(static_cast<unsigned char>(neighbour)))
          tables.qwerty_neighbours[static_cast<unsigned char>(std::tolower(key))] +=
              static_cast<char>(std::tolower(neighbour));
      }
    }
  }

  for (const auto& line : read_lines(directory, "pseudopeople_ocr_errors.csv")) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split(line, ',');
    if (fields.size() == 2 && all_letters(fields[0]) && all_letters(fields[1]))
      tables.ocr.emplace_back(fields[0], fields[1]);
  }

  for (const auto& line : read_lines(directory, "pseudopeople_phonetic_variations.csv")) {
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split(line, ',');
    if (fields.size() < 7) continue;
    // Rules with a context condition are left out: the generator applies plain substitutions.
    if (fields[3] != "None" || fields[4] != "None" || fields[5] != "None" || fields[6] != "None")
      continue;
    PhoneticRule rule;
    if (fields[0] == "ALL") rule.where = PhoneticRule::Where::All;
    else if (fields[0] == "START") rule.where = PhoneticRule::Where::Start;
    else if (fields[0] == "END") rule.where = PhoneticRule::Where::End;
    else if (fields[0] == "MIDDLE") rule.where = PhoneticRule::Where::Middle;
    else continue;
    rule.from = lower(fields[1]);
    rule.to = fields[2] == "@" ? std::string() : lower(fields[2]);
    if (!all_letters(rule.from) || (!rule.to.empty() && !all_letters(rule.to))) continue;
    tables.phonetic.push_back(std::move(rule));
  }
  if (tables.phonetic.empty() || tables.ocr.empty())
    throw std::runtime_error("mpi_gen: the phonetic or OCR table has no usable rule");

  // "ALLEE": "ALY" lines: the longest spelling of each abbreviation is its long form.
  for (const auto& line : read_lines(directory, "recordlinker_usps_street_suffixes.json")) {
    const auto parts = split(line, '"');
    if (parts.size() < 5) continue;
    const std::string& spelling = parts[1];
    const std::string& abbreviation = parts[3];
    if (spelling.empty() || abbreviation.empty()) continue;
    // A plural spelling ("PARKWAYS") is not the long form of a singular abbreviation.
    if (spelling.back() == 'S' && abbreviation.back() != 'S') continue;
    auto& long_form = tables.suffix_long_form[abbreviation];
    if (spelling.size() > long_form.size()) long_form = spelling;
  }
  if (tables.suffix_long_form.empty())
    throw std::runtime_error("mpi_gen: recordlinker_usps_street_suffixes.json has no suffix");
  return tables;
}

}  // namespace vaxetl::mpi_gen::detail
