// Shared helpers for the MLLP tests: a scratch directory and synthetic VXU messages
// (made-up values only; no real person's data).
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <string_view>

namespace mllp_test {

// Concatenation without `"literal" + std::string`, which trips GCC 12's -Wrestrict false
// positive (GCC bug 105329) under -Werror.
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / cat("vaxetl_mllp_test_", std::to_string(rd()), std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string vxu(const std::string& control_id, std::size_t obx_padding = 0) {
  std::string m = "MSH|^~\\&|TESTEHR|TESTCLINIC|NCIR|NCDHHS|20260101120000-0500||VXU^V04^VXU_V04|" +
                  control_id + "|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r";
  m += "PID|1||TEST0001^^^TESTEHR^MR||TESTPATIENT^ALPHA||19800101|F\r";
  m += "ORC|RE||ORD0001^TESTEHR\r";
  m += "RXA|0|1|20210115|20210115|208^COVID-19 PFR^CVX|0.3|mL^mL^UCUM||00^New record^NIP001||||||EL1234||PFR^Pfizer^MVX|||CP|A\r";
  for (std::size_t i = 0; i < obx_padding; ++i)
    m += cat("OBX|", std::to_string(i + 1), "|CE|64994-7^Funding eligibility^LN|1|V01^Not VFC eligible^HL70064||||||F\r");
  return m;
}

}  // namespace mllp_test
