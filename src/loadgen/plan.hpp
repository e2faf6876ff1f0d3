// RunPlan: everything a run needs that is decided before it starts, built
// once from the Options on the main thread and then only read, by every
// worker thread: the broker address, the session settings, one ClientSpec
// per client (id, role, topics), the fleet's downlink topics, the run id.
//
// Thread safety: immutable once built; shared read-only by all workers.
// RunShared is the one piece of state workers write and read across
// threads (atomics, never locks).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "loadgen/client.hpp"
#include "loadgen/options.hpp"
#include "mqtt/packet.hpp"
#include "net/connection.hpp"
#include "net/endpoint.hpp"

namespace roadmq::loadgen {

enum class Role : std::uint8_t {
  holder,      // conn: connects and stays
  publisher,   // pub
  subscriber,  // sub
  vehicle,     // fleet: telemetry up, commands down
  platform,    // fleet: commands down, telemetry check
};

// The publisher index in the payload header of the platform's commands.
inline constexpr std::uint32_t kPlatformPublisher = 0xFFFFFFFFu;

struct ClientSpec {
  std::string client_id;
  Role role = Role::holder;
  bool publishes = false;     // vehicles: false for the idle ones
  std::uint32_t index = 0;    // --start-index + position; the header's publisher index
  std::uint32_t vehicle = 0;  // fleet: position among the vehicles
  std::string topic;          // what it publishes to
  std::vector<mqtt::Subscription> subscriptions;
  std::optional<net::Endpoint> source;
};

struct RunPlan {
  Options options;
  net::Endpoint server;
  std::uint64_t run_id = 0;
  SessionConfig session;                     // every client but the platform
  SessionConfig platform_session;            // clean, no expiry: it never goes away
  std::vector<ClientSpec> clients;           // fleet: vehicles first, the platform last
  std::vector<std::string> downlink_topics;  // fleet: by vehicle position
  std::uint32_t vehicles = 0;
  bool shared_receivers = false;  // sub: every filter is $share/...: one stream view per group
  std::shared_ptr<net::ConnectionGroup> group;
  std::size_t scratch_size = 0;  // largest payload any worker builds

  std::uint32_t worker_of(std::size_t client) const noexcept {
    // The platform shares worker 0 with every threads-th vehicle.
    if (options.command == Command::fleet && client == vehicles) return 0;
    return static_cast<std::uint32_t>(client % options.threads);
  }
};

// Resolves the host (getaddrinfo, once) and lays out every client. The error
// is a one-line message (exit code 2).
Expected<RunPlan, std::string> make_plan(const Options& options);

struct RunShared {
  explicit RunShared(std::uint32_t vehicles)
      : vehicle_ready(std::make_unique<std::atomic<std::uint8_t>[]>(vehicles)) {}
  // Set by a vehicle's worker once it has subscribed; read by the platform,
  // which sends commands only to vehicles whose subscription exists.
  std::unique_ptr<std::atomic<std::uint8_t>[]> vehicle_ready;
};

}  // namespace roadmq::loadgen
