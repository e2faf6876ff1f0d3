// The value tree: merging, dotted-path setting, rendering, round trips.
#include "config/value.hpp"

#include <gtest/gtest.h>

#include "config/parser.hpp"

namespace roadmq::config {
namespace {

Value parse_ok(std::string_view text) {
  auto r = parse(text, "t.conf");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().str());
  return r ? *r : Value::object();
}

TEST(ValueTest, MergeIsRecursiveForObjectsOnly) {
  Value base = parse_ok("a { x = 1, y { p = 1 } }\nb = [1]");
  merge(base, parse_ok("a { y { q = 2 } }\nb = [2, 3]\nc = 1"));
  EXPECT_TRUE(equivalent(base, parse_ok("a { x = 1, y { p = 1, q = 2 } }\nb = [2, 3]\nc = 1")));
}

TEST(ValueTest, SetPathCreatesAndReplaces) {
  Value root = parse_ok("a = 5");
  set_path(root, {"a", "b", "c"}, Value::integer(1), Location{});
  set_path(root, {"x"}, Value::string("y"), Location{});
  EXPECT_TRUE(equivalent(root, parse_ok("a.b.c = 1\nx = y")));
}

TEST(ValueTest, EquivalentIgnoresLocationsRawAndMemberOrder) {
  EXPECT_TRUE(equivalent(parse_ok("a = on\nb = 1.50"), parse_ok("b = 1.5\n\n  a = true")));
  EXPECT_FALSE(equivalent(parse_ok("a = 1"), parse_ok("a = 1.0")));
  EXPECT_FALSE(equivalent(parse_ok("a = [1, 2]"), parse_ok("a = [2, 1]")));
  EXPECT_FALSE(equivalent(parse_ok("a = 1"), parse_ok("a = 1\nb = 1")));
}

TEST(ValueTest, DescribeQuotesStringsAndKeepsSpelling) {
  Value v =
      parse_ok("s = abc\nq = \"a\\\"b\"\nn = 0042\nd = 1.50\nb = off\nl = [1]\no {}\nz = null");
  EXPECT_EQ(v.find("s")->describe(), "\"abc\"");
  EXPECT_EQ(v.find("q")->describe(), "\"a\\\"b\"");
  EXPECT_EQ(v.find("n")->describe(), "0042");
  EXPECT_EQ(v.find("d")->describe(), "1.50");
  EXPECT_EQ(v.find("b")->describe(), "off");
  EXPECT_EQ(v.find("l")->describe(), "a list");
  EXPECT_EQ(v.find("o")->describe(), "an object");
  EXPECT_EQ(v.find("z")->describe(), "null");
  EXPECT_EQ(Value::floating(2.0).describe(), "2.0");
  EXPECT_EQ(Value::string(std::string(100, 'x')).describe(), "\"" + std::string(64, 'x') + "\"...");
}

TEST(ValueTest, ToHoconRoundTrips) {
  const char* text = R"(
    node.name = "roadmq@127.0.0.1"
    listeners.tcp.default { bind = "0.0.0.0:1883", enable = on }
    "odd key" { "a.b" = "tab\there \u00e9 \"q\"" }
    numbers = [1, -2, 1.5, 1e300, -0.0, 99999999999999999999]
    nested = [[1, 2], [], {x = [ {y = null} ]}]
    empty {}
    flags = [true, false]
    "" = ""
  )";
  Value v = parse_ok(text);
  std::string dumped = to_hocon(v);
  Value again = parse_ok(dumped);
  EXPECT_TRUE(equivalent(v, again)) << dumped;
  EXPECT_EQ(to_hocon(again), dumped);
}

TEST(ValueTest, ToHoconOfAScalar) {
  EXPECT_EQ(to_hocon(Value::integer(3)), "3\n");
  EXPECT_EQ(to_hocon(Value::string("a\nb")), "\"a\\nb\"\n");
}

TEST(ValueTest, FormatPathQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(format_path({"listeners", "tcp", "my-listener_1"}), "listeners.tcp.my-listener_1");
  EXPECT_EQ(format_path({"a", "b.c", ""}), "a.\"b.c\".\"\"");
  EXPECT_EQ(quote(std::string("x\x01y", 3)), "\"x\\u0001y\"");
}

TEST(ValueTest, EraseAndFind) {
  Value v = parse_ok("a = 1\nb = 2");
  EXPECT_TRUE(v.erase("a"));
  EXPECT_FALSE(v.erase("a"));
  EXPECT_EQ(v.find("a"), nullptr);
  EXPECT_NE(v.find("b"), nullptr);
  EXPECT_EQ(Value::integer(1).find("a"), nullptr);
}

TEST(LocationTest, Formats) {
  Location l{std::make_shared<const std::string>("f.conf"), 3, 7};
  EXPECT_EQ(l.str(), "f.conf:3:7");
  EXPECT_EQ((Error{l, "bad"}).str(), "f.conf:3:7: bad");
  Location env{std::make_shared<const std::string>("environment variable X"), 0, 0};
  EXPECT_EQ((Error{env, "bad"}).str(), "environment variable X: bad");
  EXPECT_EQ((Error{Location{}, "bad"}).str(), "bad");
  EXPECT_EQ(join({Error{l, "one"}, Error{Location{}, "two"}}), "f.conf:3:7: one\ntwo");
}

}  // namespace
}  // namespace roadmq::config
