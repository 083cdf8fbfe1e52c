// Migration files of the host's own components, built into the binary at compile time from
// core/migrations/<component>/<backend>/, so an installed vaxetl needs no data directory.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "db/migrations.hpp"

namespace vaxetl::db {

// The components built in ("ledger").
std::vector<std::string> built_in_components();

// The component's files for the backend, in version order. Throws std::invalid_argument for a
// component that is not built in.
std::vector<MigrationFile> built_in_migrations(std::string_view component, Backend backend);

}  // namespace vaxetl::db
