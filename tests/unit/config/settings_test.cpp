// RoadMQ's settings: defaults, the shipped config file, key-specific rules,
// load_settings() and the reload diff.
#include "config/settings.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "config/parser.hpp"

#ifndef ROADMQ_SOURCE_DIR
#error "ROADMQ_SOURCE_DIR must point at the repository root (for config/roadmq.conf)"
#endif

namespace roadmq::config {
namespace {

using namespace std::chrono_literals;

const std::string kShippedConf = std::string(ROADMQ_SOURCE_DIR) + "/config/roadmq.conf";

Settings load(std::string_view text, const std::vector<std::string>& env = {}) {
  auto s = settings_from_text(text, "t.conf", env);
  EXPECT_TRUE(s) << (s ? "" : join(s.error()));
  return s ? *s : Settings{};
}

std::string load_error(std::string_view text) {
  auto s = settings_from_text(text, "t.conf", {});
  EXPECT_FALSE(s);
  return s ? std::string() : join(s.error());
}

TEST(SettingsTest, Defaults) {
  Settings s = default_settings();
  EXPECT_EQ(s.node.name, "roadmq@127.0.0.1");
  EXPECT_EQ(s.node.data_dir, "data");
  EXPECT_EQ(s.node.shards, 0u);
  ASSERT_EQ(s.listeners.tcp.size(), 1u);
  const TcpListenerSettings& l = s.listeners.tcp.at("default");
  EXPECT_EQ(l.bind, "0.0.0.0:1883");
  EXPECT_EQ(l.max_connections, 1024000u);
  EXPECT_TRUE(l.enable);
  EXPECT_EQ(s.mqtt.max_packet_size, megabytes(1));
  EXPECT_EQ(s.mqtt.max_clientid_len, 65535u);
  EXPECT_EQ(s.mqtt.max_topic_levels, 128u);
  EXPECT_EQ(s.mqtt.max_inflight, 32);
  EXPECT_EQ(s.mqtt.max_mqueue_len, 1000u);
  EXPECT_TRUE(s.mqtt.mqueue_store_qos0);
  EXPECT_EQ(s.mqtt.session_expiry_interval, Duration(2h));
  EXPECT_EQ(s.mqtt.retry_interval, Duration(30s));
  EXPECT_EQ(s.mqtt.max_awaiting_rel, 100u);
  EXPECT_EQ(s.mqtt.await_rel_timeout, Duration(300s));
  EXPECT_DOUBLE_EQ(s.mqtt.keepalive_multiplier, 1.5);
  EXPECT_EQ(s.mqtt.server_keepalive, std::nullopt);
  EXPECT_TRUE(s.mqtt.retain_available);
  EXPECT_TRUE(s.mqtt.wildcard_subscription);
  EXPECT_TRUE(s.mqtt.shared_subscription);
  EXPECT_EQ(s.mqtt.max_topic_alias, 65535);
  EXPECT_EQ(s.mqtt.shared_subscription_strategy, SharedSubscriptionStrategy::local);
  EXPECT_EQ(s.mqtt.max_qos_allowed, 2);
  EXPECT_EQ(s.mqtt.idle_timeout, Duration(15s));
  EXPECT_TRUE(s.retainer.enable);
  EXPECT_EQ(s.retainer.max_retained_messages, 0u);
  EXPECT_EQ(s.retainer.max_payload_size, megabytes(1));
  EXPECT_EQ(s.log.level, LogLevel::warning);
  EXPECT_EQ(s.sys_topics.sys_msg_interval, Duration(1min));
  EXPECT_TRUE(s.sys_topics.sys_event_messages.client_connected);
  EXPECT_TRUE(s.sys_topics.sys_event_messages.client_disconnected);
  EXPECT_TRUE(s.durable_sessions.enable);
  EXPECT_EQ(s.durable_sessions.durability, Durability::sync);
  EXPECT_EQ(s.durable_sessions.sync_interval, Duration(100ms));
}

TEST(SettingsTest, EveryKeyHasADescription) {
  std::size_t n = 0;
  settings_schema().for_each_key([&](const std::string& path, const KeySpec& spec) {
    ++n;
    EXPECT_FALSE(spec.description.empty()) << path;
    EXPECT_EQ(spec.description.find('\n'), std::string::npos) << path;
  });
  EXPECT_EQ(n, 37u);
}

TEST(SettingsTest, ShippedConfigFileLoads) {
  auto s = load_settings(kShippedConf, {});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->listeners.tcp.at("default").bind, "127.0.0.1:1883");
  EXPECT_EQ(s->node.data_dir, "data");
}

// The shipped file documents the defaults: apart from the loopback bind it
// must say exactly what the schema says, and mention every key.
TEST(SettingsTest, ShippedConfigFileMatchesTheDefaults) {
  auto s = load_settings(kShippedConf, {});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(diff(default_settings(), *s), std::vector<std::string>{"listeners.tcp.default.bind"});

  auto tree = parse_file(kShippedConf);
  ASSERT_TRUE(tree);
  settings_schema().for_each_key([&](const std::string& path, const KeySpec&) {
    std::string p = path;
    if (auto at = p.find("<name>"); at != std::string::npos) p.replace(at, 6, "default");
    const Value* cur = &*tree;
    for (std::size_t start = 0; cur;) {
      std::size_t dot = p.find('.', start);
      cur = cur->find(p.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    EXPECT_NE(cur, nullptr) << path << " is not in config/roadmq.conf";
  });
}

TEST(SettingsTest, TheBriefsExampleErrors) {
  EXPECT_EQ(load_error("mqtt {\n  max_inflight = abc\n}"),
            "t.conf:2:18: mqtt.max_inflight: expected an integer in 1..65535, got \"abc\"");
  EXPECT_EQ(load_error("mqtt.max_inflightt = 3"),
            "t.conf:1:6: unknown key \"mqtt.max_inflightt\" (did you mean \"mqtt.max_inflight\"?)");
}

TEST(SettingsTest, ServerKeepalive) {
  EXPECT_EQ(load("mqtt.server_keepalive = disabled").mqtt.server_keepalive, std::nullopt);
  EXPECT_EQ(load("mqtt.server_keepalive = 60").mqtt.server_keepalive, Duration(60s));
  EXPECT_EQ(load("mqtt.server_keepalive = 2m").mqtt.server_keepalive, Duration(120s));
  EXPECT_EQ(load_error("mqtt.server_keepalive = 1500ms"),
            "t.conf:1:25: mqtt.server_keepalive: must be a whole number of seconds (MQTT counts "
            "keep alive in seconds), got 1500ms");
  EXPECT_EQ(load_error("mqtt.server_keepalive = 65536"),
            "t.conf:1:25: mqtt.server_keepalive: expected \"disabled\" or a duration in "
            "1s..65535s (e.g. 30s, 500ms, 5m; a bare number counts seconds), got 65536");
}

TEST(SettingsTest, DurationsNeedUnits) {
  EXPECT_EQ(load_error("mqtt.retry_interval = 30"),
            "t.conf:1:23: mqtt.retry_interval: expected a duration in 100ms..1d (e.g. 30s, "
            "500ms, 5m, 2h, 1d), got 30 (add a unit, e.g. 30s or 30ms)");
}

TEST(SettingsTest, SysMsgIntervalCanBeDisabled) {
  EXPECT_EQ(load("sys_topics.sys_msg_interval = disabled").sys_topics.sys_msg_interval,
            std::nullopt);
  EXPECT_EQ(load("sys_topics { sys_msg_interval = 30s }").sys_topics.sys_msg_interval,
            Duration(30s));
}

TEST(SettingsTest, Enumerations) {
  EXPECT_EQ(
      load("mqtt.shared_subscription_strategy = hash_clientid").mqtt.shared_subscription_strategy,
      SharedSubscriptionStrategy::hash_clientid);
  EXPECT_EQ(load("mqtt.shared_subscription_strategy = hash_topic").mqtt.shared_subscription_strategy,
            SharedSubscriptionStrategy::hash_topic);
  EXPECT_EQ(load("mqtt.shared_subscription_strategy = round_robin").mqtt.shared_subscription_strategy,
            SharedSubscriptionStrategy::round_robin);
  EXPECT_EQ(to_string(SharedSubscriptionStrategy::local), "local");
  EXPECT_EQ(load("log.level = error").log.level, LogLevel::error);
  EXPECT_EQ(load_error("log.level = warn"),
            "t.conf:1:13: log.level: expected one of debug, info, warning, error, got \"warn\" "
            "(did you mean \"warning\"?)");
  EXPECT_EQ(to_string(SharedSubscriptionStrategy::sticky), "sticky");
  EXPECT_EQ(to_string(LogLevel::info), "info");
}

TEST(SettingsTest, NodeName) {
  EXPECT_EQ(load("node.name = \"emqx@10.0.0.1\"").node.name, "emqx@10.0.0.1");
  EXPECT_EQ(load_error("node.name = roadmq"),
            "t.conf:1:13: node.name: expected name@host (e.g. roadmq@10.0.0.1), got \"roadmq\"");
  EXPECT_EQ(load_error("node.name = \"a@\""),
            "t.conf:1:13: node.name: expected name@host (e.g. roadmq@10.0.0.1), got \"a@\"");
  EXPECT_EQ(load_error("node.data_dir = \"\""), "t.conf:1:17: node.data_dir: must not be empty");
}

TEST(SettingsTest, ListenerBinds) {
  Settings s = load(
      "listeners.tcp {\n  default.bind = 1883\n  v6.bind = \"[::]:1884\"\n"
      "  host.bind = \"broker.local:1885\"\n  any.bind = 0\n}");
  EXPECT_EQ(s.listeners.tcp.at("default").bind, "1883");
  EXPECT_EQ(s.listeners.tcp.at("v6").bind, "[::]:1884");
  EXPECT_EQ(s.listeners.tcp.at("host").bind, "broker.local:1885");
  for (const char* bad : {"\"1.2.3.4\"", "65536", "\":1883\"", "\"1.2.3.4:x\"", "\"[::1]\"",
                          "\"::1:1883\"", "\"a b:1\""}) {
    auto r = settings_from_text(std::string("listeners.tcp.default.bind = ") + bad, "t.conf", {});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(join(r.error()).find("expected port, host:port or [ipv6]:port"), std::string::npos)
        << join(r.error());
  }
}

TEST(SettingsTest, NewListenersNeedABind) {
  EXPECT_EQ(load_error("listeners.tcp.internal {\n  max_connections = 10\n}"),
            "t.conf:1:24: listeners.tcp.internal.bind: required key is missing");
}

TEST(SettingsTest, TwoEnabledListenersCannotShareAnAddress) {
  EXPECT_EQ(load_error("listeners.tcp.default.bind = 1883\nlisteners.tcp.other.bind = "
                       "\"0.0.0.0:1883\""),
            "t.conf:2:28: listeners.tcp.other.bind: \"0.0.0.0:1883\" is also the address of "
            "listener \"default\"");
  // Disabled listeners and ephemeral ports do not clash.
  load("listeners.tcp.other { bind = \"0.0.0.0:1883\", enable = false }");
  load("listeners.tcp { default.bind = 0, other.bind = \"127.0.0.1:0\", third.bind = 0 }");
}

TEST(SettingsTest, RangesFollowTheProtocol) {
  EXPECT_EQ(load_error("mqtt.max_qos_allowed = 3"),
            "t.conf:1:24: mqtt.max_qos_allowed: expected an integer in 0..2, got 3");
  EXPECT_EQ(load_error("mqtt.max_clientid_len = 22"),
            "t.conf:1:25: mqtt.max_clientid_len: expected an integer in 23..65535, got 22");
  EXPECT_EQ(load_error("mqtt.max_packet_size = 512MB"),
            "t.conf:1:24: mqtt.max_packet_size: expected a size in 16B..256MB (e.g. 512, 64KB, "
            "1MB), got \"512MB\"");
  EXPECT_EQ(load("mqtt.max_packet_size = 256MB").mqtt.max_packet_size, megabytes(256));
}

class LoadSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("roadmq_settings_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(LoadSettingsTest, MissingFileNamesThePath) {
  auto s = load_settings((dir_ / "roadmq.conf").string(), {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(),
            "cannot read " + (dir_ / "roadmq.conf").string() + ": No such file or directory");
}

TEST_F(LoadSettingsTest, ErrorsAreFileLineColOnePerLine) {
  std::string path = write("roadmq.conf", "mqtt {\n  max_inflight = 0\n  bogus = 1\n}\n");
  auto s = load_settings(path, {"ROADMQ_NODE__NAME=bad"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), path + ":2:18: mqtt.max_inflight: expected an integer in 1..65535, got 0\n" +
                           path + ":3:3: unknown key \"mqtt.bogus\"\n" +
                           "environment variable ROADMQ_NODE__NAME: node.name: expected name@host "
                           "(e.g. roadmq@10.0.0.1), got \"bad\"");
}

TEST_F(LoadSettingsTest, SyntaxErrorStopsEarly) {
  std::string path = write("roadmq.conf", "mqtt {\n  max_inflight 5\n}\n");
  auto s = load_settings(path, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), path + ":2:16: expected '=' or ':' after key \"max_inflight\"");
}

TEST_F(LoadSettingsTest, FileIncludesAndEnv) {
  write("listeners.conf", "listeners.tcp.default.bind = \"127.0.0.1:2883\"\n");
  std::string path = write("roadmq.conf", "include \"listeners.conf\"\nmqtt.max_inflight = 5\n");
  auto s = load_settings(path, {"ROADMQ_MQTT__MAX_INFLIGHT=6"});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->listeners.tcp.at("default").bind, "127.0.0.1:2883");
  EXPECT_EQ(s->mqtt.max_inflight, 6);
}

TEST(DiffTest, NothingChanged) {
  EXPECT_TRUE(diff(default_settings(), default_settings()).empty());
}

TEST(DiffTest, ChangedScalarKeys) {
  Settings before = default_settings();
  Settings after = load(
      "mqtt.max_inflight = 64\nlog.level = debug\nmqtt.server_keepalive = 30s\n"
      "sys_topics.sys_event_messages.client_connected = false");
  EXPECT_EQ(diff(before, after),
            (std::vector<std::string>{"log.level", "mqtt.max_inflight", "mqtt.server_keepalive",
                                      "sys_topics.sys_event_messages.client_connected"}));
  EXPECT_EQ(diff(after, before), diff(before, after));
}

TEST(DiffTest, ListenerChanges) {
  Settings before = load("listeners.tcp { default.bind = 1883, old.bind = 1884 }");
  Settings after =
      load("listeners.tcp { default { bind = 1883, max_connections = 10 }, new.bind = 1885 }");
  EXPECT_EQ(diff(before, after),
            (std::vector<std::string>{"listeners.tcp.default.max_connections", "listeners.tcp.new",
                                      "listeners.tcp.old"}));
}

TEST(DiffTest, SameValueWrittenDifferentlyIsNoChange) {
  Settings a = load("mqtt.retry_interval = 30s\nmqtt.max_packet_size = 1MB");
  Settings b = load("mqtt.retry_interval = 30000ms\nmqtt.max_packet_size = 1048576");
  EXPECT_TRUE(diff(a, b).empty());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace roadmq::config
