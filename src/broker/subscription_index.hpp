// SubscriptionIndex<V>: the subscriptions of one shard's own sessions, topic
// filter -> {subscriber key -> V}, matched against every PUBLISH routed to
// the shard. V is what delivery needs per subscription (e.g.
// SubscriptionEntry: options and subscription id).
//
// Shape and cost: exact filters (the bulk: "vehicle/{vin}/down", one
// subscriber each) are one hash lookup per publish (two cache misses on a
// hit) and about 80 bytes each: one 64-byte allocation holding the filter
// and an inline first subscriber, plus a table slot. Wildcard filters live
// in a trie walked once per publish.
// A filter with many subscribers (a fleet-wide broadcast topic) keeps them
// in a contiguous array for fast fan-out, with a key index so that a
// session leaving is O(1) rather than a scan of 100k entries.
//
// Shared subscriptions are not stored here (see shared_groups.hpp); filters
// passed in must be valid and unshared.
//
// Thread safety: owned by one shard; every call on that shard's thread.
// The visitor of match() must not modify the index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "broker/filter_map.hpp"

namespace roadmq::broker {

// Identifies a subscriber within its shard (the session's key).
using SubscriberKey = std::uint64_t;

// The subscribers of one filter. Zero or one subscriber stays inline (no
// allocation: the vehicle case); more spill into a vector.
template <class V>
class SubscriberList {
 public:
  struct Item {
    SubscriberKey key;
    V value;
  };

  std::size_t size() const noexcept {
    if (std::holds_alternative<Item>(v_)) return 1;
    if (const auto* many = std::get_if<ManyPtr>(&v_)) return (*many)->items.size();
    return 0;
  }
  bool empty() const noexcept { return std::holds_alternative<std::monostate>(v_); }

  // Adds `key`, or replaces its value; true when it was not there.
  bool upsert(SubscriberKey key, V value) {
    if (empty()) {
      v_.template emplace<Item>(Item{key, std::move(value)});
      return true;
    }
    if (auto* one = std::get_if<Item>(&v_)) {
      if (one->key == key) {
        one->value = std::move(value);
        return false;
      }
      auto many = std::make_unique<Many>();
      many->items.reserve(2);
      many->items.push_back(std::move(*one));
      many->items.push_back(Item{key, std::move(value)});
      v_ = std::move(many);
      return true;
    }
    Many& many = *std::get<ManyPtr>(v_);
    if (Item* found = many.find(key)) {
      found->value = std::move(value);
      return false;
    }
    many.add(Item{key, std::move(value)});
    return true;
  }

  bool erase(SubscriberKey key) {
    if (auto* one = std::get_if<Item>(&v_)) {
      if (one->key != key) return false;
      v_ = std::monostate{};
      return true;
    }
    auto* many = std::get_if<ManyPtr>(&v_);
    if (many == nullptr || !(*many)->remove(key)) return false;
    if ((*many)->items.size() == 1) {
      Item last = std::move((*many)->items.front());
      v_.template emplace<Item>(std::move(last));  // back inline: frees the spill
    }
    return true;
  }

  const V* find(SubscriberKey key) const noexcept {
    if (const auto* one = std::get_if<Item>(&v_)) return one->key == key ? &one->value : nullptr;
    if (const auto* many = std::get_if<ManyPtr>(&v_)) {
      const Item* found = (*many)->find(key);
      return found != nullptr ? &found->value : nullptr;
    }
    return nullptr;
  }

  // f(SubscriberKey, const V&) for each subscriber, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    if (const auto* one = std::get_if<Item>(&v_)) {
      f(one->key, std::as_const(one->value));
    } else if (const auto* many = std::get_if<ManyPtr>(&v_)) {
      for (const Item& item : (*many)->items) f(item.key, item.value);
    }
  }

  std::size_t heap_bytes() const noexcept {
    if (const auto* many = std::get_if<ManyPtr>(&v_)) {
      return sizeof(Many) + (*many)->items.capacity() * sizeof(Item) +
             (*many)->slots.capacity() * sizeof(std::uint32_t);
    }
    return 0;
  }

 private:
  // Up to kIndexFrom items a linear scan beats hashing; past that an
  // open-addressing index of positions (item index + 1; 0 = empty), probed
  // by key, finds an item in O(1). Removal swaps the last item into the hole.
  struct Many {
    static constexpr std::size_t kIndexFrom = 16;

    std::vector<Item> items;
    std::vector<std::uint32_t> slots;  // empty while items.size() <= kIndexFrom

    Item* find(SubscriberKey key) noexcept {
      return const_cast<Item*>(std::as_const(*this).find(key));
    }
    const Item* find(SubscriberKey key) const noexcept {
      if (slots.empty()) {
        for (const Item& item : items) {
          if (item.key == key) return &item;
        }
        return nullptr;
      }
      const std::size_t at = slot_of(key);
      return slots[at] != 0 ? &items[slots[at] - 1] : nullptr;
    }

    // The slot holding `key`, or the empty slot where it would go.
    std::size_t slot_of(SubscriberKey key) const noexcept {
      const std::size_t mask = slots.size() - 1;
      for (std::size_t i = detail::hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0 || items[slots[i] - 1].key == key) return i;
      }
    }

    void add(Item item) {
      items.push_back(std::move(item));
      if (!slots.empty() && items.size() * 4 <= slots.size() * 3) {
        slots[slot_of(items.back().key)] = static_cast<std::uint32_t>(items.size());
      } else if (items.size() > kIndexFrom) {
        reindex();
      }
    }

    bool remove(SubscriberKey key) {
      if (slots.empty()) {
        for (std::size_t i = 0; i < items.size(); ++i) {
          if (items[i].key != key) continue;
          if (i + 1 != items.size()) items[i] = std::move(items.back());
          items.pop_back();
          return true;
        }
        return false;
      }
      const std::size_t at = slot_of(key);
      if (slots[at] == 0) return false;
      const std::size_t pos = slots[at] - 1;
      unlink(at);
      if (pos + 1 != items.size()) {
        // The last item moves into the hole; repoint its slot.
        slots[slot_of(items.back().key)] = static_cast<std::uint32_t>(pos + 1);
        items[pos] = std::move(items.back());
      }
      items.pop_back();
      if (items.size() <= kIndexFrom / 2) {
        slots = {};  // small again: scanning is cheaper than the index
      } else if (items.size() * 8 < slots.size()) {
        reindex();
      }
      if (items.capacity() > 2 * items.size() + 8) items.shrink_to_fit();
      return true;
    }

    // Backward-shift removal of slot `hole` (linear probing, no tombstones).
    void unlink(std::size_t hole) noexcept {
      const std::size_t mask = slots.size() - 1;
      for (std::size_t j = (hole + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
        const std::size_t home = detail::hash_u64(items[slots[j] - 1].key) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
          slots[hole] = slots[j];
          hole = j;
        }
      }
      slots[hole] = 0;
    }

    void reindex() {
      std::size_t cap = 32;
      while (items.size() * 2 > cap) cap *= 2;  // half full after a rebuild
      slots.assign(cap, 0);
      for (std::size_t i = 0; i < items.size(); ++i) {
        slots[slot_of(items[i].key)] = static_cast<std::uint32_t>(i + 1);
      }
    }
  };
  using ManyPtr = std::unique_ptr<Many>;

  std::variant<std::monostate, Item, ManyPtr> v_;
};

template <class V>
class SubscriptionIndex {
 public:
  SubscriptionIndex() = default;
  SubscriptionIndex(const SubscriptionIndex&) = delete;
  SubscriptionIndex& operator=(const SubscriptionIndex&) = delete;
  SubscriptionIndex(SubscriptionIndex&&) noexcept = default;
  SubscriptionIndex& operator=(SubscriptionIndex&&) noexcept = default;

  // Subscribes `key` to `filter` (valid, unshared), replacing the value of
  // an existing subscription. True when the subscription is new
  // ([MQTT-3.8.4-3]: a repeated SUBSCRIBE replaces, it does not duplicate).
  bool add(std::string_view filter, SubscriberKey key, V value) {
    auto [list, created] = map_.try_emplace(filter);
    try {
      const bool is_new = list->upsert(key, std::move(value));
      if (is_new) ++subscriptions_;
      return is_new;
    } catch (...) {
      if (created) map_.erase(filter);
      throw;
    }
  }

  // True when the subscription existed. The filter goes when its last
  // subscriber does, and with it any trie nodes no other filter uses.
  bool remove(std::string_view filter, SubscriberKey key) {
    List* list = map_.find(filter);
    if (list == nullptr || !list->erase(key)) return false;
    --subscriptions_;
    if (list->empty()) map_.erase(filter);
    return true;
  }

  const V* find(std::string_view filter, SubscriberKey key) const noexcept {
    const List* list = map_.find(filter);
    return list != nullptr ? list->find(key) : nullptr;
  }

  // Subscribers of exactly this filter: 1 after an add() means the shard has
  // just gained the filter (announce the route); 0 after remove() means it
  // lost it (withdraw the route).
  std::size_t subscribers(std::string_view filter) const noexcept {
    const List* list = map_.find(filter);
    return list != nullptr ? list->size() : 0;
  }

  // visit(std::string_view filter, SubscriberKey key, const V& value) for
  // every subscription matching the topic name. A session with overlapping
  // filters is visited once per filter; merging them into one delivery
  // [MQTT-3.3.4-2] is the caller's job. Allocation-free.
  template <class F>
  void match(std::string_view topic, F&& visit) const {
    map_.match(topic, [&visit](std::string_view filter, const List& list) {
      list.for_each([&](SubscriberKey key, const V& value) { visit(filter, key, value); });
    });
  }

  // visit(filter, key, value) for every subscription; for snapshots/admin.
  template <class F>
  void for_each(F&& visit) const {
    map_.for_each([&visit](std::string_view filter, const List& list) {
      list.for_each([&](SubscriberKey key, const V& value) { visit(filter, key, value); });
    });
  }

  std::size_t size() const noexcept { return subscriptions_; }  // subscriptions
  std::size_t filters() const noexcept { return map_.size(); }
  std::size_t exact_filters() const noexcept { return map_.exact_size(); }
  std::size_t wildcard_filters() const noexcept { return map_.wildcard_size(); }
  std::size_t trie_nodes() const noexcept { return map_.trie_nodes(); }
  // Structure bytes, excluding spilled subscriber arrays of crowded filters
  // and anything V points to.
  std::size_t memory_bytes() const noexcept { return map_.memory_bytes(); }

  void reserve_exact(std::size_t filters) { map_.reserve_exact(filters); }

 private:
  using List = SubscriberList<V>;
  detail::FilterMap<List> map_;
  std::size_t subscriptions_ = 0;
};

}  // namespace roadmq::broker
