// Message: built once from a PUBLISH; topic, payload and publisher id in
// its own allocation.
#include "broker/message.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace roadmq::broker {
namespace {

using namespace std::chrono_literals;

TEST(Message, TopicPayloadAndPublisherAreCopiesHeldByTheMessage) {
  std::string topic = "vehicle/WVWZZZ1JZXW000001/up";
  std::string publisher = "WVWZZZ1JZXW000001";
  std::string source(70'000, 'a');
  source[0] = '\0';
  source.back() = '\xff';
  auto m = new_message(topic, source, publisher);
  // The message does not depend on what it was made from.
  source.assign(source.size(), 'y');
  topic.assign(topic.size(), 'y');
  publisher.assign(publisher.size(), 'y');
  EXPECT_EQ(m->topic, "vehicle/WVWZZZ1JZXW000001/up");
  EXPECT_EQ(m->publisher, "WVWZZZ1JZXW000001");
  ASSERT_EQ(m->payload.size(), 70'000U);
  EXPECT_EQ(m->payload.data()[0], '\0');
  EXPECT_EQ(m->payload.data()[69'999], '\xff');
  EXPECT_EQ(m->payload.view().substr(1, 3), "aaa");
  const MessagePtr shared = m;
  m.reset();
  EXPECT_EQ(shared->payload.size(), 70'000U);  // lives as long as any reference
}

TEST(Message, EmptyParts) {
  auto m = new_message("t", "", "");
  EXPECT_EQ(m->topic, "t");
  EXPECT_TRUE(m->payload.empty());
  EXPECT_EQ(m->payload, "");
  EXPECT_NE(m->payload.data(), nullptr);
  EXPECT_TRUE(m->publisher.empty());  // a broker-made message
  Message plain;
  EXPECT_TRUE(plain.payload.empty());
  EXPECT_TRUE(plain.topic.empty());
  EXPECT_EQ(plain.payload, m->payload);
}

TEST(Message, PayloadComparesAndPrintsAsItsBytes) {
  auto a = new_message("t", "telemetry", "p");
  auto b = new_message("u", "telemetry", "q");
  EXPECT_EQ(a->payload, b->payload);
  EXPECT_EQ(a->payload, "telemetry");
  EXPECT_FALSE(a->payload == "telemetr");
  std::ostringstream os;
  os << a->payload;
  EXPECT_EQ(os.str(), "telemetry");
  EXPECT_EQ(std::string(a->payload), "telemetry");
}

TEST(Message, MadeFromAPublishWhichKeepsItsBuffers) {
  mqtt::Publish p;
  p.topic = "vehicle/WVWZZZ1JZXW000001/up";
  p.payload = std::string(200, 'p');
  p.qos = mqtt::QoS::at_least_once;
  p.retain = true;
  p.properties.set_message_expiry_interval(30);
  p.properties.set_topic_alias(3);
  p.properties.set_content_type("application/cbor");
  const auto* buffer = p.payload.data();
  const auto* topic_buffer = p.topic.data();
  const TimePoint now = TimePoint{} + 1h;
  const MessagePtr m = make_message(std::move(p), "WVWZZZ1JZXW000001", now, 1234);
  EXPECT_EQ(m->topic, "vehicle/WVWZZZ1JZXW000001/up");
  EXPECT_EQ(m->payload, std::string(200, 'p'));
  EXPECT_EQ(m->qos, mqtt::QoS::at_least_once);
  EXPECT_TRUE(m->retain);
  EXPECT_EQ(m->publisher, "WVWZZZ1JZXW000001");
  EXPECT_EQ(m->received_at_ms, 1234U);
  ASSERT_TRUE(m->expires_at);
  EXPECT_EQ(*m->expires_at, now + 30s);
  // Forwarded: Content Type. Not: Topic Alias, Message Expiry (kept absolute).
  EXPECT_EQ(m->properties.content_type(), "application/cbor");
  EXPECT_FALSE(m->properties.topic_alias());
  EXPECT_FALSE(m->properties.message_expiry_interval());
  // The decoder reuses the Publish: its buffers are still there.
  EXPECT_EQ(p.payload.data(), buffer);  // NOLINT(bugprone-use-after-move): copied, not moved
  EXPECT_EQ(p.topic.data(), topic_buffer);
  EXPECT_NE(static_cast<const void*>(m->payload.data()), static_cast<const void*>(buffer));
}

}  // namespace
}  // namespace roadmq::broker
