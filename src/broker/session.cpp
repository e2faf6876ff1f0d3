// Server side of one MQTT 3.1 / 3.1.1 / 5.0 session. See session.hpp for the
// state diagram and the ownership rules. The packet model is normalised, so
// the code below branches on the protocol version only where the spec's
// behaviour differs (CONNACK properties, Server Keep Alive, Session Expiry).
#include "broker/session.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
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
      stats_->count_received(qos);
      out.push_back(RoutePublish{make_message(std::move(p), client_id_, now, wall_ms(now))});
      return;

    case QoS::at_least_once:
      stats_->count_received(qos);
      // Route first: the owner persists before the PUBACK leaves (durability promise).
      out.push_back(RoutePublish{make_message(std::move(p), client_id_, now, wall_ms(now))});
      out.push_back(SendPacket{make_ack<mqtt::Puback>(id)});
      return;

    case QoS::exactly_once: {
      const auto held = std::find_if(awaiting_rel_.begin(), awaiting_rel_.end(),
                                     [id](const AwaitingRel& a) { return a.id == id; });
      if (held != awaiting_rel_.end()) {
        // Already routed once: acknowledge again, deliver no second copy [MQTT-4.3.3].
        stats_->count_received(qos);
        out.push_back(SendPacket{make_ack<mqtt::Pubrec>(id)});
        return;
      }
      // Our CONNACK's Receive Maximum (5.0 §3.3.4: DISCONNECT 0x93).
      if (awaiting_rel_.size() >= std::max<std::size_t>(1, cfg.max_awaiting_rel)) {
        return close_for(ReasonCode::receive_maximum_exceeded, now, out);
      }
      stats_->count_received(qos);
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
