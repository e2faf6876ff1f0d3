#include "loadgen/plan.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "mqtt/topic.hpp"

namespace roadmq::loadgen {
namespace {

Expected<net::Endpoint, std::string> resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Unexpected{"cannot resolve host '" + host + "': " + ::gai_strerror(rc)};
  }
  net::Endpoint e = net::Endpoint::from_sockaddr(res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (e.family == net::Endpoint::Family::none)
    return Unexpected{"host '" + host + "' has no IP address"};
  e.port = port;
  return e;
}

Expected<net::Endpoint, std::string> source_address(const std::string& a,
                                                    const net::Endpoint& server) {
  const std::string hp = a.find(':') != std::string::npos ? "[" + a + "]:0" : a + ":0";
  auto e = net::parse_endpoint(hp);
  if (!e) return Unexpected{"--ifaddr '" + a + "': " + e.error()};
  if (e->family != server.family)
    return Unexpected{"--ifaddr '" + a + "' is not of the broker address's family"};
  return *e;
}

std::uint64_t fresh_run_id() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) id = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return id;
}

}  // namespace

Expected<RunPlan, std::string> make_plan(const Options& o) {
  RunPlan plan;
  plan.options = o;
  auto server = resolve(o.host, o.port);
  if (!server) return Unexpected{server.error()};
  plan.server = *server;
  std::vector<net::Endpoint> sources;
  for (const auto& a : o.ifaddrs) {
    auto e = source_address(a, plan.server);
    if (!e) return Unexpected{e.error()};
    sources.push_back(*e);
  }
  plan.run_id = fresh_run_id();

  SessionConfig& s = plan.session;
  s.version = o.version;
  s.keepalive = o.keepalive;
  s.clean_first = o.clean_start;
  s.clean_reconnect = o.clean_start;
  s.session_expiry = o.session_expiry.value_or(0);
  s.username = o.username;
  s.password = o.password;
  s.inflight = o.inflight;
  s.connect_timeout = o.connect_timeout;
  s.read_capacity = o.command == Command::sub ? 16384 : 512;
  if (o.command == Command::fleet && o.version == mqtt::ProtocolVersion::v5) {
    // A fresh session on the first connect (no stale commands from an
    // earlier run), then resumed on every reconnect. 3.1.1 has no way to
    // start clean and stay persistent, so it resumes whatever is there;
    // stale commands carry another run id and count as foreign.
    s.clean_first = true;
  }
  plan.platform_session = s;
  plan.platform_session.clean_first = true;
  plan.platform_session.clean_reconnect = true;
  plan.platform_session.session_expiry = 0;
  plan.platform_session.read_capacity = 16384;

  net::ConnectionOptions copt;
  switch (o.command) {
    case Command::pub:
      copt.read_hint = 4096;
      // Keeps the batch buffer between ticks instead of reallocating it.
      // trim() only keeps what a connection has actually grown to (a tick's
      // batch, or the high watermark plus a pump batch), so this costs
      // nothing for publishers that send little.
      copt.idle_output_capacity = 8u << 20;
      break;
    case Command::sub:
      copt.read_hint = 65536;
      copt.idle_output_capacity = 4096;
      break;
    case Command::conn:
    case Command::fleet:
      copt.read_hint = 1024;
      copt.idle_output_capacity = 1024;
      break;
  }
  copt.hard_limit = 64u << 20;
  plan.group = std::make_shared<net::ConnectionGroup>(copt);

  const mqtt::QoS qos = static_cast<mqtt::QoS>(o.qos);
  plan.clients.reserve(o.clients + 1);
  for (std::uint32_t i = 0; i < o.clients; ++i) {
    ClientSpec c;
    c.index = o.start_index + i;
    c.vehicle = i;
    if (!sources.empty()) c.source = sources[i % sources.size()];
    const std::string vin = make_vin(o.fleet.vin_prefix, c.index);
    c.client_id = o.command == Command::fleet ? vin : o.client_prefix + std::to_string(c.index);
    switch (o.command) {
      case Command::conn:
        c.role = Role::holder;
        break;
      case Command::pub:
        c.role = Role::publisher;
        c.publishes = true;
        c.topic = expand_template(o.topics.front(), c.index, vin, c.client_id);
        break;
      case Command::sub:
        c.role = Role::subscriber;
        for (const auto& t : o.topics) {
          mqtt::Subscription sub;
          sub.filter = expand_template(t, c.index, vin, c.client_id);
          sub.options.max_qos = qos;
          c.subscriptions.push_back(std::move(sub));
        }
        break;
      case Command::fleet: {
        c.role = Role::vehicle;
        // Idle vehicles spread evenly over the indices (and so the threads).
        const double r = o.fleet.idle_ratio;
        c.publishes = std::floor((i + 1) * (1.0 - r)) > std::floor(i * (1.0 - r));
        c.topic = expand_template(o.fleet.uplink_topic, c.index, vin, c.client_id);
        mqtt::Subscription down;
        down.filter = expand_template(o.fleet.downlink_topic, c.index, vin, c.client_id);
        down.options.max_qos = mqtt::QoS::at_least_once;
        plan.downlink_topics.push_back(down.filter);
        c.subscriptions.push_back(std::move(down));
        break;
      }
    }
    plan.clients.push_back(std::move(c));
  }
  if (o.command == Command::fleet) {
    plan.vehicles = o.clients;
    ClientSpec p;
    p.role = Role::platform;
    p.publishes = o.fleet.downlink_rate > 0;
    p.index = kPlatformPublisher;
    p.client_id = o.client_prefix + "platform";
    if (!sources.empty()) p.source = sources.front();
    if (o.fleet.check_uplinks) {
      mqtt::Subscription up;
      up.filter = o.fleet.platform_filter;
      up.options.max_qos = qos;
      p.subscriptions.push_back(std::move(up));
    }
    plan.clients.push_back(std::move(p));
  }
  plan.shared_receivers = o.command == Command::sub &&
                          std::all_of(o.topics.begin(), o.topics.end(), [](const std::string& t) {
                            return mqtt::parse_shared(t).has_value();
                          });
  plan.scratch_size = std::max(o.payload_size, o.fleet.downlink_size);
  return plan;
}

}  // namespace roadmq::loadgen
