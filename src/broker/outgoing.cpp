#include "broker/outgoing.hpp"

namespace roadmq::broker {

std::size_t encode_outgoing_publish(const SendPublish& p, mqtt::ProtocolVersion version,
                                    mqtt::ByteBuffer& out) {
  const Message& m = *p.message;
  mqtt::PublishView view;
  view.topic = p.omit_topic ? std::string_view{} : std::string_view{m.topic};
  view.payload = m.payload;
  view.qos = p.qos;
  view.retain = p.retain;
  view.dup = p.dup;
  view.packet_id = p.packet_id;
  mqtt::Properties extra;  // empty (no allocation) for most deliveries
  if (mqtt::has_properties(version)) {
    if (p.message_expiry) extra.set_message_expiry_interval(*p.message_expiry);
    if (p.topic_alias != 0) extra.set_topic_alias(p.topic_alias);
    for (const auto id : p.subscription_ids) extra.add_subscription_identifier(id);
    view.delivery_properties = &extra;
    view.message_properties = &m.properties;
  }
  return mqtt::encode(view, version, out);
}

}  // namespace roadmq::broker
