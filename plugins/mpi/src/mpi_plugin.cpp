// The `mpi` transform: gives every live canonical record a master patient id. It loads the
// persisted index (index_store/) into the matcher (matcher/) at begin(), matches each record in
// input order, appends every decision to the index's log, and commits the index's changes, the
// log and a re-estimated model in one transaction at finish(). docs/mpi-operations.md.
//
// Adds three utf8 columns: mpi_id ("MPI" + 10 digits), mpi_decision (linked, new, possible)
// and mpi_score (the total weight against the best candidate, 2 decimals). Rows an earlier
// stage rejected or held are passed through with the three columns null and are not matched.
// The input columns are passed through without copying (the output refers to the input's
// buffers, which the host keeps alive until the batch has passed the sink).
//
// The index's write lock is held from begin() to finish(): a load reads the index it writes.
// The host finishes transforms before the sink commits, so the index may keep a file the sink
// then rolls back (a held or failed load). A rerun of the same input (same SHA-256) is not
// matched again: each record gets its first decision's master, followed through merges, so
// the rerun gives the same ids and adds no masters.
//
// Validate mode (a dry run) matches against the index in memory and writes nothing; without an
// index file it matches against an empty index and creates none.
//
// PHI: log lines carry counts, the index path and the run id; never a value.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "db/database.hpp"
#include "index_store/mpi_store.hpp"
#include "matcher/matcher.hpp"
#include "vaxetl/sdk/batch.hpp"
#include "vaxetl/sdk/plugin.hpp"

namespace {

namespace mpi = vaxetl::mpi;
namespace sdk = vaxetl::sdk;
using sdk::Error;

const vaxetl_config_field kConfigFields[] = {
    {"index", VAXETL_CONFIG_STORE, VAXETL_CONFIG_REQUIRED, nullptr, nullptr,
     "the MPI index, a SQLite file (created when absent; e.g. ${VAXETL_HOME:-var}/mpi.sqlite)"},
    {"learn_model", VAXETL_CONFIG_BOOL, 0, "true", nullptr,
     "at the end of a load, re-estimate m and u with EM over the file's scored candidate pairs "
     "and store them as a new model version, used from the next run"},
    {"learn_min_pairs", VAXETL_CONFIG_INT, 0, "1000", nullptr,
     "fewest scored candidate pairs a file needs for learn_model to store a new model; a "
     "smaller file keeps the current model"},
    {"link_threshold", VAXETL_CONFIG_DOUBLE, 0, nullptr, nullptr,
     "overrides the model's link threshold: the total weight at or above which a record may "
     "join a master"},
    {"new_threshold", VAXETL_CONFIG_DOUBLE, 0, nullptr, nullptr,
     "overrides the model's new threshold: below it a record is clearly nobody known"},
    {"runner_up_margin", VAXETL_CONFIG_DOUBLE, 0, nullptr, nullptr,
     "overrides the weight by which the best master must beat the runner-up to link"},
    {"busy_timeout_ms", VAXETL_CONFIG_INT, 0, "60000", nullptr,
     "how long to wait for another load or an operator's merge to release the index"},
    {"cache_mib", VAXETL_CONFIG_INT, 0, "64", nullptr, "SQLite page cache of the index, MiB"},
};

// The recipient columns the matcher reads, in PersonInput order after source and recipient id.
constexpr std::string_view kOrgCode = "org_code";
constexpr std::string_view kRecipId = "recip_id";
constexpr std::string_view kPersonColumns[] = {
    "recip_first_name",     "recip_middle_name",      "recip_last_name",
    "recip_suffix",         "recip_dob",              "recip_sex",
    "recip_address_street", "recip_address_street_2", "recip_address_city",
    "recip_address_state",  "recip_address_zip",      "recip_phone",
    "recip_email",
};
constexpr std::size_t kPersonColumnCount = std::size(kPersonColumns);

constexpr vaxetl_column kConsumes[] = {
    {"org_code", "u", VAXETL_COLUMN_REQUIRED, "the sending provider: scopes recip_id"},
    {"recip_id", "u", VAXETL_COLUMN_REQUIRED, "the provider's own stable id for the person"},
    {"recip_first_name", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_middle_name", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_last_name", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_suffix", "u", VAXETL_COLUMN_REQUIRED, "normalized with the names"},
    {"recip_dob", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_sex", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_address_street", "u", VAXETL_COLUMN_REQUIRED, "compared (USPS-normalized)"},
    {"recip_address_street_2", "u", VAXETL_COLUMN_REQUIRED, "normalized with the street"},
    {"recip_address_city", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"recip_address_state", "u", VAXETL_COLUMN_REQUIRED, "normalizes the city and ZIP"},
    {"recip_address_zip", "u", VAXETL_COLUMN_REQUIRED, "compared (5 digits)"},
    {"recip_phone", "u", VAXETL_COLUMN_REQUIRED, "compared (10 digits)"},
    {"recip_email", "u", VAXETL_COLUMN_REQUIRED, "compared"},
    {"vax_event_id", "u", 0, "kept in the decision log to find a record's decision"},
    {"record_type", "u", 0, "kept in the decision log (DEMOGRAPHICS records are matched too)"},
};
constexpr vaxetl_column kProduces[] = {
    {"mpi_id", "u", 0, "the record's master patient id, MPI + 10 digits"},
    {"mpi_decision", "u", 0, "linked (joined a master), new (a new master) or possible (a new "
                             "master queued for review against a likely one)"},
    {"mpi_score", "u", 0, "total match weight against the best candidate master, 2 decimals"},
};

const sdk::PluginInfo kInfo = {
    VAXETL_PLUGIN_NAME,
    VAXETL_PLUGIN_VERSION,
    "Master patient index: matches each record to a master patient (Fellegi-Sunter over "
    "normalized names, birth date, sex, address, phone, e-mail and the provider's recipient id) "
    "and keeps the index and an append-only decision log in SQLite",
    "Apache-2.0",
    "vaxetl",
    kConfigFields,
    VAXETL_ARRAY_COUNT(kConfigFields),
    kConsumes,
    VAXETL_ARRAY_COUNT(kConsumes),
    kProduces,
    VAXETL_ARRAY_COUNT(kProduces),
};

// ---- Arrow output --------------------------------------------------------------------------

struct SchemaNode {
  std::string name, format;
  std::vector<std::unique_ptr<ArrowSchema>> child_storage;
  std::vector<ArrowSchema*> children;
};

void release_schema(ArrowSchema* schema) {
  if (schema == nullptr || schema->release == nullptr) return;
  for (int64_t i = 0; i < schema->n_children; ++i)
    if (schema->children[i]->release != nullptr) schema->children[i]->release(schema->children[i]);
  std::unique_ptr<SchemaNode>(static_cast<SchemaNode*>(schema->private_data)).reset();
  schema->release = nullptr;
}

void fill_schema(ArrowSchema* out, std::unique_ptr<SchemaNode> node, int64_t flags) {
  out->format = node->format.c_str();
  out->name = node->name.c_str();
  out->metadata = nullptr;
  out->flags = flags;
  out->n_children = static_cast<int64_t>(node->children.size());
  out->children = node->children.empty() ? nullptr : node->children.data();
  out->dictionary = nullptr;
  out->release = &release_schema;
  out->private_data = node.release();
}

// A utf8 column built row by row and exported as an owning ArrowArray.
class Utf8Column {
 public:
  void reserve(std::size_t rows, std::size_t bytes) {
    offsets_.reserve(rows + 1);
    data_.reserve(bytes);
    validity_.reserve(rows / 8 + 1);
  }
  void append(std::string_view value) { push(value, true); }
  void append_null() { push({}, false); }

  // Moves the rows into `out` and starts empty.
  void export_to(ArrowArray* out) {
    auto buffers = std::make_unique<Buffers>();
    buffers->validity = std::move(validity_);
    buffers->offsets = std::move(offsets_);
    buffers->data = std::move(data_);
    if (buffers->data.empty()) buffers->data.push_back('\0');  // never a null data pointer
    buffers->pointers[0] = nulls_ == 0 ? nullptr : buffers->validity.data();
    buffers->pointers[1] = buffers->offsets.data();
    buffers->pointers[2] = buffers->data.data();
    out->length = rows_;
    out->null_count = nulls_;
    out->offset = 0;
    out->n_buffers = 3;
    out->n_children = 0;
    out->buffers = buffers->pointers;
    out->children = nullptr;
    out->dictionary = nullptr;
    out->release = &release;
    out->private_data = buffers.release();
    rows_ = 0;
    nulls_ = 0;
    offsets_.assign(1, 0);
    validity_.clear();
    data_.clear();
  }

 private:
  struct Buffers {
    std::vector<uint8_t> validity;
    std::vector<int32_t> offsets;
    std::vector<char> data;
    const void* pointers[3] = {nullptr, nullptr, nullptr};
  };
  static void release(ArrowArray* array) {
    if (array == nullptr || array->release == nullptr) return;
    std::unique_ptr<Buffers>(static_cast<Buffers*>(array->private_data)).reset();
    array->release = nullptr;
  }
  void push(std::string_view value, bool valid) {
    if (static_cast<std::size_t>(rows_ >> 3) >= validity_.size()) validity_.push_back(0);
    if (valid) {
      validity_[static_cast<std::size_t>(rows_ >> 3)] |= static_cast<uint8_t>(1u << (rows_ & 7));
      data_.insert(data_.end(), value.begin(), value.end());
    } else {
      ++nulls_;
    }
    offsets_.push_back(static_cast<int32_t>(data_.size()));
    ++rows_;
  }

  std::vector<uint8_t> validity_;
  std::vector<int32_t> offsets_ = {0};
  std::vector<char> data_;
  int64_t rows_ = 0;
  int64_t nulls_ = 0;
};

// The output struct array: the input's columns, borrowed (the host keeps the input alive until
// the batch has passed the sink), then the columns this stage adds, owned.
struct OutputBatch {
  std::vector<std::unique_ptr<ArrowArray>> child_storage;
  std::vector<ArrowArray*> children;
  const void* buffers[1] = {nullptr};
};

void release_borrowed(ArrowArray* array) {
  if (array != nullptr) array->release = nullptr;  // the buffers are the input's
}

void release_output(ArrowArray* array) {
  if (array == nullptr || array->release == nullptr) return;
  for (int64_t i = 0; i < array->n_children; ++i)
    if (array->children[i]->release != nullptr) array->children[i]->release(array->children[i]);
  std::unique_ptr<OutputBatch>(static_cast<OutputBatch*>(array->private_data)).reset();
  array->release = nullptr;
}

std::string format_score(double score) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", score);
  return text;
}

std::string plural(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---- the transform -------------------------------------------------------------------------

class MpiTransform final : public sdk::Transform {
 public:
  explicit MpiTransform(const sdk::CreateContext& context)
      : host_(context.host),
        index_path_(context.config.get_string("index")),
        data_dir_(context.plugin_dir + "/" + context.name + "-" + context.version),
        learn_model_(context.config.get_bool("learn_model")),
        learn_min_pairs_(context.config.get_int("learn_min_pairs")),
        busy_timeout_ms_(static_cast<int>(context.config.get_int("busy_timeout_ms"))),
        cache_kib_(static_cast<std::size_t>(context.config.get_int("cache_mib")) * 1024) {
    if (index_path_.empty()) throw Error(VAXETL_INVALID_CONFIG, "index: name the MPI index file");
    if (learn_min_pairs_ < 1) throw Error(VAXETL_INVALID_CONFIG, "learn_min_pairs must be at least 1");
    if (busy_timeout_ms_ < 0) throw Error(VAXETL_INVALID_CONFIG, "busy_timeout_ms must not be negative");
    auto threshold = [&](const char* key) -> std::optional<double> {
      if (!context.config.find(key)) return std::nullopt;
      return context.config.get_double(key);
    };
    link_threshold_ = threshold("link_threshold");
    new_threshold_ = threshold("new_threshold");
    runner_up_margin_ = threshold("runner_up_margin");
    try {
      tables_ = mpi::load_reference_tables(data_dir_);
    } catch (const std::exception& e) {
      throw Error(VAXETL_IO_ERROR, std::string("cannot load the MPI reference tables from ")
                                       .append(data_dir_).append(": ").append(e.what()));
    }
  }

  ~MpiTransform() override = default;  // the store rolls back a load that did not finish

  void begin(const sdk::RunInfo& run, const ArrowSchema& input, ArrowSchema* out) override {
    run_ = run;
    dry_run_ = run.mode == VAXETL_MODE_VALIDATE;
    tally_ = {};
    bind_columns(input);
    open_index();
    export_schema(input, out);
  }

  void process(const ArrowArray& input, ArrowArray* out) override {
    if (!matcher_) throw Error(VAXETL_INTERNAL, "mpi: process() before begin()");
    const sdk::BatchView view(input);
    const int64_t rows = view.rows();
    decided_at_ = mpi::utc_timestamp();
    mpi_id_.reserve(static_cast<std::size_t>(rows), static_cast<std::size_t>(rows) * 13);
    decision_.reserve(static_cast<std::size_t>(rows), static_cast<std::size_t>(rows) * 6);
    score_.reserve(static_cast<std::size_t>(rows), static_cast<std::size_t>(rows) * 6);
    try {
      for (int64_t row = 0; row < rows; ++row) {
        if (!view.live(row)) {  // rejected or held upstream: passed through, not matched
          ++tally_.skipped;
          mpi_id_.append_null();
          decision_.append_null();
          score_.append_null();
          continue;
        }
        match_row(view, row);
      }
      if (writing()) store_->persist(matcher_->changes(), decided_at_);
    } catch (const mpi::StoreError& e) {
      throw Error(VAXETL_IO_ERROR, std::string("mpi: writing to the index failed: ") + e.what());
    }
    matcher_->clear_changes();  // a dry run too: memory stays bounded
    export_batch(input, out);
  }

  void finish() override {
    if (!matcher_) throw Error(VAXETL_INTERNAL, "mpi: finish() before begin()");
    const std::size_t masters = matcher_->master_count();
    std::string model_note;
    if (writing()) {
      try {
        model_note = learn();
        store_->commit();
      } catch (const mpi::StoreError& e) {
        throw Error(VAXETL_IO_ERROR, std::string("mpi: committing the index failed: ") + e.what());
      }
    }
    store_.reset();  // a dry run's read transaction ends here, leaving nothing
    matcher_.reset();
    std::string message = std::string("mpi: ") + (dry_run_ ? "dry run, nothing written: " : "") +
                          plural(tally_.matched + tally_.replayed, "record", "records") +
                          " matched: " + std::to_string(tally_.linked) + " linked, " +
                          std::to_string(tally_.created) + " new, " + std::to_string(tally_.possible) +
                          " possible (queued for review)";
    if (tally_.replayed > 0)
      message += "; " + std::to_string(tally_.replayed) +
                 " of them repeat their earlier decision (this input was matched before)";
    if (tally_.skipped > 0)
      message += "; " + plural(tally_.skipped, "record", "records") +
                 " rejected or held upstream, not matched";
    message += "; " + plural(masters, "master", "masters") + " in the index" + model_note;
    host_.info(message);
  }

 private:
  struct Tally {
    std::uint64_t matched = 0, linked = 0, created = 0, possible = 0, replayed = 0, skipped = 0;
  };

  bool writing() const { return store_ != nullptr && !dry_run_; }

  void bind_columns(const ArrowSchema& input) {
    const sdk::SchemaIndex index(input);
    try {
      record_no_ = index.column("_record_no");
      org_ = index.column(kOrgCode);
      recip_id_ = index.column(kRecipId);
      for (std::size_t i = 0; i < kPersonColumnCount; ++i) person_[i] = index.column(kPersonColumns[i]);
    } catch (const std::out_of_range& e) {
      throw Error(VAXETL_INVALID_CONFIG, std::string("mpi: ") + e.what());
    }
    event_id_ = index.has("vax_event_id") ? std::optional(index.column("vax_event_id")) : std::nullopt;
    record_type_ = index.has("record_type") ? std::optional(index.column("record_type")) : std::nullopt;
    for (const char* produced : {"mpi_id", "mpi_decision", "mpi_score"})
      if (index.has(produced))
        throw Error(VAXETL_INVALID_CONFIG, std::string("mpi: the input already has a column ") +
                                               produced + "; a pipeline runs the mpi stage once");
    if (index.format(record_no_) != "l")
      throw Error(VAXETL_INVALID_CONFIG, "mpi: _record_no is not int64");
  }

  void open_index() {
    store_.reset();
    matcher_.reset();
    replays_.clear();
    mpi::StoreOptions options;
    options.path = index_path_;
    options.data_dir = data_dir_;
    options.dry_run = dry_run_;
    options.busy_timeout_ms = busy_timeout_ms_;
    options.cache_kib = cache_kib_;
    const auto started = std::chrono::steady_clock::now();
    try {
      if (!dry_run_ && !vaxetl::db::Location::parse(index_path_).is_postgres()) {
        const auto parent = std::filesystem::path(index_path_).parent_path();
        std::error_code ec;
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      }
      try {
        store_ = std::make_unique<mpi::MpiStore>(options);
      } catch (const mpi::IndexMissing&) {
        if (!dry_run_) throw;
        host_.info("mpi: dry run without an index file at " + index_path_ +
                   ": matching against an empty index");
      }
      stored_model_ = mpi::Model::defaults();
      model_version_ = 0;
      mpi::LoadSummary summary;
      if (store_) {
        // The write lock, before reading: nothing changes under this load.
        store_->begin({run_.run_id, run_.input_sha256});
        if (auto stored = store_->latest_model()) {
          stored_model_ = stored->model;
          model_version_ = stored->version;
        }
      }
      mpi::Model model = stored_model_;
      if (link_threshold_) model.link_threshold = *link_threshold_;
      if (new_threshold_) model.new_threshold = *new_threshold_;
      if (runner_up_margin_) model.runner_up_margin = *runner_up_margin_;
      matcher_ = std::make_unique<mpi::Matcher>(tables_, model);
      if (store_) {
        summary = store_->load(*matcher_);
        for (const mpi::PriorDecision& prior : store_->decisions_of_input(run_.input_sha256))
          replays_.emplace(prior.record_no, prior);
      }
      matcher_->collect_comparisons(learn_model_ && !dry_run_);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      char elapsed[32];
      std::snprintf(elapsed, sizeof(elapsed), "%.1f", seconds);
      std::string message = "mpi: index " + (store_ ? store_->path() : index_path_) + " loaded in " + elapsed + " s: " +
                            plural(summary.masters, "master", "masters") + ", " +
                            plural(summary.values, "value", "values") + ", model version " +
                            std::to_string(model_version_) +
                            (model_version_ == 0 ? " (built-in defaults)" : "");
      if (!replays_.empty())
        message += "; this input was matched before: its " +
                   plural(replays_.size(), "record keeps its", "records keep their") +
                   " earlier masters";
      host_.info(message);
    } catch (const mpi::StoreBusy& e) {
      store_.reset();
      throw Error(VAXETL_IO_ERROR,
                  std::string("mpi: the index is busy with another load or an operator's merge; "
                              "run the file again when it is done: ") + e.what());
    } catch (const mpi::StoreError& e) {
      store_.reset();
      throw Error(VAXETL_IO_ERROR, std::string("mpi: cannot open the index: ") + e.what());
    }
  }

  void match_row(const sdk::BatchView& view, int64_t row) {
    const int64_t record_no = view.int64(record_no_, row);
    mpi::DecisionContext context;
    context.record_no = record_no;
    context.source = view.text(org_, row);
    context.recipient_id = view.text(recip_id_, row);
    context.vax_event_id = event_id_ ? view.text(*event_id_, row) : std::string_view();
    context.record_type = record_type_ ? view.text(*record_type_, row) : std::string_view();
    context.model_version = model_version_;
    context.decided_at = decided_at_;

    if (!replays_.empty()) {
      const auto prior = replays_.find(record_no);
      if (prior != replays_.end()) {
        const mpi::PriorDecision& p = prior->second;
        if (writing()) store_->append_replay(context, p.seq, p.mpi_id_now);
        emit(p.mpi_id_now, p.decision, p.score);
        ++tally_.replayed;
        count(p.decision);
        return;
      }
    }

    mpi::PersonInput person;
    person.source = context.source;
    person.recipient_id = context.recipient_id;
    std::string_view v[kPersonColumnCount];
    for (std::size_t i = 0; i < kPersonColumnCount; ++i) v[i] = view.text(person_[i], row);
    person.first_name = v[0];
    person.middle_name = v[1];
    person.last_name = v[2];
    person.suffix = v[3];
    person.birth_date = v[4];
    person.sex = v[5];
    person.street = v[6];
    person.street_2 = v[7];
    person.city = v[8];
    person.state = v[9];
    person.zip = v[10];
    person.phone = v[11];
    person.email = v[12];

    const mpi::MatchResult& result = matcher_->match(person);
    if (writing()) store_->append_decision(context, result);
    emit(result.mpi_id, result.decision, result.score);
    ++tally_.matched;
    count(result.decision);
  }

  void count(mpi::Decision decision) {
    switch (decision) {
      case mpi::Decision::Linked:
        ++tally_.linked;
        break;
      case mpi::Decision::New:
        ++tally_.created;
        break;
      case mpi::Decision::Possible:
        ++tally_.possible;
        break;
    }
  }

  void emit(mpi::MasterId id, mpi::Decision decision, double score) {
    mpi_id_.append(mpi::format_mpi_id(id));
    decision_.append(mpi::decision_name(decision));
    score_.append(format_score(score));
  }

  // Re-estimates m and u from the pairs this load scored; returns a note for the log line.
  std::string learn() {
    if (!learn_model_ || tally_.matched == 0) return {};
    mpi::EstimationReport report;
    mpi::Model learned = matcher_->reestimate(&report);
    if (report.pairs < static_cast<std::uint64_t>(learn_min_pairs_))
      return "; model kept (" + plural(report.pairs, "scored pair", "scored pairs") + ", " +
             std::to_string(learn_min_pairs_) + " needed to re-estimate)";
    // Threshold overrides are this pipeline's configuration, not part of what was learned.
    learned.link_threshold = stored_model_.link_threshold;
    learned.new_threshold = stored_model_.new_threshold;
    learned.runner_up_margin = stored_model_.runner_up_margin;
    const std::int64_t version = store_->save_model(learned, report);
    return "; model version " + std::to_string(version) + " estimated from " +
           plural(report.pairs, "scored pair", "scored pairs") + " in " +
           plural(report.iterations, "iteration", "iterations") + ", used from the next run";
  }

  void export_schema(const ArrowSchema& input, ArrowSchema* out) {
    auto parent = std::make_unique<SchemaNode>();
    parent->format = "+s";
    auto add = [&](std::string name, std::string format) {
      auto node = std::make_unique<SchemaNode>();
      node->name = std::move(name);
      node->format = std::move(format);
      auto child = std::make_unique<ArrowSchema>();
      fill_schema(child.get(), std::move(node), ARROW_FLAG_NULLABLE);
      parent->children.push_back(child.get());
      parent->child_storage.push_back(std::move(child));
    };
    input_columns_ = static_cast<std::size_t>(input.n_children);
    for (int64_t i = 0; i < input.n_children; ++i) {
      const ArrowSchema* child = input.children[i];
      if (child->n_children != 0)
        throw Error(VAXETL_INVALID_CONFIG, std::string("mpi: column ") + (child->name ? child->name : "?") +
                                               " is nested; the mpi stage passes flat columns only");
      add(child->name ? child->name : "", child->format);
    }
    for (const vaxetl_column& column : kProduces) add(column.name, column.format);
    fill_schema(out, std::move(parent), 0);
  }

  void export_batch(const ArrowArray& input, ArrowArray* out) {
    if (static_cast<std::size_t>(input.n_children) != input_columns_)
      throw Error(VAXETL_INTERNAL, "mpi: a batch does not have the columns its schema announced");
    auto batch = std::make_unique<OutputBatch>();
    for (int64_t i = 0; i < input.n_children; ++i) {
      const ArrowArray* source = input.children[i];
      auto child = std::make_unique<ArrowArray>(*source);
      // The struct's offset applies to its children; fold it in so the output's is 0.
      child->offset = source->offset + input.offset;
      child->length = input.length;
      if (input.offset != 0 || source->length != input.length) child->null_count = -1;
      child->release = &release_borrowed;
      child->private_data = nullptr;
      batch->children.push_back(child.get());
      batch->child_storage.push_back(std::move(child));
    }
    for (Utf8Column* column : {&mpi_id_, &decision_, &score_}) {
      auto child = std::make_unique<ArrowArray>();
      column->export_to(child.get());
      batch->children.push_back(child.get());
      batch->child_storage.push_back(std::move(child));
    }
    out->length = input.length;
    out->null_count = 0;
    out->offset = 0;
    out->n_buffers = 1;
    out->n_children = static_cast<int64_t>(batch->children.size());
    out->buffers = batch->buffers;
    out->children = batch->children.data();
    out->dictionary = nullptr;
    out->release = &release_output;
    out->private_data = batch.release();
  }

  sdk::Host host_;
  std::string index_path_;
  std::string data_dir_;
  bool learn_model_;
  int64_t learn_min_pairs_;
  int busy_timeout_ms_;
  std::size_t cache_kib_;
  std::optional<double> link_threshold_, new_threshold_, runner_up_margin_;
  std::shared_ptr<const mpi::ReferenceTables> tables_;

  // One run.
  sdk::RunInfo run_;
  bool dry_run_ = false;
  std::unique_ptr<mpi::MpiStore> store_;
  std::unique_ptr<mpi::Matcher> matcher_;
  mpi::Model stored_model_;
  std::int64_t model_version_ = 0;
  std::unordered_map<int64_t, mpi::PriorDecision> replays_;
  std::string decided_at_;
  Tally tally_;
  std::size_t input_columns_ = 0;
  std::size_t record_no_ = 0, org_ = 0, recip_id_ = 0;
  std::size_t person_[kPersonColumnCount] = {};
  std::optional<std::size_t> event_id_, record_type_;
  Utf8Column mpi_id_, decision_, score_;
};

}  // namespace

VAXETL_EXPORT_TRANSFORM(MpiTransform, kInfo)
