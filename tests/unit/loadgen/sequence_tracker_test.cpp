#include "loadgen/sequence_tracker.hpp"

#include <gtest/gtest.h>

#include "loadgen/stream_table.hpp"

namespace roadmq::loadgen {
namespace {

using O = SequenceTracker::Outcome;

TEST(LoadgenSequence, InOrderStreamKeepsOneWord) {
  SequenceTracker t;
  for (std::uint64_t s = 0; s < 10000; ++s) ASSERT_EQ(t.record(s), O::in_order);
  EXPECT_EQ(t.received(), 10000u);
  EXPECT_EQ(t.unique(), 10000u);
  EXPECT_EQ(t.lost(), 0u);
  EXPECT_EQ(t.duplicates(), 0u);
  EXPECT_EQ(t.reordered(), 0u);
  EXPECT_LE(t.words(), 1u);
}

TEST(LoadgenSequence, GapIsLossUntilFilled) {
  SequenceTracker t;
  t.record(0);
  t.record(1);
  EXPECT_EQ(t.record(4), O::after_gap);
  EXPECT_EQ(t.expected(), 5u);
  EXPECT_EQ(t.lost(), 2u);
  EXPECT_EQ(t.record(2), O::reordered);
  EXPECT_EQ(t.lost(), 1u);
  EXPECT_EQ(t.reordered(), 1u);
}

TEST(LoadgenSequence, DuplicatesInWindowAndBelowBase) {
  SequenceTracker t;
  for (std::uint64_t s = 0; s < 200; ++s) t.record(s);
  EXPECT_EQ(t.record(199), O::duplicate);  // still in the bitmap
  EXPECT_EQ(t.record(3), O::duplicate);    // settled: below base, nothing expired
  EXPECT_EQ(t.duplicates(), 2u);
  EXPECT_EQ(t.unique(), 200u);
  EXPECT_EQ(t.received(), 202u);
  EXPECT_EQ(t.lost(), 0u);
}

TEST(LoadgenSequence, FinalMarkerRevealsTailLoss) {
  SequenceTracker t;
  t.record(0);
  t.record(1);
  EXPECT_EQ(t.lost(), 0u);  // nothing says more was sent
  t.mark_final(4);          // the final message says the stream had 5
  EXPECT_TRUE(t.has_final());
  EXPECT_EQ(t.expected(), 5u);
  EXPECT_EQ(t.lost(), 3u);
}

TEST(LoadgenSequence, StreamNotStartingAtZeroCountsTheHeadAsLost) {
  SequenceTracker t;
  EXPECT_EQ(t.record(3), O::after_gap);
  EXPECT_EQ(t.lost(), 3u);
}

TEST(LoadgenSequence, OldHolesExpireBeyondTheSpan) {
  SequenceTracker t(256);
  t.record(0);
  // 1 is never delivered; the stream runs far ahead.
  for (std::uint64_t s = 2; s < 2000; ++s) t.record(s);
  EXPECT_EQ(t.expired(), 1u);
  EXPECT_EQ(t.lost(), 1u);
  EXPECT_LE(t.words(), 256u / 64 + 1);
  // The hole arrives after expiring: counted late (and unique), not a dup.
  EXPECT_EQ(t.record(1), O::late);
  EXPECT_EQ(t.late(), 1u);
  EXPECT_EQ(t.lost(), 0u);
}

TEST(LoadgenSequence, HugeJumpExpiresEverythingSkipped) {
  SequenceTracker t(1024);
  t.record(0);
  t.record(1'000'000);
  EXPECT_EQ(t.lost(), 999'999u);
  EXPECT_LE(t.words(), 1024u / 64 + 1);
}

TEST(LoadgenSequence, MergeOfSharedMembersIsExact) {
  // A shared-subscription group: members get alternate messages.
  SequenceTracker a, b;
  for (std::uint64_t s = 0; s < 1000; ++s) (s % 2 ? b : a).record(s);
  a.mark_final(999);
  EXPECT_EQ(a.lost(), 500u);  // alone, a member sees half
  a.merge(b);
  EXPECT_EQ(a.unique(), 1000u);
  EXPECT_EQ(a.lost(), 0u);
  EXPECT_EQ(a.duplicates(), 0u);
  EXPECT_EQ(a.received(), 1000u);
}

TEST(LoadgenSequence, MergeCountsCrossMemberDuplicates) {
  SequenceTracker a, b;
  for (std::uint64_t s = 0; s < 300; ++s) a.record(s);
  b.record(10);   // below a's base: a saw it too
  b.record(299);  // in a's bitmap
  b.record(300);  // new
  a.merge(b);
  EXPECT_EQ(a.unique(), 301u);
  EXPECT_EQ(a.duplicates(), 2u);
  EXPECT_EQ(a.received(), 303u);
  EXPECT_EQ(a.lost(), 0u);
  EXPECT_EQ(a.next_expected(), 301u);
}

TEST(LoadgenSequence, MergeIntoEmpty) {
  SequenceTracker a, b;
  for (std::uint64_t s : {0u, 1u, 5u}) b.record(s);
  a.merge(b);
  EXPECT_EQ(a.unique(), 3u);
  EXPECT_EQ(a.lost(), 3u);
  EXPECT_EQ(a.record(2), O::reordered);
}

TEST(LoadgenStreams, SeparatesPublishersAndRuns) {
  StreamTable t;
  PayloadHeader h;
  h.stream = {1, 0};
  for (std::uint64_t s = 0; s < 10; ++s) {
    h.sequence = s;
    t.record(h, 1);
  }
  h.stream = {1, 1};
  h.sequence = 0;
  t.record(h, 1);
  h.stream = {2, 0};  // another run, same publisher index
  h.sequence = 5;
  h.flags = kFlagFinal;
  t.record(h, 0);
  const StreamTotals tot = t.totals();
  EXPECT_EQ(tot.streams, 3u);
  EXPECT_EQ(tot.received, 12u);
  EXPECT_EQ(tot.lost, 5u);           // run 2 publisher 0 lost 0..4
  EXPECT_EQ(tot.lost_reliable, 0u);  // ... but it came at QoS 0
  EXPECT_EQ(tot.without_final, 2u);
}

TEST(LoadgenStreams, ReliableLossAndQos2Duplicates) {
  StreamTable t;
  PayloadHeader h;
  h.stream = {9, 3};
  for (std::uint64_t s : {0u, 2u, 2u}) {
    h.sequence = s;
    t.record(h, 2);
  }
  const StreamTotals tot = t.totals();
  EXPECT_EQ(tot.lost_reliable, 1u);
  EXPECT_EQ(tot.duplicates_qos2, 1u);
}

TEST(LoadgenStreams, MergeTablesOfSharedMembers) {
  StreamTable a, b;
  PayloadHeader h;
  h.stream = {5, 0};
  for (std::uint64_t s = 0; s < 100; ++s) {
    h.sequence = s;
    h.flags = s == 99 ? kFlagFinal : 0;
    (s % 3 ? a : b).record(h, 1);
  }
  a.merge(b);
  const StreamTotals tot = a.totals();
  EXPECT_EQ(tot.streams, 1u);
  EXPECT_EQ(tot.unique, 100u);
  EXPECT_EQ(tot.lost, 0u);
  EXPECT_EQ(tot.without_final, 0u);
}

}  // namespace
}  // namespace roadmq::loadgen
