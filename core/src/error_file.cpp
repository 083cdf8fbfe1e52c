#include "error_file.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace vaxetl {

namespace fs = std::filesystem;

std::string ErrorFileWriter::file_name(const std::string& input_name, int64_t epoch_millis,
                                       const std::string& suffix) {
  const std::time_t seconds = static_cast<std::time_t>(epoch_millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "_%04d-%02d-%02d_%02d.%02d.%02d.%03d_",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, static_cast<int>(epoch_millis % 1000));
  return input_name + stamp + suffix + ".txt";
}

ErrorFileWriter::ErrorFileWriter(const std::string& directory, const std::string& input_name,
                                 Kind kind, const std::string& suffix)
    : file_(nullptr, &std::fclose) {
  fs::create_directories(directory);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string name = file_name(input_name, millis, suffix);
  final_path_ = (fs::path(directory) / name).string();
  partial_path_ = (fs::path(directory) / ("." + name + ".partial")).string();
  file_.reset(std::fopen(partial_path_.c_str(), "wb"));
  if (!file_) throw std::runtime_error("cannot create error file in " + directory);
  if (kind == Kind::Findings) {
    std::fwrite(kHeader.data(), 1, kHeader.size(), file_.get());
    std::fputc('\n', file_.get());
  }
}

ErrorFileWriter::~ErrorFileWriter() {
  if (!published_ && file_) {
    file_.reset();
    std::error_code ec;
    fs::remove(partial_path_, ec);
  }
}

// Delimiters and line ends inside a cell would break the line structure.
void ErrorFileWriter::append_clean(std::string_view text) {
  for (char c : text) line_.push_back((c == '|' || c == '\n' || c == '\r') ? ' ' : c);
}

void ErrorFileWriter::add(uint64_t line, std::string_view vax_event_id, uint32_t field_position,
                          std::string_view field_name, char severity, std::string_view code,
                          std::string_view message, std::string_view original_record) {
  // One buffered fwrite per line: the line is built in a reused buffer, not per character.
  line_.clear();
  char number[24];
  line_.append(number, static_cast<std::size_t>(std::snprintf(number, sizeof(number), "%llu|",
                                                              static_cast<unsigned long long>(line))));
  append_clean(vax_event_id);
  line_.push_back('|');
  if (field_position > 0)
    line_.append(number, static_cast<std::size_t>(std::snprintf(number, sizeof(number), "%u", field_position)));
  line_.push_back('|');
  append_clean(field_name);
  line_.push_back('|');
  line_.push_back(severity);
  line_.push_back('|');
  append_clean(code);
  line_.push_back('|');
  append_clean(message);
  line_.push_back('|');
  for (char c : original_record) line_.push_back(c == '\n' || c == '\r' ? ' ' : c);
  line_.push_back('\n');
  if (std::fwrite(line_.data(), 1, line_.size(), file_.get()) != line_.size())
    throw std::runtime_error("cannot write error file " + final_path_);
  ++lines_;
}

void ErrorFileWriter::add_reply(std::string_view reply) {
  if (std::fwrite(reply.data(), 1, reply.size(), file_.get()) != reply.size() || std::fputc('\n', file_.get()) == EOF)
    throw std::runtime_error("cannot write error file " + final_path_);
  ++lines_;
}

std::string ErrorFileWriter::publish() {
  if (published_) return final_path_;
  if (std::fflush(file_.get()) != 0 || ::fsync(fileno(file_.get())) != 0)
    throw std::runtime_error("cannot write error file " + final_path_);
  file_.reset();
  fs::rename(partial_path_, final_path_);
  published_ = true;
  return final_path_;
}

}  // namespace vaxetl
