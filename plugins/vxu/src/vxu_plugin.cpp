// The VXU source plugin: reads a file of HL7 v2.5.1 VXU^V04 messages (one message, many, or
// an FHS/BHS batch), validates each per the CDC IG and emits one canonical row per order
// group. ADT^A04/A08/A28/A31 messages (and a VXU without an order group) give one
// DEMOGRAPHICS row each: the recipient only. `_record_no` is the message's ordinal in the file and `_raw` the message with its
// segments joined by CR. Rejected rows travel in the batch too, so the error file quotes them.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "hl7/message.hpp"
#include "ncvr/product_catalog.hpp"
#include "ncvr/plugin_config.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/plugin.hpp"
#include "vxu/ack.hpp"
#include "vxu/converter.hpp"

namespace {

using vaxetl::sdk::Error;

const vaxetl_config_field kConfigFields[] = {
    {"org_code", VAXETL_CONFIG_STRING, 0, "", nullptr,
     "submitting organization code for every record (empty: MSH-4.1 of each message)"},
    {"data_dir", VAXETL_CONFIG_PATH, 0, nullptr, nullptr,
     "directory holding products.tsv (default: the plugin's own)"},
    vaxetl::ncvr::kUnitOfUseNdcField,
    vaxetl::ncvr::kAsOfDateField,
};

const std::vector<vaxetl_column>& produced_columns() {
  static const auto columns =
      vaxetl::sdk::canonical_source_columns("message ordinal in the file", "the message, segments joined by CR");
  return columns;
}

const vaxetl::sdk::PluginInfo kInfo = {
    VAXETL_PLUGIN_NAME,
    VAXETL_PLUGIN_VERSION,
    "Reads HL7 v2.5.1 VXU^V04 immunization messages (CDC IG Release 1.5, profile Z22): one "
    "canonical record per order group, validated per the IG; ADT^A04/A08/A28/A31 give one "
    "DEMOGRAPHICS record (the recipient only)",
    "Apache-2.0",
    "vaxetl",
    kConfigFields,
    VAXETL_ARRAY_COUNT(kConfigFields),
    nullptr,
    0,
    produced_columns().data(),
    static_cast<uint32_t>(produced_columns().size()),
};

// The input, mapped read-only: the parser's views point straight into the page cache.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(VAXETL_IO_ERROR, "cannot open the input file for reading");
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      throw Error(VAXETL_IO_ERROR, "cannot stat the input file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        throw Error(VAXETL_IO_ERROR, "cannot map the input file");
      }
      data_ = static_cast<const char*>(p);
      ::madvise(p, size_, MADV_SEQUENTIAL);
    }
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view view() const noexcept { return {data_, size_}; }

 private:
  int fd_ = -1;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// YYYYMMDDHHMMSS in UTC, for an ACK's MSH-7 and control id.
std::string hl7_timestamp_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof(text), "%Y%m%d%H%M%S", &utc);
  return text;
}

class VxuSource final : public vaxetl::sdk::Source {
 public:
  static constexpr bool kAcknowledges = true;  // HL7: every message gets an ACK^V04

  explicit VxuSource(const vaxetl::sdk::CreateContext& context)
      : host_(context.host),
        catalog_(load_catalog(context)),
        converter_(catalog_, vaxetl::vxu::ConverterOptions{
                                 context.config.get_string("org_code"),
                                 vaxetl::ncvr::as_of_date(context.config),
                                 context.config.get_string("unit_of_use_ndc") == "error"}),
        builder_(vaxetl::canonical::kColumns.size() + 1) {
    for (const auto& name : vaxetl::canonical::kColumns) column_names_.emplace_back(name);
    // The ACK of each message rides with its first row, so the host writes the ACK file
    // without validating the message a second time (plugin_abi.h, "_reply").
    column_names_.emplace_back("_reply");
  }

  void open(const vaxetl::sdk::RunInfo& run) override {
    file_ = std::make_unique<MappedFile>(run.input_path);
    splitter_ = std::make_unique<vaxetl::hl7::MessageSplitter>(file_->view());
    ordinal_ = 0;
    pending_row_ = 0;
    pending_rows_ = 0;
  }

  void schema(ArrowSchema* out) override { vaxetl::sdk::export_batch_schema(column_names_, out); }

  bool next_batch(uint32_t max_rows, ArrowArray* out) override {
    while (builder_.rows() < static_cast<int64_t>(max_rows)) {
      // A message's rows may straddle batches: finish the current message first.
      if (pending_row_ == pending_rows_ && !read_message()) break;
      emit_row(pending_row_++);
    }
    if (builder_.rows() == 0) return false;
    builder_.finish(out);
    return true;
  }

  void progress(uint64_t& done, uint64_t& total) const override {
    done = splitter_ ? splitter_->offset() : 0;
    total = file_ ? file_->view().size() : 0;
  }

  void close() override {
    splitter_.reset();
    file_.reset();
  }

  // The ACK^V04, or ACK^A04/A08/A28/A31 for an ADT (profile Z23), for one message received over MLLP: the same validation as a
  // file load, one ERR per finding, AA / AE / AR by the IG's rules.
  void acknowledge(std::string_view text, std::string& reply) override {
    const auto status = message_.parse(text);
    converter_.convert(message_, status);
    build_reply(status, reply);
  }

 private:
  // The ACK for the message just converted (message_ and converter_ hold it).
  void build_reply(vaxetl::hl7::Message::Status status, std::string& reply) {
    reply.clear();  // build_ack appends; the buffer is reused message after message
    const std::string timestamp = hl7_timestamp_now();
    ++acks_sent_;
    const std::string control_id = "VXA" + timestamp + "." + std::to_string(acks_sent_);
    const auto header = vaxetl::vxu::reply_header(message_, "VAXETL", "NCDHHS", timestamp, control_id);
    const std::string_view acknowledged =
        status == vaxetl::hl7::Message::Status::kOk ? message_.msh(10).component(1).raw() : std::string_view();
    vaxetl::vxu::build_ack(header, acknowledged, converter_.findings(), reply);
  }

  static vaxetl::ncvr::ProductCatalog load_catalog(const vaxetl::sdk::CreateContext& context) {
    auto configured = context.config.find("data_dir");
    const std::string dir = configured && !configured->empty() ? *configured : context.data_path("");
    try {
      return vaxetl::ncvr::ProductCatalog::load(dir + "/products.tsv");
    } catch (const std::exception& e) {
      throw Error(VAXETL_INVALID_CONFIG, e.what());
    }
  }

  bool read_message() {
    std::string_view text;
    if (!splitter_->next(text)) return false;
    ++ordinal_;
    const auto status = message_.parse(text);
    converter_.convert(message_, status);
    build_reply(status, reply_);
    raw_.clear();
    if (status == vaxetl::hl7::Message::Status::kOk) {
      for (const auto& segment : message_.entries()) {
        raw_.append(segment.text);
        raw_ += '\r';
      }
      if (!raw_.empty()) raw_.pop_back();
    } else {
      raw_.assign(text);
    }
    pending_row_ = 0;
    pending_rows_ = converter_.row_count();
    return true;
  }

  void emit_row(std::size_t i) {
    const int64_t row = builder_.rows();
    const std::size_t group = converter_.row_group(i);
    for (const auto& f : converter_.findings()) {
      // Patient-part findings are reported once, on the message's first row, unless they
      // reject every row; order-group findings on their own row.
      const bool on_this_row = f.group == group || (f.group == 0 && (i == 0 || f.rejects_group(group)));
      if (!on_this_row) continue;
      location_.clear();
      location_.append(f.location.segment);
      if (f.location.field != 0) {
        location_ += '-';
        location_ += std::to_string(f.location.field);
        if (f.location.component != 0) {
          location_ += '.';
          location_ += std::to_string(f.location.component);
        }
      }
      // An IG error that only drops a field or segment leaves the row loadable: a warning here.
      const vaxetl_severity severity = f.rejects_group(group) ? VAXETL_SEVERITY_ERROR : VAXETL_SEVERITY_WARNING;
      host_.report(row, f.location.field, location_.empty() ? nullptr : location_.c_str(),
                   vaxetl::sdk::copy_terminated(code_, f.code), severity, vaxetl::sdk::copy_terminated(message_text_, f.message));
    }
    const auto& canonical = converter_.row(i);
    std::copy(canonical.begin(), canonical.end(), row_values_.begin());
    row_values_.back() = i == 0 ? std::string_view(reply_) : std::string_view();
    builder_.add_row(static_cast<int64_t>(ordinal_), raw_, row_values_.data());
  }

  vaxetl::sdk::Host host_;
  vaxetl::ncvr::ProductCatalog catalog_;
  vaxetl::vxu::Converter converter_;
  vaxetl::sdk::BatchBuilder builder_;
  std::vector<std::string> column_names_;
  std::unique_ptr<MappedFile> file_;
  std::unique_ptr<vaxetl::hl7::MessageSplitter> splitter_;
  vaxetl::hl7::Message message_;
  std::string raw_;
  std::string reply_;  // the ACK of the message being emitted
  std::array<std::string_view, vaxetl::canonical::kColumns.size() + 1> row_values_{};
  std::string location_;
  std::array<char, 64> code_{};
  std::array<char, 512> message_text_{};
  std::size_t ordinal_ = 0;
  std::size_t pending_row_ = 0;
  std::size_t pending_rows_ = 0;
  uint64_t acks_sent_ = 0;
};

}  // namespace

VAXETL_EXPORT_SOURCE(VxuSource, kInfo)
