// Shared by the MPI matcher tests: the reference tables from the plugin's data directory.
#pragma once

#include <memory>

#include "matcher/matcher.hpp"
#include "matcher/matcher_internal.hpp"

namespace vaxetl::mpi::test {

inline std::shared_ptr<const ReferenceTables> tables() {
  static const auto loaded = load_reference_tables(VAXETL_MPI_DATA_DIR);
  return loaded;
}

}  // namespace vaxetl::mpi::test
