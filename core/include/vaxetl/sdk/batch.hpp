// Building and reading vaxetl batches (Arrow C Data Interface struct arrays) from C++.
//
// BatchBuilder makes the batches a source returns: the two metadata columns (_record_no,
// _raw) followed by utf8 record columns. Buffers are moved into the exported ArrowArray; each
// child owns its own buffers so a consumer may move a child out, as the Arrow spec allows.
// BatchView reads any batch without copying.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vaxetl/arrow_c_data.h"

namespace vaxetl::sdk {

namespace detail {

// Owns one exported ArrowSchema node and its children.
struct SchemaNode {
  std::string format;
  std::string name;
  std::vector<std::unique_ptr<ArrowSchema>> child_storage;
  std::vector<ArrowSchema*> child_pointers;
};

inline void release_schema(ArrowSchema* schema) {
  if (schema == nullptr || schema->release == nullptr) return;
  for (int64_t i = 0; i < schema->n_children; ++i) {
    ArrowSchema* child = schema->children[i];
    if (child->release != nullptr) child->release(child);
  }
  std::unique_ptr<SchemaNode>(static_cast<SchemaNode*>(schema->private_data)).reset();
  schema->release = nullptr;
}

inline void fill_schema(ArrowSchema* out, std::unique_ptr<SchemaNode> node, int64_t flags) {
  out->format = node->format.c_str();
  out->name = node->name.c_str();
  out->metadata = nullptr;
  out->flags = flags;
  out->n_children = static_cast<int64_t>(node->child_pointers.size());
  out->children = node->child_pointers.empty() ? nullptr : node->child_pointers.data();
  out->dictionary = nullptr;
  out->release = &release_schema;
  out->private_data = node.release();
}

// Buffers of one column: validity bitmap, then offsets+data (utf8) or values (int64).
struct ColumnBuffers {
  std::vector<uint8_t> validity;
  std::vector<int32_t> offsets;
  std::vector<char> data;
  std::vector<int64_t> values;
  const void* pointers[3] = {nullptr, nullptr, nullptr};
};

inline void release_child(ArrowArray* array) {
  if (array == nullptr || array->release == nullptr) return;
  std::unique_ptr<ColumnBuffers>(static_cast<ColumnBuffers*>(array->private_data)).reset();
  array->release = nullptr;
}

struct ParentBuffers {
  std::vector<std::unique_ptr<ArrowArray>> child_storage;
  std::vector<ArrowArray*> child_pointers;
  const void* pointers[1] = {nullptr};
};

inline void release_parent(ArrowArray* array) {
  if (array == nullptr || array->release == nullptr) return;
  for (int64_t i = 0; i < array->n_children; ++i) {
    ArrowArray* child = array->children[i];
    if (child->release != nullptr) child->release(child);
  }
  std::unique_ptr<ParentBuffers>(static_cast<ParentBuffers*>(array->private_data)).reset();
  array->release = nullptr;
}

inline bool bit_set(const void* bitmap, int64_t index) {
  return bitmap == nullptr ||
         (static_cast<const uint8_t*>(bitmap)[index >> 3] >> (index & 7) & 1) != 0;
}

}  // namespace detail

// Exports the schema of a batch: struct of (_record_no int64, _raw utf8, columns... utf8).
inline void export_batch_schema(const std::vector<std::string>& record_columns, ArrowSchema* out) {
  auto parent = std::make_unique<detail::SchemaNode>();
  parent->format = "+s";
  auto add_child = [&](std::string name, std::string format) {
    auto node = std::make_unique<detail::SchemaNode>();
    node->format = std::move(format);
    node->name = std::move(name);
    auto child = std::make_unique<ArrowSchema>();
    detail::fill_schema(child.get(), std::move(node), ARROW_FLAG_NULLABLE);
    parent->child_pointers.push_back(child.get());
    parent->child_storage.push_back(std::move(child));
  };
  add_child("_record_no", "l");
  add_child("_raw", "u");
  for (const auto& name : record_columns) add_child(name, "u");
  detail::fill_schema(out, std::move(parent), 0);
}

// Accumulates rows of string columns and exports them as one batch. Memory is reused across
// batches in capacity terms: each batch reserves what the previous one needed.
class BatchBuilder {
 public:
  explicit BatchBuilder(std::size_t record_column_count)
      : columns_(record_column_count + 2), reserve_hint_(record_column_count + 2) {
    reset();
  }

  std::size_t record_column_count() const noexcept { return columns_.size() - 2; }
  int64_t rows() const noexcept { return rows_; }

  // Appends a row. `values` has record_column_count() entries; an empty view is null.
  void add_row(int64_t record_no, std::string_view raw, const std::string_view* values) {
    columns_[0].buffers.values.push_back(record_no);
    set_valid(columns_[0], true);
    append_text(columns_[1], raw, true);
    for (std::size_t i = 0; i + 2 < columns_.size(); ++i)
      append_text(columns_[i + 2], values[i], !values[i].empty());
    ++rows_;
  }

  // Moves the accumulated rows into `out` (a struct array) and starts a new batch.
  void finish(ArrowArray* out) {
    auto parent = std::make_unique<detail::ParentBuffers>();
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      auto buffers = std::make_unique<detail::ColumnBuffers>(std::move(columns_[c].buffers));
      auto child = std::make_unique<ArrowArray>();
      child->length = rows_;
      child->null_count = columns_[c].null_count;
      child->offset = 0;
      child->n_children = 0;
      child->children = nullptr;
      child->dictionary = nullptr;
      buffers->pointers[0] = columns_[c].null_count == 0 ? nullptr : buffers->validity.data();
      if (c == 0) {
        buffers->pointers[1] = buffers->values.data();
        child->n_buffers = 2;
      } else {
        buffers->pointers[1] = buffers->offsets.data();
        buffers->pointers[2] = buffers->data.data();
        child->n_buffers = 3;
      }
      child->buffers = buffers->pointers;
      child->release = &detail::release_child;
      child->private_data = buffers.release();
      parent->child_pointers.push_back(child.get());
      parent->child_storage.push_back(std::move(child));
    }
    out->length = rows_;
    out->null_count = 0;
    out->offset = 0;
    out->n_buffers = 1;
    out->n_children = static_cast<int64_t>(parent->child_pointers.size());
    out->buffers = parent->pointers;
    out->children = parent->child_pointers.data();
    out->dictionary = nullptr;
    out->release = &detail::release_parent;
    out->private_data = parent.release();
    for (std::size_t c = 0; c < columns_.size(); ++c) reserve_hint_[c] = columns_[c].data_size;
    reset();
  }

 private:
  struct Column {
    detail::ColumnBuffers buffers;
    int64_t null_count = 0;
    std::size_t data_size = 0;
  };

  static void set_valid(Column& column, bool valid) {
    auto& bitmap = column.buffers.validity;
    const int64_t index = static_cast<int64_t>(column.buffers.offsets.empty()
                                                   ? column.buffers.values.size() - 1
                                                   : column.buffers.offsets.size() - 2);
    if (static_cast<std::size_t>(index >> 3) >= bitmap.size()) bitmap.push_back(0);
    if (valid) {
      bitmap[index >> 3] |= static_cast<uint8_t>(1u << (index & 7));
    } else {
      ++column.null_count;
    }
  }

  static void append_text(Column& column, std::string_view value, bool valid) {
    auto& data = column.buffers.data;
    data.insert(data.end(), value.begin(), value.end());
    column.buffers.offsets.push_back(static_cast<int32_t>(data.size()));
    column.data_size = data.size();
    set_valid(column, valid);
  }

  void reset() {
    rows_ = 0;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      Column& column = columns_[c];
      column.buffers = detail::ColumnBuffers{};
      column.null_count = 0;
      column.data_size = 0;
      if (c == 0) continue;
      column.buffers.offsets.push_back(0);
      column.buffers.data.reserve(reserve_hint_[c]);
    }
  }

  std::vector<Column> columns_;
  std::vector<std::size_t> reserve_hint_;
  int64_t rows_ = 0;
};

// Column positions resolved once per input from the schema, so per-batch access is by index.
class SchemaIndex {
 public:
  SchemaIndex() = default;
  explicit SchemaIndex(const ArrowSchema& schema) {
    if (std::string_view(schema.format) != "+s")
      throw std::invalid_argument("batch schema is not a struct (format +s)");
    for (int64_t i = 0; i < schema.n_children; ++i) {
      names_.emplace_back(schema.children[i]->name ? schema.children[i]->name : "");
      formats_.emplace_back(schema.children[i]->format);
    }
  }
  // Index of a column; throws std::out_of_range naming the missing column.
  std::size_t column(std::string_view name) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return i;
    throw std::out_of_range("batch has no column '" + std::string(name) + "'");
  }
  bool has(std::string_view name) const {
    for (const auto& n : names_)
      if (n == name) return true;
    return false;
  }
  const std::vector<std::string>& names() const noexcept { return names_; }
  const std::string& format(std::size_t index) const { return formats_.at(index); }

 private:
  std::vector<std::string> names_;
  std::vector<std::string> formats_;
};

// Read-only view of one batch. Cheap to construct; valid while the array is.
class BatchView {
 public:
  explicit BatchView(const ArrowArray& array) : array_(&array) {}

  int64_t rows() const noexcept { return array_->length; }
  // False when an earlier stage rejected or held the row: skip it.
  bool live(int64_t row) const noexcept {
    return detail::bit_set(array_->buffers[0], row + array_->offset);
  }
  bool is_null(std::size_t column, int64_t row) const noexcept {
    const ArrowArray* child = array_->children[column];
    return !detail::bit_set(child->buffers[0], row + child->offset + array_->offset);
  }
  // The utf8 value at (column, row); an empty view when null.
  std::string_view text(std::size_t column, int64_t row) const noexcept {
    const ArrowArray* child = array_->children[column];
    const int64_t index = row + child->offset + array_->offset;
    if (!detail::bit_set(child->buffers[0], index)) return {};
    const auto* offsets = static_cast<const int32_t*>(child->buffers[1]);
    const auto* data = static_cast<const char*>(child->buffers[2]);
    return std::string_view(data + offsets[index],
                            static_cast<std::size_t>(offsets[index + 1] - offsets[index]));
  }
  int64_t int64(std::size_t column, int64_t row) const noexcept {
    const ArrowArray* child = array_->children[column];
    return static_cast<const int64_t*>(child->buffers[1])[row + child->offset + array_->offset];
  }

 private:
  const ArrowArray* array_;
};

}  // namespace vaxetl::sdk
