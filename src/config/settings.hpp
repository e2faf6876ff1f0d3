// RoadMQ's typed settings: what every module reads, and the schema that
// produces it. Key paths follow EMQX 5 (`mqtt.max_inflight`,
// `listeners.tcp.default.bind`); the member path of each setting is its key
// path, so `settings.mqtt.max_inflight` is `mqtt.max_inflight`.
//
// Defaults live in the schema table in settings.cpp, not in the structs:
// obtain a Settings from default_settings() or load_settings(), never by
// default-constructing one.
//
// Thread safety: a Settings is an immutable snapshot. Build it off the hot
// path (startup, reload), wrap it in a SettingsSnapshot and share it
// read-only; a reload builds a new one and swaps it per shard.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "config/error.hpp"
#include "config/schema.hpp"
#include "config/units.hpp"
#include "config/value.hpp"

namespace roadmq::config {

enum class SharedSubscriptionStrategy { random, round_robin, sticky, hash_clientid, hash_topic, local };
enum class LogLevel { debug, info, warning, error };
enum class Durability { sync, periodic, none };

std::string_view to_string(SharedSubscriptionStrategy s) noexcept;
std::string_view to_string(LogLevel l) noexcept;
std::string_view to_string(Durability d) noexcept;

struct NodeSettings {
  std::string name;  // name@host
  std::string data_dir;
  std::uint32_t shards = 0;  // 0 = one per CPU core
  friend bool operator==(const NodeSettings&, const NodeSettings&) = default;
};

struct TcpListenerSettings {
  std::string bind;  // "host:port", "[v6]:port" or "port"
  std::uint32_t max_connections = 0;
  bool enable = false;
  friend bool operator==(const TcpListenerSettings&, const TcpListenerSettings&) = default;
};

struct ListenerSettings {
  std::map<std::string, TcpListenerSettings> tcp;  // by listener name
  friend bool operator==(const ListenerSettings&, const ListenerSettings&) = default;
};

struct MqttSettings {
  ByteSize max_packet_size;
  std::uint32_t max_clientid_len = 0;
  std::uint32_t max_topic_levels = 0;
  std::uint16_t max_inflight = 0;
  std::uint32_t max_mqueue_len = 0;
  ByteSize max_mqueue_bytes;
  bool mqueue_store_qos0 = false;
  Duration session_expiry_interval{};
  Duration retry_interval{};
  std::uint32_t max_awaiting_rel = 0;
  Duration await_rel_timeout{};
  double keepalive_multiplier = 0;
  std::optional<Duration> server_keepalive;  // nullopt = disabled: use the client's
  bool retain_available = false;
  bool wildcard_subscription = false;
  bool shared_subscription = false;
  std::uint16_t max_topic_alias = 0;
  SharedSubscriptionStrategy shared_subscription_strategy = SharedSubscriptionStrategy::local;
  std::uint8_t max_qos_allowed = 0;
  Duration idle_timeout{};
  friend bool operator==(const MqttSettings&, const MqttSettings&) = default;
};

struct RetainerSettings {
  bool enable = false;
  std::uint64_t max_retained_messages = 0;  // 0 = unlimited
  ByteSize max_payload_size;
  friend bool operator==(const RetainerSettings&, const RetainerSettings&) = default;
};

struct DurableSessionsSettings {
  bool enable = false;
  Durability durability = Durability::sync;
  Duration sync_interval{};
  ByteSize batch_size;
  friend bool operator==(const DurableSessionsSettings&, const DurableSessionsSettings&) = default;
};

struct LogSettings {
  LogLevel level = LogLevel::warning;
  friend bool operator==(const LogSettings&, const LogSettings&) = default;
};

struct SysEventMessages {
  bool client_connected = false;
  bool client_disconnected = false;
  friend bool operator==(const SysEventMessages&, const SysEventMessages&) = default;
};

struct SysTopicsSettings {
  std::optional<Duration> sys_msg_interval;  // nullopt = disabled
  SysEventMessages sys_event_messages;
  friend bool operator==(const SysTopicsSettings&, const SysTopicsSettings&) = default;
};

struct Settings {
  NodeSettings node;
  ListenerSettings listeners;
  MqttSettings mqtt;
  RetainerSettings retainer;
  DurableSessionsSettings durable_sessions;
  LogSettings log;
  SysTopicsSettings sys_topics;
  friend bool operator==(const Settings&, const Settings&) = default;
};

using SettingsSnapshot = std::shared_ptr<const Settings>;

// The schema of every key above (for docs, `--help-config`, env lookups).
const Schema& settings_schema();

// Every key at its default.
Settings default_settings();

// Applies env overrides to a parsed tree, validates it and builds Settings.
Expected<Settings, Errors> settings_from_tree(Value tree, const std::vector<std::string>& env);

// Same from configuration text held in memory; `name` is used in locations.
Expected<Settings, Errors> settings_from_text(std::string_view text, std::string_view name,
                                              const std::vector<std::string>& env);

// Reads `path` (includes relative to it), applies `env` ("NAME=value"
// strings; the app passes environ), validates. The error is every problem,
// one `file:line:col: message` per line. A missing file is an error naming
// the path.
Expected<Settings, std::string> load_settings(const std::string& path,
                                              const std::vector<std::string>& env);

// Full key paths whose values differ, sorted (`mqtt.max_inflight`,
// `listeners.tcp.default.bind`; an added or removed listener appears as
// `listeners.tcp.<name>`). Empty when nothing changed. For hot reload.
std::vector<std::string> diff(const Settings& before, const Settings& after);

}  // namespace roadmq::config
