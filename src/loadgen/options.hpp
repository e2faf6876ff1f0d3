// Command line of roadmq-bench: one subcommand (conn, pub, sub, fleet) and
// its options, parsed into Options or refused with a message (exit code 2).
// One table describes every option: parsing, the per-command check and the
// --help text all come from it.
//
// Thread safety: pure functions; Options is an immutable value once parsed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "mqtt/types.hpp"

namespace roadmq::loadgen {

using Millis = std::chrono::milliseconds;

enum class Command : std::uint8_t { conn, pub, sub, fleet };
std::string_view to_string(Command c) noexcept;

// How bytes reach the broker. Only TCP exists today; a TLS transport is the
// planned second member (see connector.hpp), and --tls is reserved for it.
enum class Transport : std::uint8_t { tcp };

struct FleetOptions {
  double idle_ratio = 0.1;       // vehicles connected but not publishing
  double disconnect_rate = 0.0;  // drops per connected vehicle per second
  Millis outage_min{500};        // how long a dropped vehicle stays away
  Millis outage_max{3000};
  Millis backoff_min{200};  // after a failed reconnect attempt
  Millis backoff_max{10000};
  double downlink_rate = 10;  // platform commands per second, in all
  std::size_t downlink_size = 64;
  Millis grace{5000};  // after the run, for downlinks still on their way
  std::string vin_prefix = "RMQB";
  std::string uplink_topic = "vehicle/{vin}/up";
  std::string downlink_topic = "vehicle/{vin}/down";
  std::string platform_filter;  // empty: uplink_topic with {vin} as '+'
  bool check_uplinks = true;    // the platform subscribes to the uplinks
  bool keep_sessions = false;   // v5: leave sessions on the broker at the end
};

struct Options {
  Command command = Command::pub;
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  Transport transport = Transport::tcp;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::v5;
  std::uint8_t qos = 0;
  std::uint32_t clients = 1;
  std::uint32_t start_index = 0;
  std::uint64_t count = 0;         // pub: per publisher; sub: in all, then stop
  std::optional<Millis> duration;  // none: until SIGINT/SIGTERM
  std::size_t payload_size = 256;
  std::vector<std::string> topics;   // pub: one template; sub: filters
  double rate = 0;                   // pub: messages/s in all; 0 = as fast as possible
  Millis interval{1000};             // pub: per publisher (sets rate); fleet: per vehicle
  double conn_rate = 1000;           // connection attempts/s in all; 0 = all at once
  std::vector<std::string> ifaddrs;  // numeric source addresses, round robin
  std::uint32_t threads = 1;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::uint16_t keepalive = 60;
  bool clean_start = true;                      // fleet forces a persistent session
  std::optional<std::uint32_t> session_expiry;  // v5, seconds
  std::string client_prefix;                    // default "rb<pid>-"
  std::uint16_t inflight = 64;
  bool retain = false;
  std::string shared_group;  // sub: prefix filters with $share/<group>/
  Millis connect_timeout{10000};
  Millis drain_timeout{10000};
  std::optional<Millis> idle_exit;  // sub: stop this long after the last message
  std::uint64_t max_connect_failures = 0;
  bool allow_loss = false;
  std::optional<std::string> json_path;
  bool quiet = false;
  FleetOptions fleet;
};

struct CommandLine {
  enum class Action : std::uint8_t { run, help, version };
  Action action = Action::run;
  std::optional<Command> help_for;  // help: for this command, or general
  Options options;
};

// `args` excludes the program name. The error is one line for stderr.
Expected<CommandLine, std::string> parse_command_line(std::span<const std::string_view> args);

std::string help_text(std::optional<Command> command);

// Value parsers, exposed for tests. Durations: "250ms", "10s", "2m", "1h",
// a bare number is seconds (fractions allowed). Sizes: "256", "4KB", "1MB"
// (1024-based).
Expected<Millis, std::string> parse_duration(std::string_view text);
Expected<std::uint64_t, std::string> parse_size(std::string_view text);

// `%i` -> index, `{vin}` -> vin, `%c` -> client id.
std::string expand_template(std::string_view tmpl, std::uint32_t index, std::string_view vin,
                            std::string_view client_id);
// A 17-character VIN-shaped id: prefix, then the index zero-padded.
std::string make_vin(std::string_view prefix, std::uint32_t index);

}  // namespace roadmq::loadgen
