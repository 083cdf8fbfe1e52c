// Names of fields, levels and decisions, master id text, and the model with its text form.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "matcher/matcher_internal.hpp"

namespace vaxetl::mpi {

namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames{
    "first_name", "middle_name", "last_name", "birth_date", "sex", "street",
    "city", "zip", "phone", "email", "ssn", "recipient_id"};

// Level names per field, index = level number (see detail::level).
const std::array<std::vector<std::string_view>, kFieldCount>& level_names() {
  static const std::array<std::vector<std::string_view>, kFieldCount> kNames{{
      {"missing", "exact", "nickname", "jw_92", "phonetic", "jw_85", "middle", "initial",
       "transposed", "disagree"},
      {"missing", "exact", "initial", "jw_85", "disagree"},
      {"missing", "exact", "jw_92", "phonetic", "jw_85", "partial", "transposed", "disagree"},
      {"missing", "exact", "day_month_swap", "one_digit", "year_only", "within_year", "disagree"},
      {"missing", "exact", "disagree"},
      {"missing", "exact", "jw_92", "same_number", "disagree"},
      {"missing", "exact", "jw_92", "jw_85", "disagree"},
      {"missing", "exact", "one_digit", "prefix", "disagree"},
      {"missing", "exact", "one_digit", "last_7", "disagree"},
      {"missing", "exact", "jw_92", "same_user", "disagree"},
      {"missing", "exact", "one_digit", "disagree"},
      {"missing", "exact", "disagree"},
  }};
  return kNames;
}

std::size_t index_of(Field field) { return static_cast<std::size_t>(field); }

// Default m and u per level (index 0 unused), set by hand from typical registry error rates;
// EM replaces them with estimates from the data.
struct DefaultLevels {
  std::vector<double> m, u;
};
const std::array<DefaultLevels, kFieldCount>& default_levels() {
  static const std::array<DefaultLevels, kFieldCount> kDefaults{{
      // first: exact nickname jw_92 phonetic jw_85 middle initial transposed disagree
      {{0, .80, .04, .07, .02, .02, .005, .01, .01, .025},
       {0, .005, .002, .003, .003, .01, .001, .02, .0001, .9559}},
      // middle: exact initial jw_85 disagree
      {{0, .60, .25, .05, .10}, {0, .02, .05, .02, .91}},
      // last: exact jw_92 phonetic jw_85 partial transposed disagree
      {{0, .82, .07, .02, .02, .02, .01, .04}, {0, .002, .002, .002, .008, .001, .0001, .9849}},
      // birth_date: exact day_month_swap one_digit year_only within_year disagree
      {{0, .90, .01, .05, .01, .005, .025}, {0, .00005, .00003, .0005, .012, .015, .97242}},
      // sex
      {{0, .98, .02}, {0, .5, .5}},
      // street: exact jw_92 same_number disagree
      {{0, .70, .10, .05, .15}, {0, .0001, .0002, .005, .9947}},
      // city: exact jw_92 jw_85 disagree
      {{0, .80, .08, .02, .10}, {0, .05, .005, .01, .935}},
      // zip: exact one_digit prefix disagree
      {{0, .80, .05, .05, .10}, {0, .01, .005, .10, .885}},
      // phone: exact one_digit last_7 disagree
      {{0, .75, .05, .02, .18}, {0, .0001, .0002, .0001, .9996}},
      // email: exact jw_92 same_user disagree
      {{0, .80, .05, .03, .12}, {0, .0001, .0002, .0001, .9996}},
      // ssn: exact one_digit disagree
      {{0, .95, .03, .02}, {0, .00001, .00003, .99996}},
      // recipient_id: exact disagree
      {{0, .95, .05}, {0, .0001, .9999}},
  }};
  return kDefaults;
}

double parse_double(std::string_view text, std::string_view what) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    throw std::invalid_argument("MPI model: bad number for " + std::string(what));
  }
  return value;
}

std::uint32_t parse_u32(std::string_view text, std::string_view what) {
  std::uint32_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    throw std::invalid_argument("MPI model: bad count for " + std::string(what));
  }
  return value;
}

std::string format_double(double value) {
  std::array<char, 40> buf{};
  auto [end, error] = std::to_chars(buf.data(), buf.data() + buf.size(), value);  // shortest round-trip
  (void)error;
  return std::string(buf.data(), end);
}

}  // namespace

std::string_view field_name(Field field) { return kFieldNames[index_of(field)]; }

std::optional<Field> field_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

std::string_view level_name(Field field, std::uint8_t level) {
  const auto& names = level_names()[index_of(field)];
  return level < names.size() ? names[level] : std::string_view("unknown");
}

std::size_t level_count(Field field) { return level_names()[index_of(field)].size(); }

std::string format_mpi_id(MasterId id) {
  std::array<char, 24> buf{};
  std::snprintf(buf.data(), buf.size(), "MPI%010llu", static_cast<unsigned long long>(id));
  return buf.data();
}

std::optional<MasterId> parse_mpi_id(std::string_view text) {
  if (text.size() < 4 || text.substr(0, 3) != "MPI") return std::nullopt;
  text.remove_prefix(3);
  MasterId id = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc{} || end != text.data() + text.size() || id == 0) return std::nullopt;
  return id;
}

std::string_view decision_name(Decision decision) {
  switch (decision) {
    case Decision::Linked: return "linked";
    case Decision::New: return "new";
    case Decision::Possible: return "possible";
  }
  return "unknown";
}

Model Model::defaults() {
  Model model;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    model.fields[f].m = default_levels()[f].m;
    model.fields[f].u = default_levels()[f].u;
  }
  return model;
}

std::string Model::to_text() const {
  std::string text = "# vaxetl MPI model 1\n";
  auto setting = [&](std::string_view name, const std::string& value) {
    text.append(name).append(" ").append(value).append("\n");
  };
  setting("prior_match", format_double(prior_match));
  setting("link_threshold", format_double(link_threshold));
  setting("new_threshold", format_double(new_threshold));
  setting("runner_up_margin", format_double(runner_up_margin));
  setting("em_pairs", std::to_string(em_pairs));
  setting("em_iterations", std::to_string(em_iterations));
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    const auto field = static_cast<Field>(f);
    const auto& levels = fields[f];
    for (std::size_t l = 1; l < levels.m.size() && l < levels.u.size(); ++l) {
      text.append("level ").append(field_name(field)).append(" ");
      text.append(level_name(field, static_cast<std::uint8_t>(l))).append(" ");
      text.append(format_double(levels.m[l])).append(" ").append(format_double(levels.u[l])).append("\n");
    }
  }
  return text;
}

Model Model::from_text(std::string_view text) {
  Model model = defaults();
  std::array<std::vector<bool>, kFieldCount> seen;
  for (std::size_t f = 0; f < kFieldCount; ++f) seen[f].assign(model.fields[f].m.size(), false);
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::array<std::string_view, 5> words;
    std::size_t count = 0;
    while (!line.empty()) {
      auto space = line.find(' ');
      if (space != 0) {
        if (count == words.size()) throw std::invalid_argument("MPI model: too many words on line " + std::to_string(line_number));
        words[count++] = line.substr(0, space);
      }
      if (space == std::string_view::npos) break;
      line.remove_prefix(space + 1);
    }
    const std::string_view key = words[0];
    if (key == "level") {
      if (count != 5) throw std::invalid_argument("MPI model: a level line needs 5 words, line " + std::to_string(line_number));
      auto field = field_from_name(words[1]);
      if (!field) throw std::invalid_argument("MPI model: unknown field on line " + std::to_string(line_number));
      const std::size_t f = static_cast<std::size_t>(*field);
      std::size_t level = 0;
      for (std::size_t l = 1; l < level_count(*field); ++l) {
        if (level_name(*field, static_cast<std::uint8_t>(l)) == words[2]) level = l;
      }
      if (level == 0) throw std::invalid_argument("MPI model: unknown level of " + std::string(words[1]) + " on line " + std::to_string(line_number));
      const double m = parse_double(words[3], "m"), u = parse_double(words[4], "u");
      if (m <= 0 || m > 1 || u <= 0 || u > 1) {
        throw std::invalid_argument("MPI model: m and u must be in (0, 1], line " + std::to_string(line_number));
      }
      model.fields[f].m[level] = m;
      model.fields[f].u[level] = u;
      seen[f][level] = true;
      continue;
    }
    if (count != 2) throw std::invalid_argument("MPI model: a setting line needs 2 words, line " + std::to_string(line_number));
    if (key == "prior_match") {
      model.prior_match = parse_double(words[1], key);
      if (model.prior_match <= 0 || model.prior_match >= 1) throw std::invalid_argument("MPI model: prior_match must be in (0, 1)");
    } else if (key == "link_threshold") {
      model.link_threshold = parse_double(words[1], key);
    } else if (key == "new_threshold") {
      model.new_threshold = parse_double(words[1], key);
    } else if (key == "runner_up_margin") {
      model.runner_up_margin = parse_double(words[1], key);
    } else if (key == "em_pairs") {
      model.em_pairs = parse_u32(words[1], key);
    } else if (key == "em_iterations") {
      model.em_iterations = parse_u32(words[1], key);
    } else {
      throw std::invalid_argument("MPI model: unknown setting on line " + std::to_string(line_number));
    }
  }
  (void)seen;  // levels not in the text keep their defaults (a model from an older version)
  return model;
}

}  // namespace vaxetl::mpi
