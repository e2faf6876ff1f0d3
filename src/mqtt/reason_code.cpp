#include "mqtt/reason_code.hpp"

#include <array>

namespace roadmq::mqtt {
namespace {

struct Table {
  std::array<std::string_view, 256> names{};
  constexpr Table() {
#define ROADMQ_X(v, e, n) names[v] = n;
    ROADMQ_MQTT_REASON_CODES(ROADMQ_X)
#undef ROADMQ_X
  }
};
constexpr Table kTable;

template <std::size_t N>
constexpr bool contains(const std::uint8_t (&set)[N], std::uint8_t v) {
  for (auto x : set)
    if (x == v) return true;
  return false;
}

// [MQTT-2.4] table 2-6, per packet.
constexpr std::uint8_t kConnack[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr std::uint8_t kPubackPubrec[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr std::uint8_t kPubrelPubcomp[] = {0x00, 0x92};
constexpr std::uint8_t kSuback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr std::uint8_t kUnsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr std::uint8_t kDisconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr std::uint8_t kAuth[] = {0x00, 0x18, 0x19};

}  // namespace

std::string_view name(ReasonCode rc) noexcept {
  auto n = kTable.names[static_cast<std::uint8_t>(rc)];
  return n.empty() ? std::string_view("Unknown reason code") : n;
}

bool is_known(std::uint8_t value) noexcept { return !kTable.names[value].empty(); }

bool is_allowed_in(ReasonCode rc, PacketType t) noexcept {
  const auto v = static_cast<std::uint8_t>(rc);
  switch (t) {
    case PacketType::connack: return contains(kConnack, v);
    case PacketType::puback:
    case PacketType::pubrec: return contains(kPubackPubrec, v);
    case PacketType::pubrel:
    case PacketType::pubcomp: return contains(kPubrelPubcomp, v);
    case PacketType::suback: return contains(kSuback, v);
    case PacketType::unsuback: return contains(kUnsuback, v);
    case PacketType::disconnect: return contains(kDisconnect, v);
    case PacketType::auth: return contains(kAuth, v);
    default: return false;
  }
}

// 3.1.1 has six CONNACK return codes; every 5.0 refusal maps to the nearest.
std::uint8_t to_v3_connack_code(ReasonCode rc) noexcept {
  switch (rc) {
    case ReasonCode::success: return 0;
    case ReasonCode::unsupported_protocol_version: return 1;
    case ReasonCode::client_identifier_not_valid: return 2;
    case ReasonCode::server_unavailable:
    case ReasonCode::server_busy:
    case ReasonCode::server_shutting_down:
    case ReasonCode::use_another_server:
    case ReasonCode::server_moved:
    case ReasonCode::connection_rate_exceeded:
    case ReasonCode::quota_exceeded: return 3;
    case ReasonCode::bad_username_or_password: return 4;
    case ReasonCode::not_authorized:
    case ReasonCode::banned:
    case ReasonCode::bad_authentication_method: return 5;
    default: return 3;
  }
}

ReasonCode from_v3_connack_code(std::uint8_t code) noexcept {
  switch (code) {
    case 0: return ReasonCode::success;
    case 1: return ReasonCode::unsupported_protocol_version;
    case 2: return ReasonCode::client_identifier_not_valid;
    case 3: return ReasonCode::server_unavailable;
    case 4: return ReasonCode::bad_username_or_password;
    case 5: return ReasonCode::not_authorized;
    default: return ReasonCode::unspecified_error;
  }
}

}  // namespace roadmq::mqtt
