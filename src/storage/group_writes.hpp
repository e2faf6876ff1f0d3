// GroupWrites: the operations of one group commit, in order, less those a
// later operation of the same group makes pointless. A QoS 1 message to a
// persistent session that is delivered and acknowledged while the previous
// fsync runs is then written as one tombstone instead of four operations:
//  - a put followed, in the group, by a put or erase of the same key is
//    dropped (the erase stays: the key may be on disk from an earlier
//    group);
//  - a message body written for its first reference and deleted for its
//    last within the group reaches the disk in neither form.
// The result is what writing every operation in order would leave on disk.
//
// Keys and values are views: the batches they point into must outlive
// build(). Thread safety: one thread (the committer's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/table.hpp"
#include "storage/write_batch.hpp"

namespace roadmq::storage {

class GroupWrites {
 public:
  GroupWrites() { reset_indexes(); }
  GroupWrites(const GroupWrites&) = delete;
  GroupWrites& operator=(const GroupWrites&) = delete;

  void clear();

  void put(Table table, std::string_view key, std::string_view value);
  void erase(Table table, std::string_view key);
  void erase_prefix(Table table, std::string_view prefix);
  // A message body at its first reference (0 → 1), and at its last (1 → 0).
  void put_body(std::string_view key, std::string_view value);
  void erase_body(std::string_view key);

  // Appends the operations still needed, in their order.
  void build(WriteBatch& out) const;
  // Operations dropped since clear().
  std::uint64_t elided() const noexcept { return elided_; }

 private:
  struct Staged {
    WriteBatch::Op op;
    bool live = true;
  };
  struct Key {
    Table table;
    std::string_view key;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      return std::hash<std::string_view>{}(k.key) ^ (static_cast<std::size_t>(k.table) << 56);
    }
  };
  void kill(std::size_t index) noexcept;
  void reset_indexes();

  // The indexes take one entry per write of every group: their nodes come
  // from an arena that clear() rewinds to the start of a buffer kept for
  // the committer's life (about 10,000 writes fit), so a committer
  // allocates nothing per write. A larger group takes more from the heap,
  // given back at clear(). The indexes are rebuilt on it at each clear().
  static constexpr std::size_t kArenaBytes = 1u << 20;
  std::unique_ptr<std::byte[]> arena_buffer_ = std::make_unique_for_overwrite<std::byte[]>(kArenaBytes);
  std::pmr::monotonic_buffer_resource arena_{arena_buffer_.get(), kArenaBytes};
  std::vector<Staged> staged_;
  // key -> its latest put in staged_
  std::optional<std::pmr::unordered_map<Key, std::size_t, KeyHash>> last_put_;
  // message body written in this group -> its put in staged_
  std::optional<std::pmr::unordered_map<std::string_view, std::size_t>> body_put_;
  std::uint64_t elided_ = 0;
};

}  // namespace roadmq::storage
