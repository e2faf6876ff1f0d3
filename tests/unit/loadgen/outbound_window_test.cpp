#include "loadgen/outbound_window.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace roadmq::loadgen {
namespace {

OutboundEntry entry(std::uint64_t seq, std::uint8_t qos = 1) {
  OutboundEntry e;
  e.header.sequence = seq;
  e.qos = qos;
  e.stage = qos == 1 ? OutboundStage::awaiting_puback : OutboundStage::awaiting_pubrec;
  return e;
}

TEST(LoadgenOutbound, WindowBoundsActiveEntries) {
  OutboundWindow w(4);
  std::vector<std::uint16_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(w.push(entry(i)).packet_id);
  EXPECT_EQ(w.room(), 0u);
  EXPECT_EQ(w.active(), 4u);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{1, 2, 3, 4}));
  w.complete(*w.find(1, OutboundStage::awaiting_puback));
  EXPECT_EQ(w.room(), 1u);
  EXPECT_EQ(w.find(1, OutboundStage::awaiting_puback), nullptr);  // a repeated ack finds nothing
}

TEST(LoadgenOutbound, OutOfOrderCompletionLeavesHolesUpToTwiceTheLimit) {
  OutboundWindow w(2);
  w.push(entry(0));  // id 1: stays unacked
  for (std::uint64_t s = 1; s < 10; ++s) {
    if (w.room() == 0) break;
    const auto id = w.push(entry(s)).packet_id;
    w.complete(*w.find(id, OutboundStage::awaiting_puback));
  }
  // Span is capped at 2 * limit while the oldest is outstanding.
  EXPECT_EQ(w.room(), 0u);
  EXPECT_EQ(w.active(), 1u);
  w.complete(*w.find(1, OutboundStage::awaiting_puback));
  EXPECT_EQ(w.room(), 2u);
  EXPECT_TRUE(w.empty());
}

TEST(LoadgenOutbound, Qos2StagesAndResendOrder) {
  OutboundWindow w(8);
  const auto a = w.push(entry(0, 2)).packet_id;
  const auto b = w.push(entry(1, 2)).packet_id;
  w.find(a, OutboundStage::awaiting_pubrec)->stage = OutboundStage::awaiting_pubcomp;
  EXPECT_EQ(w.find(a, OutboundStage::awaiting_pubrec), nullptr);
  ASSERT_NE(w.find(a, OutboundStage::awaiting_pubcomp), nullptr);
  std::vector<std::pair<std::uint16_t, OutboundStage>> seen;
  w.for_each_active([&](OutboundEntry& e) { seen.emplace_back(e.packet_id, e.stage); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(a, OutboundStage::awaiting_pubcomp));
  EXPECT_EQ(seen[1], std::make_pair(b, OutboundStage::awaiting_pubrec));
}

TEST(LoadgenOutbound, IdsInUseAreNeverReissued) {
  // Random completion order over many wraps of the 16-bit id space.
  OutboundWindow w(16);
  std::mt19937 rng(3);
  std::vector<std::uint16_t> active;
  std::set<std::uint16_t> in_use;
  for (int step = 0; step < 300000; ++step) {
    if (w.room() > 0 && (active.empty() || rng() % 2 == 0)) {
      const std::uint16_t id = w.push(entry(static_cast<std::uint64_t>(step))).packet_id;
      ASSERT_NE(id, 0);
      ASSERT_TRUE(in_use.insert(id).second) << "id " << id << " reissued while in use";
      active.push_back(id);
    } else {
      ASSERT_FALSE(active.empty());
      // Mostly the oldest (acks come in order), sometimes any.
      const std::size_t k = rng() % 4 == 0 ? rng() % active.size() : 0;
      const std::uint16_t id = active[k];
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(k));
      in_use.erase(id);
      OutboundEntry* e = w.find(id, OutboundStage::awaiting_puback);
      ASSERT_NE(e, nullptr);
      w.complete(*e);
    }
    ASSERT_EQ(w.active(), active.size());
  }
}

TEST(LoadgenOutbound, LimitFollowsReceiveMaximumButNotAboveConfigured) {
  OutboundWindow w(10);
  w.set_limit(3);
  EXPECT_EQ(w.room(), 3u);
  w.set_limit(65535);
  EXPECT_EQ(w.room(), 10u);
  w.set_limit(0);
  EXPECT_EQ(w.room(), 1u);
}

TEST(LoadgenOutbound, ClearDropsEverything) {
  OutboundWindow w(4);
  w.push(entry(0));
  w.push(entry(1));
  EXPECT_EQ(w.clear(), 2u);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.room(), 4u);
  // Identifiers keep counting: a broker that lost the session may still
  // deliver acks for old ones, which must not match new entries.
  EXPECT_EQ(w.push(entry(2)).packet_id, 3);
}

TEST(LoadgenOutbound, PacketIdsWrapSkippingZero) {
  OutboundWindow w(1);
  for (int i = 1; i < 65535; ++i) ASSERT_EQ(w.next_packet_id(), i);
  EXPECT_EQ(w.next_packet_id(), 65535);
  EXPECT_EQ(w.next_packet_id(), 1);
}

}  // namespace
}  // namespace roadmq::loadgen
