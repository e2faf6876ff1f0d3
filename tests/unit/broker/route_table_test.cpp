// RouteTable: the per-shard replica of "which shards subscribe to what".
#include "broker/route_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

constexpr std::uint64_t bit(std::uint32_t shard) { return std::uint64_t{1} << shard; }

TEST(RouteTable, SetReportsChangesAndIsIdempotent) {
  RouteTable routes;
  EXPECT_TRUE(routes.set("vehicle/+/up", 2, true));
  EXPECT_FALSE(routes.set("vehicle/+/up", 2, true));
  EXPECT_TRUE(routes.set("vehicle/+/up", 5, true));
  EXPECT_EQ(routes.shards_of("vehicle/+/up"), bit(2) | bit(5));
  EXPECT_TRUE(routes.set("vehicle/+/up", 2, false));
  EXPECT_FALSE(routes.set("vehicle/+/up", 2, false));
  EXPECT_FALSE(routes.set("never/seen", 1, false));
  EXPECT_EQ(routes.shards_of("vehicle/+/up"), bit(5));
  EXPECT_EQ(routes.size(), 1U);
  EXPECT_TRUE(routes.set("vehicle/+/up", 5, false));
  EXPECT_EQ(routes.size(), 0U);  // a zero mask is not kept
  EXPECT_EQ(routes.trie_nodes(), 0U);
  EXPECT_EQ(routes.memory_bytes(), 0U);
}

TEST(RouteTable, MatchOrsMasksOfAllMatchingFilters) {
  RouteTable routes;
  routes.set("vehicle/VIN1/down", 0, true);
  routes.set("vehicle/+/down", 3, true);
  routes.set("vehicle/#", 7, true);
  routes.set("#", 63, true);
  routes.set("other/+", 9, true);
  EXPECT_EQ(routes.match("vehicle/VIN1/down"), bit(0) | bit(3) | bit(7) | bit(63));
  EXPECT_EQ(routes.match("vehicle/VIN2/down"), bit(3) | bit(7) | bit(63));
  EXPECT_EQ(routes.match("vehicle"), bit(7) | bit(63));  // "vehicle/#" matches its parent
  EXPECT_EQ(routes.match("other/x"), bit(9) | bit(63));
  EXPECT_EQ(routes.match("nothing"), bit(63));
}

TEST(RouteTable, SystemTopicsIgnoreLeadingWildcards) {
  RouteTable routes;
  routes.set("#", 1, true);
  routes.set("+/broker/uptime", 2, true);
  routes.set("$SYS/#", 3, true);
  routes.set("$SYS/broker/uptime", 4, true);
  EXPECT_EQ(routes.match("$SYS/broker/uptime"), bit(3) | bit(4));  // [MQTT-4.7.2-1]
  EXPECT_EQ(routes.match("x/broker/uptime"), bit(1) | bit(2));
}

TEST(RouteTable, RemoveShardClearsItsBitEverywhere) {
  RouteTable routes;
  routes.set("a/b", 1, true);
  routes.set("a/b", 2, true);
  routes.set("a/+", 1, true);
  routes.set("#", 2, true);
  routes.set("c", 1, true);
  EXPECT_EQ(routes.remove_shard(1), 3U);
  EXPECT_EQ(routes.shards_of("a/b"), bit(2));
  EXPECT_EQ(routes.shards_of("a/+"), 0U);
  EXPECT_EQ(routes.shards_of("c"), 0U);
  EXPECT_EQ(routes.size(), 2U);
  EXPECT_EQ(routes.match("a/b"), bit(2));
  EXPECT_EQ(routes.remove_shard(1), 0U);
}

TEST(RouteTable, RandomisedAgainstTopicMatches) {
  std::mt19937 rng(7);
  static const char* kLevels[] = {"a", "b", "", "+", "c"};
  const auto make = [&](bool filter) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += '/';
      const char* level = kLevels[rng() % (filter ? 5 : 3)];
      s += level;
    }
    if (s.empty()) s = filter ? "+" : "a";
    if (filter && rng() % 4 == 0) s += "/#";
    return s;
  };
  RouteTable routes;
  std::map<std::string, std::uint64_t> model;
  for (int i = 0; i < 3000; ++i) {
    const std::string f = make(true);
    const auto shard = static_cast<std::uint32_t>(rng() % 64);
    const bool present = rng() % 3 != 0;
    std::uint64_t& m = model[f];
    const std::uint64_t before = m;
    m = present ? (m | bit(shard)) : (m & ~bit(shard));
    ASSERT_EQ(routes.set(f, shard, present), before != m) << f;
    if (m == 0) model.erase(f);
  }
  ASSERT_EQ(routes.size(), model.size());
  for (int i = 0; i < 2000; ++i) {
    const std::string t = make(false);
    std::uint64_t expected = 0;
    for (const auto& [f, m] : model) {
      if (mqtt::topic_matches(f, t)) expected |= m;
    }
    ASSERT_EQ(routes.match(t), expected) << t;
  }
}

}  // namespace
}  // namespace roadmq::broker
