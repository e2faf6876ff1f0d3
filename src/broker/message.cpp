#include "broker/message.hpp"

namespace roadmq::broker {

std::optional<std::uint32_t> Message::remaining_expiry(TimePoint now) const noexcept {
  if (!expires_at) return std::nullopt;
  if (now >= *expires_at) return 0;
  const auto left = std::chrono::ceil<std::chrono::seconds>(*expires_at - now).count();
  return static_cast<std::uint32_t>(left < 1 ? 1 : left);
}

MessagePtr make_message(mqtt::Publish&& publish, std::string publisher, TimePoint now,
                        std::uint64_t wall_ms) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(publish.topic);
  m->payload = std::move(publish.payload);
  m->qos = publish.qos;
  m->retain = publish.retain;
  m->publisher = std::move(publisher);
  m->received_at_ms = wall_ms;
  for (auto& p : publish.properties.items()) {
    switch (p.id) {
      case mqtt::PropertyId::message_expiry_interval:
        m->expires_at = now + std::chrono::seconds(p.number);
        break;
      case mqtt::PropertyId::topic_alias:
      case mqtt::PropertyId::subscription_identifier:
        break;
      default:
        m->properties.push_back(p);
    }
  }
  return m;
}

}  // namespace roadmq::broker
