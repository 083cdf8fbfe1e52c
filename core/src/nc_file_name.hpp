// North Carolina's CVMS file names (shared/specs/nc-rules.md, "File names"): which format,
// which environment, corrections or not, whose file, when, which version. Issue 3 routes files
// by them; a name that fits no pattern is refused whole and the file kept.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vaxetl::nc {

enum class FileFormat { Ncvr, Cvrs, Vxu };
// PROD loads production CVMS; PHI (non-PROD) loads the staging store; NOPHI is validated end
// to end but loaded nowhere that matters.
enum class Environment { Prod, PhiStaging, NoPhi };

const char* to_string(FileFormat format) noexcept;
const char* to_string(Environment environment) noexcept;

struct FileName {
  FileFormat format = FileFormat::Ncvr;
  Environment environment = Environment::Prod;
  bool corrections = false;   // NCVR ..._CORRECTIONS_V<n>.txt
  std::string org;            // ORGNAME: upper-case letters and digits, before "COVID"
  std::string timestamp;      // YYYYMMDDHHMMSS as sent (a valid date and time)
  int version = 0;            // the n of V<n>
};

struct FileNameResult {
  std::optional<FileName> name;
  std::string error;  // when !name: what is wrong and which names are accepted
};

// Parses a file name (no directory). Never throws; a name that fits no pattern says why.
FileNameResult parse_file_name(std::string_view file_name);

}  // namespace vaxetl::nc
