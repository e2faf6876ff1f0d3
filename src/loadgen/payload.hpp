// The header every roadmq-bench payload starts with: who sent it (run id +
// publisher index), its place in that publisher's stream (sequence number)
// and when (CLOCK_MONOTONIC nanoseconds), so any receiver can measure
// latency, loss, duplicates and reordering without talking to the sender.
//
//   offset  size  field
//   0       2     magic "RB" (0x52 0x42)
//   2       1     header version (1)
//   3       1     flags: bit 0 = final message of this publisher's stream;
//                 other bits are reserved, written 0 and ignored on read
//   4       4     publisher index (u32)
//   8       8     run id (u64), random per roadmq-bench process
//   16      8     sequence number (u64), 0 for the publisher's first message
//   24      8     send time, CLOCK_MONOTONIC ns (u64)
//   32      ...   filler up to the payload size
//
// All integers are big-endian, like MQTT's own. The timestamp only means
// something to a receiver on the same machine (same monotonic clock).
//
// Thread safety: pure functions and value types; PayloadScratch belongs to
// one worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/expected.hpp"

namespace roadmq::loadgen {

inline constexpr std::size_t kHeaderSize = 32;
inline constexpr std::uint8_t kMagic0 = 0x52;  // 'R'
inline constexpr std::uint8_t kMagic1 = 0x42;  // 'B'
inline constexpr std::uint8_t kHeaderVersion = 1;
inline constexpr std::uint8_t kFlagFinal = 0x01;

// The stream a message belongs to: one publisher of one run.
struct StreamKey {
  std::uint64_t run_id = 0;
  std::uint32_t publisher = 0;
  friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

struct PayloadHeader {
  StreamKey stream;
  std::uint64_t sequence = 0;
  std::uint64_t sent_ns = 0;
  std::uint8_t flags = 0;

  bool is_final() const noexcept { return (flags & kFlagFinal) != 0; }
  friend bool operator==(const PayloadHeader&, const PayloadHeader&) = default;
};

enum class HeaderError : std::uint8_t { too_short, bad_magic, bad_version };
std::string_view to_string(HeaderError e) noexcept;

// Writes exactly kHeaderSize bytes.
void encode_header(const PayloadHeader& h, std::span<std::uint8_t, kHeaderSize> out) noexcept;
void encode_header(const PayloadHeader& h, char* out) noexcept;

// Reads the header at the start of a payload; the rest is not looked at.
Expected<PayloadHeader, HeaderError> decode_header(std::span<const std::uint8_t> payload) noexcept;
Expected<PayloadHeader, HeaderError> decode_header(std::string_view payload) noexcept;

// CLOCK_MONOTONIC in nanoseconds: what senders stamp and receivers compare.
std::uint64_t monotonic_ns() noexcept;

// A worker's reusable payload: one buffer of the largest size in use, filled
// once; each message rewrites only the header, so building a payload costs
// 32 bytes of stores and no allocation.
class PayloadScratch {
 public:
  explicit PayloadScratch(std::size_t max_size);
  // The first `size` bytes (size >= kHeaderSize, <= max_size) with `h` in front.
  std::string_view build(const PayloadHeader& h, std::size_t size) noexcept;
  std::size_t max_size() const noexcept { return buf_.size(); }

 private:
  std::string buf_;
};

}  // namespace roadmq::loadgen
