// The machinery under the broker's topic tables (subscription index, route
// table, shared groups, retained store):
//
//   hash_string     a fast, well-mixed 64-bit string hash
//   new_keyed       nodes that carry their key bytes in the same allocation
//   NodeTable       open-addressing set of such nodes, keyed by their string
//   FilterMap<T>    topic filter -> T; exact filters in one NodeTable, wildcard
//                   filters in a trie of levels; match(topic) walks both
//
// Why not std::unordered_map<std::string, ...>: a vehicle fleet means
// millions of exact filters like "vehicle/{vin}/down". A node-based map pays
// a map node, a std::string heap buffer and a bucket per filter (~170 bytes
// with a one-subscriber vector); here it is one allocation holding key and
// value, plus an 8-byte table slot. Lookups compare a 7-bit hash tag kept in
// the slot before touching a node, so a miss (the common case for telemetry
// topics nobody subscribes to exactly) rarely leaves the slot array.
//
// Thread safety: none. Every instance is owned by one shard and used only on
// its thread; nothing here is shared between instances.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/assert.hpp"
#include "mqtt/topic.hpp"

namespace roadmq::broker::detail {

// ── hashing ──────────────────────────────────────────────────────────────────

// Each step is a bijection of the running state for a given chunk
// (xor, odd multiply, xor-shift), so no input can collapse the state to a
// fixed point; the finaliser spreads every input bit into both the low bits
// (slot index) and the top bits (tag).
inline std::uint64_t hash_string(std::string_view s) noexcept {
  constexpr std::uint64_t kSeed = 0x2545F4914F6CDD1DULL;
  constexpr std::uint64_t kStep = 0x9FB21C651E98DF25ULL;
  constexpr std::uint64_t kFinal = 0xC2B2AE3D27D4EB4FULL;
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = kSeed ^ (static_cast<std::uint64_t>(n) * kFinal);
  while (n >= 8) {
    std::uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    h = (h ^ chunk) * kStep;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, p, n);
    h = (h ^ chunk) * kStep;
    h ^= h >> 32;
  }
  h ^= h >> 29;
  h *= kFinal;
  h ^= h >> 32;
  return h;
}

inline std::uint64_t hash_u64(std::uint64_t x) noexcept {
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 32;
  return x;
}

// ── nodes with inline keys ──────────────────────────────────────────────────

// A keyed node type declares `std::uint16_t key_size` and nothing after its
// last member is used: the key bytes live right behind the object, so a node
// costs one allocation. Keys fit 16 bits because MQTT strings do
// (mqtt::kMaxStringLength).
template <class Node>
std::string_view key_of(const Node* node) noexcept {
  return {reinterpret_cast<const char*>(node + 1), node->key_size};
}

template <class Node, class... Args>
Node* new_keyed(std::string_view key, Args&&... args) {
  static_assert(alignof(Node) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  ROADMQ_ASSERT(key.size() <= std::numeric_limits<std::uint16_t>::max());
  void* memory = ::operator new(sizeof(Node) + key.size());
  Node* node = ::new (memory) Node(std::forward<Args>(args)...);
  node->key_size = static_cast<std::uint16_t>(key.size());
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(node + 1), key.data(), key.size());
  return node;
}

template <class Node>
void delete_keyed(Node* node) noexcept {
  node->~Node();
  ::operator delete(static_cast<void*>(node));
}

// Bytes a keyed node costs on the heap, for memory estimates.
template <class Node>
std::size_t keyed_bytes(const Node* node) noexcept {
  return sizeof(Node) + node->key_size;
}

// ── NodeTable ────────────────────────────────────────────────────────────────

// A set of keyed nodes (not owned), found by key. Linear probing over a
// power-of-two array of 8-byte slots, each a node pointer carrying the top 7
// bits of its key's hash in the pointer's unused top bits (0 = empty). So a
// probe reads one cache line of slots and dereferences a node only on a tag
// match: an exact-topic hit costs two cache misses (slot, node), a miss
// usually one. Deletion shifts the following cluster back instead of leaving
// tombstones, so lookups never slow down with churn (vehicles reconnecting
// all day). A table of at most one node keeps it inline without allocating,
// because most trie nodes have one child.
template <class Node>
class NodeTable {
  static_assert(sizeof(std::uintptr_t) == 8, "slot tags need 64-bit pointers");

 public:
  NodeTable() noexcept = default;
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;
  NodeTable(NodeTable&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  NodeTable& operator=(NodeTable&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~NodeTable() { release(); }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  Node* find(std::string_view key) const noexcept {
    if (capacity_ == 0) {
      Node* only = single();
      return only != nullptr && key_of(only) == key ? only : nullptr;
    }
    return find_hashed(key, hash_string(key));
  }

  // For a caller that already has the hash (e.g. one level looked up in many
  // sibling tables).
  Node* find_hashed(std::string_view key, std::uint64_t hash) const noexcept {
    if (capacity_ == 0) return find(key);
    const std::uintptr_t tag = tag_of(hash);
    const std::uintptr_t* slots = slots_ptr();
    const std::size_t mask = capacity_ - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const std::uintptr_t s = slots[i];
      if (s == 0) return nullptr;
      if ((s & kTagMask) == tag && key_of(node_of(s)) == key) return node_of(s);
    }
  }

  // `node`'s key must not be present.
  void insert(Node* node) {
    ROADMQ_ASSERT(node != nullptr && find(key_of(node)) == nullptr);
    // User-space addresses leave bits 57..63 clear on x86-64 (even with
    // 5-level paging) and AArch64; the tag lives there.
    ROADMQ_ASSERT((reinterpret_cast<std::uintptr_t>(node) & kTagMask) == 0);
    if (capacity_ == 0 && size_ == 0) {
      data_ = node;
      size_ = 1;
      return;
    }
    if (capacity_ == 0 || (size_ + 1) * 4 > capacity_ * 3) {
      rehash(capacity_ == 0 ? kMinCapacity : capacity_ * 2);
    }
    place(node, hash_string(key_of(node)));
    ++size_;
  }

  // Removes and returns the node with `key`, or nullptr.
  Node* erase(std::string_view key) noexcept {
    if (capacity_ == 0) {
      Node* only = single();
      if (only == nullptr || key_of(only) != key) return nullptr;
      data_ = nullptr;
      size_ = 0;
      return only;
    }
    const std::uint64_t hash = hash_string(key);
    const std::uintptr_t tag = tag_of(hash);
    std::uintptr_t* slots = slots_ptr();
    const std::size_t mask = capacity_ - 1;
    std::size_t i = hash & mask;
    for (;; i = (i + 1) & mask) {
      if (slots[i] == 0) return nullptr;
      if ((slots[i] & kTagMask) == tag && key_of(node_of(slots[i])) == key) break;
    }
    Node* removed = node_of(slots[i]);
    // Backward-shift: move each later member of the cluster into the hole
    // when its home slot lies at or before the hole (cyclically).
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; slots[j] != 0; j = (j + 1) & mask) {
      const std::size_t home = hash_string(key_of(node_of(slots[j]))) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = slots[j];
        hole = j;
      }
    }
    slots[hole] = 0;
    --size_;
    maybe_shrink();
    return removed;
  }

  // Pre-sizes for `n` nodes so a bulk load does not rehash repeatedly.
  void reserve(std::size_t n) {
    if (n <= 1 || n * 4 <= capacity_ * 3) return;
    rehash(capacity_for(n));
  }

  // Allocation-free iteration, stable while the table is not modified:
  // slot(i) for i in [0, slot_count()) is a node or nullptr.
  std::size_t slot_count() const noexcept { return capacity_ == 0 ? 1 : capacity_; }
  Node* slot(std::size_t i) const noexcept {
    if (capacity_ == 0) return single();
    return node_of(slots_ptr()[i]);
  }

  template <class F>
  void for_each(F&& f) const {
    const std::size_t n = slot_count();
    for (std::size_t i = 0; i < n; ++i) {
      if (Node* node = slot(i)) f(node);
    }
  }

  std::size_t heap_bytes() const noexcept { return capacity_ * sizeof(std::uintptr_t); }

 private:
  static constexpr std::size_t kMinCapacity = 4;
  static constexpr unsigned kTagShift = 57;
  static constexpr std::uintptr_t kTagMask = ~std::uintptr_t{0} << kTagShift;

  static std::uintptr_t tag_of(std::uint64_t hash) noexcept {
    return static_cast<std::uintptr_t>(hash) & kTagMask;
  }
  static Node* node_of(std::uintptr_t slot) noexcept {
    return reinterpret_cast<Node*>(slot & ~kTagMask);
  }
  static std::size_t capacity_for(std::size_t n) noexcept {
    std::size_t cap = kMinCapacity;
    while (n * 4 > cap * 3) cap *= 2;
    return cap;
  }

  Node* single() const noexcept { return static_cast<Node*>(data_); }
  std::uintptr_t* slots_ptr() const noexcept { return static_cast<std::uintptr_t*>(data_); }

  void place(Node* node, std::uint64_t hash) noexcept {
    std::uintptr_t* slots = slots_ptr();
    const std::size_t mask = capacity_ - 1;
    std::size_t i = hash & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = reinterpret_cast<std::uintptr_t>(node) | tag_of(hash);
  }

  // new_capacity == 0 returns to the inline form (size_ <= 1).
  void rehash(std::size_t new_capacity) {
    ROADMQ_ASSERT(new_capacity == 0 || size_ * 4 <= new_capacity * 3);
    ROADMQ_ASSERT(new_capacity != 0 || size_ <= 1);
    std::uintptr_t* old_slots = capacity_ != 0 ? slots_ptr() : nullptr;
    Node* old_single = capacity_ == 0 ? single() : nullptr;
    const std::size_t old_capacity = capacity_;
    if (new_capacity == 0) {
      Node* only = nullptr;
      for (std::size_t i = 0; i < old_capacity && only == nullptr; ++i) only = node_of(old_slots[i]);
      data_ = only;
      capacity_ = 0;
    } else {
      void* fresh = ::operator new(new_capacity * sizeof(std::uintptr_t));
      std::memset(fresh, 0, new_capacity * sizeof(std::uintptr_t));
      data_ = fresh;
      capacity_ = static_cast<std::uint32_t>(new_capacity);
      if (old_single != nullptr) place(old_single, hash_string(key_of(old_single)));
      for (std::size_t i = 0; i < old_capacity; ++i) {
        if (Node* node = node_of(old_slots[i])) place(node, hash_string(key_of(node)));
      }
    }
    if (old_slots != nullptr) ::operator delete(old_slots);
  }

  // Hand memory back after mass unsubscribes (a fleet going offline), with
  // hysteresis: shrink below 1/8 load to a table at most half full.
  void maybe_shrink() noexcept {
    if (size_ <= 1) {
      rehash(0);  // never allocates
      return;
    }
    if (capacity_ > kMinCapacity && size_ * 8 < capacity_) {
      std::size_t cap = kMinCapacity;
      while (size_ * 2 > cap) cap *= 2;
      // A failed allocation just keeps the larger table.
      try {
        rehash(cap);
      } catch (const std::bad_alloc&) {
      }
    }
  }

  void release() noexcept {
    if (capacity_ != 0) ::operator delete(data_);
    data_ = nullptr;
    capacity_ = 0;
    size_ = 0;
  }

  void* data_ = nullptr;  // capacity_ == 0: the one node or null; else the slots
  std::uint32_t capacity_ = 0;
  std::uint32_t size_ = 0;
};

// ── SmallStack ───────────────────────────────────────────────────────────────

// Pending branches of a trie walk. Depth is bounded by the topic's levels,
// which a client controls (a 64 KiB "+/+/+/..." has 32k), so recursion could
// overflow a shard's stack; an explicit stack that spills to the heap only
// past N entries keeps ordinary matches allocation-free and hostile ones safe.
template <class T, std::size_t N>
class SmallStack {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  bool empty() const noexcept { return size_ == 0; }
  void push(const T& v) {
    if (size_ < N) {
      inline_[size_] = v;
    } else {
      spill_.push_back(v);
    }
    ++size_;
  }
  T pop() noexcept {
    ROADMQ_ASSERT(size_ > 0);
    --size_;
    if (size_ < N) return inline_[size_];
    T v = spill_.back();
    spill_.pop_back();
    return v;
  }
  T& top() noexcept {
    ROADMQ_ASSERT(size_ > 0);
    return size_ <= N ? inline_[size_ - 1] : spill_.back();
  }

 private:
  T inline_[N];
  std::size_t size_ = 0;
  std::vector<T> spill_;
};

// Walks the levels of a topic name or filter without splitting it:
// "a//b" -> "a", "", "b"; "/" -> "", "".
class LevelCursor {
 public:
  explicit LevelCursor(std::string_view s, std::size_t pos = 0) noexcept : s_(s), pos_(pos) {}
  bool done() const noexcept { return pos_ > s_.size(); }
  std::size_t position() const noexcept { return pos_; }
  std::string_view next() noexcept {
    ROADMQ_ASSERT(!done());
    std::size_t end = s_.find('/', pos_);
    if (end == std::string_view::npos) end = s_.size();
    const std::string_view level = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return level;
  }

 private:
  std::string_view s_;
  std::size_t pos_;
};

// ── FilterMap ────────────────────────────────────────────────────────────────

// Topic filter -> T, matched against topic names. Filters must be valid
// (mqtt::validate_topic_filter) and not shared ($share/ and $queue/ are
// stripped by the caller). Exact filters are one hash lookup per match;
// wildcard filters sit in a trie of levels with a '+' child and a '#' slot
// per node, walked once per topic. T is value-initialised on insert.
template <class T>
class FilterMap {
 public:
  FilterMap() = default;
  FilterMap(const FilterMap&) = delete;
  FilterMap& operator=(const FilterMap&) = delete;
  FilterMap(FilterMap&& other) noexcept { steal(other); }
  FilterMap& operator=(FilterMap&& other) noexcept {
    if (this != &other) {
      clear();
      steal(other);
    }
    return *this;
  }
  ~FilterMap() { clear(); }

  std::size_t size() const noexcept { return exact_.size() + wildcard_count_; }
  std::size_t exact_size() const noexcept { return exact_.size(); }
  std::size_t wildcard_size() const noexcept { return wildcard_count_; }
  // Trie nodes below the root; zero when no wildcard filter is stored.
  std::size_t trie_nodes() const noexcept { return trie_nodes_; }
  bool empty() const noexcept { return size() == 0; }

  void reserve_exact(std::size_t n) { exact_.reserve(n); }

  T* find(std::string_view filter) noexcept {
    return const_cast<T*>(std::as_const(*this).find(filter));
  }
  const T* find(std::string_view filter) const noexcept {
    ROADMQ_ASSERT(!filter.empty());
    if (!mqtt::has_wildcard(filter)) {
      const Entry* e = exact_.find(filter);
      return e != nullptr ? &value_of(e) : nullptr;
    }
    TrieNode* node = nullptr;
    Entry* const* slot = locate(filter, node);
    return slot != nullptr && *slot != nullptr ? &value_of(*slot) : nullptr;
  }

  // The value for `filter`, created if absent; .second tells which.
  std::pair<T*, bool> try_emplace(std::string_view filter) {
    ROADMQ_ASSERT(!filter.empty());
    if (!mqtt::has_wildcard(filter)) {
      if (Entry* e = exact_.find(filter)) return {&value_of(e), false};
      Entry* e = make_entry(filter);
      try {
        exact_.insert(e);
      } catch (...) {
        free_entry(e);
        throw;
      }
      entry_bytes_ += entry_heap_bytes(e);
      return {&value_of(e), true};
    }
    Entry*& slot = build(filter);
    if (slot != nullptr) return {&value_of(slot), false};
    slot = make_entry(filter);
    entry_bytes_ += entry_heap_bytes(slot);
    ++wildcard_count_;
    return {&value_of(slot), true};
  }

  bool erase(std::string_view filter) noexcept {
    ROADMQ_ASSERT(!filter.empty());
    if (!mqtt::has_wildcard(filter)) {
      Entry* e = exact_.erase(filter);
      if (e == nullptr) return false;
      entry_bytes_ -= entry_heap_bytes(e);
      free_entry(e);
      return true;
    }
    TrieNode* node = nullptr;
    Entry** slot = const_cast<Entry**>(locate(filter, node));
    if (slot == nullptr || *slot == nullptr) return false;
    entry_bytes_ -= entry_heap_bytes(*slot);
    free_entry(*slot);
    *slot = nullptr;
    --wildcard_count_;
    prune(node);
    return true;
  }

  // Calls f(std::string_view filter, [const] T& value) once for every stored
  // filter matching `topic`, a valid topic name. Allocation-free unless the
  // walk has more than 32 pending '+' branches. f must not modify the map.
  template <class F>
  void match(std::string_view topic, F&& f) const {
    match_in(*this, topic, f);
  }
  template <class F>
  void match(std::string_view topic, F&& f) {
    match_in(*this, topic, f);
  }

  // f(std::string_view filter, [const] T& value) for every stored filter, in
  // no particular order; for snapshots and admin. f may change values but
  // not add or erase filters.
  template <class F>
  void for_each(F&& f) const {
    for_each_in(*this, f);
  }
  template <class F>
  void for_each(F&& f) {
    for_each_in(*this, f);
  }

  // Heap bytes held by the structure itself, not by what T points to
  // (allocator overhead excluded); for metrics and capacity planning.
  std::size_t memory_bytes() const noexcept {
    return exact_.heap_bytes() + entry_bytes_ + trie_bytes_;
  }

  void clear() noexcept {
    exact_.for_each([](Entry* e) { free_entry(e); });
    exact_ = NodeTable<Entry>{};
    // Teardown must not allocate (it runs in destructors), and recursion
    // could overflow on deep tries: thread a worklist through the parent
    // pointers, which are no longer needed.
    TrieNode* worklist = nullptr;
    auto release_contents = [&worklist](TrieNode& n) noexcept {
      if (n.here != nullptr) free_entry(n.here);
      if (n.rest != nullptr) free_entry(n.rest);
      if (n.plus != nullptr) {
        n.plus->parent = worklist;
        worklist = n.plus;
      }
      n.children.for_each([&worklist](TrieNode* c) {
        c->parent = worklist;
        worklist = c;
      });
      n.children = NodeTable<TrieNode>{};
      n.here = nullptr;
      n.rest = nullptr;
      n.plus = nullptr;
    };
    release_contents(root_);
    while (worklist != nullptr) {
      TrieNode* n = worklist;
      worklist = n->parent;
      release_contents(*n);
      delete_keyed(n);
    }
    wildcard_count_ = 0;
    trie_nodes_ = 0;
    entry_bytes_ = 0;
    trie_bytes_ = 0;
  }

 private:
  // One allocation per filter: [key size][key bytes][padding][T]. The value
  // goes after the key so the key does not pay T's alignment padding; for a
  // 30-byte vehicle filter that is a 64-byte malloc chunk instead of 80.
  struct Entry {
    std::uint16_t key_size = 0;
  };
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);

  static constexpr std::size_t value_offset(std::size_t key_size) noexcept {
    return (sizeof(Entry) + key_size + alignof(T) - 1) / alignof(T) * alignof(T);
  }
  static std::size_t entry_heap_bytes(const Entry* e) noexcept {
    return value_offset(e->key_size) + sizeof(T);
  }
  static T& value_of(Entry* e) noexcept {
    return *std::launder(reinterpret_cast<T*>(reinterpret_cast<char*>(e) + value_offset(e->key_size)));
  }
  static const T& value_of(const Entry* e) noexcept { return value_of(const_cast<Entry*>(e)); }
  static Entry* make_entry(std::string_view key) {
    ROADMQ_ASSERT(key.size() <= std::numeric_limits<std::uint16_t>::max());
    char* memory = static_cast<char*>(::operator new(value_offset(key.size()) + sizeof(T)));
    Entry* e = ::new (memory) Entry{static_cast<std::uint16_t>(key.size())};
    if (!key.empty()) std::memcpy(memory + sizeof(Entry), key.data(), key.size());
    try {
      ::new (memory + value_offset(key.size())) T();
    } catch (...) {
      ::operator delete(memory);
      throw;
    }
    return e;
  }
  static void free_entry(Entry* e) noexcept {
    value_of(e).~T();
    ::operator delete(static_cast<void*>(e));
  }

  struct TrieNode {
    explicit TrieNode(TrieNode* p) noexcept : parent(p) {}
    bool unused() const noexcept {
      return children.empty() && plus == nullptr && here == nullptr && rest == nullptr;
    }
    TrieNode* parent;
    NodeTable<TrieNode> children;  // literal next levels
    TrieNode* plus = nullptr;      // '+' as the next level
    Entry* here = nullptr;         // the filter ending at this level
    Entry* rest = nullptr;         // this level followed by '#'
    std::uint16_t key_size = 0;
  };

  struct Frame {
    const TrieNode* node;
    std::size_t pos;  // next topic level starts here; > topic.size(): none left
  };

  template <class Self, class F>
  static void match_in(Self& self, std::string_view topic, F& f) {
    using Value = std::conditional_t<std::is_const_v<Self>, const T, T>;
    ROADMQ_ASSERT(!topic.empty());
    if (!self.exact_.empty()) {
      if (Entry* e = self.exact_.find(topic)) f(key_of(e), static_cast<Value&>(value_of(e)));
    }
    if (self.wildcard_count_ == 0) return;

    const TrieNode* root = &self.root_;
    // [MQTT-4.7.2-1] A filter starting with a wildcard does not match a
    // topic starting with '$': skip the root's '#' and '+'.
    const bool system_topic = topic.front() == '$';
    SmallStack<Frame, 32> pending;
    const TrieNode* node = root;
    std::size_t pos = 0;
    for (;;) {
      const bool wild_ok = node != root || !system_topic;
      // "a/#" also matches "a" [MQTT-4.7.1-2]: rest fires with zero levels left.
      if (node->rest != nullptr && wild_ok) f(key_of(node->rest), static_cast<Value&>(value_of(node->rest)));
      bool descended = false;
      if (pos > topic.size()) {
        if (node->here != nullptr) f(key_of(node->here), static_cast<Value&>(value_of(node->here)));
      } else {
        std::size_t end = topic.find('/', pos);
        if (end == std::string_view::npos) end = topic.size();
        if (node->plus != nullptr && wild_ok) pending.push(Frame{node->plus, end + 1});
        if (!node->children.empty()) {
          if (const TrieNode* child = node->children.find(topic.substr(pos, end - pos))) {
            node = child;
            pos = end + 1;
            descended = true;
          }
        }
      }
      if (descended) continue;
      if (pending.empty()) break;
      const Frame next = pending.pop();
      node = next.node;
      pos = next.pos;
    }
  }

  template <class Self, class F>
  static void for_each_in(Self& self, F& f) {
    using Value = std::conditional_t<std::is_const_v<Self>, const T, T>;
    self.exact_.for_each([&](Entry* e) { f(key_of(e), static_cast<Value&>(value_of(e))); });
    std::vector<const TrieNode*> stack{&self.root_};
    while (!stack.empty()) {
      const TrieNode* n = stack.back();
      stack.pop_back();
      if (n->here != nullptr) f(key_of(n->here), static_cast<Value&>(value_of(n->here)));
      if (n->rest != nullptr) f(key_of(n->rest), static_cast<Value&>(value_of(n->rest)));
      if (n->plus != nullptr) stack.push_back(n->plus);
      n->children.for_each([&](const TrieNode* c) { stack.push_back(c); });
    }
  }

  // The slot holding `filter`'s entry (possibly null), or nullptr when the
  // path does not exist; `node` gets the trie node owning the slot.
  Entry* const* locate(std::string_view filter, TrieNode*& node) const noexcept {
    TrieNode* n = const_cast<TrieNode*>(&root_);
    LevelCursor levels(filter);
    for (;;) {
      const std::string_view level = levels.next();
      if (level == "#") {
        node = n;
        return &n->rest;
      }
      n = level == "+" ? n->plus : n->children.find(level);
      if (n == nullptr) return nullptr;
      if (levels.done()) {
        node = n;
        return &n->here;
      }
    }
  }

  // Like locate(), creating the path.
  Entry*& build(std::string_view filter) {
    TrieNode* n = &root_;
    LevelCursor levels(filter);
    for (;;) {
      const std::string_view level = levels.next();
      if (level == "#") {
        ROADMQ_ASSERT(levels.done());
        return n->rest;
      }
      if (level == "+") {
        if (n->plus == nullptr) n->plus = make_node(n, level);
        n = n->plus;
      } else {
        TrieNode* child = n->children.find(level);
        if (child == nullptr) {
          child = make_node(n, level);
          const std::size_t table_before = n->children.heap_bytes();
          try {
            n->children.insert(child);
          } catch (...) {
            destroy_node(child);
            throw;
          }
          trie_bytes_ += n->children.heap_bytes() - table_before;
        }
        n = child;
      }
      if (levels.done()) return n->here;
    }
  }

  TrieNode* make_node(TrieNode* parent, std::string_view level) {
    TrieNode* n = new_keyed<TrieNode>(level, parent);
    ++trie_nodes_;
    trie_bytes_ += keyed_bytes(n);
    return n;
  }
  void destroy_node(TrieNode* n) noexcept {
    --trie_nodes_;
    trie_bytes_ -= keyed_bytes(n);
    delete_keyed(n);
  }

  // Frees `node` and every ancestor left without filters or children, so a
  // trie of departed vehicles does not linger.
  void prune(TrieNode* node) noexcept {
    while (node != &root_ && node->unused()) {
      TrieNode* parent = node->parent;
      if (parent->plus == node) {
        parent->plus = nullptr;
      } else {
        const std::size_t table_before = parent->children.heap_bytes();
        TrieNode* removed = parent->children.erase(key_of(node));
        ROADMQ_ASSERT(removed == node);
        (void)removed;
        trie_bytes_ -= table_before - parent->children.heap_bytes();
      }
      destroy_node(node);
      node = parent;
    }
  }

  void steal(FilterMap& other) noexcept {
    exact_ = std::move(other.exact_);
    root_.children = std::move(other.root_.children);
    root_.plus = std::exchange(other.root_.plus, nullptr);
    root_.here = std::exchange(other.root_.here, nullptr);
    root_.rest = std::exchange(other.root_.rest, nullptr);
    // The root is a member, so its children point back at the old object.
    root_.children.for_each([&](TrieNode* c) { c->parent = &root_; });
    if (root_.plus != nullptr) root_.plus->parent = &root_;
    wildcard_count_ = std::exchange(other.wildcard_count_, 0);
    trie_nodes_ = std::exchange(other.trie_nodes_, 0);
    entry_bytes_ = std::exchange(other.entry_bytes_, 0);
    trie_bytes_ = std::exchange(other.trie_bytes_, 0);
  }

  NodeTable<Entry> exact_;
  TrieNode root_{nullptr};
  std::size_t wildcard_count_ = 0;
  std::size_t trie_nodes_ = 0;
  std::size_t entry_bytes_ = 0;
  std::size_t trie_bytes_ = 0;
};

}  // namespace roadmq::broker::detail
