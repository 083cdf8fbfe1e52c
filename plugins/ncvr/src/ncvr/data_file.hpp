// Reading the small TSV data files a reader ships (layouts, code sets, rules, catalogs), with
// the file's path in every error. Shared by the NCVR and CVRS rule libraries.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ncvr/layout.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {

// Throws LayoutError "<path>: <what>".
[[noreturn]] void fail(const std::string& path, const std::string& what);
// sdk::DataTable::load, a LayoutError naming the file when it cannot be read.
sdk::DataTable load_table(const std::string& path);
// The index of a column, a LayoutError naming the file when it is missing.
std::size_t column_of(const sdk::DataTable& table, const std::string& path, std::string_view name);
// A whole, non-empty decimal number.
bool parse_size(std::string_view text, std::size_t& out);

}  // namespace vaxetl::ncvr
