// [MQTT-1.5.4] UTF-8 Encoded String rules: one case per class of ill-formed
// input, the boundaries of the valid ranges, and an exhaustive comparison
// with a reference that decodes and re-encodes (a formulation independent of
// the lead-byte table the implementation uses).
#include "mqtt/utf8.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace roadmq::mqtt {
namespace {

std::string bytes(std::initializer_list<unsigned> list) {
  std::string s;
  for (unsigned b : list) s.push_back(static_cast<char>(b));
  return s;
}

std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

const char* to_cstr(Utf8Status s) {
  switch (s) {
    case Utf8Status::ok:
      return "ok";
    case Utf8Status::too_long:
      return "too_long";
    case Utf8Status::null_character:
      return "null_character";
    case Utf8Status::ill_formed:
      return "ill_formed";
  }
  return "?";
}

// Canonical (shortest) encoding of a scalar value or surrogate.
std::string encode(std::uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// Reference: decode by bit pattern alone, then accept only if re-encoding
// gives back the same bytes (so overlong forms fail) and the value is a
// scalar value in range that is not U+0000.
Utf8Status reference_check(std::string_view s) {
  if (s.size() > 65535) return Utf8Status::too_long;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((lead & 0x80) == 0) {
      len = 1;
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      len = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      len = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      len = 4;
      cp = lead & 0x07;
    } else {
      return Utf8Status::ill_formed;
    }
    if (s.size() - i < len) return Utf8Status::ill_formed;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return Utf8Status::ill_formed;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Utf8Status::ill_formed;
    if (encode(cp) != s.substr(i, len)) return Utf8Status::ill_formed;
    if (cp == 0) return Utf8Status::null_character;
    i += len;
  }
  return Utf8Status::ok;
}

struct Utf8Case {
  std::string input;
  Utf8Status expected;
  const char* why;
};

std::ostream& operator<<(std::ostream& os, const Utf8Case& c) {
  return os << c.why << " [" << hex(c.input) << "] -> " << to_cstr(c.expected);
}

class Utf8Table : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Table, ClassifiesAsExpected) {
  const Utf8Case& c = GetParam();
  EXPECT_EQ(to_cstr(check_mqtt_utf8(c.input)), std::string_view(to_cstr(c.expected)));
  EXPECT_EQ(is_valid_mqtt_utf8(c.input), c.expected == Utf8Status::ok);
  // The reference must agree too, or the table itself is wrong.
  EXPECT_EQ(to_cstr(reference_check(c.input)), std::string_view(to_cstr(c.expected)));
}

constexpr Utf8Status kOk = Utf8Status::ok;
constexpr Utf8Status kNul = Utf8Status::null_character;
constexpr Utf8Status kBad = Utf8Status::ill_formed;

const Utf8Case kValidUtf8[] = {
    Utf8Case{"", kOk, "empty string"},
    Utf8Case{"sport/tennis/player1", kOk, "ASCII"},
    Utf8Case{bytes({0x01}), kOk, "U+0001 control (SHOULD NOT, but allowed) [MQTT-1.5.4]"},
    Utf8Case{bytes({0x7F}), kOk, "U+007F, last 1-byte"},
    Utf8Case{bytes({0xC2, 0x80}), kOk, "U+0080, first 2-byte"},
    Utf8Case{bytes({0xC2, 0x9F}), kOk, "U+009F C1 control (allowed)"},
    Utf8Case{bytes({0xDF, 0xBF}), kOk, "U+07FF, last 2-byte"},
    Utf8Case{bytes({0xE0, 0xA0, 0x80}), kOk, "U+0800, first 3-byte"},
    Utf8Case{bytes({0xED, 0x9F, 0xBF}), kOk, "U+D7FF, just below surrogates"},
    Utf8Case{bytes({0xEE, 0x80, 0x80}), kOk, "U+E000, just above surrogates"},
    Utf8Case{bytes({0xEF, 0xBB, 0xBF}), kOk, "U+FEFF BOM kept as a character [MQTT-1.5.4-3]"},
    Utf8Case{bytes({0xEF, 0xBF, 0xBE}), kOk, "U+FFFE non-character (allowed)"},
    Utf8Case{bytes({0xEF, 0xBF, 0xBF}), kOk, "U+FFFF, last 3-byte (allowed)"},
    Utf8Case{bytes({0xF0, 0x90, 0x80, 0x80}), kOk, "U+10000, first 4-byte"},
    Utf8Case{bytes({0xF3, 0xBF, 0xBF, 0xBF}), kOk, "U+FFFFF"},
    Utf8Case{bytes({0xF4, 0x80, 0x80, 0x80}), kOk, "U+100000"},
    Utf8Case{bytes({0xF4, 0x8F, 0xBF, 0xBF}), kOk, "U+10FFFF, last code point"},
    Utf8Case{"caf\xC3\xA9/\xE4\xB8\x96\xE7\x95\x8C/\xF0\x9F\x9A\x97", kOk, "mixed 1/2/3/4-byte"},
    Utf8Case{"abcdefg\xC3\xA9xyz", kOk, "2-byte straddling the first 8-byte word"},
    Utf8Case{"abcdef\xF0\x9F\x9A\x97xyzabcdefgh", kOk, "4-byte straddling a word"},
};
INSTANTIATE_TEST_SUITE_P(Valid, Utf8Table, ::testing::ValuesIn(kValidUtf8));

const Utf8Case kNullCharacterUtf8[] = {
    Utf8Case{std::string(1, '\0'), kNul, "U+0000 alone [MQTT-1.5.4-2]"},
    Utf8Case{std::string("a\0b", 3), kNul, "U+0000 inside [MQTT-1.5.4-2]"},
    Utf8Case{std::string("abcdefg\0", 8), kNul, "U+0000 last in a word"},
    Utf8Case{std::string("abcdefgh\0", 9), kNul, "U+0000 in the tail"},
    Utf8Case{std::string("\xC3\xA9\0abcdefgh", 11), kNul, "U+0000 in a word with non-ASCII"},
    Utf8Case{bytes({0xC0, 0x80}), kBad, "overlong U+0000 (modified UTF-8) is ill-formed, not NUL"},
};
INSTANTIATE_TEST_SUITE_P(NullCharacter, Utf8Table, ::testing::ValuesIn(kNullCharacterUtf8));

const Utf8Case kOverlongUtf8[] = {
    Utf8Case{bytes({0xC0, 0x80}), kBad, "C0 80 overlong U+0000 [MQTT-1.5.4-1]"},
    Utf8Case{bytes({0xC0, 0xAF}), kBad, "C0 AF overlong '/'"},
    Utf8Case{bytes({0xC1, 0xBF}), kBad, "C1 BF overlong U+007F"},
    Utf8Case{bytes({0xE0, 0x80, 0x80}), kBad, "E0 80 80 overlong U+0000"},
    Utf8Case{bytes({0xE0, 0x80, 0xAF}), kBad, "E0 80 AF overlong '/'"},
    Utf8Case{bytes({0xE0, 0x9F, 0xBF}), kBad, "E0 9F BF overlong U+07FF"},
    Utf8Case{bytes({0xF0, 0x80, 0x80, 0x80}), kBad, "F0 80 80 80 overlong"},
    Utf8Case{bytes({0xF0, 0x80, 0x80, 0xAF}), kBad, "F0 80 80 AF overlong '/'"},
    Utf8Case{bytes({0xF0, 0x8F, 0xBF, 0xBF}), kBad, "F0 8F BF BF overlong U+FFFF"},
};
INSTANTIATE_TEST_SUITE_P(Overlong, Utf8Table, ::testing::ValuesIn(kOverlongUtf8));

const Utf8Case kSurrogateUtf8[] = {
    Utf8Case{bytes({0xED, 0xA0, 0x80}), kBad, "U+D800 [MQTT-1.5.4-1]"},
    Utf8Case{bytes({0xED, 0xAD, 0xBF}), kBad, "U+DB7F"},
    Utf8Case{bytes({0xED, 0xB0, 0x80}), kBad, "U+DC00"},
    Utf8Case{bytes({0xED, 0xBF, 0xBF}), kBad, "U+DFFF [MQTT-1.5.4-1]"},
    Utf8Case{bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}), kBad, "CESU-8 surrogate pair"},
    Utf8Case{"abcdefgh" + bytes({0xED, 0xA0, 0x80}), kBad, "U+D800 after a fast word"},
};
INSTANTIATE_TEST_SUITE_P(Surrogate, Utf8Table, ::testing::ValuesIn(kSurrogateUtf8));

const Utf8Case kAboveMaxUtf8[] = {
    Utf8Case{bytes({0xF4, 0x90, 0x80, 0x80}), kBad, "U+110000 [MQTT-1.5.4-1]"},
    Utf8Case{bytes({0xF4, 0xBF, 0xBF, 0xBF}), kBad, "U+13FFFF"},
    Utf8Case{bytes({0xF5, 0x80, 0x80, 0x80}), kBad, "F5 lead"},
    Utf8Case{bytes({0xF7, 0xBF, 0xBF, 0xBF}), kBad, "U+1FFFFF"},
    Utf8Case{bytes({0xF8, 0x88, 0x80, 0x80, 0x80}), kBad, "5-byte form"},
    Utf8Case{bytes({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}), kBad, "6-byte form"},
    Utf8Case{bytes({0xFE}), kBad, "FE never appears"},
    Utf8Case{bytes({0xFF}), kBad, "FF never appears"},
};
INSTANTIATE_TEST_SUITE_P(AboveMax, Utf8Table, ::testing::ValuesIn(kAboveMaxUtf8));

const Utf8Case kStrayContinuationUtf8[] = {
    Utf8Case{bytes({0x80}), kBad, "lone 80"},
    Utf8Case{bytes({0xBF}), kBad, "lone BF"},
    Utf8Case{"a\x80z", kBad, "80 between ASCII"},
    Utf8Case{bytes({0xC3, 0xA9, 0xA9}), kBad, "one continuation too many"},
    Utf8Case{bytes({0xF0, 0x9F, 0x9A, 0x97, 0x97}), kBad, "continuation after a 4-byte"},
    Utf8Case{"abcdefgh\x80", kBad, "80 after a fast word"},
};
INSTANTIATE_TEST_SUITE_P(StrayContinuation, Utf8Table, ::testing::ValuesIn(kStrayContinuationUtf8));

const Utf8Case kTruncatedUtf8[] = {
    Utf8Case{bytes({0xC3}), kBad, "2-byte lead at end"},
    Utf8Case{bytes({0xE0, 0xA0}), kBad, "3-byte missing 1"},
    Utf8Case{bytes({0xE1}), kBad, "3-byte missing 2"},
    Utf8Case{bytes({0xF0, 0x90, 0x80}), kBad, "4-byte missing 1"},
    Utf8Case{bytes({0xF4, 0x8F, 0xBF}), kBad, "U+10FFFF missing 1"},
    Utf8Case{"abcdefgh\xE4\xB8", kBad, "truncated after a fast word"},
    Utf8Case{bytes({0xC3, 0x41}), kBad, "2-byte lead then ASCII"},
    Utf8Case{bytes({0xE4, 0xB8, 0x41}), kBad, "3-byte interrupted by ASCII"},
    Utf8Case{bytes({0xE1, 0x80, 0xC0}), kBad, "3rd byte is a lead"},
    Utf8Case{bytes({0xF1, 0x80, 0x80, 0x7F}), kBad, "4th byte is ASCII"},
    Utf8Case{bytes({0xF1, 0x80, 0x80, 0xF1, 0x80, 0x80, 0x80}), kBad, "4-byte cut by a new lead"},
};
INSTANTIATE_TEST_SUITE_P(Truncated, Utf8Table, ::testing::ValuesIn(kTruncatedUtf8));

TEST(Utf8Length, Exactly65535AsciiBytesIsAllowed) {
  const std::string s(65535, 'a');
  EXPECT_TRUE(is_valid_mqtt_utf8(s));
}

TEST(Utf8Length, Over65535BytesIsRejected) {
  const std::string s(65536, 'a');
  EXPECT_FALSE(is_valid_mqtt_utf8(s));
  EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::too_long);
}

TEST(Utf8Length, CountsBytesNotCharacters) {
  std::string s;
  for (int i = 0; i < 21845; ++i) s += "\xE2\x82\xAC";  // U+20AC, 3 bytes each
  ASSERT_EQ(s.size(), 65535u);
  EXPECT_TRUE(is_valid_mqtt_utf8(s));
  s += "a";
  EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::too_long);
}

TEST(Utf8Length, ErrorNearTheEndOfALongStringIsFound) {
  std::string s(65534, 'a');
  s.push_back('\x80');
  EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::ill_formed);
  s.back() = '\0';
  EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::null_character);
}

// The fast path reads 8-byte words: put each kind of byte at every offset of
// a few words so both the word test and the byte fallback see it.
TEST(Utf8FastPath, EveryOffsetOfEveryWord) {
  for (std::size_t len = 1; len <= 40; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'x');
      s[at] = '\0';
      EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::null_character) << len << " " << at;
      s[at] = '\x80';
      EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::ill_formed) << len << " " << at;
      s[at] = '\x7F';
      EXPECT_EQ(check_mqtt_utf8(s), Utf8Status::ok) << len << " " << at;

      std::string two = s;
      two.replace(at, 1, "\xC3\xA9");
      EXPECT_EQ(check_mqtt_utf8(two), Utf8Status::ok) << len << " " << at;
      std::string four = s;
      four.replace(at, 1, "\xF4\x8F\xBF\xBF");
      EXPECT_EQ(check_mqtt_utf8(four), Utf8Status::ok) << len << " " << at;
      std::string cut = s.substr(0, at) + "\xF4\x8F\xBF";
      EXPECT_EQ(check_mqtt_utf8(cut), Utf8Status::ill_formed) << len << " " << at;
    }
  }
}

TEST(Utf8FastPath, ReadsOnlyTheGivenBytes) {
  // A view into a larger buffer: bytes past its end must not be looked at.
  const std::string buffer = std::string("abcdefghijk") + '\x80' + std::string(1, '\0');
  EXPECT_TRUE(is_valid_mqtt_utf8(std::string_view(buffer).substr(0, 11)));
  EXPECT_TRUE(is_valid_mqtt_utf8(std::string_view(buffer).substr(3, 8)));
  EXPECT_FALSE(is_valid_mqtt_utf8(std::string_view(buffer).substr(3, 9)));

  // A sequence cut by the end of the view is truncated even when the bytes
  // that would complete it follow in memory.
  const std::string emoji = "abcdefgh\xF0\x9F\x9A\x97";
  for (std::size_t cut = 9; cut < emoji.size(); ++cut) {
    EXPECT_EQ(check_mqtt_utf8(std::string_view(emoji).substr(0, cut)), Utf8Status::ill_formed)
        << cut;
    EXPECT_EQ(check_mqtt_utf8(std::string_view(emoji).substr(8, cut - 8)), Utf8Status::ill_formed)
        << cut;
  }
  EXPECT_EQ(check_mqtt_utf8(emoji), Utf8Status::ok);
}

TEST(Utf8Exhaustive, EveryCodePoint) {
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = encode(cp);
    const Utf8Status want = cp == 0                          ? Utf8Status::null_character
                            : (cp >= 0xD800 && cp <= 0xDFFF) ? Utf8Status::ill_formed
                                                             : Utf8Status::ok;
    const Utf8Status got = check_mqtt_utf8(s);
    if (got != want) {
      ADD_FAILURE() << "U+" << std::hex << cp << " [" << hex(s) << "] got " << to_cstr(got)
                    << " want " << to_cstr(want);
      return;
    }
  }
}

// Bytes that sit on the edges of the continuation ranges of Table 3-7, plus
// ASCII, NUL and lead bytes; enough to stand in for a full 0..FF sweep of the
// later positions.
constexpr unsigned kEdgeBytes[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90,
                                   0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF};

class ReferenceComparison {
 public:
  void check(const std::string& s) {
    const Utf8Status got = check_mqtt_utf8(s);
    const Utf8Status want = reference_check(s);
    if (got != want && ++failures_ <= 10) {
      ADD_FAILURE() << "[" << hex(s) << "] got " << to_cstr(got) << " want " << to_cstr(want);
    }
  }
  std::size_t failures() const { return failures_; }

 private:
  std::size_t failures_ = 0;
};

// Every 1- and 2-byte string, alone and after ASCII that puts it at the end
// of the first 8-byte word.
TEST(Utf8Exhaustive, OneAndTwoByteStringsAgreeWithReference) {
  ReferenceComparison cmp;
  for (unsigned a = 0; a < 256; ++a) {
    cmp.check(bytes({a}));
    for (unsigned b = 0; b < 256; ++b) {
      cmp.check(bytes({a, b}));
      cmp.check("abcdef" + bytes({a, b}));
    }
  }
  EXPECT_EQ(cmp.failures(), 0u);
}

// Every 3-byte sequence with a 3-byte lead; other leads with edge bytes last.
TEST(Utf8Exhaustive, ThreeByteStringsAgreeWithReference) {
  ReferenceComparison cmp;
  for (unsigned a = 0xC0; a < 256; ++a) {
    const bool three_byte_lead = a >= 0xE0 && a <= 0xEF;
    for (unsigned b = 0; b < 256; ++b) {
      if (three_byte_lead) {
        for (unsigned c = 0; c < 256; ++c) cmp.check(bytes({a, b, c}));
      }
      for (unsigned c : kEdgeBytes) {
        cmp.check(bytes({a, b, c}));
        cmp.check("abcde" + bytes({a, b, c}));
      }
    }
  }
  EXPECT_EQ(cmp.failures(), 0u);
}

TEST(Utf8Exhaustive, FourByteLeadsAgreeWithReference) {
  ReferenceComparison cmp;
  for (unsigned a = 0xF0; a <= 0xF7; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      for (unsigned c : kEdgeBytes) {
        for (unsigned d : kEdgeBytes) cmp.check("abcd" + bytes({a, b, c, d}));
      }
    }
  }
  EXPECT_EQ(cmp.failures(), 0u);
}

}  // namespace
}  // namespace roadmq::mqtt
