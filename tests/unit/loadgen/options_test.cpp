#include "loadgen/options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roadmq::loadgen {
namespace {

Expected<CommandLine, std::string> parse(std::vector<std::string_view> args) {
  return parse_command_line(args);
}

std::string error_of(std::vector<std::string_view> args) {
  auto r = parse(std::move(args));
  return r ? std::string("<accepted>") : r.error();
}

TEST(LoadgenOptions, PubDefaultsAndValues) {
  auto r = parse({"pub", "-h", "10.0.0.1", "-p", "1884", "-c", "8", "-q", "1", "--size=1KB",
                  "--rate", "5000", "-d", "2.5s", "-V", "3.1.1", "--count", "100"});
  ASSERT_TRUE(r) << r.error();
  const Options& o = r->options;
  EXPECT_EQ(o.command, Command::pub);
  EXPECT_EQ(o.host, "10.0.0.1");
  EXPECT_EQ(o.port, 1884);
  EXPECT_EQ(o.clients, 8u);
  EXPECT_EQ(o.qos, 1);
  EXPECT_EQ(o.payload_size, 1024u);
  EXPECT_EQ(o.rate, 5000.0);
  EXPECT_EQ(o.duration, Millis(2500));
  EXPECT_EQ(o.version, mqtt::ProtocolVersion::v3_1_1);
  EXPECT_EQ(o.count, 100u);
  ASSERT_EQ(o.topics.size(), 1u);
  EXPECT_EQ(o.topics[0], "bench/%i");
  EXPECT_FALSE(o.client_prefix.empty());
  EXPECT_EQ(o.inflight, 64);
}

TEST(LoadgenOptions, IntervalSetsTheTotalRate) {
  auto r = parse({"pub", "-c", "10", "--interval", "100ms"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_DOUBLE_EQ(r->options.rate, 100.0);
  EXPECT_NE(error_of({"pub", "--interval", "1s", "--rate", "5"}).find("not both"),
            std::string::npos);
}

TEST(LoadgenOptions, SubSharedFiltersAndSeveralTopics) {
  auto r = parse({"sub", "-t", "a/#", "-t", "b/+/c", "--shared", "g1", "--idle-exit", "1s"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->options.topics, (std::vector<std::string>{"$share/g1/a/#", "$share/g1/b/+/c"}));
  EXPECT_EQ(r->options.idle_exit, Millis(1000));
  auto s = parse({"sub", "-t", "$share/g/x/#"});
  ASSERT_TRUE(s) << s.error();
}

TEST(LoadgenOptions, FleetForcesPersistentSessions) {
  auto r =
      parse({"fleet", "--vehicles", "30", "--disconnect-rate", "0.2", "--downlink-rate", "20"});
  ASSERT_TRUE(r) << r.error();
  const Options& o = r->options;
  EXPECT_EQ(o.clients, 30u);
  EXPECT_FALSE(o.clean_start);
  EXPECT_EQ(o.session_expiry, 3600u);
  EXPECT_EQ(o.payload_size, 200u);
  EXPECT_EQ(o.fleet.platform_filter, "vehicle/+/up");
  auto d = parse({"fleet"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->options.clients, 100u);
}

TEST(LoadgenOptions, HelpAndVersion) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->action, CommandLine::Action::help);
  auto hp = parse({"pub", "--rate", "5", "--help"});
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->action, CommandLine::Action::help);
  EXPECT_EQ(hp->help_for, Command::pub);
  EXPECT_NE(help_text(Command::pub).find("--rate"), std::string::npos);
  EXPECT_EQ(help_text(Command::sub).find("--rate"), std::string::npos);
  EXPECT_NE(help_text(std::nullopt).find("TLS is not implemented"), std::string::npos);
  auto v = parse({"--version"});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->action, CommandLine::Action::version);
}

struct BadCase {
  std::vector<std::string_view> args;
  std::string_view message;  // a part of the error
};

class LoadgenOptionErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(LoadgenOptionErrors, Refused) {
  const std::string e = error_of(GetParam().args);
  EXPECT_NE(e, "<accepted>");
  EXPECT_NE(e.find(GetParam().message), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(
    All, LoadgenOptionErrors,
    ::testing::Values(
        BadCase{{}, "no command"}, BadCase{{"blast"}, "unknown command"},
        BadCase{{"pub", "--frobnicate"}, "unknown option --frobnicate"},
        BadCase{{"pub", "-Z"}, "unknown option -Z"}, BadCase{{"pub", "-q"}, "needs a value"},
        BadCase{{"pub", "-q", "3"}, "out of range"}, BadCase{{"pub", "-c", "0"}, "out of range"},
        BadCase{{"pub", "-c", "ten"}, "not a whole number"},
        BadCase{{"pub", "-p", "70000"}, "out of range"}, BadCase{{"pub", "--size", "16"}, "32"},
        BadCase{{"pub", "--size", "3XB"}, "unknown size unit"},
        BadCase{{"pub", "-d", "5 parsecs"}, "unknown duration unit"},
        BadCase{{"pub", "-d", "soon"}, "not a duration"},
        BadCase{{"pub", "--rate", "-1"}, "out of range"},
        BadCase{{"pub", "-t", "a/+/b"}, "not a valid topic name"},
        BadCase{{"pub", "-t", "a", "-t", "b"}, "one --topic"},
        BadCase{{"sub", "-t", "a/#/b"}, "not a valid topic filter"},
        BadCase{{"sub", "--rate", "5"}, "does not apply to sub"},
        BadCase{{"conn", "-t", "x"}, "does not apply to conn"},
        BadCase{{"sub", "--shared", "g", "-t", "$share/h/x"}, "already shared"},
        BadCase{{"pub", "--tls"}, "TLS is not implemented"},
        BadCase{{"pub", "-V", "3.1"}, "3.1.1 or 5"},
        BadCase{{"pub", "-P", "secret"}, "needs --username"},
        BadCase{{"pub", "-V", "3.1.1", "--session-expiry", "60"}, "MQTT 5 only"},
        BadCase{{"pub", "--ifaddr", "127.0.0.1,not-an-ip"}, "not a numeric"},
        BadCase{{"pub", "--retain=yes"}, "takes no value"},
        BadCase{{"pub", "stray"}, "unexpected argument"}, BadCase{{"fleet", "-q", "2"}, "0 or 1"},
        BadCase{{"fleet", "--idle-ratio", "1.5"}, "out of range"},
        BadCase{{"fleet", "--outage-min", "5s", "--outage-max", "1s"}, "--outage-min"},
        BadCase{{"fleet", "--uplink-topic", "cars/up"}, "{vin}"},
        BadCase{{"fleet", "--session-expiry", "0"}, "above 0"},
        BadCase{{"pub", "--threads", "0"}, "out of range"},
        BadCase{{"pub", "--inflight", "20000"}, "out of range"}));

TEST(LoadgenOptions, DurationsAndSizes) {
  EXPECT_EQ(*parse_duration("250ms"), Millis(250));
  EXPECT_EQ(*parse_duration("10"), Millis(10000));
  EXPECT_EQ(*parse_duration("1.5s"), Millis(1500));
  EXPECT_EQ(*parse_duration("2m"), Millis(120000));
  EXPECT_EQ(*parse_duration("1h"), Millis(3600000));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("ms"));
  EXPECT_EQ(*parse_size("256"), 256u);
  EXPECT_EQ(*parse_size("4KB"), 4096u);
  EXPECT_EQ(*parse_size("1mb"), 1u << 20);
  EXPECT_FALSE(parse_size("-1"));
}

TEST(LoadgenOptions, TemplatesAndVins) {
  EXPECT_EQ(make_vin("RMQB", 42), "RMQB0000000000042");
  EXPECT_EQ(make_vin("RMQB", 42).size(), 17u);
  EXPECT_EQ(make_vin("AVERYLONGPREFIX16", 7), "AVERYLONGPREFIX167");
  EXPECT_EQ(expand_template("vehicle/{vin}/up", 3, "V3", "c3"), "vehicle/V3/up");
  EXPECT_EQ(expand_template("t/%i/%c/%%i", 12, "", "cid"), "t/12/cid/%12");
}

}  // namespace
}  // namespace roadmq::loadgen
