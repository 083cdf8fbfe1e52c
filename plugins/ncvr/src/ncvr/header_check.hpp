// The file-level check of an NCVR file's first line (adopted: the first line is the header,
// the layout's field names pipe-delimited, compared ignoring case and surrounding blanks).
#pragma once

#include <optional>
#include <string_view>

#include "ncvr/findings.hpp"
#include "ncvr/layout.hpp"

namespace vaxetl::ncvr {

// `first_line` is the file's first line without its line end, or nullopt when the file has
// no line at all. A UTF-8 byte-order mark is accepted. Returns the error that rejects the
// whole file, or nullopt when the header is right.
std::optional<FileError> check_header(const Layout& layout, std::optional<std::string_view> first_line);

}  // namespace vaxetl::ncvr
