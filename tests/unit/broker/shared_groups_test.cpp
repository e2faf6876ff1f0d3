// SharedGroups: shared-subscription membership [MQTT-4.8.2] and the
// strategies that pick one member per message.
#include "broker/shared_groups.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace roadmq::broker {
namespace {

SharedMember member(std::uint32_t shard, std::uint64_t key, mqtt::QoS qos = mqtt::QoS::at_least_once) {
  SharedMember m;
  m.shard = shard;
  m.session_key = key;
  m.client_id = "backend-" + std::to_string(key);
  m.options.max_qos = qos;
  return m;
}

// (group, filter) of every group matching `topic`.
std::vector<std::pair<std::string, std::string>> groups_for(SharedGroups& g, std::string_view topic) {
  std::vector<std::pair<std::string, std::string>> out;
  g.match(topic, [&](SharedGroup& group) { out.emplace_back(group.name(), group.filter()); });
  std::sort(out.begin(), out.end());
  return out;
}

std::uint64_t pick_key(SharedGroups& g, std::string_view share_filter, SharedStrategy s,
                       std::string_view publisher, std::string_view topic, std::uint64_t exclude = 0) {
  std::uint64_t key = 0;
  g.match(topic, [&](SharedGroup& group) {
    const SharedGroup* wanted = g.find(share_filter);
    if (&group != wanted) return;
    const SharedMember* m = g.pick(group, s, publisher, topic, exclude);
    key = m != nullptr ? m->session_key : 0;
  });
  return key;
}

TEST(SharedGroups, ParsesShareAndQueueFilters) {
  SharedGroups g(1);
  EXPECT_TRUE(g.add_member("$share/workers/vehicle/+/up", member(0, 11)));
  EXPECT_TRUE(g.add_member("$queue/vehicle/+/up", member(1, 12)));
  EXPECT_TRUE(g.add_member("$share/audit/vehicle/#", member(2, 13)));
  EXPECT_EQ(g.groups(), 3U);
  EXPECT_EQ(g.members(), 3U);
  EXPECT_EQ(g.filters(), 2U);  // "vehicle/+/up" holds two groups
  const SharedGroup* workers = g.find("$share/workers/vehicle/+/up");
  ASSERT_NE(workers, nullptr);
  EXPECT_EQ(workers->name(), "workers");
  EXPECT_EQ(workers->filter(), "vehicle/+/up");
  const SharedGroup* queue = g.find("$queue/vehicle/+/up");
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->name(), "$queue");
  EXPECT_EQ(g.find("$share/nobody/vehicle/+/up"), nullptr);
  EXPECT_EQ(g.find("vehicle/+/up"), nullptr);
}

TEST(SharedGroups, MatchVisitsEachMatchingGroupOnce) {
  SharedGroups g(1);
  g.add_member("$share/workers/vehicle/+/up", member(0, 11));
  g.add_member("$share/workers/vehicle/+/up", member(1, 12));
  g.add_member("$share/audit/vehicle/#", member(2, 13));
  g.add_member("$share/workers/vehicle/VIN1/up", member(3, 14));  // same name, other filter: other group
  g.add_member("$share/x/other", member(3, 15));
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(groups_for(g, "vehicle/VIN1/up"),
            (std::vector<P>{{"audit", "vehicle/#"}, {"workers", "vehicle/+/up"}, {"workers", "vehicle/VIN1/up"}}));
  EXPECT_EQ(groups_for(g, "vehicle/VIN2/up"), (std::vector<P>{{"audit", "vehicle/#"}, {"workers", "vehicle/+/up"}}));
  EXPECT_TRUE(groups_for(g, "fleet/x").empty());
}

TEST(SharedGroups, SystemTopicsSkipLeadingWildcardGroups) {
  SharedGroups g(1);
  g.add_member("$share/all/#", member(0, 1));
  g.add_member("$share/sys/$SYS/#", member(0, 2));
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(groups_for(g, "$SYS/broker/load"), (std::vector<P>{{"sys", "$SYS/#"}}));  // [MQTT-4.7.2-1]
}

TEST(SharedGroups, AddSameSessionUpdatesOptions) {
  SharedGroups g(1);
  EXPECT_TRUE(g.add_member("$share/g/t", member(0, 5, mqtt::QoS::at_most_once)));
  EXPECT_FALSE(g.add_member("$share/g/t", member(0, 5, mqtt::QoS::exactly_once)));
  const SharedGroup* group = g.find("$share/g/t");
  ASSERT_NE(group, nullptr);
  ASSERT_EQ(group->members().size(), 1U);
  EXPECT_EQ(group->members()[0].options.max_qos, mqtt::QoS::exactly_once);
  EXPECT_EQ(g.members(), 1U);
  // The same session in another group is another membership.
  EXPECT_TRUE(g.add_member("$share/h/t", member(0, 5)));
  EXPECT_EQ(g.members(), 2U);
}

TEST(SharedGroups, RemoveMemberDropsEmptyGroups) {
  SharedGroups g(1);
  g.add_member("$share/g/a/+", member(0, 1));
  g.add_member("$share/g/a/+", member(1, 2));
  g.add_member("$share/h/a/+", member(1, 3));
  EXPECT_TRUE(g.remove_member("$share/g/a/+", 1));
  EXPECT_FALSE(g.remove_member("$share/g/a/+", 1));
  EXPECT_FALSE(g.remove_member("$share/zz/a/+", 2));
  EXPECT_FALSE(g.remove_member("$share/g/zz", 2));
  EXPECT_EQ(g.members(), 2U);
  EXPECT_TRUE(g.remove_member("$share/g/a/+", 2));
  EXPECT_EQ(g.find("$share/g/a/+"), nullptr);
  EXPECT_EQ(g.groups(), 1U);
  EXPECT_EQ(g.filters(), 1U);
  EXPECT_TRUE(g.remove_member("$share/h/a/+", 3));
  EXPECT_EQ(g.groups(), 0U);
  EXPECT_EQ(g.filters(), 0U);
  EXPECT_TRUE(groups_for(g, "a/b").empty());
}

TEST(SharedGroups, RoundRobinCycles) {
  SharedGroups g(1);
  for (std::uint64_t k = 1; k <= 3; ++k) g.add_member("$share/g/t/+", member(0, k));
  std::vector<std::uint64_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(pick_key(g, "$share/g/t/+", SharedStrategy::round_robin, "p", "t/x"));
  EXPECT_EQ(picks, (std::vector<std::uint64_t>{1, 2, 3, 1, 2, 3, 1}));
  // Member 2 leaves: the rotation continues over the rest without a repeat.
  g.remove_member("$share/g/t/+", 2);
  picks.clear();
  for (int i = 0; i < 4; ++i) picks.push_back(pick_key(g, "$share/g/t/+", SharedStrategy::round_robin, "p", "t/x"));
  EXPECT_EQ(picks, (std::vector<std::uint64_t>{3, 1, 3, 1}));
}

TEST(SharedGroups, HashClientIdIsStablePerPublisherAndSpreads) {
  SharedGroups g(1);
  for (std::uint64_t k = 1; k <= 4; ++k) g.add_member("$share/g/up", member(k % 2, k));
  std::map<std::uint64_t, int> load;
  for (int p = 0; p < 400; ++p) {
    const std::string publisher = "VIN" + std::to_string(p);
    const std::uint64_t first = pick_key(g, "$share/g/up", SharedStrategy::hash_clientid, publisher, "up");
    for (int again = 0; again < 3; ++again) {
      ASSERT_EQ(pick_key(g, "$share/g/up", SharedStrategy::hash_clientid, publisher, "up"), first);
    }
    ++load[first];
  }
  ASSERT_EQ(load.size(), 4U);
  for (const auto& [key, n] : load) EXPECT_GT(n, 60) << "member " << key;
}

TEST(SharedGroups, HashTopicIsStablePerTopic) {
  SharedGroups g(1);
  for (std::uint64_t k = 1; k <= 4; ++k) g.add_member("$share/g/v/#", member(0, k));
  std::set<std::uint64_t> used;
  for (int t = 0; t < 100; ++t) {
    const std::string topic = "v/" + std::to_string(t);
    const std::uint64_t first = pick_key(g, "$share/g/v/#", SharedStrategy::hash_topic, "a", topic);
    ASSERT_EQ(pick_key(g, "$share/g/v/#", SharedStrategy::hash_topic, "b", topic), first);
    used.insert(first);
  }
  EXPECT_EQ(used.size(), 4U);
}

TEST(SharedGroups, StickyKeepsMemberUntilItLeaves) {
  SharedGroups g(99);
  for (std::uint64_t k = 1; k <= 5; ++k) g.add_member("$share/g/s", member(0, k));
  const std::uint64_t first = pick_key(g, "$share/g/s", SharedStrategy::sticky, "p", "s");
  ASSERT_NE(first, 0U);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(pick_key(g, "$share/g/s", SharedStrategy::sticky, "p", "s"), first);
  // Another member leaving does not move the choice, even when the sticky
  // member's position shifts.
  const std::uint64_t other = first == 1 ? 2 : 1;
  g.remove_member("$share/g/s", other);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(pick_key(g, "$share/g/s", SharedStrategy::sticky, "p", "s"), first);
  g.remove_member("$share/g/s", first);
  const std::uint64_t second = pick_key(g, "$share/g/s", SharedStrategy::sticky, "p", "s");
  EXPECT_NE(second, first);
  EXPECT_NE(second, 0U);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(pick_key(g, "$share/g/s", SharedStrategy::sticky, "p", "s"), second);
}

TEST(SharedGroups, RandomIsRoughlyUniform) {
  SharedGroups g(12345);
  for (std::uint64_t k = 1; k <= 4; ++k) g.add_member("$share/g/r", member(0, k));
  std::map<std::uint64_t, int> load;
  for (int i = 0; i < 40'000; ++i) ++load[pick_key(g, "$share/g/r", SharedStrategy::random, "p", "r")];
  ASSERT_EQ(load.size(), 4U);
  for (const auto& [key, n] : load) {
    EXPECT_GT(n, 9'000) << key;
    EXPECT_LT(n, 11'000) << key;
  }
}

TEST(SharedGroups, ExcludedMemberIsNeverPicked) {
  SharedGroups g(3);
  g.add_member("$share/g/e", member(0, 1));
  g.add_member("$share/g/e", member(1, 2));
  g.add_member("$share/g/e", member(1, 3));
  for (auto strategy : {SharedStrategy::random, SharedStrategy::round_robin, SharedStrategy::sticky,
                        SharedStrategy::hash_clientid, SharedStrategy::hash_topic, SharedStrategy::local}) {
    for (int i = 0; i < 30; ++i) {
      const std::uint64_t k = pick_key(g, "$share/g/e", strategy, "pub" + std::to_string(i), "e", 2);
      ASSERT_NE(k, 2U) << to_string(strategy);
      ASSERT_NE(k, 0U) << to_string(strategy);
    }
  }
  g.remove_member("$share/g/e", 1);
  g.remove_member("$share/g/e", 3);
  EXPECT_EQ(pick_key(g, "$share/g/e", SharedStrategy::round_robin, "p", "e", 2), 0U);  // nobody else
  EXPECT_EQ(pick_key(g, "$share/g/e", SharedStrategy::round_robin, "p", "e"), 2U);
}

TEST(SharedGroups, PickMemberFreeFunction) {
  SharedMembers members{member(0, 1), member(1, 2)};
  SharedPickState state;
  Prng rng(5);
  EXPECT_EQ(pick_member(members, SharedStrategy::round_robin, "", "t", state, rng), 0U);
  EXPECT_EQ(pick_member(members, SharedStrategy::round_robin, "", "t", state, rng), 1U);
  EXPECT_EQ(pick_member(members, SharedStrategy::round_robin, "", "t", state, rng), 0U);
  EXPECT_EQ(pick_member({}, SharedStrategy::random, "", "t", state, rng), kNoMember);
  // local without the picking shard's facts: round_robin; with them, the
  // member on shard 1 every time.
  EXPECT_EQ(pick_member(members, SharedStrategy::local, "", "t", state, rng), 1U);
  const LocalPick here{1, nullptr, nullptr};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(pick_member(members, SharedStrategy::local, "", "t", state, rng, 0, &here), 1U);
}

// Members whose keys are in `busy` cannot take a message now.
struct Readiness {
  std::set<std::uint64_t> busy;
  static bool ready(void* self, std::uint64_t key) { return static_cast<Readiness*>(self)->busy.count(key) == 0; }
};

std::vector<std::uint64_t> local_picks(SharedGroups& g, Readiness r, int n, std::uint64_t exclude = 0) {
  std::vector<std::uint64_t> picks;
  for (int i = 0; i < n; ++i) {
    g.match("up", [&](SharedGroup& group) {
      const SharedMember* m = g.pick(group, SharedStrategy::local, "p", "up", exclude, &Readiness::ready, &r);
      picks.push_back(m != nullptr ? m->session_key : 0);
    });
  }
  return picks;
}

TEST(SharedGroups, LocalTakesTurnsAmongTheMembersOnThisShard) {
  SharedGroups g(1);
  g.set_local_shard(1);
  for (std::uint64_t k = 1; k <= 4; ++k) g.add_member("$share/g/up", member(k % 2 == 0 ? 1 : 0, k));
  EXPECT_EQ(g.find("$share/g/up")->local_members(), 2U);
  EXPECT_EQ(local_picks(g, {}, 5), (std::vector<std::uint64_t>{2, 4, 2, 4, 2}));
  // Without a readiness check every local member counts as ready.
  EXPECT_EQ(pick_key(g, "$share/g/up", SharedStrategy::local, "p", "up"), 4U);
}

TEST(SharedGroups, LocalStepsOverMembersThatFellBehind) {
  SharedGroups g(1);
  g.set_local_shard(1);
  for (std::uint64_t k = 1; k <= 4; ++k) g.add_member("$share/g/up", member(k % 2 == 0 ? 1 : 0, k));
  EXPECT_EQ(local_picks(g, Readiness{{2}}, 3), (std::vector<std::uint64_t>{4, 4, 4}));
  // Every local member behind: all members take turns, as round_robin.
  EXPECT_EQ(local_picks(g, Readiness{{2, 4}}, 5), (std::vector<std::uint64_t>{1, 2, 3, 4, 1}));
  // Back in step: local again.
  EXPECT_EQ(local_picks(g, {}, 2), (std::vector<std::uint64_t>{2, 4}));
  // An excluded member (its session vanished in flight) is never picked.
  EXPECT_EQ(local_picks(g, {}, 3, 2), (std::vector<std::uint64_t>{4, 4, 4}));
}

TEST(SharedGroups, LocalWithoutMembersOnThisShardIsRoundRobin) {
  SharedGroups g(1);
  g.set_local_shard(2);
  for (std::uint64_t k = 1; k <= 3; ++k) g.add_member("$share/g/up", member(k % 2, k));
  EXPECT_EQ(g.find("$share/g/up")->local_members(), 0U);
  EXPECT_EQ(local_picks(g, {}, 4), (std::vector<std::uint64_t>{1, 2, 3, 1}));
}

TEST(SharedGroups, LocalMemberCountFollowsMembership) {
  SharedGroups g(1);
  g.set_local_shard(0);
  g.add_member("$share/g/up", member(0, 1));
  g.add_member("$share/g/up", member(1, 2));
  g.add_member("$share/g/up", member(0, 3));
  const SharedGroup* group = g.find("$share/g/up");
  EXPECT_EQ(group->local_members(), 2U);
  g.add_member("$share/g/up", member(0, 1, mqtt::QoS::at_most_once));  // same session, new options
  EXPECT_EQ(group->local_members(), 2U);
  EXPECT_EQ(local_picks(g, {}, 3), (std::vector<std::uint64_t>{1, 3, 1}));
  g.remove_member("$share/g/up", 3);
  EXPECT_EQ(group->local_members(), 1U);
  EXPECT_EQ(local_picks(g, {}, 2), (std::vector<std::uint64_t>{1, 1}));
  g.remove_member("$share/g/up", 1);
  EXPECT_EQ(group->local_members(), 0U);
  EXPECT_EQ(local_picks(g, {}, 2), (std::vector<std::uint64_t>{2, 2}));
}

TEST(SharedGroups, StrategyNamesRoundTrip) {
  for (auto s : {SharedStrategy::random, SharedStrategy::round_robin, SharedStrategy::sticky,
                 SharedStrategy::hash_clientid, SharedStrategy::hash_topic, SharedStrategy::local}) {
    EXPECT_EQ(parse_shared_strategy(to_string(s)), s);
  }
  EXPECT_EQ(parse_shared_strategy("least_inflight"), std::nullopt);
}

}  // namespace
}  // namespace roadmq::broker
