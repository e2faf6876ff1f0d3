// Internal to the codec: a bounds-checked, big-endian cursor over one packet
// body. Every read either succeeds whole or fails without consuming, so the
// packet decoders never index raw memory and an overrun is always a value the
// caller turns into a Malformed Packet, never an out-of-bounds read.
//
// Thread safety: a value type over borrowed bytes; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "mqtt/decoder.hpp"

namespace roadmq::mqtt::detail {

using ByteView = std::span<const std::uint8_t>;

inline std::string_view as_chars(ByteView b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

class WireReader {
 public:
  explicit WireReader(ByteView bytes) noexcept : bytes_(bytes) {}

  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  bool empty() const noexcept { return pos_ == bytes_.size(); }

  std::optional<std::uint8_t> u8() noexcept {
    if (remaining() < 1) return std::nullopt;
    return bytes_[pos_++];
  }

  std::optional<std::uint16_t> u16() noexcept {
    if (remaining() < 2) return std::nullopt;
    const auto v = static_cast<std::uint16_t>((unsigned{bytes_[pos_]} << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return v;
  }

  std::optional<std::uint32_t> u32() noexcept {
    if (remaining() < 4) return std::nullopt;
    const std::uint32_t v =
        (std::uint32_t{bytes_[pos_]} << 24) | (std::uint32_t{bytes_[pos_ + 1]} << 16) |
        (std::uint32_t{bytes_[pos_ + 2]} << 8) | std::uint32_t{bytes_[pos_ + 3]};
    pos_ += 4;
    return v;
  }

  std::optional<ByteView> take(std::size_t n) noexcept {
    if (remaining() < n) return std::nullopt;
    const ByteView out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  // A two-byte length and that many bytes: the shape of both UTF-8 strings
  // [MQTT-1.5.4] and binary data [MQTT-1.5.6]. Fails whole if either part
  // runs past the end, so the length is not consumed on its own.
  std::optional<ByteView> prefixed() noexcept {
    if (remaining() < 2) return std::nullopt;
    const std::size_t n = (std::size_t{bytes_[pos_]} << 8) | bytes_[pos_ + 1];
    if (remaining() - 2 < n) return std::nullopt;
    pos_ += 2;
    return take(n);
  }

  ByteView rest() noexcept {
    const ByteView out = bytes_.subspan(pos_);
    pos_ = bytes_.size();
    return out;
  }

  // Inside a body there is no "more" to wait for: need_more means the
  // integer runs past the end of the packet.
  VarIntStatus varint(VarInt& out) noexcept {
    const VarIntStatus st = read_varint(bytes_.subspan(pos_), out);
    if (st == VarIntStatus::ok) pos_ += out.size;
    return st;
  }

 private:
  ByteView bytes_;
  std::size_t pos_ = 0;
};

}  // namespace roadmq::mqtt::detail
