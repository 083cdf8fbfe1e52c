#include "hl7/message.hpp"

#include <cstring>

namespace vaxetl::hl7 {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr char kVt = '\x0B';  // MLLP start block
constexpr char kFs = '\x1C';  // MLLP end block

bool is_terminator(char c) noexcept { return c == '\r' || c == '\n'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A delimiter must be a visible, non-alphanumeric character, distinct from the others.
bool usable_delimiter(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
}

}  // namespace

std::string_view nth_piece(std::string_view text, char separator, std::size_t n) noexcept {
  if (n == 0) return {};
  const char* p = text.data();
  const char* const end = p + text.size();
  // Walk to the start of piece n; each separator passed moves one piece on.
  for (std::size_t piece = 1; piece < n; ++piece) {
    const void* hit = p == end ? nullptr : std::memchr(p, separator, static_cast<std::size_t>(end - p));
    if (hit == nullptr) return {};
    p = static_cast<const char*>(hit) + 1;
  }
  const void* hit = p == end ? nullptr : std::memchr(p, separator, static_cast<std::size_t>(end - p));
  const char* stop = hit == nullptr ? end : static_cast<const char*>(hit);
  return {p, static_cast<std::size_t>(stop - p)};
}

std::size_t piece_count(std::string_view text, char separator) noexcept {
  std::size_t count = 1;
  for (char c : text) count += c == separator;
  return count;
}

std::string_view unescape(std::string_view raw, const Delimiters& d, std::span<char> out) noexcept {
  std::size_t used = 0;
  auto put = [&](char c) {
    if (used < out.size()) out[used++] = c;
  };
  std::size_t i = 0;
  while (i < raw.size()) {
    const char c = raw[i];
    if (c != d.escape) {
      put(c);
      ++i;
      continue;
    }
    const std::size_t close = raw.find(d.escape, i + 1);
    if (close == std::string_view::npos) {  // a lone escape character: keep it as text
      put(c);
      ++i;
      continue;
    }
    const std::string_view seq = raw.substr(i + 1, close - i - 1);
    bool decoded = true;
    if (seq == "F") {
      put(d.field);
    } else if (seq == "S") {
      put(d.component);
    } else if (seq == "T") {
      put(d.subcomponent);
    } else if (seq == "R") {
      put(d.repetition);
    } else if (seq == "E") {
      put(d.escape);
    } else if (seq.size() >= 3 && seq.size() % 2 == 1 && seq[0] == 'X') {
      for (std::size_t h = 1; h < seq.size(); h += 2)
        if (hex_value(seq[h]) < 0 || hex_value(seq[h + 1]) < 0) decoded = false;
      if (decoded)
        for (std::size_t h = 1; h < seq.size(); h += 2)
          put(static_cast<char>(hex_value(seq[h]) * 16 + hex_value(seq[h + 1])));
    } else {
      decoded = false;
    }
    if (!decoded)  // formatting (\.br\, \H\) and charset sequences stay as sent
      for (std::size_t k = i; k <= close; ++k) put(raw[k]);
    i = close + 1;
  }
  return {out.data(), used};
}

std::size_t escape(std::string_view text, const Delimiters& d, std::span<char> out) noexcept {
  std::size_t used = 0;
  auto put = [&](std::string_view s) {
    for (char c : s) {
      if (used < out.size()) out[used] = c;
      ++used;
    }
  };
  for (char c : text) {
    char letter = 0;
    if (c == d.field) letter = 'F';
    else if (c == d.component) letter = 'S';
    else if (c == d.subcomponent) letter = 'T';
    else if (c == d.repetition) letter = 'R';
    else if (c == d.escape) letter = 'E';
    if (letter != 0) {
      const char seq[3] = {d.escape, letter, d.escape};
      put({seq, 3});
    } else if (c == '\r' || c == '\n') {
      // A line break inside a value would end the segment.
      const char seq[5] = {d.escape, 'X', '0', c == '\r' ? 'D' : 'A', d.escape};
      put({seq, 5});
    } else {
      put({&c, 1});
    }
  }
  return used;
}

// ---- Value --------------------------------------------------------------------------------

std::string_view Value::first_repetition() const noexcept {
  if (delimiters_ == nullptr) return raw_;
  const std::size_t cut = raw_.find(delimiters_->repetition);
  return cut == std::string_view::npos ? raw_ : raw_.substr(0, cut);
}

std::size_t Value::repetition_count() const noexcept {
  if (raw_.empty() || delimiters_ == nullptr) return raw_.empty() ? 0 : 1;
  return piece_count(raw_, delimiters_->repetition);
}

Value Value::repetition(std::size_t n) const noexcept {
  if (delimiters_ == nullptr) return n == 1 ? *this : Value();
  return Value(nth_piece(raw_, delimiters_->repetition, n), delimiters_);
}

Value Value::component(std::size_t n) const noexcept {
  if (delimiters_ == nullptr) return n == 1 ? *this : Value();
  return Value(nth_piece(first_repetition(), delimiters_->component, n), delimiters_);
}

Value Value::subcomponent(std::size_t n) const noexcept {
  if (delimiters_ == nullptr) return n == 1 ? *this : Value();
  const std::string_view first_component = nth_piece(first_repetition(), delimiters_->component, 1);
  return Value(nth_piece(first_component, delimiters_->subcomponent, n), delimiters_);
}

bool Value::has_escape() const noexcept {
  return delimiters_ != nullptr && raw_.find(delimiters_->escape) != std::string_view::npos;
}

std::string_view Value::text(std::span<char> buffer) const noexcept {
  if (!has_escape()) return raw_;
  return unescape(raw_, *delimiters_, buffer);
}

// ---- Message ------------------------------------------------------------------------------

Message::Status Message::parse(std::string_view text) {
  segments_.clear();
  fields_.clear();
  seen_ids_.clear();
  text_ = text;
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  while (!text.empty() && (is_terminator(text.front()) || text.front() == kVt)) text.remove_prefix(1);
  if (text.empty()) return Status::kEmpty;
  if (text.size() < 4 || text.substr(0, 3) != "MSH") return Status::kNoMsh;

  Delimiters d;
  d.field = text[3];
  // MSH-2 holds the other delimiters in a fixed order; a sender may omit trailing ones.
  std::size_t k = 4;
  char encoding[4] = {0, 0, 0, 0};
  std::size_t count = 0;
  while (k < text.size() && text[k] != d.field && !is_terminator(text[k]) && count < 4)
    encoding[count++] = text[k++];
  if (!usable_delimiter(d.field) || count == 0) return Status::kBadDelimiters;
  d.component = encoding[0];
  d.repetition = count > 1 ? encoding[1] : '\0';
  d.escape = count > 2 ? encoding[2] : '\0';
  d.subcomponent = count > 3 ? encoding[3] : '\0';
  const char all[5] = {d.field, d.component, d.repetition, d.escape, d.subcomponent};
  for (std::size_t a = 0; a < 5; ++a) {
    if (all[a] == '\0') continue;
    if (!usable_delimiter(all[a])) return Status::kBadDelimiters;
    for (std::size_t b = a + 1; b < 5; ++b)
      if (all[a] == all[b]) return Status::kBadDelimiters;
  }
  delimiters_ = d;

  // One pass over the bytes: field separators cut fields, CR/LF end the segment.
  const char fs = d.field;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    while (p < end && is_terminator(*p)) ++p;
    if (p == end) break;
    SegmentEntry entry;
    entry.first_field = static_cast<std::uint32_t>(fields_.size());
    const char* const segment_start = p;
    const char* field_start = p;
    bool header = false;
    // The id runs to the first separator.
    while (p < end && *p != fs && !is_terminator(*p)) ++p;
    fields_.emplace_back(field_start, static_cast<std::size_t>(p - field_start));
    const std::string_view id = fields_.back();
    if (p < end && *p == fs) {
      header = id == "MSH" || id == "FHS" || id == "BHS";
      // MSH-1 is the separator itself, so the first split piece is MSH-2.
      if (header) fields_.emplace_back(p, 1);
      field_start = ++p;
      for (;;) {
        while (p < end && *p != fs && *p != '\r' && *p != '\n') ++p;
        fields_.emplace_back(field_start, static_cast<std::size_t>(p - field_start));
        if (p == end || *p != fs) break;
        field_start = ++p;
      }
    }
    entry.text = std::string_view(segment_start, static_cast<std::size_t>(p - segment_start));
    entry.field_count = static_cast<std::uint32_t>(fields_.size() - entry.first_field - 1);
    add_segment(entry, id);
  }
  return Status::kOk;
}

void Message::add_segment(SegmentEntry entry, std::string_view id) {
  std::uint32_t occurrence = 1;
  bool found = false;
  for (auto& [seen, n] : seen_ids_) {
    if (seen == id) {
      occurrence = ++n;
      found = true;
      break;
    }
  }
  if (!found) seen_ids_.emplace_back(id, 1);
  entry.occurrence = occurrence;
  segments_.push_back(entry);
}

std::size_t Message::find(std::string_view id, std::size_t from) const noexcept {
  for (std::size_t i = from; i < segments_.size(); ++i)
    if (fields_[segments_[i].first_field] == id) return i;
  return segments_.size();
}

// ---- MessageSplitter ----------------------------------------------------------------------

MessageSplitter::MessageSplitter(std::string_view input) noexcept : input_(input) {
  if (input_.substr(0, kBom.size()) == kBom) pos_ = kBom.size();
}

std::string_view MessageSplitter::line_at(std::size_t at, std::size_t& next) noexcept {
  // Two memchr cursors, one per terminator: each is vectorized, and a file that never uses
  // one of them pays for a single failed search.
  auto advance = [&](std::size_t& cursor, char c) {
    if (cursor != std::string_view::npos && cursor <= at) {
      const void* hit = std::memchr(input_.data() + at, c, input_.size() - at);
      cursor = hit == nullptr ? std::string_view::npos
                              : static_cast<std::size_t>(static_cast<const char*>(hit) - input_.data());
    }
  };
  advance(next_cr_, '\r');
  advance(next_lf_, '\n');
  std::size_t stop = next_cr_ < next_lf_ ? next_cr_ : next_lf_;
  if (stop == std::string_view::npos) stop = input_.size();
  next = stop;
  while (next < input_.size() && is_terminator(input_[next])) ++next;
  return input_.substr(at, stop - at);
}

bool MessageSplitter::starts_segment(std::string_view line, std::string_view id) noexcept {
  // "MSH" followed by its field separator; a bare "MSH" line is no segment.
  return line.size() > 3 && line.substr(0, 3) == id;
}

bool MessageSplitter::next(std::string_view& message) noexcept {
  std::size_t start = std::string_view::npos;
  while (pos_ < input_.size()) {
    std::size_t next = 0;
    std::string_view line = line_at(pos_, next);
    std::size_t line_start = pos_;
    // MLLP framing: VT opens a message, FS closes one; neither is content. Files made by
    // concatenating exports carry each export's BOM at the start of a line.
    for (;;) {
      if (!line.empty() && line.front() == kVt) {
        line.remove_prefix(1);
        ++line_start;
      } else if (line.substr(0, kBom.size()) == kBom) {
        line.remove_prefix(kBom.size());
        line_start += kBom.size();
      } else {
        break;
      }
    }
    const bool frame_end = !line.empty() && line.front() == kFs;
    const bool boundary = frame_end || starts_segment(line, "MSH") || starts_segment(line, "FHS") ||
                          starts_segment(line, "BHS") || starts_segment(line, "BTS") ||
                          starts_segment(line, "FTS") || line == "BTS" || line == "FTS";
    if (start != std::string_view::npos && boundary) {
      message = input_.substr(start, pos_ - start);
      return true;  // pos_ stays on the boundary line for the next call
    }
    if (start == std::string_view::npos) {
      if (starts_segment(line, "MSH")) {
        start = line_start;
      } else if (starts_segment(line, "FHS")) {
        file_header_ = line;
      } else if (starts_segment(line, "BHS")) {
        batch_header_ = line;
      } else if (line.substr(0, 3) == "BTS") {
        saw_trailer_ = true;
        // BTS-1 is the batch's message count.
        if (line.size() > 4) {
          std::size_t n = 0;
          bool digits = false;
          for (std::size_t i = 4; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
            n = n * 10 + static_cast<std::size_t>(line[i] - '0');
            digits = true;
          }
          if (digits) declared_ += n;
        }
      } else if (line.substr(0, 3) == "FTS" || frame_end || line.empty()) {
        // envelope trailers and frame ends carry nothing to read
      } else {
        ++stray_lines_;
      }
    }
    pos_ = next;
  }
  if (start == std::string_view::npos) return false;
  message = input_.substr(start);
  return true;
}

}  // namespace vaxetl::hl7
