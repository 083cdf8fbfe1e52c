#include "runner.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "error_file.hpp"
#include "file_digest.hpp"
#include "race_ethnicity_gate.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/canonical_record.hpp"
#include "vaxetl/sdk/plugin.hpp"
#include "stage.hpp"

namespace vaxetl {

namespace fs = std::filesystem;

namespace {

void release(ArrowArray& array) {
  if (array.release != nullptr) array.release(&array);
}
void release(ArrowSchema& schema) {
  if (schema.release != nullptr) schema.release(&schema);
}

// Owns schemas for the duration of a run.
struct SchemaHolder {
  std::deque<ArrowSchema> schemas;
  ~SchemaHolder() {
    for (auto& s : schemas) release(s);
  }
  ArrowSchema* fresh() { return &schemas.emplace_back(ArrowSchema{}); }
};

// One batch on its way through the pipeline: the arrays each stage produced (transforms may
// reference their input's buffers, so all stay alive until the batch is done), the row
// dispositions, and a host-owned view whose validity bitmap hides rejected and held rows.
class BatchInFlight {
 public:
  enum Disposition : uint8_t { kLive = 0, kRejected = 1, kHeld = 2 };

  BatchInFlight(ArrowArray source_array, std::vector<Finding> source_findings)
      : findings_(std::move(source_findings)) {
    arrays_.push_back(source_array);
    dispositions_.assign(static_cast<std::size_t>(source_array.length), kLive);
    apply_findings(0);
  }
  ~BatchInFlight() {
    for (auto& a : arrays_) release(a);
  }
  BatchInFlight(const BatchInFlight&) = delete;
  BatchInFlight& operator=(const BatchInFlight&) = delete;

  const ArrowArray& source() const { return arrays_.front(); }
  int64_t rows() const { return arrays_.front().length; }

  // The view later stages see: the newest array with dispositions applied.
  const ArrowArray* view() {
    const ArrowArray& current = arrays_.back();
    view_ = current;
    const std::size_t bits = static_cast<std::size_t>(current.offset + current.length);
    bitmap_.assign((bits + 7) / 8, 0);
    int64_t nulls = 0;
    for (int64_t row = 0; row < current.length; ++row) {
      if (dispositions_[static_cast<std::size_t>(row)] == kLive) {
        const int64_t bit = current.offset + row;
        bitmap_[static_cast<std::size_t>(bit >> 3)] |= static_cast<uint8_t>(1u << (bit & 7));
      } else {
        ++nulls;
      }
    }
    view_buffers_[0] = bitmap_.data();
    view_.buffers = view_buffers_;
    view_.null_count = nulls;
    view_.release = nullptr;  // borrowed by plugins; the arrays_ entries own the memory
    return &view_;
  }

  void add_stage_output(const LoadedPlugin& plugin, ArrowArray output) {
    arrays_.push_back(output);
    if (output.length != rows())
      throw StageFailure(VAXETL_INTERNAL,
                         plugin.label() + " returned a batch of " + std::to_string(output.length) +
                             " rows for an input of " + std::to_string(rows()) +
                             "; a transform must keep every row in order (a defect in the plugin)");
  }

  void add_findings(const LoadedPlugin& plugin, std::vector<Finding> findings) {
    const std::size_t first = findings_.size();
    for (auto& f : findings) {
      if (f.row < 0 || f.row >= rows())
        throw StageFailure(VAXETL_INTERNAL, plugin.label() + " reported a finding for row " +
                                                std::to_string(f.row) + " of a batch of " +
                                                std::to_string(rows()) + " (a defect in the plugin)");
      findings_.push_back(std::move(f));
    }
    apply_findings(first);
  }

  const std::vector<Finding>& findings() const { return findings_; }
  const std::vector<uint8_t>& dispositions() const { return dispositions_; }
  // Rows still live after the sink are loaded; a failed run turns them into held rows.
  int64_t count(Disposition d) const {
    int64_t n = 0;
    for (uint8_t x : dispositions_) n += x == d;
    return n;
  }

 private:
  void apply_findings(std::size_t first) {
    for (std::size_t i = first; i < findings_.size(); ++i) {
      const Finding& f = findings_[i];
      if (f.row < 0 || f.row >= rows()) continue;
      uint8_t& d = dispositions_[static_cast<std::size_t>(f.row)];
      if (f.severity == VAXETL_SEVERITY_ERROR) d = kRejected;  // rejection wins over a hold
      else if (f.severity == VAXETL_SEVERITY_HOLD && d == kLive) d = kHeld;
    }
  }

  std::vector<ArrowArray> arrays_;
  std::vector<Finding> findings_;
  std::vector<uint8_t> dispositions_;
  std::vector<uint8_t> bitmap_;
  ArrowArray view_{};
  const void* view_buffers_[1] = {nullptr};
};

// What the source thread hands the main thread.
struct SourceItem {
  enum class Kind { Batch, End, Failure } kind = Kind::End;
  ArrowArray array{};
  std::vector<Finding> findings;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  vaxetl_status status = VAXETL_OK;
  std::string message;
};

// A small bounded queue: the source runs at most `capacity` batches ahead, which bounds memory.
class BatchQueue {
 public:
  explicit BatchQueue(std::size_t capacity) : capacity_(capacity) {}
  ~BatchQueue() {
    for (auto& item : items_) release(item.array);
  }
  bool push(SourceItem item) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (closed_) {
      release(item.array);
      return false;
    }
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  SourceItem pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty(); });
    SourceItem item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::deque<SourceItem> items_;
  bool closed_ = false;
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
};

char severity_letter(vaxetl_severity s) {
  return s == VAXETL_SEVERITY_ERROR ? 'E' : s == VAXETL_SEVERITY_HOLD ? 'H' : 'W';
}

class Run {
 public:
  Run(const BoundPipeline& pipeline, const std::string& input_path, const RunOptions& options)
      : pipeline_(pipeline), input_path_(input_path), options_(options) {}

  RunOutcome execute();

 private:
  void load();
  void inspect_source_batch(const ArrowArray& array, std::vector<Finding>& findings);
  void count_changes(const BatchInFlight& batch, const std::vector<std::pair<int64_t, uint32_t>>& outcomes);
  void keep_held_copy();
  void write_error_lines(BatchInFlight& batch, ErrorFileWriter& errors);
  void write_replies(const BatchInFlight& batch);
  void produce(StageInstance& source, BatchQueue& queue, uint32_t batch_size);
  void report_progress(bool force);
  static uint64_t unreturned_records(StageInstance& source);

  const BoundPipeline& pipeline_;
  std::string input_path_;
  const RunOptions& options_;
  RunOutcome outcome_;
  std::unique_ptr<ErrorFileWriter> errors_;
  // For a source that answers each message (HL7 ACKs): the replies are the error file returned
  // to the provider, made by a second instance of the source, and errors_ is kept beside it as
  // the operators' findings file (it also holds the store's own rejections).
  std::unique_ptr<ErrorFileWriter> replies_;
  std::unique_ptr<StageInstance> replying_source_;  // only when the batches carry no _reply
  std::optional<std::size_t> reply_column_;
  int64_t last_replied_record_ = -1;
  std::vector<char> reply_buffer_;
  std::vector<Finding> file_findings_;
  std::size_t record_no_column_ = 0;
  std::size_t raw_column_ = 1;
  std::optional<std::size_t> event_id_column_;
  std::optional<std::size_t> org_column_;
  std::optional<std::size_t> race_column_;
  std::optional<std::size_t> ethnicity_column_;
  std::optional<std::size_t> record_type_column_;
  std::optional<std::size_t> action_column_;
  std::unique_ptr<ErrorFileWriter> changes_;  // RunOptions::list_changes
  std::vector<uint32_t> row_outcomes_;        // per row of the batch in hand
  std::vector<uint8_t> rejected_by_source_;    // per row of the batch in hand
  bool held_ = false;                          // the pre-commit check held the file
  PreCommitVerdict verdict_;
  uint64_t unreturned_after_refusal_ = 0;
  ProgressInfo progress_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_progress_{};
};

void Run::report_progress(bool force) {
  if (!options_.on_progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < std::chrono::milliseconds(500)) return;
  last_progress_ = now;
  progress_.seconds = std::chrono::duration<double>(now - started_).count();
  options_.on_progress(progress_);
}

uint64_t Run::unreturned_records(StageInstance& source) {
  const vaxetl_source_api& api = *source.plugin().source;
  if (!source_has(api, &vaxetl_source_api::unreturned_records, offsetof(vaxetl_source_api, unreturned_records)))
    return 0;
  return api.unreturned_records(source.handle());
}

void Run::produce(StageInstance& source, BatchQueue& queue, uint32_t batch_size) {
  const vaxetl_source_api& api = *source.plugin().source;
  for (;;) {
    SourceItem item;
    vaxetl_error err{};
    const vaxetl_status status = with_retry([&] {
      source.host().take_findings();  // a retried call reports again
      return api.next_batch(source.handle(), batch_size, &item.array, &err);
    });
    if (status == VAXETL_END_OF_STREAM) {
      item.kind = SourceItem::Kind::End;
      queue.push(std::move(item));
      return;
    }
    if (status != VAXETL_OK || item.array.release == nullptr) {
      item.kind = SourceItem::Kind::Failure;
      item.status = status;
      try {
        if (status == VAXETL_OK)
          throw StageFailure(VAXETL_INTERNAL, source.plugin().label() +
                                                  " returned OK from next_batch without a batch "
                                                  "(a defect in the plugin)");
        check(source.plugin(), "next_batch", status, err);
      } catch (const StageFailure& e) {
        item.message = e.what();
      }
      release(item.array);
      item.findings = source.host().take_findings();  // file-level findings, if any
      queue.push(std::move(item));
      return;
    }
    item.kind = SourceItem::Kind::Batch;
    item.findings = source.host().take_findings();
    if (api.progress) api.progress(source.handle(), &item.bytes_done, &item.bytes_total);
    if (!queue.push(std::move(item))) return;  // the consumer gave up
  }
}

// Checks the core makes on every source batch before any transform: the file name's
// organization against each record's org_code, and the race/ethnicity tally.
void Run::inspect_source_batch(const ArrowArray& array, std::vector<Finding>& findings) {
  const sdk::BatchView view(array);
  RaceEthnicityCounts& race = outcome_.record.race_ethnicity;
  rejected_by_source_.assign(static_cast<std::size_t>(view.rows()), 0);
  for (const auto& f : findings)
    if (f.severity == VAXETL_SEVERITY_ERROR && f.row >= 0 && f.row < view.rows())
      rejected_by_source_[static_cast<std::size_t>(f.row)] = 1;
  for (int64_t row = 0; row < view.rows(); ++row) {
    const std::string_view org = org_column_ ? view.text(*org_column_, row) : std::string_view{};
    // An empty org_code is the source's to report (a required field, or a record it could not
    // split into fields at all); only a different organization is a mismatch.
    const bool other_org = org_column_ && options_.expected_org && !org.empty() && org != *options_.expected_org;
    if (other_org) {
      findings.push_back(Finding{row, 0, "org_code", "FILE_ORG_MISMATCH", VAXETL_SEVERITY_ERROR,
                                 "org_code is not the organization named in the file name (" +
                                     *options_.expected_org +
                                     "); send each organization's records in a file named for it"});
    }
    if (!race_column_ || !ethnicity_column_ || other_org) continue;  // not this provider's record
    if (record_type_column_ && view.text(*record_type_column_, row) == "DEMOGRAPHICS") continue;
    const std::string_view race_1 = view.text(*race_column_, row);
    const std::string_view ethnicity = view.text(*ethnicity_column_, row);
    // A record the source rejected without mapping any of it (a wrong field count) says nothing
    // about the provider's race and ethnicity data.
    if (rejected_by_source_[static_cast<std::size_t>(row)] && org.empty() && race_1.empty() && ethnicity.empty())
      continue;
    count_record(race, race_1, ethnicity);
  }
}

const char* outcome_name(uint32_t outcome) {
  switch (outcome) {
    case VAXETL_OUTCOME_ADDED: return "added";
    case VAXETL_OUTCOME_UPDATED: return "updated";
    case VAXETL_OUTCOME_VOIDED: return "voided";
    case VAXETL_OUTCOME_UNCHANGED: return "unchanged";
  }
  return "loaded";
}

void Run::count_changes(const BatchInFlight& batch, const std::vector<std::pair<int64_t, uint32_t>>& outcomes) {
  ChangeCounts& changes = outcome_.record.changes;
  row_outcomes_.assign(static_cast<std::size_t>(batch.rows()), 0);
  for (const auto& [row, outcome] : outcomes) {
    if (row < 0 || row >= batch.rows()) continue;
    row_outcomes_[static_cast<std::size_t>(row)] = outcome;
    if (batch.dispositions()[static_cast<std::size_t>(row)] != BatchInFlight::kLive) continue;
    switch (outcome) {
      case VAXETL_OUTCOME_ADDED: ++changes.added; break;
      case VAXETL_OUTCOME_UPDATED: ++changes.updated; break;
      case VAXETL_OUTCOME_VOIDED: ++changes.voided; break;
      case VAXETL_OUTCOME_UNCHANGED: ++changes.unchanged; break;
    }
  }
  if (!changes_) return;
  // One line per record: what it did (or would do) to the store, and why when it did nothing.
  std::vector<std::string> codes(static_cast<std::size_t>(batch.rows()));
  for (const auto& f : batch.findings()) {
    if (f.severity == VAXETL_SEVERITY_WARNING || f.row < 0 || f.row >= batch.rows()) continue;
    std::string& list = codes[static_cast<std::size_t>(f.row)];
    if (!list.empty()) list += ',';
    list += f.code;
  }
  const sdk::BatchView view(batch.source());
  std::string line;
  for (int64_t row = 0; row < batch.rows(); ++row) {
    const auto index = static_cast<std::size_t>(row);
    const uint8_t disposition = batch.dispositions()[index];
    const char* what = disposition == BatchInFlight::kRejected ? "rejected"
                       : disposition == BatchInFlight::kHeld   ? "held"
                                                               : outcome_name(row_outcomes_[index]);
    line.clear();
    line += std::to_string(view.int64(record_no_column_, row));
    line += '|';
    if (event_id_column_) line += view.text(*event_id_column_, row);
    line += '|';
    line += action_column_ && !view.text(*action_column_, row).empty() ? view.text(*action_column_, row)
                                                                        : std::string_view("A");
    line += '|';
    line += what;
    line += '|';
    line += codes[index];
    changes_->add_reply(line);
  }
}

void Run::keep_held_copy() {
  // The held file must outlive whatever happens to the inbox: resume loads this copy.
  const fs::path directory = fs::path(pipeline_.spec.held_dir) / outcome_.record.run_id;
  fs::create_directories(directory);
  const fs::path kept = directory / outcome_.record.input_name;
  fs::copy_file(input_path_, kept, fs::copy_options::overwrite_existing);
  outcome_.record.kept_path = fs::absolute(kept).string();
}

void Run::write_error_lines(BatchInFlight& batch, ErrorFileWriter& errors) {
  if (batch.findings().empty()) return;
  // Group by row, keeping each row's findings in the order stages reported them.
  std::vector<const Finding*> ordered;
  ordered.reserve(batch.findings().size());
  for (const auto& f : batch.findings()) ordered.push_back(&f);
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const Finding* a, const Finding* b) { return a->row < b->row; });
  sdk::BatchView view(batch.source());
  for (const Finding* f : ordered) {
    const auto line = static_cast<uint64_t>(view.int64(record_no_column_, f->row));
    const std::string_view event_id =
        event_id_column_ ? view.text(*event_id_column_, f->row) : std::string_view{};
    errors.add(line, event_id, f->field_position, f->field_name, severity_letter(f->severity),
               f->code, f->message, view.text(raw_column_, f->row));
    ++outcome_.findings_by_code[f->code];
    if (f->severity == VAXETL_SEVERITY_WARNING) ++outcome_.record.counts.warnings;
  }
}

void Run::write_replies(const BatchInFlight& batch) {
  const sdk::BatchView view(batch.source());
  if (reply_column_) {  // the reading source answered each record as it read it
    for (int64_t row = 0; row < view.rows(); ++row)
      if (const std::string_view reply = view.text(*reply_column_, row); !reply.empty())
        replies_->add_reply(reply);
    return;
  }
  const LoadedPlugin& plugin = replying_source_->plugin();
  for (int64_t row = 0; row < view.rows(); ++row) {
    // Rows of one input record (a message's order groups) share its number: one reply each.
    const int64_t record = view.int64(record_no_column_, row);
    if (record == last_replied_record_) continue;
    last_replied_record_ = record;
    const std::string_view message = view.text(raw_column_, row);
    std::size_t length = 0;
    vaxetl_error err{};
    check(plugin, "acknowledge",
          plugin.source->acknowledge(replying_source_->handle(), message.data(), message.size(),
                                     reply_buffer_.data(), reply_buffer_.size(), &length, &err),
          err);
    replies_->add_reply(std::string_view(reply_buffer_.data(), length));
  }
}

void Run::load() {
  RunRecord& record = outcome_.record;
  RunCounts& counts = record.counts;
  const uint32_t batch_size = options_.batch_size.value_or(pipeline_.spec.batch_size);

  vaxetl_run_info run{};
  run.struct_size = sizeof(run);
  run.run_id = record.run_id.c_str();
  run.pipeline_name = pipeline_.spec.name.c_str();
  run.input_path = input_path_.c_str();
  run.input_sha256 = record.input_sha256.c_str();
  run.mode = options_.mode;

  StageInstance source(pipeline_.source);
  std::vector<std::unique_ptr<StageInstance>> transforms;
  for (const auto& t : pipeline_.transforms) transforms.push_back(std::make_unique<StageInstance>(t));
  StageInstance sink(pipeline_.sink);

  SchemaHolder schemas;
  vaxetl_error err{};
  {
    const vaxetl_status status = source.plugin().source->open(source.handle(), &run, &err);
    if (status == VAXETL_INVALID_DATA) {
      file_findings_ = source.host().take_findings();
      unreturned_after_refusal_ = unreturned_records(source);
      throw StageFailure(status, err.message[0] ? err.message : "the input is malformed");
    }
    check(source.plugin(), "open", status, err);
  }
  ArrowSchema* schema = schemas.fresh();
  err = {};
  check(source.plugin(), "get_schema", source.plugin().source->get_schema(source.handle(), schema, &err), err);
  {
    const sdk::SchemaIndex index(*schema);
    if (!index.has(canonical::kRecordNo) || !index.has(canonical::kRaw))
      throw StageFailure(VAXETL_INTERNAL, source.plugin().label() +
                                              " produces batches without the _record_no and _raw "
                                              "columns every source must provide");
    record_no_column_ = index.column(canonical::kRecordNo);
    raw_column_ = index.column(canonical::kRaw);
    if (index.has("vax_event_id")) event_id_column_ = index.column("vax_event_id");
    auto optional_column = [&](const char* name) -> std::optional<std::size_t> {
      if (index.has(name)) return index.column(name);
      return std::nullopt;
    };
    org_column_ = optional_column("org_code");
    race_column_ = optional_column("recip_race_1");
    ethnicity_column_ = optional_column("recip_ethnicity");
    record_type_column_ = optional_column("record_type");
    action_column_ = optional_column("action_code");
    if (replies_ && index.has("_reply")) reply_column_ = index.column("_reply");
  }
  if (replies_ && !reply_column_) {
    replying_source_ = std::make_unique<StageInstance>(pipeline_.source);
    reply_buffer_.resize(std::size_t{1} << 20);
  }
  for (auto& t : transforms) {
    ArrowSchema* out = schemas.fresh();
    err = {};
    check(t->plugin(), "begin", t->plugin().transform->begin(t->handle(), &run, schema, out, &err), err);
    schema = out;
  }
  err = {};
  check(sink.plugin(), "begin", sink.plugin().sink->begin(sink.handle(), &run, schema, &err), err);

  bool sink_open = true;
  auto rollback_sink = [&] {
    if (sink_open) sink.plugin().sink->rollback(sink.handle());
    sink_open = false;
  };

  BatchQueue queue(2);
  std::thread producer([&] {
    try {
      produce(source, queue, batch_size);
    } catch (const std::exception& e) {
      SourceItem failure;
      failure.kind = SourceItem::Kind::Failure;
      failure.status = VAXETL_INTERNAL;
      failure.message = std::string("reading the input failed: ") + e.what();
      queue.push(std::move(failure));
    }
  });
  auto stop_producer = [&] {
    queue.close();
    // Drain so the producer is never blocked forever, then join.
    if (producer.joinable()) producer.join();
  };

  try {
    for (;;) {
      SourceItem item = queue.pop();
      if (item.kind == SourceItem::Kind::End) break;
      if (item.kind == SourceItem::Kind::Failure) {
        file_findings_ = std::move(item.findings);
        if (item.status == VAXETL_INVALID_DATA) {
          stop_producer();  // the source is idle now: it may be asked how much it left unread
          unreturned_after_refusal_ = unreturned_records(source);
        }
        throw StageFailure(item.status, item.message);
      }
      progress_.bytes_done = item.bytes_done;
      progress_.bytes_total = item.bytes_total;
      inspect_source_batch(item.array, item.findings);
      BatchInFlight batch(std::exchange(item.array, ArrowArray{}), std::move(item.findings));
      for (auto& t : transforms) {
        ArrowArray out{};
        err = {};
        const vaxetl_status status = with_retry([&] {
          return t->plugin().transform->process(t->handle(), batch.view(), &out, &err);
        });
        check(t->plugin(), "process", status, err);
        batch.add_stage_output(t->plugin(), out);
        batch.add_findings(t->plugin(), t->host().take_findings());
      }
      err = {};
      const vaxetl_status status =
          with_retry([&] { return sink.plugin().sink->write(sink.handle(), batch.view(), &err); });
      check(sink.plugin(), "write", status, err);
      batch.add_findings(sink.plugin(), sink.host().take_findings());
      count_changes(batch, sink.host().take_outcomes());

      counts.received += batch.rows();
      counts.rejected += batch.count(BatchInFlight::kRejected);
      counts.held += batch.count(BatchInFlight::kHeld);
      counts.loaded += batch.count(BatchInFlight::kLive);
      write_error_lines(batch, *errors_);
      if (replies_) write_replies(batch);
      progress_.records = counts.received;
      report_progress(false);
    }
    stop_producer();
    for (auto& t : transforms) {
      err = {};
      if (t->plugin().transform->finish)
        check(t->plugin(), "finish", t->plugin().transform->finish(t->handle(), &err), err);
    }
    if (!counts.add_up())
      throw StageFailure(VAXETL_INTERNAL, "record counts do not add up: received " +
                                              std::to_string(counts.received) + " != loaded " +
                                              std::to_string(counts.loaded) + " + rejected " +
                                              std::to_string(counts.rejected) + " + held " +
                                              std::to_string(counts.held));
    if (options_.before_commit) {
      verdict_ = options_.before_commit(record);
      held_ = verdict_.hold && options_.mode == VAXETL_MODE_LOAD;
    }
    if (held_) {
      rollback_sink();  // nothing of a held file is loaded; resume loads it whole
    } else {
      err = {};
      check(sink.plugin(), "commit",
            with_retry([&] { return sink.plugin().sink->commit(sink.handle(), &err); }), err);
      sink_open = false;
    }
  } catch (...) {
    stop_producer();
    rollback_sink();
    throw;
  }
  report_progress(true);
}

RunOutcome Run::execute() {
  RunRecord& record = outcome_.record;
  record = options_.facts;
  record.run_id = new_run_id();
  record.pipeline = pipeline_.spec.name;
  record.input_path = input_path_;
  record.input_name = fs::path(input_path_).filename().string();
  record.mode = options_.mode == VAXETL_MODE_VALIDATE ? "validate" : "load";
  record.started_at = utc_timestamp_iso();
  record.pid = static_cast<int64_t>(::getpid());

  std::error_code ec;
  if (!fs::is_regular_file(input_path_, ec)) {
    record.status = "failed";
    record.message = "input file not found or not a regular file: " + input_path_;
    outcome_.exit_code = kExitInputMissing;
    spdlog::error("{}", record.message);
    return outcome_;
  }
  record.input_sha256 = sha256_of_file(input_path_);
  Ledger ledger(pipeline_.spec.ledger);

  if (options_.mode == VAXETL_MODE_LOAD && !options_.force) {
    if (auto previous = ledger.loaded_or_held(pipeline_.spec.name, record.environment, record.input_sha256)) {
      record.status = "skipped";
      record.message = previous->status == "held"
                           ? "this file (sha256 " + record.input_sha256.substr(0, 12) +
                                 "...) is already held by run " + previous->run_id +
                                 "; vaxetl resume " + previous->org + " loads it"
                           : "this file (sha256 " + record.input_sha256.substr(0, 12) +
                                 "...) was already loaded by run " + previous->run_id + " at " +
                                 previous->ended_at + "; nothing to do. Use --force to process it again "
                                 "(records already stored stay unchanged).";
      record.ended_at = utc_timestamp_iso();
      ledger.start(record);
      ledger.finish(record);
      spdlog::warn("run {}: {}", record.run_id, record.message);
      return outcome_;
    }
  }

  record.status = "running";
  ledger.start(record);
  spdlog::info("run {} started: pipeline {}, input {} (sha256 {}), mode {}", record.run_id,
               record.pipeline, record.input_name, record.input_sha256, record.mode);
  const vaxetl_source_api& source_api = *pipeline_.source.plugin->source;
  if (source_has(source_api, &vaxetl_source_api::acknowledge, offsetof(vaxetl_source_api, acknowledge))) {
    replies_ = std::make_unique<ErrorFileWriter>(pipeline_.spec.error_dir, record.input_name,
                                                 ErrorFileWriter::Kind::Replies, "error");
    errors_ = std::make_unique<ErrorFileWriter>(pipeline_.spec.error_dir, record.input_name,
                                                ErrorFileWriter::Kind::Findings, "findings");
  } else {
    // A validation's findings are for the operator, not a file to return: named apart.
    errors_ = std::make_unique<ErrorFileWriter>(pipeline_.spec.error_dir, record.input_name,
                                                ErrorFileWriter::Kind::Findings,
                                                options_.mode == VAXETL_MODE_VALIDATE ? "validation" : "error");
  }
  if (options_.list_changes) {
    changes_ = std::make_unique<ErrorFileWriter>(pipeline_.spec.error_dir, record.input_name,
                                                 ErrorFileWriter::Kind::Replies, "changes");
    changes_->add_reply("line|vax_event_id|action|outcome|codes");
  }

  RunCounts& counts = record.counts;
  try {
    load();
    record.status = options_.mode == VAXETL_MODE_VALIDATE ? "validated" : "succeeded";
    record.message = options_.mode == VAXETL_MODE_VALIDATE
                         ? "validated; no data was changed (loaded counts what would load)"
                         : "loaded";
    if (held_) {
      // Held, not lost: every loadable record is counted held, and the file is kept to resume.
      counts.held += counts.loaded;
      counts.loaded = 0;
      record.changes = {};
      record.status = "held";
      record.message = "held, nothing loaded: " + verdict_.gate;
      keep_held_copy();
    }
    record.gate = verdict_.gate;
    for (const auto& note : verdict_.notes) {
      errors_->add(0, "", 0, "", severity_letter(note.severity), note.code, note.message, "");
      ++outcome_.findings_by_code[note.code];
    }
    record.clean = record.status == "succeeded" && counts.rejected == 0 && counts.held == 0 &&
                   verdict_.counts_as_clean;
  } catch (const std::exception& e) {
    const auto* failure = dynamic_cast<const StageFailure*>(&e);
    const bool input_refused = failure != nullptr && failure->status() == VAXETL_INVALID_DATA;
    // Nothing was committed: every record read counts as rejected (input refused whole) or
    // held (the run failed and the file must be rerun), so the counts still add up.
    if (input_refused) {
      counts.received += static_cast<int64_t>(unreturned_after_refusal_);
      counts.rejected += counts.loaded + counts.held + static_cast<int64_t>(unreturned_after_refusal_);
      counts.held = 0;
      record.status = "rejected";
      record.message = std::string("input refused whole, nothing loaded: ") + e.what();
      outcome_.exit_code = kExitInputRejected;
      const Finding file_level{0, 0, "", "FILE_REJECTED", VAXETL_SEVERITY_ERROR, e.what()};
      const std::vector<Finding>& lines = file_findings_.empty() ? std::vector<Finding>{file_level} : file_findings_;
      for (const auto& f : lines) {
        errors_->add(static_cast<uint64_t>(f.row), "", f.field_position, f.field_name,
                     severity_letter(f.severity), f.code, f.message, "");
        ++outcome_.findings_by_code[f.code];
      }
    } else {
      counts.held += counts.loaded;
      record.status = "failed";
      record.message = std::string("run failed, nothing loaded; fix the cause and rerun the file: ") + e.what();
      outcome_.exit_code = kExitRunFailed;
    }
    counts.loaded = 0;
    spdlog::error("run {}: {}", record.run_id, record.message);
  }
  if (changes_) outcome_.changes_file = changes_->publish();
  const std::string findings_file = errors_->publish();
  record.error_file = replies_ ? replies_->publish() : findings_file;
  if (replies_) spdlog::info("run {}: findings file {}", record.run_id, findings_file);
  record.ended_at = utc_timestamp_iso();
  record.findings_by_code = outcome_.findings_by_code;
  ledger.finish(record);
  spdlog::info("run {} {}: received {}, loaded {}, rejected {}, held {}, warnings {}; error file {}",
               record.run_id, record.status, counts.received, counts.loaded, counts.rejected,
               counts.held, counts.warnings, record.error_file);
  return outcome_;
}

}  // namespace

RunOutcome run_pipeline(const BoundPipeline& pipeline, const std::string& input_path,
                        const RunOptions& options) {
  return Run(pipeline, input_path, options).execute();
}

}  // namespace vaxetl
