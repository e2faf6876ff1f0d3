#include "storage/write_batch.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roadmq::storage {
namespace {

using Kind = WriteBatch::OpKind;

struct Seen {
  Kind kind;
  Table table;
  std::string key;
  std::string value;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> ops_of(const WriteBatch& b) {
  std::vector<Seen> out;
  b.for_each([&](const WriteBatch::Op& op) {
    out.push_back({op.kind, op.table, std::string(op.key), std::string(op.value)});
  });
  return out;
}

TEST(StorageWriteBatch, EmptyBatch) {
  WriteBatch b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.ops(), 0u);
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_TRUE(ops_of(b).empty());
}

TEST(StorageWriteBatch, EveryKindRoundTripsInOrder) {
  WriteBatch b;
  b.put(Table::sessions, "client-1", "state");
  b.erase(Table::outbound, "client-1/7");
  b.erase_prefix(Table::subscriptions, "client-1/");
  b.ref_message(0x0102030405060708ull, "body");
  b.unref_message(42);
  b.put(Table::retained, "", "");  // empty key and value are legal
  EXPECT_EQ(b.ops(), 6u);
  EXPECT_FALSE(b.empty());

  const std::vector<Seen> want{
      {Kind::put, Table::sessions, "client-1", "state"},
      {Kind::erase, Table::outbound, "client-1/7", ""},
      {Kind::erase_prefix, Table::subscriptions, "client-1/", ""},
      {Kind::ref_message, Table::messages, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8), "body"},
      {Kind::unref_message, Table::messages, message_key(42), ""},
      {Kind::put, Table::retained, "", ""},
  };
  EXPECT_EQ(ops_of(b), want);
}

TEST(StorageWriteBatch, EncodingIsCompact) {
  // kind + table + 1-byte length + key + 1-byte length + value.
  WriteBatch b;
  b.put(Table::meta, "k", "vv");
  EXPECT_EQ(b.bytes(), 2u + 1 + 1 + 1 + 2);
  b.erase(Table::meta, "k");
  EXPECT_EQ(b.bytes(), 7u + 2 + 1 + 1);
}

TEST(StorageWriteBatch, LongKeysAndValuesUseMultiByteLengths) {
  // Lengths around the varint byte boundaries, and binary content.
  for (std::size_t len : {127u, 128u, 16383u, 16384u, 300000u}) {
    std::string key(len, '\0');
    std::string value(len + 1, '\xff');
    for (std::size_t i = 0; i < len; ++i) key[i] = static_cast<char>(i * 31);
    WriteBatch b;
    b.put(Table::messages, key, value);
    b.erase(Table::messages, "after");
    const auto seen = ops_of(b);
    ASSERT_EQ(seen.size(), 2u) << len;
    EXPECT_EQ(seen[0].key, key) << len;
    EXPECT_EQ(seen[0].value, value) << len;
    EXPECT_EQ(seen[1].key, "after") << len;
  }
}

TEST(StorageWriteBatch, MessageKeyIsBigEndianAndSortsNumerically) {
  EXPECT_EQ(message_key(0), std::string(8, '\0'));
  EXPECT_EQ(message_key(0x0102030405060708ull), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_LT(message_key(255), message_key(256));
  EXPECT_LT(message_key(1ull << 40), message_key(~0ull));
}

TEST(StorageWriteBatch, AppendKeepsBothOrders) {
  WriteBatch a;
  a.put(Table::meta, "a1", "x");
  a.erase(Table::meta, "a2");
  WriteBatch b;
  b.ref_message(5, "m");
  b.put(Table::meta, "b1", "y");
  const auto a_bytes = a.bytes();
  a.append(b);
  EXPECT_EQ(a.ops(), 4u);
  EXPECT_EQ(a.bytes(), a_bytes + b.bytes());
  const auto seen = ops_of(a);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].key, "a1");
  EXPECT_EQ(seen[1].key, "a2");
  EXPECT_EQ(seen[2].kind, Kind::ref_message);
  EXPECT_EQ(seen[3].key, "b1");
  EXPECT_EQ(b.ops(), 2u);  // the source is untouched

  WriteBatch empty;
  a.append(empty);
  EXPECT_EQ(a.ops(), 4u);
}

TEST(StorageWriteBatch, ClearEmptiesAndTheBatchIsReusable) {
  WriteBatch b;
  for (int i = 0; i < 100; ++i) b.put(Table::outbound, "key" + std::to_string(i), "value");
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes(), 0u);
  EXPECT_TRUE(ops_of(b).empty());
  b.erase(Table::inbound, "x");
  const auto seen = ops_of(b);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (Seen{Kind::erase, Table::inbound, "x", ""}));
}

TEST(StorageWriteBatch, MovedFromBatchIsEmptyAndCanBeRefilled) {
  WriteBatch a;
  a.put(Table::meta, "k", "v");
  WriteBatch b(std::move(a));
  EXPECT_EQ(b.ops(), 1u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented to be empty
  EXPECT_EQ(a.bytes(), 0u);
  WriteBatch c;
  c = std::move(b);
  EXPECT_EQ(c.ops(), 1u);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  a.put(Table::meta, "k2", "v2");
  EXPECT_EQ(a.ops(), 1u);
  EXPECT_EQ(ops_of(a)[0].key, "k2");
}

TEST(StorageWriteBatch, OnlyRemovesUntilSomethingIsStored) {
  WriteBatch b;
  EXPECT_TRUE(b.only_removes());
  b.erase(Table::outbound, "a");
  b.erase_prefix(Table::inbound, "c/");
  b.unref_message(7);
  EXPECT_TRUE(b.only_removes());

  WriteBatch stores;
  stores.ref_message(8, "body");
  EXPECT_FALSE(stores.only_removes());
  b.append(stores);
  EXPECT_FALSE(b.only_removes());

  WriteBatch moved = std::move(b);
  EXPECT_FALSE(moved.only_removes());
  EXPECT_TRUE(b.only_removes());  // NOLINT(bugprone-use-after-move): moved-from is empty
  moved.clear();
  EXPECT_TRUE(moved.only_removes());
  moved.put(Table::sessions, "c", "s");
  EXPECT_FALSE(moved.only_removes());
}

TEST(StorageTable, NamesAreStable) {
  // Column family names are on disk: renaming one orphans its data.
  EXPECT_EQ(table_name(Table::meta), "meta");
  EXPECT_EQ(table_name(Table::sessions), "sessions");
  EXPECT_EQ(table_name(Table::subscriptions), "subscriptions");
  EXPECT_EQ(table_name(Table::messages), "messages");
  EXPECT_EQ(table_name(Table::outbound), "outbound");
  EXPECT_EQ(table_name(Table::inbound), "inbound");
  EXPECT_EQ(table_name(Table::retained), "retained");
  EXPECT_EQ(static_cast<std::size_t>(Table::retained) + 1, kTableCount);
}

}  // namespace
}  // namespace roadmq::storage
