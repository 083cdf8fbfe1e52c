// The SDK's BatchBuilder / BatchView / SchemaIndex round trip, and Arrow release semantics
// (run under ASan/LSan to catch leaks and use-after-free).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "vaxetl/sdk/batch.hpp"

namespace vaxetl::sdk {
namespace {

struct Row {
  int64_t record_no;
  std::string raw;
  std::vector<std::string> values;
};

void add(BatchBuilder& builder, const Row& row) {
  std::vector<std::string_view> views(row.values.begin(), row.values.end());
  builder.add_row(row.record_no, row.raw, views.data());
}

TEST(BatchSchema, ExportsMetadataColumnsThenRecordColumns) {
  ArrowSchema schema{};
  export_batch_schema({"vax_event_id", "value"}, &schema);
  EXPECT_STREQ(schema.format, "+s");
  ASSERT_EQ(schema.n_children, 4);
  const SchemaIndex index(schema);
  EXPECT_EQ(index.names(), (std::vector<std::string>{"_record_no", "_raw", "vax_event_id", "value"}));
  EXPECT_EQ(index.format(0), "l");
  EXPECT_EQ(index.format(1), "u");
  EXPECT_EQ(index.format(3), "u");
  EXPECT_EQ(index.column("value"), 3u);
  EXPECT_TRUE(index.has("_raw"));
  EXPECT_FALSE(index.has("mpi_id"));
  EXPECT_EQ(schema.children[2]->flags & ARROW_FLAG_NULLABLE, ARROW_FLAG_NULLABLE);
  try {
    index.column("mpi_id");
    ADD_FAILURE() << "column() found a missing column";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "batch has no column 'mpi_id'");
  }
  schema.release(&schema);
  EXPECT_EQ(schema.release, nullptr);
}

TEST(BatchSchema, IndexRefusesNonStructSchema) {
  ArrowSchema schema{};
  export_batch_schema({}, &schema);
  ArrowSchema* child = schema.children[0];  // "l", not a struct
  EXPECT_THROW(SchemaIndex{*child}, std::invalid_argument);
  schema.release(&schema);
}

TEST(BatchBuilder, RoundTripsValuesNullsAndMetadata) {
  BatchBuilder builder(2);
  EXPECT_EQ(builder.record_column_count(), 2u);
  const std::vector<Row> rows = {
      {1, "E1 alpha", {"E1", "alpha"}},
      {2, "", {"", ""}},                       // empty values are null
      {5, "E5 with|pipe", {"E5", "with|pipe"}},
      {9, "E9", {"E9", ""}},
  };
  for (const auto& row : rows) add(builder, row);
  EXPECT_EQ(builder.rows(), 4);

  ArrowArray array{};
  builder.finish(&array);
  EXPECT_EQ(builder.rows(), 0);  // ready for the next batch
  ASSERT_NE(array.release, nullptr);
  EXPECT_EQ(array.length, 4);
  EXPECT_EQ(array.n_children, 4);
  EXPECT_EQ(array.null_count, 0);

  const BatchView view(array);
  ASSERT_EQ(view.rows(), 4);
  for (int64_t r = 0; r < view.rows(); ++r) {
    const Row& expected = rows[static_cast<std::size_t>(r)];
    EXPECT_TRUE(view.live(r));
    EXPECT_EQ(view.int64(0, r), expected.record_no);
    EXPECT_EQ(view.text(1, r), expected.raw);
    for (std::size_t c = 0; c < expected.values.size(); ++c) {
      EXPECT_EQ(view.text(c + 2, r), expected.values[c]) << "row " << r << " column " << c;
      EXPECT_EQ(view.is_null(c + 2, r), expected.values[c].empty()) << "row " << r << " column " << c;
    }
  }
  // The raw record is never null, even when empty.
  EXPECT_FALSE(view.is_null(1, 1));
  EXPECT_EQ(array.children[2]->null_count, 1);
  EXPECT_EQ(array.children[3]->null_count, 2);
  EXPECT_EQ(array.children[0]->null_count, 0);
  array.release(&array);
  EXPECT_EQ(array.release, nullptr);
}

TEST(BatchBuilder, StartsAFreshBatchAfterFinish) {
  BatchBuilder builder(1);
  add(builder, {1, "a", {"a"}});
  add(builder, {2, "b", {"b"}});
  ArrowArray first{};
  builder.finish(&first);
  add(builder, {3, "c", {""}});
  ArrowArray second{};
  builder.finish(&second);

  const BatchView a(first);
  const BatchView b(second);
  ASSERT_EQ(a.rows(), 2);
  ASSERT_EQ(b.rows(), 1);
  EXPECT_EQ(a.text(2, 1), "b");
  EXPECT_EQ(b.int64(0, 0), 3);
  EXPECT_TRUE(b.is_null(2, 0));
  EXPECT_EQ(second.children[2]->null_count, 1);
  EXPECT_EQ(first.children[2]->null_count, 0);
  first.release(&first);
  second.release(&second);
}

// "<prefix><i>" (built by appending: gcc 12 warns falsely on "literal" + std::string&&).
std::string numbered(const char* prefix, int64_t i) {
  std::string text = prefix;
  text += std::to_string(i);
  return text;
}

TEST(BatchBuilder, ManyRowsCrossByteBoundariesOfTheValidityBitmap) {
  BatchBuilder builder(1);
  for (int64_t i = 0; i < 70; ++i) {
    const std::string value = i % 3 == 0 ? "" : numbered("v", i);
    add(builder, {i + 1, numbered("raw", i), {value}});
  }
  ArrowArray array{};
  builder.finish(&array);
  const BatchView view(array);
  for (int64_t i = 0; i < 70; ++i) {
    EXPECT_EQ(view.is_null(2, i), i % 3 == 0) << i;
    if (i % 3 != 0) {
      EXPECT_EQ(view.text(2, i), numbered("v", i));
    }
    EXPECT_EQ(view.text(1, i), numbered("raw", i));
  }
  array.release(&array);
}

TEST(BatchView, HonoursStructValidityAndOffsets) {
  BatchBuilder builder(1);
  for (int64_t i = 0; i < 10; ++i) add(builder, {i + 1, "r", {std::to_string(i)}});
  ArrowArray array{};
  builder.finish(&array);

  // A host-style view: rows 1 and 3 dead, sliced from row 1.
  ArrowArray view_array = array;
  view_array.release = nullptr;
  const uint8_t bitmap[2] = {static_cast<uint8_t>(0xff & ~(1u << 1) & ~(1u << 3)), 0xff};
  const void* buffers[1] = {bitmap};
  view_array.buffers = buffers;
  view_array.offset = 1;
  view_array.length = 9;
  const BatchView view(view_array);
  EXPECT_FALSE(view.live(0));  // row 1 of the parent
  EXPECT_TRUE(view.live(1));
  EXPECT_FALSE(view.live(2));  // row 3 of the parent
  EXPECT_EQ(view.text(2, 0), "1");
  EXPECT_EQ(view.int64(0, 8), 10);
  array.release(&array);
}

TEST(BatchBuilder, ChildMovedOutOutlivesItsParent) {
  BatchBuilder builder(1);
  add(builder, {7, "E7 kept", {"kept"}});
  ArrowArray parent{};
  builder.finish(&parent);

  // Move child 2 out, as the Arrow C data interface allows: copy the struct and mark the
  // original released, so the parent's release must skip it.
  ArrowArray moved = *parent.children[2];
  parent.children[2]->release = nullptr;
  parent.release(&parent);
  EXPECT_EQ(parent.release, nullptr);

  ASSERT_NE(moved.release, nullptr);
  const auto* offsets = static_cast<const int32_t*>(moved.buffers[1]);
  const auto* data = static_cast<const char*>(moved.buffers[2]);
  EXPECT_EQ(std::string_view(data + offsets[0], static_cast<std::size_t>(offsets[1] - offsets[0])),
            "kept");
  moved.release(&moved);
  EXPECT_EQ(moved.release, nullptr);
}

TEST(BatchBuilder, ReleasingParentReleasesEveryChild) {
  // Children record their release through a wrapper; the parent must call each exactly once.
  static int released = 0;
  released = 0;
  BatchBuilder builder(3);
  add(builder, {1, "r", {"a", "b", "c"}});
  ArrowArray parent{};
  builder.finish(&parent);
  struct Saved {
    void (*release)(ArrowArray*);
    void* private_data;
  };
  static std::vector<Saved> saved;
  saved.clear();
  for (int64_t i = 0; i < parent.n_children; ++i) {
    ArrowArray* child = parent.children[i];
    saved.push_back({child->release, child->private_data});
    child->private_data = reinterpret_cast<void*>(static_cast<intptr_t>(i));
    child->release = [](ArrowArray* a) {
      const auto index = static_cast<std::size_t>(reinterpret_cast<intptr_t>(a->private_data));
      a->private_data = saved[index].private_data;
      a->release = saved[index].release;
      a->release(a);
      ++released;
    };
  }
  parent.release(&parent);
  EXPECT_EQ(released, 5);  // _record_no, _raw and three record columns
}

}  // namespace
}  // namespace vaxetl::sdk
