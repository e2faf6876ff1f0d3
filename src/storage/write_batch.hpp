// A list of writes applied atomically, built on a shard thread and handed to
// the Committer. Operations are encoded into one flat buffer so building a
// batch costs no allocation per operation.
//
// Besides plain put / erase, a batch may hold reference-counted message
// blobs: ref_message() stores the body when the first reference appears and
// unref_message() deletes it when the last one goes (Table::messages). The
// Committer does that counting; a KvStore never sees these operations.
//
// Thread safety: none; a batch belongs to one thread until submitted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "storage/table.hpp"

namespace roadmq::storage {

class WriteBatch {
 public:
  enum class OpKind : std::uint8_t {
    put,            // table, key, value
    erase,          // table, key
    erase_prefix,   // table, key = prefix: every key starting with it
    ref_message,    // key = 8-byte big-endian message id, value = body
    unref_message,  // key = 8-byte big-endian message id
  };

  struct Op {
    OpKind kind;
    Table table;
    std::string_view key;
    std::string_view value;
  };

  WriteBatch() = default;
  WriteBatch(const WriteBatch&) = default;
  WriteBatch& operator=(const WriteBatch&) = default;
  // A moved-from batch is empty (not merely "valid"), so a shard can keep
  // filling the same variable after submit(std::move(batch), ...).
  WriteBatch(WriteBatch&& other) noexcept
      : buf_(std::move(other.buf_)),
        ops_(std::exchange(other.ops_, 0)),
        stores_(std::exchange(other.stores_, 0)) {
    other.buf_.clear();
  }
  WriteBatch& operator=(WriteBatch&& other) noexcept {
    buf_ = std::move(other.buf_);
    ops_ = std::exchange(other.ops_, 0);
    stores_ = std::exchange(other.stores_, 0);
    other.buf_.clear();
    return *this;
  }

  void put(Table table, std::string_view key, std::string_view value);
  void erase(Table table, std::string_view key);
  void erase_prefix(Table table, std::string_view prefix);
  void ref_message(std::uint64_t id, std::string_view body);
  void unref_message(std::uint64_t id);

  bool empty() const noexcept { return ops_ == 0; }
  std::size_t ops() const noexcept { return ops_; }
  std::size_t bytes() const noexcept { return buf_.size(); }
  // True when the batch only takes data away (erase, erase_prefix,
  // unref_message): losing it in a crash brings back what it removed,
  // never loses anything.
  bool only_removes() const noexcept { return stores_ == 0; }
  void clear() noexcept;
  // Appends other's operations after this batch's, keeping their order.
  void append(const WriteBatch& other);

  // Walks the operations in order; fn(const Op&). The views point into this
  // batch and live as long as it is not modified.
  template <class Fn>
  void for_each(Fn&& fn) const;

 private:
  // Layout of one operation: kind (1 byte), table (1 byte), key length
  // (LEB128 varint), key, and for put / ref_message the value length and
  // value. Lengths are varints so small keys cost one byte of framing.
  static constexpr bool has_value(OpKind kind) noexcept {
    return kind == OpKind::put || kind == OpKind::ref_message;
  }
  static std::size_t read_varint(const char*& p) noexcept {
    std::size_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(*p++);
      v |= static_cast<std::size_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
  }
  void add(OpKind kind, Table table, std::string_view key, std::string_view value);

  std::string buf_;
  std::size_t ops_ = 0;
  std::size_t stores_ = 0;  // put and ref_message operations
};

template <class Fn>
void WriteBatch::for_each(Fn&& fn) const {
  // The buffer is only ever built by this class, so it is trusted: no bounds
  // checks beyond the end of the buffer.
  const char* p = buf_.data();
  const char* const end = p + buf_.size();
  while (p < end) {
    Op op{static_cast<OpKind>(p[0]), static_cast<Table>(p[1]), {}, {}};
    p += 2;
    const std::size_t key_len = read_varint(p);
    op.key = std::string_view(p, key_len);
    p += key_len;
    if (has_value(op.kind)) {
      const std::size_t value_len = read_varint(p);
      op.value = std::string_view(p, value_len);
      p += value_len;
    }
    fn(static_cast<const Op&>(op));
  }
}

// The 8-byte big-endian key of a message id (sorts numerically).
std::string message_key(std::uint64_t id);

}  // namespace roadmq::storage
