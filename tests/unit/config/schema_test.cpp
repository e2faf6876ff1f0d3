// The generic schema layer: conversions, errors with locations, defaults,
// maps of named entries, lookups.
#include "config/schema.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "config/parser.hpp"

namespace roadmq::config {
namespace {

using namespace std::chrono_literals;

Schema make_schema() {
  Schema s;
  s.add("mqtt.max_inflight", spec::integer(1, 65535, "32", "inflight"));
  s.add("mqtt.retry_interval", spec::duration(1s, 1h, "30s", "retry"));
  s.add("mqtt.keepalive", spec::duration(1s, 65535s, "disabled", "keepalive")
                              .or_disabled()
                              .bare_integers(BareInteger::seconds));
  s.add("mqtt.tick",
        spec::duration(0ms, 1h, "100", "tick").bare_integers(BareInteger::milliseconds));
  s.add("mqtt.max_packet_size", spec::size(ByteSize{16}, megabytes(256), "1MB", "packet"));
  s.add("mqtt.multiplier", spec::floating(1.0, 10.0, "1.5", "multiplier"));
  s.add("mqtt.strategy", spec::enumeration({"random", "round_robin"}, "round_robin", "strategy"));
  s.add("mqtt.enabled", spec::boolean("true", "enabled"));
  s.add("mqtt.high_watermark", spec::percent("80%", "watermark"));
  s.add("node.name", spec::string("\"n@h\"", "name"));
  s.add("node.tags", spec::string_list("[]", "tags"));
  s.add("node.cookie", spec::string("", "cookie").required());
  Schema entry;
  entry.add("bind", spec::string("", "bind").required());
  entry.add("enable", spec::boolean("true", "enable"));
  s.add_map("listeners.tcp", std::move(entry), "tcp listeners",
            R"(default { bind = "0.0.0.0:1883" })");
  return s;
}

const Schema& schema() {
  static const Schema kSchema = make_schema();
  return kSchema;
}

Resolved valid(std::string_view text) {
  auto tree = parse(text, "t.conf");
  EXPECT_TRUE(tree) << tree.error().str();
  auto r = schema().validate(tree ? *tree : Value::object());
  EXPECT_TRUE(r) << (r ? "" : join(r.error()));
  return r ? *r : Resolved{};
}

// All errors, one per line.
std::string errors(std::string_view text) {
  auto tree = parse(text, "t.conf");
  EXPECT_TRUE(tree) << tree.error().str();
  if (!tree) return {};
  auto r = schema().validate(*tree);
  EXPECT_FALSE(r) << "validated: " << text;
  return r ? std::string() : join(r.error());
}

template <class T>
T get(const Resolved& r, std::string_view path) {
  const ResolvedValue* v = r.find(path);
  EXPECT_NE(v, nullptr) << path;
  if (!v) return T{};
  const T* t = std::get_if<T>(&v->value);
  EXPECT_NE(t, nullptr) << path;
  return t ? *t : T{};
}

constexpr const char* kCookie = "node.cookie = secret\n";

TEST(SchemaTest, DefaultsFillEveryUnsetKey) {
  Resolved r = valid(kCookie);
  EXPECT_EQ(get<std::int64_t>(r, "mqtt.max_inflight"), 32);
  EXPECT_EQ(get<Duration>(r, "mqtt.retry_interval"), Duration(30s));
  EXPECT_EQ(get<std::optional<Duration>>(r, "mqtt.keepalive"), std::nullopt);
  EXPECT_EQ(get<Duration>(r, "mqtt.tick"), Duration(100));
  EXPECT_EQ(get<ByteSize>(r, "mqtt.max_packet_size"), megabytes(1));
  EXPECT_DOUBLE_EQ(get<double>(r, "mqtt.multiplier"), 1.5);
  EXPECT_EQ(get<std::string>(r, "mqtt.strategy"), "round_robin");
  EXPECT_TRUE(get<bool>(r, "mqtt.enabled"));
  EXPECT_DOUBLE_EQ(get<double>(r, "mqtt.high_watermark"), 0.8);
  EXPECT_EQ(get<std::string>(r, "node.name"), "n@h");
  EXPECT_TRUE(get<std::vector<std::string>>(r, "node.tags").empty());
  EXPECT_TRUE(r.find("mqtt.max_inflight")->from_default);
  EXPECT_FALSE(r.find("mqtt.max_inflight")->origin.has_position());
}

TEST(SchemaTest, SetValuesRememberWhereTheyCameFrom) {
  Resolved r = valid("node.cookie = secret\nmqtt {\n  max_inflight = 64\n}\n");
  EXPECT_EQ(get<std::int64_t>(r, "mqtt.max_inflight"), 64);
  EXPECT_FALSE(r.find("mqtt.max_inflight")->from_default);
  EXPECT_EQ(r.find("mqtt.max_inflight")->origin.str(), "t.conf:3:18");
}

TEST(SchemaTest, TypedConversions) {
  Resolved r = valid(
      "node.cookie = secret\n"
      "mqtt { retry_interval = 1h, keepalive = 60, tick = 5, max_packet_size = 64KB,\n"
      "       multiplier = 2, strategy = random, enabled = off, high_watermark = \"12.5%\" }\n"
      "node { name = 1.50, tags = [a, \"b c\", 3, on] }\n");
  EXPECT_EQ(get<Duration>(r, "mqtt.retry_interval"), Duration(1h));
  EXPECT_EQ(get<std::optional<Duration>>(r, "mqtt.keepalive"), Duration(60s));
  EXPECT_EQ(get<Duration>(r, "mqtt.tick"), Duration(5));
  EXPECT_EQ(get<ByteSize>(r, "mqtt.max_packet_size"), kilobytes(64));
  EXPECT_DOUBLE_EQ(get<double>(r, "mqtt.multiplier"), 2.0);
  EXPECT_EQ(get<std::string>(r, "mqtt.strategy"), "random");
  EXPECT_FALSE(get<bool>(r, "mqtt.enabled"));
  EXPECT_DOUBLE_EQ(get<double>(r, "mqtt.high_watermark"), 0.125);
  // A string key keeps exactly what was written.
  EXPECT_EQ(get<std::string>(r, "node.name"), "1.50");
  EXPECT_EQ(get<std::vector<std::string>>(r, "node.tags"),
            (std::vector<std::string>{"a", "b c", "3", "on"}));
}

TEST(SchemaTest, NumbersAndBooleansMayBeQuoted) {
  Resolved r = valid(
      "node.cookie = secret\nmqtt { max_inflight = \"64\", enabled = \"false\", "
      "multiplier = \"2.5\", keepalive = \"30\", max_packet_size = 512 }");
  EXPECT_EQ(get<std::int64_t>(r, "mqtt.max_inflight"), 64);
  EXPECT_FALSE(get<bool>(r, "mqtt.enabled"));
  EXPECT_DOUBLE_EQ(get<double>(r, "mqtt.multiplier"), 2.5);
  EXPECT_EQ(get<std::optional<Duration>>(r, "mqtt.keepalive"), Duration(30s));
  EXPECT_EQ(get<ByteSize>(r, "mqtt.max_packet_size"), ByteSize{512});
}

TEST(SchemaTest, NullMeansUnset) {
  Resolved r = valid("node.cookie = secret\nmqtt.max_inflight = 64\nmqtt.max_inflight = null");
  EXPECT_EQ(get<std::int64_t>(r, "mqtt.max_inflight"), 32);
}

TEST(SchemaErrorTest, UnknownKeyWithSuggestion) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt {\n  max_inflightt = 5\n}"),
            "t.conf:3:3: unknown key \"mqtt.max_inflightt\" (did you mean \"mqtt.max_inflight\"?)");
  EXPECT_EQ(errors("node.cookie = x\nmqt.max_inflight = 5"),
            "t.conf:2:1: unknown key \"mqt\" (did you mean \"mqtt\"?)");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflgiht = 5"),
            "t.conf:2:6: unknown key \"mqtt.max_inflgiht\" (did you mean \"mqtt.max_inflight\"?)");
}

TEST(SchemaErrorTest, UnknownKeyFarFromAnyHasNoSuggestion) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt.zzz = 5"), "t.conf:2:6: unknown key \"mqtt.zzz\"");
}

TEST(SchemaErrorTest, KeyInTheWrongPlaceSuggestsItsHome) {
  EXPECT_EQ(errors("node.cookie = x\nmax_inflight = 5"),
            "t.conf:2:1: unknown key \"max_inflight\" (did you mean \"mqtt.max_inflight\"?)");
}

TEST(SchemaErrorTest, UnknownKeyInsideAMapEntry) {
  EXPECT_EQ(errors("node.cookie = x\nlisteners.tcp.a { bind = 1, enabel = true }"),
            "t.conf:2:29: unknown key \"listeners.tcp.a.enabel\" (did you mean "
            "\"listeners.tcp.a.enable\"?)");
}

TEST(SchemaErrorTest, IntegerRangeAndType) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = abc"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got \"abc\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = 0"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got 0");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = 70000"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got 70000");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = 1.5"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got 1.5");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = [1]"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got a list");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_inflight = 99999999999999999999"),
            "t.conf:2:21: mqtt.max_inflight: expected an integer in 1..65535, got "
            "99999999999999999999");
}

TEST(SchemaErrorTest, DurationErrors) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt.retry_interval = 30"),
            "t.conf:2:23: mqtt.retry_interval: expected a duration in 1s..1h (e.g. 30s, 500ms, "
            "5m, 2h, 1d), got 30 (add a unit, e.g. 30s or 30ms)");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.retry_interval = 2h"),
            "t.conf:2:23: mqtt.retry_interval: expected a duration in 1s..1h (e.g. 30s, 500ms, "
            "5m, 2h, 1d), got \"2h\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.retry_interval = soon"),
            "t.conf:2:23: mqtt.retry_interval: expected a duration in 1s..1h (e.g. 30s, 500ms, "
            "5m, 2h, 1d), got \"soon\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.keepalive = never"),
            "t.conf:2:18: mqtt.keepalive: expected \"disabled\" or a duration in 1s..65535s (e.g. "
            "30s, 500ms, 5m; a bare number counts seconds), got \"never\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.keepalive = -5"),
            "t.conf:2:18: mqtt.keepalive: expected \"disabled\" or a duration in 1s..65535s (e.g. "
            "30s, 500ms, 5m; a bare number counts seconds), got -5");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.keepalive = 9223372036854775807"),
            "t.conf:2:18: mqtt.keepalive: expected \"disabled\" or a duration in 1s..65535s (e.g. "
            "30s, 500ms, 5m; a bare number counts seconds), got 9223372036854775807");
}

TEST(SchemaErrorTest, SizeErrors) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_packet_size = 1XB"),
            "t.conf:2:24: mqtt.max_packet_size: expected a size in 16B..256MB (e.g. 512, 64KB, "
            "1MB), got \"1XB\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_packet_size = 1GB"),
            "t.conf:2:24: mqtt.max_packet_size: expected a size in 16B..256MB (e.g. 512, 64KB, "
            "1MB), got \"1GB\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.max_packet_size = -1"),
            "t.conf:2:24: mqtt.max_packet_size: expected a size in 16B..256MB (e.g. 512, 64KB, "
            "1MB), got -1");
}

TEST(SchemaErrorTest, OtherKinds) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt.enabled = maybe"),
            "t.conf:2:16: mqtt.enabled: expected true or false, got \"maybe\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.multiplier = 0.5"),
            "t.conf:2:19: mqtt.multiplier: expected a number in 1..10, got 0.5");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.strategy = round_robbin"),
            "t.conf:2:17: mqtt.strategy: expected one of random, round_robin, got "
            "\"round_robbin\" (did you mean \"round_robin\"?)");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.strategy = sticky"),
            "t.conf:2:17: mqtt.strategy: expected one of random, round_robin, got \"sticky\"");
  EXPECT_EQ(errors("node.cookie = x\nmqtt.high_watermark = 120%"),
            "t.conf:2:23: mqtt.high_watermark: expected a percentage in 0%..100% (e.g. 80%), got "
            "\"120%\"");
  EXPECT_EQ(errors("node.cookie = x\nnode.tags = a"),
            "t.conf:2:13: node.tags: expected a list of strings, got \"a\"");
  EXPECT_EQ(errors("node.cookie = x\nnode.tags = [a, {}]"),
            "t.conf:2:13: node.tags: expected a list of strings, got a list containing an object");
  EXPECT_EQ(errors("node.cookie = x\nnode.name = {}"),
            "t.conf:2:13: node.name: expected a string, got an object");
}

TEST(SchemaErrorTest, GroupMustBeAnObject) {
  EXPECT_EQ(errors("node.cookie = x\nmqtt = 5"), "t.conf:2:8: mqtt: expected an object, got 5");
  EXPECT_EQ(errors("node.cookie = x\nlisteners.tcp = 5"),
            "t.conf:2:17: listeners.tcp: expected an object, got 5");
  EXPECT_EQ(errors("node.cookie = x\nlisteners.tcp.a = 5"),
            "t.conf:2:19: listeners.tcp.a: expected an object, got 5");
}

TEST(SchemaErrorTest, RequiredKeys) {
  EXPECT_EQ(errors("mqtt {}"), "t.conf:1:1: node.cookie: required key is missing");
  EXPECT_EQ(errors("node {\n}"), "t.conf:1:6: node.cookie: required key is missing");
  EXPECT_EQ(errors("node.cookie = x\nlisteners.tcp.extra {\n  enable = false\n}"),
            "t.conf:2:21: listeners.tcp.extra.bind: required key is missing");
}

TEST(SchemaErrorTest, EveryErrorIsReportedInFileOrder) {
  EXPECT_EQ(errors("mqtt {\n  max_inflight = 0\n  retry_interval = x\n}\nbogus = 1\n"),
            "t.conf:1:1: node.cookie: required key is missing\n"
            "t.conf:2:18: mqtt.max_inflight: expected an integer in 1..65535, got 0\n"
            "t.conf:3:20: mqtt.retry_interval: expected a duration in 1s..1h (e.g. 30s, 500ms, "
            "5m, 2h, 1d), got \"x\"\n"
            "t.conf:5:1: unknown key \"bogus\"");
}

TEST(SchemaErrorTest, BadEntryNames) {
  EXPECT_EQ(errors("node.cookie = x\nlisteners.tcp.\"a b\" { bind = 1 }"),
            "t.conf:2:15: listeners.tcp: invalid name \"a b\" (use up to 64 letters, digits, "
            "'_' and '-')");
}

TEST(SchemaErrorTest, TopLevelMustBeAnObject) {
  auto r = schema().validate(Value::integer(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(join(r.error()), "expected an object at the top level");
}

TEST(SchemaMapTest, DefaultEntriesExistUnlessRemoved) {
  Resolved r = valid(kCookie);
  EXPECT_EQ(r.entries("listeners.tcp"), std::vector<std::string>{"default"});
  EXPECT_EQ(get<std::string>(r, "listeners.tcp.default.bind"), "0.0.0.0:1883");
  EXPECT_TRUE(get<bool>(r, "listeners.tcp.default.enable"));
  EXPECT_TRUE(r.find("listeners.tcp.default.bind")->from_default);

  Resolved removed = valid("node.cookie = x\nlisteners.tcp.default = null");
  EXPECT_TRUE(removed.entries("listeners.tcp").empty());
}

TEST(SchemaMapTest, UserEntriesMergeOverDefaultsAndAddNewOnes) {
  Resolved r = valid(
      "node.cookie = x\nlisteners.tcp.default.enable = false\n"
      "listeners.tcp { b2 { bind = 1884 }, a1 { bind = \"[::1]:1885\" } }");
  EXPECT_EQ(r.entries("listeners.tcp"), (std::vector<std::string>{"a1", "b2", "default"}));
  EXPECT_EQ(get<std::string>(r, "listeners.tcp.default.bind"), "0.0.0.0:1883");
  EXPECT_FALSE(get<bool>(r, "listeners.tcp.default.enable"));
  EXPECT_EQ(get<std::string>(r, "listeners.tcp.b2.bind"), "1884");
  EXPECT_TRUE(get<bool>(r, "listeners.tcp.b2.enable"));
  EXPECT_EQ(r.find("listeners.tcp.b2.bind")->origin.str(), "t.conf:3:29");
}

TEST(SchemaLookupTest, ClassifiesPaths) {
  using What = Schema::Lookup::What;
  EXPECT_EQ(schema().lookup({"mqtt", "max_inflight"}).what, What::leaf);
  EXPECT_EQ(schema().lookup({"mqtt"}).what, What::group);
  EXPECT_EQ(schema().lookup({"listeners", "tcp"}).what, What::map);
  EXPECT_EQ(schema().lookup({"listeners", "tcp", "x"}).what, What::map_entry);
  EXPECT_EQ(schema().lookup({"listeners", "tcp", "x", "bind"}).what, What::leaf);
  EXPECT_EQ(schema().lookup({"listeners", "tcp", "x", "bnd"}).suggestion, "listeners.tcp.x.bind");
  auto typo = schema().lookup({"mqtt", "max_inflightt"});
  EXPECT_EQ(typo.what, What::unknown);
  EXPECT_EQ(typo.suggestion, "mqtt.max_inflight");
  auto too_deep = schema().lookup({"mqtt", "max_inflight", "x"});
  EXPECT_EQ(too_deep.what, What::unknown);
  EXPECT_EQ(too_deep.suggestion, "mqtt.max_inflight");
}

TEST(SchemaTest, ForEachKeyListsLeavesWithMapPlaceholders) {
  std::vector<std::string> keys;
  schema().for_each_key([&](const std::string& path, const KeySpec&) { keys.push_back(path); });
  EXPECT_EQ(keys.front(), "mqtt.max_inflight");
  EXPECT_NE(std::find(keys.begin(), keys.end(), "listeners.tcp.<name>.bind"), keys.end());
  EXPECT_EQ(keys.size(), 14u);
}

TEST(SchemaTest, ChecksRunOnConvertedValues) {
  Schema s;
  s.add("port", spec::integer(0, 65535, "1", "port").with_check([](const Typed& t) {
    return std::get<std::int64_t>(t) % 2 == 0 ? std::optional<std::string>("must be odd")
                                              : std::nullopt;
  }));
  auto tree = parse("port = 8", "t.conf");
  ASSERT_TRUE(tree);
  auto r = s.validate(*tree);
  ASSERT_FALSE(r);
  EXPECT_EQ(join(r.error()), "t.conf:1:8: port: must be odd");
}

TEST(EditDistanceTest, Values) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("max_inflight", "max_inflightt"), 1u);
  EXPECT_EQ(edit_distance("max_inflight", "max_inflgiht"), 1u);  // a swap
  EXPECT_EQ(edit_distance("Bind", "bind"), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace roadmq::config
