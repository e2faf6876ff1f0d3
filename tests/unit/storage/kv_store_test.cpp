// The KvStore contract, run against both implementations: whatever the
// broker's tests learn from the memory store must hold on RocksDB too.
#include "storage/kv_store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/storage_test_util.hpp"

namespace roadmq::storage {
namespace {

using test::dump;
using test::TempDir;
using Map = std::map<std::string, std::string>;

enum class Backend { memory, rocksdb };

class KvStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::memory) {
      store_ = make_memory_store();
      return;
    }
    RocksOptions options;
    options.data_dir = dir_.sub("data");
    options.write_buffer_bytes = 1u << 20;
    options.block_cache_bytes = 1u << 20;
    auto opened = open_rocksdb(options);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  void write(const WriteBatch& b) {
    auto st = store_->write(b, true);
    ASSERT_TRUE(st.has_value()) << st.error().message;
  }
  std::optional<std::string> get(Table t, std::string_view key) {
    auto r = store_->get(t, key);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.has_value() ? *r : std::nullopt;
  }

  TempDir dir_;
  std::unique_ptr<KvStore> store_;
};

TEST_P(KvStoreContract, PutGetOverwriteErase) {
  EXPECT_EQ(get(Table::sessions, "c1"), std::nullopt);
  WriteBatch b;
  b.put(Table::sessions, "c1", "v1");
  b.put(Table::sessions, "c2", "");
  write(b);
  EXPECT_EQ(get(Table::sessions, "c1"), "v1");
  EXPECT_EQ(get(Table::sessions, "c2"), "");  // present but empty, not missing

  b.clear();
  b.put(Table::sessions, "c1", "v1-new");
  b.erase(Table::sessions, "c2");
  b.erase(Table::sessions, "never-there");  // erasing a missing key is fine
  write(b);
  EXPECT_EQ(get(Table::sessions, "c1"), "v1-new");
  EXPECT_EQ(get(Table::sessions, "c2"), std::nullopt);
}

TEST_P(KvStoreContract, TablesAreSeparate) {
  WriteBatch b;
  for (std::size_t i = 0; i < kTableCount; ++i)
    b.put(static_cast<Table>(i), "same-key", std::string(table_name(static_cast<Table>(i))));
  write(b);
  for (std::size_t i = 0; i < kTableCount; ++i)
    EXPECT_EQ(get(static_cast<Table>(i), "same-key"), std::string(table_name(static_cast<Table>(i))));
  b.clear();
  b.erase_prefix(Table::outbound, "");
  b.erase(Table::sessions, "same-key");
  write(b);
  EXPECT_EQ(get(Table::outbound, "same-key"), std::nullopt);
  EXPECT_EQ(get(Table::sessions, "same-key"), std::nullopt);
  EXPECT_EQ(get(Table::inbound, "same-key"), "inbound");
}

TEST_P(KvStoreContract, LaterOperationsInABatchWin) {
  WriteBatch b;
  b.put(Table::outbound, "k1", "a");
  b.erase(Table::outbound, "k1");  // put then erase: gone
  b.erase(Table::outbound, "k2");
  b.put(Table::outbound, "k2", "b");  // erase then put: present
  b.put(Table::outbound, "k3", "x");
  b.put(Table::outbound, "k3", "y");  // last put wins
  write(b);
  EXPECT_EQ(dump(*store_, Table::outbound), (Map{{"k2", "b"}, {"k3", "y"}}));
}

TEST_P(KvStoreContract, ErasePrefix) {
  WriteBatch b;
  for (const char* k : {"a", "a/", "a/1", "a/2", "a/20", "a0", "ab", "b/1"}) b.put(Table::subscriptions, k, k);
  write(b);
  b.clear();
  b.erase_prefix(Table::subscriptions, "a/");
  write(b);
  EXPECT_EQ(dump(*store_, Table::subscriptions), (Map{{"a", "a"}, {"a0", "a0"}, {"ab", "ab"}, {"b/1", "b/1"}}));
}

TEST_P(KvStoreContract, ErasePrefixCoversEarlierPutsInTheSameBatchOnly) {
  WriteBatch b;
  b.put(Table::outbound, "c1/1", "stored before");
  write(b);
  b.clear();
  b.put(Table::outbound, "c1/2", "earlier in batch");
  b.erase_prefix(Table::outbound, "c1/");
  b.put(Table::outbound, "c1/3", "later in batch");
  write(b);
  EXPECT_EQ(dump(*store_, Table::outbound), (Map{{"c1/3", "later in batch"}}));
}

TEST_P(KvStoreContract, ErasePrefixWithoutSuccessorKey) {
  // "" and all-0xff prefixes have no key that bounds them from above.
  // Both kinds of RocksDB memtable: retained (skiplist), outbound (vector).
  for (const Table t : {Table::retained, Table::outbound}) {
    SCOPED_TRACE(std::string(table_name(t)));
    const std::string ff2("\xff\xff", 2);
    WriteBatch b;
    b.put(t, std::string("\xff\xfe", 2), "stays");
    b.put(t, ff2, "1");
    b.put(t, ff2 + '\x01', "2");
    b.put(t, ff2 + "\xff\xff\xff", "3");
    write(b);
    b.clear();
    b.put(t, ff2 + std::string(10, '\xff'), "same batch, largest key");
    b.erase_prefix(t, ff2);
    write(b);
    EXPECT_EQ(dump(*store_, t), (Map{{std::string("\xff\xfe", 2), "stays"}}));

    b.clear();
    b.put(t, "x", "1");
    write(b);
    b.clear();
    b.put(t, "zzz", "same batch");
    b.erase_prefix(t, "");  // the whole table
    b.put(t, "after", "kept");
    write(b);
    EXPECT_EQ(dump(*store_, t), (Map{{"after", "kept"}}));
  }

  WriteBatch b;
  b.erase_prefix(Table::inbound, "");  // on an empty table: nothing to do
  write(b);
  EXPECT_TRUE(dump(*store_, Table::inbound).empty());
}

TEST_P(KvStoreContract, ScanInKeyOrderWithPrefix) {
  WriteBatch b;
  const std::string bin0("p\x00z", 3);
  const std::string bin1("p\xff", 2);
  for (const std::string k : {"q", "p/2", "p/10", "p/1", "o", "p", "p0"}) b.put(Table::outbound, k, "v" + k);
  b.put(Table::outbound, bin0, "zero");
  b.put(Table::outbound, bin1, "ff");
  write(b);

  std::vector<std::string> keys;
  auto st = store_->scan(Table::outbound, "p/", [&](std::string_view k, std::string_view v) {
    EXPECT_EQ(v, "v" + std::string(k));
    keys.emplace_back(k);
    return true;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(keys, (std::vector<std::string>{"p/1", "p/10", "p/2"}));

  keys.clear();
  st = store_->scan(Table::outbound, "p", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(keys, (std::vector<std::string>{"p", bin0, "p/1", "p/10", "p/2", "p0", bin1}));

  keys.clear();
  st = store_->scan(Table::outbound, "", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(keys.size(), 9u);
  EXPECT_EQ(keys.front(), "o");
  EXPECT_EQ(keys.back(), "q");

  keys.clear();
  st = store_->scan(Table::outbound, "nothing-here", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(keys.empty());
}

TEST_P(KvStoreContract, ScanStopsEarly) {
  WriteBatch b;
  for (int i = 0; i < 100; ++i) b.put(Table::sessions, "c" + std::to_string(1000 + i), "v");
  write(b);
  int calls = 0;
  auto st = store_->scan(Table::sessions, "c", [&](std::string_view, std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(calls, 3);
}

TEST_P(KvStoreContract, BatchIsAtomicWhenRefused) {
  // A batch with an unresolved message reference is a caller bug; the store
  // refuses all of it, including the operations before the bad one.
  WriteBatch b;
  b.put(Table::sessions, "before", "x");
  b.ref_message(1, "body");
  b.put(Table::sessions, "after", "y");
  auto st = store_->write(b, true);
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message.find("unresolved message references"), std::string::npos) << st.error().message;
  EXPECT_TRUE(dump(*store_, Table::sessions).empty());
  EXPECT_TRUE(dump(*store_, Table::messages).empty());

  b.clear();
  b.unref_message(1);
  EXPECT_FALSE(store_->write(b, false).has_value());
}

TEST_P(KvStoreContract, ManyOperationsInOneBatchAllApply) {
  WriteBatch b;
  for (int i = 0; i < 5000; ++i) b.put(Table::outbound, "k" + std::to_string(i), std::string(50, 'v'));
  b.put(Table::messages, message_key(1), std::string(1 << 20, 'm'));  // a large value
  write(b);
  EXPECT_EQ(dump(*store_, Table::outbound).size(), 5000u);
  EXPECT_EQ(get(Table::messages, message_key(1))->size(), 1u << 20);
}

TEST_P(KvStoreContract, EmptyBatchAndSyncWal) {
  WriteBatch empty;
  EXPECT_TRUE(store_->write(empty, true).has_value());
  EXPECT_TRUE(store_->write(empty, false).has_value());
  WriteBatch b;
  b.put(Table::meta, "counter", "1");
  EXPECT_TRUE(store_->write(b, false).has_value());
  EXPECT_TRUE(store_->sync_wal().has_value());
  EXPECT_EQ(get(Table::meta, "counter"), "1");
}

TEST_P(KvStoreContract, UsageGrowsWithData) {
  const auto before = store_->usage();
  WriteBatch b;
  for (int i = 0; i < 1000; ++i) b.put(Table::outbound, "key" + std::to_string(i), std::string(100, 'x'));
  write(b);
  const auto after = store_->usage();
  EXPECT_GT(after.memtable_bytes, before.memtable_bytes);
  EXPECT_GE(after.live_keys_estimate, before.live_keys_estimate + 1000);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvStoreContract, ::testing::Values(Backend::memory, Backend::rocksdb),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return p.param == Backend::memory ? "Memory" : "RocksDB";
                         });

}  // namespace
}  // namespace roadmq::storage
