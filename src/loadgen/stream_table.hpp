// StreamTable: one receiver's SequenceTracker per stream (run id +
// publisher), found by a hash lookup with a one-entry cache, since a
// receiver usually gets runs of messages from the same publisher.
//
// Thread safety: owned by one thread; merge() reads a table the caller has
// synchronised with.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>

#include "loadgen/payload.hpp"
#include "loadgen/sequence_tracker.hpp"

namespace roadmq::loadgen {

// Sums over streams, and over receivers once their tables are merged.
struct StreamTotals {
  std::uint64_t streams = 0;
  std::uint64_t received = 0;
  std::uint64_t unique = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t reordered = 0;
  std::uint64_t late = 0;
  std::uint64_t expected = 0;
  std::uint64_t lost = 0;
  std::uint64_t without_final = 0;    // streams whose final message was not seen
  std::uint64_t lost_reliable = 0;    // lost in streams delivered at QoS >= 1 only
  std::uint64_t duplicates_qos2 = 0;  // duplicates in streams delivered at QoS 2 only

  StreamTotals& operator+=(const StreamTotals& o) noexcept;
};

class StreamTable {
 public:
  struct Stream {
    SequenceTracker seq;
    std::uint8_t min_qos = 2;  // lowest QoS any of its messages arrived with
  };

  // One delivery of `h` at `qos`; marks the stream final when `h` says so.
  SequenceTracker::Outcome record(const PayloadHeader& h, std::uint8_t qos);
  void merge(const StreamTable& other);
  StreamTotals totals() const;
  std::size_t size() const noexcept { return streams_.size(); }
  const Stream* find(const StreamKey& k) const;

 private:
  struct Hash {
    std::size_t operator()(const StreamKey& k) const noexcept {
      return std::hash<std::uint64_t>{}(k.run_id * 0x9E3779B97F4A7C15ull ^ k.publisher);
    }
  };
  Stream& lookup(const StreamKey& k);

  std::unordered_map<StreamKey, Stream, Hash> streams_;  // node-based: `last_` stays valid
  StreamKey last_key_{};
  Stream* last_ = nullptr;
};

}  // namespace roadmq::loadgen
