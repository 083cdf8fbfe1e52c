#include "ncvr/header_check.hpp"

#include <algorithm>
#include <string>

#include "vaxetl/sdk/text.hpp"

namespace vaxetl::ncvr {
namespace {

// A header line is short; more names than this means it is not a header anyway.
constexpr std::size_t kMaxHeaderNames = 256;

FileError file_error(std::string_view code, std::string message) {
  return FileError{code, std::move(message)};
}

std::string expected_header_hint(const Layout& layout) {
  return "send the " + std::to_string(layout.fields().size()) +
         " field names of the NCVR layout separated by '|' as the first line, starting with " +
         layout.fields().front().name;
}

}  // namespace

std::optional<FileError> check_header(const Layout& layout, std::optional<std::string_view> first_line) {
  if (!first_line) return file_error(codes::kFileEmpty, "the file is empty; send a header line and the records");
  std::string_view line = *first_line;
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (line.substr(0, kByteOrderMark.size()) == kByteOrderMark) line.remove_prefix(kByteOrderMark.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  // NUL bytes mean UTF-16 or a binary file; the tab is a delimiter question, asked below.
  bool encoding_ok = line.find('\0') == std::string_view::npos;
  for (std::size_t start = 0; encoding_ok && start <= line.size();) {
    const std::size_t tab = line.find('\t', start);
    const std::size_t end = tab == std::string_view::npos ? line.size() : tab;
    encoding_ok = count_utf8_chars(line.substr(start, end - start)).has_value();
    start = end + 1;
  }
  if (!encoding_ok)
    return file_error(codes::kEncoding,
                      "the header line is not UTF-8 text (NUL bytes or invalid byte sequences); "
                      "save the file as UTF-8 (or plain ASCII) and send it again");

  if (sdk::trim(line).empty())
    return file_error(codes::kHeaderMissing, "the first line is empty; " + expected_header_hint(layout));

  const bool has_pipe = line.find('|') != std::string_view::npos;
  if (!has_pipe && (line.find('\t') != std::string_view::npos || line.find(',') != std::string_view::npos))
    return file_error(codes::kDelimiter,
                      "the header is separated by tabs or commas; NCVR files separate fields with '|'. "
                      "Export the file pipe-delimited");

  std::string_view names[kMaxHeaderNames];
  const std::size_t count = sdk::split_fields(line, '|', names, kMaxHeaderNames);
  const auto& fields = layout.fields();
  const std::size_t compared = std::min({count, fields.size(), kMaxHeaderNames});

  // A first line where no name matches is a record or something else, not a wrong header.
  std::size_t first_mismatch = 0;  // 1-based, 0 = none
  bool any_match = false;
  for (std::size_t i = 0; i < compared; ++i) {
    if (equals_ignore_case(sdk::trim(names[i]), fields[i].name)) {
      any_match = true;
    } else if (first_mismatch == 0) {
      first_mismatch = i + 1;
    }
  }
  if (!any_match) {
    for (std::size_t i = 0; i < std::min(count, kMaxHeaderNames) && !any_match; ++i)
      for (const FieldSpec& field : fields)
        if (equals_ignore_case(sdk::trim(names[i]), field.name)) any_match = true;
  }
  if (!any_match)
    return file_error(codes::kHeaderMissing,
                      "the first line is not an NCVR header; " + expected_header_hint(layout));

  if (first_mismatch != 0)
    return file_error(codes::kHeaderMismatch,
                      "header position " + std::to_string(first_mismatch) + " should be '" +
                          fields[first_mismatch - 1].name + "'; " + expected_header_hint(layout));
  if (count != fields.size())
    return file_error(codes::kHeaderMismatch,
                      "the header has " + std::to_string(count) + " names, expected " +
                          std::to_string(fields.size()) +
                          (count > fields.size() ? "; remove the names after position " +
                                                       std::to_string(fields.size())
                                                 : "; add the names from position " +
                                                       std::to_string(count + 1) + " ('" +
                                                       fields[count].name + "')"));
  return std::nullopt;
}

}  // namespace vaxetl::ncvr
