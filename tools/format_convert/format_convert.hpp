// NCVR v7.2 records rewritten as CDC CVRS v2 rows (identified model) or HL7 v2.5.1 VXU^V04
// messages, following docs/canonical-record.md column by column. For tests and benchmarks:
// the input must be valid NCVR (for example ncvr_gen output with --error-rate 0).
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::convert {

enum class Format { Cvrs, Vxu };

struct Options {
  Format format = Format::Cvrs;
  std::string county_codes_path;  // codesets.tsv: NC county name -> FIPS for CVRS/HL7
};

// Converts the NCVR file at `input` (header line first) into `out`. Returns the number of
// records written. Throws std::runtime_error naming the line of a record it cannot convert.
std::size_t convert_file(const std::string& input, std::FILE* out, const Options& options);

// Escapes HL7 delimiters in a value (| ^ ~ \ &) as \F\ \S\ \R\ \E\ \T\.
std::string hl7_escape(std::string_view value);

}  // namespace vaxetl::convert
