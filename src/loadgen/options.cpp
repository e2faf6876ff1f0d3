#include "loadgen/options.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <type_traits>

#include "loadgen/payload.hpp"
#include "mqtt/topic.hpp"

namespace roadmq::loadgen {
namespace {

using Status = Expected<void, std::string>;
using Error = Unexpected<std::string>;

constexpr unsigned bit(Command c) noexcept { return 1u << static_cast<unsigned>(c); }
constexpr unsigned kConn = bit(Command::conn);
constexpr unsigned kPub = bit(Command::pub);
constexpr unsigned kSub = bit(Command::sub);
constexpr unsigned kFleet = bit(Command::fleet);
constexpr unsigned kAll = kConn | kPub | kSub | kFleet;

// Values above this many clients are almost surely typos; a real run of that
// size needs several machines anyway (one process opens ~64k connections per
// source address).
constexpr std::uint32_t kMaxClients = 10'000'000;
constexpr std::size_t kMaxPayload = 64u << 20;

template <class T>
Expected<T, std::string> parse_int(std::string_view text, T lo, T hi, std::string_view what) {
  static_assert(std::is_unsigned_v<T>);
  // Parsed wide, so "70000" for a 16-bit value is out of range, not garbage.
  unsigned long long v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const bool whole = !text.empty() && p == text.data() + text.size();
  if (!whole || (ec != std::errc{} && ec != std::errc::result_out_of_range))
    return Error{std::string(what) + ": not a whole number: '" + std::string(text) + "'"};
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    return Error{std::string(what) + ": " + std::string(text) + " is out of range " +
                 std::to_string(lo) + ".." + std::to_string(hi)};
  return static_cast<T>(v);
}

Expected<double, std::string> parse_real(std::string_view text, double lo, double hi,
                                         std::string_view what) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || p != text.data() + text.size() || text.empty() || !std::isfinite(v))
    return Error{std::string(what) + ": not a number: '" + std::string(text) + "'"};
  if (v < lo || v > hi) {
    char buf[128];
    std::snprintf(buf, sizeof buf, ": %s is out of range %g..%g", std::string(text).c_str(), lo,
                  hi);
    return Error{std::string(what) + buf};
  }
  return v;
}

Expected<bool, std::string> parse_bool(std::string_view text, std::string_view what) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  return Error{std::string(what) + ": expected true or false, got '" + std::string(text) + "'"};
}

// A numeric IPv4 or IPv6 address (no port, no name: a source address must
// be one this machine owns, so resolving it would hide mistakes).
bool is_numeric_address(std::string_view s) {
  if (s.empty()) return false;
  if (s.find(':') != std::string_view::npos)
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
    });
  int parts = 0;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t dot = std::min(s.find('.', start), s.size());
    auto octet = parse_int<unsigned>(s.substr(start, dot - start), 0, 255, "octet");
    if (!octet) return false;
    ++parts;
    start = dot + 1;
  }
  return parts == 4;
}

struct OptionSpec {
  std::string_view name;   // long name, without "--"
  char short_name;         // 0: none
  unsigned commands;       // where it applies
  std::string_view value;  // value placeholder for help; empty: a flag
  std::string_view help;
  Status (*set)(Options&, std::string_view);
};

#define SET(...)                                 \
  [](Options& o, std::string_view v) -> Status { \
    (void)o;                                     \
    (void)v;                                     \
    __VA_ARGS__                                  \
  }

Status set_duration(Millis& out, std::string_view v, std::string_view what, Millis lo) {
  auto d = parse_duration(v);
  if (!d) return Error{std::string(what) + ": " + d.error()};
  if (*d < lo)
    return Error{std::string(what) + ": must be at least " + std::to_string(lo.count()) + "ms"};
  out = *d;
  return {};
}

Status set_version(Options& o, std::string_view v) {
  if (v == "5" || v == "5.0") {
    o.version = mqtt::ProtocolVersion::v5;
  } else if (v == "3.1.1" || v == "311" || v == "4") {
    o.version = mqtt::ProtocolVersion::v3_1_1;
  } else {
    return Error{"--protocol: expected 3.1.1 or 5, got '" + std::string(v) + "'"};
  }
  return {};
}

Status set_ifaddr(Options& o, std::string_view v) {
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t comma = std::min(v.find(',', start), v.size());
    const std::string_view a = v.substr(start, comma - start);
    if (!is_numeric_address(a))
      return Error{"--ifaddr: '" + std::string(a) + "' is not a numeric IPv4/IPv6 address"};
    o.ifaddrs.emplace_back(a);
    start = comma + 1;
  }
  return {};
}

const std::array kOptions = {
    OptionSpec{"host", 'h', kAll, "HOST", "broker address or name (default 127.0.0.1)", SET({
                 if (v.empty()) return Error{"--host: empty"};
                 o.host = std::string(v);
                 return {};
               })},
    OptionSpec{"port", 'p', kAll, "PORT", "broker port (default 1883)", SET({
                 auto p = parse_int<std::uint16_t>(v, 1, 65535, "--port");
                 if (!p) return Error{p.error()};
                 o.port = *p;
                 return {};
               })},
    OptionSpec{"protocol", 'V', kAll, "3.1.1|5", "MQTT version (default 5)",
               SET({ return set_version(o, v); })},
    OptionSpec{"tls", 0, kAll, "", "reserved: TLS is not implemented yet (plain TCP only)", SET({
                 return Error{
                     "--tls: TLS is not implemented yet; roadmq-bench speaks plain TCP only"};
               })},
    OptionSpec{"clients", 'c', kAll, "N",
               "connections (pub: publishers, sub: subscribers, fleet: vehicles; default 1, "
               "fleet 100)",
               SET({
                 auto n = parse_int<std::uint32_t>(v, 1, kMaxClients, "--clients");
                 if (!n) return Error{n.error()};
                 o.clients = *n;
                 return {};
               })},
    OptionSpec{"vehicles", 0, kFleet, "N", "same as --clients", SET({
                 auto n = parse_int<std::uint32_t>(v, 1, kMaxClients, "--vehicles");
                 if (!n) return Error{n.error()};
                 o.clients = *n;
                 return {};
               })},
    OptionSpec{"start-index", 'n', kAll, "N",
               "index of the first client (default 0), for %i and VINs", SET({
                 auto n = parse_int<std::uint32_t>(v, 0, UINT32_MAX - kMaxClients, "--start-index");
                 if (!n) return Error{n.error()};
                 o.start_index = *n;
                 return {};
               })},
    OptionSpec{"threads", 'T', kAll, "N", "worker threads, one event loop each (default 1)", SET({
                 auto n = parse_int<std::uint32_t>(v, 1, 256, "--threads");
                 if (!n) return Error{n.error()};
                 o.threads = *n;
                 return {};
               })},
    OptionSpec{"conn-rate", 'R', kAll, "PER_SEC",
               "connection attempts per second in all (default 1000; 0 = all at once)", SET({
                 auto r = parse_real(v, 0, 1e7, "--conn-rate");
                 if (!r) return Error{r.error()};
                 o.conn_rate = *r;
                 return {};
               })},
    OptionSpec{"ifaddr", 0, kAll, "ADDR[,ADDR...]",
               "source addresses bound before connecting, used in turn (many connections from "
               "one machine)",
               SET({ return set_ifaddr(o, v); })},
    OptionSpec{"username", 'u', kAll, "NAME", "CONNECT user name", SET({
                 o.username = std::string(v);
                 return {};
               })},
    OptionSpec{"password", 'P', kAll, "SECRET", "CONNECT password (needs --username)", SET({
                 o.password = std::string(v);
                 return {};
               })},
    OptionSpec{"keepalive", 'k', kAll, "SECONDS", "keep alive (default 60; 0 = off)", SET({
                 auto n = parse_int<std::uint16_t>(v, 0, 65535, "--keepalive");
                 if (!n) return Error{n.error()};
                 o.keepalive = *n;
                 return {};
               })},
    OptionSpec{"clean-start", 'C', kConn | kPub | kSub, "true|false",
               "clean start / clean session (default true)", SET({
                 auto b = parse_bool(v, "--clean-start");
                 if (!b) return Error{b.error()};
                 o.clean_start = *b;
                 return {};
               })},
    OptionSpec{"session-expiry", 'x', kAll, "SECONDS",
               "v5 Session Expiry Interval (default 0; fleet 3600)", SET({
                 auto n = parse_int<std::uint32_t>(v, 0, UINT32_MAX, "--session-expiry");
                 if (!n) return Error{n.error()};
                 o.session_expiry = *n;
                 return {};
               })},
    OptionSpec{"prefix", 0, kAll, "TEXT",
               "client id prefix (default rb<pid>-); ids are prefix + index", SET({
                 o.client_prefix = std::string(v);
                 return {};
               })},
    OptionSpec{"qos", 'q', kPub | kSub | kFleet, "0|1|2",
               "QoS of publishes / subscriptions (default 0; fleet uplinks: 0 or 1)", SET({
                 auto q = parse_int<std::uint8_t>(v, 0, 2, "--qos");
                 if (!q) return Error{q.error()};
                 o.qos = *q;
                 return {};
               })},
    OptionSpec{"topic", 't', kPub | kSub, "TOPIC",
               "pub: topic template (default bench/%i); sub: filter, repeatable (default "
               "bench/#). %i = client index, {vin} = its VIN, %c = client id",
               SET({
                 o.topics.emplace_back(v);
                 return {};
               })},
    OptionSpec{"shared", 0, kSub, "GROUP", "subscribe as $share/GROUP/<filter>", SET({
                 if (v.empty() || v.find_first_of("/+#") != std::string_view::npos)
                   return Error{"--shared: a group name must be non-empty without / + #"};
                 o.shared_group = std::string(v);
                 return {};
               })},
    OptionSpec{"size", 's', kPub | kFleet, "BYTES",
               "payload size, at least the 32-byte header (default 256; fleet 200)", SET({
                 auto s = parse_size(v);
                 if (!s) return Error{"--size: " + s.error()};
                 if (*s < kHeaderSize || *s > kMaxPayload)
                   return Error{"--size: must be between 32 (the payload header) and 64MB"};
                 o.payload_size = static_cast<std::size_t>(*s);
                 return {};
               })},
    OptionSpec{"count", 'L', kPub | kSub, "N",
               "pub: messages per publisher (0 = no limit); sub: stop after N messages in all",
               SET({
                 auto n = parse_int<std::uint64_t>(v, 0, UINT64_MAX, "--count");
                 if (!n) return Error{n.error()};
                 o.count = *n;
                 return {};
               })},
    OptionSpec{"duration", 'd', kAll, "TIME",
               "how long to run once connected (conn: hold time); default: until Ctrl-C", SET({
                 Millis d{};
                 if (auto st = set_duration(d, v, "--duration", Millis(1)); !st) return st;
                 o.duration = d;
                 return {};
               })},
    OptionSpec{"rate", 'r', kPub, "PER_SEC",
               "messages per second in all, paced evenly (default 0 = as fast as possible)", SET({
                 auto r = parse_real(v, 0, 1e9, "--rate");
                 if (!r) return Error{r.error()};
                 o.rate = *r;
                 return {};
               })},
    OptionSpec{"interval", 'I', kPub | kFleet, "TIME",
               "pub: per-publisher interval (sets --rate = clients / interval); fleet: "
               "telemetry interval per vehicle (default 1s)",
               SET({ return set_duration(o.interval, v, "--interval", Millis(1)); })},
    OptionSpec{"inflight", 'F', kPub | kFleet, "N",
               "unacknowledged QoS 1/2 publishes per client (default 64)", SET({
                 auto n = parse_int<std::uint16_t>(v, 1, 16384, "--inflight");
                 if (!n) return Error{n.error()};
                 o.inflight = *n;
                 return {};
               })},
    OptionSpec{"retain", 0, kPub, "", "publish with the retain flag", SET({
                 o.retain = true;
                 return {};
               })},
    OptionSpec{"connect-timeout", 0, kAll, "TIME", "TCP connect + CONNACK limit (default 10s)",
               SET({ return set_duration(o.connect_timeout, v, "--connect-timeout", Millis(1)); })},
    OptionSpec{"drain-timeout", 0, kPub, "TIME",
               "at the end, how long to wait for outstanding acks (default 10s)",
               SET({ return set_duration(o.drain_timeout, v, "--drain-timeout", Millis(0)); })},
    OptionSpec{"idle-exit", 0, kSub, "TIME",
               "stop this long after the last message (once one came)", SET({
                 Millis d{};
                 if (auto st = set_duration(d, v, "--idle-exit", Millis(1)); !st) return st;
                 o.idle_exit = d;
                 return {};
               })},
    OptionSpec{"max-connect-failures", 0, kAll, "N",
               "failed connects + lost connections + refused subscriptions tolerated before exit "
               "code 1 (default 0)",
               SET({
                 auto n = parse_int<std::uint64_t>(v, 0, UINT64_MAX, "--max-connect-failures");
                 if (!n) return Error{n.error()};
                 o.max_connect_failures = *n;
                 return {};
               })},
    OptionSpec{"allow-loss", 0, kSub | kFleet, "", "report loss but do not fail on it", SET({
                 o.allow_loss = true;
                 return {};
               })},
    OptionSpec{"json", 0, kAll, "FILE", "also write the JSON summary to FILE", SET({
                 if (v.empty()) return Error{"--json: empty file name"};
                 o.json_path = std::string(v);
                 return {};
               })},
    OptionSpec{"quiet", 0, kAll, "", "no progress lines on stderr", SET({
                 o.quiet = true;
                 return {};
               })},
    // fleet
    OptionSpec{"idle-ratio", 0, kFleet, "FRACTION",
               "vehicles that stay connected without publishing (default 0.1)", SET({
                 auto r = parse_real(v, 0, 1, "--idle-ratio");
                 if (!r) return Error{r.error()};
                 o.fleet.idle_ratio = *r;
                 return {};
               })},
    OptionSpec{"disconnect-rate", 0, kFleet, "PER_SEC",
               "random drops (tunnels) per connected vehicle per second (default 0)", SET({
                 auto r = parse_real(v, 0, 100, "--disconnect-rate");
                 if (!r) return Error{r.error()};
                 o.fleet.disconnect_rate = *r;
                 return {};
               })},
    OptionSpec{"outage-min", 0, kFleet, "TIME",
               "shortest time a dropped vehicle stays away (default 500ms)",
               SET({ return set_duration(o.fleet.outage_min, v, "--outage-min", Millis(0)); })},
    OptionSpec{"outage-max", 0, kFleet, "TIME", "longest (default 3s)",
               SET({ return set_duration(o.fleet.outage_max, v, "--outage-max", Millis(0)); })},
    OptionSpec{"backoff-min", 0, kFleet, "TIME",
               "first retry delay after a failed reconnect (default 200ms)",
               SET({ return set_duration(o.fleet.backoff_min, v, "--backoff-min", Millis(1)); })},
    OptionSpec{"backoff-max", 0, kFleet, "TIME", "retry delay cap (default 10s)",
               SET({ return set_duration(o.fleet.backoff_max, v, "--backoff-max", Millis(1)); })},
    OptionSpec{"downlink-rate", 0, kFleet, "PER_SEC",
               "platform commands per second, QoS 1, to random vehicles (default 10)", SET({
                 auto r = parse_real(v, 0, 1e7, "--downlink-rate");
                 if (!r) return Error{r.error()};
                 o.fleet.downlink_rate = *r;
                 return {};
               })},
    OptionSpec{"downlink-size", 0, kFleet, "BYTES", "command payload size (default 64)", SET({
                 auto s = parse_size(v);
                 if (!s) return Error{"--downlink-size: " + s.error()};
                 if (*s < kHeaderSize || *s > kMaxPayload)
                   return Error{
                       "--downlink-size: must be between 32 (the payload header) and 64MB"};
                 o.fleet.downlink_size = static_cast<std::size_t>(*s);
                 return {};
               })},
    OptionSpec{"grace", 0, kFleet, "TIME",
               "after the run, how long downlinks, reconnects and the vehicles' last uplinks may take "
               "(default 5s)",
               SET({ return set_duration(o.fleet.grace, v, "--grace", Millis(0)); })},
    OptionSpec{"vin-prefix", 0, kFleet, "TEXT",
               "VINs are this prefix + zero-padded index, 17 chars (default RMQB)", SET({
                 if (v.empty() || v.size() > 16 || v.find_first_of("/+#") != std::string_view::npos)
                   return Error{"--vin-prefix: 1..16 characters without / + #"};
                 o.fleet.vin_prefix = std::string(v);
                 return {};
               })},
    OptionSpec{"uplink-topic", 0, kFleet, "TEMPLATE", "telemetry topic (default vehicle/{vin}/up)",
               SET({
                 o.fleet.uplink_topic = std::string(v);
                 return {};
               })},
    OptionSpec{"downlink-topic", 0, kFleet, "TEMPLATE",
               "command topic (default vehicle/{vin}/down)", SET({
                 o.fleet.downlink_topic = std::string(v);
                 return {};
               })},
    OptionSpec{"platform-filter", 0, kFleet, "FILTER",
               "what the platform subscribes to for uplinks (default: uplink topic, {vin} -> +)",
               SET({
                 o.fleet.platform_filter = std::string(v);
                 return {};
               })},
    OptionSpec{"no-uplink-check", 0, kFleet, "", "the platform does not subscribe to uplinks", SET({
                 o.fleet.check_uplinks = false;
                 return {};
               })},
    OptionSpec{"keep-sessions", 0, kFleet, "",
               "v5: leave the vehicles' sessions on the broker at the end", SET({
                 o.fleet.keep_sessions = true;
                 return {};
               })},
};

#undef SET

const OptionSpec* find_long(std::string_view name) {
  for (const auto& s : kOptions)
    if (s.name == name) return &s;
  return nullptr;
}

const OptionSpec* find_short(char c) {
  for (const auto& s : kOptions)
    if (s.short_name == c) return &s;
  return nullptr;
}

std::optional<Command> command_of(std::string_view s) {
  if (s == "conn") return Command::conn;
  if (s == "pub") return Command::pub;
  if (s == "sub") return Command::sub;
  if (s == "fleet") return Command::fleet;
  return std::nullopt;
}

// A template with sample values substituted must be a valid name / filter.
Status check_topic(std::string_view tmpl, bool filter, std::string_view what) {
  const std::string sample = expand_template(tmpl, 0, "RMQB0000000000000", "client");
  const auto err = filter ? mqtt::validate_topic_filter(sample) : mqtt::validate_topic_name(sample);
  if (err)
    return Error{std::string(what) + ": '" + std::string(tmpl) + "' is not a valid topic " +
                 (filter ? "filter" : "name")};
  return {};
}

Status finish(Options& o, bool interval_given, bool clients_given, bool size_given) {
  if (o.client_prefix.empty()) o.client_prefix = "rb" + std::to_string(::getpid()) + "-";
  if (o.password && !o.username)
    return Error{"--password needs --username (MQTT forbids a password without a user name)"};
  if (o.session_expiry && o.version != mqtt::ProtocolVersion::v5)
    return Error{"--session-expiry is MQTT 5 only; with 3.1.1 use --clean-start false"};
  switch (o.command) {
    case Command::conn:
      break;
    case Command::pub: {
      if (o.topics.empty()) o.topics.emplace_back("bench/%i");
      if (o.topics.size() > 1) return Error{"pub: give one --topic template (use %i to vary it)"};
      if (auto st = check_topic(o.topics.front(), false, "--topic"); !st) return st;
      if (interval_given) {
        if (o.rate > 0) return Error{"pub: give --rate or --interval, not both"};
        o.rate = static_cast<double>(o.clients) * 1000.0 / static_cast<double>(o.interval.count());
      }
      break;
    }
    case Command::sub: {
      if (o.topics.empty()) o.topics.emplace_back("bench/#");
      for (auto& t : o.topics) {
        if (!o.shared_group.empty()) {
          if (t.starts_with("$share/"))
            return Error{"--shared: filter '" + t + "' is already shared"};
          t = "$share/" + o.shared_group + "/" + t;
        }
        if (auto st = check_topic(t, true, "--topic"); !st) return st;
      }
      break;
    }
    case Command::fleet: {
      FleetOptions& f = o.fleet;
      if (!clients_given) o.clients = 100;
      if (!size_given) o.payload_size = 200;
      if (o.qos > 1) return Error{"fleet: uplink --qos must be 0 or 1"};
      if (f.outage_min > f.outage_max) return Error{"fleet: --outage-min is above --outage-max"};
      if (f.backoff_min > f.backoff_max)
        return Error{"fleet: --backoff-min is above --backoff-max"};
      for (const auto* t : {&f.uplink_topic, &f.downlink_topic}) {
        if (t->find("{vin}") == std::string::npos)
          return Error{"fleet: topic template '" + *t + "' must contain {vin}"};
        if (auto st = check_topic(*t, false, "fleet topic"); !st) return st;
      }
      if (f.platform_filter.empty()) {
        f.platform_filter = f.uplink_topic;
        const auto at = f.platform_filter.find("{vin}");
        f.platform_filter.replace(at, 5, "+");
      }
      if (auto st = check_topic(f.platform_filter, true, "--platform-filter"); !st) return st;
      // Persistent sessions are the point of the fleet scenario: downlinks
      // for a vehicle in a tunnel wait on the broker.
      o.clean_start = false;
      if (o.version == mqtt::ProtocolVersion::v5 && !o.session_expiry) o.session_expiry = 3600;
      if (o.version == mqtt::ProtocolVersion::v5 && *o.session_expiry == 0)
        return Error{"fleet: --session-expiry must be above 0 (vehicles keep their sessions)"};
      break;
    }
  }
  if (!o.session_expiry) o.session_expiry = 0;
  return {};
}

}  // namespace

std::string_view to_string(Command c) noexcept {
  switch (c) {
    case Command::conn:
      return "conn";
    case Command::pub:
      return "pub";
    case Command::sub:
      return "sub";
    case Command::fleet:
      return "fleet";
  }
  return "?";
}

Expected<Millis, std::string> parse_duration(std::string_view text) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  const std::string_view num = text.substr(0, unit_at);
  const std::string_view unit = text.substr(unit_at);
  double v = 0;
  const auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (num.empty() || ec != std::errc{} || p != num.data() + num.size())
    return Error{"not a duration: '" + std::string(text) + "' (e.g. 500ms, 10s, 2m)"};
  double ms_per = 0;
  if (unit.empty() || unit == "s")
    ms_per = 1000;
  else if (unit == "ms")
    ms_per = 1;
  else if (unit == "m" || unit == "min")
    ms_per = 60'000;
  else if (unit == "h")
    ms_per = 3'600'000;
  else
    return Error{"unknown duration unit '" + std::string(unit) + "' (ms, s, m, h)"};
  const double ms = v * ms_per;
  if (ms > 1e12) return Error{"duration too long: '" + std::string(text) + "'"};
  return Millis(static_cast<std::int64_t>(std::llround(ms)));
}

Expected<std::uint64_t, std::string> parse_size(std::string_view text) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() && std::isdigit(static_cast<unsigned char>(text[unit_at])))
    ++unit_at;
  auto n = parse_int<std::uint64_t>(text.substr(0, unit_at), 0, UINT64_MAX >> 20, "size");
  if (!n) return Error{"not a size: '" + std::string(text) + "' (e.g. 256, 4KB, 1MB)"};
  std::string unit(text.substr(unit_at));
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "B") return *n;
  if (unit == "K" || unit == "KB" || unit == "KIB") return *n << 10;
  if (unit == "M" || unit == "MB" || unit == "MIB") return *n << 20;
  return Error{"unknown size unit '" + std::string(text.substr(unit_at)) + "' (B, KB, MB)"};
}

std::string expand_template(std::string_view tmpl, std::uint32_t index, std::string_view vin,
                            std::string_view client_id) {
  std::string out;
  out.reserve(tmpl.size() + 16);
  for (std::size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 2, "%i") == 0) {
      out += std::to_string(index);
      i += 2;
    } else if (tmpl.compare(i, 2, "%c") == 0) {
      out += client_id;
      i += 2;
    } else if (tmpl.compare(i, 5, "{vin}") == 0) {
      out += vin;
      i += 5;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

std::string make_vin(std::string_view prefix, std::uint32_t index) {
  std::string digits = std::to_string(index);
  std::string vin(prefix);
  if (vin.size() + digits.size() < 17) vin.append(17 - vin.size() - digits.size(), '0');
  vin += digits;
  return vin;
}

Expected<CommandLine, std::string> parse_command_line(std::span<const std::string_view> args) {
  CommandLine cl;
  if (args.empty()) return Error{"no command given (conn, pub, sub or fleet)"};
  const std::string_view first = args[0];
  if (first == "--help" || first == "help") {
    cl.action = CommandLine::Action::help;
    if (args.size() > 1) cl.help_for = command_of(args[1]);
    return cl;
  }
  if (first == "--version") {
    cl.action = CommandLine::Action::version;
    return cl;
  }
  const auto command = command_of(first);
  if (!command)
    return Error{"unknown command '" + std::string(first) + "' (conn, pub, sub or fleet)"};
  Options& o = cl.options;
  o.command = *command;
  bool interval_given = false;
  bool clients_given = false;
  bool size_given = false;

  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help") {
      cl.action = CommandLine::Action::help;
      cl.help_for = command;
      return cl;
    }
    const OptionSpec* spec = nullptr;
    std::optional<std::string_view> inline_value;
    std::string shown;
    if (arg.starts_with("--")) {
      std::string_view name = arg.substr(2);
      if (const auto eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      spec = find_long(name);
      shown = "--" + std::string(name);
    } else if (arg.size() == 2 && arg[0] == '-') {
      spec = find_short(arg[1]);
      shown = std::string(arg);
    } else {
      return Error{"unexpected argument '" + std::string(arg) + "'"};
    }
    if (spec == nullptr) return Error{"unknown option " + shown};
    if ((spec->commands & bit(*command)) == 0)
      return Error{"option --" + std::string(spec->name) + " does not apply to " +
                   std::string(to_string(*command))};
    std::string_view value;
    if (spec->value.empty()) {
      if (inline_value) return Error{"option --" + std::string(spec->name) + " takes no value"};
    } else if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size())
        return Error{"option " + shown + " needs a value (" + std::string(spec->value) + ")"};
      value = args[++i];
    }
    if (spec->name == "interval") interval_given = true;
    if (spec->name == "clients" || spec->name == "vehicles") clients_given = true;
    if (spec->name == "size") size_given = true;
    if (auto st = spec->set(o, value); !st) return Error{st.error()};
  }
  if (auto st = finish(o, interval_given, clients_given, size_given); !st) return Error{st.error()};
  return cl;
}

namespace {

constexpr std::size_t kHelpColumn = 34;
constexpr std::size_t kHelpWidth = 100;

// Breaks option help at word boundaries so each line fits kHelpWidth.
std::string wrap(std::string_view text) {
  std::string out;
  std::size_t col = kHelpColumn;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t sp = std::min(text.find(' ', i), text.size());
    const std::string_view word = text.substr(i, sp - i);
    if (col > kHelpColumn && col + 1 + word.size() > kHelpWidth) {
      out += "\n" + std::string(kHelpColumn, ' ');
      col = kHelpColumn;
    } else if (col > kHelpColumn) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    i = sp + 1;
  }
  return out;
}

}  // namespace

std::string help_text(std::optional<Command> command) {
  std::string out;
  if (!command) {
    out +=
        "roadmq-bench: MQTT 3.1.1/5.0 load generator\n"
        "\n"
        "usage: roadmq-bench COMMAND [OPTIONS]\n"
        "       roadmq-bench COMMAND --help | --help | --version\n"
        "\n"
        "commands:\n"
        "  conn   open N connections at a set rate and hold them\n"
        "  pub    publish from N clients (timestamped, sequenced payloads)\n"
        "  sub    subscribe with N clients; latency, loss, duplicates, reordering\n"
        "  fleet  connected-vehicle simulation: telemetry up, commands down, tunnels\n"
        "\n"
        "Progress goes to stderr every second; a JSON summary goes to stdout at the end.\n"
        "Exit codes: 0 all checks passed, 1 a check failed (connection failures above\n"
        "--max-connect-failures, unexpected loss, unacknowledged or refused publishes,\n"
        "missing downlinks), 2 bad command line.\n"
        "Transport: plain TCP only; TLS is not implemented yet (--tls is reserved).\n"
        "See docs/roadmq-bench.md.\n";
    return out;
  }
  out += "usage: roadmq-bench " + std::string(to_string(*command)) + " [OPTIONS]\n\noptions:\n";
  for (const auto& s : kOptions) {
    if ((s.commands & bit(*command)) == 0) continue;
    std::string left = "  ";
    left += s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + std::string(s.name);
    if (!s.value.empty()) left += " " + std::string(s.value);
    if (left.size() < kHelpColumn)
      left.append(kHelpColumn - left.size(), ' ');
    else
      left += "\n" + std::string(kHelpColumn, ' ');
    out += left + wrap(s.help) + "\n";
  }
  out += "  --help                          this text\n";
  return out;
}

}  // namespace roadmq::loadgen
