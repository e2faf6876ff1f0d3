// Server side of one MQTT 3.1 / 3.1.1 / 5.0 session. See session.hpp for the
// state diagram and the ownership rules. The packet model is normalised, so
// the code below branches on the protocol version only where the spec's
// behaviour differs (CONNACK properties, Server Keep Alive, Session Expiry).
#include "broker/session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/assert.hpp"
#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

using mqtt::PropertyId;
using mqtt::QoS;
using mqtt::ReasonCode;

constexpr TimePoint kNever = TimePoint::max();
// Session Expiry Interval 0xFFFFFFFF: the session does not expire (5.0 §3.1.2.11.2).
constexpr std::uint32_t kNeverExpires = 0xFFFF'FFFF;
// Receive Maximum absent: 65535 (5.0 §3.1.2.11.3).
constexpr std::uint16_t kDefaultReceiveMaximum = 65535;
constexpr std::uint16_t kMaxPacketId = 65535;

// Bytes of a Variable Byte Integer; 5 marks a value no varint can hold, so a
// size built from it is over every packet limit.
constexpr std::size_t varint_len(std::size_t v) noexcept {
  if (v < 128) return 1;
  if (v < 16'384) return 2;
  if (v < 2'097'152) return 3;
  if (v <= mqtt::kMaxRemainingLength) return 4;
  return 5;
}

// Wire size of one property: identifier byte plus value [MQTT-2.2.2].
std::size_t property_size(const mqtt::Property& p) noexcept {
  const mqtt::PropertyInfo* info = mqtt::find_property(static_cast<std::uint8_t>(p.id));
  // Unknown ids never reach a Message (the decoder rejects them); if one did,
  // count it as the largest shape so the size stays an upper bound.
  if (info == nullptr) return 1 + 2 + p.text.size() + 2 + p.text2.size();
  switch (info->type) {
    case mqtt::PropertyType::byte:
      return 1 + 1;
    case mqtt::PropertyType::two_byte_int:
      return 1 + 2;
    case mqtt::PropertyType::four_byte_int:
      return 1 + 4;
    case mqtt::PropertyType::varint:
      return 1 + varint_len(p.number);
    case mqtt::PropertyType::utf8_string:
    case mqtt::PropertyType::binary_data:
      return 1 + 2 + p.text.size();
    case mqtt::PropertyType::utf8_pair:
      return 1 + 2 + p.text.size() + 2 + p.text2.size();
  }
  return 1 + 2 + p.text.size() + 2 + p.text2.size();
}

// Exact size of the PUBLISH the encoder will write for this delivery: fixed
// header, topic (unless replaced by a known alias), packet id, properties
// (v5: the message's own plus Topic Alias, Message Expiry Interval and
// Subscription Identifiers) and payload. Used for the client's Maximum
// Packet Size [MQTT-3.1.2-24] without encoding the packet.
std::size_t publish_wire_size(const Message& m, bool v5, bool has_packet_id, std::uint16_t alias,
                              bool omit_topic, std::optional<std::uint32_t> expiry,
                              const std::vector<std::uint32_t>* subscription_ids) noexcept {
  std::size_t remaining =
      2 + (omit_topic ? 0 : m.topic.size()) + (has_packet_id ? 2 : 0) + m.payload.size();
  if (v5) {
    std::size_t props = 0;
    for (const auto& p : m.properties) props += property_size(p);
    if (alias != 0) props += 1 + 2;
    if (expiry) props += 1 + 4;
    if (subscription_ids != nullptr) {
      for (const auto id : *subscription_ids) props += 1 + varint_len(id);
    }
    remaining += varint_len(props) + props;
  }
  return 1 + varint_len(remaining) + remaining;
}

std::size_t topic_levels(std::string_view topic) noexcept {
  return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1;
}

// Wall-clock stamp for events and $SYS only; no decision depends on it, so
// the state machine stays deterministic under a fake steady clock. Every
// packet of one read shares the read's `now`, so the clock is read once per
// read rather than once per message (a clock read per message was 4 % of the
// CPU in fan-in).
std::uint64_t wall_ms(TimePoint now) noexcept {
  thread_local TimePoint cached_at = TimePoint::min();
  thread_local std::uint64_t cached_ms = 0;
  if (now != cached_at) {
    cached_at = now;
    cached_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  }
  return cached_ms;
}

template <class Ack>
Ack make_ack(mqtt::PacketId id, ReasonCode reason = ReasonCode::success) {
  Ack a;
  a.packet_id = id;
  a.reason = reason;
  return a;
}

void count_sent(SessionStats& stats, QoS qos) noexcept {
  ++stats.messages_sent;
  switch (qos) {
    case QoS::at_most_once:
      ++stats.qos0_sent;
      break;
    case QoS::at_least_once:
      ++stats.qos1_sent;
      break;
    case QoS::exactly_once:
      ++stats.qos2_sent;
      break;
  }
}

void count_received(SessionStats& stats, QoS qos) noexcept {
  ++stats.messages_received;
  switch (qos) {
    case QoS::at_most_once:
      ++stats.qos0_received;
      break;
    case QoS::at_least_once:
      ++stats.qos1_received;
      break;
    case QoS::exactly_once:
      ++stats.qos2_received;
      break;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Accessors

Session::Session(std::string client_id, const SessionSettings& settings, SessionStats& stats)
    : client_id_(std::move(client_id)), settings_(&settings), stats_(&stats) {}

const std::string& Session::client_id() const noexcept { return client_id_; }
bool Session::connected() const noexcept { return state_ == State::connected; }
mqtt::ProtocolVersion Session::version() const noexcept { return version_; }

const std::map<std::string, SubscriptionEntry, std::less<>>& Session::subscriptions()
    const noexcept {
  return subscriptions_;
}

std::size_t Session::queued() const noexcept { return queue_ ? queue_->size() : 0; }
std::size_t Session::inflight() const noexcept { return inflight_.size(); }
bool Session::problem_information_requested() const noexcept { return problem_information_; }
void Session::update_settings(const SessionSettings& settings) noexcept { settings_ = &settings; }
std::size_t Session::queued_entry_bytes() noexcept { return sizeof(Queued); }
std::size_t Session::inflight_entry_bytes() noexcept { return sizeof(Inflight); }

// ---------------------------------------------------------------------------
// Connection lifecycle

void Session::attach(const mqtt::Connect& connect, bool session_present, bool assigned_client_id,
                     TimePoint now, Actions& out) {
  if (state_ == State::connected) {
    // The owner attached a new connection without detaching the old one:
    // that is a takeover, and the old connection gets 0x8E [MQTT-3.1.4-3].
    // This CloseConnection is for the previous connection.
    out.push_back(CloseConnection{ReasonCode::session_taken_over, true, DetachReason::taken_over});
    detach(DetachReason::taken_over, now, out);
  }
  if (state_ == State::ended) reset_state();

  version_ = connect.version;
  const bool v5 = mqtt::has_properties(version_);
  const SessionSettings& cfg = *settings_;

  // A reconnect cancels a will still waiting for its delay [MQTT-3.1.3-9];
  // the new connection brings its own (or none).
  will_.reset();
  will_at_ = kNever;
  expiry_at_ = kNever;
  if (connect.will) {
    will_ = std::make_unique<WillState>();
    will_->will = *connect.will;
    if (v5) will_->delay_s = will_->will.properties.will_delay_interval().value_or(0);
    // Not forwarded to subscribers: it governs only when the will is sent.
    will_->will.properties.erase(PropertyId::will_delay_interval);
  }

  // Topic aliases never outlive a connection [MQTT-3.3.2-7].
  aliases_.reset();

  // Keep alive: 5.0 lets the server impose its own value via Server Keep
  // Alive (5.0 §3.2.2.3.14); a 3.x client cannot be told, so its value stands.
  // Computed once: the window is checked after every packet.
  keep_alive_ms_ = keep_alive_window_ms((v5 && cfg.server_keepalive != 0) ? cfg.server_keepalive
                                                                            : connect.keep_alive);

  // Session expiry: 5.0 from the CONNECT property (absent = 0); 3.x: a
  // persistent session (Clean Session 0) lives for the configured interval.
  std::uint32_t requested = 0;
  if (v5) {
    requested = connect.properties.session_expiry_interval().value_or(0);
  } else if (!connect.clean_start) {
    requested = expiry_cap();
  }
  session_expiry_s_ = std::min(requested, expiry_cap());
  connect_expiry_zero_ = requested == 0;
  if (persistent()) {
    stored_ = true;
    out.push_back(StoreSession{});
  } else if (stored_) {
    unstore(out);
  }

  // The client's limits on what we send it.
  std::uint32_t receive_max = kDefaultReceiveMaximum;
  client_max_packet_ = mqtt::kMaxPacketSize;
  client_alias_max_ = 0;
  problem_information_ = true;
  if (v5) {
    receive_max = connect.properties.receive_maximum().value_or(kDefaultReceiveMaximum);
    if (receive_max == 0) receive_max = kDefaultReceiveMaximum;  // 0 is refused by the decoder
    const auto max_packet = connect.properties.maximum_packet_size().value_or(0);
    if (max_packet != 0) client_max_packet_ = std::min(max_packet, mqtt::kMaxPacketSize);
    client_alias_max_ =
        static_cast<std::uint16_t>(connect.properties.topic_alias_maximum().value_or(0));
    problem_information_ = connect.properties.request_problem_information().value_or(1) != 0;
  }
  window_ = static_cast<std::uint16_t>(
      std::max<std::uint32_t>(1, std::min<std::uint32_t>(receive_max, cfg.max_inflight)));

  state_ = State::connected;
  last_activity_ = now;

  mqtt::Connack ack;
  ack.session_present = session_present;
  if (v5) fill_connack_properties(requested, assigned_client_id, ack.properties);
  out.push_back(SendPacket{std::move(ack)});

  // Unacknowledged PUBLISH and PUBREL go again, in their original order and
  // with their original ids, PUBLISH with DUP=1 [MQTT-4.4.0-1] [MQTT-3.3.1-1].
  resend_inflight(Resend::all, now, out);
  drain(now, out);
}

void Session::fill_connack_properties(std::uint32_t requested_expiry, bool assigned_client_id,
                                      mqtt::Properties& props) const {
  const SessionSettings& cfg = *settings_;
  if (assigned_client_id) props.set_assigned_client_identifier(client_id_);  // [MQTT-3.2.2-16]
  if (cfg.server_keepalive != 0) props.set_server_keep_alive(cfg.server_keepalive);
  // How many QoS 1/2 PUBLISHes the client may have unacknowledged toward us:
  // the inbound QoS 2 limit is the only one we hold state for.
  const std::uint32_t receive_max = std::max<std::uint32_t>(1, cfg.max_awaiting_rel);
  if (receive_max != kDefaultReceiveMaximum) props.set_receive_maximum(receive_max);
  if (cfg.max_qos_allowed < QoS::exactly_once) {
    props.set_maximum_qos(static_cast<std::uint32_t>(cfg.max_qos_allowed));
  }
  if (!cfg.retain_available) props.set_retain_available(0);
  if (cfg.max_packet_size != 0 && cfg.max_packet_size < mqtt::kMaxPacketSize) {
    props.set_maximum_packet_size(cfg.max_packet_size);
  }
  // Absent means 0: the client must not send aliases at all (5.0 §3.2.2.3.8).
  if (cfg.max_topic_alias != 0) props.set_topic_alias_maximum(cfg.max_topic_alias);
  if (!cfg.wildcard_subscription) props.set_wildcard_subscription_available(0);
  if (!cfg.subscription_identifiers) props.set_subscription_identifier_available(0);
  if (!cfg.shared_subscription) props.set_shared_subscription_available(0);
  // Sent only when we override the client's request; the client then uses
  // ours (5.0 §3.2.2.3.2).
  if (requested_expiry != session_expiry_s_) props.set_session_expiry_interval(session_expiry_s_);
}

void Session::detach(DetachReason reason, TimePoint now, Actions& out) {
  if (state_ != State::connected) return;  // already detached: idempotent
  state_ = State::disconnected;
  aliases_.reset();
  link_room_ = SIZE_MAX;  // the next connection's owner tells its own

  if (will_) {
    if (reason == DetachReason::normal_disconnect) {
      // DISCONNECT 0x00 deletes the will [MQTT-3.14.4-3] [MQTT-3.1.2-10].
      will_.reset();
    } else {
      // Sent when the delay passes or the session ends, whichever is first
      // [MQTT-3.1.3-9]; with either at 0, right now.
      const std::uint32_t delay = std::min(will_->delay_s, session_expiry_s_);
      if (delay == 0) {
        publish_will(now, out);
      } else {
        will_at_ = now + std::chrono::seconds(delay);
      }
    }
  }

  if (session_expiry_s_ == 0) {
    // Expiry 0 (5.0) or Clean Session 1 (3.x): the session ends with the
    // connection [MQTT-3.1.2-23].
    end_session(out);
    return;
  }
  if (session_expiry_s_ != kNeverExpires) expiry_at_ = now + std::chrono::seconds(session_expiry_s_);
  if (stored_) out.push_back(StoreSession{});
}

void Session::close_for(ReasonCode reason, TimePoint now, Actions& out) {
  ++stats_->protocol_errors;
  out.push_back(CloseConnection{reason, true, DetachReason::protocol_error});
  detach(DetachReason::protocol_error, now, out);
}

void Session::publish_will(TimePoint now, Actions& out) {
  ROADMQ_ASSERT(will_ != nullptr);
  mqtt::Publish p;
  p.topic = std::move(will_->will.topic);
  p.payload = std::move(will_->will.payload);
  p.qos = will_->will.qos;
  p.retain = will_->will.retain;
  p.properties = std::move(will_->will.properties);
  will_.reset();
  will_at_ = kNever;
  ++stats_->wills_published;
  if (stored_ && state_ == State::disconnected) out.push_back(StoreSession{});
  // make_message turns a will Message Expiry Interval into an absolute
  // deadline counted from now, when the will is published.
  out.push_back(PublishWill{make_message(std::move(p), client_id_, now, wall_ms(now))});
}

void Session::end_session(Actions& out) {
  // Subscriptions, queue and inflight stay readable so the owner can remove
  // the subscriptions from the index and redispatch shared messages.
  will_.reset();
  will_at_ = kNever;
  expiry_at_ = kNever;
  state_ = State::ended;
  out.push_back(SessionEnded{});
}

void Session::reset_state() noexcept {
  subscriptions_.clear();
  inflight_ = std::vector<Inflight>();
  queue_.reset();
  queue_bytes_ = 0;
  queued_qos0_ = 0;
  awaiting_rel_ = std::vector<AwaitingRel>();
  aliases_.reset();
  will_.reset();
  next_id_ = 1;
  next_seq_ = 1;
  stored_ = false;  // the owner erased what was stored when the session ended
  state_ = State::fresh;
}

// ---------------------------------------------------------------------------
// Packets from the client

void Session::handle(mqtt::Packet&& packet, TimePoint now, Actions& out) {
  if (state_ != State::connected) return;  // a late packet after the close
  // Any control packet counts as activity for keep alive [MQTT-3.1.2-22].
  last_activity_ = now;

  std::visit(
      [&](auto&& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, mqtt::Publish>) {
          on_publish(std::move(p), now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Puback>) {
          on_puback(p, now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Pubrec>) {
          on_pubrec(p, now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Pubrel>) {
          on_pubrel(p, out);
        } else if constexpr (std::is_same_v<T, mqtt::Pubcomp>) {
          on_pubcomp(p, now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
          on_subscribe(std::move(p), now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
          on_unsubscribe(std::move(p), out);
        } else if constexpr (std::is_same_v<T, mqtt::Pingreq>) {
          out.push_back(SendPacket{mqtt::Pingresp{}});  // [MQTT-3.12.4-1]
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          on_disconnect(p, now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Auth>) {
          // No enhanced authenticator is configured, so no AUTH exchange can
          // be going on (5.0 §4.12).
          ++stats_->protocol_errors;
          out.push_back(CloseConnection{ReasonCode::bad_authentication_method, true,
                                        DetachReason::protocol_error});
          detach(DetachReason::protocol_error, now, out);
        } else if constexpr (std::is_same_v<T, mqtt::Connect>) {
          close_for(ReasonCode::protocol_error, now, out);  // second CONNECT [MQTT-3.1.0-2]
        } else {
          // CONNACK, SUBACK, UNSUBACK, PINGRESP only flow server → client.
          close_for(ReasonCode::protocol_error, now, out);
        }
      },
      std::move(packet));
}

void Session::on_publish(mqtt::Publish&& p, TimePoint now, Actions& out) {
  const SessionSettings& cfg = *settings_;

  // Above the Maximum QoS of our CONNACK (5.0 §3.2.2.3.4: DISCONNECT 0x9B).
  if (p.qos > cfg.max_qos_allowed) return close_for(ReasonCode::qos_not_supported, now, out);

  // A client never sends a Subscription Identifier [MQTT-3.3.4-6].
  if (p.properties.has(PropertyId::subscription_identifier)) {
    return close_for(ReasonCode::protocol_error, now, out);
  }

  if (const auto alias = p.properties.topic_alias()) {
    // 0 is never valid [MQTT-3.3.2-8]; above our Topic Alias Maximum is a
    // client error (5.0 §3.3.2.3.4: DISCONNECT 0x94).
    if (*alias == 0 || *alias > cfg.max_topic_alias) {
      return close_for(ReasonCode::topic_alias_invalid, now, out);
    }
    const auto key = static_cast<std::uint16_t>(*alias);
    if (p.topic.empty()) {
      // Alias without topic: must name a mapping made earlier on this
      // connection (5.0 §3.3.2.3.4: otherwise a Protocol Error).
      const std::string* known = nullptr;
      if (aliases_) {
        if (const auto it = aliases_->inbound.find(key); it != aliases_->inbound.end()) {
          known = &it->second;
        }
      }
      if (known == nullptr) return close_for(ReasonCode::protocol_error, now, out);
      p.topic = *known;
    } else {
      alias_tables().inbound.insert_or_assign(key, p.topic);
    }
    p.properties.erase(PropertyId::topic_alias);
  } else if (p.topic.empty()) {
    // Zero-length topic without an alias (5.0 §3.3.2.1: Protocol Error).
    return close_for(ReasonCode::protocol_error, now, out);
  }

  // Retain Available 0 in our CONNACK (5.0 §3.2.2.3.5: DISCONNECT 0x9A).
  if (p.retain && !cfg.retain_available) {
    return close_for(ReasonCode::retain_not_supported, now, out);
  }

  const QoS qos = p.qos;
  const mqtt::PacketId id = p.packet_id;

  // A broker limit, not a protocol rule: refuse the message, keep the client.
  if (topic_levels(p.topic) > cfg.max_topic_levels) {
    ++stats_->protocol_errors;
    if (qos == QoS::at_least_once) {
      out.push_back(SendPacket{make_ack<mqtt::Puback>(id, ReasonCode::topic_name_invalid)});
    } else if (qos == QoS::exactly_once) {
      // A failing PUBREC ends the flow; no PUBREL follows [MQTT-4.3.3].
      out.push_back(SendPacket{make_ack<mqtt::Pubrec>(id, ReasonCode::topic_name_invalid)});
    }
    return;
  }

  switch (qos) {
    case QoS::at_most_once:
      count_received(*stats_, qos);
      out.push_back(RoutePublish{make_message(std::move(p), client_id_, now, wall_ms(now))});
      return;

    case QoS::at_least_once:
      count_received(*stats_, qos);
      // Route first: the owner persists before the PUBACK leaves (durability promise).
      out.push_back(RoutePublish{make_message(std::move(p), client_id_, now, wall_ms(now))});
      out.push_back(SendPacket{make_ack<mqtt::Puback>(id)});
      return;

    case QoS::exactly_once: {
      const auto held = std::find_if(awaiting_rel_.begin(), awaiting_rel_.end(),
                                     [id](const AwaitingRel& a) { return a.id == id; });
      if (held != awaiting_rel_.end()) {
        // Already routed once: acknowledge again, deliver no second copy [MQTT-4.3.3].
        count_received(*stats_, qos);
        out.push_back(SendPacket{make_ack<mqtt::Pubrec>(id)});
        return;
      }
      // Our CONNACK's Receive Maximum (5.0 §3.3.4: DISCONNECT 0x93).
      if (awaiting_rel_.size() >= std::max<std::size_t>(1, cfg.max_awaiting_rel)) {
        return close_for(ReasonCode::receive_maximum_exceeded, now, out);
      }
      count_received(*stats_, qos);
      auto message = make_message(std::move(p), client_id_, now, wall_ms(now));
      out.push_back(RoutePublish{message});
      if (stored_) {
        // The id is stored with the message, in the same batch as this shard's
        // deliveries and before any other shard's: after a crash either the
        // id is there (and the message is routed again to whoever lacks it)
        // or nothing is, and the client's resend routes it afresh.
        out.push_back(StoreInbound{id.value, message});
        awaiting_rel_.push_back(AwaitingRel{id, now, std::move(message)});
      } else {
        awaiting_rel_.push_back(AwaitingRel{id, now, nullptr});
      }
      out.push_back(SendPacket{make_ack<mqtt::Pubrec>(id)});
      return;
    }
  }
}

void Session::on_pubrel(const mqtt::Pubrel& a, Actions& out) {
  const auto it = std::find_if(awaiting_rel_.begin(), awaiting_rel_.end(),
                               [&](const AwaitingRel& r) { return r.id == a.packet_id; });
  if (it == awaiting_rel_.end()) {
    // Unknown (or timed out): still complete the client's flow (5.0 §3.7.2.1).
    out.push_back(
        SendPacket{make_ack<mqtt::Pubcomp>(a.packet_id, ReasonCode::packet_identifier_not_found)});
    return;
  }
  if (stored_) out.push_back(ForgetInbound{a.packet_id.value, std::move(it->message)});
  awaiting_rel_.erase(it);
  release_empty_containers();
  out.push_back(SendPacket{make_ack<mqtt::Pubcomp>(a.packet_id)});
}

void Session::on_puback(const mqtt::Puback& a, TimePoint now, Actions& out) {
  const auto it = find_inflight(a.packet_id);
  if (it == inflight_.end() || it->phase != Phase::awaiting_puback) {
    ++stats_->puback_missed;
    return;
  }
  // Any reason code completes a QoS 1 flow; a failing one too, and the
  // message is then never retransmitted [MQTT-4.4.0-2].
  forget(it->seq, std::move(it->message), out);
  erase_inflight(it);
  drain(now, out);
}

void Session::on_pubrec(const mqtt::Pubrec& a, TimePoint now, Actions& out) {
  const auto it = find_inflight(a.packet_id);
  if (it == inflight_.end()) {
    ++stats_->puback_missed;
    out.push_back(
        SendPacket{make_ack<mqtt::Pubrel>(a.packet_id, ReasonCode::packet_identifier_not_found)});
    return;
  }
  if (it->phase == Phase::awaiting_puback) {
    ++stats_->puback_missed;  // PUBREC for a QoS 1 message: not ours to answer
    return;
  }
  if (mqtt::is_error(a.reason)) {
    // A failing PUBREC ends the flow and frees the slot [MQTT-3.3.4-9].
    if (it->phase == Phase::awaiting_pubrec) {
      forget(it->seq, std::move(it->message), out);
      erase_inflight(it);
      drain(now, out);
    }
    return;
  }
  if (it->phase == Phase::awaiting_pubrec) {
    // The client owns the message now; only the id remains to complete.
    it->phase = Phase::awaiting_pubcomp;
    MessagePtr released = std::move(it->message);
    it->message.reset();
    it->extras.reset();
    if (it->seq != 0) {
      store(it->seq, nullptr, std::move(released), false, it->qos, it->flags, nullptr, it->id.value,
            persist::OutboundPhase::awaiting_pubcomp, out);
    }
  }
  // Also answers a repeated PUBREC while PUBCOMP is outstanding.
  it->sent_at = now;
  out.push_back(SendPacket{make_ack<mqtt::Pubrel>(a.packet_id)});
}

void Session::on_pubcomp(const mqtt::Pubcomp& a, TimePoint now, Actions& out) {
  const auto it = find_inflight(a.packet_id);
  if (it == inflight_.end() || it->phase != Phase::awaiting_pubcomp) {
    ++stats_->puback_missed;
    return;
  }
  forget(it->seq, nullptr, out);
  erase_inflight(it);
  drain(now, out);
}

ReasonCode Session::check_filter(std::string_view filter) const {
  const SessionSettings& cfg = *settings_;
  if (mqtt::validate_topic_filter(filter)) return ReasonCode::topic_filter_invalid;
  std::string_view plain = filter;
  if (const auto shared = mqtt::parse_shared(filter)) {
    if (!cfg.shared_subscription) return ReasonCode::shared_subscriptions_not_supported;
    plain = shared->filter;
  }
  if (!cfg.wildcard_subscription && mqtt::has_wildcard(plain)) {
    return ReasonCode::wildcard_subscriptions_not_supported;
  }
  if (topic_levels(plain) > cfg.max_topic_levels) return ReasonCode::topic_filter_invalid;
  return ReasonCode::success;
}

void Session::on_subscribe(mqtt::Subscribe&& s, TimePoint now, Actions& out) {
  const SessionSettings& cfg = *settings_;
  const std::optional<std::uint32_t> sub_id =
      s.properties.number(PropertyId::subscription_identifier);

  // Packet-level protocol errors first, so nothing is half-applied.
  if (sub_id && *sub_id == 0) {
    return close_for(ReasonCode::protocol_error, now, out);  // 5.0 §3.8.2.1.2
  }
  for (const auto& entry : s.subscriptions) {
    if (entry.options.no_local && !mqtt::validate_topic_filter(entry.filter) &&
        mqtt::parse_shared(entry.filter)) {
      return close_for(ReasonCode::protocol_error, now, out);  // [MQTT-3.8.3-4]
    }
  }

  mqtt::Suback ack;
  ack.packet_id = s.packet_id;
  ack.reasons.reserve(s.subscriptions.size());

  if (sub_id && !cfg.subscription_identifiers) {
    // We said Subscription Identifier Available = 0: refuse the whole packet.
    ack.reasons.assign(s.subscriptions.size(), ReasonCode::subscription_identifiers_not_supported);
    out.push_back(SendPacket{std::move(ack)});
    return;
  }

  for (auto& entry : s.subscriptions) {
    const ReasonCode refused = check_filter(entry.filter);
    if (refused != ReasonCode::success) {
      ack.reasons.push_back(refused);
      continue;
    }
    mqtt::SubscribeOptions options = entry.options;
    // The server may grant less than asked (5.0 §3.9.3).
    options.max_qos = mqtt::min(options.max_qos, cfg.max_qos_allowed);
    auto [it, inserted] = subscriptions_.try_emplace(entry.filter);
    // A repeated filter replaces the subscription, keeping no old options [MQTT-3.8.4-3].
    it->second = SubscriptionEntry{options, sub_id};
    ack.reasons.push_back(static_cast<ReasonCode>(options.max_qos));
    out.push_back(AddSubscription{std::move(entry.filter), options, sub_id, inserted});
  }
  out.push_back(SendPacket{std::move(ack)});
}

void Session::on_unsubscribe(mqtt::Unsubscribe&& u, Actions& out) {
  mqtt::Unsuback ack;
  ack.packet_id = u.packet_id;
  ack.reasons.reserve(u.filters.size());
  for (auto& filter : u.filters) {
    const auto it = subscriptions_.find(filter);
    if (it == subscriptions_.end()) {
      ack.reasons.push_back(ReasonCode::no_subscription_existed);
      continue;
    }
    subscriptions_.erase(it);
    ack.reasons.push_back(ReasonCode::success);
    out.push_back(RemoveSubscription{std::move(filter)});
  }
  // Sent even when nothing matched [MQTT-3.10.4-5].
  out.push_back(SendPacket{std::move(ack)});
}

void Session::on_disconnect(const mqtt::Disconnect& d, TimePoint now, Actions& out) {
  if (const auto expiry = d.properties.session_expiry_interval()) {
    // A session that was to end with the connection cannot be revived here
    // [MQTT-3.14.2-2].
    if (connect_expiry_zero_ && *expiry != 0) {
      return close_for(ReasonCode::protocol_error, now, out);
    }
    session_expiry_s_ = std::min(*expiry, expiry_cap());
  }
  // Only 0x00 discards the will; 0x04 and every error code keep it
  // [MQTT-3.14.4-3].
  const DetachReason why = d.reason == ReasonCode::normal_disconnection
                               ? DetachReason::normal_disconnect
                               : DetachReason::disconnect_with_will;
  // The client closes after DISCONNECT; so do we, without answering.
  out.push_back(CloseConnection{ReasonCode::normal_disconnection, false, why});
  detach(why, now, out);
}

// ---------------------------------------------------------------------------
// Messages to the client

void Session::deliver(const MessagePtr& message, const DeliveryOptions& options, TimePoint now,
                      Actions& out) {
  if (state_ == State::ended || !message) return;
  // Not yet on its way to this subscriber: an expired message is dropped [MQTT-3.3.2-5].
  if (message->expired(now)) {
    ++stats_->dropped_expired;
    return;
  }
  Queued item;
  item.message = message;
  // min(published, granted) (5.0 §3.8.4).
  item.qos = mqtt::min(message->qos, options.qos);
  // Retained messages sent for a SUBSCRIBE keep RETAIN=1 (5.0 §3.3.1.3);
  // otherwise Retain As Published decides [MQTT-3.3.1-12] [MQTT-3.3.1-13].
  const bool retain = options.from_retained || (options.retain_as_published && message->retain);
  item.flags = static_cast<std::uint8_t>((retain ? kRetain : 0) |
                                         (options.retain_as_published ? kRetainAsPublished : 0) |
                                         (options.from_retained ? kFromRetained : 0));
  // A QoS 0 message to a connected client is sent now or dropped, never
  // kept: its share group is not needed later.
  const bool kept = item.qos != QoS::at_most_once || state_ != State::connected;
  if (!options.subscription_ids.empty() || (kept && !options.share_group.empty())) {
    item.extras = std::make_unique<DeliveryExtras>(
        DeliveryExtras{options.subscription_ids, options.share_group});
  }
  send_or_queue(std::move(item), now, out);
}

void Session::send_or_queue(Queued&& item, TimePoint now, Actions& out) {
  if (state_ == State::connected && link_room_ == 0) {
    // QoS 0 promises nothing, so a subscriber that cannot keep up loses its
    // QoS 0 messages rather than its connection; QoS 1/2 wait their turn.
    if (item.qos == QoS::at_most_once) {
      ++stats_->dropped_qos0_busy;
      return;
    }
    enqueue(std::move(item), now, out);
    return;
  }
  if (state_ == State::connected) {
    // QoS 0 is outside the Receive Maximum window (5.0 §4.9).
    if (item.qos == QoS::at_most_once) {
      send_new(std::move(item), now, out);
      return;
    }
    // Behind already queued messages, to keep their order [MQTT-4.6].
    if (queued() == 0 && inflight_.size() < window_) {
      send_new(std::move(item), now, out);
      return;
    }
  } else if (item.qos == QoS::at_most_once && !settings_->mqueue_store_qos0) {
    ++stats_->dropped_qos0_offline;
    return;
  }
  enqueue(std::move(item), now, out);
  drain(now, out);
}

void Session::enqueue(Queued&& item, TimePoint now, Actions& out) {
  if (!queue_) queue_ = std::make_unique<std::deque<Queued>>();
  auto& q = *queue_;
  const std::size_t limit = std::max<std::uint32_t>(1, settings_->max_mqueue_len);
  const std::size_t byte_limit = settings_->max_mqueue_bytes;
  const std::size_t bytes = queued_bytes(item.message);
  auto full = [&] { return q.size() >= limit || (!q.empty() && queue_bytes_ + bytes > byte_limit); };
  if (full()) {
    // Messages that expired while waiting make room before anything live goes.
    for (auto it = q.begin(); it != q.end();) {
      if (!it->message->expired(now)) {
        ++it;
        continue;
      }
      ++stats_->dropped_expired;
      unaccount(*it);
      forget(it->seq, std::move(it->message), out);
      it = q.erase(it);
    }
  }
  // Full: drop QoS 0 first (the new one, else the oldest queued), then the
  // oldest. A message larger than the whole byte bound never fits: it goes.
  if (bytes > byte_limit) {
    if (item.qos == QoS::at_most_once) {
      ++stats_->dropped_queue_full_qos0;
    } else {
      ++stats_->dropped_queue_full_oldest;
    }
    if (q.empty()) queue_.reset();
    return;
  }
  while (full()) {
    if (item.qos == QoS::at_most_once) {
      ++stats_->dropped_queue_full_qos0;
      if (q.empty()) queue_.reset();
      return;
    }
    // Counted, so a full queue of QoS 1/2 messages is not scanned per message.
    auto victim = queued_qos0_ == 0 ? q.end()
                                    : std::find_if(q.begin(), q.end(),
                                                   [](const Queued& e) { return e.qos == QoS::at_most_once; });
    if (victim != q.end()) {
      ++stats_->dropped_queue_full_qos0;
    } else {
      victim = q.begin();
      ++stats_->dropped_queue_full_oldest;
    }
    unaccount(*victim);
    forget(victim->seq, std::move(victim->message), out);
    q.erase(victim);
  }
  if (persistent() && item.seq == 0) {
    item.seq = next_seq_++;
    store(item.seq, item.message, nullptr, true, item.qos, item.flags, item.extras.get(), 0,
          persist::OutboundPhase::queued, out);
  }
  account(item);
  q.push_back(std::move(item));
}

void Session::set_link_room(std::size_t bytes, TimePoint now, Actions& out) {
  const bool was_busy = link_room_ == 0;
  link_room_ = bytes;
  if (!was_busy || bytes == 0 || state_ != State::connected) return;
  resend_inflight(Resend::held, now, out);
  drain(now, out);
}

void Session::drain(TimePoint now, Actions& out) {
  if (state_ != State::connected || !queue_) return;
  auto& q = *queue_;
  while (!q.empty() && link_room_ != 0) {
    Queued& front = q.front();
    if (front.message->expired(now)) {
      ++stats_->dropped_expired;  // never started onward delivery [MQTT-3.3.2-5]
      unaccount(front);
      forget(front.seq, std::move(front.message), out);
      q.pop_front();
      continue;
    }
    if (front.qos != QoS::at_most_once && inflight_.size() >= window_) break;
    unaccount(front);
    Queued item = std::move(front);
    q.pop_front();
    send_new(std::move(item), now, out);
  }
  if (q.empty()) queue_.reset();
}

bool Session::send_new(Queued&& item, TimePoint now, Actions& out) {
  const bool has_id = item.qos != QoS::at_most_once;
  const std::uint16_t id_cursor = next_id_;
  const mqtt::PacketId id = has_id ? next_packet_id() : mqtt::PacketId{};
  if (!emit_publish(item.message, item.qos, item.flags, item.extras.get(), id, false, now, out)) {
    next_id_ = id_cursor;  // a dropped message takes no id
    forget(item.seq, std::move(item.message), out);
    return false;
  }
  count_sent(*stats_, item.qos);
  if (!has_id) {
    forget(item.seq, std::move(item.message), out);  // a queued QoS 0 message is done once sent
    return true;
  }
  if (persistent() || item.seq != 0) {
    const bool is_new = item.seq == 0;
    if (is_new) item.seq = next_seq_++;
    store(item.seq, item.message, nullptr, is_new, item.qos, item.flags, item.extras.get(), id.value,
          item.qos == QoS::at_least_once ? persist::OutboundPhase::awaiting_puback
                                         : persist::OutboundPhase::awaiting_pubrec,
          out);
  }
  inflight_.push_back(Inflight{std::move(item.message), std::move(item.extras), now, item.seq, id,
                               item.qos,
                               item.qos == QoS::at_least_once ? Phase::awaiting_puback : Phase::awaiting_pubrec,
                               item.flags});
  return true;
}

bool Session::emit_publish(const MessagePtr& message, QoS qos, std::uint8_t flags,
                           const DeliveryExtras* extras, mqtt::PacketId id, bool dup, TimePoint now,
                           Actions& out) {
  const Message& m = *message;
  const bool v5 = mqtt::has_properties(version_);

  std::optional<std::uint32_t> expiry;
  const std::vector<std::uint32_t>* sub_ids = nullptr;
  AliasPlan plan;
  if (v5) {
    // The remaining lifetime, not the original [MQTT-3.3.2-6]. A resend of a
    // message that expired after its first send still goes (delivery had
    // started), with the shortest lifetime we can express.
    expiry = m.remaining_expiry(now);
    if (expiry && *expiry == 0) expiry = 1;
    if (extras != nullptr && !extras->subscription_ids.empty()) {
      sub_ids = &extras->subscription_ids;  // [MQTT-3.3.4-3]
    }
    plan = plan_alias(m.topic);
  }

  const std::size_t size = publish_wire_size(m, v5, qos != QoS::at_most_once, plan.alias,
                                             plan.omit_topic, expiry, sub_ids);
  if (size > client_max_packet_) {
    // Discarded unsent, as if delivered [MQTT-3.1.2-24] [MQTT-3.1.2-25].
    ++stats_->dropped_too_large;
    return false;
  }
  commit_alias(plan, m.topic);
  link_room_ = size >= link_room_ ? 0 : link_room_ - size;

  SendPublish sp;
  sp.message = message;
  sp.packet_id = id;
  sp.qos = qos;
  sp.retain = (flags & kRetain) != 0;
  sp.dup = dup;  // independent of the publisher's DUP [MQTT-3.3.1-3]
  sp.topic_alias = plan.alias;
  sp.omit_topic = plan.omit_topic;
  sp.message_expiry = expiry;
  if (sub_ids != nullptr) sp.subscription_ids = *sub_ids;
  out.push_back(std::move(sp));
  return true;
}

bool Session::resend(Inflight& entry, TimePoint now, Actions& out) {
  entry.sent_at = now;
  if (entry.phase == Phase::awaiting_pubcomp) {
    out.push_back(SendPacket{make_ack<mqtt::Pubrel>(entry.id)});
    return true;
  }
  if (!emit_publish(entry.message, entry.qos, entry.flags, entry.extras.get(), entry.id, true, now,
                    out)) {
    return false;
  }
  ++stats_->messages_redelivered;
  return true;
}

void Session::resend_inflight(Resend which, TimePoint now, Actions& out) {
  const Duration retry = settings_->retry_interval;
  for (std::size_t i = 0; i < inflight_.size();) {
    Inflight& e = inflight_[i];
    const bool held = (e.flags & kResendHeld) != 0;
    if ((which == Resend::due && !held && now - e.sent_at < retry) || (which == Resend::held && !held)) {
      ++i;
      continue;
    }
    if (link_room_ == 0) {
      e.flags |= kResendHeld;  // goes first once the link has room again
      ++i;
      continue;
    }
    e.flags &= static_cast<std::uint8_t>(~kResendHeld);
    if (resend(e, now, out)) {
      ++i;
    } else {
      // Too large for this connection's Maximum Packet Size: behave as if
      // it was delivered [MQTT-3.1.2-25].
      forget(e.seq, std::move(e.message), out);
      inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  release_empty_containers();
}

mqtt::PacketId Session::next_packet_id() noexcept {
  // Never an id still in flight [MQTT-2.2.1-4]; the window keeps one free.
  ROADMQ_ASSERT(inflight_.size() < kMaxPacketId);
  for (;;) {
    const mqtt::PacketId id{next_id_};
    next_id_ = next_id_ == kMaxPacketId ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
    if (find_inflight(id) == inflight_.end()) return id;
  }
}

std::vector<Session::Inflight>::iterator Session::find_inflight(mqtt::PacketId id) noexcept {
  return std::find_if(inflight_.begin(), inflight_.end(),
                      [id](const Inflight& e) { return e.id == id; });
}

void Session::erase_inflight(std::vector<Inflight>::iterator it) {
  inflight_.erase(it);
  release_empty_containers();
}

void Session::release_empty_containers() noexcept {
  // An idle session keeps no capacity around; it is multiplied by every
  // parked vehicle, while a malloc per burst is cheap.
  if (inflight_.empty() && inflight_.capacity() != 0) inflight_ = std::vector<Inflight>();
  if (awaiting_rel_.empty() && awaiting_rel_.capacity() != 0) {
    awaiting_rel_ = std::vector<AwaitingRel>();
  }
  if (queue_ && queue_->empty()) queue_.reset();
}

// ---------------------------------------------------------------------------
// Outbound topic aliases: first come, then least recently used is reassigned.

Session::AliasTables& Session::alias_tables() {
  if (!aliases_) aliases_ = std::make_unique<AliasTables>();
  return *aliases_;
}

Session::AliasPlan Session::plan_alias(std::string_view topic) const {
  // Absent or 0: the client accepts no aliases [MQTT-3.1.2-27].
  if (client_alias_max_ == 0) return {};
  const AliasTables* t = aliases_.get();
  if (t != nullptr) {
    if (const auto it = t->outbound.find(topic); it != t->outbound.end()) {
      return AliasPlan{it->second, true, false};
    }
    // Never above the client's maximum [MQTT-3.1.2-26].
    if (t->slots.size() >= client_alias_max_) return AliasPlan{t->oldest, false, true};
    return AliasPlan{static_cast<std::uint16_t>(t->slots.size() + 1), false, true};
  }
  return AliasPlan{1, false, true};
}

void Session::commit_alias(const AliasPlan& plan, std::string_view topic) {
  if (plan.alias == 0) return;
  AliasTables& t = alias_tables();
  auto slot = [&t](std::uint16_t alias) -> OutboundAlias& { return t.slots[alias - 1u]; };
  auto unlink = [&](std::uint16_t alias) {
    OutboundAlias& s = slot(alias);
    if (s.newer != 0)
      slot(s.newer).older = s.older;
    else
      t.newest = s.older;
    if (s.older != 0)
      slot(s.older).newer = s.newer;
    else
      t.oldest = s.newer;
    s.newer = s.older = 0;
  };
  auto push_newest = [&](std::uint16_t alias) {
    OutboundAlias& s = slot(alias);
    s.older = t.newest;
    s.newer = 0;
    if (t.newest != 0) slot(t.newest).newer = alias;
    t.newest = alias;
    if (t.oldest == 0) t.oldest = alias;
  };

  if (plan.assign) {
    if (plan.alias <= t.slots.size()) {
      // Reassigning the least recently used alias; the PUBLISH carries the
      // topic, which rebinds it at the client (5.0 §3.3.2.3.4).
      unlink(plan.alias);
      t.outbound.erase(*slot(plan.alias).topic);
    } else {
      ROADMQ_ASSERT(plan.alias == t.slots.size() + 1);
      t.slots.emplace_back();
    }
    const auto [it, inserted] = t.outbound.emplace(topic, plan.alias);
    ROADMQ_ASSERT(inserted);
    slot(plan.alias).topic = &it->first;
  } else {
    unlink(plan.alias);
  }
  push_newest(plan.alias);
}

// ---------------------------------------------------------------------------
// Time

std::uint32_t Session::expiry_cap() const noexcept {
  const auto cap = settings_->session_expiry_interval.count();
  if (cap <= 0) return 0;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(cap, kNeverExpires));
}

std::uint32_t Session::keep_alive_window_ms(std::uint16_t keep_alive_s) const noexcept {
  // A multiplier below 1 would cut off a client that keeps its promise.
  const double multiplier = std::max(1.0, settings_->keepalive_multiplier);
  const double ms = static_cast<double>(keep_alive_s) * 1000.0 * multiplier;
  // Past 49 days (keep alive above 4.3e6 s / multiplier) the window is capped.
  return static_cast<std::uint32_t>(std::min<double>(std::llround(ms), UINT32_MAX));
}

void Session::expire_awaiting_rel(TimePoint now, Actions& out) {
  const Duration timeout = settings_->await_rel_timeout;
  if (timeout <= Duration::zero() || awaiting_rel_.empty()) return;
  const auto dropped = std::erase_if(awaiting_rel_, [&](const AwaitingRel& a) {
    if (now - a.since < timeout) return false;
    if (stored_) out.push_back(ForgetInbound{a.id.value, a.message});
    return true;
  });
  stats_->dropped_await_rel_timeout += dropped;
  release_empty_containers();
}

void Session::tick(TimePoint now, Actions& out) {
  if (state_ == State::connected) {
    if (keep_alive_ms_ != 0 && now - last_activity_ >= keep_alive_window()) {
      // Closed as if the network had failed, so the will goes [MQTT-3.1.2-22].
      ++stats_->keepalive_timeouts;
      out.push_back(
          CloseConnection{ReasonCode::keep_alive_timeout, true, DetachReason::keep_alive_timeout});
      detach(DetachReason::keep_alive_timeout, now, out);
    } else {
      if (settings_->retry_interval > Duration::zero()) resend_inflight(Resend::due, now, out);
      drain(now, out);
    }
  }
  if (state_ == State::ended || state_ == State::fresh) return;
  expire_awaiting_rel(now, out);
  if (state_ == State::disconnected) {
    if (will_ && now >= will_at_) publish_will(now, out);
    if (now >= expiry_at_) {
      // A will still pending goes at session end [MQTT-3.1.3-9].
      if (will_) publish_will(now, out);
      ++stats_->sessions_expired;
      end_session(out);
    }
  }
}

TimePoint Session::deadline() const noexcept {
  TimePoint next = kNever;
  if (state_ == State::connected) {
    // Queued messages that could go out now (slots freed by
    // take_shared_messages): due at once, reported as a time already past.
    if (queue_ && !queue_->empty() && link_room_ != 0 &&
        (queue_->front().qos == QoS::at_most_once || inflight_.size() < window_)) {
      return last_activity_;
    }
    if (keep_alive_ms_ != 0) next = std::min(next, last_activity_ + keep_alive_window());
    // Called after every step: the settings are read only when they matter.
    const Duration retry = inflight_.empty() ? Duration::zero() : settings_->retry_interval;
    if (retry > Duration::zero() && link_room_ != 0) {
      for (const auto& e : inflight_) next = std::min(next, e.sent_at + retry);
    }
  }
  if ((state_ == State::connected || state_ == State::disconnected) && !awaiting_rel_.empty()) {
    const Duration timeout = settings_->await_rel_timeout;
    if (timeout > Duration::zero()) {
      for (const auto& a : awaiting_rel_) next = std::min(next, a.since + timeout);
    }
  }
  if (state_ == State::disconnected) {
    if (will_) next = std::min(next, will_at_);
    next = std::min(next, expiry_at_);
  }
  return next;
}

// ---------------------------------------------------------------------------
// Shared subscriptions

std::vector<std::pair<MessagePtr, DeliveryOptions>> Session::take_shared_messages() {
  std::vector<std::pair<MessagePtr, DeliveryOptions>> taken;
  auto is_shared = [](const std::unique_ptr<DeliveryExtras>& x) {
    return x && !x->share_group.empty();
  };
  auto options_of = [](QoS qos, std::uint8_t flags, DeliveryExtras& x) {
    DeliveryOptions o;
    o.qos = qos;
    o.retain_as_published = (flags & kRetainAsPublished) != 0;
    o.from_retained = (flags & kFromRetained) != 0;
    o.subscription_ids = std::move(x.subscription_ids);
    o.share_group = std::move(x.share_group);
    return o;
  };

  // Inflight first: older than anything queued. Messages past PUBREC belong
  // to the client already and stay to complete their flow. A QoS 2 message
  // whose delivery has started is never given to another member: only this
  // client may complete it [MQTT-4.8.2-5/6].
  for (auto it = inflight_.begin(); it != inflight_.end();) {
    if (it->message && it->qos != QoS::exactly_once && is_shared(it->extras)) {
      taken.emplace_back(std::move(it->message), options_of(it->qos, it->flags, *it->extras));
      it = inflight_.erase(it);
    } else {
      ++it;
    }
  }
  if (queue_) {
    auto& q = *queue_;
    for (auto it = q.begin(); it != q.end();) {
      if (is_shared(it->extras)) {
        unaccount(*it);
        taken.emplace_back(std::move(it->message), options_of(it->qos, it->flags, *it->extras));
        it = q.erase(it);
      } else {
        ++it;
      }
    }
  }
  release_empty_containers();
  return taken;
}

}  // namespace roadmq::broker
