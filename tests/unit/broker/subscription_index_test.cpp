// SubscriptionIndex and the FilterMap under it: every matching example of
// MQTT 5.0 section 4.7, the $-topic rule [MQTT-4.7.2-1], empty levels,
// subscribe/unsubscribe idempotence, trie cleanup, crowded filters, and a
// randomised comparison against mqtt::topic_matches.
#include "broker/subscription_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

using Index = SubscriptionIndex<int>;
using Hit = std::pair<std::string, SubscriberKey>;

std::vector<Hit> hits(const Index& index, std::string_view topic) {
  std::vector<Hit> out;
  index.match(topic, [&](std::string_view filter, SubscriberKey key, const int&) {
    out.emplace_back(std::string(filter), key);
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> matching_filters(const Index& index, std::string_view topic) {
  std::vector<std::string> out;
  for (auto& [filter, key] : hits(index, topic)) out.push_back(filter);
  return out;
}

// ── matching tables ──────────────────────────────────────────────────────────

struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
  const char* rule;
};

// MQTT 5.0 section 4.7 examples, plus edges of '/', empty levels and '$'.
const MatchCase kCases[] = {
    // 4.7.1.2 multi-level wildcard
    {"sport/tennis/player1/#", "sport/tennis/player1", true, "4.7.1.2"},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true, "4.7.1.2"},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true, "4.7.1.2"},
    {"sport/tennis/player1/#", "sport/tennis/player2", false, "4.7.1.2"},
    {"sport/tennis/player1/#", "sport/tennis", false, "4.7.1.2"},
    {"sport/#", "sport", true, "MQTT-4.7.1-2 parent level"},
    {"sport/#", "sport/", true, "4.7.1.2"},
    {"sport/#", "sports", false, "level boundary"},
    {"#", "sport", true, "4.7.1.2"},
    {"#", "sport/tennis/player1", true, "4.7.1.2"},
    {"#", "/", true, "empty levels"},
    {"#", "/finance", true, "empty levels"},
    {"sport/tennis/#", "sport/tennis/player1/ranking", true, "4.7.1.2"},
    {"+/tennis/#", "sport/tennis", true, "4.7.1.2"},
    {"+/tennis/#", "sport/tennis/x/y", true, "4.7.1.2"},
    {"+/tennis/#", "sport/golf/x", false, "4.7.1.2"},
    // 4.7.1.3 single-level wildcard
    {"sport/tennis/+", "sport/tennis/player1", true, "4.7.1.3"},
    {"sport/tennis/+", "sport/tennis/player2", true, "4.7.1.3"},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false, "4.7.1.3"},
    {"sport/tennis/+", "sport/tennis", false, "4.7.1.3"},
    {"sport/+", "sport", false, "4.7.1.3"},
    {"sport/+", "sport/", true, "4.7.1.3"},
    {"+", "sport", true, "4.7.1.3"},
    {"+", "/finance", false, "4.7.1.3"},
    {"+/+", "/finance", true, "4.7.1.3"},
    {"/+", "/finance", true, "4.7.1.3"},
    {"+/+", "/", true, "empty levels"},
    {"+", "/", false, "empty levels"},
    {"+/#", "sport", true, "'#' after '+' matches zero levels"},
    {"+/#", "/", true, "empty levels"},
    {"/#", "/", true, "empty levels"},
    {"/#", "finance", false, "empty levels"},
    {"+/+/+", "a//c", true, "empty levels"},
    {"a/+/c", "a//c", true, "empty levels"},
    {"a//c", "a//c", true, "exact with an empty level"},
    {"a//c", "a/c", false, "exact with an empty level"},
    {"a/b/", "a/b/", true, "trailing '/'"},
    {"a/b/", "a/b", false, "trailing '/'"},
    {"a/b/+", "a/b/", true, "trailing '/'"},
    {"//", "//", true, "only empty levels"},
    {"+/+/+", "//", true, "only empty levels"},
    {"+/+", "//", false, "only empty levels"},
    // 4.7.2 topics beginning with '$' [MQTT-4.7.2-1]
    {"#", "$SYS/monitor/Clients", false, "MQTT-4.7.2-1"},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false, "MQTT-4.7.2-1"},
    {"+", "$SYS", false, "MQTT-4.7.2-1"},
    {"+/#", "$SYS/x", false, "MQTT-4.7.2-1"},
    {"$SYS/#", "$SYS/monitor/Clients", true, "4.7.2"},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true, "4.7.2"},
    {"$SYS/#", "$SYS", true, "4.7.2"},
    {"$SYS/monitor/Clients", "$SYS/monitor/Clients", true, "4.7.2"},
    {"$SYS/+/Clients", "$SYS/monitor/Clients", true, "4.7.2"},
    {"a/$x/+", "a/$x/b", true, "'$' only special in the first level"},
    {"a/+", "a/$x", true, "'$' only special in the first level"},
    {"#", "a/$x", true, "'$' only special in the first level"},
    // exact filters
    {"vehicle/LSVAU2180N2183294/down", "vehicle/LSVAU2180N2183294/down", true, "exact"},
    {"vehicle/LSVAU2180N2183294/down", "vehicle/LSVAU2180N2183295/down", false, "exact"},
    {"vehicle/LSVAU2180N2183294/down", "vehicle/LSVAU2180N2183294/down/x", false, "exact"},
    {"Accounts", "accounts", false, "case-sensitive [MQTT-4.7.3-4]"},
    {"a/b", "a/b ", false, "spaces are significant"},
};

class SubscriptionIndexMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(SubscriptionIndexMatch, AgreesWithSpec) {
  const MatchCase& c = GetParam();
  ASSERT_EQ(mqtt::topic_matches(c.filter, c.topic), c.matches) << "reference disagrees with the table";
  Index index;
  ASSERT_TRUE(index.add(c.filter, 7, 1));
  const auto found = hits(index, c.topic);
  if (c.matches) {
    ASSERT_EQ(found.size(), 1U);
    EXPECT_EQ(found[0].first, c.filter);
    EXPECT_EQ(found[0].second, 7U);
  } else {
    EXPECT_TRUE(found.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Spec, SubscriptionIndexMatch, ::testing::ValuesIn(kCases));

TEST(SubscriptionIndex, AllSpecFiltersInOneIndex) {
  // The same table with every filter stored together: matches must not
  // bleed between neighbouring trie branches.
  Index index;
  SubscriberKey key = 1;
  std::map<std::string, SubscriberKey> keys;
  for (const auto& c : kCases) {
    if (keys.emplace(c.filter, key).second) index.add(c.filter, key++, 0);
  }
  std::set<std::string> topics;
  for (const auto& c : kCases) topics.insert(c.topic);
  for (const auto& topic : topics) {
    std::vector<std::string> expected;
    for (const auto& [filter, k] : keys) {
      if (mqtt::topic_matches(filter, topic)) expected.push_back(filter);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(matching_filters(index, topic), expected) << "topic " << topic;
  }
}

// ── add / remove ─────────────────────────────────────────────────────────────

TEST(SubscriptionIndex, AddIsIdempotentAndReplacesValue) {
  Index index;
  EXPECT_TRUE(index.add("a/b", 1, 10));
  EXPECT_FALSE(index.add("a/b", 1, 11));  // [MQTT-3.8.4-3] replace, not duplicate
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.filters(), 1U);
  ASSERT_NE(index.find("a/b", 1), nullptr);
  EXPECT_EQ(*index.find("a/b", 1), 11);
  EXPECT_TRUE(index.add("a/+", 1, 12));
  EXPECT_FALSE(index.add("a/+", 1, 13));
  EXPECT_EQ(*index.find("a/+", 1), 13);
  EXPECT_EQ(index.size(), 2U);
  EXPECT_EQ(index.exact_filters(), 1U);
  EXPECT_EQ(index.wildcard_filters(), 1U);
  std::vector<int> values;
  index.match("a/b", [&](std::string_view, SubscriberKey, const int& v) { values.push_back(v); });
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<int>{11, 13}));
}

TEST(SubscriptionIndex, RemoveIsIdempotent) {
  Index index;
  index.add("a/b", 1, 0);
  index.add("a/b", 2, 0);
  index.add("a/#", 1, 0);
  EXPECT_TRUE(index.remove("a/b", 1));
  EXPECT_FALSE(index.remove("a/b", 1));
  EXPECT_FALSE(index.remove("a/b", 3));
  EXPECT_FALSE(index.remove("x/y", 1));
  EXPECT_FALSE(index.remove("x/+", 1));
  EXPECT_FALSE(index.remove("a/+", 1));  // path prefix exists, filter does not
  EXPECT_FALSE(index.remove("a", 1));
  EXPECT_EQ(index.subscribers("a/b"), 1U);
  EXPECT_TRUE(index.remove("a/#", 1));
  EXPECT_FALSE(index.remove("a/#", 1));
  EXPECT_EQ(index.size(), 1U);
  EXPECT_EQ(index.filters(), 1U);
  EXPECT_EQ(hits(index, "a/b"), (std::vector<Hit>{{"a/b", 2}}));
}

TEST(SubscriptionIndex, SubscribersCountTracksRouteChanges) {
  Index index;
  EXPECT_EQ(index.subscribers("t/+"), 0U);
  EXPECT_TRUE(index.add("t/+", 1, 0));
  EXPECT_EQ(index.subscribers("t/+"), 1U);  // first subscriber: announce route
  EXPECT_TRUE(index.add("t/+", 2, 0));
  EXPECT_EQ(index.subscribers("t/+"), 2U);
  EXPECT_TRUE(index.remove("t/+", 1));
  EXPECT_EQ(index.subscribers("t/+"), 1U);
  EXPECT_TRUE(index.remove("t/+", 2));
  EXPECT_EQ(index.subscribers("t/+"), 0U);  // last one gone: withdraw route
}

TEST(SubscriptionIndex, TrieNodesAreFreedOnRemove) {
  Index index;
  index.add("a/b/c/+/e/#", 1, 0);
  index.add("a/b/+/d", 1, 0);
  index.add("+/+/+", 2, 0);
  index.add("#", 3, 0);
  index.add("exact/one", 4, 0);
  EXPECT_GT(index.trie_nodes(), 0U);
  const std::size_t with_all = index.trie_nodes();
  index.remove("a/b/+/d", 1);
  EXPECT_LT(index.trie_nodes(), with_all);
  index.remove("a/b/c/+/e/#", 1);
  index.remove("+/+/+", 2);
  index.remove("#", 3);
  EXPECT_EQ(index.trie_nodes(), 0U);
  EXPECT_EQ(index.wildcard_filters(), 0U);
  index.remove("exact/one", 4);
  EXPECT_EQ(index.filters(), 0U);
  EXPECT_EQ(index.size(), 0U);
  EXPECT_EQ(index.memory_bytes(), 0U);
  EXPECT_TRUE(hits(index, "a/b/c/d/e").empty());
}

TEST(SubscriptionIndex, SharedPrefixSurvivesSiblingRemoval) {
  Index index;
  index.add("a/b/+", 1, 0);
  index.add("a/b/+/d", 2, 0);
  index.add("a/+/c", 3, 0);
  index.remove("a/b/+/d", 2);
  EXPECT_EQ(matching_filters(index, "a/b/c"), (std::vector<std::string>{"a/+/c", "a/b/+"}));
  index.remove("a/b/+", 1);
  EXPECT_EQ(matching_filters(index, "a/b/c"), (std::vector<std::string>{"a/+/c"}));
  index.remove("a/+/c", 3);
  EXPECT_EQ(index.trie_nodes(), 0U);
}

TEST(SubscriptionIndex, OverlappingFiltersOfOneSessionVisitedPerFilter) {
  Index index;
  index.add("a/b", 1, 0);
  index.add("a/+", 1, 1);
  index.add("a/#", 1, 2);
  index.add("#", 1, 3);
  EXPECT_EQ(hits(index, "a/b"),
            (std::vector<Hit>{{"#", 1}, {"a/#", 1}, {"a/+", 1}, {"a/b", 1}}));
}

TEST(SubscriptionIndex, CrowdedFilterSupportsFastAddRemove) {
  // A fleet-wide broadcast filter: thousands of sessions, leaving in random
  // order; membership must stay exact across the inline, scanned and
  // indexed representations.
  Index index;
  std::set<SubscriberKey> expected;
  std::mt19937_64 rng(42);
  for (SubscriberKey k = 1; k <= 3000; ++k) {
    ASSERT_TRUE(index.add("fleet/ota/announce", k * 7919, static_cast<int>(k)));
    expected.insert(k * 7919);
  }
  ASSERT_FALSE(index.add("fleet/ota/announce", 7919, -1));
  EXPECT_EQ(*index.find("fleet/ota/announce", 7919), -1);
  std::vector<SubscriberKey> order(expected.begin(), expected.end());
  std::shuffle(order.begin(), order.end(), rng);
  std::size_t step = 0;
  for (SubscriberKey k : order) {
    ASSERT_TRUE(index.remove("fleet/ota/announce", k));
    ASSERT_FALSE(index.remove("fleet/ota/announce", k));
    expected.erase(k);
    if (++step % 97 == 0 || expected.size() < 40) {
      std::set<SubscriberKey> got;
      index.match("fleet/ota/announce", [&](std::string_view, SubscriberKey key, const int&) {
        EXPECT_TRUE(got.insert(key).second) << "duplicate " << key;
      });
      ASSERT_EQ(got, expected) << "after " << step << " removals";
      for (SubscriberKey left : expected) ASSERT_NE(index.find("fleet/ota/announce", left), nullptr);
    }
  }
  EXPECT_EQ(index.filters(), 0U);
  EXPECT_EQ(index.size(), 0U);
}

TEST(SubscriptionIndex, ManyExactFiltersAddMatchRemove) {
  Index index;
  constexpr int kN = 50'000;
  auto topic = [](int i) { return "vehicle/VIN" + std::to_string(1'000'000 + i) + "/down"; };
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(index.add(topic(i), static_cast<SubscriberKey>(i + 1), i));
  EXPECT_EQ(index.exact_filters(), static_cast<std::size_t>(kN));
  EXPECT_EQ(index.trie_nodes(), 0U);
  for (int i = 0; i < kN; i += 7) {
    const auto found = hits(index, topic(i));
    ASSERT_EQ(found.size(), 1U);
    ASSERT_EQ(found[0].second, static_cast<SubscriberKey>(i + 1));
  }
  EXPECT_TRUE(hits(index, "vehicle/VIN999/down").empty());
  EXPECT_TRUE(hits(index, "vehicle/VIN1000000/up").empty());
  for (int i = 0; i < kN; i += 2) ASSERT_TRUE(index.remove(topic(i), static_cast<SubscriberKey>(i + 1)));
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(hits(index, topic(i)).size(), i % 2 == 0 ? 0U : 1U) << i;
  }
  for (int i = 1; i < kN; i += 2) ASSERT_TRUE(index.remove(topic(i), static_cast<SubscriberKey>(i + 1)));
  EXPECT_EQ(index.filters(), 0U);
  EXPECT_EQ(index.memory_bytes(), 0U);  // tables shrink back when emptied
}

TEST(SubscriptionIndex, MemoryPerExactFilterIsSmall) {
  Index index;
  constexpr int kN = 10'000;
  for (int i = 0; i < kN; ++i) {
    index.add("vehicle/LSVAU2180N" + std::to_string(2'000'000 + i) + "/down",
              static_cast<SubscriberKey>(i + 1), 0);
  }
  const double per_filter = static_cast<double>(index.memory_bytes()) / kN;
  EXPECT_LT(per_filter, 100.0) << per_filter << " bytes per exact filter";
}

TEST(SubscriptionIndex, DeepWildcardFilterDoesNotRecurse) {
  // A hostile client's 64 KiB filter of '+' levels and a topic just as deep:
  // the walk must use its own stack, not the thread's.
  std::string filter = "+";
  std::string topic = "a";
  for (int i = 0; i < 20'000; ++i) {
    filter += "/+";
    topic += "/a";
  }
  Index index;
  index.add(filter, 1, 0);
  index.add(filter + "/#", 2, 0);
  index.add("a/#", 3, 0);
  EXPECT_EQ(hits(index, topic).size(), 3U);
  index.remove(filter, 1);
  index.remove(filter + "/#", 2);
  index.remove("a/#", 3);
  EXPECT_EQ(index.trie_nodes(), 0U);
}

TEST(SubscriptionIndex, ManyPendingBranchesSpillSafely) {
  // Filter i is x^i/+/x^(99-i)/end: along the all-literal path every level
  // has both a '+' and a literal child, so the walk keeps one pending branch
  // per level, more than the inline stack holds.
  const auto xs = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "x/";
    return s;
  };
  Index index;
  for (int i = 0; i < 100; ++i) index.add(xs(i) + "+/" + xs(99 - i) + "end", static_cast<SubscriberKey>(i + 1), 0);
  EXPECT_EQ(hits(index, xs(100) + "end").size(), 100U);
  EXPECT_TRUE(hits(index, xs(99) + "end").empty());
}

TEST(SubscriptionIndex, MovedIndexStaysConsistent) {
  Index a;
  a.add("a/+/c", 1, 0);
  a.add("+/b", 2, 0);
  a.add("x/y", 3, 0);
  Index b(std::move(a));
  EXPECT_EQ(hits(b, "a/b/c"), (std::vector<Hit>{{"a/+/c", 1}}));
  EXPECT_EQ(hits(b, "a/b"), (std::vector<Hit>{{"+/b", 2}}));
  // Removal prunes through the root's children, whose parent is now `b`.
  EXPECT_TRUE(b.remove("a/+/c", 1));
  EXPECT_TRUE(b.remove("+/b", 2));
  EXPECT_EQ(b.trie_nodes(), 0U);
  Index c;
  c.add("q/#", 9, 0);
  c = std::move(b);
  EXPECT_EQ(hits(c, "x/y"), (std::vector<Hit>{{"x/y", 3}}));
  EXPECT_TRUE(hits(c, "q/r").empty());
}

TEST(SubscriptionIndex, ForEachVisitsEverySubscription) {
  Index index;
  index.add("a", 1, 0);
  index.add("a", 2, 0);
  index.add("a/+", 1, 0);
  index.add("#", 3, 0);
  index.add("+/+/#", 4, 0);
  std::vector<Hit> all;
  index.for_each([&](std::string_view f, SubscriberKey k, const int&) { all.emplace_back(std::string(f), k); });
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<Hit>{{"#", 3}, {"+/+/#", 4}, {"a", 1}, {"a", 2}, {"a/+", 1}}));
}

TEST(SubscriptionIndex, DestroysNonEmptyIndexWithoutLeaks) {
  // ASan reports any node, entry or spilled list left behind.
  Index index;
  for (int i = 0; i < 200; ++i) {
    index.add("d/" + std::to_string(i % 13) + "/+/#", static_cast<SubscriberKey>(i), i);
    index.add("e/" + std::to_string(i), static_cast<SubscriberKey>(i), i);
    index.add("crowd/+", static_cast<SubscriberKey>(i), i);
  }
}

// ── the open-addressing table under both maps ───────────────────────────────

struct TestNode {
  std::uint16_t key_size = 0;
};

TEST(SubscriptionIndexNodeTable, RandomInsertEraseAgainstSet) {
  // Short keys over a small alphabet collide in the low hash bits often, so
  // backward-shift deletion runs across long clusters and wrap-arounds.
  std::mt19937 rng(5);
  detail::NodeTable<TestNode> table;
  std::map<std::string, TestNode*> model;
  const auto random_key = [&] {
    std::string k;
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) k += static_cast<char>('a' + rng() % 6);
    return k;
  };
  for (int round = 0; round < 20'000; ++round) {
    const std::string k = random_key();
    auto it = model.find(k);
    if (rng() % 5 < 3) {
      if (it == model.end()) {
        TestNode* n = detail::new_keyed<TestNode>(k);
        table.insert(n);
        model.emplace(k, n);
      }
    } else if (it != model.end()) {
      ASSERT_EQ(table.erase(k), it->second);
      detail::delete_keyed(it->second);
      model.erase(it);
    } else {
      ASSERT_EQ(table.erase(k), nullptr);
    }
    ASSERT_EQ(table.size(), model.size());
    if (round % 101 == 0) {
      for (const auto& [key, node] : model) ASSERT_EQ(table.find(key), node) << key;
      std::size_t seen = 0;
      table.for_each([&](TestNode*) { ++seen; });
      ASSERT_EQ(seen, model.size());
    }
  }
  for (auto& [key, node] : model) {
    ASSERT_EQ(table.erase(key), node);
    detail::delete_keyed(node);
  }
  EXPECT_EQ(table.size(), 0U);
  EXPECT_EQ(table.heap_bytes(), 0U);
  EXPECT_EQ(table.find("a"), nullptr);
}

TEST(SubscriptionIndexNodeTable, GrowsAndShrinks) {
  detail::NodeTable<TestNode> table;
  std::vector<TestNode*> nodes;
  for (int i = 0; i < 10'000; ++i) {
    nodes.push_back(detail::new_keyed<TestNode>("k" + std::to_string(i)));
    table.insert(nodes.back());
  }
  const std::size_t big = table.heap_bytes();
  EXPECT_GE(big, 10'000U * 8);
  for (int i = 0; i < 9'990; ++i) {
    ASSERT_EQ(table.erase("k" + std::to_string(i)), nodes[static_cast<std::size_t>(i)]);
  }
  EXPECT_LT(table.heap_bytes(), big / 64);  // memory comes back after a mass unsubscribe
  for (int i = 9'990; i < 10'000; ++i) ASSERT_NE(table.find("k" + std::to_string(i)), nullptr);
  for (int i = 9'990; i < 10'000; ++i) table.erase("k" + std::to_string(i));
  EXPECT_EQ(table.heap_bytes(), 0U);
  for (TestNode* n : nodes) detail::delete_keyed(n);
}

// ── randomised comparison with topic_matches ────────────────────────────────

std::string random_topic(std::mt19937& rng) {
  static const char* kLevels[] = {"a", "b", "c", "", "vin1", "$x"};
  std::uniform_int_distribution<int> depth(1, 5);
  std::uniform_int_distribution<int> pick(0, 5);
  std::string t;
  if (rng() % 10 == 0) t = "$SYS";
  const int n = depth(rng);
  for (int i = 0; i < n; ++i) {
    if (!t.empty() || i > 0) t += '/';
    t += kLevels[pick(rng)];
  }
  if (t.empty()) t = "a";
  return t;
}

std::string random_filter(std::mt19937& rng) {
  static const char* kLevels[] = {"a", "b", "c", "", "+", "+", "$x"};
  std::uniform_int_distribution<int> depth(1, 5);
  std::uniform_int_distribution<int> pick(0, 6);
  std::string f;
  const int n = depth(rng);
  if (rng() % 12 == 0) f = "$SYS";
  for (int i = 0; i < n; ++i) {
    if (!f.empty() || i > 0) f += '/';
    f += kLevels[pick(rng)];
  }
  if (f.empty()) f = "+";  // a lone empty level is not a valid filter
  if (rng() % 4 == 0) f += "/#";
  if (rng() % 20 == 0) f = "#";
  return f;
}

TEST(SubscriptionIndex, RandomisedAgainstTopicMatches) {
  std::mt19937 rng(20240601);
  Index index;
  std::map<std::string, std::set<SubscriberKey>> model;
  for (int i = 0; i < 4000; ++i) {
    const std::string f = random_filter(rng);
    ASSERT_FALSE(mqtt::validate_topic_filter(f).has_value()) << f;
    const SubscriberKey key = rng() % 50 + 1;
    const bool is_new = model[f].insert(key).second;
    ASSERT_EQ(index.add(f, key, 0), is_new) << f;
  }
  std::vector<std::string> topics;
  for (int i = 0; i < 3000; ++i) topics.push_back(random_topic(rng));

  const auto check = [&](const char* phase) {
    std::size_t subs = 0;
    for (const auto& [f, keys] : model) subs += keys.size();
    ASSERT_EQ(index.size(), subs) << phase;
    for (const auto& t : topics) {
      ASSERT_FALSE(mqtt::validate_topic_name(t).has_value()) << t;
      std::vector<Hit> expected;
      for (const auto& [f, keys] : model) {
        if (!mqtt::topic_matches(f, t)) continue;
        for (SubscriberKey k : keys) expected.emplace_back(f, k);
      }
      std::sort(expected.begin(), expected.end());
      ASSERT_EQ(hits(index, t), expected) << phase << ": topic " << t;
    }
  };
  check("after adds");

  // Remove about half, including keys that were never there.
  for (int i = 0; i < 4000; ++i) {
    auto it = model.begin();
    std::advance(it, static_cast<long>(rng() % model.size()));
    const std::string f = it->first;
    const SubscriberKey key = rng() % 50 + 1;
    const bool existed = it->second.erase(key) == 1;
    if (it->second.empty()) model.erase(it);
    ASSERT_EQ(index.remove(f, key), existed) << f << " " << key;
  }
  check("after removals");

  for (const auto& [f, keys] : model) {
    for (SubscriberKey k : keys) ASSERT_TRUE(index.remove(f, k));
  }
  model.clear();
  check("after clearing");
  EXPECT_EQ(index.trie_nodes(), 0U);
  EXPECT_EQ(index.filters(), 0U);
}

}  // namespace
}  // namespace roadmq::broker
