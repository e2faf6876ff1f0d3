// One shard's part of the broker: the sessions whose client ids live here,
// the local subscription index of those sessions, and this shard's replicas
// of the node-wide tables (routes: which shards subscribe to what; shared
// groups; retained messages). It executes the sessions' actions.
//
// Publish path (no lock anywhere):
//   RoutePublish on shard A ── route replica ──▶ shards with subscribers
//        │                                          │ (one batch per shard per read burst)
//        │ shared groups replica: pick a member ───▶│
//        ▼                                          ▼
//   local index (if A subscribes)            deliver_batch() on shard B: local index → sessions
//
// Thread safety: owned by one shard; every method on that shard's thread.
// Other shards reach it only through ShardRuntime::post().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/actions_pool.hpp"
#include "broker/message.hpp"
#include "broker/retained_store.hpp"
#include "broker/route_table.hpp"
#include "broker/session.hpp"
#include "broker/session_action.hpp"
#include "broker/session_stats.hpp"
#include "broker/shard_store.hpp"
#include "broker/shared_groups.hpp"
#include "broker/subscription_index.hpp"
#include "broker/transport.hpp"

namespace roadmq::storage {
class Committer;
}

namespace roadmq::broker {

class Channel;
class Node;
struct RestoredSession;

struct SessionRecord {
  SessionRecord(std::uint64_t k, std::string client_id, const SessionSettings& s, SessionStats& st)
      : key(k), session(std::move(client_id), s, st) {}
  std::uint64_t key;
  Session session;
  Channel* channel = nullptr;
  TimePoint scheduled = TimePoint::max();  // deadline queued in the timer heap
  std::uint64_t epoch = 0;                 // which connection: bumped by every attach
  std::vector<std::uint64_t> acks;         // ack gates in the order the client is owed them
  bool ended = false;                      // removed; memory freed after the current call
};

// A message for one shared-subscription member, travelling to its shard.
struct SharedDelivery {
  std::uint64_t session_key = 0;
  MessagePtr message;
  DeliveryOptions options;
};

// Node-wide counters of one shard, summed by whoever asks every shard.
struct ShardStats {
  SessionStats sessions;
  std::uint64_t connections = 0;          // connected clients now
  std::uint64_t sessions_count = 0;       // sessions now (online + offline)
  std::uint64_t subscriptions = 0;        // local subscriptions now
  std::uint64_t retained = 0;             // this shard's replica
  std::uint64_t connects = 0;             // CONNECTs accepted
  std::uint64_t connack_refused = 0;
  std::uint64_t takeovers = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t messages_routed = 0;      // inbound messages routed
  std::uint64_t messages_no_subscriber = 0;
  std::uint64_t dropped_no_local = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t malformed = 0;            // decode errors, by connection
  std::uint64_t idle_timeouts = 0;        // no CONNECT in time
  std::uint64_t retained_refused = 0;
  std::uint64_t acks_waiting = 0;         // acks held until what they confirm is stored (now)
  std::uint64_t store_failures = 0;       // batches the store failed to write
  std::uint64_t outbox_batches_reused = 0;  // cross-shard batches sent in a received one's storage
  StoreStats store;

  ShardStats& operator+=(const ShardStats& o);
};

class ShardBroker {
 public:
  ShardBroker(Node& node, ShardId id);
  ~ShardBroker();

  ShardId id() const noexcept { return id_; }

  // ── connections (from Channel) ──
  void add_pending(Channel& channel);
  void remove_pending(Channel& channel);
  void connect(Channel& channel, mqtt::Connect&& connect, bool assigned_id, TimePoint now);
  void handle(Channel& channel, mqtt::Packet&& packet, TimePoint now);
  // The broker ends a connection for bad input (5.0: DISCONNECT `reason` first).
  void close_for(Channel& channel, mqtt::ReasonCode reason, DetachReason why, TimePoint now);
  void channel_closed(Channel& channel, DetachReason reason, TimePoint now);
  // The channel's output drained: its session may send what it held back.
  void writable(Channel& channel, TimePoint now);
  void count_malformed() noexcept { ++stats_.malformed; }
  void count_refused() noexcept { ++stats_.connack_refused; }
  void count_bytes(std::size_t in, std::size_t out) noexcept {
    stats_.bytes_received += in;
    stats_.bytes_sent += out;
  }

  // ── time ──
  void tick(TimePoint now);

  // ── routing ──
  // A message from a client or the broker itself, routed from this shard.
  void route(const MessagePtr& message, TimePoint now);
  // Sends what route() batched for other shards (and hands this shard's
  // stored writes to the committer).
  void flush_outbox();
  // The same, once the handlers already queued on this shard have run: the
  // reads of one event-loop turn share one post per target shard, and one
  // wake of it, instead of one each.
  void flush_outbox_soon();
  // Between two packets: flush_outbox() now if the batches have grown to
  // kOutboxBatch entries. Without this, one event-loop turn over many busy
  // publishers batched tens of thousands of messages per target shard: the
  // receiver then found them evicted from the cache, and the batch's memory
  // grew with the load.
  void flush_outbox_if_full() {
    if (outbox_entries_ >= kOutboxBatch) flush_outbox();
  }
  static constexpr std::size_t kOutboxBatch = 1024;
  // Whether commit_run() has anything to hand to the committer or release.
  bool commit_pending() const noexcept;


  // ── durability (startup, on this shard's thread) ──
  // Durable sessions on: from now on persistent sessions write through
  // `committer`, and acks wait for what they confirm.
  void enable_durability(storage::Committer& committer, std::uint64_t first_counter);
  // Sessions of this shard read back from storage; their references count here.
  void restore(std::vector<RestoredSession>&& sessions, TimePoint now);
  // Startup, after every shard restored: route the messages of stored
  // inbound QoS 2 flows again, to the sessions that do not hold them yet.
  // While `replaying` is set, deliveries skip sessions that hold the message
  // and retained writes are not repeated.
  void set_replaying(bool on) noexcept { replaying_ = on; }
  void replay_inbound(TimePoint now);
  // Retained messages read back (every replica loads all of them).
  void restore_retained(const std::vector<MessagePtr>& retained);

  // ── operations ──
  ShardStats stats() const;
  // Every connection gets DISCONNECT 0x8B (v5) and is closed.
  void shutdown(TimePoint now);
  std::size_t connection_count() const noexcept { return stats_.connections; }

 private:
  struct Outgoing {
    std::vector<MessagePtr> messages;    // for that shard's local index
    std::vector<SharedDelivery> shared;  // for one member each
    std::vector<std::uint64_t> gates;    // ack gates waiting for the receiver's batch
  };
  // An ack (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) held until every part
  // it confirms is durable: this shard's batch, plus one part per shard a
  // routed message went to. Owned by this shard; other shards only carry
  // its id back.
  struct AckGate {
    std::uint64_t session_key = 0;
    std::uint64_t epoch = 0;
    std::optional<mqtt::Packet> packet;
    std::uint32_t pending = 0;
    bool failed = false;
    // A relay gate stands for other shards' gates (relay_ids, owned by
    // relay_origin): at 0 it releases those instead of sending a packet.
    std::vector<std::uint64_t> relay_ids;
    std::uint32_t relay_origin = 0;
  };
  struct Target {
    std::uint64_t key;
    DeliveryOptions options;
    bool no_local;
  };

  SessionRecord* find_session(std::string_view client_id);
  // Indexes a new record by key and client id; a record left under the same
  // id is retired to the graveyard.
  SessionRecord& index_session(std::unique_ptr<SessionRecord> owned);
  // The live record with this key, or nullptr.
  SessionRecord* record_by_key(std::uint64_t key);
  // For the local shared-subscription strategy: the member's session is
  // connected here, with nothing queued and its link not busy.
  static bool member_ready(void* self, std::uint64_t session_key);
  void detach(SessionRecord& record, DetachReason reason, mqtt::ReasonCode code, TimePoint now);
  // Unbinds and closes the record's connection; false if it had none.
  bool release_channel(SessionRecord& record, DetachReason reason, mqtt::ReasonCode code,
                       bool send_disconnect, TimePoint now);
  void run(SessionRecord& record, Actions& actions, TimePoint now);
  void run_one(SessionRecord& record, Action& action, TimePoint now, Actions& later);
  void schedule(SessionRecord& record);
  void tell_link_room(SessionRecord& record, TimePoint now, Actions& actions);
  // One step of a session's state machine: `step(actions)` on a leased
  // action list that starts with the link room, then the actions run.
  template <class Step>
  void drive(SessionRecord& record, TimePoint now, Step&& step) {
    ActionsPool::Lease lease(actions_pool_);
    Actions& actions = *lease;
    tell_link_room(record, now, actions);
    step(actions);
    run(record, actions, now);
  }
  // On the topic's owner shard: apply a retained write, then replicate it.
  void store_retained(const MessagePtr& message, std::uint64_t gate, std::uint32_t origin);
  void end_session(SessionRecord& record, TimePoint now);
  void add_subscription(SessionRecord& record, AddSubscription& sub, TimePoint now, Actions& later);
  void remove_subscription(SessionRecord& record, const std::string& filter);
  void deliver_local(const MessagePtr& message, TimePoint now);
  void deliver_shared(const SharedDelivery& delivery, TimePoint now);
  bool route_shared(const MessagePtr& message, TimePoint now, std::uint64_t exclude_key,
                    std::uint64_t gate = 0);
  void receive(Outgoing&& batch, std::uint32_t origin);
  void keep_spare(Outgoing&& batch);
  // Storage for the next batch to a shard: a spare if one is kept, else
  // fresh, with room for as many entries as the batch just sent.
  Outgoing next_batch(std::size_t messages, std::size_t shared);
  // Durability plumbing (shard_durability.cpp).
  std::uint64_t open_gate(SessionRecord& record);
  void queue_ack(SessionRecord& record, mqtt::Packet&& packet);
  void pump_acks(SessionRecord& record);
  void release_gates(const std::vector<std::uint64_t>& ids, bool ok);
  void commit_run();
  void finish_commit(const std::vector<std::uint64_t>& gates,
                     const std::vector<std::vector<std::uint64_t>>& returns, bool ok);
  void persist(SessionRecord& record, Action& action);
  void route_gated(const MessagePtr& message, TimePoint now, std::uint64_t gate);
  // The batch going to `shard` carries `gate`: one more part it waits for.
  void hold_for(std::uint32_t shard, std::uint64_t gate) {
    if (gate != 0) hold_gate_for(shard, gate);  // inline: most messages carry no gate
  }
  void hold_gate_for(std::uint32_t shard, std::uint64_t gate);
  void broadcast(std::function<void(ShardBroker&)> fn);
  void publish_connected(Channel& channel, TimePoint now);
  void publish_disconnected(Channel& channel, DetachReason reason, TimePoint now);

  Node& node_;
  ShardId id_;
  std::uint64_t next_key_;
  // Keyed by a view of the record's own client id: one copy per session.
  std::unordered_map<std::string_view, std::unique_ptr<SessionRecord>> sessions_;
  std::unordered_map<std::uint64_t, SessionRecord*> by_key_;
  // by_key_'s last hit (see record_by_key()); cleared when that key is erased.
  std::uint64_t last_key_ = 0;
  SessionRecord* last_record_ = nullptr;
  SubscriptionIndex<SubscriptionEntry> local_;
  RouteTable routes_;
  SharedGroups shared_;
  RetainedStore retained_;
  std::vector<Outgoing> outbox_;
  // Batches received from other shards, emptied, whose storage the next
  // outgoing batch reuses: freeing it here and allocating afresh there costs
  // large-block malloc work and cross-thread frees on every batch.
  // At most kSpareBatches; more are freed (outbox_batches_reused counts).
  static constexpr std::size_t kSpareBatches = 4;
  static constexpr std::size_t kSpareBatchEntries = 1u << 16;  // larger vectors are freed
  std::vector<Outgoing> spare_batches_;
  bool outbox_dirty_ = false;
  std::size_t outbox_entries_ = 0;  // messages and deliveries in outbox_ since the last flush
  bool flush_posted_ = false;
  std::vector<Target> scratch_targets_;
  ActionsPool actions_pool_;
  using Deadline = std::pair<TimePoint, std::uint64_t>;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  Channel* pending_head_ = nullptr;
  Channel* pending_tail_ = nullptr;
  std::vector<std::unique_ptr<SessionRecord>> graveyard_;  // freed after the current call
  ShardStats stats_;

  // Durability: null / empty while durable sessions are off.
  std::unique_ptr<ShardStore> store_;
  bool replaying_ = false;
  storage::Committer* committer_ = nullptr;
  std::unordered_map<std::uint64_t, AckGate> gates_;
  std::uint64_t next_gate_ = 1;
  std::uint64_t route_gate_ = 0;                         // the gate of the RoutePublish being run
  std::uint64_t relay_gate_ = 0;                         // the relay gate of the batch being received
  std::vector<std::uint64_t> run_gates_;                 // local parts: released by this run's batch
  std::vector<std::vector<std::uint64_t>> run_returns_;  // per origin shard: parts to hand back after it
};

}  // namespace roadmq::broker
