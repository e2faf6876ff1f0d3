// Test scaffolding shared by the Session unit tests: action inspection,
// packet builders and a fixture with one session and a hand-advanced clock.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "broker/session.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::broker::test {

using namespace std::chrono_literals;
using mqtt::PacketId;
using mqtt::ProtocolVersion;
using mqtt::QoS;
using mqtt::ReasonCode;

// ---------------------------------------------------------------------------
// Action inspection

template <class T>
inline std::vector<T> all_of(const Actions& actions) {
  std::vector<T> found;
  for (const auto& a : actions) {
    if (const auto* p = std::get_if<T>(&a)) found.push_back(*p);
  }
  return found;
}

template <class T>
inline std::size_t count_of(const Actions& actions) {
  std::size_t n = 0;
  for (const auto& a : actions) n += std::holds_alternative<T>(a) ? 1 : 0;
  return n;
}

// Position of the first action of type T, or SIZE_MAX.
template <class T>
inline std::size_t index_of(const Actions& actions) {
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (std::holds_alternative<T>(actions[i])) return i;
  }
  return SIZE_MAX;
}

// Control packets of type P among the SendPacket actions.
template <class P>
inline std::vector<P> packets_of(const Actions& actions) {
  std::vector<P> found;
  for (const auto& a : actions) {
    if (const auto* sp = std::get_if<SendPacket>(&a)) {
      if (const auto* p = std::get_if<P>(&sp->packet)) found.push_back(*p);
    }
  }
  return found;
}

template <class P>
inline std::size_t index_of_packet(const Actions& actions) {
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (const auto* sp = std::get_if<SendPacket>(&actions[i])) {
      if (std::holds_alternative<P>(sp->packet)) return i;
    }
  }
  return SIZE_MAX;
}

inline std::optional<CloseConnection> close_of(const Actions& actions) {
  const auto closes = all_of<CloseConnection>(actions);
  if (closes.empty()) return std::nullopt;
  return closes.front();
}

inline std::vector<std::uint16_t> ids_of(const std::vector<SendPublish>& sends) {
  std::vector<std::uint16_t> ids;
  for (const auto& s : sends) ids.push_back(s.packet_id.value);
  return ids;
}

inline std::vector<std::string> payloads_of(const std::vector<SendPublish>& sends) {
  std::vector<std::string> p;
  for (const auto& s : sends) p.emplace_back(s.message->payload);
  return p;
}

// The PUBLISH the connection layer builds from a SendPublish.
inline mqtt::Publish to_publish(const SendPublish& sp) {
  mqtt::Publish p;
  p.topic = sp.omit_topic ? std::string() : std::string(sp.message->topic);
  p.payload = sp.message->payload;
  p.qos = sp.qos;
  p.retain = sp.retain;
  p.dup = sp.dup;
  p.packet_id = sp.packet_id;
  p.properties = sp.message->properties;
  if (sp.topic_alias != 0) p.properties.set_topic_alias(sp.topic_alias);
  if (sp.message_expiry) p.properties.set_message_expiry_interval(*sp.message_expiry);
  for (const auto id : sp.subscription_ids) p.properties.add_subscription_identifier(id);
  return p;
}

// ---------------------------------------------------------------------------
// Packet and message builders

inline mqtt::Connect v5_connect(std::uint16_t keep_alive = 0, std::uint32_t session_expiry = 0) {
  mqtt::Connect c;
  c.version = ProtocolVersion::v5;
  c.clean_start = false;
  c.keep_alive = keep_alive;
  c.client_id = "car-1";
  if (session_expiry != 0) c.properties.set_session_expiry_interval(session_expiry);
  return c;
}

inline mqtt::Connect v311_connect(bool clean_session, std::uint16_t keep_alive = 0) {
  mqtt::Connect c;
  c.version = ProtocolVersion::v3_1_1;
  c.clean_start = clean_session;
  c.keep_alive = keep_alive;
  c.client_id = "car-1";
  return c;
}

inline mqtt::Will will_of(std::string topic = "car/1/status", std::uint32_t delay = 0) {
  mqtt::Will w;
  w.topic = std::move(topic);
  w.payload = "offline";
  w.qos = QoS::at_least_once;
  w.retain = true;
  if (delay != 0) w.properties.set_will_delay_interval(delay);
  return w;
}

inline mqtt::Publish publish(std::string topic, QoS qos, std::uint16_t id = 0, std::string payload = "p") {
  mqtt::Publish p;
  p.topic = std::move(topic);
  p.qos = qos;
  p.packet_id = PacketId{id};
  p.payload = std::move(payload);
  return p;
}

template <class Ack>
inline Ack ack(std::uint16_t id, ReasonCode reason = ReasonCode::success) {
  Ack a;
  a.packet_id = PacketId{id};
  a.reason = reason;
  return a;
}

inline mqtt::Subscribe subscribe(std::uint16_t id, std::vector<std::string> filters,
                          QoS qos = QoS::exactly_once) {
  mqtt::Subscribe s;
  s.packet_id = PacketId{id};
  for (auto& f : filters) {
    mqtt::Subscription sub;
    sub.filter = std::move(f);
    sub.options.max_qos = qos;
    s.subscriptions.push_back(std::move(sub));
  }
  return s;
}

inline mqtt::Unsubscribe unsubscribe(std::uint16_t id, std::vector<std::string> filters) {
  mqtt::Unsubscribe u;
  u.packet_id = PacketId{id};
  u.filters = std::move(filters);
  return u;
}

inline DeliveryOptions granted(QoS qos) {
  DeliveryOptions o;
  o.qos = qos;
  return o;
}

// ---------------------------------------------------------------------------
// Fixture: one session, a fake clock, the shared settings and stats.

class SessionFixture : public ::testing::Test {
 protected:
  SessionSettings settings;
  SessionStats stats;
  TimePoint t0 = TimePoint{} + 1000h;
  TimePoint now = t0;
  std::unique_ptr<Session> session;

  Session& s() {
    if (!session) session = std::make_unique<Session>("car-1", settings, stats);
    return *session;
  }

  void advance(Duration d) { now += d; }

  Actions attach(const mqtt::Connect& c, bool present = false, bool assigned = false) {
    Actions out;
    s().attach(c, present, assigned, now, out);
    return out;
  }
  Actions handle(mqtt::Packet p) {
    Actions out;
    s().handle(std::move(p), now, out);
    return out;
  }
  Actions deliver(const MessagePtr& m, const DeliveryOptions& o) {
    Actions out;
    s().deliver(m, o, now, out);
    return out;
  }
  Actions deliver(const MessagePtr& m, QoS granted_qos) { return deliver(m, granted(granted_qos)); }
  Actions tick() {
    Actions out;
    s().tick(now, out);
    return out;
  }
  Actions detach(DetachReason r) {
    Actions out;
    s().detach(r, now, out);
    return out;
  }

  MessagePtr message(std::string topic, QoS qos, std::string payload = "m", bool retain = false) {
    auto m = new_message(topic, payload, "other");
    m->qos = qos;
    m->retain = retain;
    return m;
  }
  MessagePtr expiring(std::string topic, QoS qos, Duration ttl, std::string payload = "m") {
    auto m = new_message(topic, payload, {});
    m->qos = qos;
    m->expires_at = now + ttl;
    return m;
  }

  // A connected persistent session (v5, expiry 1 h) with `receive_max`.
  Actions connect_persistent(std::uint16_t receive_max = 0, std::uint32_t expiry = 3600) {
    auto c = v5_connect(0, expiry);
    if (receive_max != 0) c.properties.set_receive_maximum(receive_max);
    return attach(c);
  }
  void go_offline() { (void)detach(DetachReason::connection_lost); }

  // Sends one QoS 1 message and returns its packet id.
  std::uint16_t deliver_qos1(std::string payload = "m") {
    const auto sends = all_of<SendPublish>(
        deliver(message("t", QoS::at_least_once, std::move(payload)), QoS::at_least_once));
    EXPECT_EQ(sends.size(), 1u);
    return sends.empty() ? 0 : sends.front().packet_id.value;
  }
};

using SessionConnect = SessionFixture;
using SessionKeepAlive = SessionFixture;
using SessionInbound = SessionFixture;
using SessionInboundQos2 = SessionFixture;
using SessionInboundAlias = SessionFixture;
using SessionOutbound = SessionFixture;
using SessionRetainFlag = SessionFixture;
using SessionPacketId = SessionFixture;
using SessionFlowControl = SessionFixture;
using SessionQueue = SessionFixture;
using SessionMessageExpiry = SessionFixture;
using SessionRetry = SessionFixture;
using SessionResume = SessionFixture;
using SessionOutboundAlias = SessionFixture;
using SessionPacketSize = SessionFixture;
using SessionWill = SessionFixture;
using SessionLifecycle = SessionFixture;
using SessionSubscribe = SessionFixture;
using SessionUnsubscribe = SessionFixture;
using SessionProtocol = SessionFixture;
using SessionShared = SessionFixture;
using SessionDeadline = SessionFixture;
using SessionMemory = SessionFixture;

}  // namespace roadmq::broker::test
