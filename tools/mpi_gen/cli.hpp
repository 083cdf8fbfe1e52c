// The mpi_gen command line, in the library so the tests run exactly what the tool runs.
#pragma once

#include <iosfwd>
#include <span>
#include <string_view>

namespace vaxetl::mpi_gen {

// Exit codes (sysexits): 0 done, 64 bad arguments, 66 reference tables unreadable,
// 73 an output file cannot be created, 74 a write failed. Messages go to `err` and never hold
// a record value; `out` gets --help.
int run_cli(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace vaxetl::mpi_gen
