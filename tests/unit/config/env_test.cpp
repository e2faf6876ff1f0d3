// EMQX-style environment overrides, with the environment passed in.
#include "config/env.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "config/parser.hpp"
#include "config/settings.hpp"

namespace roadmq::config {
namespace {

using namespace std::chrono_literals;

Settings load(std::string_view text, const std::vector<std::string>& env) {
  auto s = settings_from_text(text, "t.conf", env);
  EXPECT_TRUE(s) << (s ? "" : join(s.error()));
  return s ? *s : Settings{};
}

std::string load_error(std::string_view text, const std::vector<std::string>& env) {
  auto s = settings_from_text(text, "t.conf", env);
  EXPECT_FALSE(s);
  return s ? std::string() : join(s.error());
}

TEST(EnvTest, OverridesAListenerBind) {
  Settings s = load("", {"ROADMQ_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:18830"});
  EXPECT_EQ(s.listeners.tcp.at("default").bind, "127.0.0.1:18830");
}

TEST(EnvTest, OverridesTheFile) {
  Settings s = load("node.data_dir = /var/lib/roadmq\nmqtt.max_inflight = 10",
                    {"ROADMQ_NODE__DATA_DIR=/tmp/x", "ROADMQ_MQTT__MAX_INFLIGHT=64"});
  EXPECT_EQ(s.node.data_dir, "/tmp/x");
  EXPECT_EQ(s.mqtt.max_inflight, 64);
}

TEST(EnvTest, ValuesAreTypedByTheSchema) {
  Settings s =
      load("", {"ROADMQ_MQTT__RETRY_INTERVAL=5s", "ROADMQ_MQTT__MAX_PACKET_SIZE=64KB",
                "ROADMQ_MQTT__RETAIN_AVAILABLE=off", "ROADMQ_MQTT__KEEPALIVE_MULTIPLIER=2.5",
                "ROADMQ_MQTT__SHARED_SUBSCRIPTION_STRATEGY=sticky",
                "ROADMQ_MQTT__SERVER_KEEPALIVE=60", "ROADMQ_LOG__LEVEL=debug"});
  EXPECT_EQ(s.mqtt.retry_interval, Duration(5s));
  EXPECT_EQ(s.mqtt.max_packet_size, kilobytes(64));
  EXPECT_FALSE(s.mqtt.retain_available);
  EXPECT_DOUBLE_EQ(s.mqtt.keepalive_multiplier, 2.5);
  EXPECT_EQ(s.mqtt.shared_subscription_strategy, SharedSubscriptionStrategy::sticky);
  EXPECT_EQ(s.mqtt.server_keepalive, Duration(60s));
  EXPECT_EQ(s.log.level, LogLevel::debug);
}

TEST(EnvTest, AddsAListener) {
  Settings s = load("", {"ROADMQ_LISTENERS__TCP__EXTRA__BIND=1884"});
  ASSERT_EQ(s.listeners.tcp.size(), 2u);
  EXPECT_EQ(s.listeners.tcp.at("extra").bind, "1884");
  EXPECT_TRUE(s.listeners.tcp.at("extra").enable);
}

TEST(EnvTest, PlainValuesAreTakenLiterally) {
  Settings s = load("", {"ROADMQ_NODE__DATA_DIR=/tmp/my dir#1 // x", "ROADMQ_NODE__NAME=a@b  "});
  EXPECT_EQ(s.node.data_dir, "/tmp/my dir#1 // x");
  EXPECT_EQ(s.node.name, "a@b");
}

TEST(EnvTest, QuotedAndStructuredValuesAreParsed) {
  Settings s = load("", {"ROADMQ_NODE__DATA_DIR=\"/tmp/q\\ty\"",
                         "ROADMQ_LISTENERS__TCP__WS={bind = \"0.0.0.0:8083\", enable = false}"});
  EXPECT_EQ(s.node.data_dir, "/tmp/q\ty");
  EXPECT_EQ(s.listeners.tcp.at("ws").bind, "0.0.0.0:8083");
  EXPECT_FALSE(s.listeners.tcp.at("ws").enable);
}

TEST(EnvTest, DeeperOverridesWinWhateverTheOrder) {
  Settings s = load("", {"ROADMQ_LISTENERS__TCP__DEFAULT__BIND=5.6.7.8:2",
                         "ROADMQ_LISTENERS__TCP__DEFAULT={bind = \"1.2.3.4:1\", enable = false}"});
  EXPECT_EQ(s.listeners.tcp.at("default").bind, "5.6.7.8:2");
  EXPECT_FALSE(s.listeners.tcp.at("default").enable);
}

TEST(EnvTest, NullResetsToTheDefault) {
  Settings s = load("mqtt.max_inflight = 10", {"ROADMQ_MQTT__MAX_INFLIGHT=null"});
  EXPECT_EQ(s.mqtt.max_inflight, 32);
}

TEST(EnvTest, LowerCaseNamesWork) {
  Settings s = load("", {"ROADMQ_mqtt__max_inflight=7"});
  EXPECT_EQ(s.mqtt.max_inflight, 7);
}

TEST(EnvTest, IgnoresOtherVariables) {
  Settings s = load("", {"PATH=/usr/bin", "ROADMQ_CONFIG=/etc/roadmq.conf", "HOME", "ROADMQ_=x",
                         "XROADMQ_MQTT__MAX_INFLIGHT=5", "=ROADMQ_MQTT__MAX_INFLIGHT"});
  EXPECT_EQ(s, default_settings());
}

TEST(EnvTest, UnknownKeyNamesTheVariable) {
  EXPECT_EQ(load_error("", {"ROADMQ_MQTT__MAX_INFLIGHTT=5"}),
            "environment variable ROADMQ_MQTT__MAX_INFLIGHTT: unknown key \"mqtt.max_inflightt\" "
            "(did you mean \"mqtt.max_inflight\"?)");
  EXPECT_EQ(load_error("", {"ROADMQ_FOO__BAR=1"}),
            "environment variable ROADMQ_FOO__BAR: unknown key \"foo.bar\"");
  EXPECT_EQ(load_error("", {"ROADMQ_MQTT__MAX_INFLIGHT__X=1"}),
            "environment variable ROADMQ_MQTT__MAX_INFLIGHT__X: unknown key "
            "\"mqtt.max_inflight.x\" (did you mean \"mqtt.max_inflight\"?)");
}

TEST(EnvTest, MalformedName) {
  EXPECT_EQ(load_error("", {"ROADMQ_MQTT____MAX_INFLIGHT=1"}),
            "environment variable ROADMQ_MQTT____MAX_INFLIGHT: malformed name: levels are "
            "separated by exactly two '_' (e.g. ROADMQ_MQTT__MAX_INFLIGHT)");
}

TEST(EnvTest, BadValueNamesTheVariable) {
  EXPECT_EQ(load_error("", {"ROADMQ_MQTT__MAX_INFLIGHT=abc"}),
            "environment variable ROADMQ_MQTT__MAX_INFLIGHT: mqtt.max_inflight: expected an "
            "integer in 1..65535, got \"abc\"");
}

TEST(EnvTest, UnparsableStructuredValue) {
  EXPECT_EQ(load_error("", {"ROADMQ_NODE__NAME=\"abc"}),
            "environment variable ROADMQ_NODE__NAME:1:1: unterminated string (missing '\"')");
  EXPECT_EQ(load_error("", {"ROADMQ_LISTENERS__TCP__X=[1,"}),
            "environment variable ROADMQ_LISTENERS__TCP__X:1:1: '[' is never closed (missing ']')");
}

TEST(EnvTest, EnvErrorsAndFileErrorsAreAllReported) {
  EXPECT_EQ(load_error("mqtt.max_inflight = 0", {"ROADMQ_MQTT__NOPE=1"}),
            "environment variable ROADMQ_MQTT__NOPE: unknown key \"mqtt.nope\"\n"
            "t.conf:1:21: mqtt.max_inflight: expected an integer in 1..65535, got 0");
}

TEST(EnvTest, ApplyOntoATreeWithACustomPrefix) {
  Schema schema;
  schema.add("a.list", spec::string_list("[]", "list"));
  Value root = Value::object();
  auto r = apply_env_overrides(root, {"APP_A__LIST=[x, \"y z\"]", "ROADMQ_A__LIST=[no]"}, schema,
                               "APP_");
  ASSERT_TRUE(r) << join(r.error());
  auto v = schema.validate(root);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<std::vector<std::string>>(v->find("a.list")->value),
            (std::vector<std::string>{"x", "y z"}));
  EXPECT_EQ(v->find("a.list")->origin.str(), "environment variable APP_A__LIST");
}

TEST(EnvTest, EnvironmentFromEnviron) {
  const char* envp[] = {"A=1", "B=", nullptr};
  EXPECT_EQ(environment_from(envp), (std::vector<std::string>{"A=1", "B="}));
  EXPECT_TRUE(environment_from(nullptr).empty());
}

}  // namespace
}  // namespace roadmq::config
