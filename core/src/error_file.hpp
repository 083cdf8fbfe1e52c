// The error file returned to the provider: one line per finding, with the original record so
// it can be fixed and resent. Named per nc-rules.md:
//   <input file name>_YYYY-MM-DD_HH.MM.SS.MSS_error.txt
// Written to a hidden partial file and renamed when complete, so a reader never sees half.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace vaxetl {

class ErrorFileWriter {
 public:
  // Columns of every line, pipe-delimited; the original record is last and may contain pipes.
  static constexpr std::string_view kHeader =
      "line|vax_event_id|field_position|field_name|severity|code|message|original_record";

  // Findings: the pipe-delimited lines below, after kHeader. Replies: a protocol's own replies
  // (HL7 ACKs), written as given, no header.
  enum class Kind { Findings, Replies };

  // `suffix` ends the name: "error" for the file returned to the provider (nc-rules.md),
  // "findings" for the operators' copy kept next to an ACK file.
  ErrorFileWriter(const std::string& directory, const std::string& input_name,
                  Kind kind = Kind::Findings, const std::string& suffix = "error");
  ~ErrorFileWriter();
  ErrorFileWriter(const ErrorFileWriter&) = delete;
  ErrorFileWriter& operator=(const ErrorFileWriter&) = delete;

  // severity: 'E' (record rejected), 'W' (loaded with a warning), 'H' (held).
  void add(uint64_t line, std::string_view vax_event_id, uint32_t field_position,
           std::string_view field_name, char severity, std::string_view code,
           std::string_view message, std::string_view original_record);

  // Replies kind: one reply, written as given, then a line end.
  void add_reply(std::string_view reply);

  uint64_t lines_written() const noexcept { return lines_; }
  // Flushes, renames into place and returns the final path.
  std::string publish();
  const std::string& path() const noexcept { return final_path_; }

  // The file name for an input at a given time (exposed for tests).
  static std::string file_name(const std::string& input_name, int64_t epoch_millis,
                               const std::string& suffix = "error");

 private:
  void append_clean(std::string_view text);

  std::string final_path_;
  std::string partial_path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::string line_;  // reused for every line
  uint64_t lines_ = 0;
  bool published_ = false;
};

}  // namespace vaxetl
