// Allocation-free text helpers for plugin readers: field splitting, a streaming line reader,
// and a loader for the small tab-separated data files (layouts, catalogs) plugins ship with.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vaxetl::sdk {

// Splits `line` on `delimiter` into `out` (capacity `capacity`). Returns the number of fields
// found, which may exceed `capacity`; only the first `capacity` are stored. A plain byte loop:
// record fields are short, so a memchr call per field costs more than it saves.
inline std::size_t split_fields(std::string_view line, char delimiter, std::string_view* out,
                                std::size_t capacity) noexcept {
  std::size_t count = 0;
  const char* field_start = line.data();
  const char* const end = line.data() + line.size();
  for (const char* p = line.data(); p != end; ++p) {
    if (*p != delimiter) continue;
    if (count < capacity) out[count] = std::string_view(field_start, static_cast<std::size_t>(p - field_start));
    ++count;
    field_start = p + 1;
  }
  if (count < capacity) out[count] = std::string_view(field_start, static_cast<std::size_t>(end - field_start));
  return count + 1;
}

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads a file line by line through one reusable buffer: memory stays bounded by the buffer
// size plus the longest line, whatever the file size. Accepts LF and CRLF line ends; a lone CR
// inside a line is left in place for the caller's validation to flag.
class LineReader {
 public:
  static constexpr std::size_t kDefaultBuffer = std::size_t{1} << 20;
  static constexpr std::size_t kMaxLine = std::size_t{1} << 20;

  explicit LineReader(const std::string& path, std::size_t buffer_size = kDefaultBuffer)
      : file_(std::fopen(path.c_str(), "rb"), &std::fclose), buffer_(buffer_size) {
    if (!file_) throw std::runtime_error("cannot open input file for reading");
    if (std::fseek(file_.get(), 0, SEEK_END) == 0) {
      const long size = std::ftell(file_.get());
      total_bytes_ = size > 0 ? static_cast<std::uint64_t>(size) : 0;
      std::fseek(file_.get(), 0, SEEK_SET);
    }
  }

  // Returns false at end of file. `line` is valid until the next call.
  // Throws std::length_error for a line longer than kMaxLine (a malformed file).
  bool next(std::string_view& line) {
    for (;;) {
      const char* begin = buffer_.data() + head_;
      const std::size_t available = tail_ - head_;
      const void* newline = std::memchr(begin, '\n', available);
      if (newline != nullptr) {
        const std::size_t length = static_cast<const char*>(newline) - begin;
        emit(begin, length, length + 1, line);
        return true;
      }
      if (eof_) {
        if (available == 0) return false;
        emit(begin, available, available, line);
        return true;
      }
      refill();
    }
  }

  std::uint64_t line_number() const noexcept { return line_number_; }
  std::uint64_t bytes_consumed() const noexcept { return bytes_consumed_; }
  std::uint64_t total_bytes() const noexcept { return total_bytes_; }
  // True when the line just returned ended in CRLF.
  bool last_line_had_cr() const noexcept { return last_had_cr_; }

 private:
  void emit(const char* begin, std::size_t length, std::size_t consumed, std::string_view& line) {
    last_had_cr_ = length > 0 && begin[length - 1] == '\r';
    if (last_had_cr_) --length;
    line = std::string_view(begin, length);
    head_ += consumed;
    bytes_consumed_ += consumed;
    ++line_number_;
  }

  void refill() {
    // Move the partial line to the front, grow only when one line fills the whole buffer.
    const std::size_t partial = tail_ - head_;
    if (head_ > 0 && partial > 0) std::memmove(buffer_.data(), buffer_.data() + head_, partial);
    head_ = 0;
    tail_ = partial;
    if (tail_ == buffer_.size()) {
      if (buffer_.size() >= kMaxLine) throw std::length_error("line longer than the maximum");
      buffer_.resize(buffer_.size() * 2);
    }
    const std::size_t got = std::fread(buffer_.data() + tail_, 1, buffer_.size() - tail_, file_.get());
    if (got == 0) {
      if (std::ferror(file_.get())) throw std::runtime_error("read error on input file");
      eof_ = true;
    }
    tail_ += got;
  }

  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::vector<char> buffer_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  bool eof_ = false;
  bool last_had_cr_ = false;
  std::uint64_t line_number_ = 0;
  std::uint64_t bytes_consumed_ = 0;
  std::uint64_t total_bytes_ = 0;
};

// A small tab-separated data file with a header row, read whole (layouts, catalogs, code
// sets: kilobytes, never records). Lines starting with '#' and blank lines are skipped.
class DataTable {
 public:
  static DataTable load(const std::string& path) {
    DataTable table;
    LineReader reader(path, 64 * 1024);
    std::string_view line;
    bool header_seen = false;
    while (reader.next(line)) {
      if (line.empty() || line.front() == '#') continue;
      std::vector<std::string> cells;
      std::size_t start = 0;
      for (;;) {
        const std::size_t end = line.find('\t', start);
        cells.emplace_back(line.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) break;
        start = end + 1;
      }
      if (!header_seen) {
        table.columns_ = std::move(cells);
        header_seen = true;
      } else {
        cells.resize(table.columns_.size());
        table.rows_.push_back(std::move(cells));
      }
    }
    if (!header_seen) throw std::runtime_error("data file has no header row: " + path);
    return table;
  }

  // Index of a column, or throws naming the column that is missing.
  std::size_t column(std::string_view name) const {
    for (std::size_t i = 0; i < columns_.size(); ++i)
      if (columns_[i] == name) return i;
    throw std::runtime_error("data file lacks column '" + std::string(name) + "'");
  }
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  const std::vector<std::vector<std::string>>& rows() const noexcept { return rows_; }

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace vaxetl::sdk
