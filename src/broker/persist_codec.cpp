#include "broker/persist_codec.hpp"

#include <chrono>

#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::broker::persist {
namespace {

constexpr std::uint8_t kMessageFormat = 1;
constexpr std::uint8_t kSessionFormat = 1;
constexpr std::uint8_t kOutboundFormat = 1;

void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// Bounds-checked cursor; any short read turns the whole decode into a failure.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool ok() const noexcept { return ok_; }
  bool done() const noexcept { return ok_ && pos_ == b_.size(); }
  std::uint64_t uint(int bytes) {
    if (!ok_ || b_.size() - pos_ < static_cast<std::size_t>(bytes)) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(b_[pos_++]);
    return v;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(uint(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(uint(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
  std::uint64_t u64() { return uint(8); }
  std::string_view str() {
    const std::uint32_t n = u32();
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    const auto v = b_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  std::string_view b_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// A PUBLISH-shaped record (a message or a will) through the codec.
void put_publish(std::string& out, std::string_view topic, std::string_view payload, mqtt::QoS qos,
                 bool retain, const mqtt::Properties& props) {
  mqtt::Publish p;
  p.topic = std::string(topic);
  p.payload = std::string(payload);
  p.qos = qos;
  p.retain = retain;
  if (qos != mqtt::QoS::at_most_once) p.packet_id = mqtt::PacketId{1};
  p.properties = props;
  mqtt::ByteBuffer bytes;
  mqtt::encode(mqtt::Packet{std::move(p)}, mqtt::ProtocolVersion::v5, bytes);
  put_str(out, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::optional<mqtt::Publish> get_publish(Reader& r) {
  const auto raw = r.str();
  if (!r.ok()) return std::nullopt;
  const std::span<const std::uint8_t> bytes{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()};
  const auto frame = mqtt::parse_frame(bytes, mqtt::kMaxPacketSize, mqtt::ProtocolVersion::v5);
  if (frame.status != mqtt::FrameStatus::complete) return std::nullopt;
  auto packet = mqtt::decode_packet(frame.frame, mqtt::ProtocolVersion::v5);
  if (!packet || !std::holds_alternative<mqtt::Publish>(*packet)) return std::nullopt;
  return std::get<mqtt::Publish>(std::move(*packet));
}

std::string prefixed(std::string_view client_id, std::size_t extra) {
  std::string key;
  key.reserve(2 + client_id.size() + extra);
  put_u16(key, static_cast<std::uint16_t>(client_id.size()));
  key.append(client_id);
  return key;
}

// Wall-clock deadline <-> steady-clock deadline, through "now" on both clocks.
std::uint64_t to_wall(TimePoint t, const Clocks& c) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - c.steady).count();
  return ms <= 0 ? c.wall_ms : c.wall_ms + static_cast<std::uint64_t>(ms);
}
TimePoint to_steady(std::uint64_t wall_ms, const Clocks& c) {
  if (wall_ms <= c.wall_ms) return c.steady;
  return c.steady + std::chrono::milliseconds(wall_ms - c.wall_ms);
}

}  // namespace

Clocks clocks_now() noexcept {
  return Clocks{SteadyClock::now(),
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count())};
}

std::string client_prefix(std::string_view client_id) { return prefixed(client_id, 0); }

std::string subscription_key(std::string_view client_id, std::string_view filter) {
  auto key = prefixed(client_id, filter.size());
  key.append(filter);
  return key;
}

std::string outbound_key(std::string_view client_id, std::uint64_t seq) {
  auto key = prefixed(client_id, 8);
  put_u64(key, seq);
  return key;
}

std::string inbound_key(std::string_view client_id, std::uint16_t packet_id) {
  auto key = prefixed(client_id, 2);
  put_u16(key, packet_id);
  return key;
}

std::optional<SplitKey> split_key(std::string_view key) {
  if (key.size() < 2) return std::nullopt;
  const std::size_t n = (static_cast<unsigned char>(key[0]) << 8) | static_cast<unsigned char>(key[1]);
  if (key.size() < 2 + n) return std::nullopt;
  return SplitKey{key.substr(2, n), key.substr(2 + n)};
}

std::optional<std::uint64_t> decode_u64(std::string_view be8) {
  if (be8.size() != 8) return std::nullopt;
  Reader r(be8);
  return r.u64();
}

std::optional<std::uint16_t> decode_u16(std::string_view be2) {
  if (be2.size() != 2) return std::nullopt;
  Reader r(be2);
  return r.u16();
}

std::string encode_message(const Message& m, const Clocks& clocks) {
  std::string out;
  out.reserve(m.topic.size() + m.payload.size() + m.publisher.size() + 48);
  put_u8(out, kMessageFormat);
  put_u64(out, m.expires_at ? to_wall(*m.expires_at, clocks) : 0);
  put_u64(out, m.received_at_ms);
  put_str(out, m.publisher);
  put_publish(out, m.topic, m.payload, m.qos, m.retain, m.properties);
  return out;
}

MessagePtr decode_message(std::string_view bytes, const Clocks& clocks) {
  Reader r(bytes);
  if (r.u8() != kMessageFormat) return nullptr;
  const std::uint64_t expires_ms = r.u64();
  const std::uint64_t received_ms = r.u64();
  const auto publisher = r.str();
  auto p = get_publish(r);
  if (!p || !r.done()) return nullptr;
  auto m = new_message(p->topic, p->payload, publisher);
  m->qos = p->qos;
  m->retain = p->retain;
  m->properties = std::move(p->properties);
  m->received_at_ms = received_ms;
  if (expires_ms != 0) m->expires_at = to_steady(expires_ms, clocks);
  return m;
}

std::string encode_session(const SessionImage& s) {
  std::string out;
  put_u8(out, kSessionFormat);
  put_u8(out, static_cast<std::uint8_t>(s.version));
  put_u32(out, s.expiry_s);
  put_u8(out, s.connected ? 1 : 0);
  put_u64(out, s.expires_at_ms);
  put_u64(out, s.will_at_ms);
  put_u8(out, s.will ? 1 : 0);
  if (s.will) {
    put_u32(out, s.will->delay_s);
    const auto& w = s.will->will;
    put_publish(out, w.topic, w.payload, w.qos, w.retain, w.properties);
  }
  return out;
}

std::optional<SessionImage> decode_session(std::string_view bytes) {
  Reader r(bytes);
  if (r.u8() != kSessionFormat) return std::nullopt;
  SessionImage s;
  const auto version = r.u8();
  if (version != 3 && version != 4 && version != 5) return std::nullopt;
  s.version = static_cast<mqtt::ProtocolVersion>(version);
  s.expiry_s = r.u32();
  s.connected = r.u8() != 0;
  s.expires_at_ms = r.u64();
  s.will_at_ms = r.u64();
  if (r.u8() != 0) {
    StoredWill w;
    w.delay_s = r.u32();
    auto p = get_publish(r);
    if (!p) return std::nullopt;
    w.will.topic = std::move(p->topic);
    w.will.payload = std::move(p->payload);
    w.will.qos = p->qos;
    w.will.retain = p->retain;
    w.will.properties = std::move(p->properties);
    s.will = std::move(w);
  }
  if (!r.done()) return std::nullopt;
  return s;
}

std::string encode_subscription(const SubscriptionEntry& e) {
  std::string out;
  const auto& o = e.options;
  put_u8(out, static_cast<std::uint8_t>(static_cast<unsigned>(o.max_qos) | (o.no_local ? 0x04 : 0) |
                                        (o.retain_as_published ? 0x08 : 0) |
                                        (static_cast<unsigned>(o.retain_handling) << 4)));
  put_u32(out, e.subscription_id.value_or(0));
  return out;
}

std::optional<SubscriptionEntry> decode_subscription(std::string_view bytes) {
  Reader r(bytes);
  const auto bits = r.u8();
  const auto id = r.u32();
  if (!r.done() || (bits & 0x03) > 2 || (bits >> 4) > 2) return std::nullopt;
  SubscriptionEntry e;
  e.options.max_qos = static_cast<mqtt::QoS>(bits & 0x03);
  e.options.no_local = (bits & 0x04) != 0;
  e.options.retain_as_published = (bits & 0x08) != 0;
  e.options.retain_handling = static_cast<mqtt::RetainHandling>(bits >> 4);
  if (id != 0) e.subscription_id = id;
  return e;
}

std::string encode_outbound(const OutboundRecord& r) {
  std::string out;
  out.reserve(24 + r.share_group.size() + 4 * r.subscription_ids.size());
  put_u8(out, kOutboundFormat);
  put_u64(out, r.message_id);
  put_u8(out, static_cast<std::uint8_t>(r.qos));
  put_u8(out, r.flags);
  put_u16(out, r.packet_id);
  put_u8(out, static_cast<std::uint8_t>(r.phase));
  put_u16(out, static_cast<std::uint16_t>(r.subscription_ids.size()));
  for (const auto id : r.subscription_ids) put_u32(out, id);
  put_str(out, r.share_group);
  return out;
}

std::optional<OutboundRecord> decode_outbound(std::string_view bytes) {
  Reader rd(bytes);
  if (rd.u8() != kOutboundFormat) return std::nullopt;
  OutboundRecord r;
  r.message_id = rd.u64();
  const auto qos = rd.u8();
  r.flags = rd.u8();
  r.packet_id = rd.u16();
  const auto phase = rd.u8();
  const auto n = rd.u16();
  for (std::uint16_t i = 0; i < n && rd.ok(); ++i) r.subscription_ids.push_back(rd.u32());
  r.share_group = std::string(rd.str());
  if (!rd.done() || qos > 2 || phase > 3) return std::nullopt;
  r.qos = static_cast<mqtt::QoS>(qos);
  r.phase = static_cast<OutboundPhase>(phase);
  return r;
}

std::string encode_inbound(const InboundRecord& r) {
  std::string out;
  put_u64(out, r.since_wall_ms);
  put_u64(out, r.message_id);
  return out;
}

std::optional<InboundRecord> decode_inbound(std::string_view bytes) {
  Reader rd(bytes);
  InboundRecord r;
  r.since_wall_ms = rd.u64();
  r.message_id = rd.u64();
  if (!rd.done()) return std::nullopt;
  return r;
}

}  // namespace roadmq::broker::persist
