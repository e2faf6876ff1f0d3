#include "loadgen/payload.hpp"

#include <time.h>

#include <algorithm>

#include "base/assert.hpp"

namespace roadmq::loadgen {
namespace {

void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string_view to_string(HeaderError e) noexcept {
  switch (e) {
    case HeaderError::too_short:
      return "payload shorter than the 32-byte header";
    case HeaderError::bad_magic:
      return "payload does not start with the RB magic";
    case HeaderError::bad_version:
      return "unknown payload header version";
  }
  return "?";
}

void encode_header(const PayloadHeader& h, std::span<std::uint8_t, kHeaderSize> out) noexcept {
  std::uint8_t* p = out.data();
  p[0] = kMagic0;
  p[1] = kMagic1;
  p[2] = kHeaderVersion;
  p[3] = h.flags;
  put_u32(p + 4, h.stream.publisher);
  put_u64(p + 8, h.stream.run_id);
  put_u64(p + 16, h.sequence);
  put_u64(p + 24, h.sent_ns);
}

void encode_header(const PayloadHeader& h, char* out) noexcept {
  encode_header(
      h, std::span<std::uint8_t, kHeaderSize>(reinterpret_cast<std::uint8_t*>(out), kHeaderSize));
}

Expected<PayloadHeader, HeaderError> decode_header(std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() < kHeaderSize) return Unexpected{HeaderError::too_short};
  const std::uint8_t* p = payload.data();
  if (p[0] != kMagic0 || p[1] != kMagic1) return Unexpected{HeaderError::bad_magic};
  // A later version may append fields, never move these: only an older
  // reader meeting a newer layout it cannot trust refuses it.
  if (p[2] != kHeaderVersion) return Unexpected{HeaderError::bad_version};
  PayloadHeader h;
  h.flags = p[3];
  h.stream.publisher = get_u32(p + 4);
  h.stream.run_id = get_u64(p + 8);
  h.sequence = get_u64(p + 16);
  h.sent_ns = get_u64(p + 24);
  return h;
}

Expected<PayloadHeader, HeaderError> decode_header(std::string_view payload) noexcept {
  return decode_header(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
}

std::uint64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

PayloadScratch::PayloadScratch(std::size_t max_size) : buf_(std::max(max_size, kHeaderSize), '\0') {
  // Printable filler: a payload dumped by mosquitto_sub stays readable after
  // the binary header.
  for (std::size_t i = kHeaderSize; i < buf_.size(); ++i)
    buf_[i] = static_cast<char>('a' + (i - kHeaderSize) % 26);
}

std::string_view PayloadScratch::build(const PayloadHeader& h, std::size_t size) noexcept {
  ROADMQ_ASSERT(size >= kHeaderSize && size <= buf_.size());
  encode_header(h, buf_.data());
  return std::string_view(buf_.data(), size);
}

}  // namespace roadmq::loadgen
