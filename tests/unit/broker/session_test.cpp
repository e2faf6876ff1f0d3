// Session state machine, rule by rule: packets and clock ticks in, actions
// out, with a hand-advanced fake clock (no sockets, no sleeps). Each test
// names the spec rule it exercises where there is one.
#include "broker/session.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "broker/session_fixture.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::broker {
namespace {

using namespace std::chrono_literals;
using mqtt::PacketId;
using mqtt::ProtocolVersion;
using mqtt::QoS;
using mqtt::ReasonCode;

using namespace test;  // NOLINT: the fixture's vocabulary


// ===========================================================================
// CONNACK [MQTT-3.2]

TEST_F(SessionConnect, V5DefaultsAdvertiseReceiveMaximumPacketSizeAndAliasMaximum) {
  const auto out = attach(v5_connect());
  ASSERT_EQ(out.size(), 1u);
  const auto acks = packets_of<mqtt::Connack>(out);
  ASSERT_EQ(acks.size(), 1u);
  const auto& p = acks[0].properties;
  EXPECT_FALSE(acks[0].session_present);
  EXPECT_EQ(acks[0].reason, ReasonCode::success);
  EXPECT_EQ(p.receive_maximum(), 100u);  // = max_awaiting_rel
  EXPECT_EQ(p.maximum_packet_size(), 1024u * 1024u);
  EXPECT_EQ(p.topic_alias_maximum(), 65535u);
  EXPECT_FALSE(p.maximum_qos());
  EXPECT_FALSE(p.retain_available());
  EXPECT_FALSE(p.wildcard_subscription_available());
  EXPECT_FALSE(p.subscription_identifier_available());
  EXPECT_FALSE(p.shared_subscription_available());
  EXPECT_FALSE(p.server_keep_alive());
  EXPECT_FALSE(p.session_expiry_interval());
  EXPECT_FALSE(p.assigned_client_identifier());
  EXPECT_TRUE(s().connected());
  EXPECT_EQ(s().version(), ProtocolVersion::v5);
}

TEST_F(SessionConnect, V5ReportsEveryDisabledFeature) {
  settings.max_qos_allowed = QoS::at_least_once;
  settings.retain_available = false;
  settings.wildcard_subscription = false;
  settings.subscription_identifiers = false;
  settings.shared_subscription = false;
  settings.max_topic_alias = 0;
  settings.max_awaiting_rel = 10;
  const auto p = packets_of<mqtt::Connack>(attach(v5_connect())).at(0).properties;
  EXPECT_EQ(p.maximum_qos(), 1u);
  EXPECT_EQ(p.retain_available(), 0u);
  EXPECT_EQ(p.wildcard_subscription_available(), 0u);
  EXPECT_EQ(p.subscription_identifier_available(), 0u);
  EXPECT_EQ(p.shared_subscription_available(), 0u);
  EXPECT_FALSE(p.topic_alias_maximum());  // absent = 0
  EXPECT_EQ(p.receive_maximum(), 10u);
}

TEST_F(SessionConnect, V5MaximumQosZero) {
  settings.max_qos_allowed = QoS::at_most_once;
  const auto p = packets_of<mqtt::Connack>(attach(v5_connect())).at(0).properties;
  EXPECT_EQ(p.maximum_qos(), 0u);
}

TEST_F(SessionConnect, V5AssignedClientIdentifier) {  // [MQTT-3.2.2-16]
  const auto p = packets_of<mqtt::Connack>(attach(v5_connect(), false, true)).at(0).properties;
  EXPECT_EQ(p.assigned_client_identifier(), "car-1");
}

TEST_F(SessionConnect, V5ServerKeepAliveSentWhenConfigured) {
  settings.server_keepalive = 30;
  const auto p = packets_of<mqtt::Connack>(attach(v5_connect(120))).at(0).properties;
  EXPECT_EQ(p.server_keep_alive(), 30u);
}

TEST_F(SessionConnect, V5SessionExpirySentOnlyWhenCapped) {
  settings.session_expiry_interval = 7200s;
  auto p = packets_of<mqtt::Connack>(attach(v5_connect(0, 100000))).at(0).properties;
  EXPECT_EQ(p.session_expiry_interval(), 7200u);

  session.reset();
  p = packets_of<mqtt::Connack>(attach(v5_connect(0, 60))).at(0).properties;
  EXPECT_FALSE(p.session_expiry_interval());
}

TEST_F(SessionConnect, V5NeverExpiringSessionIsCapped) {
  settings.session_expiry_interval = 7200s;
  const auto p = packets_of<mqtt::Connack>(attach(v5_connect(0, 0xFFFFFFFF))).at(0).properties;
  EXPECT_EQ(p.session_expiry_interval(), 7200u);
  go_offline();
  EXPECT_EQ(s().next_deadline(), now + 7200s);
}

TEST_F(SessionConnect, V3HasNoConnackProperties) {
  settings.max_qos_allowed = QoS::at_least_once;
  settings.retain_available = false;
  settings.server_keepalive = 10;
  const auto acks = packets_of<mqtt::Connack>(attach(v311_connect(false), true, true));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].properties.empty());
  EXPECT_TRUE(acks[0].session_present);
  EXPECT_EQ(acks[0].reason, ReasonCode::success);
  EXPECT_EQ(s().version(), ProtocolVersion::v3_1_1);
}

TEST_F(SessionConnect, SessionPresentIsReportedAsGiven) {
  EXPECT_TRUE(packets_of<mqtt::Connack>(attach(v5_connect(), true)).at(0).session_present);
}

TEST_F(SessionConnect, RequestProblemInformationRemembered) {  // [MQTT-3.1.2-29]
  auto c = v5_connect();
  c.properties.set_request_problem_information(0);
  (void)attach(c);
  EXPECT_FALSE(s().problem_information_requested());
  session.reset();
  (void)attach(v5_connect());
  EXPECT_TRUE(s().problem_information_requested());
}

// ===========================================================================
// Keep alive [MQTT-3.1.2-22]

TEST_F(SessionKeepAlive, ClosesAfterOneAndAHalfKeepAlive) {
  (void)attach(v5_connect(10));
  EXPECT_EQ(s().next_deadline(), t0 + 15s);
  advance(14999ms);
  EXPECT_TRUE(tick().empty());
  advance(1ms);
  const auto out = tick();
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::keep_alive_timeout);
  EXPECT_TRUE(close->send_disconnect);
  EXPECT_EQ(close->detach, DetachReason::keep_alive_timeout);
  EXPECT_FALSE(s().connected());
  EXPECT_EQ(stats.keepalive_timeouts, 1u);
}

TEST_F(SessionKeepAlive, EveryPacketRefreshesActivity) {
  (void)attach(v5_connect(10));
  advance(10s);
  (void)handle(mqtt::Pingreq{});
  advance(10s);
  EXPECT_FALSE(close_of(tick()));
  (void)handle(ack<mqtt::Puback>(99));  // even an ack for an unknown id
  EXPECT_EQ(s().next_deadline(), now + 15s);
  advance(15s);
  EXPECT_TRUE(close_of(tick()));
}

TEST_F(SessionKeepAlive, MultiplierComesFromSettings) {
  settings.keepalive_multiplier = 2.0;
  (void)attach(v5_connect(10));
  advance(19s);
  EXPECT_FALSE(close_of(tick()));
  advance(1s);
  EXPECT_TRUE(close_of(tick()));
}

TEST_F(SessionKeepAlive, ServerKeepAliveOverridesClientInV5) {
  settings.server_keepalive = 4;
  (void)attach(v5_connect(60));
  EXPECT_EQ(s().next_deadline(), t0 + 6s);
  advance(6s);
  EXPECT_EQ(close_of(tick())->reason, ReasonCode::keep_alive_timeout);
}

TEST_F(SessionKeepAlive, ServerKeepAliveAppliesEvenWhenClientSentZero) {
  settings.server_keepalive = 4;
  (void)attach(v5_connect(0));
  advance(6s);
  EXPECT_TRUE(close_of(tick()));
}

TEST_F(SessionKeepAlive, V3ClientKeepsItsOwnValue) {
  // A 3.1.1 client cannot be told a Server Keep Alive.
  settings.server_keepalive = 4;
  (void)attach(v311_connect(true, 60));
  advance(6s);
  EXPECT_FALSE(close_of(tick()));
  advance(84s);
  EXPECT_TRUE(close_of(tick()));
}

TEST_F(SessionKeepAlive, ZeroDisablesKeepAlive) {
  (void)attach(v5_connect(0));
  EXPECT_EQ(s().next_deadline(), std::nullopt);
  advance(100h);
  EXPECT_TRUE(tick().empty());
  EXPECT_TRUE(s().connected());
}

TEST_F(SessionKeepAlive, TimeoutPublishesTheWill) {
  auto c = v5_connect(10);
  c.will = will_of();
  (void)attach(c);
  advance(15s);
  const auto out = tick();
  EXPECT_LT(index_of<CloseConnection>(out), index_of<PublishWill>(out));
  EXPECT_EQ(count_of<PublishWill>(out), 1u);
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);  // expiry 0
}

// ===========================================================================
// PUBLISH from the client

TEST_F(SessionInbound, Qos0IsRoutedWithoutAck) {
  (void)attach(v5_connect());
  const auto out = handle(publish("car/1/speed", QoS::at_most_once));
  ASSERT_EQ(out.size(), 1u);
  const auto routed = all_of<RoutePublish>(out);
  ASSERT_EQ(routed.size(), 1u);
  EXPECT_EQ(routed[0].message->topic, "car/1/speed");
  EXPECT_EQ(routed[0].message->publisher, "car-1");
  EXPECT_EQ(stats.qos0_received, 1u);
  EXPECT_EQ(stats.messages_received, 1u);
}

TEST_F(SessionInbound, Qos1IsRoutedBeforePuback) {
  (void)attach(v5_connect());
  const auto out = handle(publish("t", QoS::at_least_once, 5));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(index_of<RoutePublish>(out), 0u);
  const auto acks = packets_of<mqtt::Puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, PacketId{5});
  EXPECT_EQ(acks[0].reason, ReasonCode::success);
  EXPECT_EQ(stats.qos1_received, 1u);
}

TEST_F(SessionInbound, Qos1DuplicateIsRoutedAgain) {
  // At least once: no deduplication for QoS 1.
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::at_least_once, 5));
  auto dup = publish("t", QoS::at_least_once, 5);
  dup.dup = true;
  EXPECT_EQ(count_of<RoutePublish>(handle(std::move(dup))), 1u);
}

TEST_F(SessionInbound, QosAboveMaximumClosesWith0x9B) {
  settings.max_qos_allowed = QoS::at_least_once;
  (void)attach(v5_connect());
  const auto out = handle(publish("t", QoS::exactly_once, 1));
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::qos_not_supported);
  EXPECT_TRUE(close->send_disconnect);
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
  EXPECT_FALSE(s().connected());
  EXPECT_EQ(stats.protocol_errors, 1u);
}

TEST_F(SessionInbound, RetainWhenNotAvailableClosesWith0x9A) {
  settings.retain_available = false;
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.retain = true;
  const auto out = handle(std::move(p));
  EXPECT_EQ(close_of(out)->reason, ReasonCode::retain_not_supported);
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
}

TEST_F(SessionInbound, RetainedPublishRoutedWithRetainFlag) {
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.retain = true;
  EXPECT_TRUE(all_of<RoutePublish>(handle(std::move(p))).at(0).message->retain);
}

TEST_F(SessionInbound, TooManyTopicLevelsQos1GetsPuback0x90) {
  settings.max_topic_levels = 3;
  (void)attach(v5_connect());
  EXPECT_EQ(count_of<RoutePublish>(handle(publish("a/b/c", QoS::at_least_once, 1))), 1u);
  const auto out = handle(publish("a/b/c/d", QoS::at_least_once, 2));
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
  const auto acks = packets_of<mqtt::Puback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].reason, ReasonCode::topic_name_invalid);
  EXPECT_TRUE(s().connected());
  EXPECT_EQ(stats.protocol_errors, 1u);
}

TEST_F(SessionInbound, TooManyTopicLevelsQos2GetsPubrec0x90AndHoldsNoId) {
  settings.max_topic_levels = 1;
  (void)attach(v5_connect());
  const auto out = handle(publish("a/b", QoS::exactly_once, 2));
  EXPECT_EQ(packets_of<mqtt::Pubrec>(out).at(0).reason, ReasonCode::topic_name_invalid);
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
  // The flow ended: no id is held, a PUBREL for it is unknown.
  EXPECT_EQ(packets_of<mqtt::Pubcomp>(handle(ack<mqtt::Pubrel>(2))).at(0).reason,
            ReasonCode::packet_identifier_not_found);
}

TEST_F(SessionInbound, TooManyTopicLevelsQos0IsDroppedAndCounted) {
  settings.max_topic_levels = 1;
  (void)attach(v5_connect());
  EXPECT_TRUE(handle(publish("a/b", QoS::at_most_once)).empty());
  EXPECT_EQ(stats.protocol_errors, 1u);
  EXPECT_TRUE(s().connected());
}

TEST_F(SessionInbound, SubscriptionIdentifierFromClientIsProtocolError) {  // [MQTT-3.3.4-6]
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.properties.add_subscription_identifier(3);
  EXPECT_EQ(close_of(handle(std::move(p)))->reason, ReasonCode::protocol_error);
}

TEST_F(SessionInbound, EmptyTopicWithoutAliasIsProtocolError) {
  (void)attach(v5_connect());
  EXPECT_EQ(close_of(handle(publish("", QoS::at_most_once)))->reason, ReasonCode::protocol_error);
}

TEST_F(SessionInbound, RoutedMessageKeepsForwardedPropertiesAndExpiry) {
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.properties.set_content_type("json");
  p.properties.set_message_expiry_interval(30);
  const auto m = all_of<RoutePublish>(handle(std::move(p))).at(0).message;
  EXPECT_EQ(m->properties.content_type(), "json");
  EXPECT_EQ(m->expires_at, now + 30s);
}

// ---------------------------------------------------------------------------
// Inbound QoS 2 [MQTT-4.3.3]

TEST_F(SessionInboundQos2, RoutedOnceAndAnsweredWithPubrec) {
  (void)attach(v5_connect());
  const auto out = handle(publish("t", QoS::exactly_once, 7));
  EXPECT_EQ(count_of<RoutePublish>(out), 1u);
  EXPECT_LT(index_of<RoutePublish>(out), index_of_packet<mqtt::Pubrec>(out));
  EXPECT_EQ(packets_of<mqtt::Pubrec>(out).at(0).packet_id, PacketId{7});
  EXPECT_EQ(stats.qos2_received, 1u);
}

TEST_F(SessionInboundQos2, DuplicateBeforePubrelIsNotRoutedAgain) {
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::exactly_once, 7));
  auto dup = publish("t", QoS::exactly_once, 7);
  dup.dup = true;
  const auto out = handle(std::move(dup));
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
  EXPECT_EQ(packets_of<mqtt::Pubrec>(out).size(), 1u);
}

TEST_F(SessionInboundQos2, PubrelCompletesAndFreesTheId) {
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::exactly_once, 7));
  const auto out = handle(ack<mqtt::Pubrel>(7));
  const auto comps = packets_of<mqtt::Pubcomp>(out);
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].packet_id, PacketId{7});
  EXPECT_EQ(comps[0].reason, ReasonCode::success);
  // The id is free: the same id is a new message now.
  EXPECT_EQ(count_of<RoutePublish>(handle(publish("t", QoS::exactly_once, 7))), 1u);
}

TEST_F(SessionInboundQos2, UnknownPubrelGetsPubcomp0x92) {
  (void)attach(v5_connect());
  const auto comps = packets_of<mqtt::Pubcomp>(handle(ack<mqtt::Pubrel>(3)));
  ASSERT_EQ(comps.size(), 1u);
  EXPECT_EQ(comps[0].reason, ReasonCode::packet_identifier_not_found);
  EXPECT_TRUE(s().connected());
}

TEST_F(SessionInboundQos2, AwaitingRelLimitClosesWith0x93) {
  settings.max_awaiting_rel = 2;
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::exactly_once, 1));
  (void)handle(publish("t", QoS::exactly_once, 2));
  // A duplicate of a held id is still fine at the limit.
  EXPECT_FALSE(close_of(handle(publish("t", QoS::exactly_once, 2))));
  const auto out = handle(publish("t", QoS::exactly_once, 3));
  EXPECT_EQ(close_of(out)->reason, ReasonCode::receive_maximum_exceeded);
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
}

TEST_F(SessionInboundQos2, Qos1DoesNotCountAgainstAwaitingRel) {
  settings.max_awaiting_rel = 1;
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::exactly_once, 1));
  for (std::uint16_t id = 2; id < 10; ++id) {
    EXPECT_FALSE(close_of(handle(publish("t", QoS::at_least_once, id))));
  }
}

TEST_F(SessionInboundQos2, AwaitRelTimeoutDropsTheId) {
  settings.await_rel_timeout = 10s;
  (void)attach(v5_connect());
  (void)handle(publish("t", QoS::exactly_once, 1));
  advance(4s);
  (void)handle(publish("t", QoS::exactly_once, 2));
  EXPECT_EQ(s().next_deadline(), t0 + 10s);
  advance(6s);
  (void)tick();
  EXPECT_EQ(stats.dropped_await_rel_timeout, 1u);
  EXPECT_EQ(s().next_deadline(), t0 + 14s);
  EXPECT_EQ(packets_of<mqtt::Pubcomp>(handle(ack<mqtt::Pubrel>(1))).at(0).reason,
            ReasonCode::packet_identifier_not_found);
  EXPECT_EQ(packets_of<mqtt::Pubcomp>(handle(ack<mqtt::Pubrel>(2))).at(0).reason,
            ReasonCode::success);
}

TEST_F(SessionInboundQos2, AwaitingRelSurvivesReconnect) {
  (void)connect_persistent();
  (void)handle(publish("t", QoS::exactly_once, 9));
  go_offline();
  (void)attach(v5_connect(0, 3600), true);
  // The retransmitted PUBLISH is not routed twice; PUBREL completes.
  EXPECT_EQ(count_of<RoutePublish>(handle(publish("t", QoS::exactly_once, 9))), 0u);
  EXPECT_EQ(packets_of<mqtt::Pubcomp>(handle(ack<mqtt::Pubrel>(9))).at(0).reason,
            ReasonCode::success);
}

// ---------------------------------------------------------------------------
// Inbound topic aliases

TEST_F(SessionInboundAlias, AliasIsRecordedThenResolved) {
  (void)attach(v5_connect());
  auto first = publish("car/1/gps", QoS::at_most_once);
  first.properties.set_topic_alias(3);
  auto m = all_of<RoutePublish>(handle(std::move(first))).at(0).message;
  EXPECT_EQ(m->topic, "car/1/gps");
  EXPECT_FALSE(m->properties.topic_alias());

  auto second = publish("", QoS::at_least_once, 1);
  second.properties.set_topic_alias(3);
  const auto out = handle(std::move(second));
  m = all_of<RoutePublish>(out).at(0).message;
  EXPECT_EQ(m->topic, "car/1/gps");
  EXPECT_FALSE(m->properties.topic_alias());
  EXPECT_EQ(packets_of<mqtt::Puback>(out).size(), 1u);
}

TEST_F(SessionInboundAlias, AliasCanBeRebound) {
  (void)attach(v5_connect());
  auto a = publish("a", QoS::at_most_once);
  a.properties.set_topic_alias(1);
  (void)handle(std::move(a));
  auto b = publish("b", QoS::at_most_once);
  b.properties.set_topic_alias(1);
  (void)handle(std::move(b));
  auto use = publish("", QoS::at_most_once);
  use.properties.set_topic_alias(1);
  EXPECT_EQ(all_of<RoutePublish>(handle(std::move(use))).at(0).message->topic, "b");
}

TEST_F(SessionInboundAlias, ZeroAliasClosesWith0x94) {  // [MQTT-3.3.2-8]
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.properties.set_topic_alias(0);
  EXPECT_EQ(close_of(handle(std::move(p)))->reason, ReasonCode::topic_alias_invalid);
}

TEST_F(SessionInboundAlias, AliasAboveOurMaximumClosesWith0x94) {
  settings.max_topic_alias = 10;
  (void)attach(v5_connect());
  auto ok = publish("t", QoS::at_most_once);
  ok.properties.set_topic_alias(10);
  EXPECT_FALSE(close_of(handle(std::move(ok))));
  auto p = publish("t", QoS::at_most_once);
  p.properties.set_topic_alias(11);
  EXPECT_EQ(close_of(handle(std::move(p)))->reason, ReasonCode::topic_alias_invalid);
}

TEST_F(SessionInboundAlias, AnyAliasClosesWhenAliasesAreOff) {
  settings.max_topic_alias = 0;
  (void)attach(v5_connect());
  auto p = publish("t", QoS::at_most_once);
  p.properties.set_topic_alias(1);
  EXPECT_EQ(close_of(handle(std::move(p)))->reason, ReasonCode::topic_alias_invalid);
}

TEST_F(SessionInboundAlias, UnknownAliasWithEmptyTopicIsProtocolError) {
  (void)attach(v5_connect());
  auto p = publish("", QoS::at_least_once, 1);
  p.properties.set_topic_alias(4);
  const auto out = handle(std::move(p));
  EXPECT_EQ(close_of(out)->reason, ReasonCode::protocol_error);
  EXPECT_EQ(count_of<RoutePublish>(out), 0u);
}

TEST_F(SessionInboundAlias, AliasesDoNotSurviveTheConnection) {  // [MQTT-3.3.2-7]
  (void)connect_persistent();
  auto p = publish("t", QoS::at_most_once);
  p.properties.set_topic_alias(1);
  (void)handle(std::move(p));
  go_offline();
  (void)attach(v5_connect(0, 3600), true);
  auto use = publish("", QoS::at_most_once);
  use.properties.set_topic_alias(1);
  EXPECT_EQ(close_of(handle(std::move(use)))->reason, ReasonCode::protocol_error);
}

// ===========================================================================
// Messages to the client: QoS flows

TEST_F(SessionOutbound, Qos0IsSentAtOnceWithoutId) {
  (void)attach(v5_connect());
  const auto sends =
      all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::exactly_once));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].packet_id, PacketId{0});
  EXPECT_EQ(sends[0].qos, QoS::at_most_once);
  EXPECT_FALSE(sends[0].dup);
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(stats.qos0_sent, 1u);
}

TEST_F(SessionOutbound, Qos1StaysInflightUntilPuback) {
  (void)attach(v5_connect());
  const auto sends =
      all_of<SendPublish>(deliver(message("t", QoS::at_least_once), QoS::at_least_once));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].packet_id, PacketId{1});
  EXPECT_EQ(sends[0].qos, QoS::at_least_once);
  EXPECT_EQ(s().inflight(), 1u);
  EXPECT_TRUE(handle(ack<mqtt::Puback>(1)).empty());
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(stats.qos1_sent, 1u);
  EXPECT_EQ(stats.puback_missed, 0u);
}

TEST_F(SessionOutbound, PubackWithErrorReasonAlsoCompletes) {  // [MQTT-4.4.0-2]
  (void)attach(v5_connect());
  (void)deliver_qos1();
  (void)handle(ack<mqtt::Puback>(1, ReasonCode::not_authorized));
  EXPECT_EQ(s().inflight(), 0u);
}

TEST_F(SessionOutbound, Qos2PubrecSendsPubrelAndPubcompCompletes) {
  (void)attach(v5_connect());
  const auto sends =
      all_of<SendPublish>(deliver(message("t", QoS::exactly_once), QoS::exactly_once));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].qos, QoS::exactly_once);
  const auto rels = packets_of<mqtt::Pubrel>(handle(ack<mqtt::Pubrec>(1)));
  ASSERT_EQ(rels.size(), 1u);
  EXPECT_EQ(rels[0].packet_id, PacketId{1});
  EXPECT_EQ(rels[0].reason, ReasonCode::success);
  EXPECT_EQ(s().inflight(), 1u);  // PUBCOMP outstanding
  EXPECT_TRUE(handle(ack<mqtt::Pubcomp>(1)).empty());
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(stats.qos2_sent, 1u);
}

TEST_F(SessionOutbound, PubrecWithFailureEndsTheFlow) {  // [MQTT-3.3.4-9]
  (void)attach(v5_connect());
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);
  const auto out = handle(ack<mqtt::Pubrec>(1, ReasonCode::quota_exceeded));
  EXPECT_TRUE(packets_of<mqtt::Pubrel>(out).empty());
  EXPECT_EQ(s().inflight(), 0u);
}

TEST_F(SessionOutbound, RepeatedPubrecResendsPubrel) {
  (void)attach(v5_connect());
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);
  (void)handle(ack<mqtt::Pubrec>(1));
  EXPECT_EQ(packets_of<mqtt::Pubrel>(handle(ack<mqtt::Pubrec>(1))).size(), 1u);
  EXPECT_EQ(s().inflight(), 1u);
}

TEST_F(SessionOutbound, UnknownPubackIsCounted) {
  (void)attach(v5_connect());
  EXPECT_TRUE(handle(ack<mqtt::Puback>(42)).empty());
  EXPECT_EQ(stats.puback_missed, 1u);
  EXPECT_TRUE(s().connected());
}

TEST_F(SessionOutbound, UnknownPubrecGetsPubrel0x92) {
  (void)attach(v5_connect());
  const auto rels = packets_of<mqtt::Pubrel>(handle(ack<mqtt::Pubrec>(42)));
  ASSERT_EQ(rels.size(), 1u);
  EXPECT_EQ(rels[0].packet_id, PacketId{42});
  EXPECT_EQ(rels[0].reason, ReasonCode::packet_identifier_not_found);
  EXPECT_EQ(stats.puback_missed, 1u);
}

TEST_F(SessionOutbound, UnknownPubcompIsCounted) {
  (void)attach(v5_connect());
  EXPECT_TRUE(handle(ack<mqtt::Pubcomp>(42)).empty());
  EXPECT_EQ(stats.puback_missed, 1u);
}

TEST_F(SessionOutbound, AckOfTheWrongKindIsCountedAndIgnored) {
  (void)attach(v5_connect());
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);  // id 1, QoS 2
  (void)deliver_qos1();                                               // id 2, QoS 1
  (void)handle(ack<mqtt::Puback>(1));                                 // PUBACK for QoS 2
  (void)handle(ack<mqtt::Pubcomp>(1));                                // PUBCOMP before PUBREC
  EXPECT_TRUE(handle(ack<mqtt::Pubrec>(2)).empty());                  // PUBREC for QoS 1
  EXPECT_EQ(stats.puback_missed, 3u);
  EXPECT_EQ(s().inflight(), 2u);
}

TEST_F(SessionOutbound, QosIsTheMinimumOfMessageAndGrant) {
  (void)attach(v5_connect());
  auto sends = all_of<SendPublish>(deliver(message("t", QoS::exactly_once), QoS::at_least_once));
  EXPECT_EQ(sends.at(0).qos, QoS::at_least_once);
  sends = all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::exactly_once));
  EXPECT_EQ(sends.at(0).qos, QoS::at_most_once);
  sends = all_of<SendPublish>(deliver(message("t", QoS::exactly_once), QoS::at_most_once));
  EXPECT_EQ(sends.at(0).qos, QoS::at_most_once);
  EXPECT_EQ(sends.at(0).packet_id, PacketId{0});
}

TEST_F(SessionOutbound, SubscriptionIdentifiersForwardedInV5) {  // [MQTT-3.3.4-3]
  (void)attach(v5_connect());
  auto o = granted(QoS::at_most_once);
  o.subscription_ids = {3, 70000};
  const auto sends = all_of<SendPublish>(deliver(message("t", QoS::at_most_once), o));
  EXPECT_EQ(sends.at(0).subscription_ids, (std::vector<std::uint32_t>{3, 70000}));
}

TEST_F(SessionOutbound, SubscriptionIdentifiersKeptForResend) {
  (void)connect_persistent();
  auto o = granted(QoS::at_least_once);
  o.subscription_ids = {5};
  (void)deliver(message("t", QoS::at_least_once), o);
  go_offline();
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  EXPECT_EQ(sends.at(0).subscription_ids, (std::vector<std::uint32_t>{5}));
}

TEST_F(SessionOutbound, V3GetsNoV5OnlyFields) {
  (void)attach(v311_connect(true));
  auto o = granted(QoS::at_most_once);
  o.subscription_ids = {3};
  const auto sends = all_of<SendPublish>(deliver(expiring("t", QoS::at_most_once, 60s), o));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].subscription_ids.empty());
  EXPECT_FALSE(sends[0].message_expiry);
  EXPECT_EQ(sends[0].topic_alias, 0u);
}

TEST_F(SessionOutbound, NoLocalIsLeftToTheRouter) {
  (void)attach(v5_connect());
  auto own = new_message("t", "m", "car-1");
  own->qos = QoS::at_most_once;
  EXPECT_EQ(count_of<SendPublish>(deliver(own, QoS::at_most_once)), 1u);
}

// ---------------------------------------------------------------------------
// RETAIN flag on delivery

TEST_F(SessionRetainFlag, ClearedWithoutRetainAsPublished) {  // [MQTT-3.3.1-12]
  (void)attach(v5_connect());
  const auto sends =
      all_of<SendPublish>(deliver(message("t", QoS::at_most_once, "m", true), QoS::at_most_once));
  EXPECT_FALSE(sends.at(0).retain);
}

TEST_F(SessionRetainFlag, KeptWithRetainAsPublished) {  // [MQTT-3.3.1-13]
  (void)attach(v5_connect());
  auto o = granted(QoS::at_most_once);
  o.retain_as_published = true;
  EXPECT_TRUE(
      all_of<SendPublish>(deliver(message("t", QoS::at_most_once, "m", true), o)).at(0).retain);
  EXPECT_FALSE(
      all_of<SendPublish>(deliver(message("t", QoS::at_most_once, "m", false), o)).at(0).retain);
}

TEST_F(SessionRetainFlag, SetForRetainedMessagesSentOnSubscribe) {
  (void)attach(v5_connect());
  auto o = granted(QoS::at_most_once);
  o.from_retained = true;
  EXPECT_TRUE(
      all_of<SendPublish>(deliver(message("t", QoS::at_most_once, "m", true), o)).at(0).retain);
}

TEST_F(SessionRetainFlag, KeptOnResend) {
  (void)connect_persistent();
  auto o = granted(QoS::at_least_once);
  o.from_retained = true;
  (void)deliver(message("t", QoS::at_least_once, "m", true), o);
  go_offline();
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  EXPECT_TRUE(sends.at(0).retain);
  EXPECT_TRUE(sends.at(0).dup);
}

// ===========================================================================
// Packet identifiers [MQTT-2.2.1-4]

TEST_F(SessionPacketId, AssignedFromOneUpward) {
  (void)attach(v5_connect());
  EXPECT_EQ(deliver_qos1(), 1u);
  EXPECT_EQ(deliver_qos1(), 2u);
  EXPECT_EQ(deliver_qos1(), 3u);
}

TEST_F(SessionPacketId, WrapsFrom65535ToOne) {
  (void)attach(v5_connect());
  for (std::uint32_t i = 1; i <= 65535; ++i) {
    const auto id = deliver_qos1();
    ASSERT_EQ(id, i);
    (void)handle(ack<mqtt::Puback>(id));
  }
  EXPECT_EQ(deliver_qos1(), 1u);  // never 0
}

TEST_F(SessionPacketId, SkipsIdsStillInFlight) {
  (void)attach(v5_connect());
  EXPECT_EQ(deliver_qos1("held"), 1u);  // never acknowledged
  for (std::uint32_t i = 2; i <= 65535; ++i) {
    const auto id = deliver_qos1();
    ASSERT_EQ(id, i);
    (void)handle(ack<mqtt::Puback>(id));
  }
  EXPECT_EQ(deliver_qos1(), 2u);  // 1 is still in flight
}

TEST_F(SessionPacketId, IdsKeptAcrossReconnect) {
  (void)connect_persistent();
  EXPECT_EQ(deliver_qos1(), 1u);
  go_offline();
  (void)attach(v5_connect(0, 3600), true);
  EXPECT_EQ(deliver_qos1(), 2u);
}

// ===========================================================================
// Flow control: Receive Maximum window [MQTT-3.3.4-9]

TEST_F(SessionFlowControl, ClientReceiveMaximumIsTheWindow) {
  (void)connect_persistent(2);
  EXPECT_EQ(deliver_qos1("a"), 1u);
  EXPECT_EQ(deliver_qos1("b"), 2u);
  const auto out = deliver(message("t", QoS::at_least_once, "c"), QoS::at_least_once);
  EXPECT_EQ(count_of<SendPublish>(out), 0u);
  EXPECT_EQ(s().queued(), 1u);
  EXPECT_EQ(s().inflight(), 2u);
  const auto sends = all_of<SendPublish>(handle(ack<mqtt::Puback>(1)));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].message->payload, "c");
  EXPECT_EQ(sends[0].packet_id, PacketId{3});
  EXPECT_EQ(s().queued(), 0u);
}

TEST_F(SessionFlowControl, MaxInflightCapsTheWindow) {
  settings.max_inflight = 1;
  (void)connect_persistent(50);
  (void)deliver_qos1();
  EXPECT_EQ(count_of<SendPublish>(deliver(message("t", QoS::at_least_once), QoS::at_least_once)),
            0u);
  EXPECT_EQ(s().queued(), 1u);
}

TEST_F(SessionFlowControl, V3WindowIsMaxInflight) {
  settings.max_inflight = 2;
  (void)attach(v311_connect(false));
  (void)deliver_qos1();
  (void)deliver_qos1();
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  EXPECT_EQ(s().inflight(), 2u);
  EXPECT_EQ(s().queued(), 1u);
}

TEST_F(SessionFlowControl, Qos0IsNotSubjectToTheWindow) {
  (void)connect_persistent(1);
  (void)deliver_qos1();
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);  // queued
  EXPECT_EQ(count_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once)), 1u);
}

TEST_F(SessionFlowControl, QueueDrainsInOrderAsSlotsFree) {  // [MQTT-4.6]
  (void)connect_persistent(1);
  (void)deliver_qos1("1");
  for (const char* p : {"2", "3", "4"}) {
    (void)deliver(message("t", QoS::at_least_once, p), QoS::at_least_once);
  }
  std::vector<std::string> seen;
  for (std::uint16_t id = 1; id <= 3; ++id) {
    for (const auto& sp : all_of<SendPublish>(handle(ack<mqtt::Puback>(id)))) {
      seen.emplace_back(sp.message->payload);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"2", "3", "4"}));
}

TEST_F(SessionFlowControl, QueuedQos0WaitsBehindQueuedQos1) {
  (void)connect_persistent(1);
  (void)deliver_qos1("1");
  (void)deliver(message("t", QoS::at_least_once, "2"), QoS::at_least_once);
  go_offline();
  (void)deliver(message("t", QoS::at_most_once, "3"), QoS::at_most_once);  // offline, queued
  auto c = v5_connect(0, 3600);
  c.properties.set_receive_maximum(1);
  const auto out = attach(c, true);
  // Resend 1, then the window is full: 2 and 3 (behind it) wait.
  EXPECT_EQ(payloads_of(all_of<SendPublish>(out)), (std::vector<std::string>{"1"}));
  EXPECT_EQ(payloads_of(all_of<SendPublish>(handle(ack<mqtt::Puback>(1)))),
            (std::vector<std::string>{"2", "3"}));
}

TEST_F(SessionFlowControl, Qos2CountsAgainstTheWindowUntilPubcomp) {
  (void)connect_persistent(1);
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);
  (void)deliver(message("t", QoS::exactly_once, "next"), QoS::exactly_once);
  EXPECT_EQ(count_of<SendPublish>(handle(ack<mqtt::Pubrec>(1))), 0u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(handle(ack<mqtt::Pubcomp>(1)))),
            (std::vector<std::string>{"next"}));
}

// ===========================================================================
// Offline queue and its overflow policy

TEST_F(SessionQueue, OfflineMessagesAreDeliveredOnReconnectInOrder) {
  (void)connect_persistent();
  go_offline();
  for (const char* p : {"a", "b", "c"}) {
    EXPECT_TRUE(deliver(message("t", QoS::at_least_once, p), QoS::at_least_once).empty());
  }
  EXPECT_EQ(s().queued(), 3u);
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ids_of(sends), (std::vector<std::uint16_t>{1, 2, 3}));
  for (const auto& sp : sends) EXPECT_FALSE(sp.dup);  // first transmission
  EXPECT_EQ(s().queued(), 0u);
}

TEST_F(SessionQueue, ConnackComesBeforeQueuedMessages) {
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  const auto out = attach(v5_connect(0, 3600), true);
  EXPECT_EQ(index_of_packet<mqtt::Connack>(out), 0u);
  EXPECT_EQ(index_of<SendPublish>(out), 1u);
}

TEST_F(SessionQueue, OfflineQos0DroppedWhenNotStored) {
  settings.mqueue_store_qos0 = false;
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_most_once), QoS::at_most_once);
  EXPECT_EQ(s().queued(), 0u);
  EXPECT_EQ(stats.dropped_qos0_offline, 1u);
}

TEST_F(SessionQueue, OfflineQos0QueuedWhenStored) {
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_most_once), QoS::at_most_once);
  EXPECT_EQ(s().queued(), 1u);
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].packet_id, PacketId{0});
}

TEST_F(SessionQueue, FullQueueDropsANewQos0Message) {
  settings.max_mqueue_len = 2;
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once, "a"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_least_once, "b"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_most_once, "c"), QoS::at_most_once);
  EXPECT_EQ(s().queued(), 2u);
  EXPECT_EQ(stats.dropped_queue_full_qos0, 1u);
  EXPECT_EQ(stats.dropped_queue_full_oldest, 0u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(attach(v5_connect(0, 3600), true))),
            (std::vector<std::string>{"a", "b"}));
}

TEST_F(SessionQueue, FullQueueDropsTheOldestQueuedQos0First) {
  settings.max_mqueue_len = 3;
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once, "a"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_most_once, "b"), QoS::at_most_once);
  (void)deliver(message("t", QoS::at_most_once, "c"), QoS::at_most_once);
  (void)deliver(message("t", QoS::at_least_once, "d"), QoS::at_least_once);
  EXPECT_EQ(stats.dropped_queue_full_qos0, 1u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(attach(v5_connect(0, 3600), true))),
            (std::vector<std::string>{"a", "c", "d"}));
}

TEST_F(SessionQueue, FullQueueOfQos1DropsTheOldest) {
  settings.max_mqueue_len = 2;
  (void)connect_persistent();
  go_offline();
  for (const char* p : {"a", "b", "c"}) {
    (void)deliver(message("t", QoS::exactly_once, p), QoS::exactly_once);
  }
  EXPECT_EQ(stats.dropped_queue_full_oldest, 1u);
  EXPECT_EQ(stats.dropped_queue_full_qos0, 0u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(attach(v5_connect(0, 3600), true))),
            (std::vector<std::string>{"b", "c"}));
}

TEST_F(SessionQueue, ExpiredMessagesMakeRoomBeforeLiveOnesAreDropped) {
  settings.max_mqueue_len = 2;
  (void)connect_persistent();
  go_offline();
  (void)deliver(expiring("t", QoS::at_least_once, 10s, "short"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_least_once, "b"), QoS::at_least_once);
  advance(11s);
  (void)deliver(message("t", QoS::at_least_once, "c"), QoS::at_least_once);
  EXPECT_EQ(stats.dropped_expired, 1u);
  EXPECT_EQ(stats.dropped_queue_full_oldest, 0u);
  EXPECT_EQ(s().queued(), 2u);
}

TEST_F(SessionQueue, WindowFullWhileConnectedQueuesWithTheSamePolicy) {
  settings.max_mqueue_len = 1;
  (void)connect_persistent(1);
  (void)deliver_qos1("inflight");
  (void)deliver(message("t", QoS::at_least_once, "a"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_least_once, "b"), QoS::at_least_once);
  EXPECT_EQ(stats.dropped_queue_full_oldest, 1u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(handle(ack<mqtt::Puback>(1)))),
            (std::vector<std::string>{"b"}));
}

TEST_F(SessionQueue, ByteBoundDropsTheOldestFirst) {
  settings.max_mqueue_bytes = 30;  // topic "t" + payload: three 9-byte payloads fit
  (void)connect_persistent();
  go_offline();
  for (const char* p : {"aaaaaaaaa", "bbbbbbbbb", "ccccccccc", "ddddddddd"}) {
    (void)deliver(message("t", QoS::at_least_once, p), QoS::at_least_once);
  }
  EXPECT_EQ(stats.dropped_queue_full_oldest, 1u);
  EXPECT_EQ(s().queued(), 3u);
  EXPECT_EQ(s().queued_bytes(), 30u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(attach(v5_connect(0, 3600), true))),
            (std::vector<std::string>{"bbbbbbbbb", "ccccccccc", "ddddddddd"}));
  EXPECT_EQ(s().queued_bytes(), 0u);
}

TEST_F(SessionQueue, MessageLargerThanTheByteBoundIsDropped) {
  settings.max_mqueue_bytes = 10;
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once, "small"), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_least_once, std::string(64, 'x')), QoS::at_least_once);
  EXPECT_EQ(stats.dropped_queue_full_oldest, 1u);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(attach(v5_connect(0, 3600), true))),
            (std::vector<std::string>{"small"}));
}

TEST_F(SessionQueue, DeliveryBeforeFirstAttachIsQueued) {
  // A session restored from storage before its client reconnects.
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  EXPECT_EQ(s().queued(), 1u);
  EXPECT_EQ(count_of<SendPublish>(attach(v5_connect(0, 3600), true)), 1u);
}

// ===========================================================================
// A slow subscriber: the transport's backlog is full

using SessionBusyLink = SessionFixture;

TEST_F(SessionBusyLink, Qos0IsDroppedAndCountedWhileBusy) {
  (void)connect_persistent();
  Actions out;
  s().set_link_room(0, now, out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(deliver(message("t", QoS::at_most_once), QoS::at_most_once).empty());
  EXPECT_EQ(stats.dropped_qos0_busy, 1u);
  EXPECT_EQ(s().queued(), 0u);
}

TEST_F(SessionBusyLink, Qos1WaitsInTheQueueAndGoesWhenWritableInOrder) {
  (void)connect_persistent();
  Actions out;
  s().set_link_room(0, now, out);
  for (const char* p : {"a", "b", "c"}) {
    EXPECT_TRUE(deliver(message("t", QoS::at_least_once, p), QoS::at_least_once).empty());
  }
  EXPECT_EQ(s().queued(), 3u);
  EXPECT_EQ(s().next_deadline().value_or(TimePoint::max()) > now, true);  // nothing to do until writable
  out.clear();
  s().set_link_room(SIZE_MAX, now, out);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(out)), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s().queued(), 0u);
}

TEST_F(SessionBusyLink, QueueBoundAppliesWhileBusy) {
  settings.max_mqueue_len = 2;
  (void)connect_persistent();
  Actions out;
  s().set_link_room(0, now, out);
  for (const char* p : {"a", "b", "c"}) {
    (void)deliver(message("t", QoS::at_least_once, p), QoS::at_least_once);
  }
  EXPECT_EQ(stats.dropped_queue_full_oldest, 1u);
  out.clear();
  s().set_link_room(SIZE_MAX, now, out);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(out)), (std::vector<std::string>{"b", "c"}));
}

TEST_F(SessionBusyLink, NoResendWhileBusy) {
  settings.retry_interval = 10s;
  (void)connect_persistent();
  (void)deliver_qos1("x");
  Actions out;
  s().set_link_room(0, now, out);
  advance(11s);
  EXPECT_EQ(count_of<SendPublish>(tick()), 0u);
  out.clear();
  s().set_link_room(SIZE_MAX, now, out);
  EXPECT_EQ(count_of<SendPublish>(out), 1u);  // held back, it goes once there is room
}

TEST_F(SessionBusyLink, DrainStopsOnceTheRoomIsUsedUp) {
  (void)connect_persistent();
  Actions out;
  s().set_link_room(0, now, out);
  for (const char* p : {"a", "b", "c", "d"}) {
    (void)deliver(message("t", QoS::at_least_once, p), QoS::at_least_once);
  }
  // Room for a little more than one PUBLISH: two go, the second one fills
  // the transport past its watermark, the rest wait for the next room.
  out.clear();
  s().set_link_room(10, now, out);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(out)), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s().link_busy());
  EXPECT_EQ(s().queued(), 2u);
  out.clear();
  s().set_link_room(SIZE_MAX, now, out);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(out)), (std::vector<std::string>{"c", "d"}));
}

TEST_F(SessionBusyLink, ResendsHeldByABusyLinkGoFirstWhenItHasRoom) {
  settings.retry_interval = 10s;
  (void)connect_persistent();
  (void)deliver_qos1("x");
  Actions out;
  s().set_link_room(0, now, out);
  (void)deliver(message("t", QoS::at_least_once, "y"), QoS::at_least_once);
  advance(11s);
  EXPECT_EQ(count_of<SendPublish>(tick()), 0u);
  out.clear();
  s().set_link_room(SIZE_MAX, now, out);
  const auto sent = all_of<SendPublish>(out);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].dup);
  EXPECT_EQ(payloads_of(sent), (std::vector<std::string>{"x", "y"}));
}

TEST_F(SessionBusyLink, ReconnectStartsIdle) {
  (void)connect_persistent();
  Actions out;
  s().set_link_room(0, now, out);
  go_offline();
  (void)connect_persistent();
  EXPECT_FALSE(s().link_busy());
  EXPECT_EQ(count_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once)), 1u);
}

// ===========================================================================
// Message expiry [MQTT-3.3.2-5] [MQTT-3.3.2-6]

TEST_F(SessionMessageExpiry, ExpiredMessageIsNotDelivered) {
  (void)attach(v5_connect());
  auto m = expiring("t", QoS::at_least_once, 5s);
  advance(5s);
  EXPECT_TRUE(deliver(m, QoS::at_least_once).empty());
  EXPECT_EQ(stats.dropped_expired, 1u);
}

TEST_F(SessionMessageExpiry, RemainingIntervalIsForwarded) {
  (void)attach(v5_connect());
  auto m = expiring("t", QoS::at_most_once, 60s);
  advance(20s);
  EXPECT_EQ(all_of<SendPublish>(deliver(m, QoS::at_most_once)).at(0).message_expiry, 40u);
}

TEST_F(SessionMessageExpiry, NoExpiryWhenThePublisherSetNone) {
  (void)attach(v5_connect());
  EXPECT_FALSE(all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once))
                   .at(0)
                   .message_expiry);
}

TEST_F(SessionMessageExpiry, QueuedMessageExpiresBeforeReconnect) {
  (void)connect_persistent();
  go_offline();
  (void)deliver(expiring("t", QoS::at_least_once, 30s, "old"), QoS::at_least_once);
  (void)deliver(expiring("t", QoS::at_least_once, 300s, "fresh"), QoS::at_least_once);
  advance(100s);
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"fresh"}));
  EXPECT_EQ(sends.at(0).message_expiry, 200u);
  EXPECT_EQ(stats.dropped_expired, 1u);
}

TEST_F(SessionMessageExpiry, QueuedBehindWindowExpiresBeforeItsTurn) {
  (void)connect_persistent(1);
  (void)deliver_qos1();
  (void)deliver(expiring("t", QoS::at_least_once, 10s, "x"), QoS::at_least_once);
  advance(10s);
  EXPECT_EQ(count_of<SendPublish>(handle(ack<mqtt::Puback>(1))), 0u);
  EXPECT_EQ(stats.dropped_expired, 1u);
  EXPECT_EQ(s().queued(), 0u);
}

TEST_F(SessionMessageExpiry, InflightMessageIsResentEvenAfterExpiry) {
  // Onward delivery has started, so the flow is completed.
  (void)connect_persistent();
  (void)deliver(expiring("t", QoS::at_least_once, 10s), QoS::at_least_once);
  go_offline();
  advance(1h);
  const auto sends = all_of<SendPublish>(attach(v5_connect(0, 3600), true));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].dup);
  EXPECT_EQ(sends[0].message_expiry, 1u);
}

TEST_F(SessionMessageExpiry, V3QueuedMessagesStillExpire) {
  (void)attach(v311_connect(false));
  go_offline();
  (void)deliver(expiring("t", QoS::at_least_once, 10s), QoS::at_least_once);
  advance(11s);
  EXPECT_EQ(count_of<SendPublish>(attach(v311_connect(false), true)), 0u);
  EXPECT_EQ(stats.dropped_expired, 1u);
}

// ===========================================================================
// Retransmission on the retry interval

TEST_F(SessionRetry, UnackedQos1IsResentWithDupAfterRetryInterval) {  // [MQTT-3.3.1-1]
  settings.retry_interval = 30s;
  (void)attach(v5_connect());
  (void)deliver_qos1();
  EXPECT_EQ(s().next_deadline(), t0 + 30s);
  advance(29s);
  EXPECT_TRUE(tick().empty());
  advance(1s);
  const auto sends = all_of<SendPublish>(tick());
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].dup);
  EXPECT_EQ(sends[0].packet_id, PacketId{1});
  EXPECT_EQ(stats.messages_redelivered, 1u);
  EXPECT_EQ(stats.messages_sent, 1u);  // a resend is not a new send
  EXPECT_EQ(s().next_deadline(), now + 30s);
}

TEST_F(SessionRetry, PubrelIsResentAfterRetryInterval) {
  settings.retry_interval = 30s;
  (void)attach(v5_connect());
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);
  advance(10s);
  (void)handle(ack<mqtt::Pubrec>(1));
  advance(29s);
  EXPECT_TRUE(tick().empty());
  advance(1s);
  const auto out = tick();
  EXPECT_EQ(count_of<SendPublish>(out), 0u);
  EXPECT_EQ(packets_of<mqtt::Pubrel>(out).size(), 1u);
}

TEST_F(SessionRetry, OnlyDueMessagesAreResent) {
  settings.retry_interval = 30s;
  (void)attach(v5_connect());
  (void)deliver_qos1("first");
  advance(20s);
  (void)deliver_qos1("second");
  advance(10s);
  EXPECT_EQ(payloads_of(all_of<SendPublish>(tick())), (std::vector<std::string>{"first"}));
  EXPECT_EQ(s().next_deadline(), t0 + 50s);
}

TEST_F(SessionRetry, NothingIsResentWhileDisconnected) {
  settings.retry_interval = 30s;
  (void)connect_persistent();
  (void)deliver_qos1();
  go_offline();
  EXPECT_EQ(s().next_deadline(), t0 + 3600s);  // only the session expiry
  advance(31s);
  EXPECT_TRUE(tick().empty());
}

TEST_F(SessionRetry, ZeroIntervalDisablesRetry) {
  settings.retry_interval = 0ms;
  (void)attach(v5_connect());
  (void)deliver_qos1();
  EXPECT_EQ(s().next_deadline(), std::nullopt);
  advance(1h);
  EXPECT_TRUE(tick().empty());
}

// ===========================================================================
// Resume: resend on reconnect [MQTT-4.4.0-1]

TEST_F(SessionResume, InflightIsResentWithDupInOriginalOrder) {
  (void)connect_persistent();
  (void)deliver_qos1("a");
  (void)deliver(message("t", QoS::exactly_once, "b"), QoS::exactly_once);
  (void)deliver_qos1("c");
  go_offline();
  const auto out = attach(v5_connect(0, 3600), true);
  const auto sends = all_of<SendPublish>(out);
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ids_of(sends), (std::vector<std::uint16_t>{1, 2, 3}));
  for (const auto& sp : sends) EXPECT_TRUE(sp.dup);
  EXPECT_EQ(stats.messages_redelivered, 3u);
  EXPECT_EQ(index_of_packet<mqtt::Connack>(out), 0u);
}

TEST_F(SessionResume, AwaitingPubcompGetsPubrelAgain) {
  (void)connect_persistent();
  (void)deliver(message("t", QoS::exactly_once), QoS::exactly_once);
  (void)handle(ack<mqtt::Pubrec>(1));
  go_offline();
  const auto out = attach(v5_connect(0, 3600), true);
  EXPECT_EQ(count_of<SendPublish>(out), 0u);
  const auto rels = packets_of<mqtt::Pubrel>(out);
  ASSERT_EQ(rels.size(), 1u);
  EXPECT_EQ(rels[0].packet_id, PacketId{1});
  (void)handle(ack<mqtt::Pubcomp>(1));
  EXPECT_EQ(s().inflight(), 0u);
}

TEST_F(SessionResume, ResendThenDrainUpToTheNewWindow) {
  (void)connect_persistent(1);
  (void)deliver_qos1("a");
  for (const char* p : {"b", "c", "d"}) {
    (void)deliver(message("t", QoS::at_least_once, p), QoS::at_least_once);
  }
  go_offline();
  auto c = v5_connect(0, 3600);
  c.properties.set_receive_maximum(3);
  const auto sends = all_of<SendPublish>(attach(c, true));
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(sends[0].dup);
  EXPECT_FALSE(sends[1].dup);
  EXPECT_EQ(s().queued(), 1u);
}

TEST_F(SessionResume, ResendTooLargeForTheNewConnectionIsDropped) {  // [MQTT-3.1.2-25]
  (void)connect_persistent();
  (void)deliver_qos1(std::string(500, 'x'));
  go_offline();
  auto c = v5_connect(0, 3600);
  c.properties.set_maximum_packet_size(100);
  const auto out = attach(c, true);
  EXPECT_EQ(count_of<SendPublish>(out), 0u);
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(stats.dropped_too_large, 1u);
}

TEST_F(SessionResume, V3PersistentSessionResumes) {
  (void)attach(v311_connect(false));
  (void)deliver_qos1("a");
  go_offline();
  const auto sends = all_of<SendPublish>(attach(v311_connect(false), true));
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].dup);
}

// ===========================================================================
// Outbound topic aliases [MQTT-3.1.2-26] [MQTT-3.1.2-27]

TEST_F(SessionOutboundAlias, NoneWhenTheClientAllowsNone) {
  (void)attach(v5_connect());
  for (int i = 0; i < 2; ++i) {
    const auto sp =
        all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once));
    EXPECT_EQ(sp.at(0).topic_alias, 0u);
    EXPECT_FALSE(sp.at(0).omit_topic);
  }
}

TEST_F(SessionOutboundAlias, FirstSendBindsThenTopicIsOmitted) {
  auto c = v5_connect();
  c.properties.set_topic_alias_maximum(5);
  (void)attach(c);
  auto sp =
      all_of<SendPublish>(deliver(message("car/1/cmd", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 1u);
  EXPECT_FALSE(sp.at(0).omit_topic);
  sp = all_of<SendPublish>(deliver(message("car/1/cmd", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 1u);
  EXPECT_TRUE(sp.at(0).omit_topic);
  sp = all_of<SendPublish>(deliver(message("car/1/ota", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 2u);
  EXPECT_FALSE(sp.at(0).omit_topic);
}

TEST_F(SessionOutboundAlias, LeastRecentlyUsedAliasIsReassigned) {
  auto c = v5_connect();
  c.properties.set_topic_alias_maximum(2);
  (void)attach(c);
  auto send = [&](const char* topic) {
    return all_of<SendPublish>(deliver(message(topic, QoS::at_most_once), QoS::at_most_once)).at(0);
  };
  EXPECT_EQ(send("a").topic_alias, 1u);
  EXPECT_EQ(send("b").topic_alias, 2u);
  EXPECT_TRUE(send("a").omit_topic);  // a is now the most recent
  auto sp = send("c");                // evicts b
  EXPECT_EQ(sp.topic_alias, 2u);
  EXPECT_FALSE(sp.omit_topic);
  sp = send("b");  // evicts a
  EXPECT_EQ(sp.topic_alias, 1u);
  EXPECT_FALSE(sp.omit_topic);
  sp = send("c");
  EXPECT_EQ(sp.topic_alias, 2u);
  EXPECT_TRUE(sp.omit_topic);
  for (int i = 0; i < 20; ++i) EXPECT_LE(send(i % 2 ? "x" : "y").topic_alias, 2u);
}

TEST_F(SessionOutboundAlias, AliasesResetOnReconnect) {  // [MQTT-3.3.2-7]
  auto c = v5_connect(0, 3600);
  c.properties.set_topic_alias_maximum(5);
  (void)attach(c);
  (void)deliver(message("t", QoS::at_most_once), QoS::at_most_once);
  go_offline();
  (void)attach(c, true);
  const auto sp = all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 1u);
  EXPECT_FALSE(sp.at(0).omit_topic);
}

TEST_F(SessionOutboundAlias, ResendOnReconnectDoesNotAssumeOldMappings) {
  auto c = v5_connect(0, 3600);
  c.properties.set_topic_alias_maximum(5);
  (void)attach(c);
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);  // omits topic
  go_offline();
  const auto sends = all_of<SendPublish>(attach(c, true));
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_FALSE(sends[0].omit_topic);
  EXPECT_TRUE(sends[1].omit_topic);
}

TEST_F(SessionOutboundAlias, V3NeverGetsAliases) {
  (void)attach(v311_connect(true));
  const auto sp = all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 0u);
}

TEST_F(SessionOutboundAlias, DroppedMessageDoesNotBindAnAlias) {
  auto c = v5_connect();
  c.properties.set_topic_alias_maximum(5);
  c.properties.set_maximum_packet_size(50);
  (void)attach(c);
  EXPECT_EQ(count_of<SendPublish>(
                deliver(message("t", QoS::at_most_once, std::string(100, 'x')), QoS::at_most_once)),
            0u);
  const auto sp = all_of<SendPublish>(deliver(message("t", QoS::at_most_once), QoS::at_most_once));
  EXPECT_EQ(sp.at(0).topic_alias, 1u);
  EXPECT_FALSE(sp.at(0).omit_topic);  // the client has not seen the mapping yet
}

// ===========================================================================
// Client Maximum Packet Size [MQTT-3.1.2-24] [MQTT-3.1.2-25]

TEST_F(SessionPacketSize, Qos0AboveTheLimitIsDroppedAndCounted) {
  auto c = v5_connect();
  c.properties.set_maximum_packet_size(64);
  (void)attach(c);
  EXPECT_TRUE(
      deliver(message("t", QoS::at_most_once, std::string(100, 'x')), QoS::at_most_once).empty());
  EXPECT_EQ(stats.dropped_too_large, 1u);
  EXPECT_EQ(stats.messages_sent, 0u);
}

TEST_F(SessionPacketSize, Qos1AboveTheLimitTakesNoIdAndNoSlot) {
  auto c = v5_connect();
  c.properties.set_maximum_packet_size(64);
  (void)attach(c);
  EXPECT_TRUE(
      deliver(message("t", QoS::at_least_once, std::string(100, 'x')), QoS::at_least_once).empty());
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(deliver_qos1(), 1u);
}

TEST_F(SessionPacketSize, BoundaryIsExact) {
  // "a/b", 10-byte payload, QoS 1, v5 without properties:
  // 1 fixed + 1 length + (2+3 topic + 2 id + 1 property length + 10) = 20.
  for (const std::uint32_t limit : {20u, 19u}) {
    session.reset();
    auto c = v5_connect();
    c.properties.set_maximum_packet_size(limit);
    (void)attach(c);
    const auto n = count_of<SendPublish>(
        deliver(message("a/b", QoS::at_least_once, std::string(10, 'x')), QoS::at_least_once));
    EXPECT_EQ(n, limit == 20u ? 1u : 0u) << "limit " << limit;
  }
}

TEST_F(SessionPacketSize, BoundaryCountsDeliveryProperties) {
  // As above plus Message Expiry (5), Subscription Identifier 5 (2) and a
  // new Topic Alias (3): 30 bytes.
  for (const std::uint32_t limit : {30u, 29u}) {
    session.reset();
    auto c = v5_connect();
    c.properties.set_maximum_packet_size(limit);
    c.properties.set_topic_alias_maximum(1);
    (void)attach(c);
    auto o = granted(QoS::at_least_once);
    o.subscription_ids = {5};
    const auto n = count_of<SendPublish>(
        deliver(expiring("a/b", QoS::at_least_once, 60s, std::string(10, 'x')), o));
    EXPECT_EQ(n, limit == 30u ? 1u : 0u) << "limit " << limit;
  }
}

TEST_F(SessionPacketSize, EstimateMatchesTheEncoder) {
  // For assorted shapes (properties, varint boundaries of the remaining
  // length), the largest limit that drops the PUBLISH is one below the size
  // mqtt::encoded_size gives for what is then sent.
  struct Shape {
    std::size_t payload;
    bool properties;
    std::vector<std::uint32_t> sub_ids;
    QoS qos;
  };
  const std::vector<Shape> shapes = {
      {0, false, {}, QoS::at_most_once},
      {117, false, {}, QoS::at_least_once},
      {118, false, {}, QoS::at_least_once},
      {16'370, true, {1, 200}, QoS::exactly_once},
      {16'400, true, {268'435'455}, QoS::at_most_once},
      {3, true, {}, QoS::at_least_once},
  };
  for (const auto& shape : shapes) {
    auto m = new_message("vehicle/LSV1234567/down", std::string(shape.payload, 'p'), {});
    m->qos = shape.qos;
    m->expires_at = now + 90s;
    if (shape.properties) {
      m->properties.set_content_type("application/json");
      m->properties.set_payload_format_indicator(1);
      m->properties.set_correlation_data("corr-1");
      m->properties.set_response_topic("vehicle/LSV1234567/up");
      m->properties.add_user_property("k", "value");
    }
    auto o = granted(QoS::exactly_once);
    o.subscription_ids = shape.sub_ids;

    session.reset();
    auto c = v5_connect();
    c.properties.set_topic_alias_maximum(3);
    (void)attach(c);
    const auto sent = all_of<SendPublish>(deliver(m, o));
    ASSERT_EQ(sent.size(), 1u);
    const auto size = mqtt::encoded_size(mqtt::Packet{to_publish(sent[0])}, ProtocolVersion::v5);
    ASSERT_GT(size, 0u);

    for (const std::size_t limit : {size, size - 1}) {
      session.reset();
      c.properties.set_maximum_packet_size(static_cast<std::uint32_t>(limit));
      (void)attach(c);
      EXPECT_EQ(count_of<SendPublish>(deliver(m, o)), limit == size ? 1u : 0u)
          << "payload " << shape.payload << " limit " << limit << " encoded " << size;
    }
  }
}

TEST_F(SessionPacketSize, V3HasNoClientLimit) {
  (void)attach(v311_connect(true));
  EXPECT_EQ(count_of<SendPublish>(deliver(
                message("t", QoS::at_most_once, std::string(300'000, 'x')), QoS::at_most_once)),
            1u);
}

// ===========================================================================
// Will [MQTT-3.1.2-8] [MQTT-3.1.3-9] [MQTT-3.14.4-3]

TEST_F(SessionWill, AbnormalCloseWithoutDelayPublishesAtOnce) {
  auto c = v5_connect(0, 3600);
  c.will = will_of("car/1/status");
  (void)attach(c);
  const auto out = detach(DetachReason::connection_lost);
  const auto wills = all_of<PublishWill>(out);
  ASSERT_EQ(wills.size(), 1u);
  EXPECT_EQ(wills[0].message->topic, "car/1/status");
  EXPECT_EQ(wills[0].message->payload, "offline");
  EXPECT_EQ(wills[0].message->qos, QoS::at_least_once);
  EXPECT_TRUE(wills[0].message->retain);
  EXPECT_EQ(wills[0].message->publisher, "car-1");
  EXPECT_EQ(stats.wills_published, 1u);
  EXPECT_EQ(count_of<SessionEnded>(out), 0u);
}

TEST_F(SessionWill, NormalDisconnectDiscardsTheWill) {
  auto c = v5_connect();
  c.will = will_of();
  (void)attach(c);
  const auto out = handle(mqtt::Disconnect{});
  EXPECT_EQ(count_of<PublishWill>(out), 0u);
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_FALSE(close->send_disconnect);
  EXPECT_EQ(close->detach, DetachReason::normal_disconnect);
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);
}

TEST_F(SessionWill, DisconnectWithWill0x04PublishesIt) {
  auto c = v5_connect();
  c.will = will_of();
  (void)attach(c);
  mqtt::Disconnect d;
  d.reason = ReasonCode::disconnect_with_will;
  const auto out = handle(d);
  EXPECT_EQ(count_of<PublishWill>(out), 1u);
  EXPECT_EQ(close_of(out)->detach, DetachReason::disconnect_with_will);
  EXPECT_LT(index_of<PublishWill>(out), index_of<SessionEnded>(out));
}

TEST_F(SessionWill, DisconnectWithAnErrorReasonKeepsTheWill) {
  auto c = v5_connect();
  c.will = will_of();
  (void)attach(c);
  mqtt::Disconnect d;
  d.reason = ReasonCode::unspecified_error;
  EXPECT_EQ(count_of<PublishWill>(handle(d)), 1u);
}

TEST_F(SessionWill, NormalDetachReasonDiscardsTheWill) {
  auto c = v5_connect(0, 60);
  c.will = will_of("t", 10);
  (void)attach(c);
  EXPECT_TRUE(detach(DetachReason::normal_disconnect).empty());
  advance(10s);
  EXPECT_TRUE(tick().empty());
}

TEST_F(SessionWill, DelayedWillGoesWhenTheDelayPasses) {
  auto c = v5_connect(0, 300);
  c.will = will_of("t", 30);
  (void)attach(c);
  EXPECT_TRUE(detach(DetachReason::connection_lost).empty());
  EXPECT_EQ(s().next_deadline(), t0 + 30s);
  advance(29s);
  EXPECT_TRUE(tick().empty());
  advance(1s);
  EXPECT_EQ(count_of<PublishWill>(tick()), 1u);
  EXPECT_EQ(s().next_deadline(), t0 + 300s);
  advance(270s);
  const auto out = tick();
  EXPECT_EQ(count_of<PublishWill>(out), 0u);
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);
}

TEST_F(SessionWill, ReconnectBeforeTheDelayCancelsTheWill) {  // [MQTT-3.1.3-9]
  auto c = v5_connect(0, 300);
  c.will = will_of("t", 30);
  (void)attach(c);
  (void)detach(DetachReason::connection_lost);
  advance(10s);
  const auto out = attach(v5_connect(0, 300), true);
  EXPECT_EQ(count_of<PublishWill>(out), 0u);
  advance(60s);
  EXPECT_EQ(count_of<PublishWill>(tick()), 0u);
  EXPECT_EQ(count_of<PublishWill>(detach(DetachReason::connection_lost)), 0u);  // no will now
}

TEST_F(SessionWill, WillDelayIsCappedBySessionExpiry) {
  auto c = v5_connect(0, 60);
  c.will = will_of("t", 600);
  (void)attach(c);
  (void)detach(DetachReason::connection_lost);
  EXPECT_EQ(s().next_deadline(), t0 + 60s);
  advance(60s);
  const auto out = tick();
  EXPECT_EQ(count_of<PublishWill>(out), 1u);
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);
  EXPECT_LT(index_of<PublishWill>(out), index_of<SessionEnded>(out));
}

TEST_F(SessionWill, WillWithDelayOnSessionWithoutExpiryGoesAtOnce) {
  auto c = v5_connect();
  c.will = will_of("t", 600);
  (void)attach(c);
  const auto out = detach(DetachReason::connection_lost);
  EXPECT_EQ(count_of<PublishWill>(out), 1u);
  EXPECT_LT(index_of<PublishWill>(out), index_of<SessionEnded>(out));
}

TEST_F(SessionWill, ServerShutdownAndAdminKickPublishTheWill) {
  for (const auto reason : {DetachReason::server_shutdown, DetachReason::administrative,
                            DetachReason::protocol_error, DetachReason::keep_alive_timeout}) {
    session.reset();
    auto c = v5_connect();
    c.will = will_of();
    (void)attach(c);
    EXPECT_EQ(count_of<PublishWill>(detach(reason)), 1u) << static_cast<int>(reason);
  }
}

TEST_F(SessionWill, TakeoverWithoutDelayPublishesTheOldWill) {
  auto c = v5_connect(0, 300);
  c.will = will_of("old");
  (void)attach(c);
  const auto out = detach(DetachReason::taken_over);
  EXPECT_EQ(all_of<PublishWill>(out).at(0).message->topic, "old");
  EXPECT_EQ(count_of<SessionEnded>(out), 0u);
  EXPECT_EQ(count_of<PublishWill>(attach(v5_connect(0, 300), true)), 0u);
}

TEST_F(SessionWill, TakeoverWithDelayIsCancelledByTheNewConnection) {
  auto c = v5_connect(0, 300);
  c.will = will_of("old", 5);
  (void)attach(c);
  EXPECT_EQ(count_of<PublishWill>(detach(DetachReason::taken_over)), 0u);
  EXPECT_EQ(count_of<PublishWill>(attach(v5_connect(0, 300), true)), 0u);
  advance(10s);
  EXPECT_EQ(count_of<PublishWill>(tick()), 0u);
}

TEST_F(SessionWill, WillPropertiesForwardedWithoutDelayAndExpiryCountsFromPublication) {
  auto c = v5_connect(0, 300);
  auto w = will_of("t", 20);
  w.properties.set_content_type("text/plain");
  w.properties.set_message_expiry_interval(60);
  w.properties.add_user_property("vin", "LSV1");
  c.will = w;
  (void)attach(c);
  (void)detach(DetachReason::connection_lost);
  advance(20s);
  const auto m = all_of<PublishWill>(tick()).at(0).message;
  EXPECT_EQ(m->properties.content_type(), "text/plain");
  EXPECT_FALSE(m->properties.will_delay_interval());
  EXPECT_FALSE(m->properties.message_expiry_interval());
  EXPECT_EQ(m->expires_at, now + 60s);
  EXPECT_EQ(m->properties.user_properties().size(), 1u);
}

TEST_F(SessionWill, ProtocolErrorPublishesTheWill) {
  auto c = v5_connect();
  c.will = will_of();
  (void)attach(c);
  const auto out = handle(mqtt::Pingresp{});
  EXPECT_LT(index_of<CloseConnection>(out), index_of<PublishWill>(out));
}

TEST_F(SessionWill, V3WillPublishedOnConnectionLoss) {
  auto c = v311_connect(true);
  c.will = will_of();
  (void)attach(c);
  EXPECT_EQ(count_of<PublishWill>(detach(DetachReason::connection_lost)), 1u);
}

// ===========================================================================
// Session lifecycle: expiry, takeover, reuse

TEST_F(SessionLifecycle, ExpiryZeroEndsTheSessionAtDetach) {
  (void)attach(v5_connect());
  const auto out = detach(DetachReason::connection_lost);
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);
  EXPECT_FALSE(s().connected());
  EXPECT_EQ(s().next_deadline(), std::nullopt);
}

TEST_F(SessionLifecycle, V3CleanSessionEndsAtDetach) {
  (void)attach(v311_connect(true));
  EXPECT_EQ(count_of<SessionEnded>(detach(DetachReason::connection_lost)), 1u);
}

TEST_F(SessionLifecycle, V3PersistentSessionLivesForTheConfiguredInterval) {
  settings.session_expiry_interval = 600s;
  (void)attach(v311_connect(false));
  EXPECT_TRUE(detach(DetachReason::connection_lost).empty());
  EXPECT_EQ(s().next_deadline(), t0 + 600s);
}

TEST_F(SessionLifecycle, SessionEndsWhenTheExpiryDeadlinePasses) {
  (void)connect_persistent(0, 120);
  go_offline();
  advance(119s);
  EXPECT_TRUE(tick().empty());
  advance(1s);
  EXPECT_EQ(count_of<SessionEnded>(tick()), 1u);
  EXPECT_EQ(stats.sessions_expired, 1u);
  EXPECT_EQ(s().next_deadline(), std::nullopt);
  advance(1h);
  EXPECT_TRUE(tick().empty());  // only once
}

TEST_F(SessionLifecycle, ReconnectBeforeExpiryKeepsTheSession) {
  (void)connect_persistent(0, 120);
  (void)handle(subscribe(1, {"a/b"}));
  go_offline();
  advance(100s);
  (void)attach(v5_connect(0, 120), true);
  advance(1h);
  EXPECT_TRUE(tick().empty());
  EXPECT_EQ(s().subscriptions().size(), 1u);
}

TEST_F(SessionLifecycle, DisconnectCanShortenTheExpiryToZero) {
  (void)connect_persistent(0, 120);
  mqtt::Disconnect d;
  d.properties.set_session_expiry_interval(0);
  EXPECT_EQ(count_of<SessionEnded>(handle(d)), 1u);
}

TEST_F(SessionLifecycle, DisconnectCanChangeTheExpiry) {
  (void)connect_persistent(0, 120);
  mqtt::Disconnect d;
  d.properties.set_session_expiry_interval(500);
  (void)handle(d);
  EXPECT_EQ(s().next_deadline(), t0 + 500s);
}

TEST_F(SessionLifecycle, DisconnectExpiryIsCapped) {
  settings.session_expiry_interval = 1000s;
  (void)connect_persistent(0, 120);
  mqtt::Disconnect d;
  d.properties.set_session_expiry_interval(100000);
  (void)handle(d);
  EXPECT_EQ(s().next_deadline(), t0 + 1000s);
}

TEST_F(SessionLifecycle, NonZeroDisconnectExpiryAfterZeroIsProtocolError) {  // [MQTT-3.14.2-2]
  auto c = v5_connect();
  c.will = will_of();
  (void)attach(c);
  mqtt::Disconnect d;
  d.properties.set_session_expiry_interval(60);
  const auto out = handle(d);
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::protocol_error);
  EXPECT_TRUE(close->send_disconnect);
  EXPECT_EQ(count_of<PublishWill>(out), 1u);  // not a normal disconnect
  EXPECT_EQ(count_of<SessionEnded>(out), 1u);
}

TEST_F(SessionLifecycle, DetachIsIdempotent) {
  auto c = v5_connect(0, 60);
  c.will = will_of();
  (void)attach(c);
  EXPECT_EQ(count_of<PublishWill>(detach(DetachReason::connection_lost)), 1u);
  EXPECT_TRUE(detach(DetachReason::connection_lost).empty());
}

TEST_F(SessionLifecycle, OwnerDetachAfterSessionClosedItselfIsANoop) {
  (void)attach(v5_connect(10));
  advance(15s);
  (void)tick();
  EXPECT_TRUE(detach(DetachReason::keep_alive_timeout).empty());
}

TEST_F(SessionLifecycle, AttachWhileConnectedTakesOverTheOldConnection) {  // [MQTT-3.1.4-3]
  auto c = v5_connect(0, 300);
  c.will = will_of();
  (void)attach(c);
  (void)deliver_qos1("pending");
  const auto out = attach(v5_connect(0, 300), true);
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::session_taken_over);
  EXPECT_EQ(close->detach, DetachReason::taken_over);
  EXPECT_EQ(index_of<CloseConnection>(out), 0u);
  EXPECT_EQ(count_of<PublishWill>(out), 1u);  // old will, delay 0
  EXPECT_LT(index_of<PublishWill>(out), index_of_packet<mqtt::Connack>(out));
  const auto sends = all_of<SendPublish>(out);
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].dup);
  EXPECT_TRUE(s().connected());
}

TEST_F(SessionLifecycle, StateStaysReadableAfterSessionEnded) {
  (void)attach(v5_connect());
  (void)handle(subscribe(1, {"a", "b"}));
  auto o = granted(QoS::at_least_once);
  o.share_group = "g";
  (void)deliver(message("t", QoS::at_least_once), o);
  EXPECT_EQ(count_of<SessionEnded>(detach(DetachReason::connection_lost)), 1u);
  EXPECT_EQ(s().subscriptions().size(), 2u);
  EXPECT_EQ(s().take_shared_messages().size(), 1u);
  // Nothing more happens to an ended session.
  EXPECT_TRUE(deliver(message("t", QoS::at_least_once), QoS::at_least_once).empty());
  EXPECT_TRUE(handle(mqtt::Pingreq{}).empty());
}

TEST_F(SessionLifecycle, AttachAfterEndStartsAFreshSession) {
  (void)attach(v5_connect());
  (void)handle(subscribe(1, {"a"}));
  (void)deliver_qos1();
  (void)detach(DetachReason::connection_lost);
  const auto out = attach(v5_connect());
  EXPECT_TRUE(s().subscriptions().empty());
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(count_of<SendPublish>(out), 0u);
  EXPECT_EQ(deliver_qos1(), 1u);
}

TEST_F(SessionLifecycle, PacketsAfterTheCloseAreIgnored) {
  (void)attach(v5_connect(0, 60));
  (void)handle(mqtt::Connack{});
  EXPECT_TRUE(handle(publish("t", QoS::at_least_once, 1)).empty());
}

// ===========================================================================
// SUBSCRIBE [MQTT-3.8]

TEST_F(SessionSubscribe, GrantsRequestedQosAndRecordsBeforeSuback) {
  (void)attach(v5_connect());
  auto sub = subscribe(9, {"car/+/cmd", "fleet/#"});
  sub.subscriptions[0].options.max_qos = QoS::at_least_once;
  sub.subscriptions[1].options.retain_as_published = true;
  const auto out = handle(sub);
  const auto adds = all_of<AddSubscription>(out);
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0].filter, "car/+/cmd");
  EXPECT_EQ(adds[0].options.max_qos, QoS::at_least_once);
  EXPECT_TRUE(adds[0].is_new);
  EXPECT_TRUE(adds[1].options.retain_as_published);
  EXPECT_LT(index_of<AddSubscription>(out), index_of_packet<mqtt::Suback>(out));
  const auto acks = packets_of<mqtt::Suback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, PacketId{9});
  EXPECT_EQ(acks[0].reasons,
            (std::vector<ReasonCode>{ReasonCode::granted_qos1, ReasonCode::granted_qos2}));
  ASSERT_EQ(s().subscriptions().size(), 2u);
  EXPECT_EQ(s().subscriptions().at("car/+/cmd").options.max_qos, QoS::at_least_once);
}

TEST_F(SessionSubscribe, GrantedQosCappedByMaximumQos) {
  settings.max_qos_allowed = QoS::at_least_once;
  (void)attach(v5_connect());
  const auto out = handle(subscribe(1, {"a"}, QoS::exactly_once));
  EXPECT_EQ(packets_of<mqtt::Suback>(out).at(0).reasons.at(0), ReasonCode::granted_qos1);
  EXPECT_EQ(all_of<AddSubscription>(out).at(0).options.max_qos, QoS::at_least_once);
}

TEST_F(SessionSubscribe, RepeatedFilterReplacesTheSubscription) {  // [MQTT-3.8.4-3]
  (void)attach(v5_connect());
  (void)handle(subscribe(1, {"a"}, QoS::exactly_once));
  const auto out = handle(subscribe(2, {"a"}, QoS::at_most_once));
  const auto adds = all_of<AddSubscription>(out);
  ASSERT_EQ(adds.size(), 1u);
  EXPECT_FALSE(adds[0].is_new);
  EXPECT_EQ(s().subscriptions().size(), 1u);
  EXPECT_EQ(s().subscriptions().at("a").options.max_qos, QoS::at_most_once);
}

TEST_F(SessionSubscribe, WildcardRefusedWhenDisabled) {
  settings.wildcard_subscription = false;
  (void)attach(v5_connect());
  const auto out = handle(subscribe(1, {"a/+", "a/b", "a/#"}));
  EXPECT_EQ(packets_of<mqtt::Suback>(out).at(0).reasons,
            (std::vector<ReasonCode>{ReasonCode::wildcard_subscriptions_not_supported,
                                     ReasonCode::granted_qos2,
                                     ReasonCode::wildcard_subscriptions_not_supported}));
  EXPECT_EQ(count_of<AddSubscription>(out), 1u);
  EXPECT_EQ(s().subscriptions().size(), 1u);
}

TEST_F(SessionSubscribe, SharedRefusedWhenDisabled) {
  settings.shared_subscription = false;
  (void)attach(v5_connect());
  const auto out = handle(subscribe(1, {"$share/g/a", "$queue/a", "a"}));
  EXPECT_EQ(packets_of<mqtt::Suback>(out).at(0).reasons,
            (std::vector<ReasonCode>{ReasonCode::shared_subscriptions_not_supported,
                                     ReasonCode::shared_subscriptions_not_supported,
                                     ReasonCode::granted_qos2}));
}

TEST_F(SessionSubscribe, SharedAcceptedWhenEnabled) {
  (void)attach(v5_connect());
  const auto out = handle(subscribe(1, {"$share/g/car/+/up"}));
  EXPECT_EQ(all_of<AddSubscription>(out).at(0).filter, "$share/g/car/+/up");
}

TEST_F(SessionSubscribe, SubscriptionIdentifierRefusedForTheWholePacket) {
  settings.subscription_identifiers = false;
  (void)attach(v5_connect());
  auto sub = subscribe(1, {"a", "b"});
  sub.properties.set_number(mqtt::PropertyId::subscription_identifier, 7);
  const auto out = handle(sub);
  EXPECT_EQ(count_of<AddSubscription>(out), 0u);
  EXPECT_EQ(packets_of<mqtt::Suback>(out).at(0).reasons,
            (std::vector<ReasonCode>(2, ReasonCode::subscription_identifiers_not_supported)));
  EXPECT_TRUE(s().subscriptions().empty());
}

TEST_F(SessionSubscribe, SubscriptionIdentifierRecorded) {
  (void)attach(v5_connect());
  auto sub = subscribe(1, {"a"});
  sub.properties.set_number(mqtt::PropertyId::subscription_identifier, 7);
  const auto out = handle(sub);
  EXPECT_EQ(all_of<AddSubscription>(out).at(0).subscription_id, 7u);
  EXPECT_EQ(s().subscriptions().at("a").subscription_id, 7u);
  // Resubscribing without one clears it.
  (void)handle(subscribe(2, {"a"}));
  EXPECT_FALSE(s().subscriptions().at("a").subscription_id);
}

TEST_F(SessionSubscribe, SubscriptionIdentifierZeroIsProtocolError) {
  (void)attach(v5_connect());
  auto sub = subscribe(1, {"a"});
  sub.properties.set_number(mqtt::PropertyId::subscription_identifier, 0);
  const auto out = handle(sub);
  EXPECT_EQ(close_of(out)->reason, ReasonCode::protocol_error);
  EXPECT_EQ(count_of<AddSubscription>(out), 0u);
}

TEST_F(SessionSubscribe, TooManyLevelsAndInvalidFiltersGet0x8F) {
  settings.max_topic_levels = 3;
  (void)attach(v5_connect());
  const auto out = handle(subscribe(1, {"a/b/c/d", "a/#/b", "a/b/c", "$share/g/a/b/c/d"}));
  EXPECT_EQ(
      packets_of<mqtt::Suback>(out).at(0).reasons,
      (std::vector<ReasonCode>{ReasonCode::topic_filter_invalid, ReasonCode::topic_filter_invalid,
                               ReasonCode::granted_qos2, ReasonCode::topic_filter_invalid}));
}

TEST_F(SessionSubscribe, NoLocalOnASharedSubscriptionIsProtocolError) {  // [MQTT-3.8.3-4]
  (void)attach(v5_connect());
  auto sub = subscribe(1, {"a", "$share/g/b"});
  sub.subscriptions[1].options.no_local = true;
  const auto out = handle(sub);
  EXPECT_EQ(close_of(out)->reason, ReasonCode::protocol_error);
  EXPECT_EQ(count_of<AddSubscription>(out), 0u);
  EXPECT_TRUE(s().subscriptions().empty());
}

TEST_F(SessionSubscribe, V3SubackUsesTheSameCodes) {
  settings.wildcard_subscription = false;
  (void)attach(v311_connect(true));
  const auto out = handle(subscribe(1, {"a/#", "a"}, QoS::at_least_once));
  EXPECT_EQ(packets_of<mqtt::Suback>(out).at(0).reasons,
            (std::vector<ReasonCode>{ReasonCode::wildcard_subscriptions_not_supported,
                                     ReasonCode::granted_qos1}));
}

// ---------------------------------------------------------------------------
// UNSUBSCRIBE [MQTT-3.10]

TEST_F(SessionUnsubscribe, RemovesExistingAndReports0x11ForOthers) {
  (void)attach(v5_connect());
  (void)handle(subscribe(1, {"a", "b"}));
  const auto out = handle(unsubscribe(2, {"a", "zzz"}));
  const auto removes = all_of<RemoveSubscription>(out);
  ASSERT_EQ(removes.size(), 1u);
  EXPECT_EQ(removes[0].filter, "a");
  const auto acks = packets_of<mqtt::Unsuback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].packet_id, PacketId{2});
  EXPECT_EQ(acks[0].reasons,
            (std::vector<ReasonCode>{ReasonCode::success, ReasonCode::no_subscription_existed}));
  EXPECT_LT(index_of<RemoveSubscription>(out), index_of_packet<mqtt::Unsuback>(out));
  EXPECT_EQ(s().subscriptions().size(), 1u);
  EXPECT_TRUE(s().subscriptions().contains("b"));
}

TEST_F(SessionUnsubscribe, AcksEvenWhenNothingMatched) {  // [MQTT-3.10.4-5]
  (void)attach(v311_connect(true));
  const auto out = handle(unsubscribe(3, {"x"}));
  EXPECT_EQ(count_of<RemoveSubscription>(out), 0u);
  EXPECT_EQ(packets_of<mqtt::Unsuback>(out).size(), 1u);
}

TEST_F(SessionUnsubscribe, SharedFilterMatchedAsSent) {
  (void)attach(v5_connect());
  (void)handle(subscribe(1, {"$share/g/a"}));
  EXPECT_EQ(packets_of<mqtt::Unsuback>(handle(unsubscribe(2, {"a"}))).at(0).reasons.at(0),
            ReasonCode::no_subscription_existed);
  EXPECT_EQ(packets_of<mqtt::Unsuback>(handle(unsubscribe(3, {"$share/g/a"}))).at(0).reasons.at(0),
            ReasonCode::success);
}

// ===========================================================================
// Protocol errors and control packets

TEST_F(SessionProtocol, PingreqGetsPingresp) {  // [MQTT-3.12.4-1]
  (void)attach(v5_connect());
  const auto out = handle(mqtt::Pingreq{});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(packets_of<mqtt::Pingresp>(out).size(), 1u);
}

TEST_F(SessionProtocol, SecondConnectIsProtocolError) {  // [MQTT-3.1.0-2]
  (void)attach(v5_connect());
  const auto out = handle(v5_connect());
  const auto close = close_of(out);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::protocol_error);
  EXPECT_EQ(close->detach, DetachReason::protocol_error);
  EXPECT_TRUE(close->send_disconnect);
  EXPECT_EQ(stats.protocol_errors, 1u);
  EXPECT_FALSE(s().connected());
}

TEST_F(SessionProtocol, ServerToClientPacketsAreProtocolErrors) {
  const std::vector<mqtt::Packet> forbidden = {mqtt::Connack{}, mqtt::Suback{}, mqtt::Unsuback{},
                                               mqtt::Pingresp{}};
  for (const auto& p : forbidden) {
    session.reset();
    (void)attach(v5_connect());
    const auto close = close_of(handle(p));
    ASSERT_TRUE(close) << mqtt::to_string(mqtt::type_of(p));
    EXPECT_EQ(close->reason, ReasonCode::protocol_error);
  }
  EXPECT_EQ(stats.protocol_errors, forbidden.size());
}

TEST_F(SessionProtocol, AuthWithoutAuthenticatorClosesWith0x8C) {
  (void)attach(v5_connect());
  const auto close = close_of(handle(mqtt::Auth{}));
  ASSERT_TRUE(close);
  EXPECT_EQ(close->reason, ReasonCode::bad_authentication_method);
  EXPECT_TRUE(close->send_disconnect);
  EXPECT_FALSE(s().connected());
}

TEST_F(SessionProtocol, ClientDisconnectClosesWithoutAnswering) {
  (void)attach(v5_connect(0, 60));
  const auto out = handle(mqtt::Disconnect{});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(close_of(out)->send_disconnect);
  EXPECT_FALSE(s().connected());
}

// ===========================================================================
// Shared subscriptions: hand back undelivered messages

TEST_F(SessionShared, QueuedAndInflightSharedMessagesAreHandedBack) {
  (void)connect_persistent(1);
  auto shared = granted(QoS::at_least_once);
  shared.share_group = "g";
  shared.subscription_ids = {4};
  (void)deliver(message("t", QoS::at_least_once, "A"), shared);              // inflight id 1
  (void)deliver(message("t", QoS::at_least_once, "B"), QoS::at_least_once);  // queued, not shared
  (void)deliver(message("t", QoS::at_least_once, "C"), shared);              // queued
  auto taken = s().take_shared_messages();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].first->payload, "A");
  EXPECT_EQ(taken[1].first->payload, "C");
  EXPECT_EQ(taken[0].second.share_group, "g");
  EXPECT_EQ(taken[0].second.qos, QoS::at_least_once);
  EXPECT_EQ(taken[0].second.subscription_ids, (std::vector<std::uint32_t>{4}));
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(s().queued(), 1u);
  // B goes out on the next tick now that a slot is free; that tick is due.
  ASSERT_TRUE(s().next_deadline());
  EXPECT_LE(*s().next_deadline(), now);
  const auto sends = all_of<SendPublish>(tick());
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"B"}));
  EXPECT_EQ(sends.at(0).packet_id, PacketId{2});
  EXPECT_EQ(s().take_shared_messages().size(), 0u);
  EXPECT_EQ(s().next_deadline(), now + settings.retry_interval);  // B's retry, nothing sooner
}

TEST_F(SessionShared, MessagesPastPubrecStayToComplete) {
  (void)connect_persistent();
  auto shared = granted(QoS::exactly_once);
  shared.share_group = "g";
  (void)deliver(message("t", QoS::exactly_once), shared);
  (void)handle(ack<mqtt::Pubrec>(1));
  EXPECT_TRUE(s().take_shared_messages().empty());
  EXPECT_EQ(s().inflight(), 1u);
}

// [MQTT-4.8.2-6] a QoS 2 message already sent to this member is never given
// to another one, even before its PUBREC; a queued one still may be.
TEST_F(SessionShared, SentQos2MessagesAreNeverHandedBack) {
  (void)connect_persistent(1);
  auto shared = granted(QoS::exactly_once);
  shared.share_group = "g";
  (void)deliver(message("t", QoS::exactly_once, "sent"), shared);    // inflight id 1
  (void)deliver(message("t", QoS::exactly_once, "queued"), shared);  // window full: queued
  const auto taken = s().take_shared_messages();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].first->payload, "queued");
  EXPECT_EQ(s().inflight(), 1u);
}

TEST_F(SessionShared, OfflineSessionHandsBackItsQueue) {
  (void)connect_persistent();
  go_offline();
  auto shared = granted(QoS::at_most_once);
  shared.share_group = "g";
  shared.retain_as_published = true;
  (void)deliver(message("t", QoS::at_least_once), shared);
  const auto taken = s().take_shared_messages();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].second.qos, QoS::at_most_once);
  EXPECT_TRUE(taken[0].second.retain_as_published);
  EXPECT_EQ(s().queued(), 0u);
}

// ===========================================================================
// next_deadline(): the earliest pending timer

TEST_F(SessionDeadline, NothingPendingMeansNoDeadline) {
  EXPECT_EQ(s().next_deadline(), std::nullopt);
  (void)attach(v5_connect());
  EXPECT_EQ(s().next_deadline(), std::nullopt);
}

TEST_F(SessionDeadline, EarliestOfKeepAliveRetryAndAwaitRel) {
  settings.retry_interval = 20s;
  settings.await_rel_timeout = 12s;
  (void)attach(v5_connect(10));  // keep alive deadline t0+15
  (void)deliver_qos1();          // retry at t0+20
  EXPECT_EQ(s().next_deadline(), t0 + 15s);
  (void)handle(publish("t", QoS::exactly_once, 1));  // activity; await-rel at t0+12
  EXPECT_EQ(s().next_deadline(), t0 + 12s);
}

TEST_F(SessionDeadline, EarliestOfWillAndExpiryWhileOffline) {
  settings.await_rel_timeout = 1000s;
  auto c = v5_connect(0, 600);
  c.will = will_of("t", 300);
  (void)attach(c);
  (void)handle(publish("t", QoS::exactly_once, 1));
  go_offline();
  EXPECT_EQ(s().next_deadline(), t0 + 300s);
  advance(300s);
  (void)tick();
  EXPECT_EQ(s().next_deadline(), t0 + 600s);
  advance(300s);
  (void)tick();
  EXPECT_EQ(s().next_deadline(), std::nullopt);
}

TEST_F(SessionDeadline, AwaitRelTimesOutWhileOfflineToo) {
  settings.await_rel_timeout = 30s;
  (void)connect_persistent();
  (void)handle(publish("t", QoS::exactly_once, 1));
  go_offline();
  EXPECT_EQ(s().next_deadline(), t0 + 30s);
  advance(30s);
  (void)tick();
  EXPECT_EQ(stats.dropped_await_rel_timeout, 1u);
}

TEST_F(SessionDeadline, TickAtEveryDeadlineMakesProgress) {
  // Driving the session only by next_deadline() reaches the end.
  settings.retry_interval = 5s;
  auto c = v5_connect(3, 20);
  c.will = will_of("t", 7);
  (void)attach(c);
  (void)deliver_qos1();
  int steps = 0;
  bool ended = false;
  while (const auto at = s().next_deadline()) {
    ASSERT_LT(++steps, 20);
    now = *at;
    ended = count_of<SessionEnded>(tick()) > 0 || ended;
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(stats.keepalive_timeouts, 1u);
  EXPECT_EQ(stats.wills_published, 1u);
  EXPECT_EQ(stats.sessions_expired, 1u);
}

// ===========================================================================
// Memory: what an idle session and a queued message cost

TEST_F(SessionMemory, IdleSessionIsSmall) {
  std::cout << "sizeof(Session) = " << sizeof(Session)
            << ", queued entry = " << Session::queued_entry_bytes()
            << ", inflight entry = " << Session::inflight_entry_bytes()
            << ", sizeof(Message) = " << sizeof(Message) << '\n';
  EXPECT_LE(sizeof(Session), 256u);
  EXPECT_LE(Session::queued_entry_bytes(), 32u);
  EXPECT_LE(Session::inflight_entry_bytes(), 48u);
}

TEST_F(SessionMemory, EmptiedContainersAreReleased) {
  (void)connect_persistent(1);
  (void)deliver_qos1();
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  (void)handle(ack<mqtt::Puback>(1));
  (void)handle(ack<mqtt::Puback>(2));
  EXPECT_EQ(s().inflight(), 0u);
  EXPECT_EQ(s().queued(), 0u);
  // Behaviour after release is unchanged.
  EXPECT_EQ(deliver_qos1(), 3u);
}

}  // namespace
}  // namespace roadmq::broker
