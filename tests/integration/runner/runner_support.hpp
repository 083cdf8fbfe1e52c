// The input the runner tests feed through lines -> upper -> capture, with what should become
// of every line, so expected counts, captured rows and error-file lines are derived from one
// table.
#pragma once

#include <string>
#include <vector>

#include "ledger.hpp"
#include "vaxetl_test_support.hpp"

namespace vaxetl::test {

struct ExpectedFinding {
  char severity;  // E, W, H
  std::string code;
  std::string message;
};

struct InputLine {
  std::string text;
  enum Fate { kLoaded, kRejected, kHeld } fate;
  std::vector<ExpectedFinding> findings;  // in the order stages report them
};

inline const ExpectedFinding kBad{'E', "FIXTURE_BAD", "the value is marked BAD"};
inline const ExpectedFinding kWarn{'W', "FIXTURE_WARN", "the value is marked WARN"};
inline const ExpectedFinding kHold{'H', "FIXTURE_HOLD", "the value is marked HOLD"};
inline const ExpectedFinding kSinkReject{'E', "FIXTURE_SINK_REJECT", "the sink refuses this value"};

// A mix of every fate; line numbers are positions in this list (1-based).
inline std::vector<InputLine> mixed_input() {
  return {
      {"E01 alpha", InputLine::kLoaded, {}},
      {"E02 this is BAD", InputLine::kRejected, {kBad}},
      {"E03 WARN but fine", InputLine::kLoaded, {kWarn}},
      {"E04 HOLD for review", InputLine::kHeld, {kHold}},
      {"E05 SINKREJECT", InputLine::kRejected, {kSinkReject}},
      {"E06 BAD and HOLD", InputLine::kRejected, {kBad, kHold}},  // rejection wins
      {"E07 WARN|pipes|stay in the record", InputLine::kLoaded, {kWarn}},
      {"E08 WARN and HOLD", InputLine::kHeld, {kWarn, kHold}},
      {"E09", InputLine::kLoaded, {}},  // value null
      {"E10 mixed Case", InputLine::kLoaded, {}},
      {"E11 BAD", InputLine::kRejected, {kBad}},
      {"E12 HOLD", InputLine::kHeld, {kHold}},
      {"E13 omega", InputLine::kLoaded, {}},
  };
}

inline std::string join_input(const std::vector<InputLine>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.text + "\n";
  return text;
}

inline RunCounts expected_counts(const std::vector<InputLine>& lines) {
  RunCounts c;
  for (const auto& l : lines) {
    ++c.received;
    if (l.fate == InputLine::kLoaded) ++c.loaded;
    if (l.fate == InputLine::kRejected) ++c.rejected;
    if (l.fate == InputLine::kHeld) ++c.held;
    for (const auto& f : l.findings) c.warnings += f.severity == 'W';
  }
  return c;
}

inline std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// The capture file the sink should write for the loaded lines.
inline std::vector<std::string> expected_capture(const std::vector<InputLine>& lines) {
  std::vector<std::string> out = {"_record_no\tvax_event_id\tvalue\tvalue_upper"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].fate != InputLine::kLoaded) continue;
    const std::string& text = lines[i].text;
    const auto space = text.find(' ');
    const std::string id = text.substr(0, space);
    const std::string value = space == std::string::npos ? "" : text.substr(space + 1);
    out.push_back(std::to_string(i + 1) + "\t" + id + "\t" + value + "\t" + upper(value));
  }
  return out;
}

// The error file: header, then one line per finding in line order.
inline std::vector<std::string> expected_error_file(const std::vector<InputLine>& lines) {
  std::vector<std::string> out = {
      "line|vax_event_id|field_position|field_name|severity|code|message|original_record"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& text = lines[i].text;
    const std::string id = text.substr(0, text.find(' '));
    for (const auto& f : lines[i].findings)
      out.push_back(std::to_string(i + 1) + "|" + id + "|2|value|" + std::string(1, f.severity) +
                    "|" + f.code + "|" + f.message + "|" + text);
  }
  return out;
}

}  // namespace vaxetl::test
