// ShardBroker's durability plumbing: storage writes of the sessions' actions,
// the per-run batch and its commit, ack gates, and the startup restore.
//
//   run on shard A ──▶ A's batch ──submit──▶ committer ──durable──▶ A: release local parts
//        │ routed message + gate id                                     │
//        ▼                                                              ▼
//   run on shard B ──▶ B's batch ──submit──▶ committer ──durable──▶ A: release B's part
//                                                                  gate at 0 → ack leaves,
//                                                                  in the client's order
#include <algorithm>

#include "base/log.hpp"
#include "broker/channel.hpp"
#include "broker/loader.hpp"
#include "broker/node.hpp"
#include "broker/shard_broker.hpp"
#include "mqtt/topic.hpp"
#include "storage/committer.hpp"

namespace roadmq::broker {

void ShardBroker::enable_durability(storage::Committer& committer, std::uint64_t first_counter) {
  committer_ = &committer;
  store_ = std::make_unique<ShardStore>(id_.value, first_counter);
}

std::uint64_t ShardBroker::open_gate(SessionRecord& record) {
  const std::uint64_t id = next_gate_++;
  AckGate& g = gates_[id];
  g.session_key = record.key;
  g.epoch = record.epoch;
  g.pending = 1;  // this shard's own batch
  run_gates_.push_back(id);
  return id;
}

void ShardBroker::hold_gate_for(std::uint32_t shard, std::uint64_t gate) {
  outbox_[shard].gates.push_back(gate);
  ++gates_[gate].pending;
}

void ShardBroker::queue_ack(SessionRecord& record, mqtt::Packet&& packet) {
  const bool confirms_route = std::holds_alternative<mqtt::Puback>(packet) || std::holds_alternative<mqtt::Pubrec>(packet);
  std::uint64_t id = 0;
  if (route_gate_ != 0 && confirms_route) {
    id = route_gate_;  // opened by the RoutePublish this ack confirms
  } else if (confirms_route || record.session.stored()) {
    id = open_gate(record);
  } else {
    // Needs nothing stored, but the client gets its responses in the order
    // it asked: it waits behind the held acks, with no part of its own.
    id = next_gate_++;
    AckGate& g = gates_[id];
    g.session_key = record.key;
    g.epoch = record.epoch;
  }
  route_gate_ = 0;
  AckGate& g = gates_[id];
  g.packet = std::move(packet);
  record.acks.push_back(id);
  if (g.pending == 0 && record.acks.size() == 1) pump_acks(record);
}

void ShardBroker::pump_acks(SessionRecord& record) {
  std::size_t done = 0;
  for (; done < record.acks.size(); ++done) {
    const auto it = gates_.find(record.acks[done]);
    if (it == gates_.end()) continue;
    AckGate& g = it->second;
    if (g.pending != 0) break;
    if (record.channel && g.epoch == record.epoch && g.packet) {
      if (g.failed) {
        // Not stored: no ack, so the client sends it again after reconnecting.
        detach(record, DetachReason::administrative, mqtt::ReasonCode::unspecified_error, SteadyClock::now());
      } else {
        record.channel->send(*g.packet);
      }
    }
    gates_.erase(it);
  }
  record.acks.erase(record.acks.begin(), record.acks.begin() + static_cast<std::ptrdiff_t>(done));
  if (record.acks.empty() && record.acks.capacity() > 8) record.acks.shrink_to_fit();
}

void ShardBroker::release_gates(const std::vector<std::uint64_t>& ids, bool ok) {
  // Several gates of one session usually complete together: pump each once.
  std::vector<std::uint64_t> ready;
  for (const auto id : ids) {
    const auto it = gates_.find(id);
    if (it == gates_.end()) continue;
    AckGate& g = it->second;
    if (!ok) g.failed = true;
    if (--g.pending != 0) continue;
    if (!g.relay_ids.empty()) {
      auto ids_back = std::move(g.relay_ids);
      const auto origin = g.relay_origin;
      const bool good = !g.failed;
      gates_.erase(it);
      node_.runtime().post(ShardId{origin}, [node = &node_, origin, ids_back = std::move(ids_back), good] {
        node->shard(ShardId{origin}).release_gates(ids_back, good);
      });
      continue;
    }
    if (ready.empty() || ready.back() != g.session_key) ready.push_back(g.session_key);
  }
  for (const auto key : ready) {
    const auto rec = by_key_.find(key);
    if (rec == by_key_.end()) continue;
    pump_acks(*rec->second);
  }
  // Gates of sessions that are gone: nobody to send to.
  for (const auto id : ids) {
    const auto it = gates_.find(id);
    if (it != gates_.end() && it->second.pending == 0 && !by_key_.contains(it->second.session_key))
      gates_.erase(it);
  }
  if (!ready.empty() && outbox_dirty_) flush_outbox();
}

bool ShardBroker::commit_pending() const noexcept {
  if (!store_) return false;
  if (!run_gates_.empty() || store_->has_writes()) return true;
  for (const auto& r : run_returns_) {
    if (!r.empty()) return true;
  }
  return false;
}

void ShardBroker::commit_run() {
  if (!store_) return;
  route_gate_ = 0;
  if (!commit_pending()) return;
  std::vector<std::uint64_t> gates;
  gates.swap(run_gates_);
  std::vector<std::vector<std::uint64_t>> back(run_returns_.size());
  back.swap(run_returns_);
  if (!store_->has_writes()) {
    finish_commit(gates, back, true);
    return;
  }
  // With no ack waiting, a batch that only removes (deliveries completed)
  // may leave its fsync to the next one.
  const bool awaited = !gates.empty() || std::any_of(back.begin(), back.end(), [](const auto& r) { return !r.empty(); });
  committer_->submit(
      store_->take_batch(),
      [node = &node_, self = id_, gates = std::move(gates), back = std::move(back), awaited](bool ok) mutable {
        if (ok && !awaited) return;  // nothing to release: spare the shard a wake-up
        // On the committer's thread, called once: hand the result (moved,
        // not copied) to this shard.
        node->runtime().post(self, [node, self, gates = std::move(gates), back = std::move(back), ok] {
          node->shard(self).finish_commit(gates, back, ok);
        });
      },
      awaited ? storage::Waiter::ack : storage::Waiter::none);
}

void ShardBroker::finish_commit(const std::vector<std::uint64_t>& gates,
                                const std::vector<std::vector<std::uint64_t>>& returns, bool ok) {
  if (!ok) ++stats_.store_failures;
  release_gates(gates, ok);
  for (std::uint32_t s = 0; s < returns.size(); ++s) {
    if (returns[s].empty()) continue;
    if (s == id_.value) {
      release_gates(returns[s], ok);
      continue;
    }
    node_.runtime().post(ShardId{s}, [node = &node_, s, ids = returns[s], ok] {
      node->shard(ShardId{s}).release_gates(ids, ok);
    });
  }
}

void ShardBroker::persist(SessionRecord& record, Action& action) {
  if (!store_) return;
  const std::string& cid = record.session.client_id();
  std::visit(
      [&](auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, StoreSession>) {
          store_->store_session(record.session, persist::clocks_now());
        } else if constexpr (std::is_same_v<A, StoreOutbound>) {
          store_->store_outbound(cid, a);
        } else if constexpr (std::is_same_v<A, ForgetOutbound>) {
          store_->forget_outbound(cid, a);
        } else if constexpr (std::is_same_v<A, StoreInbound>) {
          store_->store_inbound(cid, a.packet_id, persist::clocks_now().wall_ms, a.message);
        } else if constexpr (std::is_same_v<A, ForgetInbound>) {
          store_->forget_inbound(cid, a.packet_id, a.message);
        } else if constexpr (std::is_same_v<A, UnstoreSession>) {
          store_->erase_session(record.session, a.records);
        }
      },
      action);
}

void ShardBroker::restore(std::vector<RestoredSession>&& sessions, TimePoint now) {
  const auto clocks = persist::clocks_now();
  for (auto& r : sessions) {
    SessionRecord& record = index_session(
        std::make_unique<SessionRecord>(next_key_++, std::move(r.client_id), node_.settings(), stats_.sessions));
    Session& session = record.session;
    session.restore(r.image, clocks);
    for (auto& [filter, entry] : r.subscriptions) {
      AddSubscription add{filter, entry.options, entry.subscription_id, true};
      add.options.retain_handling = mqtt::RetainHandling::do_not_send;  // nothing is re-sent at startup
      Actions ignored;
      add_subscription(record, add, now, ignored);
      session.restore_subscription(std::move(filter), entry);
    }
    for (auto& o : r.outbound) {
      if (o.message && store_) store_->adopt_reference(o.record.message_id);
      session.restore_outbound(o.seq, std::move(o.message), o.record, now);
    }
    for (auto& in : r.inbound) {
      // The await-rel timeout counts from the restart: the client had no
      // chance to send PUBREL while the broker was down.
      if (in.message && store_) store_->adopt_reference(in.message_id);
      session.restore_inbound(in.packet_id, now, std::move(in.message));
    }
    schedule(record);
  }
}

void ShardBroker::replay_inbound(TimePoint now) {
  // Messages whose PUBREC may never have left: the crash may have come
  // before every shard stored them. Route each again; sessions that hold it
  // already are skipped (see deliver_local), so nobody gets it twice.
  std::vector<MessagePtr> messages;
  for (const auto& [key, record] : by_key_) {
    (void)key;
    record->session.for_each_awaiting_message([&](const MessagePtr& m) { messages.push_back(m); });
  }
  for (const auto& m : messages) route_gated(m, now, 0);
  flush_outbox();
}

void ShardBroker::restore_retained(const std::vector<MessagePtr>& retained) {
  for (const auto& m : retained) {
    const auto ignored = retained_.put(m);
    (void)ignored;
  }
}

}  // namespace roadmq::broker
