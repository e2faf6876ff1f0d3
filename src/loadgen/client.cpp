#include "loadgen/client.hpp"

#include <algorithm>
#include <limits>

#include "base/assert.hpp"
#include "loadgen/connector.hpp"
#include "mqtt/encoder.hpp"
#include "mqtt/reason_code.hpp"
#include "net/shard.hpp"

namespace roadmq::loadgen {

// The net side of a client: the Connection owns it and destroys it right
// after on_closed(); the Client outlives it and any reconnect.
class Client::Link final : public net::ConnectionHandler {
 public:
  explicit Link(Client& c) noexcept : c_(c) {}
  std::span<std::uint8_t> read_buffer(std::size_t hint) override { return c_.read_buffer(hint); }
  void on_read(std::size_t n) override { c_.on_read(n); }
  void on_closed(std::error_code reason) override { c_.on_closed(reason); }
  void on_writable() override { c_.on_writable(); }

 private:
  Client& c_;
};

Client::Client(Setup setup) : setup_(std::move(setup)), window_(setup_.session->inflight) {
  ROADMQ_ASSERT(setup_.shard && setup_.events && setup_.scratch && setup_.session);
}

Client::~Client() {
  // Connections belong to the shard and are closed (and their handlers
  // destroyed) before a worker's clients are; a reference left here would
  // be released off its shard.
  ROADMQ_ASSERT(conn_ == nullptr);
}

void Client::connect() {
  ROADMQ_ASSERT(setup_.shard->is_current());
  ROADMQ_ASSERT(state_ == State::down);
  ++attempt_;
  state_ = State::tcp;
  intent_ = Intent::none;
  why_.clear();
  attempt_started_ = Clock::now();
  const ConnectRequest req{setup_.server, setup_.source, setup_.session->connect_timeout};
  open_connection(*setup_.shard, req, setup_.group,
                  [this, attempt = attempt_](Expected<net::ConnectionPtr, std::error_code> r) {
                    on_tcp(attempt, std::move(r));
                  });
}

void Client::on_tcp(std::uint32_t attempt, Expected<net::ConnectionPtr, std::error_code> r) {
  if (attempt != attempt_ || state_ != State::tcp) {
    // Abandoned (disconnect() during the attempt): nobody wants this one.
    if (r) (*r)->abort();
    return;
  }
  if (!r) {
    state_ = State::down;
    setup_.events->on_down(*this, DownCause::connect_failed, "connect: " + r.error().message());
    return;
  }
  const SessionConfig& s = *setup_.session;
  conn_ = std::move(*r);
  decoder_.emplace(mqtt::kMaxPacketSize, s.version, s.read_capacity);
  conn_->set_handler(std::make_unique<Link>(*this));
  state_ = State::mqtt;
  keepalive_ = s.keepalive;

  mqtt::Connect c;
  c.version = s.version;
  c.clean_start = ever_connected_ ? s.clean_reconnect : s.clean_first;
  c.keep_alive = s.keepalive;
  c.client_id = setup_.client_id;
  c.username = s.username;
  c.password = s.password;
  if (s.version == mqtt::ProtocolVersion::v5 && s.session_expiry > 0)
    c.properties.set_session_expiry_interval(s.session_expiry);
  send(mqtt::Packet{std::move(c)});
  flush();
}

void Client::disconnect(EndSession end_session) {
  switch (state_) {
    case State::down:
    case State::closing:
      return;
    case State::tcp:
      ++attempt_;  // the attempt's result is discarded when it comes
      state_ = State::down;
      setup_.events->on_down(*this, DownCause::closed, "");
      return;
    case State::mqtt:
    case State::subscribing:
    case State::ready:
      break;
  }
  mqtt::Disconnect d;
  const SessionConfig& s = *setup_.session;
  // Only a session that was given an expiry may be ended this way: raising
  // 0 to non-zero is the forbidden direction (5.0, 3.14.2.2.2).
  if (end_session == EndSession::yes && s.version == mqtt::ProtocolVersion::v5 &&
      s.session_expiry > 0)
    d.properties.set_session_expiry_interval(0);
  send(mqtt::Packet{std::move(d)});
  flush();
  intent_ = Intent::graceful;
  state_ = State::closing;
  conn_->close();
}

void Client::drop() {
  if (conn_ == nullptr || state_ == State::closing) return;
  intent_ = Intent::drop;
  conn_->abort();
}

void Client::fail(Intent intent, std::string why) {
  if (conn_ == nullptr) return;
  if (intent_ == Intent::none) {
    intent_ = intent;
    why_ = std::move(why);
  }
  conn_->abort();
}

void Client::check_timers(Clock::time_point now) {
  switch (state_) {
    case State::mqtt:
    case State::subscribing:
      if (now - attempt_started_ > setup_.session->connect_timeout)
        fail(Intent::failed, state_ == State::mqtt ? "no CONNACK in time" : "no SUBACK in time");
      return;
    case State::ready: {
      if (keepalive_ == 0) return;
      const auto period = std::chrono::seconds(keepalive_);
      if (ping_outstanding_) {
        // The broker answers a PINGREQ at once; a keep-alive period without
        // an answer means the link is dead (a half-open TCP connection).
        if (now - ping_sent_ > period) fail(Intent::failed, "no PINGRESP within keep alive");
        return;
      }
      if (now - last_out_ >= period) {
        send(mqtt::Packet{mqtt::Pingreq{}});
        flush();
        ping_outstanding_ = true;
        ping_sent_ = now;
      }
      return;
    }
    default:
      return;
  }
}

std::size_t Client::budget(std::size_t wire_size, std::uint8_t qos) const noexcept {
  if (state_ != State::ready) return 0;
  const std::size_t room = qos > 0 ? window_.room() : std::numeric_limits<std::size_t>::max();
  const std::size_t headroom = conn_->output_headroom();
  // Rounded up: a writer must use all its headroom to be sure of an
  // on_writable() later (net/connection.hpp), so the last message may cross
  // the watermark.
  const std::size_t by_output = (headroom + wire_size - 1) / std::max<std::size_t>(1, wire_size);
  const std::size_t n = std::min(room, by_output);
  if (n == 0) want_room_ = true;
  return n;
}

void Client::publish(const std::string& topic, std::uint8_t qos, bool retain,
                     const PayloadHeader& h, std::size_t payload_size) {
  ROADMQ_ASSERT(state_ == State::ready);
  mqtt::PublishView v;
  v.topic = topic;
  v.payload = setup_.scratch->build(h, payload_size);
  v.qos = static_cast<mqtt::QoS>(qos);
  v.retain = retain;
  if (qos > 0) {
    OutboundEntry e;
    e.topic = &topic;
    e.header = h;
    e.payload_size = static_cast<std::uint32_t>(payload_size);
    e.qos = qos;
    e.retain = retain;
    e.stage = qos == 1 ? OutboundStage::awaiting_puback : OutboundStage::awaiting_pubrec;
    v.packet_id = mqtt::PacketId{window_.push(e).packet_id};
  }
  (void)mqtt::encode(v, setup_.session->version,
                     conn_->out().bytes());  // sizes were validated up front
  wrote_ = true;
}

void Client::flush() {
  if (conn_ == nullptr || !wrote_) return;
  wrote_ = false;
  last_out_ = Clock::now();
  conn_->flush();
}

void Client::send(const mqtt::Packet& p) {
  (void)mqtt::encode(p, setup_.session->version, conn_->out().bytes());  // always encodable
  wrote_ = true;
}

std::span<std::uint8_t> Client::read_buffer(std::size_t hint) { return decoder_->prepare(hint); }

void Client::on_read(std::size_t n) {
  decoder_->commit(n);
  while (conn_ != nullptr && conn_->is_open()) {
    const auto st = decoder_->next(packet_);
    if (st == mqtt::StreamDecoder::Status::need_more) break;
    if (st == mqtt::StreamDecoder::Status::error) {
      fail(Intent::failed, "bad packet from broker: " + std::string(decoder_->error().rule));
      break;
    }
    handle(packet_);
  }
  flush();
}

void Client::on_writable() {
  if (want_room_) {
    want_room_ = false;
    setup_.events->on_room(*this);
  }
}

void Client::handle(mqtt::Packet& p) {
  // Any packet answers a keep-alive probe as well as PINGRESP would.
  ping_outstanding_ = false;
  switch (mqtt::type_of(p)) {
    case mqtt::PacketType::connack:
      handle_connack(std::get<mqtt::Connack>(p));
      return;
    case mqtt::PacketType::publish:
      handle_publish(std::get<mqtt::Publish>(p));
      return;
    case mqtt::PacketType::suback:
      handle_suback(std::get<mqtt::Suback>(p));
      return;
    case mqtt::PacketType::puback:
    case mqtt::PacketType::pubrec:
    case mqtt::PacketType::pubrel:
    case mqtt::PacketType::pubcomp:
      if (state_ == State::mqtt) break;  // before CONNACK: a protocol error
      handle_ack(p);
      return;
    case mqtt::PacketType::pingresp:
    case mqtt::PacketType::unsuback:
      return;
    case mqtt::PacketType::disconnect: {
      const auto& d = std::get<mqtt::Disconnect>(p);
      fail(Intent::failed, "DISCONNECT from broker: " + std::string(mqtt::name(d.reason)));
      return;
    }
    default:
      break;
  }
  fail(Intent::failed,
       "unexpected " + std::string(mqtt::to_string(mqtt::type_of(p))) + " from broker");
}

void Client::handle_connack(const mqtt::Connack& c) {
  if (state_ == State::closing) return;  // disconnect() came first; the DISCONNECT is on its way
  if (state_ != State::mqtt) {
    fail(Intent::failed, "second CONNACK");
    return;
  }
  if (mqtt::is_error(c.reason)) {
    fail(Intent::failed, "CONNACK refused: " + std::string(mqtt::name(c.reason)));
    return;
  }
  ever_connected_ = true;
  session_present_ = c.session_present;
  window_.set_limit(static_cast<std::uint16_t>(
      std::min<std::uint32_t>(c.properties.receive_maximum().value_or(65535), 65535)));
  if (auto ka = c.properties.server_keep_alive()) keepalive_ = static_cast<std::uint16_t>(*ka);
  if (session_present_) {
    resend_session();
  } else {
    session_lost_locally();
  }
  if (!setup_.subscriptions.empty() && !session_present_) {
    mqtt::Subscribe s;
    subscribe_id_ = window_.next_packet_id();
    s.packet_id = mqtt::PacketId{subscribe_id_};
    s.subscriptions = setup_.subscriptions;
    send(mqtt::Packet{std::move(s)});
    state_ = State::subscribing;
    return;
  }
  granted_ = true;
  become_ready();
}

// The broker holds no session for us: what we kept for it is void.
void Client::session_lost_locally() {
  dropped_inflight_ += window_.clear();
  awaiting_rel_.clear();
}

void Client::resend_session() {
  const mqtt::ProtocolVersion version = setup_.session->version;
  window_.for_each_active([&](OutboundEntry& e) {
    ++retransmitted_;
    if (e.stage == OutboundStage::awaiting_pubcomp) {
      mqtt::Pubrel rel;
      rel.packet_id = mqtt::PacketId{e.packet_id};
      send(mqtt::Packet{std::move(rel)});
      return;
    }
    mqtt::PublishView v;
    v.topic = *e.topic;
    v.payload = setup_.scratch->build(e.header, e.payload_size);
    v.qos = static_cast<mqtt::QoS>(e.qos);
    v.retain = e.retain;
    v.dup = true;
    v.packet_id = mqtt::PacketId{e.packet_id};
    (void)mqtt::encode(v, version, conn_->out().bytes());
    wrote_ = true;
  });
}

void Client::become_ready() {
  state_ = State::ready;
  connect_time_ = Clock::now() - attempt_started_;
  last_out_ = Clock::now();
  setup_.events->on_ready(*this, ReadyInfo{session_present_, granted_});
}

void Client::handle_suback(const mqtt::Suback& s) {
  if (state_ != State::subscribing || s.packet_id.value != subscribe_id_) return;
  granted_ = std::none_of(s.reasons.begin(), s.reasons.end(),
                          [](mqtt::ReasonCode r) { return mqtt::is_error(r); });
  become_ready();
}

void Client::handle_publish(const mqtt::Publish& p) {
  if (state_ != State::subscribing && state_ != State::ready && state_ != State::closing) {
    fail(Intent::failed, "PUBLISH before CONNACK");
    return;
  }
  switch (p.qos) {
    case mqtt::QoS::at_most_once:
      setup_.events->on_message(*this, p);
      return;
    case mqtt::QoS::at_least_once: {
      mqtt::Puback ack;
      ack.packet_id = p.packet_id;
      send(mqtt::Packet{std::move(ack)});
      setup_.events->on_message(*this, p);
      return;
    }
    case mqtt::QoS::exactly_once: {
      mqtt::Pubrec rec;
      rec.packet_id = p.packet_id;
      send(mqtt::Packet{std::move(rec)});
      // Delivered once, on first receipt; a repeat before PUBREL is the
      // same message and is only acknowledged again (4.3.3).
      if (std::find(awaiting_rel_.begin(), awaiting_rel_.end(), p.packet_id.value) !=
          awaiting_rel_.end())
        return;
      awaiting_rel_.push_back(p.packet_id.value);
      setup_.events->on_message(*this, p);
      return;
    }
  }
}

void Client::handle_ack(mqtt::Packet& p) {
  const bool v5 = setup_.session->version == mqtt::ProtocolVersion::v5;
  switch (mqtt::type_of(p)) {
    case mqtt::PacketType::puback: {
      const auto& a = std::get<mqtt::Puback>(p);
      OutboundEntry* e = window_.find(a.packet_id.value, OutboundStage::awaiting_puback);
      if (e == nullptr) return;  // a late duplicate ack: nothing to do
      const OutboundEntry done = *e;
      window_.complete(*e);
      setup_.events->on_acked(
          *this, done, mqtt::is_error(a.reason) ? AckOutcome::refused : AckOutcome::accepted);
      break;
    }
    case mqtt::PacketType::pubrec: {
      const auto& a = std::get<mqtt::Pubrec>(p);
      mqtt::Pubrel rel;
      rel.packet_id = a.packet_id;
      if (OutboundEntry* e = window_.find(a.packet_id.value, OutboundStage::awaiting_pubrec)) {
        if (mqtt::is_error(a.reason)) {
          // A failing PUBREC ends the flow: no PUBREL follows (5.0, 4.3.3).
          const OutboundEntry done = *e;
          window_.complete(*e);
          setup_.events->on_acked(*this, done, AckOutcome::refused);
          break;
        }
        e->stage = OutboundStage::awaiting_pubcomp;
      } else if (window_.find(a.packet_id.value, OutboundStage::awaiting_pubcomp) != nullptr) {
        ++retransmitted_;  // our PUBREL crossed a repeated PUBREC
      } else if (v5) {
        rel.reason = mqtt::ReasonCode::packet_identifier_not_found;
      }
      send(mqtt::Packet{std::move(rel)});
      return;
    }
    case mqtt::PacketType::pubcomp: {
      const auto& a = std::get<mqtt::Pubcomp>(p);
      OutboundEntry* e = window_.find(a.packet_id.value, OutboundStage::awaiting_pubcomp);
      if (e == nullptr) return;
      const OutboundEntry done = *e;
      window_.complete(*e);
      setup_.events->on_acked(*this, done, AckOutcome::accepted);
      break;
    }
    case mqtt::PacketType::pubrel: {
      const auto& a = std::get<mqtt::Pubrel>(p);
      mqtt::Pubcomp comp;
      comp.packet_id = a.packet_id;
      const auto it = std::find(awaiting_rel_.begin(), awaiting_rel_.end(), a.packet_id.value);
      if (it != awaiting_rel_.end()) {
        awaiting_rel_.erase(it);
      } else if (v5) {
        comp.reason = mqtt::ReasonCode::packet_identifier_not_found;
      }
      send(mqtt::Packet{std::move(comp)});
      return;
    }
    default:
      return;
  }
  if (want_room_) {
    want_room_ = false;
    setup_.events->on_room(*this);
  }
}

void Client::on_closed(std::error_code reason) {
  conn_.reset();
  decoder_.reset();
  ping_outstanding_ = false;
  wrote_ = false;
  want_room_ = false;
  const State was = state_;
  state_ = State::down;
  DownCause cause;
  std::string why = std::move(why_);
  why_.clear();
  if (intent_ == Intent::graceful || was == State::closing) {
    cause = DownCause::closed;
  } else if (intent_ == Intent::drop) {
    cause = DownCause::dropped;
  } else {
    cause = was == State::ready ? DownCause::lost : DownCause::connect_failed;
    if (why.empty()) why = "connection closed: " + reason.message();
  }
  intent_ = Intent::none;
  const SessionConfig& s = *setup_.session;
  const bool persistent =
      s.version == mqtt::ProtocolVersion::v5 ? s.session_expiry > 0 : !s.clean_reconnect;
  if (!persistent) session_lost_locally();
  setup_.events->on_down(*this, cause, why);
}

}  // namespace roadmq::loadgen
