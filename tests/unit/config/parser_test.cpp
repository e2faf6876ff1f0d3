// The HOCON-subset parser: every syntax form, and every error with its exact
// file:line:col.
#include "config/parser.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace roadmq::config {
namespace {

Value parse_ok(std::string_view text) {
  auto r = parse(text, "t.conf");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().str());
  return r ? *r : Value::object();
}

std::string parse_err(std::string_view text) {
  auto r = parse(text, "t.conf");
  EXPECT_FALSE(r.has_value()) << "parsed: " << text;
  return r ? std::string() : r.error().str();
}

const Value& at(const Value& root, std::initializer_list<std::string_view> path) {
  static const Value kMissing = Value::string("<missing>");
  const Value* cur = &root;
  for (std::string_view key : path) {
    cur = cur->find(key);
    if (!cur) return kMissing;
  }
  return *cur;
}

// ---- syntax forms -----------------------------------------------------------

TEST(ParserTest, EmptyInputIsAnEmptyObject) {
  EXPECT_TRUE(parse_ok("").members().empty());
  EXPECT_TRUE(parse_ok("\n\n  # only a comment\n// and another\n").members().empty());
}

TEST(ParserTest, EqualsAndColonSeparators) {
  Value v = parse_ok("a = 1\nb: 2\nc=3\nd:4");
  EXPECT_EQ(at(v, {"a"}).as_int(), 1);
  EXPECT_EQ(at(v, {"b"}).as_int(), 2);
  EXPECT_EQ(at(v, {"c"}).as_int(), 3);
  EXPECT_EQ(at(v, {"d"}).as_int(), 4);
}

TEST(ParserTest, ObjectBlocks) {
  Value v = parse_ok("mqtt {\n  max_inflight = 32\n  nested { x = on }\n}\nempty {}\n");
  EXPECT_EQ(at(v, {"mqtt", "max_inflight"}).as_int(), 32);
  EXPECT_TRUE(at(v, {"mqtt", "nested", "x"}).as_bool());
  EXPECT_TRUE(at(v, {"empty"}).is_object());
  EXPECT_TRUE(at(v, {"empty"}).members().empty());
}

TEST(ParserTest, ObjectWithEqualsOrColonBeforeBrace) {
  Value v = parse_ok("a = { x = 1 }\nb: { y = 2 }");
  EXPECT_EQ(at(v, {"a", "x"}).as_int(), 1);
  EXPECT_EQ(at(v, {"b", "y"}).as_int(), 2);
}

TEST(ParserTest, DottedKeysMergeIntoNestedObjects) {
  Value v = parse_ok("a.b.c = 1\na.b.d = 2\na { e = 3 }\na.b { f = 4 }");
  EXPECT_EQ(at(v, {"a", "b", "c"}).as_int(), 1);
  EXPECT_EQ(at(v, {"a", "b", "d"}).as_int(), 2);
  EXPECT_EQ(at(v, {"a", "e"}).as_int(), 3);
  EXPECT_EQ(at(v, {"a", "b", "f"}).as_int(), 4);
  EXPECT_EQ(v.members().size(), 1u);
}

TEST(ParserTest, LaterKeysOverrideEarlierOnes) {
  Value v = parse_ok("a = 1\na = 2\nb = x\nb = y");
  EXPECT_EQ(at(v, {"a"}).as_int(), 2);
  EXPECT_EQ(at(v, {"b"}).as_string(), "y");
  // The overridden key keeps its first position, with the later location.
  EXPECT_EQ(v.members()[0].key, "a");
  EXPECT_EQ(at(v, {"a"}).location().line, 2u);
}

TEST(ParserTest, ObjectsMergeKeyByKey) {
  Value v = parse_ok("a { x = 1, y = 2 }\na { y = 3, z = 4 }");
  EXPECT_EQ(at(v, {"a", "x"}).as_int(), 1);
  EXPECT_EQ(at(v, {"a", "y"}).as_int(), 3);
  EXPECT_EQ(at(v, {"a", "z"}).as_int(), 4);
}

TEST(ParserTest, NonObjectReplacesObjectAndViceVersa) {
  Value v = parse_ok("a { x = 1 }\na = 5\nb = 5\nb { y = 1 }\nc = {x = 1}\nc = 7\nc = {z = 2}");
  EXPECT_EQ(at(v, {"a"}).as_int(), 5);
  EXPECT_EQ(at(v, {"b", "y"}).as_int(), 1);
  // A scalar in between resets the object: only z survives.
  EXPECT_EQ(at(v, {"c"}).members().size(), 1u);
  EXPECT_EQ(at(v, {"c", "z"}).as_int(), 2);
}

TEST(ParserTest, Arrays) {
  Value v = parse_ok("a = [1, \"two\", three, [4], {x = 5}, 30s]\nb = []\n");
  const auto& items = at(v, {"a"}).items();
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].as_int(), 1);
  EXPECT_EQ(items[1].as_string(), "two");
  EXPECT_EQ(items[2].as_string(), "three");
  EXPECT_EQ(items[3].items()[0].as_int(), 4);
  EXPECT_EQ(items[4].find("x")->as_int(), 5);
  EXPECT_EQ(items[5].as_string(), "30s");
  EXPECT_TRUE(at(v, {"b"}).items().empty());
}

TEST(ParserTest, MultiLineArraysWithCommentsAndTrailingComma) {
  Value v = parse_ok("a = [\n  one  # first\n  two, // second\n  three,\n]\n");
  const auto& items = at(v, {"a"}).items();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].as_string(), "one");
  EXPECT_EQ(items[2].as_string(), "three");
}

TEST(ParserTest, QuotedStringEscapes) {
  Value v = parse_ok(R"(a = "q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 \u0041")");
  EXPECT_EQ(at(v, {"a"}).as_string(), "q\" b\\ s/ \b\f\n\r\t \xC3\xA9 \xF0\x9F\x98\x80 A");
}

TEST(ParserTest, QuotedStringsKeepEverythingUnquotedWouldNot) {
  Value v = parse_ok(R"(a = "x = 1 # not a comment // nor this, {}[]$")");
  EXPECT_EQ(at(v, {"a"}).as_string(), "x = 1 # not a comment // nor this, {}[]$");
  Value t = parse_ok("t = \"tab\there\"");
  EXPECT_EQ(at(t, {"t"}).as_string(), "tab\there");
}

TEST(ParserTest, TripleQuotedStringsSpanLinesWithoutEscapes) {
  Value v = parse_ok("cert = \"\"\"-----BEGIN-----\nab\\n\"cd\"\n-----END-----\"\"\"\nnext = 1");
  EXPECT_EQ(at(v, {"cert"}).as_string(), "-----BEGIN-----\nab\\n\"cd\"\n-----END-----");
  EXPECT_EQ(at(v, {"next"}).as_int(), 1);
  EXPECT_EQ(at(v, {"next"}).location().line, 4u);
  // Quotes right before the closing three belong to the string.
  Value q = parse_ok("q = \"\"\"\"a\"\"\"\"");
  EXPECT_EQ(at(q, {"q"}).as_string(), "\"a\"");
}

TEST(ParserTest, UnquotedStrings) {
  Value v = parse_ok(
      "bind = 127.0.0.1:1883\nname = roadmq@127.0.0.1\ndir = /var/lib/roadmq\nt = 30s\n"
      "v6 = ::1\nwin = C:\\roadmq\nword = round_robin");
  EXPECT_EQ(at(v, {"bind"}).as_string(), "127.0.0.1:1883");
  EXPECT_EQ(at(v, {"name"}).as_string(), "roadmq@127.0.0.1");
  EXPECT_EQ(at(v, {"dir"}).as_string(), "/var/lib/roadmq");
  EXPECT_EQ(at(v, {"t"}).as_string(), "30s");
  EXPECT_EQ(at(v, {"v6"}).as_string(), "::1");
  EXPECT_EQ(at(v, {"win"}).as_string(), "C:\\roadmq");
  EXPECT_EQ(at(v, {"word"}).as_string(), "round_robin");
}

TEST(ParserTest, Numbers) {
  Value v = parse_ok(
      "a = 42\nb = -7\nc = 1.5\nd = 1e3\ne = -0.25\nf = 9223372036854775807\n"
      "g = 99999999999999999999\nh = 1e999\ni = 007\nj = 1.\nk = .5\nl = +5");
  EXPECT_EQ(at(v, {"a"}).as_int(), 42);
  EXPECT_EQ(at(v, {"b"}).as_int(), -7);
  EXPECT_DOUBLE_EQ(at(v, {"c"}).as_double(), 1.5);
  EXPECT_TRUE(at(v, {"d"}).is_double());
  EXPECT_DOUBLE_EQ(at(v, {"d"}).as_double(), 1000.0);
  EXPECT_DOUBLE_EQ(at(v, {"e"}).as_double(), -0.25);
  EXPECT_EQ(at(v, {"f"}).as_int(), 9223372036854775807);
  // Too big for 64 bits: a double that remembers how it was written.
  EXPECT_TRUE(at(v, {"g"}).is_double());
  EXPECT_EQ(at(v, {"g"}).describe(), "99999999999999999999");
  // Beyond double range: left as text for the schema to reject.
  EXPECT_EQ(at(v, {"h"}).as_string(), "1e999");
  EXPECT_EQ(at(v, {"i"}).as_int(), 7);
  EXPECT_EQ(at(v, {"j"}).as_string(), "1.");
  EXPECT_EQ(at(v, {"k"}).as_string(), ".5");
  EXPECT_EQ(at(v, {"l"}).as_string(), "+5");
}

TEST(ParserTest, BooleansAndNull) {
  Value v = parse_ok("a = true\nb = false\nc = on\nd = off\ne = null\nf = True\ng = yes");
  EXPECT_TRUE(at(v, {"a"}).as_bool());
  EXPECT_FALSE(at(v, {"b"}).as_bool());
  EXPECT_TRUE(at(v, {"c"}).as_bool());
  EXPECT_FALSE(at(v, {"d"}).as_bool());
  EXPECT_EQ(at(v, {"c"}).raw(), "on");
  EXPECT_TRUE(at(v, {"e"}).is_null());
  EXPECT_EQ(at(v, {"f"}).as_string(), "True");
  EXPECT_EQ(at(v, {"g"}).as_string(), "yes");
}

TEST(ParserTest, Comments) {
  Value v = parse_ok(
      "# hash\n// slashes\na = 1 # after a value\nb = 2 // after a value\nc { # after a brace\n"
      "  d = 3 // inside\n}\nurl = \"http://x\"\n");
  EXPECT_EQ(at(v, {"a"}).as_int(), 1);
  EXPECT_EQ(at(v, {"b"}).as_int(), 2);
  EXPECT_EQ(at(v, {"c", "d"}).as_int(), 3);
  EXPECT_EQ(at(v, {"url"}).as_string(), "http://x");
  // `//` starts a comment even inside an unquoted value, as in HOCON.
  Value u = parse_ok("u = http://x");
  EXPECT_EQ(at(u, {"u"}).as_string(), "http:");
}

TEST(ParserTest, CommasAndNewlinesSeparateEntries) {
  Value v = parse_ok("a = 1, b = 2\nc { x = 1, y = 2, }\nd = 3,\ne = 4");
  EXPECT_EQ(at(v, {"b"}).as_int(), 2);
  EXPECT_EQ(at(v, {"c", "y"}).as_int(), 2);
  EXPECT_EQ(at(v, {"e"}).as_int(), 4);
}

TEST(ParserTest, QuotedKeysAreOneSegment) {
  Value v = parse_ok("\"a.b\" = 1\n\"x y\".z = 2\n\"\" = 3");
  EXPECT_EQ(at(v, {"a.b"}).as_int(), 1);
  EXPECT_EQ(at(v, {"x y", "z"}).as_int(), 2);
  EXPECT_EQ(at(v, {""}).as_int(), 3);
}

TEST(ParserTest, IncludeIsAnOrdinaryKeyUnlessAQuotedNameFollows) {
  Value v = parse_ok("include = 1\nincludes = 2\ninclude.x = 3");
  EXPECT_EQ(at(v, {"include", "x"}).as_int(), 3);
  EXPECT_EQ(at(v, {"includes"}).as_int(), 2);
}

TEST(ParserTest, BracedRoot) {
  Value v = parse_ok("{\n  a = 1\n  b { c = 2 }\n}\n");
  EXPECT_EQ(at(v, {"a"}).as_int(), 1);
  EXPECT_EQ(at(v, {"b", "c"}).as_int(), 2);
}

TEST(ParserTest, LocationsOfValuesAndKeys) {
  Value v = parse_ok("\n  mqtt {\n    max_inflight = 32\n  }\nx.y = [1]");
  const Value& n = at(v, {"mqtt", "max_inflight"});
  EXPECT_EQ(n.location().str(), "t.conf:3:20");
  EXPECT_EQ(at(v, {"mqtt"}).location().str(), "t.conf:2:8");
  EXPECT_EQ(at(v, {"mqtt"}).find_member("max_inflight")->key_location.str(), "t.conf:3:5");
  EXPECT_EQ(at(v, {"x"}).location().str(), "t.conf:5:1");
  EXPECT_EQ(at(v, {"x"}).find_member("y")->key_location.str(), "t.conf:5:3");
  EXPECT_EQ(at(v, {"x", "y"}).location().str(), "t.conf:5:7");
}

TEST(ParserTest, ColumnsCountCharactersNotBytes) {
  EXPECT_EQ(parse_err("a = \"\xC3\xBC\xE2\x82\xAC\" x"),
            "t.conf:1:10: expected ',' or a new line after the value of \"a\", got \"x\"");
}

TEST(ParserTest, CrLfLineEndingsAndByteOrderMark) {
  Value v = parse_ok(
      "\xEF\xBB\xBF"
      "a = 1\r\nb {\r\n  c = x\r\n}\r\n");
  EXPECT_EQ(at(v, {"a"}).as_int(), 1);
  EXPECT_EQ(at(v, {"a"}).location().str(), "t.conf:1:5");
  EXPECT_EQ(at(v, {"b", "c"}).as_string(), "x");
  EXPECT_EQ(parse_err("a = 1\r\nb 2\r\n"), "t.conf:2:3: expected '=' or ':' after key \"b\"");
}

TEST(ParserTest, ParseValueReadsOneValue) {
  auto list = parse_value(" [a, \"b\"] ", "env");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->items().size(), 2u);
  auto obj = parse_value("{x = 1}", "env");
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->find("x")->as_int(), 1);
  auto bad = parse_value("[a] b", "env");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().str(), "env:1:5: unexpected \"b\" after the value");
}

// ---- errors -----------------------------------------------------------------

TEST(ParserErrorTest, MissingSeparatorAfterKey) {
  EXPECT_EQ(parse_err("listeners {\n  bind 5\n}"),
            "t.conf:2:8: expected '=' or ':' after key \"bind\"");
  EXPECT_EQ(parse_err("a\nb = 1"), "t.conf:1:2: expected '=' or ':' after key \"a\"");
  EXPECT_EQ(parse_err("a.b.c"), "t.conf:1:6: expected '=' or ':' after key \"a.b.c\"");
}

TEST(ParserErrorTest, MissingValue) {
  EXPECT_EQ(parse_err("a ="), "t.conf:1:4: missing value for key \"a\"");
  EXPECT_EQ(parse_err("a = # comment\nb = 1"), "t.conf:1:5: missing value for key \"a\"");
  EXPECT_EQ(parse_err("x { a = }"), "t.conf:1:9: missing value for key \"a\"");
  EXPECT_EQ(parse_err("a = ,"), "t.conf:1:5: missing value for key \"a\"");
}

TEST(ParserErrorTest, UnterminatedStrings) {
  EXPECT_EQ(parse_err("a = \"abc"), "t.conf:1:5: unterminated string (missing '\"')");
  EXPECT_EQ(parse_err("a = \"abc\nb = 1"),
            "t.conf:1:5: unterminated string (a quoted string ends on its line; use \\n or "
            "\"\"\"...\"\"\" for several lines)");
  EXPECT_EQ(parse_err("a = \"abc\\"), "t.conf:1:5: unterminated string (missing '\"')");
  EXPECT_EQ(parse_err("\n a = \"\"\"abc\"\""), "t.conf:2:6: unterminated \"\"\" string");
}

TEST(ParserErrorTest, BadEscapes) {
  EXPECT_EQ(parse_err("a = \"x\\qy\""), "t.conf:1:7: invalid escape '\\q' in string");
  EXPECT_EQ(parse_err("a = \"\\u12\""), "t.conf:1:6: \\u must be followed by 4 hex digits");
  EXPECT_EQ(parse_err("a = \"\\ud800\""),
            "t.conf:1:6: \\u escape is a high surrogate without its low half");
  EXPECT_EQ(parse_err("a = \"\\ud800\\u0041\""),
            "t.conf:1:6: \\u escape is a high surrogate without its low half");
  EXPECT_EQ(parse_err("a = \"\\udc00\""), "t.conf:1:6: \\u escape is a lone low surrogate");
}

TEST(ParserErrorTest, ControlCharacterInString) {
  EXPECT_EQ(parse_err(std::string("a = \"x\x01\"")),
            "t.conf:1:7: control character 0x01 in string; write it as an escape");
}

TEST(ParserErrorTest, UnclosedBrackets) {
  EXPECT_EQ(parse_err("a {\n  b = 1\n"), "t.conf:1:3: '{' is never closed (missing '}')");
  EXPECT_EQ(parse_err("a = [1,\n 2"), "t.conf:1:5: '[' is never closed (missing ']')");
  EXPECT_EQ(parse_err("{ a = 1"), "t.conf:1:1: '{' is never closed (missing '}')");
}

TEST(ParserErrorTest, StrayClosingBrace) {
  EXPECT_EQ(parse_err("a = 1\n}"), "t.conf:2:1: unexpected '}' (no '{' to close)");
  EXPECT_EQ(parse_err("{ a = 1 } x"), "t.conf:1:11: unexpected \"x\" after the closing '}'");
}

TEST(ParserErrorTest, TwoEntriesOnOneLine) {
  EXPECT_EQ(parse_err("a = 1 b = 2"),
            "t.conf:1:7: expected ',' or a new line after the value of \"a\", got \"b\"");
  EXPECT_EQ(parse_err("a = foo bar"),
            "t.conf:1:9: expected ',' or a new line after the value of \"a\", got \"bar\"");
  EXPECT_EQ(parse_err("a { x = 1 } b = 2"),
            "t.conf:1:13: expected ',' or a new line after the value of \"a\", got \"b\"");
  EXPECT_EQ(parse_err("a = x=y"),
            "t.conf:1:6: expected ',' or a new line after the value of \"a\", got '='");
}

TEST(ParserErrorTest, BadListSeparators) {
  EXPECT_EQ(parse_err("a = [1 2]"),
            "t.conf:1:8: expected ',' or ']' after a list element, got \"2\"");
  EXPECT_EQ(parse_err("a = [1,,2]"), "t.conf:1:8: unexpected ',' (expected a list element)");
  EXPECT_EQ(parse_err("a = [,]"), "t.conf:1:6: unexpected ',' (expected a list element)");
}

TEST(ParserErrorTest, DoubleComma) {
  EXPECT_EQ(parse_err("a = 1,, b = 2"), "t.conf:1:7: unexpected ',' (expected a key)");
  EXPECT_EQ(parse_err(", a = 1"), "t.conf:1:1: unexpected ',' (expected a key)");
}

TEST(ParserErrorTest, BadKeys) {
  EXPECT_EQ(parse_err("= 1"), "t.conf:1:1: expected a key, got '='");
  EXPECT_EQ(parse_err("[a] = 1"), "t.conf:1:1: expected a key, got '['");
  EXPECT_EQ(parse_err("a. = 1"), "t.conf:1:3: expected a key after '.', got a space");
  EXPECT_EQ(parse_err("a..b = 1"), "t.conf:1:3: expected a key after '.', got '.'");
  EXPECT_EQ(parse_err("a@b = 1"),
            "t.conf:1:2: unexpected '@' in key \"a\" (quote keys that contain it)");
  EXPECT_EQ(parse_err("\"\"\"k\"\"\" = 1"), "t.conf:1:1: a key cannot be a \"\"\" string");
}

TEST(ParserErrorTest, UnsupportedHoconFeatures) {
  EXPECT_EQ(parse_err("a = ${b}"),
            "t.conf:1:5: substitutions (${...}) are not supported; quote the value if '$' is "
            "meant literally");
  EXPECT_EQ(parse_err("a += 1"), "t.conf:1:3: '+=' is not supported; write the whole list");
}

TEST(ParserErrorTest, InvalidUtf8) {
  EXPECT_EQ(parse_err("a = 1\nb = \"\xFF\""), "t.conf:2:6: invalid UTF-8 (byte 0xFF)");
  EXPECT_EQ(parse_err("a = \xC0\x80"), "t.conf:1:5: invalid UTF-8 (byte 0xC0)");  // overlong NUL
  EXPECT_EQ(parse_err("a = \xED\xA0\x80"), "t.conf:1:5: invalid UTF-8 (byte 0xED)");  // surrogate
  EXPECT_EQ(parse_err("\xC3"), "t.conf:1:1: invalid UTF-8 (byte 0xC3)");              // truncated
}

TEST(ParserErrorTest, ControlCharactersOutsideStrings) {
  EXPECT_EQ(parse_err(std::string("a = \0", 5)),
            "t.conf:1:5: expected a value, got control character 0x00");
  EXPECT_EQ(parse_err(std::string("\x01 = 1")),
            "t.conf:1:1: expected a key, got control character 0x01");
}

TEST(ParserErrorTest, NestingDepthIsBounded) {
  std::string ok = "a = " + std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(parse(ok, "t.conf").has_value());
  std::string deep = "a = " + std::string(100, '[');
  EXPECT_EQ(parse_err(deep), "t.conf:1:69: nesting is too deep (more than 64 levels)");
  std::string braces;
  for (int i = 0; i < 100; ++i) braces += "a {";
  EXPECT_EQ(parse_err(braces), "t.conf:1:193: nesting is too deep (more than 64 levels)");
  std::string dotted = "a";
  for (int i = 0; i < 100; ++i) dotted += ".a";
  EXPECT_EQ(parse_err(dotted + " = 1"), "t.conf:1:1: key has too many segments (more than 64)");
}

TEST(ParserErrorTest, IncludeNeedsALoader) {
  EXPECT_EQ(parse_err("a = 1\ninclude \"other.conf\""),
            "t.conf:2:1: include is not available here");
}

// ---- files and includes -----------------------------------------------------

class ParserFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("roadmq_parser_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ParserFileTest, MissingFileNamesThePath) {
  auto r = parse_file((dir_ / "nope.conf").string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(),
            "cannot read " + (dir_ / "nope.conf").string() + ": No such file or directory");
}

TEST_F(ParserFileTest, DirectoryIsNotAFile) {
  auto r = parse_file(dir_.string());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(), "cannot read " + dir_.string() + ": Is a directory");
}

TEST_F(ParserFileTest, IncludesResolveRelativeToTheIncludingFile) {
  write("sub/mqtt.conf", "max_inflight = 64\ninclude \"deeper.conf\"\n");
  write("sub/deeper.conf", "retry_interval = 5s\n");
  std::string main = write("main.conf",
                           "a = 1\nmqtt {\n  max_inflight = 1\n  include \"sub/mqtt.conf\"\n}\n"
                           "mqtt.max_qos_allowed = 1\n");
  auto r = parse_file(main);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(at(*r, {"mqtt", "max_inflight"}).as_int(), 64);
  EXPECT_EQ(at(*r, {"mqtt", "retry_interval"}).as_string(), "5s");
  EXPECT_EQ(at(*r, {"mqtt", "max_qos_allowed"}).as_int(), 1);
  EXPECT_EQ(at(*r, {"mqtt", "retry_interval"}).location().str(),
            (dir_ / "sub/deeper.conf").string() + ":1:18");
}

TEST_F(ParserFileTest, LaterKeysOverrideIncludedOnes) {
  write("base.conf", "x = 1\ny = 2\n");
  std::string main = write("main.conf", "include \"base.conf\"\ny = 3\n");
  auto r = parse_file(main);
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(at(*r, {"x"}).as_int(), 1);
  EXPECT_EQ(at(*r, {"y"}).as_int(), 3);
}

TEST_F(ParserFileTest, ErrorsInIncludedFilesPointIntoThem) {
  write("bad.conf", "\n  x 1\n");
  std::string main = write("main.conf", "include \"bad.conf\"\n");
  auto r = parse_file(main);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(),
            (dir_ / "bad.conf").string() + ":2:5: expected '=' or ':' after key \"x\"");
}

TEST_F(ParserFileTest, MissingIncludeIsAnError) {
  std::string main = write("main.conf", "a = 1\n  include \"gone.conf\"\n");
  auto r = parse_file(main);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().str(), main + ":2:3: cannot include \"gone.conf\": cannot read " +
                                 (dir_ / "gone.conf").string() + ": No such file or directory");
}

TEST_F(ParserFileTest, IncludeCyclesStop) {
  std::string a = write("a.conf", "include \"b.conf\"\n");
  write("b.conf", "include \"a.conf\"\n");
  auto r = parse_file(a);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("includes nested more than 8 deep"), std::string::npos)
      << r.error().str();
}

}  // namespace
}  // namespace roadmq::config
