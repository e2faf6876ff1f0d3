// SharedGroups: one shard's replica of the node's shared subscriptions
// [MQTT-4.8.2], (share name, filter) -> members. A publish is matched here on
// the publishing shard, which picks one member per matching group and sends
// the message to that member's shard; so the choice needs no coordination,
// and every shard applies the same add/remove stream to stay in step.
//
// "$share/{group}/{filter}" and the older "$queue/{filter}" (group "$queue")
// are parsed with mqtt::parse_shared; callers validate filters first.
//
// Strategies: random, round_robin (cycles over members), sticky (keeps one
// member until it leaves), hash_clientid (a publisher always reaches the same
// member while membership is stable: per-vehicle ordering), hash_topic
// (likewise per topic), local (cycles over the members on the publishing
// shard that can take a message now; when none can, over all members, as
// round_robin). Round-robin and sticky state is per group and per replica,
// so each publishing shard cycles on its own; the node-wide spread is still
// even.
//
// Why local: a message for a member on another shard costs a batch slot, a
// mailbox hop and the other shard's cache misses; under full load that was
// a fifth of the broker's CPU per message. Members on a shard with more
// publishers get more, until they fall behind (backlog at the high
// watermark, or anything queued); then all members share the excess.
//
// Thread safety: owned by one shard; every call on that shard's thread.
// Visitors must not add or remove members.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/filter_map.hpp"
#include "mqtt/packet.hpp"

namespace roadmq::broker {

enum class SharedStrategy : std::uint8_t { random, round_robin, sticky, hash_clientid, hash_topic, local };

std::string_view to_string(SharedStrategy s) noexcept;
// "random", "round_robin", "sticky", "hash_clientid", "hash_topic", "local".
std::optional<SharedStrategy> parse_shared_strategy(std::string_view name) noexcept;

// One session subscribed to a group. `session_key` is unique across the
// node's shards and never 0, so it identifies the member on its own.
struct SharedMember {
  std::uint32_t shard = 0;
  std::uint64_t session_key = 0;
  std::string client_id;
  mqtt::SubscribeOptions options;  // as granted
  std::optional<std::uint32_t> subscription_id;
};
using SharedMembers = std::vector<SharedMember>;

// Per-group memory of the stateful strategies.
struct SharedPickState {
  static constexpr std::uint32_t kNone = 0xFFFF'FFFF;
  std::uint32_t next = 0;        // round_robin cursor
  std::uint32_t sticky = kNone;  // sticky member's index
  std::uint32_t next_local = 0;  // local cursor, over all members' indexes
};

// Whether the member with this session key, on the picking shard, can take
// a message now. A function pointer and a context, so a pick allocates
// nothing.
using MemberReady = bool (*)(void* context, std::uint64_t session_key);

// What the local strategy needs from the picking shard: which members are
// its own, and (ready null: all of them) which of those can take a message.
struct LocalPick {
  std::uint32_t shard = 0;
  MemberReady ready = nullptr;
  void* context = nullptr;
};

// A small, fast generator (SplitMix64 stepping); quality is ample for
// spreading load, and it is never used for anything secret.
class Prng {
 public:
  explicit Prng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    state_ += 0x9E3779B97F4A7C15ULL;
    return detail::hash_u64(state_);
  }
  // Uniform in [0, n), n > 0 (multiply-shift: no division).
  std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

 private:
  std::uint64_t state_;
};

inline constexpr std::size_t kNoMember = static_cast<std::size_t>(-1);

// Index of the member to receive a message, or kNoMember when `members`
// has nobody but `exclude_session` (0: exclude nobody). Exclusion serves a
// retry after the picked member's session vanished in flight. `local` is
// what the local strategy knows of the picking shard; without it, local
// picks like round_robin.
std::size_t pick_member(const SharedMembers& members, SharedStrategy strategy,
                        std::string_view publisher_client_id, std::string_view topic,
                        SharedPickState& state, Prng& rng, std::uint64_t exclude_session = 0,
                        const LocalPick* local = nullptr);

class SharedGroup {
 public:
  SharedGroup(std::string name, std::string filter) : name_(std::move(name)), filter_(std::move(filter)) {}

  std::string_view name() const noexcept { return name_; }
  std::string_view filter() const noexcept { return filter_; }  // without the $share/ prefix
  const SharedMembers& members() const noexcept { return members_; }
  const SharedPickState& state() const noexcept { return state_; }
  // Members on the shard owning this replica (see SharedGroups::set_local_shard).
  std::uint32_t local_members() const noexcept { return local_members_; }

 private:
  friend class SharedGroups;
  std::string name_;
  std::string filter_;
  SharedMembers members_;
  SharedPickState state_;
  std::uint32_t local_members_ = 0;
};

class SharedGroups {
 public:
  // `seed` drives the random and sticky strategies; give a fixed one in tests.
  SharedGroups();
  explicit SharedGroups(std::uint64_t seed) noexcept;

  // The shard this replica belongs to, before any member is added: the
  // local strategy looks for members there.
  void set_local_shard(std::uint32_t shard) noexcept { local_shard_ = shard; }

  // `share_filter` is "$share/{group}/{filter}" or "$queue/{filter}". Adds
  // the member, or replaces the options of the same session in that group
  // (a repeated SUBSCRIBE). True when the member is new.
  bool add_member(std::string_view share_filter, SharedMember member);
  // True when the session was a member. Empty groups are dropped.
  bool remove_member(std::string_view share_filter, std::uint64_t session_key);

  const SharedGroup* find(std::string_view share_filter) const noexcept;

  // f(SharedGroup&) for every group whose filter matches the topic name.
  // Allocation-free.
  template <class F>
  void match(std::string_view topic, F&& f) {
    map_.match(topic, [&f](std::string_view, Groups& groups) {
      for (SharedGroup& g : groups) f(g);
    });
  }
  template <class F>
  void match(std::string_view topic, F&& f) const {
    map_.match(topic, [&f](std::string_view, const Groups& groups) {
      for (const SharedGroup& g : groups) f(g);
    });
  }

  // The member of `group` to receive a message (see pick_member), or nullptr.
  // `ready(context, key)` (local strategy only; null: every member is ready)
  // says whether a member on this shard can take a message now.
  const SharedMember* pick(SharedGroup& group, SharedStrategy strategy,
                           std::string_view publisher_client_id, std::string_view topic,
                           std::uint64_t exclude_session = 0, MemberReady ready = nullptr,
                           void* context = nullptr);

  std::size_t groups() const noexcept { return groups_; }
  std::size_t members() const noexcept { return members_; }
  std::size_t filters() const noexcept { return map_.size(); }

 private:
  // Groups sharing one filter; rarely more than a few, so a vector.
  using Groups = std::vector<SharedGroup>;

  detail::FilterMap<Groups> map_;
  Prng rng_;
  std::uint32_t local_shard_ = 0;
  std::size_t groups_ = 0;
  std::size_t members_ = 0;
};

}  // namespace roadmq::broker
