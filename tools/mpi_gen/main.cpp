// mpi_gen: writes a synthetic patient population with ground truth (docs/mpi-population.md).
#include <iostream>
#include <string_view>
#include <vector>

#include "cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return vaxetl::mpi_gen::run_cli(args, std::cout, std::cerr);
}
