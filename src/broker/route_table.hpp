// RouteTable: one shard's replica of the node-wide route table, topic filter
// -> mask of the shards that have at least one local subscriber to it. A
// publish on shard A asks A's replica which shards to post the message to;
// each of those matches its own SubscriptionIndex. Every shard applies the
// same stream of set() calls (posted by the shard whose subscriptions
// changed), so replicas converge without a lock.
//
// Only normal filters go here; shared subscriptions are routed by
// SharedGroups.
//
// Thread safety: owned by one shard; every call on that shard's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "broker/filter_map.hpp"

namespace roadmq::broker {

class RouteTable {
 public:
  // One bit per shard in a 64-bit mask.
  static constexpr std::uint32_t kMaxShards = 64;

  RouteTable() = default;

  // Marks `shard` as having (present) or no longer having subscribers to
  // `filter` (valid, unshared). Returns whether the table changed; applying
  // the same change twice is harmless.
  bool set(std::string_view filter, std::uint32_t shard, bool present);

  // Shards with a subscriber whose filter matches the topic name: the OR of
  // the masks of every matching filter. Allocation-free.
  std::uint64_t match(std::string_view topic) const noexcept;

  // The mask stored for exactly this filter (0 if none).
  std::uint64_t shards_of(std::string_view filter) const noexcept;

  // Removes `shard` from every filter (a shard that stopped). O(filters).
  std::size_t remove_shard(std::uint32_t shard);

  std::size_t size() const noexcept { return map_.size(); }  // filters
  std::size_t trie_nodes() const noexcept { return map_.trie_nodes(); }
  std::size_t memory_bytes() const noexcept { return map_.memory_bytes(); }
  void reserve_exact(std::size_t filters) { map_.reserve_exact(filters); }

 private:
  detail::FilterMap<std::uint64_t> map_;
};

}  // namespace roadmq::broker
