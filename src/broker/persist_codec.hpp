// How the broker's durable state is laid out in the storage tables: keys that
// sort per client and per sequence, and compact binary values. A message is
// stored as a 5.0 PUBLISH (so its properties reuse the codec) plus the
// fields a PUBLISH does not carry. Times are stored on the wall clock and
// turned back into steady-clock deadlines when loaded.
//
// Every decode checks bounds and returns nullopt / nullptr on bad bytes: a
// damaged record is reported and skipped by the loader, never trusted.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.hpp"
#include "broker/session_action.hpp"
#include "mqtt/packet.hpp"

namespace roadmq::broker::persist {

// The clocks a conversion uses: the same instant on both.
struct Clocks {
  TimePoint steady;
  std::uint64_t wall_ms = 0;
};
Clocks clocks_now() noexcept;

// ── keys ────────────────────────────────────────────────────────────────────
// u16 length + client id: a prefix no other client's keys can share.
std::string client_prefix(std::string_view client_id);
std::string subscription_key(std::string_view client_id, std::string_view filter);
std::string outbound_key(std::string_view client_id, std::uint64_t seq);
std::string inbound_key(std::string_view client_id, std::uint16_t packet_id);

// Splits a key made by the functions above into client id and the rest.
struct SplitKey {
  std::string_view client_id;
  std::string_view rest;
};
std::optional<SplitKey> split_key(std::string_view key);
std::optional<std::uint64_t> decode_u64(std::string_view be8);
std::optional<std::uint16_t> decode_u16(std::string_view be2);

// ── messages ────────────────────────────────────────────────────────────────
std::string encode_message(const Message& m, const Clocks& clocks);
MessagePtr decode_message(std::string_view bytes, const Clocks& clocks);

// ── sessions ────────────────────────────────────────────────────────────────
struct StoredWill {
  mqtt::Will will;
  std::uint32_t delay_s = 0;
};

struct SessionImage {
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::v5;
  std::uint32_t expiry_s = 0;            // effective session expiry
  bool connected = false;                // at the time of writing
  std::uint64_t expires_at_ms = 0;       // wall clock, when disconnected
  std::uint64_t will_at_ms = 0;          // wall clock, when a will is pending
  std::optional<StoredWill> will;
};
std::string encode_session(const SessionImage& s);
std::optional<SessionImage> decode_session(std::string_view bytes);

// ── subscriptions ───────────────────────────────────────────────────────────
std::string encode_subscription(const SubscriptionEntry& e);
std::optional<SubscriptionEntry> decode_subscription(std::string_view bytes);

// ── outbound deliveries (queued or inflight) ────────────────────────────────
enum class OutboundPhase : std::uint8_t { queued = 0, awaiting_puback = 1, awaiting_pubrec = 2, awaiting_pubcomp = 3 };

struct OutboundRecord {
  std::uint64_t message_id = 0;  // 0 once released (awaiting PUBCOMP)
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  std::uint8_t flags = 0;        // the session's delivery flags
  std::uint16_t packet_id = 0;   // 0 while queued
  OutboundPhase phase = OutboundPhase::queued;
  std::vector<std::uint32_t> subscription_ids;
  std::string share_group;
};
std::string encode_outbound(const OutboundRecord& r);
std::optional<OutboundRecord> decode_outbound(std::string_view bytes);

// ── inbound QoS 2 ids ───────────────────────────────────────────────────────
struct InboundRecord {
  std::uint64_t since_wall_ms = 0;
  std::uint64_t message_id = 0;
};
std::string encode_inbound(const InboundRecord& r);
std::optional<InboundRecord> decode_inbound(std::string_view bytes);

}  // namespace roadmq::broker::persist
