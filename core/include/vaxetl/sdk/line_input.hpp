// What every source that reads one record per line (NCVR, CVRS) needs around sdk::LineReader:
// opening the input, refusing it whole with a file-level finding, and counting the records a
// refusal left unreturned, so every record of a refused file is accounted for.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "vaxetl/sdk/plugin.hpp"
#include "vaxetl/sdk/text.hpp"

namespace vaxetl::sdk {

class LineInput {
 public:
  // `overlong_code` / `overlong_message`: the finding for a line longer than
  // LineReader::kMaxLine, which means the file is not of this format.
  LineInput(const Host& host, std::string overlong_code, std::string overlong_message)
      : host_(host), overlong_code_(std::move(overlong_code)), overlong_message_(std::move(overlong_message)) {}

  void open(const std::string& path) {
    refused_line_is_record_ = false;
    broken_ = false;
    try {
      reader_ = std::make_unique<LineReader>(path);
    } catch (const std::exception&) {
      throw Error(VAXETL_IO_ERROR, "cannot open the input file for reading");
    }
  }

  // The next line (LF or CRLF stripped); refuses the input on an overlong line.
  bool next(std::string_view& line) {
    try {
      return reader_->next(line);
    } catch (const std::length_error&) {
      broken_ = true;  // the reader cannot resync after an overlong line
      refuse(reader_->line_number() + 1, overlong_code_, overlong_message_, true);
    } catch (const std::runtime_error&) {
      throw Error(VAXETL_IO_ERROR, "read error on the input file");
    }
  }

  // Reports the file-level finding (row = the input line, 0 when none) and throws
  // Error(VAXETL_INVALID_DATA). `line_is_record`: the refused line is itself one of the
  // input's records (a file without a header, an overlong line), so it is counted.
  [[noreturn]] void refuse(uint64_t line, std::string_view code, const std::string& message, bool line_is_record) {
    refused_line_is_record_ = line_is_record;
    std::array<char, 64> code_text{};
    host_.report(static_cast<int64_t>(line), 0, nullptr, copy_terminated(code_text, code), VAXETL_SEVERITY_ERROR,
                 message.c_str());
    throw Error(VAXETL_INVALID_DATA, std::string(code) + ": " + message);
  }

  // After a refusal: the rows built but never returned, the refused line if it was a record,
  // and every non-blank line left. Reading on is fine: the input is refused.
  uint64_t unreturned(int64_t rows_not_returned) {
    uint64_t count = static_cast<uint64_t>(rows_not_returned) + (refused_line_is_record_ ? 1 : 0);
    if (!reader_ || broken_) return count;
    std::string_view line;
    try {
      while (reader_->next(line))
        if (!trim(line).empty()) ++count;
    } catch (const std::exception&) {
      ++count;  // another overlong line; stop counting there
    }
    return count;
  }

  void progress(uint64_t& done, uint64_t& total) const noexcept {
    done = reader_ ? reader_->bytes_consumed() : 0;
    total = reader_ ? reader_->total_bytes() : 0;
  }
  uint64_t line_number() const noexcept { return reader_ ? reader_->line_number() : 0; }
  void close() noexcept { reader_.reset(); }

 private:
  const Host& host_;
  std::string overlong_code_;
  std::string overlong_message_;
  std::unique_ptr<LineReader> reader_;
  bool refused_line_is_record_ = false;
  bool broken_ = false;
};

}  // namespace vaxetl::sdk
