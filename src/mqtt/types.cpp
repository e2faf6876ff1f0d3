#include "mqtt/types.hpp"

namespace roadmq::mqtt {

std::string_view to_string(ProtocolVersion v) noexcept {
  switch (v) {
    case ProtocolVersion::v3_1: return "3.1";
    case ProtocolVersion::v3_1_1: return "3.1.1";
    case ProtocolVersion::v5: return "5.0";
  }
  return "unknown";
}

std::string_view to_string(PacketType t) noexcept {
  static constexpr std::string_view kNames[] = {
      "RESERVED", "CONNECT", "CONNACK",     "PUBLISH",  "PUBACK",   "PUBREC",
      "PUBREL",   "PUBCOMP", "SUBSCRIBE",   "SUBACK",   "UNSUBSCRIBE", "UNSUBACK",
      "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH"};
  const auto i = static_cast<unsigned>(t);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

}  // namespace roadmq::mqtt
