// RetainedStore: store/replace/delete [MQTT-3.3.1-5..7], wildcard lookups
// over the topic trie, the $-topic rule, expiry [MQTT-3.3.2-5], and limits.
#include "broker/retained_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = TimePoint{} + 1000h;

MessagePtr msg(std::string topic, std::string payload, std::optional<TimePoint> expires = std::nullopt) {
  auto m = new_message(topic, payload, {});
  m->retain = true;
  m->expires_at = expires;
  return m;
}

std::vector<std::string> topics_matching(RetainedStore& store, std::string_view filter, TimePoint now = kT0) {
  std::vector<std::string> out;
  const std::size_t n = store.match(filter, now, [&](const MessagePtr& m) { out.emplace_back(m->topic); });
  EXPECT_EQ(n, out.size());
  std::sort(out.begin(), out.end());
  return out;
}

using Topics = std::vector<std::string>;

TEST(RetainedStore, StoreReplaceGet) {
  RetainedStore store;
  EXPECT_EQ(store.put(msg("vehicle/V1/status", "online")), RetainResult::stored);
  EXPECT_EQ(store.put(msg("vehicle/V1/status", "parked")), RetainResult::replaced);
  EXPECT_EQ(store.size(), 1U);
  const MessagePtr got = store.get("vehicle/V1/status", kT0);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->payload, "parked");
  EXPECT_EQ(store.get("vehicle/V1", kT0), nullptr);  // an inner node holds no message
  EXPECT_EQ(store.get("vehicle/V1/status/x", kT0), nullptr);
  EXPECT_EQ(store.counters().stored, 1U);
  EXPECT_EQ(store.counters().replaced, 1U);
}

TEST(RetainedStore, EmptyPayloadDeletes) {
  RetainedStore store;
  store.put(msg("a/b", "1"));
  store.put(msg("a/b/c", "2"));
  EXPECT_EQ(store.put(msg("a/b", "")), RetainResult::deleted);             // [MQTT-3.3.1-6]
  EXPECT_EQ(store.put(msg("a/b", "")), RetainResult::nothing_to_delete);   // [MQTT-3.3.1-7]
  EXPECT_EQ(store.put(msg("never", "")), RetainResult::nothing_to_delete);
  EXPECT_EQ(store.get("a/b", kT0), nullptr);
  EXPECT_NE(store.get("a/b/c", kT0), nullptr);  // the child survives its parent's deletion
  EXPECT_EQ(store.size(), 1U);
  EXPECT_EQ(store.counters().deleted, 1U);
  EXPECT_TRUE(store.erase("a/b/c"));
  EXPECT_FALSE(store.erase("a/b/c"));
  EXPECT_EQ(store.size(), 0U);
  EXPECT_EQ(store.nodes(), 0U);  // every level pruned
}

TEST(RetainedStore, WildcardMatching) {
  RetainedStore store;
  for (const char* t : {"vehicle/V1/status", "vehicle/V2/status", "vehicle/V2/location", "vehicle/V3/status/detail",
                        "vehicle", "vehicle/", "fleet/7", "fleet/7/x/y", "/lead", "$SYS/broker/uptime", "a//c"}) {
    store.put(msg(t, "p"));
  }
  EXPECT_EQ(topics_matching(store, "vehicle/+/status"), (Topics{"vehicle/V1/status", "vehicle/V2/status"}));
  EXPECT_EQ(topics_matching(store, "vehicle/V2/+"), (Topics{"vehicle/V2/location", "vehicle/V2/status"}));
  EXPECT_EQ(topics_matching(store, "vehicle/#"),
            (Topics{"vehicle", "vehicle/", "vehicle/V1/status", "vehicle/V2/location", "vehicle/V2/status",
                    "vehicle/V3/status/detail"}));
  EXPECT_EQ(topics_matching(store, "vehicle/+"), (Topics{"vehicle/"}));
  EXPECT_EQ(topics_matching(store, "fleet/7/#"), (Topics{"fleet/7", "fleet/7/x/y"}));  // [MQTT-4.7.1-2]
  EXPECT_EQ(topics_matching(store, "+/+"), (Topics{"/lead", "fleet/7", "vehicle/"}));
  EXPECT_EQ(topics_matching(store, "+"), (Topics{"vehicle"}));
  EXPECT_EQ(topics_matching(store, "/+"), (Topics{"/lead"}));
  EXPECT_EQ(topics_matching(store, "a/+/c"), (Topics{"a//c"}));
  EXPECT_EQ(topics_matching(store, "+/+/+/+"), (Topics{"fleet/7/x/y", "vehicle/V3/status/detail"}));
  EXPECT_EQ(topics_matching(store, "+/+/+"),
            (Topics{"a//c", "vehicle/V1/status", "vehicle/V2/location", "vehicle/V2/status"}));
  EXPECT_EQ(topics_matching(store, "vehicle/V1/status"), (Topics{"vehicle/V1/status"}));
  EXPECT_TRUE(topics_matching(store, "vehicle/V9/+").empty());
}

TEST(RetainedStore, SystemTopicsOnlyForExplicitFilters) {
  RetainedStore store;
  store.put(msg("$SYS/broker/uptime", "1"));
  store.put(msg("$SYS/broker/load", "2"));
  store.put(msg("app/x", "3"));
  // [MQTT-4.7.2-1] a filter starting with a wildcard skips '$' topics.
  EXPECT_EQ(topics_matching(store, "#"), (Topics{"app/x"}));
  EXPECT_EQ(topics_matching(store, "+/broker/uptime"), Topics{});
  EXPECT_EQ(topics_matching(store, "+/#"), (Topics{"app/x"}));
  EXPECT_EQ(topics_matching(store, "$SYS/#"), (Topics{"$SYS/broker/load", "$SYS/broker/uptime"}));
  EXPECT_EQ(topics_matching(store, "$SYS/+/uptime"), (Topics{"$SYS/broker/uptime"}));
}

TEST(RetainedStore, ExpiredMessagesAreSkippedAndRemoved) {
  RetainedStore store;
  store.put(msg("t/a", "short", kT0 + 10s));
  store.put(msg("t/b", "long", kT0 + 100s));
  store.put(msg("t/c", "forever"));
  EXPECT_EQ(store.next_expiry(), kT0 + 10s);
  EXPECT_EQ(topics_matching(store, "t/+", kT0 + 9s), (Topics{"t/a", "t/b", "t/c"}));
  // [MQTT-3.3.2-5] once the interval has passed it is not delivered...
  EXPECT_EQ(topics_matching(store, "t/+", kT0 + 10s), (Topics{"t/b", "t/c"}));
  EXPECT_EQ(store.size(), 2U);  // ...and it is gone after the walk
  EXPECT_EQ(store.counters().expired, 1U);
  EXPECT_EQ(store.next_expiry(), kT0 + 100s);
  EXPECT_EQ(store.get("t/b", kT0 + 100s), nullptr);
  EXPECT_EQ(store.size(), 1U);
  EXPECT_EQ(store.next_expiry(), std::nullopt);
  EXPECT_EQ(store.counters().expired, 2U);
}

TEST(RetainedStore, ExpireSweepsInDeadlineOrder) {
  RetainedStore store;
  for (int i = 0; i < 100; ++i) {
    store.put(msg("s/" + std::to_string(i), "x", kT0 + std::chrono::seconds((i * 37) % 100 + 1)));
  }
  store.put(msg("s/keep", "x"));
  EXPECT_EQ(store.expire(kT0), 0U);
  EXPECT_EQ(store.expire(kT0 + 50s), 50U);
  EXPECT_EQ(store.size(), 51U);
  EXPECT_EQ(store.next_expiry(), kT0 + 51s);
  EXPECT_EQ(store.expire(kT0 + 1000s), 50U);
  EXPECT_EQ(store.size(), 1U);
  EXPECT_EQ(topics_matching(store, "s/#"), (Topics{"s/keep"}));
}

TEST(RetainedStore, ReplacementResetsExpiry) {
  RetainedStore store;
  store.put(msg("r", "old", kT0 + 5s));
  store.put(msg("r", "new"));  // no expiry: must leave the heap
  EXPECT_EQ(store.next_expiry(), std::nullopt);
  EXPECT_EQ(store.expire(kT0 + 10s), 0U);
  ASSERT_NE(store.get("r", kT0 + 10s), nullptr);
  store.put(msg("r", "newer", kT0 + 20s));
  EXPECT_EQ(store.next_expiry(), kT0 + 20s);
  store.put(msg("r", ""));
  EXPECT_EQ(store.next_expiry(), std::nullopt);
}

TEST(RetainedStore, CapRefusesNewTopicsButAllowsReplacement) {
  RetainedStore store(RetainedLimits{2, 0});
  EXPECT_EQ(store.put(msg("a", "1")), RetainResult::stored);
  EXPECT_EQ(store.put(msg("b", "1")), RetainResult::stored);
  EXPECT_EQ(store.put(msg("c", "1")), RetainResult::refused_full);
  EXPECT_TRUE(is_refused(RetainResult::refused_full));
  EXPECT_EQ(store.put(msg("a", "2")), RetainResult::replaced);
  EXPECT_EQ(store.get("c", kT0), nullptr);
  EXPECT_EQ(store.nodes(), 2U);  // nothing was built for the refused topic
  EXPECT_EQ(store.put(msg("b", "")), RetainResult::deleted);
  EXPECT_EQ(store.put(msg("c", "1")), RetainResult::stored);
  EXPECT_EQ(store.counters().refused_full, 1U);
  store.set_limits(RetainedLimits{1, 0});  // lowering the cap evicts nothing
  EXPECT_EQ(store.size(), 2U);
  EXPECT_EQ(store.put(msg("d", "1")), RetainResult::refused_full);
}

TEST(RetainedStore, OversizedPayloadIsRefusedAndStaleMessageRemoved) {
  RetainedStore store(RetainedLimits{0, 4});
  EXPECT_EQ(store.put(msg("cfg", "1234")), RetainResult::stored);
  EXPECT_EQ(store.put(msg("cfg", "12345")), RetainResult::refused_too_large);
  EXPECT_EQ(store.get("cfg", kT0), nullptr);
  EXPECT_EQ(store.size(), 0U);
  EXPECT_EQ(store.nodes(), 0U);
  EXPECT_EQ(store.counters().refused_too_large, 1U);
}

TEST(RetainedStore, ReplicasShareTheMessage) {
  RetainedStore a;
  RetainedStore b;
  const MessagePtr m = msg("shared/topic", std::string(1000, 'x'));
  a.put(m);
  b.put(m);
  EXPECT_EQ(m.use_count(), 3);  // stored by reference, not copied
  EXPECT_EQ(a.get("shared/topic", kT0).get(), b.get("shared/topic", kT0).get());
}

TEST(RetainedStore, DeepTopicsAndWideLevels) {
  RetainedStore store;
  std::string deep = "d";
  for (int i = 0; i < 20'000; ++i) deep += "/x";
  store.put(msg(deep, "deep"));
  for (int i = 0; i < 5000; ++i) store.put(msg("wide/" + std::to_string(i) + "/s", "w"));
  EXPECT_EQ(topics_matching(store, "d/#").size(), 1U);
  EXPECT_EQ(topics_matching(store, "wide/+/s").size(), 5000U);
  EXPECT_EQ(topics_matching(store, "#").size(), 5001U);
  store.clear();
  EXPECT_EQ(store.size(), 0U);
  EXPECT_EQ(store.nodes(), 0U);
  EXPECT_TRUE(topics_matching(store, "#").empty());
}

TEST(RetainedStore, RandomisedAgainstTopicMatches) {
  std::mt19937 rng(99);
  static const char* kLevels[] = {"a", "b", "", "$s", "c"};
  const auto make_topic = [&] {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) t += '/';
      t += kLevels[rng() % 5];
    }
    return t.empty() ? std::string("a") : t;
  };
  const auto make_filter = [&] {
    static const char* kFilterLevels[] = {"a", "b", "", "+", "+", "$s"};
    std::string f;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i > 0) f += '/';
      f += kFilterLevels[rng() % 6];
    }
    if (f.empty()) f = "+";
    if (rng() % 3 == 0) f += "/#";
    if (rng() % 15 == 0) f = "#";
    return f;
  };
  RetainedStore store;
  std::map<std::string, std::string> model;
  for (int i = 0; i < 3000; ++i) {
    const std::string t = make_topic();
    const bool del = rng() % 4 == 0;
    const std::string payload = del ? "" : std::to_string(i);
    store.put(msg(t, payload));
    if (del) {
      model.erase(t);
    } else {
      model[t] = payload;
    }
  }
  ASSERT_EQ(store.size(), model.size());
  for (int i = 0; i < 1500; ++i) {
    const std::string f = make_filter();
    ASSERT_FALSE(mqtt::validate_topic_filter(f).has_value()) << f;
    Topics expected;
    for (const auto& [t, p] : model) {
      if (mqtt::topic_matches(f, t)) expected.push_back(t);
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(topics_matching(store, f), expected) << f;
  }
  for (const auto& [t, p] : model) ASSERT_EQ(store.put(msg(t, "")), RetainResult::deleted);
  EXPECT_EQ(store.nodes(), 0U);
}

}  // namespace
}  // namespace roadmq::broker
