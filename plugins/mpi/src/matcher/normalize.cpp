// Reference tables and the normalization of each field of an incoming record.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "matcher/matcher_internal.hpp"

namespace vaxetl::mpi {

bool ReferenceTables::is_placeholder(std::string_view kind, std::string_view normalized) const {
  auto it = placeholders.find(kind);
  return it != placeholders.end() && it->second.find(normalized) != it->second.end();
}

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("MPI reference table missing: " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// A JSON object of string -> string, keys and values folded to upper case.
std::vector<std::pair<std::string, std::string>> read_json_pairs(const std::string& path) {
  Poco::JSON::Parser parser;
  auto object = parser.parse(read_whole(path)).extract<Poco::JSON::Object::Ptr>();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [key, value] : *object) {
    std::string k, v;
    detail::fold_upper(key, k, true);
    detail::fold_upper(value.convert<std::string>(), v, true);
    if (!k.empty() && !v.empty()) pairs.emplace_back(std::move(k), std::move(v));
  }
  std::sort(pairs.begin(), pairs.end());  // JSON object order is not guaranteed
  return pairs;
}

}  // namespace

std::shared_ptr<const ReferenceTables> load_reference_tables(const std::string& data_dir) {
  auto tables = std::make_shared<ReferenceTables>();
  const std::string dir = data_dir.empty() || data_dir.back() == '/' ? data_dir : data_dir + "/";

  // Nicknames: one group per row (a name and its nicknames); a name may be in several groups.
  {
    const std::string text = read_whole(dir + "pseudopeople_nicknames.csv");
    auto lines = split_lines(text);
    std::uint32_t group = 0;
    std::string folded;
    for (std::size_t i = 1; i < lines.size(); ++i) {  // line 0 is the header
      std::string_view line = lines[i];
      bool any = false;
      while (true) {
        auto comma = line.find(',');
        detail::fold_upper(line.substr(0, comma), folded, false);
        if (!folded.empty()) {
          auto& groups = tables->nickname_groups[folded];
          if (groups.empty() || groups.back() != group) groups.push_back(group);
          any = true;
        }
        if (comma == std::string_view::npos) break;
        line.remove_prefix(comma + 1);
      }
      if (any) ++group;
    }
    tables->nickname_group_count = group;
  }

  for (auto& [from, to] : read_json_pairs(dir + "recordlinker_usps_street_suffixes.json")) {
    tables->street_suffixes.emplace(from, to);
    tables->street_suffixes.emplace(to, to);
  }
  for (auto& [name, code] : read_json_pairs(dir + "recordlinker_states.json")) {
    tables->states.emplace(name, code);
    tables->states.emplace(code, code);
  }
  for (auto& [from, to] : read_json_pairs(dir + "recordlinker_suffixes.json")) {
    tables->name_suffixes.insert(from);
    tables->name_suffixes.insert(to);
  }
  // Generational suffixes the recordlinker table does not list.
  for (const char* suffix : {"JR", "SR", "JNR", "SNR", "II", "III", "IV", "2ND", "3RD", "4TH"}) {
    tables->name_suffixes.insert(suffix);
  }
  const std::array<std::pair<const char*, const char*>, 12> directionals{{
      {"NORTH", "N"}, {"SOUTH", "S"}, {"EAST", "E"}, {"WEST", "W"}, {"NORTHEAST", "NE"},
      {"NORTHWEST", "NW"}, {"SOUTHEAST", "SE"}, {"SOUTHWEST", "SW"}, {"NE", "NE"}, {"NW", "NW"},
      {"SE", "SE"}, {"SW", "SW"}}};
  for (auto [from, to] : directionals) tables->directionals.emplace(from, to);
  for (const char* unit : {"APT", "APARTMENT", "UNIT", "STE", "SUITE", "RM", "ROOM", "FL", "FLOOR",
                           "BLDG", "BUILDING", "LOT", "SPC", "SPACE", "TRLR", "DEPT", "OFC"}) {
    tables->unit_designators.emplace(unit, unit);
  }

  {
    const std::string text = read_whole(dir + "mpi_placeholders.tsv");
    for (std::string_view line : split_lines(text)) {
      if (line.empty() || line.front() == '#') continue;
      auto tab = line.find('\t');
      if (tab == std::string_view::npos) continue;
      tables->placeholders[std::string(line.substr(0, tab))].emplace(line.substr(tab + 1));
    }
  }
  return tables;
}

namespace detail {

namespace {

// Latin-1 code points U+00C0..U+00FF folded to ASCII upper case ("" = drop).
constexpr std::array<const char*, 64> kLatin1Fold{
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    "D", "N", "O", "O", "O", "O", "O", "",  "O", "U", "U", "U", "U", "Y", "TH", "SS",
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    "D", "N", "O", "O", "O", "O", "O", "",  "O", "U", "U", "U", "U", "Y", "TH", "Y"};

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void keep_digits(std::string_view in, std::string& out) {
  out.clear();
  for (char c : in) {
    if (c >= '0' && c <= '9') out.push_back(c);
  }
}

// Calls visit(token) for each space-separated token of an already folded value.
template <typename Visit>
void for_each_token(std::string_view text, Visit&& visit) {
  while (!text.empty()) {
    auto space = text.find(' ');
    visit(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
}

bool reject(std::string& out) {
  out.clear();
  return false;
}

// Shared by the three name fields: folded letters, suffix tokens dropped (into `suffix` when
// given), digits dropped, placeholders rejected.
// Symbols that are noise inside a word (OCR, keying), unlike separators (space, hyphen, comma,
// period, slash): they join the letters around them.
bool is_noise_symbol(char c) {
  return c == ':' || c == ';' || c == '<' || c == '>' || c == '|' || c == '[' || c == ']' ||
         c == '{' || c == '}' || c == '^' || c == '~' || c == '*' || c == '"' || c == '!' || c == '?';
}

// A digit inside a name is a misread letter (J0HN, LOPE2, CHARLE5).
char letter_for_digit(char c) {
  static constexpr std::array<char, 10> kLetters{'O', 'I', 'Z', 'E', 'A', 'S', 'G', 'T', 'B', 'G'};
  return kLetters[static_cast<std::size_t>(c - '0')];
}

bool normalize_name(std::string_view in, const ReferenceTables& tables, std::string& out,
                    std::string* suffix) {
  thread_local std::string folded;
  thread_local std::string cleaned;
  cleaned.clear();
  for (char c : in) {
    if (!is_noise_symbol(c)) cleaned.push_back(c);
  }
  fold_upper(cleaned, folded, true);
  out.clear();
  if (suffix) suffix->clear();
  if (folded.empty()) return false;
  // Collect tokens; a suffix token is only a suffix after another token.
  std::array<std::string_view, 16> tokens;
  std::size_t count = 0;
  for_each_token(folded, [&](std::string_view token) {
    if (count < tokens.size()) tokens[count++] = token;
  });
  while (count > 1 && tables.name_suffixes.count(tokens[count - 1]) != 0) {
    if (suffix && suffix->empty()) suffix->assign(tokens[count - 1]);
    --count;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t before = out.size();
    if (!out.empty()) out.push_back(' ');
    const std::size_t letters_from = out.size();
    bool has_letter = false;
    for (char c : tokens[i]) has_letter = has_letter || (c >= 'A' && c <= 'Z');
    if (!has_letter) {  // digits only: not a name part
      out.resize(before);
      continue;
    }
    for (char c : tokens[i]) out.push_back(c >= '0' && c <= '9' ? letter_for_digit(c) : c);
    if (out.size() == letters_from) out.resize(before);
  }
  if (out.empty()) return false;
  if (tables.is_placeholder("name", out)) return reject(out);
  auto space = out.find(' ');
  if (space != std::string::npos &&
      tables.is_placeholder("name_prefix", std::string_view(out).substr(0, space))) {
    return reject(out);
  }
  return true;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return kDays[static_cast<std::size_t>(month - 1)];
}

}  // namespace

int digits_value(std::string_view digits) noexcept {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

void fold_upper(std::string_view in, std::string& out, bool keep_digits_in) {
  out.clear();
  bool pending_space = false;
  auto put = [&](char c) {
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto byte = static_cast<unsigned char>(in[i]);
    if (byte >= 'a' && byte <= 'z') {
      put(static_cast<char>(byte - 'a' + 'A'));
    } else if (byte >= 'A' && byte <= 'Z') {
      put(static_cast<char>(byte));
    } else if (byte >= '0' && byte <= '9') {
      if (keep_digits_in) {
        put(static_cast<char>(byte));
      } else {
        pending_space = true;
      }
    } else if (byte == '\'' || byte == '`') {
      // O'BRIEN -> OBRIEN: an apostrophe joins.
    } else if (byte < 0x80) {
      pending_space = true;
    } else {
      // UTF-8 two-byte Latin-1 (C3 80..BF), or a raw Latin-1 byte (C0..FF not followed by a
      // continuation byte). Other code points become separators.
      unsigned code = 0;
      const bool next_is_continuation =
          i + 1 < in.size() && (static_cast<unsigned char>(in[i + 1]) & 0xC0) == 0x80;
      if ((byte == 0xC3 || byte == 0xC2) && next_is_continuation) {
        code = ((byte & 0x1Fu) << 6) | (static_cast<unsigned char>(in[i + 1]) & 0x3Fu);
        ++i;
      } else if (byte >= 0xC0 && !next_is_continuation) {
        code = byte;
      } else if (byte == 0xE2 && i + 2 < in.size() && static_cast<unsigned char>(in[i + 1]) == 0x80 &&
                 (static_cast<unsigned char>(in[i + 2]) == 0x98 ||
                  static_cast<unsigned char>(in[i + 2]) == 0x99)) {
        i += 2;  // typographic apostrophe: joins like '
        continue;
      } else {
        // Skip the rest of a multi-byte sequence.
        while (i + 1 < in.size() && (static_cast<unsigned char>(in[i + 1]) & 0xC0) == 0x80) ++i;
        pending_space = true;
        continue;
      }
      if (code >= 0xC0 && code <= 0xFF) {
        const char* folded = kLatin1Fold[code - 0xC0];
        if (*folded == '\0') {
          pending_space = true;
        } else {
          for (const char* p = folded; *p; ++p) put(*p);
        }
      } else {
        pending_space = true;
      }
    }
  }
}

bool normalize_first_name(std::string_view in, const ReferenceTables& tables, std::string& out) {
  return normalize_name(in, tables, out, nullptr);
}

bool normalize_middle_name(std::string_view in, const ReferenceTables& tables, std::string& out) {
  return normalize_name(in, tables, out, nullptr);
}

bool normalize_last_name(std::string_view in, const ReferenceTables& tables, std::string& out,
                         std::string& suffix) {
  return normalize_name(in, tables, out, &suffix);
}

bool normalize_date(std::string_view in, const ReferenceTables& tables, std::string& out) {
  out.clear();
  // Trim, then drop a time part ("T..." or " ...").
  while (!in.empty() && (in.front() == ' ' || in.front() == '\t')) in.remove_prefix(1);
  while (!in.empty() && (in.back() == ' ' || in.back() == '\t' || in.back() == '\r')) in.remove_suffix(1);
  if (in.size() > 10 && (in[10] == 'T' || in[10] == ' ')) in = in.substr(0, 10);
  std::string_view y, m, d;
  if (in.size() == 8 && all_digits(in)) {
    y = in.substr(0, 4), m = in.substr(4, 2), d = in.substr(6, 2);
  } else if (in.size() == 10 && (in[4] == '-' || in[4] == '/') && in[7] == in[4]) {
    y = in.substr(0, 4), m = in.substr(5, 2), d = in.substr(8, 2);
  } else if (in.size() == 10 && (in[2] == '/' || in[2] == '-') && in[5] == in[2]) {
    m = in.substr(0, 2), d = in.substr(3, 2), y = in.substr(6, 4);  // MM/DD/YYYY (US)
  } else {
    return false;
  }
  if (!all_digits(y) || !all_digits(m) || !all_digits(d)) return false;
  const int year = digits_value(y), month = digits_value(m), day = digits_value(d);
  if (year < 1870 || year > 2100 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month)) {
    return false;
  }
  out.append(y).append(m).append(d);
  if (tables.is_placeholder("date", out)) return reject(out);
  return true;
}

bool normalize_sex(std::string_view in, std::string& out) {
  thread_local std::string folded;
  fold_upper(in, folded, false);
  out.clear();
  if (folded == "M" || folded == "MALE" || folded == "MAN" || folded == "BOY") {
    out = "M";
  } else if (folded == "F" || folded == "FEMALE" || folded == "WOMAN" || folded == "GIRL") {
    out = "F";
  }
  return !out.empty();
}

bool normalize_phone(std::string_view in, const ReferenceTables& tables, std::string& out) {
  // An extension ("x123", "ext 123") is not part of the number.
  auto ext = in.find_first_of("xX");
  if (ext != std::string_view::npos) in = in.substr(0, ext);
  keep_digits(in, out);
  if (out.size() == 11 && out.front() == '1') out.erase(0, 1);
  if (out.size() != 10) return reject(out);
  if (tables.is_placeholder("phone", out)) return reject(out);
  return true;
}

bool normalize_zip(std::string_view in, const ReferenceTables& tables, std::string& out) {
  // A letter among digits is a misread digit (286q7, 28l73): O->0, I/L->1, Z->2, S->5, G/Q->9, B->8.
  thread_local std::string read;
  read.clear();
  for (char c : in) {
    const char u = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    switch (u) {
      case 'O': read.push_back('0'); break;
      case 'I': case 'L': read.push_back('1'); break;
      case 'Z': read.push_back('2'); break;
      case 'S': read.push_back('5'); break;
      case 'B': read.push_back('8'); break;
      case 'G': case 'Q': read.push_back('9'); break;
      default: read.push_back(c);
    }
  }
  keep_digits(read, out);
  if (out.size() == 9) out.resize(5);                   // ZIP+4
  if (out.size() == 4) out.insert(out.begin(), '0');    // a spreadsheet dropped the leading zero
  if (out.size() != 5) return reject(out);
  if (tables.is_placeholder("zip", out)) return reject(out);
  return true;
}

bool normalize_street(std::string_view in, const ReferenceTables& tables, std::string& out) {
  thread_local std::string folded;
  fold_upper(in, folded, true);
  out.clear();
  if (folded.empty()) return false;
  std::array<std::string_view, 24> tokens;
  std::size_t count = 0;
  bool cut = false;
  for_each_token(folded, [&](std::string_view token) {
    if (cut || count == tokens.size()) return;
    // A unit designator ends the street (APT 4, SUITE 200); never the first token.
    if (count > 0 && tables.unit_designators.count(token) != 0) {
      cut = true;
      return;
    }
    tokens[count++] = token;
  });
  // P O BOX / POBOX -> PO BOX
  std::array<std::string_view, 24> merged;
  std::size_t n = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (tokens[i] == "P" && i + 1 < count && tokens[i + 1] == "O") {
      merged[n++] = "PO";
      ++i;
    } else if (tokens[i] == "POBOX") {
      merged[n++] = "PO";
      merged[n++] = "BOX";
    } else if (tokens[i] == "POST" && i + 2 < count && tokens[i + 1] == "OFFICE" && tokens[i + 2] == "BOX") {
      merged[n++] = "PO";
    } else {
      merged[n++] = tokens[i];
    }
  }
  // The house number is a leading token that starts with a digit.
  const std::size_t first_name_token =
      n > 0 && merged[0].front() >= '0' && merged[0].front() <= '9' ? 1 : 0;
  // The suffix is the last token, or the one before a trailing directional.
  std::size_t last = n;
  if (last > first_name_token + 1 && tables.directionals.count(merged[last - 1]) != 0) --last;
  for (std::size_t i = 0; i < n; ++i) {
    std::string_view token = merged[i];
    const bool is_name_part = i >= first_name_token;
    // Map directionals only where there are other name tokens (NORTH ST stays NORTH ST).
    if (is_name_part && (i == first_name_token || i + 1 == n) && n - first_name_token > 2) {
      auto dir = tables.directionals.find(token);
      if (dir != tables.directionals.end()) token = dir->second;
    }
    if (is_name_part && i + 1 == last && last - first_name_token >= 2) {
      auto suffix = tables.street_suffixes.find(token);
      if (suffix != tables.street_suffixes.end()) token = suffix->second;
    }
    if (!out.empty()) out.push_back(' ');
    out.append(token);
  }
  if (out.empty() || tables.is_placeholder("street", out)) return reject(out);
  return true;
}

bool normalize_city(std::string_view in, const ReferenceTables& tables, std::string& out) {
  thread_local std::string folded;
  fold_upper(in, folded, false);
  out.clear();
  for_each_token(folded, [&](std::string_view token) {
    if (token == "SAINT") token = "ST";
    else if (token == "FORT") token = "FT";
    else if (token == "MOUNT") token = "MT";
    if (!out.empty()) out.push_back(' ');
    out.append(token);
  });
  if (out.empty() || tables.is_placeholder("city", out)) return reject(out);
  return true;
}

bool normalize_state(std::string_view in, const ReferenceTables& tables, std::string& out) {
  thread_local std::string folded;
  fold_upper(in, folded, false);
  out.clear();
  auto it = tables.states.find(folded);
  if (it == tables.states.end()) return false;
  out = it->second;
  return true;
}

bool normalize_email(std::string_view in, const ReferenceTables& tables, std::string& out) {
  out.clear();
  for (char c : in) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '<' || c == '>') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (out.rfind("mailto:", 0) == 0) out.erase(0, 7);
  const auto at = out.find('@');
  if (at == std::string::npos || at == 0 || out.find('@', at + 1) != std::string::npos ||
      out.find('.', at) == std::string::npos || out.back() == '.') {
    return reject(out);
  }
  if (tables.is_placeholder("email", out) ||
      tables.is_placeholder("email_user", std::string_view(out).substr(0, at))) {
    return reject(out);
  }
  return true;
}

bool normalize_ssn(std::string_view in, const ReferenceTables& tables, std::string& out) {
  out.clear();
  for (char c : in) {
    if (c >= '0' && c <= '9') {
      out.push_back(c);
    } else if (c != '-' && c != ' ' && c != '.') {
      return reject(out);  // letters or masks (XXX-XX-1234) are not an SSN
    }
  }
  // A spreadsheet may have dropped leading zeros.
  if (out.size() == 7 || out.size() == 8) out.insert(0, 9 - out.size(), '0');
  if (out.size() != 9) return reject(out);
  // Never issued: area 000, 666 or 9xx; group 00; serial 0000.
  const std::string_view ssn = out;
  if (ssn.substr(0, 3) == "000" || ssn.substr(0, 3) == "666" || ssn[0] == '9' ||
      ssn.substr(3, 2) == "00" || ssn.substr(5, 4) == "0000") {
    return reject(out);
  }
  if (tables.is_placeholder("ssn", out)) return reject(out);
  return true;
}

bool normalize_recipient_id(std::string_view source, std::string_view id,
                            const ReferenceTables& tables, std::string& out) {
  thread_local std::string folded_id;
  out.clear();
  // Ids keep their digits and letters; separators inside them do not matter.
  folded_id.clear();
  for (char c : id) {
    if (c >= 'a' && c <= 'z') folded_id.push_back(static_cast<char>(c - 'a' + 'A'));
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) folded_id.push_back(c);
    else if (c == ' ' && !folded_id.empty() && folded_id.back() != ' ') folded_id.push_back(' ');
  }
  while (!folded_id.empty() && folded_id.back() == ' ') folded_id.pop_back();
  if (folded_id.empty() || tables.is_placeholder("recipient_id", folded_id)) return false;
  for (char c : source) {
    if (c >= 'a' && c <= 'z') out.push_back(static_cast<char>(c - 'a' + 'A'));
    else if (c != ' ' && c != '\t' && c != '|') out.push_back(c);
  }
  out.push_back('|');
  out.append(folded_id);
  return true;
}

}  // namespace detail
}  // namespace vaxetl::mpi
