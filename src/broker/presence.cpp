#include "broker/presence.hpp"

#include "base/json_string.hpp"

#include <chrono>
#include <cstdio>

namespace roadmq::broker {

std::uint64_t wall_clock_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::string_view disconnect_reason_name(DetachReason reason) noexcept {
  switch (reason) {
    case DetachReason::normal_disconnect: return "normal";
    case DetachReason::disconnect_with_will: return "normal_with_will";
    case DetachReason::connection_lost: return "tcp_closed";
    case DetachReason::keep_alive_timeout: return "keepalive_timeout";
    case DetachReason::protocol_error: return "protocol_error";
    case DetachReason::taken_over: return "takenover";
    case DetachReason::server_shutdown: return "shutdown";
    case DetachReason::administrative: return "kicked";
  }
  return "unknown";
}

namespace {

std::string client_topic(std::string_view node, std::string_view client_id, std::string_view event) {
  std::string t = "$SYS/brokers/";
  t.append(node).append("/clients/").append(client_id).push_back('/');
  t.append(event);
  return t;
}

// Host part of "ip:port" or "[v6]:port".
std::string_view host_of(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const auto close = peer.find(']');
    return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
  }
  const auto colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

void append_common(std::string& p, const ClientInfo& c) {
  p += "{\"clientid\":";
  append_json_string(p, c.client_id);
  p += ",\"username\":";
  if (c.username.empty()) p += "null";
  else append_json_string(p, c.username);
  p += ",\"ipaddress\":";
  append_json_string(p, host_of(c.peer));
  p += ",\"proto_name\":";
  append_json_string(p, c.proto_name);
  p += ",\"proto_ver\":" + std::to_string(c.proto_ver);
}

}  // namespace

MessagePtr make_broker_message(std::string topic, std::string_view payload, bool retain) {
  auto m = new_message(topic, payload, {});
  m->retain = retain;
  m->received_at_ms = wall_clock_ms();
  return m;
}

MessagePtr make_connected_event(std::string_view node, const ClientInfo& c) {
  std::string p;
  p.reserve(256);
  append_common(p, c);
  p += ",\"keepalive\":" + std::to_string(c.keep_alive);
  p += std::string(",\"clean_start\":") + (c.clean_start ? "true" : "false");
  p += ",\"connected_at\":" + std::to_string(c.connected_at_ms);
  p += ",\"ts\":" + std::to_string(c.connected_at_ms) + "}";
  return make_broker_message(client_topic(node, c.client_id, "connected"), std::move(p));
}

MessagePtr make_disconnected_event(std::string_view node, const ClientInfo& c, DetachReason reason,
                                   std::uint64_t now_ms) {
  std::string p;
  p.reserve(256);
  append_common(p, c);
  p += ",\"reason\":";
  append_json_string(p, disconnect_reason_name(reason));
  p += ",\"connected_at\":" + std::to_string(c.connected_at_ms);
  p += ",\"disconnected_at\":" + std::to_string(now_ms);
  p += ",\"ts\":" + std::to_string(now_ms) + "}";
  return make_broker_message(client_topic(node, c.client_id, "disconnected"), std::move(p));
}

}  // namespace roadmq::broker
