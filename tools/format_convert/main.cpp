// vaxetl_convert --to cvrs|vxu --input NCVR_FILE --output FILE [--codesets PATH]
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "format_convert.hpp"

int main(int argc, char** argv) {
  vaxetl::convert::Options options;
  options.county_codes_path = std::string(VAXETL_NCVR_DATA_DIR) + "/codesets.tsv";
  std::string input, output, to;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--to") to = argv[i + 1];
    else if (flag == "--input") input = argv[i + 1];
    else if (flag == "--output") output = argv[i + 1];
    else if (flag == "--codesets") options.county_codes_path = argv[i + 1];
    else to.clear(), input.clear();
  }
  if ((to != "cvrs" && to != "vxu") || input.empty() || output.empty()) {
    std::fprintf(stderr, "usage: vaxetl_convert --to cvrs|vxu --input NCVR_FILE --output FILE [--codesets PATH]\n");
    return 2;
  }
  options.format = to == "cvrs" ? vaxetl::convert::Format::Cvrs : vaxetl::convert::Format::Vxu;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(output.c_str(), "wb"), &std::fclose);
  if (!out) {
    std::fprintf(stderr, "vaxetl_convert: cannot write %s\n", output.c_str());
    return 1;
  }
  try {
    const std::size_t n = vaxetl::convert::convert_file(input, out.get(), options);
    std::printf("vaxetl_convert: %zu records -> %s (%s)\n", n, output.c_str(), to.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vaxetl_convert: %s\n", e.what());
    return 1;
  }
  return 0;
}
