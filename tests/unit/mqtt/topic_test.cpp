// Topic names and filters [MQTT-4.7], shared subscriptions [MQTT-4.8.2]:
// tables of valid and invalid strings tagged with the rule they exercise, the
// matching examples of MQTT 5.0 section 4.7, and a randomised comparison of
// topic_matches() with a straightforward level-list matcher.
#include "mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace roadmq::mqtt {
namespace {

using Levels = std::vector<std::string_view>;

std::string printable(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kDigits[b >> 4]);
      out.push_back(kDigits[b & 0xF]);
    }
  }
  if (out.size() > 60) out = out.substr(0, 40) + "...(" + std::to_string(s.size()) + " bytes)";
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Validation tables. `rule` is the tag the CodecError::rule must start with;
// empty for a valid input.

struct TopicCase {
  std::string input;
  std::string_view rule;
};

std::ostream& operator<<(std::ostream& os, const TopicCase& c) {
  return os << printable(c.input) << (c.rule.empty() ? " valid" : " ") << c.rule;
}

const std::string kMaxLength(65535, 'a');
const std::string kTooLong(65536, 'a');

class TopicNameTable : public ::testing::TestWithParam<TopicCase> {};

TEST_P(TopicNameTable, Validates) {
  const TopicCase& c = GetParam();
  const auto err = validate_topic_name(c.input);
  if (c.rule.empty()) {
    EXPECT_FALSE(err.has_value()) << err->rule;
    return;
  }
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, ReasonCode::topic_name_invalid);
  EXPECT_TRUE(err->rule.starts_with(c.rule)) << err->rule;
}

const TopicCase kValidNames[] = {
    TopicCase{"a", ""},
    TopicCase{"sport/tennis/player1", ""},
    TopicCase{"/", ""},  // one character, two empty levels [MQTT-4.7.3-1]
    TopicCase{"//", ""},
    TopicCase{"/finance", ""},
    TopicCase{"sport/", ""},
    TopicCase{"a//b", ""},
    TopicCase{" ", ""},  // spaces are allowed
    TopicCase{"ACCOUNTS", ""},
    TopicCase{"$SYS/broker/load", ""},
    TopicCase{"$share/g/a", ""},  // only filters are shared
    TopicCase{"vehicle/WVW\xC3\x9C-123/\xE4\xB8\x8B\xE8\xBD\xBD", ""},
    TopicCase{"\xEF\xBB\xBF", ""},      // U+FEFF kept [MQTT-1.5.4-3]
    TopicCase{"\xF4\x8F\xBF\xBF", ""},  // U+10FFFF
    TopicCase{kMaxLength, ""},
};
INSTANTIATE_TEST_SUITE_P(Valid, TopicNameTable, ::testing::ValuesIn(kValidNames));

const TopicCase kInvalidNames[] = {
    TopicCase{"", "[MQTT-4.7.3-1]"},
    TopicCase{"+", "[MQTT-3.3.2-2]"},
    TopicCase{"#", "[MQTT-3.3.2-2]"},
    TopicCase{"sport/+", "[MQTT-3.3.2-2]"},
    TopicCase{"sport/tennis/#", "[MQTT-3.3.2-2]"},
    TopicCase{"sport+", "[MQTT-3.3.2-2]"},
    TopicCase{"a#b", "[MQTT-3.3.2-2]"},
    TopicCase{"$SYS/#", "[MQTT-3.3.2-2]"},
    TopicCase{std::string("a\0b", 3), "[MQTT-4.7.3-2]"},
    TopicCase{std::string(1, '\0'), "[MQTT-4.7.3-2]"},
    TopicCase{"\xC0\x80", "[MQTT-1.5.4-1]"},          // overlong NUL
    TopicCase{"a/\xED\xA0\x80", "[MQTT-1.5.4-1]"},    // U+D800
    TopicCase{"a/\xED\xBF\xBF", "[MQTT-1.5.4-1]"},    // U+DFFF
    TopicCase{"\xF4\x90\x80\x80", "[MQTT-1.5.4-1]"},  // > U+10FFFF
    TopicCase{"a/\x80", "[MQTT-1.5.4-1]"},
    TopicCase{"a/\xE4\xB8", "[MQTT-1.5.4-1]"},
    TopicCase{kTooLong, "[MQTT-4.7.3-3]"},
};
INSTANTIATE_TEST_SUITE_P(Invalid, TopicNameTable, ::testing::ValuesIn(kInvalidNames));

class TopicFilterTable : public ::testing::TestWithParam<TopicCase> {};

TEST_P(TopicFilterTable, Validates) {
  const TopicCase& c = GetParam();
  const auto err = validate_topic_filter(c.input);
  if (c.rule.empty()) {
    EXPECT_FALSE(err.has_value()) << err->rule;
    return;
  }
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, ReasonCode::topic_filter_invalid);
  EXPECT_TRUE(err->rule.starts_with(c.rule)) << err->rule;
}

const TopicCase kValidFilters[] = {
    // [MQTT-4.7.1-2] '#' alone or after '/', and last.
    TopicCase{"#", ""},
    TopicCase{"sport/#", ""},
    TopicCase{"sport/tennis/player1/#", ""},
    TopicCase{"/#", ""},
    TopicCase{"+/#", ""},
    TopicCase{"//#", ""},
    // [MQTT-4.7.1-3] '+' occupying whole levels, any position.
    TopicCase{"+", ""},
    TopicCase{"+/+", ""},
    TopicCase{"/+", ""},
    TopicCase{"+/", ""},
    TopicCase{"sport/+", ""},
    TopicCase{"sport/+/player1", ""},
    TopicCase{"+/tennis/#", ""},
    TopicCase{"+/+/+", ""},
    TopicCase{"a//+//b", ""},
    // Plain and '$' filters.
    TopicCase{"sport/tennis/player1", ""},
    TopicCase{"/", ""},
    TopicCase{"//", ""},
    TopicCase{"$SYS/#", ""},
    TopicCase{"$SYS/monitor/+", ""},
    TopicCase{"$", ""},
    TopicCase{"\xE8\xBD\xA6/+/#", ""},
    TopicCase{kMaxLength, ""},
    // Not shared: the prefix must be exactly "$share/" / "$queue/".
    TopicCase{"$share", ""},
    TopicCase{"$queue", ""},
    TopicCase{"$sharegroup/a", ""},
    TopicCase{"$SHARE/+/a", ""},
    TopicCase{"a/$share/g", ""},
    TopicCase{"$queues/#", ""},
    // [MQTT-4.8.2-1/2] shared subscriptions.
    TopicCase{"$share/g/a", ""},
    TopicCase{"$share/consumer1/sport/tennis/+", ""},
    TopicCase{"$share/g/#", ""},
    TopicCase{"$share/g/+", ""},
    TopicCase{"$share/g//", ""},
    TopicCase{"$share/g/$SYS/#", ""},
    TopicCase{"$share/gr$oup-1.x/a", ""},
    TopicCase{"$share/\xE7\xBB\x84/a", ""},
    TopicCase{"$share/$share/a", ""},
    TopicCase{"$queue/a/b", ""},
    TopicCase{"$queue/#", ""},
    TopicCase{"$queue//", ""},
};
INSTANTIATE_TEST_SUITE_P(Valid, TopicFilterTable, ::testing::ValuesIn(kValidFilters));

const TopicCase kInvalidFilters[] = {
    TopicCase{"", "[MQTT-4.7.3-1]"},
    TopicCase{std::string("a/\0", 3), "[MQTT-4.7.3-2]"},
    TopicCase{std::string("$share/g/\0", 10), "[MQTT-4.7.3-2]"},
    TopicCase{"a/\xC0\xAF", "[MQTT-1.5.4-1]"},
    TopicCase{"a/\xED\xA0\x80/#", "[MQTT-1.5.4-1]"},
    TopicCase{"+/\xFF", "[MQTT-1.5.4-1]"},
    TopicCase{kTooLong, "[MQTT-4.7.3-3]"},
    TopicCase{"$share/g/" + std::string(65536 - 9, 'a'), "[MQTT-4.7.3-3]"},
    // '#' not alone in its level, or not the last level.
    TopicCase{"sport/tennis#", "[MQTT-4.7.1-2]"},
    TopicCase{"sport/tennis/#/ranking", "[MQTT-4.7.1-2]"},
    TopicCase{"#/", "[MQTT-4.7.1-2]"},
    TopicCase{"a/#/", "[MQTT-4.7.1-2]"},
    TopicCase{"##", "[MQTT-4.7.1-2]"},
    TopicCase{"#a", "[MQTT-4.7.1-2]"},
    TopicCase{"a/#b", "[MQTT-4.7.1-2]"},
    TopicCase{"#/#", "[MQTT-4.7.1-2]"},
    TopicCase{"+#", "[MQTT-4.7.1-3]"},
    // '+' not alone in its level.
    TopicCase{"sport+", "[MQTT-4.7.1-3]"},
    TopicCase{"+a", "[MQTT-4.7.1-3]"},
    TopicCase{"a/+b/c", "[MQTT-4.7.1-3]"},
    TopicCase{"a/b+", "[MQTT-4.7.1-3]"},
    TopicCase{"++", "[MQTT-4.7.1-3]"},
    TopicCase{"+/++", "[MQTT-4.7.1-3]"},
    TopicCase{"$SYS+", "[MQTT-4.7.1-3]"},
    // Shared: ShareName at least one character [MQTT-4.8.2-1].
    TopicCase{"$share/", "[MQTT-4.8.2-1]"},
    TopicCase{"$share//a", "[MQTT-4.8.2-1]"},
    TopicCase{"$share//", "[MQTT-4.8.2-1]"},
    // No '+' or '#' in it, then '/' and a filter [MQTT-4.8.2-2].
    TopicCase{"$share/g", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/g/", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/+/a", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/#/a", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/#", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/g+/a", "[MQTT-4.8.2-2]"},
    TopicCase{"$share/g#h/a", "[MQTT-4.8.2-2]"},
    // The filter after the group obeys the ordinary rules.
    TopicCase{"$share/g/a#", "[MQTT-4.7.1-2]"},
    TopicCase{"$share/g/#/a", "[MQTT-4.7.1-2]"},
    TopicCase{"$share/g/a+", "[MQTT-4.7.1-3]"},
    TopicCase{"$queue/", "[MQTT-4.7.3-1]"},
    TopicCase{"$queue/a#", "[MQTT-4.7.1-2]"},
    TopicCase{"$queue/+a", "[MQTT-4.7.1-3]"},
};
INSTANTIATE_TEST_SUITE_P(Invalid, TopicFilterTable, ::testing::ValuesIn(kInvalidFilters));

TEST(TopicFilter, HashRulesSayWhichPartIsBroken) {
  EXPECT_EQ(validate_topic_filter("a/#/b")->rule, "[MQTT-4.7.1-2] '#' must be the last level");
  EXPECT_EQ(validate_topic_filter("a#")->rule, "[MQTT-4.7.1-2] '#' must occupy an entire level");
}

TEST(TopicFilter, FirstErrorWins) {
  // String rules are checked before wildcard rules.
  EXPECT_TRUE(validate_topic_filter(std::string("a+\0", 3))->rule.starts_with("[MQTT-4.7.3-2]"));
  // The first offending wildcard decides.
  EXPECT_TRUE(validate_topic_filter("a+/#/b")->rule.starts_with("[MQTT-4.7.1-3]"));
}

TEST(TopicName, FindsAWildcardAtEveryPosition) {
  // The scan reads eight bytes at a time, then the tail byte by byte: try a
  // '+' and a '#' at each offset of names spanning several words, and every
  // byte value that is neither next to them.
  for (std::size_t size = 1; size <= 26; ++size) {
    for (std::size_t at = 0; at < size; ++at) {
      for (char wildcard : {'+', '#'}) {
        std::string name(size, 'a');
        name[at] = wildcard;
        const auto err = validate_topic_name(name);
        ASSERT_TRUE(err.has_value()) << printable(name);
        EXPECT_TRUE(err->rule.starts_with("[MQTT-3.3.2-2]")) << printable(name);
        EXPECT_TRUE(check_topic_name_shape(name).has_value()) << printable(name);
      }
    }
  }
  std::string bytes;
  for (int b = 1; b < 0x80; ++b)
    if (b != '+' && b != '#') bytes.push_back(static_cast<char>(b));
  EXPECT_FALSE(validate_topic_name(bytes).has_value());
  // Bytes one above and below each wildcard must not be mistaken for it.
  EXPECT_FALSE(check_topic_name_shape(",*\x22$,*\x22$,*\x22$").has_value());
}

TEST(TopicName, ShapeCheckLeavesTheEncodingToTheCaller) {
  EXPECT_TRUE(check_topic_name_shape("")->rule.starts_with("[MQTT-4.7.3-1]"));
  EXPECT_TRUE(check_topic_name_shape("a/+")->rule.starts_with("[MQTT-3.3.2-2]"));
  EXPECT_FALSE(check_topic_name_shape("sport/tennis/player1").has_value());
  // Ill-formed UTF-8 passes here; the decoder rejected it before (see
  // malformed_test.cpp), and validate_topic_name() checks it itself.
  EXPECT_FALSE(check_topic_name_shape("a\xC0").has_value());
  EXPECT_TRUE(validate_topic_name("a\xC0")->rule.starts_with("[MQTT-1.5.4-1]"));
}

TEST(TopicFilter, EveryValidNameIsAValidFilter) {
  for (std::string_view name : {"a", "/", "a//b", "$SYS/x", "sport/tennis/player1"}) {
    EXPECT_FALSE(validate_topic_name(name).has_value()) << name;
    EXPECT_FALSE(validate_topic_filter(name).has_value()) << name;
  }
}

// ---------------------------------------------------------------------------

TEST(HasWildcard, DetectsEitherWildcard) {
  EXPECT_TRUE(has_wildcard("#"));
  EXPECT_TRUE(has_wildcard("+"));
  EXPECT_TRUE(has_wildcard("sport/+/player1"));
  EXPECT_TRUE(has_wildcard("sport/tennis/#"));
  EXPECT_TRUE(has_wildcard("$share/g/a/+"));
  EXPECT_FALSE(has_wildcard("sport/tennis/player1"));
  EXPECT_FALSE(has_wildcard("$share/g/a"));
  EXPECT_FALSE(has_wildcard("/"));
  EXPECT_FALSE(has_wildcard("$SYS/broker"));
  EXPECT_FALSE(has_wildcard("\xE8\xBD\xA6"));
}

// ---------------------------------------------------------------------------

TEST(SplitLevels, KeepsEmptyLevels) {
  EXPECT_EQ(split_levels("sport/tennis/player1"), (Levels{"sport", "tennis", "player1"}));
  EXPECT_EQ(split_levels("a"), (Levels{"a"}));
  EXPECT_EQ(split_levels("a//b"), (Levels{"a", "", "b"}));
  EXPECT_EQ(split_levels("/a"), (Levels{"", "a"}));
  EXPECT_EQ(split_levels("a/"), (Levels{"a", ""}));
  EXPECT_EQ(split_levels("/"), (Levels{"", ""}));
  EXPECT_EQ(split_levels("//"), (Levels{"", "", ""}));
  EXPECT_EQ(split_levels(""), (Levels{""}));
  EXPECT_EQ(split_levels("+/#"), (Levels{"+", "#"}));
  EXPECT_EQ(split_levels("$SYS/\xE8\xBD\xA6/x"), (Levels{"$SYS", "\xE8\xBD\xA6", "x"}));
}

TEST(SplitLevels, ViewsPointIntoTheInput) {
  const std::string topic = "a/bc/d";
  const Levels levels = split_levels(topic);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[1].data(), topic.data() + 2);
  EXPECT_EQ(levels[2].data(), topic.data() + 5);
}

// ---------------------------------------------------------------------------
// Matching.

struct MatchCase {
  std::string_view filter;
  std::string_view name;
  bool matches;
  std::string_view source;  // where the example comes from
};

std::ostream& operator<<(std::ostream& os, const MatchCase& c) {
  return os << printable(c.filter) << (c.matches ? " matches " : " does not match ")
            << printable(c.name) << " (" << c.source << ")";
}

class TopicMatchTable : public ::testing::TestWithParam<MatchCase> {};

TEST_P(TopicMatchTable, Matches) {
  const MatchCase& c = GetParam();
  // Table inputs must be valid, or the case tests nothing the broker sees.
  ASSERT_FALSE(validate_topic_filter(c.filter).has_value());
  ASSERT_FALSE(validate_topic_name(c.name).has_value());
  EXPECT_EQ(topic_matches(c.filter, c.name), c.matches);
}

constexpr std::string_view k4712 = "4.7.1.2 [MQTT-4.7.1-2]";
constexpr std::string_view k4713 = "4.7.1.3 [MQTT-4.7.1-3]";
constexpr std::string_view k472 = "4.7.2 [MQTT-4.7.2-1]";

const MatchCase kSpecMultiLevelMatches[] = {
    MatchCase{"sport/tennis/player1/#", "sport/tennis/player1", true, k4712},
    MatchCase{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true, k4712},
    MatchCase{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true, k4712},
    MatchCase{"sport/tennis/player1/#", "sport/tennis/player2", false, k4712},
    MatchCase{"sport/tennis/player1/#", "sport/tennis", false, k4712},
    MatchCase{"sport/#", "sport", true, k4712},
    MatchCase{"sport/#", "sport/", true, k4712},
    MatchCase{"sport/#", "sports", false, k4712},
    MatchCase{"#", "sport/tennis/player1", true, k4712},
    MatchCase{"#", "/", true, k4712},
    MatchCase{"#", "a", true, k4712},
};
INSTANTIATE_TEST_SUITE_P(SpecMultiLevel, TopicMatchTable,
                         ::testing::ValuesIn(kSpecMultiLevelMatches));

const MatchCase kSpecSingleLevelMatches[] = {
    MatchCase{"sport/tennis/+", "sport/tennis/player1", true, k4713},
    MatchCase{"sport/tennis/+", "sport/tennis/player2", true, k4713},
    MatchCase{"sport/tennis/+", "sport/tennis/player1/ranking", false, k4713},
    MatchCase{"sport/tennis/+", "sport/tennis", false, k4713},
    MatchCase{"sport/+", "sport", false, k4713},
    MatchCase{"sport/+", "sport/", true, k4713},
    MatchCase{"+", "finance", true, k4713},
    MatchCase{"+/+", "/finance", true, k4713},
    MatchCase{"/+", "/finance", true, k4713},
    MatchCase{"+", "/finance", false, k4713},
    MatchCase{"+/tennis/#", "sport/tennis/player1", true, k4713},
    MatchCase{"sport/+/player1", "sport/tennis/player1", true, k4713},
};
INSTANTIATE_TEST_SUITE_P(SpecSingleLevel, TopicMatchTable,
                         ::testing::ValuesIn(kSpecSingleLevelMatches));

const MatchCase kSpecDollarMatches[] = {
    MatchCase{"#", "$SYS/monitor/Clients", false, k472},
    MatchCase{"#", "$SYS", false, k472},
    MatchCase{"+/monitor/Clients", "$SYS/monitor/Clients", false, k472},
    MatchCase{"+", "$SYS", false, k472},
    MatchCase{"+/#", "$SYS/x", false, k472},
    MatchCase{"$SYS/#", "$SYS/monitor/Clients", true, k472},
    MatchCase{"$SYS/#", "$SYS", true, k472},
    MatchCase{"$SYS/monitor/+", "$SYS/monitor/Clients", true, k472},
    MatchCase{"$SYS/monitor/Clients", "$SYS/monitor/Clients", true, k472},
    // Only a '$' at the very start hides a topic.
    MatchCase{"+/#", "a/$SYS", true, k472},
    MatchCase{"a/+", "a/$x", true, k472},
    MatchCase{"#", "a$", true, k472},
};
INSTANTIATE_TEST_SUITE_P(SpecDollarTopics, TopicMatchTable,
                         ::testing::ValuesIn(kSpecDollarMatches));

const MatchCase kEdgeCaseMatches[] = {
    MatchCase{"a/#", "a", true, "'#' matches its parent"},
    MatchCase{"a/#", "a/b/c", true, "'#' matches many levels"},
    MatchCase{"a/#", "b", false, "different first level"},
    MatchCase{"a/#", "ab", false, "prefix of a level is not a level"},
    MatchCase{"/#", "/", true, "empty first level"},
    MatchCase{"/#", "a", false, "'/#' needs an empty first level"},
    MatchCase{"+/#", "a", true, "'+' then '#' matching the parent"},
    MatchCase{"a/+/#", "a", false, "'+' needs a level of its own"},
    MatchCase{"a/+/#", "a/b", true, "'#' after '+' matching the parent"},
    MatchCase{"+", "a/b", false, "'+' is one level"},
    MatchCase{"+/+", "a", false, "two levels needed"},
    MatchCase{"a/+/c", "a//c", true, "'+' matches an empty level"},
    MatchCase{"+/+", "/", true, "two empty levels"},
    MatchCase{"+", "/", false, "'/' has two levels"},
    MatchCase{"a/+", "a/", true, "trailing empty level"},
    MatchCase{"a/b", "a/b/", false, "trailing empty level is a level"},
    MatchCase{"a/b/", "a/b", false, "filter has one level more"},
    MatchCase{"a", "a/b", false, "name has one level more"},
    MatchCase{"a/b", "a", false, "filter has one level more"},
    MatchCase{"sport/tennis", "sport/tennis2", false, "longer last level"},
    MatchCase{"sport/tennis2", "sport/tennis", false, "shorter last level"},
    MatchCase{"ACCOUNTS", "Accounts", false, "case-sensitive [MQTT-4.7.3-4]"},
    MatchCase{"a b", "a b", true, "spaces are characters"},
    MatchCase{"//", "//", true, "all levels empty"},
    MatchCase{"\xE8\xBD\xA6/+", "\xE8\xBD\xA6/\xE4\xB8\x8B", true, "UTF-8 levels"},
    MatchCase{"\xE8\xBD\xA6", "\xE8\xBD\xA7", false, "no normalisation [MQTT-4.7.3-4]"},
};
INSTANTIATE_TEST_SUITE_P(EdgeCases, TopicMatchTable, ::testing::ValuesIn(kEdgeCaseMatches));

TEST(TopicMatches, LongTopics) {
  std::string name = "a";
  std::string filter = "a";
  for (int i = 0; i < 1000; ++i) {
    name += "/l";
    filter += "/+";
  }
  EXPECT_TRUE(topic_matches(filter, name));
  EXPECT_TRUE(topic_matches(filter + "/#", name));
  EXPECT_FALSE(topic_matches(filter + "/+", name));
  EXPECT_FALSE(topic_matches(filter, name + "/x"));
}

// A matcher written the obvious way, on level lists, for comparison.
bool reference_matches(std::string_view filter, std::string_view name) {
  const Levels f = split_levels(filter);
  const Levels n = split_levels(name);
  if (!name.empty() && name[0] == '$' && (f[0] == "+" || f[0] == "#")) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // also when i == n.size(): the parent level
    if (i >= n.size()) return false;
    if (f[i] != "+" && f[i] != n[i]) return false;
  }
  return f.size() == n.size();
}

TEST(TopicMatches, AgreesWithReferenceOnRandomTopics) {
  std::mt19937 rng(20240501);  // fixed: failures must reproduce
  static constexpr std::string_view kNameLevels[] = {"a", "b", "", "$a", "ab"};
  static constexpr std::string_view kFilterLevels[] = {"a", "b", "", "$a", "ab", "+", "+", "#"};
  auto pick = [&rng](auto& table) {
    return table[std::uniform_int_distribution<std::size_t>(0, std::size(table) - 1)(rng)];
  };
  auto depth = [&rng] { return std::uniform_int_distribution<int>(1, 4)(rng); };

  int matched = 0;
  int checked = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string name;
    for (int i = 0, d = depth(); i < d; ++i) {
      if (i > 0) name += '/';
      name += pick(kNameLevels);
    }
    std::string filter;
    for (int i = 0, d = depth(); i < d; ++i) {
      if (i > 0) filter += '/';
      filter += pick(kFilterLevels);
    }
    if (validate_topic_name(name) || validate_topic_filter(filter)) continue;
    ++checked;
    const bool want = reference_matches(filter, name);
    matched += want ? 1 : 0;
    ASSERT_EQ(topic_matches(filter, name), want) << printable(filter) << " vs " << printable(name);
  }
  // Guard against a generator that only produces trivial cases.
  EXPECT_GT(checked, 5000);
  EXPECT_GT(matched, 500);
  EXPECT_GT(checked - matched, 500);
}

// ---------------------------------------------------------------------------
// Shared subscriptions [MQTT-4.8.2].

TEST(ParseShared, SplitsGroupAndFilter) {
  const auto s = parse_shared("$share/consumer1/sport/tennis/+");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "consumer1");
  EXPECT_EQ(s->filter, "sport/tennis/+");
}

TEST(ParseShared, WildcardFilters) {
  const auto hash = parse_shared("$share/g/#");
  ASSERT_TRUE(hash.has_value());
  EXPECT_EQ(hash->group, "g");
  EXPECT_EQ(hash->filter, "#");

  // The filter keeps any leading '/' beyond the separator.
  const auto slash = parse_shared("$share/g//a");
  ASSERT_TRUE(slash.has_value());
  EXPECT_EQ(slash->group, "g");
  EXPECT_EQ(slash->filter, "/a");

  // Only the first "$share/" is a prefix.
  const auto nested = parse_shared("$share/g/$share/h/x");
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->group, "g");
  EXPECT_EQ(nested->filter, "$share/h/x");
}

TEST(ParseShared, QueueHasFixedGroup) {
  const auto s = parse_shared("$queue/sport/tennis");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "$queue");
  EXPECT_EQ(s->filter, "sport/tennis");
}

TEST(ParseShared, ViewsPointIntoTheInput) {
  const std::string input = "$share/grp/a/b";
  const auto s = parse_shared(input);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group.data(), input.data() + 7);
  EXPECT_EQ(s->filter.data(), input.data() + 11);

  const std::string queue = "$queue/a";
  const auto q = parse_shared(queue);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->filter.data(), queue.data() + 7);
}

TEST(ParseShared, OrdinaryFiltersAreNotShared) {
  for (std::string_view f : {"a/b", "#", "+/x", "$SYS/#", "$share", "$queue", "$sharegroup/a",
                             "$SHARE/g/a", "share/g/a", "a/$share/g/b", "$queues/a"}) {
    EXPECT_FALSE(parse_shared(f).has_value()) << f;
  }
}

TEST(ParseShared, MalformedInputsStillYieldViewsInside) {
  // Callers validate first; this only pins down that nothing dangles.
  const std::string no_filter = "$share/g";
  const auto s = parse_shared(no_filter);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "g");
  EXPECT_TRUE(s->filter.empty());
  EXPECT_EQ(parse_shared("$share/")->group, "");
}

TEST(ParseShared, ValidSharedFilterYieldsValidPlainFilter) {
  for (std::string_view f :
       {"$share/g/a", "$share/g/#", "$share/g/+/b/#", "$share/g//", "$queue/a/+", "$queue/#"}) {
    ASSERT_FALSE(validate_topic_filter(f).has_value()) << f;
    const auto s = parse_shared(f);
    ASSERT_TRUE(s.has_value()) << f;
    EXPECT_FALSE(s->group.empty()) << f;
    EXPECT_FALSE(validate_topic_filter(s->filter).has_value()) << f;
  }
}

TEST(ParseShared, SharedFilterMatchesThroughItsPlainPart) {
  const auto s = parse_shared("$share/g/sport/+/player1");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(topic_matches(s->filter, "sport/tennis/player1"));
  EXPECT_FALSE(topic_matches(s->filter, "sport/tennis/player2"));
}

}  // namespace
}  // namespace roadmq::mqtt
