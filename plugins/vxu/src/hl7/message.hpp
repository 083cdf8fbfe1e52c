// A zero-copy HL7 v2 parser. A Message indexes one message's segments and fields once, into
// vectors it reuses from message to message; every accessor returns a view into the caller's
// input, which must outlive the Message. Components, repetitions and subcomponents are split
// on demand (they are short, so scanning beats indexing them all), and escape sequences are
// decoded only when a caller asks, into a buffer the caller owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vaxetl::hl7 {

// The separators a message declares in MSH-1 and MSH-2.
struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
};

// The `n`th (1-based) piece of `text` split on `separator`; empty when there are fewer pieces.
std::string_view nth_piece(std::string_view text, char separator, std::size_t n) noexcept;
// How many pieces `text` has when split on `separator` (an empty text has one, empty, piece).
std::size_t piece_count(std::string_view text, char separator) noexcept;

// Decodes the escape sequences of `raw` into `out` and returns the decoded text. The F, S, T,
// R and E sequences become the delimiter they name and X the bytes its hex digits spell;
// formatting and character-set sequences (.br, H, N, Cxxyy ...) and malformed ones are copied
// unchanged.
// Decoding never lengthens text, so `out` needs raw.size() bytes; if it is smaller the result
// is truncated to out.size().
std::string_view unescape(std::string_view raw, const Delimiters& delimiters,
                          std::span<char> out) noexcept;

// Writes `text` with the delimiters escaped, for building messages. Returns the bytes needed;
// writes nothing beyond out.size().
std::size_t escape(std::string_view text, const Delimiters& delimiters, std::span<char> out) noexcept;

// A field, a repetition, a component or a subcomponent, still escaped. Asking a field for a
// component means its first repetition's component, as HL7 reads a non-repeating value.
class Value {
 public:
  Value() = default;
  Value(std::string_view raw, const Delimiters* delimiters) noexcept
      : raw_(raw), delimiters_(delimiters) {}

  std::string_view raw() const noexcept { return raw_; }
  bool empty() const noexcept { return raw_.empty(); }
  // HL7's explicit null `""` (delete the stored value); the IG says not to send it.
  bool is_null_marker() const noexcept { return raw_ == "\"\""; }

  std::size_t repetition_count() const noexcept;
  Value repetition(std::size_t n) const noexcept;  // 1-based
  Value component(std::size_t n) const noexcept;   // 1-based, of the first repetition
  Value subcomponent(std::size_t n) const noexcept;  // 1-based, of the first component
  // Shorthand for component(c).subcomponent(s).
  Value at(std::size_t c, std::size_t s) const noexcept { return component(c).subcomponent(s); }

  // The unescaped text: the raw view itself when it holds no escape character (no copy),
  // otherwise decoded into `buffer` (which needs raw().size() bytes).
  std::string_view text(std::span<char> buffer) const noexcept;
  bool has_escape() const noexcept;

 private:
  std::string_view first_repetition() const noexcept;

  std::string_view raw_;
  const Delimiters* delimiters_ = nullptr;
};

// Where a segment sits in a message and which of its fields the index holds.
struct SegmentEntry {
  std::string_view text;   // the whole segment, without its terminator
  std::uint32_t first_field = 0;  // index into the message's field table of the segment id
  std::uint32_t field_count = 0;  // number of fields, not counting the id
  std::uint32_t occurrence = 0;   // 1-based: the how-manieth segment with this id
};

class Message;

class Segment {
 public:
  Segment(const Message* message, std::size_t index) noexcept : message_(message), index_(index) {}
  std::string_view id() const noexcept;
  std::string_view text() const noexcept;
  std::size_t index() const noexcept { return index_; }
  // The n-th segment with this id (ERR location "sequence").
  std::size_t occurrence() const noexcept;
  // Number of fields present (trailing empty fields may be omitted by senders).
  std::size_t field_count() const noexcept;
  // Field n, 1-based as HL7 numbers it: MSH-1 is the field separator, MSH-2 the encoding
  // characters. An absent field is empty.
  Value field(std::size_t n) const noexcept;

 private:
  const Message* message_;
  std::size_t index_;
};

// One parsed message. Reuse one object for many messages: its vectors keep their capacity.
class Message {
 public:
  enum class Status : std::uint8_t {
    kOk,
    kEmpty,          // no segment at all
    kNoMsh,          // the first segment is not MSH
    kBadDelimiters,  // MSH-1/MSH-2 missing or repeated characters
  };

  // Indexes `text`: segments end with CR, LF or CRLF (mixed within a message is accepted) and
  // blank lines are skipped; a UTF-8 BOM before MSH is skipped. Delimiters come from MSH.
  // On a status other than kOk the index is empty.
  Status parse(std::string_view text);

  const Delimiters& delimiters() const noexcept { return delimiters_; }
  std::string_view text() const noexcept { return text_; }
  std::size_t segment_count() const noexcept { return segments_.size(); }
  Segment segment(std::size_t index) const noexcept { return Segment(this, index); }
  // The first segment with `id` at or after `from`, or segment_count().
  std::size_t find(std::string_view id, std::size_t from = 0) const noexcept;
  // Shorthand: field n of the MSH segment.
  Value msh(std::size_t n) const noexcept { return segment(0).field(n); }

  // Segments as stored; for writing the message back out with one terminator.
  const std::vector<SegmentEntry>& entries() const noexcept { return segments_; }

 private:
  friend class Segment;
  void add_segment(SegmentEntry entry, std::string_view id);

  std::string_view text_;
  Delimiters delimiters_;
  std::vector<SegmentEntry> segments_;
  std::vector<std::string_view> fields_;
  // Occurrence counting without a map: ids seen so far in this message and their counts.
  std::vector<std::pair<std::string_view, std::uint32_t>> seen_ids_;
};

inline std::string_view Segment::id() const noexcept {
  return message_->fields_[message_->segments_[index_].first_field];
}
inline std::string_view Segment::text() const noexcept { return message_->segments_[index_].text; }
inline std::size_t Segment::occurrence() const noexcept { return message_->segments_[index_].occurrence; }
inline std::size_t Segment::field_count() const noexcept { return message_->segments_[index_].field_count; }
inline Value Segment::field(std::size_t n) const noexcept {
  const SegmentEntry& entry = message_->segments_[index_];
  if (n == 0 || n > entry.field_count) return Value({}, &message_->delimiters_);
  return Value(message_->fields_[entry.first_field + n], &message_->delimiters_);
}

// Splits a buffer holding one or many messages into messages: a message runs from an MSH
// segment to the next MSH or batch segment. FHS/BHS headers and BTS/FTS trailers are taken
// out and kept; MLLP frame bytes (VT, FS) between messages are skipped, as is a UTF-8 BOM.
class MessageSplitter {
 public:
  explicit MessageSplitter(std::string_view input) noexcept;

  // The next message's text (its segment terminators included), or false at the end.
  bool next(std::string_view& message) noexcept;

  // Bytes consumed so far, for progress.
  std::size_t offset() const noexcept { return pos_; }
  // The last FHS / BHS segment seen (empty if none), and counts of the trailers' claims.
  std::string_view file_header() const noexcept { return file_header_; }
  std::string_view batch_header() const noexcept { return batch_header_; }
  // Lines before the first MSH (or between messages) that are no segment of a message or
  // batch envelope: the caller may report them.
  std::size_t stray_lines() const noexcept { return stray_lines_; }
  // The message count BTS-1 declared (summed over batches), and whether any BTS was seen.
  std::size_t declared_batch_messages() const noexcept { return declared_; }
  bool saw_batch_trailer() const noexcept { return saw_trailer_; }

 private:
  // The line starting at `at`: its text without terminator, and where the next one starts.
  std::string_view line_at(std::size_t at, std::size_t& next) noexcept;
  static bool starts_segment(std::string_view line, std::string_view id) noexcept;

  std::string_view input_;
  std::size_t pos_ = 0;
  // Where the next CR and LF are (npos: none left); reused while they lie ahead.
  std::size_t next_cr_ = 0;
  std::size_t next_lf_ = 0;
  std::string_view file_header_;
  std::string_view batch_header_;
  std::size_t stray_lines_ = 0;
  std::size_t declared_ = 0;
  bool saw_trailer_ = false;
};

}  // namespace vaxetl::hl7
