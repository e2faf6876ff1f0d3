#include "broker/shared_groups.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include "base/assert.hpp"
#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

constexpr std::array<std::pair<SharedStrategy, std::string_view>, 6> kStrategyNames{{
    {SharedStrategy::random, "random"},
    {SharedStrategy::round_robin, "round_robin"},
    {SharedStrategy::sticky, "sticky"},
    {SharedStrategy::hash_clientid, "hash_clientid"},
    {SharedStrategy::hash_topic, "hash_topic"},
    {SharedStrategy::local, "local"},
}};

}  // namespace

std::string_view to_string(SharedStrategy s) noexcept {
  for (const auto& [strategy, name] : kStrategyNames) {
    if (strategy == s) return name;
  }
  return "unknown";
}

std::optional<SharedStrategy> parse_shared_strategy(std::string_view name) noexcept {
  for (const auto& [strategy, text] : kStrategyNames) {
    if (text == name) return strategy;
  }
  return std::nullopt;
}

std::size_t pick_member(const SharedMembers& members, SharedStrategy strategy,
                        std::string_view publisher_client_id, std::string_view topic,
                        SharedPickState& state, Prng& rng, std::uint64_t exclude_session,
                        const LocalPick* local) {
  std::size_t excluded = kNoMember;
  if (exclude_session != 0) {
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (members[i].session_key == exclude_session) {
        excluded = i;
        break;
      }
    }
  }
  const std::size_t eligible = members.size() - (excluded != kNoMember ? 1 : 0);
  if (eligible == 0) return kNoMember;
  // Strategies choose among the eligible members; this maps that choice
  // back to an index, stepping over the excluded one.
  const auto nth_eligible = [excluded](std::size_t r) {
    return excluded != kNoMember && r >= excluded ? r + 1 : r;
  };
  const auto n = static_cast<std::uint32_t>(eligible);

  switch (strategy) {
    case SharedStrategy::random:
      return nth_eligible(rng.below(n));
    case SharedStrategy::local:
      if (local != nullptr) {
        // From the cursor, the first member on this shard that is ready.
        // Members elsewhere are stepped over, so the scan is bounded by
        // the group's size, and ends at once in the common case.
        const auto total = static_cast<std::uint32_t>(members.size());
        const auto step = [total](std::uint32_t i) { return i + 1 == total ? 0 : i + 1; };
        std::uint32_t i = state.next_local < total ? state.next_local : 0;
        for (std::uint32_t k = 0; k < total; ++k, i = step(i)) {
          const SharedMember& m = members[i];
          if (i == excluded || m.shard != local->shard) continue;
          if (local->ready != nullptr && !local->ready(local->context, m.session_key)) continue;
          state.next_local = i + 1;
          return i;
        }
      }
      // Nobody here keeps up: every member in turn, as round_robin. Not only
      // the members elsewhere: when all are behind (a saturated QoS 1 group)
      // sending everything across would leave the local ones idle while the
      // others overflow.
      [[fallthrough]];
    case SharedStrategy::round_robin: {
      const std::uint32_t r = state.next % n;
      state.next = r + 1;  // kept below n so it never wraps unevenly
      return nth_eligible(r);
    }
    case SharedStrategy::sticky: {
      if (state.sticky < members.size() && state.sticky != excluded) return state.sticky;
      const std::size_t chosen = nth_eligible(rng.below(n));
      state.sticky = static_cast<std::uint32_t>(chosen);
      return chosen;
    }
    case SharedStrategy::hash_clientid:
      return nth_eligible(detail::hash_string(publisher_client_id) % n);
    case SharedStrategy::hash_topic:
      return nth_eligible(detail::hash_string(topic) % n);
  }
  return nth_eligible(0);
}

SharedGroups::SharedGroups()
    : SharedGroups(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   reinterpret_cast<std::uintptr_t>(this)) {}

SharedGroups::SharedGroups(std::uint64_t seed) noexcept : rng_(seed) {}

bool SharedGroups::add_member(std::string_view share_filter, SharedMember member) {
  const auto shared = mqtt::parse_shared(share_filter);
  ROADMQ_ASSERT(shared && !shared->filter.empty());
  if (!shared || shared->filter.empty()) return false;
  auto [groups, created] = map_.try_emplace(shared->filter);
  auto group = std::find_if(groups->begin(), groups->end(),
                            [&](const SharedGroup& g) { return g.name() == shared->group; });
  if (group == groups->end()) {
    try {
      groups->emplace_back(std::string(shared->group), std::string(shared->filter));
    } catch (...) {
      if (created) map_.erase(shared->filter);
      throw;
    }
    ++groups_;
    group = groups->end() - 1;
  }
  for (SharedMember& m : group->members_) {
    if (m.session_key == member.session_key) {
      group->local_members_ -= m.shard == local_shard_ ? 1 : 0;
      group->local_members_ += member.shard == local_shard_ ? 1 : 0;
      m = std::move(member);
      return false;
    }
  }
  const bool is_local = member.shard == local_shard_;
  group->members_.push_back(std::move(member));
  group->local_members_ += is_local ? 1 : 0;
  ++members_;
  return true;
}

bool SharedGroups::remove_member(std::string_view share_filter, std::uint64_t session_key) {
  const auto shared = mqtt::parse_shared(share_filter);
  if (!shared || shared->filter.empty()) return false;
  Groups* groups = map_.find(shared->filter);
  if (groups == nullptr) return false;
  auto group = std::find_if(groups->begin(), groups->end(),
                            [&](const SharedGroup& g) { return g.name() == shared->group; });
  if (group == groups->end()) return false;
  SharedMembers& members = group->members_;
  auto it = std::find_if(members.begin(), members.end(),
                         [&](const SharedMember& m) { return m.session_key == session_key; });
  if (it == members.end()) return false;
  const auto index = static_cast<std::uint32_t>(it - members.begin());
  group->local_members_ -= it->shard == local_shard_ ? 1 : 0;
  // Order is kept (erase, not swap) so round-robin keeps its rotation and
  // the sticky member keeps its identity across other members leaving.
  members.erase(it);
  --members_;
  SharedPickState& state = group->state_;
  if (state.sticky != SharedPickState::kNone) {
    if (state.sticky == index) {
      state.sticky = SharedPickState::kNone;
    } else if (state.sticky > index) {
      --state.sticky;
    }
  }
  if (state.next > index) --state.next;
  if (state.next_local > index) --state.next_local;
  if (members.empty()) {
    groups->erase(group);
    --groups_;
    if (groups->empty()) map_.erase(shared->filter);
  }
  return true;
}

const SharedGroup* SharedGroups::find(std::string_view share_filter) const noexcept {
  const auto shared = mqtt::parse_shared(share_filter);
  if (!shared || shared->filter.empty()) return nullptr;
  const Groups* groups = map_.find(shared->filter);
  if (groups == nullptr) return nullptr;
  for (const SharedGroup& g : *groups) {
    if (g.name() == shared->group) return &g;
  }
  return nullptr;
}

const SharedMember* SharedGroups::pick(SharedGroup& group, SharedStrategy strategy,
                                       std::string_view publisher_client_id, std::string_view topic,
                                       std::uint64_t exclude_session, MemberReady ready,
                                       void* context) {
  // Without members here the local strategy has nothing to scan for.
  const LocalPick here{local_shard_, ready, context};
  const bool scan = strategy == SharedStrategy::local && group.local_members_ != 0;
  const std::size_t i = pick_member(group.members_, strategy, publisher_client_id, topic,
                                    group.state_, rng_, exclude_session, scan ? &here : nullptr);
  return i == kNoMember ? nullptr : &group.members_[i];
}

}  // namespace roadmq::broker
