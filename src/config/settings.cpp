#include "config/settings.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/assert.hpp"
#include "config/binder.hpp"
#include "config/env.hpp"
#include "config/parser.hpp"

namespace roadmq::config {
namespace {

using namespace std::chrono_literals;

const std::vector<std::pair<std::string, SharedSubscriptionStrategy>>& strategy_names() {
  static const std::vector<std::pair<std::string, SharedSubscriptionStrategy>> kNames = {
      {"random", SharedSubscriptionStrategy::random},
      {"round_robin", SharedSubscriptionStrategy::round_robin},
      {"sticky", SharedSubscriptionStrategy::sticky},
      {"hash_clientid", SharedSubscriptionStrategy::hash_clientid},
      {"hash_topic", SharedSubscriptionStrategy::hash_topic},
      {"local", SharedSubscriptionStrategy::local},
  };
  return kNames;
}

const std::vector<std::pair<std::string, Durability>>& durability_names() {
  static const std::vector<std::pair<std::string, Durability>> kNames = {
      {"sync", Durability::sync},
      {"periodic", Durability::periodic},
      {"none", Durability::none},
  };
  return kNames;
}

const std::vector<std::pair<std::string, LogLevel>>& log_level_names() {
  static const std::vector<std::pair<std::string, LogLevel>> kNames = {
      {"debug", LogLevel::debug},
      {"info", LogLevel::info},
      {"warning", LogLevel::warning},
      {"error", LogLevel::error},
  };
  return kNames;
}

const std::string& text_of(const Typed& t) {
  static const std::string kEmpty;
  const std::string* s = std::get_if<std::string>(&t);
  return s ? *s : kEmpty;
}

bool has_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

std::optional<std::string> check_node_name(const Typed& t) {
  const std::string& s = text_of(t);
  std::size_t at = s.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == s.size() || has_space(s) ||
      s.find('@', at + 1) != std::string::npos) {
    return "expected name@host (e.g. roadmq@10.0.0.1), got " + quote(s);
  }
  return std::nullopt;
}

std::optional<std::string> check_not_empty(const Typed& t) {
  if (text_of(t).empty()) return std::string("must not be empty");
  return std::nullopt;
}

bool valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n <= 65535;
}

// "1883", "0.0.0.0:1883", "[::]:1883", "broker.local:1883". Port 0 asks the
// OS for a free port (tests use it). Name resolution happens in net/.
std::optional<std::string> check_bind(const Typed& t) {
  const std::string& s = text_of(t);
  bool ok = false;
  if (valid_port(s)) {
    ok = true;
  } else if (!s.empty() && s.front() == '[') {
    std::size_t close = s.find("]:");
    ok = close != std::string::npos && close > 1 &&
         valid_port(std::string_view(s).substr(close + 2));
  } else {
    std::size_t colon = s.rfind(':');
    ok = colon != std::string::npos && colon > 0 && !has_space(s) && s.find(':') == colon &&
         valid_port(std::string_view(s).substr(colon + 1));
  }
  if (!ok) return "expected port, host:port or [ipv6]:port (e.g. 0.0.0.0:1883), got " + quote(s);
  return std::nullopt;
}

std::optional<std::string> check_whole_seconds(const Typed& t) {
  const auto* d = std::get_if<std::optional<Duration>>(&t);
  if (d && *d && (*d)->count() % 1000 != 0) {
    return "must be a whole number of seconds (MQTT counts keep alive in seconds), got " +
           format_duration(**d);
  }
  return std::nullopt;
}

// The member path of a setting is its key path, spelled once: a renamed
// member cannot drift away from its configuration key.
// clang-format off
#define ROADMQ_KEY(member) #member, [](auto& self) -> auto& { return self.member; }
// clang-format on

void describe_tcp_listener(Binder<TcpListenerSettings>& b) {
  b.add(ROADMQ_KEY(bind), spec::string("", "Address to listen on: port, host:port or [ipv6]:port")
                              .required()
                              .with_check(check_bind));
  b.add(ROADMQ_KEY(max_connections),
        spec::integer(1, 100'000'000, "1024000",
                      "Connections this listener accepts at once; more are refused"));
  b.add(ROADMQ_KEY(enable), spec::boolean("true", "Whether this listener is started"));
}

// THE table of RoadMQ settings. A new key is one line here plus its member.
void describe(Binder<Settings>& b) {
  // node
  b.add(ROADMQ_KEY(node.name),
        spec::string("\"roadmq@127.0.0.1\"", "This node's name, name@host, unique in the cluster")
            .with_check(check_node_name));
  b.add(ROADMQ_KEY(node.data_dir),
        spec::string("data", "Directory for persistent sessions, retained messages and state")
            .with_check(check_not_empty));
  b.add(ROADMQ_KEY(node.shards),
        spec::integer(0, 1024, "0",
                      "I/O threads (shards), each with its own event loop; "
                      "0 = one per CPU core"));

  // listeners
  b.add_map(ROADMQ_KEY(listeners.tcp), "Plain TCP MQTT listeners, by name",
            R"(default { bind = "0.0.0.0:1883" })", describe_tcp_listener);

  // mqtt
  b.add(ROADMQ_KEY(mqtt.max_packet_size),
        spec::size(ByteSize{16}, megabytes(256), "1MB",
                   "Largest MQTT packet accepted, fixed header included; larger ones are "
                   "refused"));
  b.add(ROADMQ_KEY(mqtt.max_clientid_len),
        spec::integer(23, 65535, "65535", "Longest client identifier accepted, in bytes"));
  b.add(ROADMQ_KEY(mqtt.max_topic_levels),
        spec::integer(1, 65535, "128", "Most '/'-separated levels a topic may have"));
  b.add(ROADMQ_KEY(mqtt.max_inflight),
        spec::integer(1, 65535, "32",
                      "QoS 1/2 messages sent to a client and not yet acknowledged, per session"));
  b.add(ROADMQ_KEY(mqtt.max_mqueue_len),
        spec::integer(1, 100'000'000, "1000",
                      "Messages queued per session while offline or while the inflight window "
                      "is full"));
  b.add(ROADMQ_KEY(mqtt.max_mqueue_bytes),
        spec::size(ByteSize{1024}, megabytes(64 * 1024), "16MB",
                   "Topic and payload bytes queued per session; when full the same policy as "
                   "max_mqueue_len applies"));
  b.add(ROADMQ_KEY(mqtt.mqueue_store_qos0),
        spec::boolean("true", "Whether QoS 0 messages are queued for offline sessions too"));
  b.add(ROADMQ_KEY(mqtt.session_expiry_interval),
        spec::duration(0s, Duration(4'294'967'295'000), "2h",
                       "How long a disconnected session is kept (MQTT 3.1.1 clean_session=false; "
                       "5.0 caps the client's value)"));
  b.add(ROADMQ_KEY(mqtt.retry_interval),
        spec::duration(100ms, 24h, "30s", "Resend an unacknowledged QoS 1/2 message after this"));
  b.add(ROADMQ_KEY(mqtt.max_awaiting_rel),
        spec::integer(1, 65535, "100",
                      "Incoming QoS 2 messages awaiting PUBREL per session; more are refused"));
  b.add(ROADMQ_KEY(mqtt.await_rel_timeout),
        spec::duration(1s, 24h, "300s",
                       "Drop an incoming QoS 2 message whose PUBREL is this "
                       "late"));
  b.add(ROADMQ_KEY(mqtt.keepalive_multiplier),
        spec::floating(1.0, 100.0, "1.5",
                       "A client is dropped after keep alive x this with no packet from it"));
  b.add(ROADMQ_KEY(mqtt.server_keepalive),
        spec::duration(1s, 65535s, "disabled",
                       "Keep alive the server imposes on 5.0 clients, or disabled to accept "
                       "the client's")
            .or_disabled()
            .bare_integers(BareInteger::seconds)
            .with_check(check_whole_seconds));
  b.add(ROADMQ_KEY(mqtt.retain_available),
        spec::boolean("true", "Whether retained messages are supported"));
  b.add(ROADMQ_KEY(mqtt.wildcard_subscription),
        spec::boolean("true", "Whether subscriptions may use the + and # wildcards"));
  b.add(ROADMQ_KEY(mqtt.shared_subscription),
        spec::boolean("true", "Whether $share/<group>/<topic> subscriptions are supported"));
  b.add(ROADMQ_KEY(mqtt.max_topic_alias),
        spec::integer(0, 65535, "65535", "Topic aliases a 5.0 client may use; 0 = none"));
  b.add_enum(ROADMQ_KEY(mqtt.shared_subscription_strategy), strategy_names(), "local",
             "How a shared subscription group picks the member that gets a message");
  b.add(ROADMQ_KEY(mqtt.max_qos_allowed),
        spec::integer(0, 2, "2", "Highest QoS granted; higher subscriptions are downgraded"));
  b.add(ROADMQ_KEY(mqtt.idle_timeout),
        spec::duration(1ms, 24h, "15s",
                       "Close a new connection that sends no CONNECT within this time"));

  // retainer
  b.add(ROADMQ_KEY(retainer.enable),
        spec::boolean("true", "Whether the retained message store is on"));
  b.add(ROADMQ_KEY(retainer.max_retained_messages),
        spec::integer(0, std::numeric_limits<std::int64_t>::max(), "0",
                      "Most retained messages kept; 0 = unlimited"));
  b.add(ROADMQ_KEY(retainer.max_payload_size),
        spec::size(ByteSize{1}, megabytes(256), "1MB",
                   "Largest payload stored as a retained message"));

  // durable_sessions
  b.add(ROADMQ_KEY(durable_sessions.enable),
        spec::boolean("true",
                      "Keep persistent sessions (expiry > 0 / clean_session=false), their queues "
                      "and retained messages in RocksDB under node.data_dir"));
  b.add_enum(ROADMQ_KEY(durable_sessions.durability), durability_names(), "sync",
             "When a QoS 1/2 message counts as stored before its PUBACK/PUBREC: sync = WAL "
             "fsynced (survives power loss); periodic = written to the WAL, fsynced every "
             "sync_interval (survives kill -9); none = written in the background (kill -9 "
             "loses the last milliseconds)");
  b.add(ROADMQ_KEY(durable_sessions.sync_interval),
        spec::duration(1ms, 60s, "100ms",
                       "periodic: how often the WAL is fsynced; sync: longest a delivered "
                       "message's removal waits for the next fsync"));
  b.add(ROADMQ_KEY(durable_sessions.batch_size),
        spec::size(ByteSize{4096}, megabytes(256), "8MB", "Largest group commit written at once"));

  // log
  b.add_enum(ROADMQ_KEY(log.level), log_level_names(), "warning",
             "Lowest level of the messages logged");

  // sys_topics
  b.add(ROADMQ_KEY(sys_topics.sys_msg_interval),
        spec::duration(1s, 24h, "1m", "How often $SYS broker statistics are published, or disabled")
            .or_disabled());
  b.add(ROADMQ_KEY(sys_topics.sys_event_messages.client_connected),
        spec::boolean("true", "Publish $SYS/brokers/<node>/clients/<id>/connected events"));
  b.add(ROADMQ_KEY(sys_topics.sys_event_messages.client_disconnected),
        spec::boolean("true", "Publish $SYS/brokers/<node>/clients/<id>/disconnected events"));
}

#undef ROADMQ_KEY

// Built once, on first use; read-only afterwards.
class Model {
 public:
  Model() : binder_(schema_) { describe(binder_); }
  const Schema& schema() const { return schema_; }
  const Binder<Settings>& binder() const { return binder_; }

 private:
  Schema schema_;
  Binder<Settings> binder_;
};

const Model& model() {
  static const Model kModel;
  return kModel;
}

// Rules that span keys.
void check_cross_keys(const Settings& s, const Resolved& r, Errors& errors) {
  // Two enabled listeners on one address: the second would fail to bind at
  // startup, far from the line that caused it.
  std::map<std::string, std::string> seen;  // normalised bind -> listener name
  for (const auto& [name, l] : s.listeners.tcp) {
    if (!l.enable) continue;
    std::string bind = l.bind.find(':') == std::string::npos ? "0.0.0.0:" + l.bind : l.bind;
    if (bind.size() >= 2 && bind.compare(bind.size() - 2, 2, ":0") == 0) continue;  // ephemeral
    auto [it, inserted] = seen.emplace(bind, name);
    if (inserted) continue;
    std::string path = "listeners.tcp." + name + ".bind";
    const ResolvedValue* rv = r.find(path);
    errors.push_back(
        {rv ? rv->origin : Location{},
         path + ": " + quote(l.bind) + " is also the address of listener " + quote(it->second)});
  }
}

}  // namespace

std::string_view to_string(SharedSubscriptionStrategy s) noexcept {
  for (const auto& [name, value] : strategy_names()) {
    if (value == s) return name;
  }
  return "?";
}

std::string_view to_string(Durability d) noexcept {
  for (const auto& [name, value] : durability_names()) {
    if (value == d) return name;
  }
  return "?";
}

std::string_view to_string(LogLevel l) noexcept {
  for (const auto& [name, value] : log_level_names()) {
    if (value == l) return name;
  }
  return "?";
}

const Schema& settings_schema() { return model().schema(); }

Settings default_settings() {
  auto s = settings_from_tree(Value::object(), {});
  ROADMQ_ASSERT(s.has_value());
  return s ? std::move(*s) : Settings{};
}

Expected<Settings, Errors> settings_from_tree(Value tree, const std::vector<std::string>& env) {
  const Model& m = model();
  Errors errors;
  if (auto applied = apply_env_overrides(tree, env, m.schema()); !applied) errors = applied.error();
  auto resolved = m.schema().validate(tree);
  if (!resolved) {
    errors.insert(errors.end(), resolved.error().begin(), resolved.error().end());
    return Unexpected{std::move(errors)};
  }
  Settings s;
  m.binder().apply(s, *resolved);
  check_cross_keys(s, *resolved, errors);
  if (!errors.empty()) return Unexpected{std::move(errors)};
  return s;
}

Expected<Settings, Errors> settings_from_text(std::string_view text, std::string_view name,
                                              const std::vector<std::string>& env) {
  auto tree = parse(text, name);
  if (!tree) return Unexpected{Errors{tree.error()}};
  return settings_from_tree(std::move(*tree), env);
}

Expected<Settings, std::string> load_settings(const std::string& path,
                                              const std::vector<std::string>& env) {
  auto tree = parse_file(path);
  if (!tree) return Unexpected{tree.error().str()};
  auto s = settings_from_tree(std::move(*tree), env);
  if (!s) return Unexpected{join(s.error())};
  return std::move(*s);
}

std::vector<std::string> diff(const Settings& before, const Settings& after) {
  std::vector<std::string> changed = model().binder().diff(before, after);
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  return changed;
}

}  // namespace roadmq::config
