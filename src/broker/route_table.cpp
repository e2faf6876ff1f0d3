#include "broker/route_table.hpp"

#include <string>
#include <vector>

#include "base/assert.hpp"

namespace roadmq::broker {

bool RouteTable::set(std::string_view filter, std::uint32_t shard, bool present) {
  ROADMQ_ASSERT(shard < kMaxShards);
  const std::uint64_t bit = std::uint64_t{1} << shard;
  if (present) {
    std::uint64_t& mask = *map_.try_emplace(filter).first;
    const bool changed = (mask & bit) == 0;
    mask |= bit;
    return changed;
  }
  std::uint64_t* mask = map_.find(filter);
  if (mask == nullptr || (*mask & bit) == 0) return false;
  *mask &= ~bit;
  // A zero mask would still cost a lookup on every publish; drop the filter.
  if (*mask == 0) map_.erase(filter);
  return true;
}

std::uint64_t RouteTable::match(std::string_view topic) const noexcept {
  std::uint64_t shards = 0;
  map_.match(topic, [&shards](std::string_view, std::uint64_t mask) noexcept { shards |= mask; });
  return shards;
}

std::uint64_t RouteTable::shards_of(std::string_view filter) const noexcept {
  const std::uint64_t* mask = map_.find(filter);
  return mask != nullptr ? *mask : 0;
}

std::size_t RouteTable::remove_shard(std::uint32_t shard) {
  ROADMQ_ASSERT(shard < kMaxShards);
  const std::uint64_t bit = std::uint64_t{1} << shard;
  std::size_t touched = 0;
  // Erasing while walking would reshape the tables under the walk: clear
  // bits in place, then drop the filters left without any shard.
  std::vector<std::string> emptied;
  map_.for_each([&](std::string_view filter, std::uint64_t& mask) {
    if ((mask & bit) == 0) return;
    ++touched;
    mask &= ~bit;
    if (mask == 0) emptied.emplace_back(filter);
  });
  for (const auto& f : emptied) map_.erase(f);
  return touched;
}

}  // namespace roadmq::broker
