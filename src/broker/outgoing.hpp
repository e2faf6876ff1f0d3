// Encodes a session's SendPublish straight from the shared message: topic,
// payload and forwarded properties are borrowed, never copied per subscriber.
#pragma once

#include "broker/session_action.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::broker {

// Appends the PUBLISH to `out`; returns the bytes appended (0: not encodable).
std::size_t encode_outgoing_publish(const SendPublish& publish, mqtt::ProtocolVersion version,
                                    mqtt::ByteBuffer& out);

}  // namespace roadmq::broker
