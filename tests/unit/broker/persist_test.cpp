// Durable state: the storage encodings round-trip and reject damaged bytes,
// and a persistent session emits exactly the Store*/Forget* actions that keep
// its stored image equal to its state.
#include <gtest/gtest.h>

#include "broker/persist_codec.hpp"
#include "broker/session_fixture.hpp"

namespace roadmq::broker {
namespace {

using namespace test;  // NOLINT: the fixture's vocabulary

persist::Clocks clocks_at(TimePoint steady, std::uint64_t wall_ms) { return {steady, wall_ms}; }

// ── codec ───────────────────────────────────────────────────────────────────

TEST(PersistCodec, MessageRoundTripsWithPropertiesAndExpiry) {
  const auto c = clocks_at(TimePoint{} + 1000h, 1'700'000'000'000);
  auto m = new_message("vehicle/VIN1/down", std::string_view("\0\1binary", 8), "tsp");
  m->qos = QoS::exactly_once;
  m->retain = true;
  m->received_at_ms = 1'699'999'999'000;
  m->properties.set_content_type("application/cbor");
  m->properties.add_user_property("k", "v");
  m->expires_at = c.steady + 90s;
  const auto bytes = persist::encode_message(*m, c);
  // Read back a minute later on both clocks: 30 s left.
  const auto later = clocks_at(c.steady + 60s + 5h, c.wall_ms + 60'000);
  const auto back = persist::decode_message(bytes, later);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->topic, m->topic);
  EXPECT_EQ(back->payload, m->payload);
  EXPECT_EQ(back->qos, m->qos);
  EXPECT_TRUE(back->retain);
  EXPECT_EQ(back->publisher, "tsp");
  EXPECT_EQ(back->received_at_ms, m->received_at_ms);
  EXPECT_EQ(back->properties, m->properties);
  ASSERT_TRUE(back->expires_at);
  EXPECT_EQ(*back->expires_at - later.steady, 30s);
}

TEST(PersistCodec, DamagedBytesAreRejected) {
  const auto c = persist::clocks_now();
  auto m = new_message("t", "p", {});
  const auto bytes = persist::encode_message(*m, c);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(persist::decode_message(bytes.substr(0, n), c)) << n;
  }
  EXPECT_FALSE(persist::decode_message(bytes + "x", c));
  EXPECT_FALSE(persist::decode_session("garbage"));
  EXPECT_FALSE(persist::decode_outbound(""));
  EXPECT_FALSE(persist::decode_subscription("\x07"));
}

TEST(PersistCodec, SessionRoundTripsWithWill) {
  persist::SessionImage s;
  s.version = ProtocolVersion::v3_1_1;
  s.expiry_s = 7200;
  s.expires_at_ms = 123456;
  s.will_at_ms = 2345;
  s.will = persist::StoredWill{will_of("car/1/status", 0), 30};
  const auto back = persist::decode_session(persist::encode_session(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, s.version);
  EXPECT_EQ(back->expiry_s, 7200u);
  EXPECT_FALSE(back->connected);
  EXPECT_EQ(back->expires_at_ms, 123456u);
  EXPECT_EQ(back->will_at_ms, 2345u);
  ASSERT_TRUE(back->will);
  EXPECT_EQ(back->will->will, s.will->will);
  EXPECT_EQ(back->will->delay_s, 30u);
}

TEST(PersistCodec, OutboundAndSubscriptionRoundTrip) {
  persist::OutboundRecord r;
  r.message_id = 0x1234'5678'9ABC;
  r.qos = QoS::exactly_once;
  r.flags = 5;
  r.packet_id = 77;
  r.phase = persist::OutboundPhase::awaiting_pubrec;
  r.subscription_ids = {1, 268435455};
  r.share_group = "g1";
  const auto back = persist::decode_outbound(persist::encode_outbound(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->message_id, r.message_id);
  EXPECT_EQ(back->qos, r.qos);
  EXPECT_EQ(back->flags, 5);
  EXPECT_EQ(back->packet_id, 77);
  EXPECT_EQ(back->phase, r.phase);
  EXPECT_EQ(back->subscription_ids, r.subscription_ids);
  EXPECT_EQ(back->share_group, "g1");

  SubscriptionEntry e;
  e.options.max_qos = QoS::at_least_once;
  e.options.no_local = true;
  e.options.retain_handling = mqtt::RetainHandling::do_not_send;
  e.subscription_id = 9;
  const auto sub = persist::decode_subscription(persist::encode_subscription(e));
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->options, e.options);
  EXPECT_EQ(sub->subscription_id, 9u);
}

TEST(PersistCodec, KeysSortByClientThenSequenceAndSplitBack) {
  // A longer id sharing a prefix never interleaves with the shorter one.
  EXPECT_LT(persist::outbound_key("car", 1), persist::outbound_key("car", 2));
  EXPECT_LT(persist::outbound_key("car", 255), persist::outbound_key("car", 256));
  EXPECT_FALSE(persist::outbound_key("car1", 1).starts_with(persist::client_prefix("car")));
  const auto key = persist::outbound_key("vin-42", 7);
  const auto split = persist::split_key(key);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->client_id, "vin-42");
  EXPECT_EQ(persist::decode_u64(split->rest), 7u);
  EXPECT_FALSE(persist::split_key(std::string("\x00\x09" "ab", 4)));
}

// ── the session's storage actions ───────────────────────────────────────────

class SessionPersist : public SessionFixture {
 protected:
  SessionPersist() { settings.persistence = true; }
};

TEST_F(SessionPersist, PersistentAttachStoresTheHeader) {
  EXPECT_EQ(count_of<StoreSession>(connect_persistent()), 1u);
  EXPECT_TRUE(s().stored());
}

TEST_F(SessionPersist, CleanSessionStoresNothing) {
  const auto out = attach(v5_connect(0, 0));
  EXPECT_EQ(count_of<StoreSession>(out), 0u);
  EXPECT_FALSE(s().persistent());
  EXPECT_EQ(count_of<StoreOutbound>(deliver(message("t", QoS::at_least_once), QoS::at_least_once)), 0u);
}

TEST_F(SessionPersist, NothingIsStoredWhenDurableSessionsAreOff) {
  settings.persistence = false;
  EXPECT_EQ(count_of<StoreSession>(connect_persistent()), 0u);
  EXPECT_EQ(count_of<StoreOutbound>(deliver(message("t", QoS::at_least_once), QoS::at_least_once)), 0u);
}

TEST_F(SessionPersist, Qos1InflightIsStoredAndForgottenOnPuback) {
  (void)connect_persistent();
  const auto out = deliver(message("t", QoS::at_least_once, "a"), QoS::at_least_once);
  const auto stores = all_of<StoreOutbound>(out);
  ASSERT_EQ(stores.size(), 1u);
  EXPECT_TRUE(stores[0].is_new);
  EXPECT_EQ(stores[0].packet_id, 1);
  EXPECT_EQ(stores[0].phase, static_cast<std::uint8_t>(persist::OutboundPhase::awaiting_puback));
  const auto done = all_of<ForgetOutbound>(handle(ack<mqtt::Puback>(1)));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].seq, stores[0].seq);
  EXPECT_EQ(done[0].message, stores[0].message);
}

TEST_F(SessionPersist, Qos2ReleasesTheMessageAtPubrecAndForgetsAtPubcomp) {
  (void)connect_persistent();
  const auto first = all_of<StoreOutbound>(deliver(message("t", QoS::exactly_once), QoS::exactly_once));
  ASSERT_EQ(first.size(), 1u);
  const auto rec = all_of<StoreOutbound>(handle(ack<mqtt::Pubrec>(1)));
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(rec[0].seq, first[0].seq);
  EXPECT_FALSE(rec[0].is_new);
  EXPECT_EQ(rec[0].message, nullptr);
  EXPECT_EQ(rec[0].released, first[0].message);
  EXPECT_EQ(rec[0].phase, static_cast<std::uint8_t>(persist::OutboundPhase::awaiting_pubcomp));
  const auto comp = all_of<ForgetOutbound>(handle(ack<mqtt::Pubcomp>(1)));
  ASSERT_EQ(comp.size(), 1u);
  EXPECT_EQ(comp[0].message, nullptr);  // its reference went at PUBREC
}

TEST_F(SessionPersist, OfflineQueueIsStoredThenUpdatedWhenSent) {
  (void)connect_persistent();
  go_offline();
  const auto queued = all_of<StoreOutbound>(deliver(message("t", QoS::at_least_once), QoS::at_least_once));
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].packet_id, 0);
  EXPECT_EQ(queued[0].phase, static_cast<std::uint8_t>(persist::OutboundPhase::queued));
  const auto sent = all_of<StoreOutbound>(attach(v5_connect(0, 3600), true));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].seq, queued[0].seq);
  EXPECT_FALSE(sent[0].is_new);  // same record, same reference
  EXPECT_NE(sent[0].packet_id, 0);
}

TEST_F(SessionPersist, DroppedQueuedMessagesAreForgotten) {
  settings.max_mqueue_len = 1;
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once, "old"), QoS::at_least_once);
  const auto out = deliver(message("t", QoS::at_least_once, "new"), QoS::at_least_once);
  const auto forgot = all_of<ForgetOutbound>(out);
  ASSERT_EQ(forgot.size(), 1u);
  EXPECT_EQ(forgot[0].message->payload, "old");
}

TEST_F(SessionPersist, InboundQos2IdIsStoredUntilPubrel) {
  (void)connect_persistent();
  const auto out = handle(publish("t", QoS::exactly_once, 9));
  ASSERT_EQ(all_of<StoreInbound>(out).size(), 1u);
  EXPECT_LT(index_of<StoreInbound>(out), index_of_packet<mqtt::Pubrec>(out));  // stored before it is acknowledged
  mqtt::Pubrel rel;
  rel.packet_id = PacketId{9};
  const auto done = handle(rel);
  ASSERT_EQ(all_of<ForgetInbound>(done).size(), 1u);
  EXPECT_LT(index_of<ForgetInbound>(done), index_of_packet<mqtt::Pubcomp>(done));
}

TEST_F(SessionPersist, ReconnectWithExpiryZeroUnstoresEverything) {
  (void)connect_persistent();
  go_offline();
  (void)deliver(message("t", QoS::at_least_once), QoS::at_least_once);
  const auto out = attach(v5_connect(0, 0), true);
  const auto u = all_of<UnstoreSession>(out);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].records.size(), 1u);
  EXPECT_FALSE(s().stored());
  EXPECT_EQ(count_of<StoreOutbound>(out), 0u);
}

TEST_F(SessionPersist, ImageAndRestoreRoundTripQueueInflightWillAndDeadlines) {
  settings.retry_interval = 10s;
  auto c = v5_connect(0, 3600);
  c.will = will_of("car/1/status", 60);
  (void)attach(c);
  (void)handle(subscribe(1, {"a/+"}, QoS::at_least_once));
  const auto inflight = all_of<StoreOutbound>(deliver(message("a/1", QoS::at_least_once, "x"), QoS::at_least_once));
  go_offline();
  const auto queued = all_of<StoreOutbound>(deliver(message("a/2", QoS::at_least_once, "y"), QoS::at_least_once));
  const auto clocks = clocks_at(now, 1'000'000);
  const auto image = s().image(clocks);
  EXPECT_FALSE(image.connected);
  EXPECT_EQ(image.expires_at_ms, 1'000'000u + 3'600'000u);
  EXPECT_EQ(image.will_at_ms, 1'000'000u + 60'000u);

  // A fresh session rebuilt from the image and records, 10 s later.
  SessionStats stats2;
  Session restored("car-1", settings, stats2);
  const auto later = clocks_at(now + 10s, 1'010'000);
  restored.restore(image, later);
  restored.restore_subscription("a/+", SubscriptionEntry{});
  persist::OutboundRecord r1;
  r1.qos = QoS::at_least_once;
  r1.packet_id = inflight.at(0).packet_id;
  r1.phase = persist::OutboundPhase::awaiting_puback;
  restored.restore_outbound(inflight.at(0).seq, inflight.at(0).message, r1, later.steady);
  persist::OutboundRecord r2;
  r2.qos = QoS::at_least_once;
  restored.restore_outbound(queued.at(0).seq, queued.at(0).message, r2, later.steady);
  EXPECT_EQ(restored.inflight(), 1u);
  EXPECT_EQ(restored.queued(), 1u);
  EXPECT_EQ(restored.subscriptions().size(), 1u);
  // The will is still 50 s away.
  ASSERT_TRUE(restored.next_deadline());
  EXPECT_EQ(*restored.next_deadline(), later.steady + 50s);

  Actions out;
  restored.attach(v5_connect(0, 3600), true, false, later.steady, out);
  const auto sends = all_of<SendPublish>(out);
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_TRUE(sends[0].dup);  // inflight before the restart: resent as a duplicate
  EXPECT_EQ(sends[0].packet_id.value, r1.packet_id);
  EXPECT_FALSE(sends[1].dup);
  EXPECT_EQ(payloads_of(sends), (std::vector<std::string>{"x", "y"}));
  // New records never reuse a restored sequence number.
  const auto next = all_of<StoreOutbound>([&] {
    Actions o;
    restored.deliver(message("a/3", QoS::at_least_once), granted(QoS::at_least_once), later.steady, o);
    return o;
  }());
  ASSERT_EQ(next.size(), 1u);
  EXPECT_GT(next[0].seq, queued.at(0).seq);
}

TEST_F(SessionPersist, SessionConnectedAtCrashLosesItsConnectionAtRestore) {
  auto c = v5_connect(0, 3600);
  c.will = will_of("car/1/status", 0);
  (void)attach(c);
  const auto image = s().image(clocks_at(now, 5000));
  EXPECT_TRUE(image.connected);
  SessionStats stats2;
  Session restored("car-1", settings, stats2);
  restored.restore(image, clocks_at(now + 1h, 5000 + 3'600'000));
  Actions out;
  restored.tick(now + 1h, out);
  EXPECT_EQ(count_of<PublishWill>(out), 1u);  // will delay 0: due at once
  EXPECT_EQ(count_of<StoreSession>(out), 1u);  // and the stored will is gone
}

}  // namespace
}  // namespace roadmq::broker
