#include "storage/write_batch.hpp"

namespace roadmq::storage {
namespace {

// Encodes `v` as a LEB128 varint at `out`; returns the bytes written (≤ 10).
std::size_t put_varint(char* out, std::size_t v) noexcept {
  std::size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<char>(static_cast<unsigned char>(v) | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<char>(v);
  return n;
}

void put_be64(char* out, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

void WriteBatch::add(OpKind kind, Table table, std::string_view key, std::string_view value) {
  // Framing is assembled on the stack so each operation is at most three
  // appends to the one buffer (amortised: no allocation per operation).
  char head[2 + 10 + 10];
  head[0] = static_cast<char>(kind);
  head[1] = static_cast<char>(table);
  buf_.append(head, 2 + put_varint(head + 2, key.size()));
  buf_.append(key);
  if (has_value(kind)) {
    buf_.append(head, put_varint(head, value.size()));
    buf_.append(value);
    ++stores_;
  }
  ++ops_;
}

void WriteBatch::put(Table table, std::string_view key, std::string_view value) {
  add(OpKind::put, table, key, value);
}

void WriteBatch::erase(Table table, std::string_view key) { add(OpKind::erase, table, key, {}); }

void WriteBatch::erase_prefix(Table table, std::string_view prefix) {
  add(OpKind::erase_prefix, table, prefix, {});
}

void WriteBatch::ref_message(std::uint64_t id, std::string_view body) {
  char key[8];
  put_be64(key, id);
  add(OpKind::ref_message, Table::messages, std::string_view(key, sizeof key), body);
}

void WriteBatch::unref_message(std::uint64_t id) {
  char key[8];
  put_be64(key, id);
  add(OpKind::unref_message, Table::messages, std::string_view(key, sizeof key), {});
}

void WriteBatch::clear() noexcept {
  buf_.clear();  // keeps the capacity: a reused batch stops allocating
  ops_ = 0;
  stores_ = 0;
}

void WriteBatch::append(const WriteBatch& other) {
  buf_.append(other.buf_);
  ops_ += other.ops_;
  stores_ += other.stores_;
}

std::string message_key(std::uint64_t id) {
  std::string key(8, '\0');
  put_be64(key.data(), id);
  return key;
}

}  // namespace roadmq::storage
