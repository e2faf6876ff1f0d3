// RetainedStore: the last retained message per topic name [MQTT-3.3.1-5],
// held in a trie of topic levels so that a SUBSCRIBE to "vehicle/+/status"
// visits only the children it names and "fleet/7/#" only that subtree, never
// the whole store.
//
// Retained messages are node-wide; each shard keeps a replica and applies
// every put(), so a put is cheap to repeat: it stores the shared MessagePtr
// (no payload copy), walks a few levels and touches no other shard.
//
// Limits: `max_messages` (0 = unlimited) refuses a message for a new topic
// when the store is full, while replacing or deleting an existing topic's
// message is always allowed (a vehicle's status keeps updating under the
// cap). `max_payload_size` (0 = unlimited) refuses larger payloads and also
// deletes the topic's previous message: the publisher meant to replace it,
// and a new subscriber should not be handed a state known to be stale.
// Refusals are counted.
//
// Expiry: a message whose Message Expiry Interval ran out is never handed
// out [MQTT-3.3.2-5]. match() and get() skip it and it is removed there or
// by expire(now), which the owner calls from its timer (an expiry heap makes
// that O(expired · log n)).
//
// Thread safety: owned by one shard; every call on that shard's thread.
// MessagePtr values are immutable and may be shared with other shards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "broker/filter_map.hpp"
#include "broker/message.hpp"

namespace roadmq::broker {

struct RetainedLimits {
  std::size_t max_messages = 0;      // 0: unlimited
  std::size_t max_payload_size = 0;  // bytes; 0: unlimited
};

enum class RetainResult : std::uint8_t {
  stored,             // a message for a topic that had none
  replaced,           // the topic's previous message was replaced
  deleted,            // empty payload removed the topic's message [MQTT-3.3.1-6]
  nothing_to_delete,  // empty payload for a topic without one [MQTT-3.3.1-7]
  refused_full,       // new topic while max_messages are stored
  refused_too_large,  // payload over max_payload_size (old message removed)
};

constexpr bool is_refused(RetainResult r) noexcept {
  return r == RetainResult::refused_full || r == RetainResult::refused_too_large;
}

struct RetainedCounters {
  std::uint64_t stored = 0;
  std::uint64_t replaced = 0;
  std::uint64_t deleted = 0;
  std::uint64_t expired = 0;
  std::uint64_t refused_full = 0;
  std::uint64_t refused_too_large = 0;
};

class RetainedStore {
 public:
  explicit RetainedStore(RetainedLimits limits = {}) noexcept : limits_(limits) {}
  RetainedStore(const RetainedStore&) = delete;
  RetainedStore& operator=(const RetainedStore&) = delete;
  ~RetainedStore();

  // New limits apply to later puts; nothing stored is evicted (hot reload).
  void set_limits(RetainedLimits limits) noexcept { limits_ = limits; }
  const RetainedLimits& limits() const noexcept { return limits_; }

  // Stores `message` as the retained message of message->topic (a valid
  // topic name), or deletes it when the payload is empty.
  RetainResult put(const MessagePtr& message);

  // Removes the topic's message; true if there was one.
  bool erase(std::string_view topic);

  // The live retained message of exactly this topic, or null. An expired
  // one is removed on the way.
  MessagePtr get(std::string_view topic, TimePoint now);

  // f(const MessagePtr&) for every live retained message whose topic matches
  // `filter` (valid, unshared); expired ones are skipped, then removed.
  // Returns how many were visited. f must not modify the store.
  template <class F>
  std::size_t match(std::string_view filter, TimePoint now, F&& f) {
    using Fn = std::remove_reference_t<F>;
    void* ctx = const_cast<void*>(static_cast<const void*>(&f));
    return match_impl(filter, now, ctx, [](void* c, const MessagePtr& m) { (*static_cast<Fn*>(c))(m); });
  }

  // Removes every message expired at `now`; returns how many.
  std::size_t expire(TimePoint now);
  // When the next message expires, to arm the owner's timer.
  std::optional<TimePoint> next_expiry() const noexcept;

  std::size_t size() const noexcept { return size_; }  // messages
  std::size_t nodes() const noexcept { return nodes_; }  // trie nodes below the root
  const RetainedCounters& counters() const noexcept { return counters_; }
  void clear() noexcept;

 private:
  struct Node {
    explicit Node(Node* p) noexcept : parent(p) {}
    Node* parent;
    detail::NodeTable<Node> children;
    MessagePtr message;
    std::uint32_t heap_index = kNotInHeap;  // position in expiry_ when the message expires
    std::uint16_t key_size = 0;
  };
  struct Expiry {
    TimePoint at;
    Node* node;
  };
  static constexpr std::uint32_t kNotInHeap = 0xFFFF'FFFF;
  using Visit = void (*)(void*, const MessagePtr&);

  std::size_t match_impl(std::string_view filter, TimePoint now, void* ctx, Visit visit);
  Node* find(std::string_view topic) const noexcept;
  Node* find_or_create(std::string_view topic);
  void drop_message(Node* node) noexcept;
  void prune(Node* node) noexcept;

  void heap_push(Node* node, TimePoint at);
  void heap_remove(Node* node) noexcept;
  void heap_sift_up(std::size_t i) noexcept;
  void heap_sift_down(std::size_t i) noexcept;
  void heap_set(std::size_t i, Expiry e) noexcept;

  RetainedLimits limits_;
  Node root_{nullptr};
  std::vector<Expiry> expiry_;  // min-heap on `at`
  std::size_t size_ = 0;
  std::size_t nodes_ = 0;
  RetainedCounters counters_;
};

}  // namespace roadmq::broker
