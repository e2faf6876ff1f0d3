#include "broker/channel.hpp"

#include <chrono>
#include <optional>
#include <random>

#include "base/log.hpp"
#include "broker/node.hpp"
#include "broker/outgoing.hpp"
#include "broker/shard_broker.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::broker {
namespace {

// [MQTT-3.1.3-6] an id the server assigns; unique enough that two clients
// never get the same one.
std::string assign_client_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "roadmq-";
  auto v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) id.push_back(kHex[v & 0xF]);
  return id;
}

// Reads of this shard's connections land here, so an idle connection holds
// no input buffer and a busy one takes many packets per read.
mqtt::ReadScratch& read_scratch() {
  thread_local mqtt::ReadScratch scratch(64 * 1024);
  return scratch;
}

}  // namespace

Channel::Channel(Node& node, Transport& transport, ShardId shard, TimePoint now)
    : node_(node),
      transport_(transport),
      // Until CONNECT says otherwise, accept up to the broker's limit; the
      // version is learnt from CONNECT itself.
      decoder_(node.settings().max_packet_size, mqtt::ProtocolVersion::v5, 0),
      accepted_at_(now),
      shard_(shard) {
  node_.shard(shard_).add_pending(*this);
}

Channel::~Channel() {
  if (!connect_seen_ && !closed_) node_.shard(shard_).remove_pending(*this);
}

std::span<std::uint8_t> Channel::read_buffer(std::size_t hint) { return decoder_.prepare(hint, read_scratch()); }

void Channel::on_read(std::size_t n) {
  decoder_.commit(n);
  node_.shard(shard_).count_bytes(n, 0);
  process(SteadyClock::now());
}

void Channel::process(TimePoint now) {
  // One packet per shard thread, reused by every channel's reads: a PUBLISH
  // decoded into it keeps the previous one's topic and payload buffers, so
  // steady traffic decodes without allocating even at one message per read
  // (Message copies what it keeps). A nested call, never expected, would
  // get its own.
  static thread_local mqtt::Packet reused;
  static constexpr std::size_t kKeptPayload = 64u << 10;
  static thread_local bool reused_busy = false;
  std::optional<mqtt::Packet> own;
  const bool borrowed = !reused_busy;
  mqtt::Packet& packet = borrowed ? reused : own.emplace();
  reused_busy = true;
  struct Release {
    bool borrowed;
    ~Release() {
      if (borrowed) reused_busy = false;
    }
  } release{borrowed};
  while (!closing_ && !migrating_) {
    const auto status = decoder_.next(packet);
    if (status == mqtt::StreamDecoder::Status::need_more) break;
    if (status == mqtt::StreamDecoder::Status::error) {
      protocol_violation(decoder_.error());
      break;
    }
    if (!connect_seen_) {
      if (!std::holds_alternative<mqtt::Connect>(packet)) {
        // [MQTT-3.1.0-1] the first packet must be CONNECT.
        protocol_violation({mqtt::ReasonCode::protocol_error, "[MQTT-3.1.0-1] first packet is not CONNECT"});
        break;
      }
      on_connect(std::get<mqtt::Connect>(std::move(packet)), now);
      continue;
    }
    if (session_ == nullptr) break;  // refused or closing
    auto& shard = node_.shard(shard_);
    shard.handle(*this, std::move(packet), now);
    shard.flush_outbox_if_full();
  }
  // Before anything else can read on this thread, or the channel can move
  // to another shard.
  decoder_.release_scratch();
  decoder_.shrink_if_idle();
  // A large PUBLISH's buffer is not kept for the thread's next reads.
  if (auto* p = std::get_if<mqtt::Publish>(&packet); p != nullptr && p->payload.capacity() > kKeptPayload)
    std::string().swap(p->payload);
  node_.shard(shard_).flush_outbox_soon();
  transport_.flush();
}

void Channel::on_connect(mqtt::Connect&& connect, TimePoint now) {
  connect_seen_ = true;
  client_id_ = connect.client_id;  // for logs, even if refused
  node_.shard(shard_).remove_pending(*this);
  const auto& settings = node_.settings();
  // The decoder has set its version from CONNECT; replies use it from here on.
  bool assigned = false;
  if (connect.client_id.empty()) {
    // 3.1 requires an id; 3.1.1 allows none only with a clean session
    // [MQTT-3.1.3-7/8]; 5.0 always assigns one [MQTT-3.1.3-6].
    const bool allowed = connect.version == mqtt::ProtocolVersion::v5 ||
                         (connect.version == mqtt::ProtocolVersion::v3_1_1 && connect.clean_start);
    if (!allowed) return refuse(mqtt::ReasonCode::client_identifier_not_valid, "empty client id");
    connect.client_id = assign_client_id();
    assigned = true;
  }
  if (connect.client_id.size() > settings.max_clientid_len)
    return refuse(mqtt::ReasonCode::client_identifier_not_valid, "client id too long");
  if (connect.properties.authentication_method())
    return refuse(mqtt::ReasonCode::bad_authentication_method, "no authenticator for this method");
  if (connect.will) {
    if (connect.will->qos > settings.max_qos_allowed)
      return refuse(mqtt::ReasonCode::qos_not_supported, "will QoS above maximum");
    if (connect.will->retain && !settings.retain_available)
      return refuse(mqtt::ReasonCode::retain_not_supported, "will retain not available");
  }
  client_id_ = connect.client_id;
  username_ = connect.username.value_or("");
  keep_alive_ = connect.keep_alive;
  clean_start_ = connect.clean_start;
  connected_at_ms_ = wall_clock_ms();

  const auto home = node_.home_shard(client_id_);
  if (home == shard_) {
    node_.shard(shard_).connect(*this, std::move(connect), assigned, now);
    return;
  }
  // The session lives on the client id's home shard: move the connection
  // there and continue with whatever the client already pipelined.
  migrating_ = true;
  auto shared_connect = std::make_shared<mqtt::Connect>(std::move(connect));
  transport_.migrate(home, [this, home, shared_connect, assigned] {
    shard_ = home;
    migrating_ = false;
    if (closed_) return;
    const auto t = SteadyClock::now();
    node_.shard(shard_).connect(*this, std::move(*shared_connect), assigned, t);
    process(t);
  });
}

void Channel::refuse(mqtt::ReasonCode reason, const char* why) {
  node_.shard(shard_).count_refused();
  ROADMQ_LOG_RATELIMITED(log::Level::info, "client %s from %s refused: %s (0x%02X)", client_id_.c_str(),
                         transport_.peer_address().c_str(), why, static_cast<unsigned>(reason));
  mqtt::Connack ack;
  ack.reason = reason;
  send(ack);
  closing_ = true;
  transport_.close();
}

void Channel::protocol_violation(const mqtt::CodecError& error) {
  auto& shard = node_.shard(shard_);
  shard.count_malformed();
  // Views, not copies, and the address formatted only for a line that is
  // written: a flood of bad input must cost nothing per suppressed line.
  const std::string_view id = connect_seen_ ? client_id() : std::string_view("(before CONNECT)");
  ROADMQ_LOG_RATELIMITED(log::Level::warning, "client %.*s from %s: %.*s; closing with 0x%02X",
                         static_cast<int>(id.size()), id.data(), transport_.peer_address().c_str(),
                         static_cast<int>(error.rule.size()), error.rule.data(),
                         static_cast<unsigned>(error.reason));
  if (!connect_seen_ && (error.reason == mqtt::ReasonCode::unsupported_protocol_version)) {
    // [MQTT-3.1.2-2] answer an unknown protocol level with CONNACK 0x84 (3.1.1: 0x01).
    mqtt::Connack ack;
    ack.reason = error.reason;
    mqtt::encode(mqtt::Packet{ack}, mqtt::ProtocolVersion::v3_1_1, transport_.output());
    closing_ = true;
    transport_.close();
    return;
  }
  if (session_ != nullptr) {
    shard.close_for(*this, error.reason, DetachReason::protocol_error, SteadyClock::now());
    return;
  }
  if (connect_seen_ && decoder_.version() == mqtt::ProtocolVersion::v5) {
    mqtt::Connack ack;
    ack.reason = error.reason;
    send(ack);
  }
  closing_ = true;
  transport_.close();
}

void Channel::send(const mqtt::Packet& packet) {
  const auto n = mqtt::encode(packet, decoder_.version(), transport_.output());
  node_.shard(shard_).count_bytes(0, n);
  // The transport coalesces: everything flushed during this handler run (or
  // this batch of cross-shard deliveries) leaves in one write.
  transport_.flush();
}

void Channel::send_publish(const SendPublish& publish, TimePoint now) {
  const auto n = encode_outgoing_publish(publish, decoder_.version(), transport_.output());
  node_.shard(shard_).count_bytes(0, n);
  (void)now;
  transport_.flush();
}

void Channel::on_writable() {
  if (closing_ || session_ == nullptr) return;
  auto& shard = node_.shard(shard_);
  shard.writable(*this, SteadyClock::now());
  shard.flush_outbox();
  transport_.flush();
}

void Channel::close(mqtt::ReasonCode reason, bool send_disconnect) {
  if (closing_) return;
  closing_ = true;
  if (send_disconnect && decoder_.version() == mqtt::ProtocolVersion::v5) {
    mqtt::Disconnect d;
    d.reason = reason;
    send(d);
  }
  transport_.close();
}

std::string_view Channel::client_id() const noexcept {
  return session_ != nullptr ? std::string_view(session_->session.client_id()) : client_id_;
}

void Channel::bind(SessionRecord* record) {
  if (record == nullptr && session_ != nullptr) {
    client_id_ = session_->session.client_id();  // logs and events after detach
  } else if (record != nullptr) {
    std::string().swap(client_id_);
  }
  session_ = record;
}

ClientInfo Channel::info() const noexcept {
  ClientInfo c;
  c.client_id = client_id();
  c.username = username_;
  c.peer = transport_.peer_address();
  c.proto_ver = static_cast<unsigned>(decoder_.version());
  c.proto_name = decoder_.version() == mqtt::ProtocolVersion::v3_1 ? "MQIsdp" : "MQTT";
  c.keep_alive = keep_alive_;
  c.clean_start = clean_start_;
  c.connected_at_ms = connected_at_ms_;
  return c;
}

void Channel::on_closed() {
  if (closed_) return;
  closed_ = true;
  closing_ = true;
  auto& shard = node_.shard(shard_);
  if (!connect_seen_) {
    shard.remove_pending(*this);
    return;
  }
  if (session_ != nullptr) shard.channel_closed(*this, DetachReason::connection_lost, SteadyClock::now());
}

}  // namespace roadmq::broker
