// For a plugin's companion tool (`vaxetl NAME` runs bin/vaxetl-NAME): where the shipped
// pipelines keep their files, and where the plugin's data directory is, found the same way from
// the build tree and from an installation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace vaxetl::sdk {

// ${VAXETL_HOME:-var}/<file>, as the shipped pipelines name their stores.
inline std::filesystem::path vaxetl_home_file(std::string_view file) {
  const char* home = std::getenv("VAXETL_HOME");
  return std::filesystem::path(home != nullptr && *home != '\0' ? home : "var") / file;
}

// A store the shipped pipelines name ${VARIABLE:-${VAXETL_HOME:-var}/<file>} (VAXETL_CVMS_STORE,
// VAXETL_MPI_INDEX, ...; docs/database.md): the variable's value, a SQLite path or a PostgreSQL
// URL, when it is set and not empty, else the file under VAXETL_HOME.
inline std::string vaxetl_store_location(const char* variable, std::string_view file) {
  const char* value = std::getenv(variable);
  if (value != nullptr && *value != '\0') return value;
  return vaxetl_home_file(file).string();
}

// A plugin's data directory `relative` (e.g. lib/vaxetl/plugins/mpi-1.0.0): next to this
// executable as in the install tree (bin/../<relative>, which the build tree mirrors), else
// under `install_prefix`; the first that holds every file in `required`.
inline std::optional<std::filesystem::path> find_plugin_data_dir(
    std::string_view relative, std::string_view install_prefix,
    std::initializer_list<std::string_view> required) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path().parent_path() / relative);
  candidates.push_back(fs::path(install_prefix) / relative);
  for (const auto& dir : candidates) {
    bool complete = true;
    for (const std::string_view file : required) complete = complete && fs::exists(dir / file, ec);
    if (complete) return dir;
  }
  return std::nullopt;
}

// Rows as text columns padded to their widest cell, one line each; `right` marks the columns
// to align right (numbers). Companion tools print their listings with it.
inline std::string format_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<std::size_t> width(right.size(), 0);
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      if (c > 0) line += "  ";
      if (right[c]) line.append(pad).append(row[c]);
      else line.append(row[c]).append(c + 1 < row.size() ? pad : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.append(line).append("\n");
  }
  return out;
}

}  // namespace vaxetl::sdk
