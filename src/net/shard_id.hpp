// ShardId: which shard (one io_context on one thread) owns an object. A cheap
// include for modules that route work by shard without needing the runtime.
//
// Thread safety: a value type. current_shard()/on_shard() read a thread_local
// set by the shard's own thread, so they answer for the calling thread.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace roadmq::net {

class ShardId {
 public:
  constexpr ShardId() noexcept = default;  // invalid: "no shard"
  constexpr explicit ShardId(std::uint32_t value) noexcept : value_(value) {}

  constexpr std::uint32_t value() const noexcept { return value_; }
  constexpr bool valid() const noexcept { return value_ != kInvalid; }
  static constexpr ShardId invalid() noexcept { return ShardId{}; }

  friend constexpr auto operator<=>(ShardId, ShardId) noexcept = default;

 private:
  static constexpr std::uint32_t kInvalid = UINT32_MAX;
  std::uint32_t value_ = kInvalid;
};

// The shard whose thread is calling, or ShardId::invalid() off-shard.
ShardId current_shard() noexcept;

// True when called on the thread of shard `id`. For ownership asserts:
// ROADMQ_ASSERT(net::on_shard(owner_)). With several pools in one process
// (tests) ids repeat across pools; Shard::is_current() is exact.
bool on_shard(ShardId id) noexcept;

}  // namespace roadmq::net

template <>
struct std::hash<roadmq::net::ShardId> {
  std::size_t operator()(roadmq::net::ShardId id) const noexcept { return id.value(); }
};
