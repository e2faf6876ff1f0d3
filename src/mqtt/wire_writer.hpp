// Internal to the codec (not a public header): the two sinks a packet body is
// emitted into.
//
// The remaining length precedes the body on the wire, and a 5.0 property
// length precedes its properties, so every size must be known before the
// first byte is written. Each packet therefore has a single emit function,
// templated on the sink, that runs twice: into SizeCounter, then into
// WireWriter. Sharing that one function is what makes encoded_size() agree
// with encode() by construction rather than by keeping two codes in step.
//
// SizeCounter also remembers the size of each property block it saw, so the
// writing pass does not walk the properties a second time to size them.
//
// Thread safety: stack-local values used within one encode call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/assert.hpp"
#include "mqtt/property.hpp"
#include "mqtt/types.hpp"

namespace roadmq::mqtt::wire {

// Bytes the varint loop below writes for `v`. Values past the 4-byte maximum
// are not valid MQTT, but still answer 5 so that a size and the bytes written
// for it can never disagree (which would overrun the buffer).
constexpr std::size_t varint_length(std::uint64_t v) noexcept {
  return v < 128u ? 1 : v < 16'384u ? 2 : v < 2'097'152u ? 3 : v < 268'435'456u ? 4 : 5;
}

// CONNECT is the only packet with two property blocks (its own and the
// will's); every other packet has at most one.
struct PropertyBlockSizes {
  std::array<std::size_t, 2> sizes{};
  std::size_t count = 0;
};

// The wire type of each property, from the same X-list as find_property(),
// but as a constant table the compiler can inline: this lookup runs for every
// property of every packet the broker sends.
struct PropertyTypes {
  static constexpr std::uint8_t kUndefined = 0xFF;
  std::array<std::uint8_t, 256> by_id{};
  constexpr PropertyTypes() {
    for (auto& t : by_id) t = kUndefined;
#define ROADMQ_X(id, nm, type, spec, scopes) \
  by_id[id] = static_cast<std::uint8_t>(PropertyType::type);
    ROADMQ_MQTT_PROPERTIES(ROADMQ_X)
#undef ROADMQ_X
  }
};
inline constexpr PropertyTypes kPropertyTypes;

template <class Sink>
void emit_property(Sink& s, const Property& p) {
  const std::uint8_t type = kPropertyTypes.by_id[static_cast<std::uint8_t>(p.id)];
  ROADMQ_ASSERT(type != PropertyTypes::kUndefined);
  if (type == PropertyTypes::kUndefined) return;  // a forged PropertyId: both passes skip it
  // Every identifier the spec defines is below 0x80, so its varint is one byte.
  s.u8(static_cast<std::uint8_t>(p.id));
  switch (static_cast<PropertyType>(type)) {
    case PropertyType::byte:
      s.u8(static_cast<std::uint8_t>(p.number));
      return;
    case PropertyType::two_byte_int:
      s.u16(static_cast<std::uint16_t>(p.number));
      return;
    case PropertyType::four_byte_int:
      s.u32(p.number);
      return;
    case PropertyType::varint:
      s.varint(p.number);
      return;
    case PropertyType::utf8_string:
    case PropertyType::binary_data:
      s.string(p.text);
      return;
    case PropertyType::utf8_pair:
      s.string(p.text);
      s.string(p.text2);
      return;
  }
}

class SizeCounter {
 public:
  explicit SizeCounter(PropertyBlockSizes& blocks) noexcept : blocks_(blocks) {}

  void u8(std::uint8_t) noexcept { n_ += 1; }
  void u16(std::uint16_t) noexcept { n_ += 2; }
  void u32(std::uint32_t) noexcept { n_ += 4; }
  void varint(std::uint64_t v) noexcept { n_ += varint_length(v); }
  void string(std::string_view s) noexcept { n_ += 2 + s.size(); }
  void raw(std::string_view s) noexcept { n_ += s.size(); }
  void mark_packet_id() noexcept {}

  void properties(const Properties& props) noexcept {
    std::size_t size = 0;
    if (!props.empty()) {
      PropertyBlockSizes unused;
      SizeCounter inner(unused);
      for (const auto& p : props) emit_property(inner, p);
      size = inner.position();
    }
    ROADMQ_ASSERT(blocks_.count < blocks_.sizes.size());
    blocks_.sizes[blocks_.count++] = size;
    n_ += varint_length(size) + size;
  }

  // One property block made of two lists, `first` then `second` (an
  // outgoing PUBLISH: per-subscriber properties, then the message's own).
  void properties(const Properties& first, const Properties& second) noexcept {
    PropertyBlockSizes unused;
    SizeCounter inner(unused);
    for (const auto& p : first) emit_property(inner, p);
    for (const auto& p : second) emit_property(inner, p);
    const std::size_t size = inner.position();
    ROADMQ_ASSERT(blocks_.count < blocks_.sizes.size());
    blocks_.sizes[blocks_.count++] = size;
    n_ += varint_length(size) + size;
  }

  std::size_t position() const noexcept { return n_; }

 private:
  PropertyBlockSizes& blocks_;
  std::size_t n_ = 0;
};

// Writes through a raw pointer into space the caller has already sized
// exactly (from SizeCounter), so no write checks capacity.
class WireWriter {
 public:
  WireWriter(std::uint8_t* base, std::size_t start, const PropertyBlockSizes& blocks) noexcept
      : base_(base), cur_(base + start), blocks_(blocks) {}

  void u8(std::uint8_t b) noexcept { *cur_++ = b; }
  void u16(std::uint16_t v) noexcept {
    cur_[0] = static_cast<std::uint8_t>(v >> 8);
    cur_[1] = static_cast<std::uint8_t>(v);
    cur_ += 2;
  }
  void u32(std::uint32_t v) noexcept {
    cur_[0] = static_cast<std::uint8_t>(v >> 24);
    cur_[1] = static_cast<std::uint8_t>(v >> 16);
    cur_[2] = static_cast<std::uint8_t>(v >> 8);
    cur_[3] = static_cast<std::uint8_t>(v);
    cur_ += 4;
  }
  void varint(std::uint64_t v) noexcept {
    // A value past the maximum is a caller bug (the decoder rejects such input).
    ROADMQ_ASSERT(v <= kMaxRemainingLength);
    while (v >= 0x80) {
      *cur_++ = static_cast<std::uint8_t>(v | 0x80);
      v >>= 7;
    }
    *cur_++ = static_cast<std::uint8_t>(v);
  }
  void string(std::string_view s) noexcept {
    // Strings come from the decoder or from validated configuration; a longer
    // one is a caller bug. Release builds still write every byte, matching
    // SizeCounter, so only the length prefix would be wrong.
    ROADMQ_ASSERT(s.size() <= kMaxStringLength);
    u16(static_cast<std::uint16_t>(s.size()));
    raw(s);
  }
  void raw(std::string_view s) noexcept {
    if (s.empty()) return;  // memcpy from a null data() is undefined even for 0 bytes
    std::memcpy(cur_, s.data(), s.size());
    cur_ += s.size();
  }
  void mark_packet_id() noexcept { packet_id_at_ = position(); }

  void properties(const Properties& props) noexcept {
    ROADMQ_ASSERT(next_block_ < blocks_.count);
    varint(blocks_.sizes[next_block_++]);
    for (const auto& p : props) emit_property(*this, p);
  }
  void properties(const Properties& first, const Properties& second) noexcept {
    ROADMQ_ASSERT(next_block_ < blocks_.count);
    varint(blocks_.sizes[next_block_++]);
    for (const auto& p : first) emit_property(*this, p);
    for (const auto& p : second) emit_property(*this, p);
  }

  std::size_t position() const noexcept { return static_cast<std::size_t>(cur_ - base_); }
  std::size_t packet_id_at() const noexcept { return packet_id_at_; }

 private:
  std::uint8_t* base_;
  std::uint8_t* cur_;
  const PropertyBlockSizes& blocks_;
  std::size_t next_block_ = 0;
  std::size_t packet_id_at_ = SIZE_MAX;
};

}  // namespace roadmq::mqtt::wire
