// What the codec reports for bad input: the reason code to answer with and
// the rule that was broken, as a static string (no allocation on bad input).
#pragma once

#include <string_view>

#include "mqtt/reason_code.hpp"

namespace roadmq::mqtt {

struct CodecError {
  ReasonCode reason = ReasonCode::malformed_packet;
  // e.g. "[MQTT-3.3.1-4] PUBLISH with QoS 3"; always a string literal.
  std::string_view rule;
  friend bool operator==(const CodecError&, const CodecError&) = default;
};

}  // namespace roadmq::mqtt
