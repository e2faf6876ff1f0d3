// GroupWrites: what a group commit writes once superseded operations are
// dropped must leave the store exactly as writing every operation in order
// would, from any starting state.
#include "storage/group_writes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "storage/kv_store.hpp"
#include "storage/storage_test_util.hpp"

namespace roadmq::storage {
namespace {

using test::dump;

WriteBatch built(const GroupWrites& g) {
  WriteBatch out;
  g.build(out);
  return out;
}

TEST(StorageGroupWrites, APutErasedInTheSameGroupLeavesOnlyTheTombstone) {
  GroupWrites g;
  g.put(Table::outbound, "s/1", "record");
  g.put(Table::outbound, "s/2", "record");
  g.erase(Table::outbound, "s/1");
  const WriteBatch out = built(g);
  EXPECT_EQ(out.ops(), 2u);  // put s/2, erase s/1
  EXPECT_EQ(g.elided(), 1u);
  std::vector<std::string> seen;
  out.for_each([&](const WriteBatch::Op& op) { seen.push_back(std::string(op.key)); });
  EXPECT_EQ(seen, (std::vector<std::string>{"s/2", "s/1"}));
}

TEST(StorageGroupWrites, ABodyWrittenAndDeletedInTheGroupNeverReachesTheDisk) {
  GroupWrites g;
  const auto key = message_key(9);
  g.put_body(key, "body");
  g.erase_body(key);
  const WriteBatch out = built(g);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(g.elided(), 2u);
}

TEST(StorageGroupWrites, ABodyDeletedThenWrittenAgainKeepsBoth) {
  GroupWrites g;
  const auto key = message_key(9);
  g.erase_body(key);  // on disk from an earlier group
  g.put_body(key, "body");
  const WriteBatch out = built(g);
  EXPECT_EQ(out.ops(), 2u);
  EXPECT_EQ(g.elided(), 0u);
}

TEST(StorageGroupWrites, TheSameKeyInAnotherTableIsAnotherKey) {
  GroupWrites g;
  g.put(Table::outbound, "k", "a");
  g.erase(Table::inbound, "k");
  const WriteBatch out = built(g);
  EXPECT_EQ(out.ops(), 2u);
  EXPECT_EQ(g.elided(), 0u);
}

TEST(StorageGroupWrites, ClearForgetsTheGroup) {
  GroupWrites g;
  g.put(Table::outbound, "k", "a");
  g.clear();
  g.erase(Table::outbound, "k");
  const WriteBatch out = built(g);
  EXPECT_EQ(out.ops(), 1u);
  EXPECT_EQ(g.elided(), 0u);
}

// Random groups over a few keys, bodies following their reference rule (a
// body is written only while absent and deleted only while present): the
// reduced batch and the full one leave the same tables.
TEST(StorageGroupWrites, RandomGroupsLeaveWhatTheFullGroupLeaves) {
  std::mt19937 rng(4242);
  const std::vector<std::string> keys = {"a/1", "a/2", "a/3", "b/1", "b/2"};
  const std::vector<std::string> bodies = {message_key(1), message_key(2), message_key(3)};
  std::uint64_t elided_total = 0;
  for (int round = 0; round < 300; ++round) {
    auto full = make_memory_store();
    auto reduced = make_memory_store();
    // A random starting state, the same in both.
    WriteBatch start;
    std::map<std::string, bool> body_present;
    for (const auto& k : keys)
      if (rng() % 2) start.put(Table::outbound, k, "old");
    for (const auto& b : bodies) {
      body_present[b] = rng() % 2;
      if (body_present[b]) start.put(Table::messages, b, "old body");
    }
    ASSERT_TRUE(full->write(start, false));
    ASSERT_TRUE(reduced->write(start, false));

    std::vector<std::string> values;  // keeps the viewed strings alive
    values.reserve(64);
    WriteBatch all;
    GroupWrites g;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      const auto& k = keys[rng() % keys.size()];
      const auto& b = bodies[rng() % bodies.size()];
      values.push_back("v" + std::to_string(round) + "." + std::to_string(i));
      switch (rng() % 5) {
        case 0:
        case 1:
          all.put(Table::outbound, k, values.back());
          g.put(Table::outbound, k, values.back());
          break;
        case 2:
          all.erase(Table::outbound, k);
          g.erase(Table::outbound, k);
          break;
        case 3:
          values.back() = k.substr(0, 2);
          all.erase_prefix(Table::outbound, values.back());
          g.erase_prefix(Table::outbound, values.back());
          break;
        case 4:
          if (body_present[b]) {
            all.erase(Table::messages, b);
            g.erase_body(b);
          } else {
            all.put(Table::messages, b, values.back());
            g.put_body(b, values.back());
          }
          body_present[b] = !body_present[b];
          break;
      }
    }
    const WriteBatch out = built(g);
    EXPECT_LE(out.ops(), all.ops());
    elided_total += g.elided();
    ASSERT_TRUE(full->write(all, false));
    ASSERT_TRUE(reduced->write(out, false));
    ASSERT_EQ(dump(*full, Table::outbound), dump(*reduced, Table::outbound)) << "round " << round;
    ASSERT_EQ(dump(*full, Table::messages), dump(*reduced, Table::messages)) << "round " << round;
  }
  EXPECT_GT(elided_total, 0u);
}

}  // namespace
}  // namespace roadmq::storage
