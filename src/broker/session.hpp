// One MQTT session as a synchronous, sans-I/O state machine: packets, routed
// messages and clock ticks in; actions out (see session_action.hpp). The
// session never touches a socket, a timer or another session; the shard that
// owns it executes its actions. So every spec rule is a unit test with a
// fake clock.
//
//      attach(CONNECT)                 detach(reason)
//   ┌──────────────▶ Connected ─────────────────────▶ Disconnected ──┐
//   │                  │  ▲  takeover: detach(0x8E)      │ will delay │ expiry
//  new ────────────────┘  └──────── attach(CONNECT) ─────┘ elapses    ▼
//                                                       (will sent)  Ended
//
// Outbound QoS 1: queued → inflight(id) →PUBACK→ done
// Outbound QoS 2: queued → inflight(id) →PUBREC→ awaiting PUBCOMP (PUBREL sent) →PUBCOMP→ done
// Inbound  QoS 2: PUBLISH(id) → routed once, id in awaiting_rel →PUBREL→ PUBCOMP, id freed
//
// Connection-scoped state (client limits, topic aliases, keep alive, the will
// of the current connection) is rebuilt by every attach(); session state
// (subscriptions, inflight, queue, inbound QoS 2 ids) survives until expiry.
//
// Closing: when the session itself decides to drop the connection (bad input,
// keep-alive timeout, client DISCONNECT) it emits CloseConnection and runs
// detach() at once, so the will and expiry follow in the same action list.
// detach() is idempotent: the owner may still call it when the socket goes.
// After SessionEnded the owner may read subscriptions() and
// take_shared_messages() before dropping the object; an attach() on an ended
// session starts it afresh.
//
// Memory: an idle session holds no heap blocks besides its client id, its
// subscriptions and (if any) its will. The queue, inflight table, inbound
// QoS 2 ids and topic-alias tables are allocated when first used and released
// when empty.
//
// Thread safety: owned by one shard; every call on that shard's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/message.hpp"
#include "broker/persist_codec.hpp"
#include "broker/session_action.hpp"
#include "broker/session_settings.hpp"
#include "broker/session_stats.hpp"
#include "mqtt/packet.hpp"

namespace roadmq::broker {

class Session {
 public:
  Session(std::string client_id, const SessionSettings& settings, SessionStats& stats);

  const std::string& client_id() const noexcept;
  bool connected() const noexcept;
  mqtt::ProtocolVersion version() const noexcept;

  // A (re)connecting client takes this session. `connect` has passed
  // authentication; `session_present` says whether state was kept (the owner
  // discards the session instead of attaching when Clean Start is set).
  // Emits CONNACK, then resends inflight messages with DUP and drains the
  // queue within the client's Receive Maximum. `assigned_client_id` is set
  // when the broker chose the id [MQTT-3.2.2-16].
  // If the session is still attached, the old connection is taken over
  // first: a CloseConnection{0x8E, taken_over} for it leads the actions.
  void attach(const mqtt::Connect& connect, bool session_present, bool assigned_client_id,
              TimePoint now, Actions& out);

  // The connection is gone. `reason` is what ended it: a DISCONNECT from the
  // client (normal: no will, unless 0x04), or an abnormal close (I/O error,
  // keep-alive timeout, protocol error, takeover). Schedules the will and the
  // session expiry.
  void detach(DetachReason reason, TimePoint now, Actions& out);

  // One packet from the client (never CONNECT: that goes to attach).
  void handle(mqtt::Packet&& packet, TimePoint now, Actions& out);

  // A routed message matched one of this session's subscriptions.
  void deliver(const MessagePtr& message, const DeliveryOptions& options, TimePoint now,
               Actions& out);

  // How many more bytes of PUBLISH the connection takes before its backlog
  // counts as full (the transport's headroom), told by the owner before each
  // call that may send. Every PUBLISH sent uses some up. At 0 the link is
  // busy: new QoS 0 messages are dropped and counted, QoS 1/2 wait in the
  // queue, nothing is resent; so a slow subscriber costs bounded memory and
  // keeps its connection. Room again drains the queue until it is used up.
  // Unlimited until told, and again after detach().
  void set_link_room(std::size_t bytes, TimePoint now, Actions& out);
  bool link_busy() const noexcept { return link_room_ == 0; }

  // Time passes: keep alive, resend, await-rel timeout, will delay, expiry.
  void tick(TimePoint now, Actions& out);
  // When tick() next has something to do; nullopt if never. A time already
  // past means "tick now".
  std::optional<TimePoint> next_deadline() const noexcept {
    const TimePoint t = deadline();
    return t == TimePoint::max() ? std::nullopt : std::optional<TimePoint>(t);
  }
  // The same, TimePoint::max() for never: what the owner calls after every
  // step. A plain time point comes back in a register; an optional's flag
  // went through the stack, and its reload stalled on the store.
  TimePoint deadline() const noexcept;

  // Subscriptions this session holds (filter as sent, with options and id).
  const std::map<std::string, SubscriptionEntry, std::less<>>& subscriptions() const noexcept;

  // Unacknowledged and queued messages of shared subscriptions, handed back
  // so the router gives them to another group member when this session ends.
  std::vector<std::pair<MessagePtr, DeliveryOptions>> take_shared_messages();

  std::size_t queued() const noexcept;
  std::size_t queued_bytes() const noexcept { return queue_bytes_; }
  std::size_t inflight() const noexcept;

  // ── durability ──
  // Persistent: durable sessions are on and the session outlives its
  // connection (expiry above 0). Such a session emits its state changes as
  // Store*/Forget* actions; stored() says it has something stored.
  bool persistent() const noexcept;
  bool stored() const noexcept { return stored_; }
  // The header as the sessions table holds it.
  persist::SessionImage image(const persist::Clocks& clocks) const;
  // Every stored outbound record: fn(seq, message) with the message it
  // refers to (null once released, awaiting PUBCOMP).
  template <class Fn>
  void for_each_stored_record(Fn&& fn) const {
    for (const auto& e : inflight_)
      if (e.seq != 0) fn(e.seq, e.message);
    if (queue_)
      for (const auto& e : *queue_)
        if (e.seq != 0) fn(static_cast<std::uint64_t>(e.seq), e.message);
  }
  // Inbound QoS 2 packet ids awaiting PUBREL.
  template <class Fn>
  void for_each_awaiting_rel(Fn&& fn) const {
    for (const auto& a : awaiting_rel_) fn(a.id.value, a.message);
  }
  // Rebuilding a stored session at startup, before any attach(): the header
  // first, then subscriptions, outbound records in sequence order, and
  // inbound QoS 2 ids. The session is then disconnected; a session that was
  // connected when the broker stopped counts as having lost its connection
  // now (its will follows its delay).
  void restore(const persist::SessionImage& image, const persist::Clocks& clocks);
  void restore_subscription(std::string filter, const SubscriptionEntry& entry);
  void restore_outbound(std::uint64_t seq, MessagePtr message, const persist::OutboundRecord& record,
                        TimePoint now);
  void restore_inbound(std::uint16_t packet_id, TimePoint since, MessagePtr message);
  // Messages of inbound QoS 2 flows still awaiting PUBREL (restored ones
  // are routed again at startup, to the sessions that do not hold them).
  template <class Fn>
  void for_each_awaiting_message(Fn&& fn) const {
    for (const auto& a : awaiting_rel_)
      if (a.message) fn(a.message);
  }
  // Whether a stored outbound record of this session refers to `m`.
  bool holds(const MessagePtr& m) const noexcept;

  // The client's Request Problem Information: when false, acks other than
  // CONNACK and DISCONNECT must carry no Reason String or User Property
  // [MQTT-3.1.2-29]. The session adds none; the encoding owner may ask.
  bool problem_information_requested() const noexcept;

  // A reloaded settings snapshot; like the first one it must outlive the
  // session (or the next update_settings call).
  void update_settings(const SessionSettings& settings) noexcept;

  // What one queued / inflight message costs the session, on top of the
  // shared Message itself (for capacity planning and the memory test).
  static std::size_t queued_entry_bytes() noexcept;
  static std::size_t inflight_entry_bytes() noexcept;

 private:
  // Members are the implementation's; keep an idle session small (it is
  // multiplied by every parked vehicle): no per-session buffers until needed.
  enum class State : std::uint8_t { fresh, connected, disconnected, ended };
  // Outbound flow of one inflight message (see the diagram above).
  enum class Phase : std::uint8_t { awaiting_puback, awaiting_pubrec, awaiting_pubcomp };
  // Per-delivery bits packed into one byte.
  enum DeliveryFlag : std::uint8_t {
    kRetain = 1,             // the RETAIN flag this subscriber gets
    kRetainAsPublished = 2,  // kept to rebuild DeliveryOptions for redispatch
    kFromRetained = 4,
    kResendHeld = 8,         // a resend was due while the link was busy
  };

  // The rarely used parts of DeliveryOptions, kept off the common path: most
  // deliveries have neither, and then cost one null pointer.
  struct DeliveryExtras {
    std::vector<std::uint32_t> subscription_ids;
    std::string share_group;
  };

  struct Queued {
    MessagePtr message;
    std::unique_ptr<DeliveryExtras> extras;
    // Packed: one queued entry per offline message of every parked vehicle.
    std::uint64_t seq : 48 = 0;                   // outbound record, 0 = not stored
    mqtt::QoS qos : 8 = mqtt::QoS::at_most_once;  // already min(message, granted)
    std::uint8_t flags : 8 = 0;
  };

  struct Inflight {
    MessagePtr message;  // released once PUBREC arrives: only the id is left to complete
    std::unique_ptr<DeliveryExtras> extras;
    TimePoint sent_at;  // last (re)transmission, for the retry interval
    std::uint64_t seq = 0;  // outbound record, 0 = not stored
    mqtt::PacketId id;
    mqtt::QoS qos = mqtt::QoS::at_least_once;
    Phase phase = Phase::awaiting_puback;
    std::uint8_t flags = 0;
  };

  struct AwaitingRel {
    mqtt::PacketId id;
    TimePoint since;
    MessagePtr message;  // persistent sessions: what the stored id record refers to
  };

  struct WillState {
    mqtt::Will will;  // Will Delay Interval already taken out of its properties
    std::uint32_t delay_s = 0;
  };

  struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  // Outbound alias slot; `newer`/`older` link the slots in LRU order by alias
  // number (0 = none). `topic` points at the key in AliasTables::outbound,
  // which a node-based map keeps stable.
  struct OutboundAlias {
    const std::string* topic = nullptr;
    std::uint16_t newer = 0;
    std::uint16_t older = 0;
  };
  // Topic aliases of the current connection only [MQTT-3.3.2-7].
  struct AliasTables {
    std::unordered_map<std::uint16_t, std::string> inbound;
    std::unordered_map<std::string, std::uint16_t, TransparentHash, std::equal_to<>> outbound;
    std::vector<OutboundAlias> slots;  // index alias - 1
    std::uint16_t newest = 0;
    std::uint16_t oldest = 0;
  };
  // An outbound alias decision, computed before the size check and applied
  // only if the PUBLISH is really sent (so the client never misses a mapping).
  struct AliasPlan {
    std::uint16_t alias = 0;
    bool omit_topic = false;  // the client already maps `alias` to this topic
    bool assign = false;      // `alias` (new or evicted) is bound to this topic now
  };

  // Packet handlers, one per packet type a client may send.
  void on_publish(mqtt::Publish&& p, TimePoint now, Actions& out);
  void on_puback(const mqtt::Puback& a, TimePoint now, Actions& out);
  void on_pubrec(const mqtt::Pubrec& a, TimePoint now, Actions& out);
  void on_pubrel(const mqtt::Pubrel& a, Actions& out);
  void on_pubcomp(const mqtt::Pubcomp& a, TimePoint now, Actions& out);
  void on_subscribe(mqtt::Subscribe&& s, TimePoint now, Actions& out);
  void on_unsubscribe(mqtt::Unsubscribe&& u, Actions& out);
  void on_disconnect(const mqtt::Disconnect& d, TimePoint now, Actions& out);

  // Close the connection for the client's fault: DISCONNECT(reason), then detach.
  void close_for(mqtt::ReasonCode reason, TimePoint now, Actions& out);
  mqtt::ReasonCode check_filter(std::string_view filter) const;
  void fill_connack_properties(std::uint32_t requested_expiry, bool assigned_client_id,
                               mqtt::Properties& props) const;

  // Outbound path.
  void send_or_queue(Queued&& item, TimePoint now, Actions& out);
  bool send_new(Queued&& item, TimePoint now, Actions& out);
  bool emit_publish(const MessagePtr& message, mqtt::QoS qos, std::uint8_t flags,
                    const DeliveryExtras* extras, mqtt::PacketId id, bool dup, TimePoint now,
                    Actions& out);
  bool resend(Inflight& entry, TimePoint now, Actions& out);
  // all: on attach; due: retry interval passed; held: those a busy link held back.
  enum class Resend : std::uint8_t { all, due, held };
  void resend_inflight(Resend which, TimePoint now, Actions& out);
  void enqueue(Queued&& item, TimePoint now, Actions& out);
  // What a queued message counts against mqtt.max_mqueue_bytes.
  static std::size_t queued_bytes(const MessagePtr& m) noexcept {
    return m ? m->topic.size() + m->payload.size() : 0;
  }
  // Queue totals, kept as entries come and go.
  void account(const Queued& e) noexcept {
    queue_bytes_ += queued_bytes(e.message);
    if (e.qos == mqtt::QoS::at_most_once) ++queued_qos0_;
  }
  void unaccount(const Queued& e) noexcept {
    queue_bytes_ -= queued_bytes(e.message);
    if (e.qos == mqtt::QoS::at_most_once) --queued_qos0_;
  }
  void store(std::uint64_t seq, const MessagePtr& message, MessagePtr released, bool is_new, mqtt::QoS qos,
             std::uint8_t flags, const DeliveryExtras* extras, std::uint16_t packet_id,
             persist::OutboundPhase phase, Actions& out);
  void forget(std::uint64_t seq, MessagePtr message, Actions& out);
  void unstore(Actions& out);
  void drain(TimePoint now, Actions& out);
  mqtt::PacketId next_packet_id() noexcept;
  std::vector<Inflight>::iterator find_inflight(mqtt::PacketId id) noexcept;
  void erase_inflight(std::vector<Inflight>::iterator it);
  void release_empty_containers() noexcept;

  AliasPlan plan_alias(std::string_view topic) const;
  void commit_alias(const AliasPlan& plan, std::string_view topic);
  AliasTables& alias_tables();

  // Timers and lifecycle.
  Duration keep_alive_window() const noexcept { return std::chrono::milliseconds(keep_alive_ms_); }
  std::uint32_t keep_alive_window_ms(std::uint16_t keep_alive_s) const noexcept;
  std::uint32_t expiry_cap() const noexcept;
  void expire_awaiting_rel(TimePoint now, Actions& out);
  void publish_will(TimePoint now, Actions& out);
  void end_session(Actions& out);
  void reset_state() noexcept;

  std::string client_id_;
  const SessionSettings* settings_;
  SessionStats* stats_;

  std::map<std::string, SubscriptionEntry, std::less<>> subscriptions_;
  std::vector<Inflight> inflight_;             // in send order (resend order [MQTT-4.6])
  std::unique_ptr<std::deque<Queued>> queue_;  // null while empty
  std::vector<AwaitingRel> awaiting_rel_;      // inbound QoS 2 ids, in arrival order
  std::unique_ptr<WillState> will_;
  std::unique_ptr<AliasTables> aliases_;  // null until an alias is used

  TimePoint last_activity_{};
  TimePoint will_at_ = TimePoint::max();    // delayed will due (disconnected)
  TimePoint expiry_at_ = TimePoint::max();  // session expires (disconnected)

  std::size_t link_room_ = SIZE_MAX;  // see set_link_room()
  std::size_t queue_bytes_ = 0;       // topic + payload of the queued messages
  std::uint32_t queued_qos0_ = 0;     // QoS 0 entries among them
  std::uint32_t session_expiry_s_ = 0;  // effective, after the broker's cap
  std::uint32_t client_max_packet_ = mqtt::kMaxPacketSize;
  std::uint16_t window_ = 1;            // min(client Receive Maximum, max_inflight)
  std::uint16_t client_alias_max_ = 0;  // client's Topic Alias Maximum
  std::uint16_t next_id_ = 1;
  std::uint32_t keep_alive_ms_ = 0;  // effective keep alive x multiplier; 0 = off
  std::uint64_t next_seq_ = 1;  // outbound record sequence
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::v5;
  State state_ = State::fresh;
  bool connect_expiry_zero_ = true;  // CONNECT carried Session Expiry 0 [MQTT-3.14.2-2]
  bool problem_information_ = true;  // Request Problem Information [MQTT-3.1.2-29]
  bool stored_ = false;              // has durable state (see persistent())
};

}  // namespace roadmq::broker
