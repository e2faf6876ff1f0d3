#include "mqtt/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mqtt/types.hpp"

namespace roadmq::mqtt {
namespace {

constexpr std::uint64_t kHighBits = 0x8080'8080'8080'8080ULL;
constexpr std::uint64_t kLowBits = 0x0101'0101'0101'0101ULL;

// Borrow trick: may mark extra bytes above a zero byte, but is non-zero iff
// the word holds a zero byte, which is all we ask of it.
constexpr bool has_zero_byte(std::uint64_t w) noexcept {
  return ((w - kLowBits) & ~w & kHighBits) != 0;
}

}  // namespace

Utf8Status check_mqtt_utf8(std::string_view s) noexcept {
  if (s.size() > kMaxStringLength) return Utf8Status::too_long;

  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Topics, client ids and property strings are nearly always ASCII, so
    // test eight bytes per step and fall back to the byte loop only for the
    // word holding a non-ASCII byte. memcpy keeps the load alignment-safe
    // and compiles to one mov; byte order does not matter for either test.
    while (n - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, sizeof w);
      if ((w & kHighBits) != 0) break;
      if (has_zero_byte(w)) return Utf8Status::null_character;
      i += 8;
    }
    if (i == n) break;

    const unsigned char lead = p[i];
    if (lead < 0x80) {
      if (lead == 0) return Utf8Status::null_character;
      ++i;
      continue;
    }

    // Unicode Table 3-7 (well-formed byte sequences): the lead byte fixes the
    // length, and narrowing the range of the *second* byte is what rules out
    // overlong forms (E0, F0), surrogates (ED) and code points above
    // U+10FFFF (F4). Later bytes are plain continuations.
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (lead < 0xC2) {
      // 80..BF: a continuation with no lead; C0, C1: overlong ASCII.
      return Utf8Status::ill_formed;
    } else if (lead < 0xE0) {
      len = 2;
    } else if (lead < 0xF0) {
      len = 3;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead < 0xF5) {
      len = 4;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      // F5..FF would start code points above U+10FFFF or 5/6-byte forms.
      return Utf8Status::ill_formed;
    }
    if (n - i < len) return Utf8Status::ill_formed;
    if (p[i + 1] < lo || p[i + 1] > hi) return Utf8Status::ill_formed;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return Utf8Status::ill_formed;
    }
    i += len;
  }
  return Utf8Status::ok;
}

bool is_valid_mqtt_utf8(std::string_view s) noexcept {
  return check_mqtt_utf8(s) == Utf8Status::ok;
}

}  // namespace roadmq::mqtt
