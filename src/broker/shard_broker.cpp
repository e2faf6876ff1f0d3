#include "broker/shard_broker.hpp"

#include "broker/channel.hpp"
#include "broker/node.hpp"
#include "broker/presence.hpp"
#include "mqtt/topic.hpp"

namespace roadmq::broker {
namespace {

// Acks that confirm something the client relies on surviving leave only
// once it is stored (durability promise): PUBACK / PUBREC always (a matching
// persistent subscriber may be on any shard), the rest only for a stored
// session.
bool needs_gate(const mqtt::Packet& p, bool session_stored) {
  if (std::holds_alternative<mqtt::Puback>(p) || std::holds_alternative<mqtt::Pubrec>(p)) return true;
  return session_stored && (std::holds_alternative<mqtt::Pubcomp>(p) || std::holds_alternative<mqtt::Suback>(p) ||
                            std::holds_alternative<mqtt::Unsuback>(p));
}

}  // namespace

ShardStats& ShardStats::operator+=(const ShardStats& o) {
  auto add = [](std::uint64_t& a, std::uint64_t b) { a += b; };
  auto& s = sessions;
  const auto& t = o.sessions;
  add(s.messages_received, t.messages_received);
  add(s.messages_sent, t.messages_sent);
  add(s.qos0_received, t.qos0_received);
  add(s.qos1_received, t.qos1_received);
  add(s.qos2_received, t.qos2_received);
  add(s.qos0_sent, t.qos0_sent);
  add(s.qos1_sent, t.qos1_sent);
  add(s.qos2_sent, t.qos2_sent);
  add(s.messages_redelivered, t.messages_redelivered);
  add(s.dropped_queue_full_qos0, t.dropped_queue_full_qos0);
  add(s.dropped_queue_full_oldest, t.dropped_queue_full_oldest);
  add(s.dropped_qos0_offline, t.dropped_qos0_offline);
  add(s.dropped_qos0_busy, t.dropped_qos0_busy);
  add(s.dropped_expired, t.dropped_expired);
  add(s.dropped_too_large, t.dropped_too_large);
  add(s.dropped_await_rel_timeout, t.dropped_await_rel_timeout);
  add(s.puback_missed, t.puback_missed);
  add(s.keepalive_timeouts, t.keepalive_timeouts);
  add(s.protocol_errors, t.protocol_errors);
  add(s.wills_published, t.wills_published);
  add(s.sessions_expired, t.sessions_expired);
  add(connections, o.connections);
  add(sessions_count, o.sessions_count);
  add(subscriptions, o.subscriptions);
  retained = std::max(retained, o.retained);  // replicas: same content everywhere
  add(connects, o.connects);
  add(connack_refused, o.connack_refused);
  add(takeovers, o.takeovers);
  add(disconnects, o.disconnects);
  add(messages_routed, o.messages_routed);
  add(messages_no_subscriber, o.messages_no_subscriber);
  add(dropped_no_local, o.dropped_no_local);
  add(bytes_received, o.bytes_received);
  add(bytes_sent, o.bytes_sent);
  add(malformed, o.malformed);
  add(idle_timeouts, o.idle_timeouts);
  add(retained_refused, o.retained_refused);
  add(acks_waiting, o.acks_waiting);
  add(store_failures, o.store_failures);
  add(outbox_batches_reused, o.outbox_batches_reused);
  add(store.batches, o.store.batches);
  add(store.records_written, o.store.records_written);
  add(store.records_erased, o.store.records_erased);
  add(store.message_refs, o.store.message_refs);
  return *this;
}

ShardBroker::ShardBroker(Node& node, ShardId id)
    : node_(node),
      id_(id),
      retained_(RetainedLimits{node.options().max_retained_messages, node.options().max_retained_payload}),
      outbox_(node.runtime().shard_count()),
      run_returns_(node.runtime().shard_count()) {
  // Session keys carry the shard in their top bits, so keys never collide
  // across shards (shared-group members are named by key node-wide).
  next_key_ = (std::uint64_t{id.value} << 48) | 1;
  shared_.set_local_shard(id.value);
}

ShardBroker::~ShardBroker() = default;

// ── connections ──────────────────────────────────────────────────────────────

void ShardBroker::add_pending(Channel& channel) {
  // Appended at the tail so the list stays in accept order and tick() stops
  // at the first connection still within its idle timeout.
  channel.pending_next = nullptr;
  channel.pending_prev = pending_tail_;
  if (pending_tail_) pending_tail_->pending_next = &channel;
  else pending_head_ = &channel;
  pending_tail_ = &channel;
  channel.pending_linked = true;
}

void ShardBroker::remove_pending(Channel& channel) {
  if (!channel.pending_linked) return;
  if (channel.pending_prev) channel.pending_prev->pending_next = channel.pending_next;
  else pending_head_ = channel.pending_next;
  if (channel.pending_next) channel.pending_next->pending_prev = channel.pending_prev;
  else pending_tail_ = channel.pending_prev;
  channel.pending_prev = channel.pending_next = nullptr;
  channel.pending_linked = false;
}

SessionRecord* ShardBroker::find_session(std::string_view client_id) {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() || it->second->ended ? nullptr : it->second.get();
}

SessionRecord* ShardBroker::record_by_key(std::uint64_t key) {
  // Deliveries come in runs to one session (a subscriber taking a stream):
  // remember the last lookup.
  if (key == last_key_ && last_record_ != nullptr) return last_record_;
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return nullptr;
  last_key_ = key;
  last_record_ = it->second;
  return last_record_;
}

SessionRecord& ShardBroker::index_session(std::unique_ptr<SessionRecord> owned) {
  SessionRecord& record = *owned;
  by_key_.emplace(record.key, &record);
  // Replacing the value alone would leave the key viewing the old record.
  if (auto it = sessions_.find(record.session.client_id()); it != sessions_.end()) {
    graveyard_.push_back(std::move(it->second));
    sessions_.erase(it);
  }
  sessions_.emplace(record.session.client_id(), std::move(owned));
  return record;
}

void ShardBroker::connect(Channel& channel, mqtt::Connect&& connect, bool assigned_id, TimePoint now) {
  SessionRecord* record = find_session(connect.client_id);
  if (record && record->channel) {
    // Takeover [MQTT-3.1.4-3]: the old connection is closed (5.0: 0x8E) and
    // the session, with everything queued and inflight, moves to the new one.
    ++stats_.takeovers;
    detach(*record, DetachReason::taken_over, mqtt::ReasonCode::session_taken_over, now);
    record = find_session(connect.client_id);
  }
  if (record && connect.clean_start) {
    // Clean Start discards the old session [MQTT-3.1.2-4]; a pending will is
    // not sent, since a new connection came within its delay [MQTT-3.1.3-9].
    end_session(*record, now);
    record = nullptr;
  }
  const bool present = record != nullptr;
  if (!record) {
    record = &index_session(std::make_unique<SessionRecord>(next_key_++, connect.client_id,
                                                            node_.settings(), stats_.sessions));
  }
  record->channel = &channel;
  ++record->epoch;
  channel.bind(record);
  ++stats_.connections;
  ++stats_.connects;
  drive(*record, now, [&](Actions& actions) {
    record->session.attach(connect, present, assigned_id, now, actions);
  });
  if (node_.options().sys_client_connected) publish_connected(channel, now);
}

void ShardBroker::handle(Channel& channel, mqtt::Packet&& packet, TimePoint now) {
  SessionRecord* record = channel.session();
  if (!record) return;
  drive(*record, now, [&](Actions& actions) {
    record->session.handle(std::move(packet), now, actions);
  });
}

void ShardBroker::tell_link_room(SessionRecord& record, TimePoint now, Actions& actions) {
  if (record.channel) record.session.set_link_room(record.channel->transport().output_headroom(), now, actions);
}

void ShardBroker::writable(Channel& channel, TimePoint now) {
  SessionRecord* record = channel.session();
  if (!record) return;
  drive(*record, now, [](Actions&) {});
}

void ShardBroker::close_for(Channel& channel, mqtt::ReasonCode reason, DetachReason why,
                            TimePoint now) {
  SessionRecord* record = channel.session();
  if (!record) {
    channel.close(reason, true);
    return;
  }
  detach(*record, why, reason, now);
}

void ShardBroker::channel_closed(Channel& channel, DetachReason reason, TimePoint now) {
  SessionRecord* record = channel.session();
  if (!record) return;
  detach(*record, reason, mqtt::ReasonCode::normal_disconnection, now);
  flush_outbox();
}

void ShardBroker::detach(SessionRecord& record, DetachReason reason, mqtt::ReasonCode code,
                         TimePoint now) {
  // In 5.0 the broker says why it ends a connection the client did not end.
  const bool notify = reason == DetachReason::taken_over || reason == DetachReason::server_shutdown ||
                      reason == DetachReason::keep_alive_timeout ||
                      reason == DetachReason::protocol_error || reason == DetachReason::administrative;
  if (!release_channel(record, reason, code, notify, now)) return;
  drive(record, now, [&](Actions& actions) { record.session.detach(reason, now, actions); });
}

bool ShardBroker::release_channel(SessionRecord& record, DetachReason reason, mqtt::ReasonCode code,
                                  bool send_disconnect, TimePoint now) {
  Channel* channel = record.channel;
  if (!channel) return false;
  if (node_.options().sys_client_disconnected) publish_disconnected(*channel, reason, now);
  record.channel = nullptr;
  channel->bind(nullptr);
  --stats_.connections;
  ++stats_.disconnects;
  channel->close(code, send_disconnect);
  return true;
}

// ── actions ──────────────────────────────────────────────────────────────────

void ShardBroker::run(SessionRecord& record, Actions& actions, TimePoint now) {
  Actions later;  // retained deliveries: after the SUBACK that caused them
  for (std::size_t i = 0; i < actions.size() && !record.ended; ++i) run_one(record, actions[i], now, later);
  while (!later.empty() && !record.ended) {
    Actions batch = std::move(later);
    later.clear();
    for (std::size_t i = 0; i < batch.size() && !record.ended; ++i) run_one(record, batch[i], now, later);
  }
  if (!record.ended) schedule(record);
}

void ShardBroker::run_one(SessionRecord& record, Action& action, TimePoint now, Actions& later) {
  std::visit(
      [&](auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, SendPacket>) {
          if (store_ && (!record.acks.empty() || needs_gate(a.packet, record.session.stored()))) {
            queue_ack(record, std::move(a.packet));
          } else if (record.channel) {
            record.channel->send(a.packet);
          }
        } else if constexpr (std::is_same_v<A, SendPublish>) {
          if (record.channel) record.channel->send_publish(a, now);
        } else if constexpr (std::is_same_v<A, RoutePublish>) {
          ++stats_.messages_routed;
          if (store_ && a.message->qos != mqtt::QoS::at_most_once) {
            route_gate_ = open_gate(record);
            route_gated(a.message, now, route_gate_);
          } else {
            route(a.message, now);
          }
        } else if constexpr (std::is_same_v<A, AddSubscription>) {
          if (store_ && record.session.stored())
            store_->store_subscription(record.session.client_id(), a.filter,
                                       SubscriptionEntry{a.options, a.subscription_id});
          add_subscription(record, a, now, later);
        } else if constexpr (std::is_same_v<A, RemoveSubscription>) {
          if (store_ && record.session.stored()) store_->forget_subscription(record.session.client_id(), a.filter);
          remove_subscription(record, a.filter);
        } else if constexpr (std::is_same_v<A, StoreSession> || std::is_same_v<A, StoreOutbound> ||
                             std::is_same_v<A, ForgetOutbound> || std::is_same_v<A, StoreInbound> ||
                             std::is_same_v<A, ForgetInbound> || std::is_same_v<A, UnstoreSession>) {
          persist(record, action);
        } else if constexpr (std::is_same_v<A, PublishWill>) {
          route(a.message, now);
        } else if constexpr (std::is_same_v<A, CloseConnection>) {
          if (release_channel(record, a.detach, a.reason, a.send_disconnect, now))
            record.session.detach(a.detach, now, later);  // a no-op if the session detached itself
        } else if constexpr (std::is_same_v<A, SessionEnded>) {
          end_session(record, now);
        }
      },
      action);
}

void ShardBroker::schedule(SessionRecord& record) {
  const TimePoint next = record.session.deadline();
  if (next < record.scheduled) {
    record.scheduled = next;
    deadlines_.emplace(next, record.key);
  }
}

void ShardBroker::end_session(SessionRecord& record, TimePoint now) {
  if (record.ended) return;
  record.ended = true;
  // Copy: removing subscriptions edits the map being walked.
  std::vector<std::string> filters;
  filters.reserve(record.session.subscriptions().size());
  for (const auto& [filter, entry] : record.session.subscriptions()) filters.push_back(filter);
  if (store_ && record.session.stored()) {
    ShardStore::StoredRecords records;
    record.session.for_each_stored_record(
        [&](std::uint64_t seq, const MessagePtr& m) { records.emplace_back(seq, m); });
    store_->erase_session(record.session, records);
  }
  for (const auto& f : filters) remove_subscription(record, f);
  // Shared-subscription messages this session held go to another member.
  for (auto& [message, options] : record.session.take_shared_messages()) route_shared(message, now, record.key);
  by_key_.erase(record.key);
  if (last_key_ == record.key) last_record_ = nullptr;
  auto it = sessions_.find(record.session.client_id());
  if (it != sessions_.end() && it->second.get() == &record) {
    graveyard_.push_back(std::move(it->second));
    sessions_.erase(it);
  }
}

void ShardBroker::add_subscription(SessionRecord& record, AddSubscription& sub, TimePoint now,
                                   Actions& later) {
  if (auto shared = mqtt::parse_shared(sub.filter)) {
    (void)shared;
    SharedMember member{id_.value, record.key, record.session.client_id(), sub.options, sub.subscription_id};
    std::string filter = sub.filter;
    broadcast([filter, member](ShardBroker& s) { s.shared_.add_member(filter, member); });
    return;  // retained messages are not sent for shared subscriptions [MQTT-4.8.2]
  }
  const bool is_new = local_.add(sub.filter, record.key, SubscriptionEntry{sub.options, sub.subscription_id});
  if (is_new && local_.subscribers(sub.filter) == 1) {
    std::string filter = sub.filter;
    const auto shard = id_.value;
    broadcast([filter, shard](ShardBroker& s) { s.routes_.set(filter, shard, true); });
  }
  const auto handling = sub.options.retain_handling;
  if (handling == mqtt::RetainHandling::do_not_send ||
      (handling == mqtt::RetainHandling::send_if_new_subscription && !sub.is_new))
    return;
  DeliveryOptions options;
  options.qos = sub.options.max_qos;
  options.retain_as_published = sub.options.retain_as_published;
  options.from_retained = true;
  if (sub.subscription_id) options.subscription_ids.push_back(*sub.subscription_id);
  retained_.match(sub.filter, now, [&](const MessagePtr& message) {
    record.session.deliver(message, options, now, later);
  });
}

void ShardBroker::remove_subscription(SessionRecord& record, const std::string& filter) {
  if (mqtt::parse_shared(filter)) {
    const auto key = record.key;
    std::string f = filter;
    broadcast([f, key](ShardBroker& s) { s.shared_.remove_member(f, key); });
    return;
  }
  if (!local_.remove(filter, record.key)) return;
  if (local_.subscribers(filter) == 0) {
    std::string f = filter;
    const auto shard = id_.value;
    broadcast([f, shard](ShardBroker& s) { s.routes_.set(f, shard, false); });
  }
}

void ShardBroker::broadcast(std::function<void(ShardBroker&)> fn) {
  const auto n = node_.shard_count();
  for (std::uint32_t s = 0; s < n; ++s) {
    if (s == id_.value) continue;
    node_.runtime().post(ShardId{s}, [node = &node_, s, fn] { fn(node->shard(ShardId{s})); });
  }
  fn(*this);
}

// ── routing ──────────────────────────────────────────────────────────────────

void ShardBroker::route(const MessagePtr& message, TimePoint now) { route_gated(message, now, 0); }

void ShardBroker::route_gated(const MessagePtr& message, TimePoint now, std::uint64_t gate) {
  if (message->retain && node_.options().retainer_enabled && !replaying_) {
    // One shard owns each retained topic and applies every write to it in
    // its arrival order, then hands that order to the replicas; so two
    // publishers racing on one topic leave every replica with the same winner.
    const ShardId owner = node_.home_shard(message->topic);
    if (owner == id_) {
      store_retained(message, 0, id_.value);
    } else {
      if (gate != 0) ++gates_[gate].pending;
      node_.runtime().post(owner, [node = &node_, owner, message, gate, origin = id_.value] {
        auto& shard = node->shard(owner);
        shard.store_retained(message, gate, origin);
        shard.flush_outbox();
      });
    }
  }
  const std::uint64_t mask = routes_.match(message->topic);
  bool delivered = mask != 0;
  for (std::uint32_t s = 0; s < outbox_.size(); ++s) {
    if ((mask & (std::uint64_t{1} << s)) == 0) continue;
    if (s == id_.value) {
      deliver_local(message, now);
    } else {
      outbox_[s].messages.push_back(message);
      hold_for(s, gate);
      outbox_dirty_ = true;
      ++outbox_entries_;
    }
  }
  if (route_shared(message, now, 0, gate)) delivered = true;
  if (!delivered) ++stats_.messages_no_subscriber;
}

void ShardBroker::store_retained(const MessagePtr& message, std::uint64_t gate, std::uint32_t origin) {
  const auto r = retained_.put(message);
  if (r == RetainResult::refused_full || r == RetainResult::refused_too_large) ++stats_.retained_refused;
  if (store_) {
    if (r == RetainResult::stored || r == RetainResult::replaced) {
      store_->store_retained(*message, persist::clocks_now());
    } else if (r == RetainResult::deleted || r == RetainResult::refused_too_large) {
      store_->erase_retained(message->topic);
    }
    // Only another shard's writes arrive with a gate: the owner's own go
    // through route_gated() with none.
    if (gate != 0) run_returns_[origin].push_back(gate);
  }
  const auto n = node_.shard_count();
  for (std::uint32_t s = 0; s < n; ++s) {
    if (s == id_.value) continue;
    node_.runtime().post(ShardId{s}, [node = &node_, s, message] {
      // Replicas apply the owner's decisions; only the owner counts refusals.
      const auto ignored = node->shard(ShardId{s}).retained_.put(message);
      (void)ignored;
    });
  }
}

bool ShardBroker::route_shared(const MessagePtr& message, TimePoint now, std::uint64_t exclude_key,
                               std::uint64_t gate) {
  bool any = false;
  shared_.match(message->topic, [&](SharedGroup& group) {
    const SharedMember* member = shared_.pick(group, node_.options().shared_strategy, message->publisher,
                                              message->topic, exclude_key, &ShardBroker::member_ready, this);
    if (!member) return;
    any = true;
    SharedDelivery delivery{member->session_key, message, {}};
    delivery.options.qos = member->options.max_qos;
    delivery.options.retain_as_published = member->options.retain_as_published;
    delivery.options.share_group = std::string(group.name());
    if (member->subscription_id) delivery.options.subscription_ids.push_back(*member->subscription_id);
    if (member->shard == id_.value) {
      deliver_shared(delivery, now);
    } else {
      outbox_[member->shard].shared.push_back(std::move(delivery));
      hold_for(member->shard, gate);
      outbox_dirty_ = true;
      ++outbox_entries_;
    }
  });
  return any;
}

bool ShardBroker::member_ready(void* self, std::uint64_t session_key) {
  // On this shard only, from route_shared's pick.
  const SessionRecord* record = static_cast<ShardBroker*>(self)->record_by_key(session_key);
  return record != nullptr && record->channel != nullptr && record->session.connected() &&
         record->session.queued() == 0 && record->channel->transport().output_headroom() != 0;
}

void ShardBroker::flush_outbox_soon() {
  route_gate_ = 0;  // belongs to the client whose packets were just run
  if (flush_posted_ || (!outbox_dirty_ && !commit_pending())) return;
  flush_posted_ = true;
  node_.runtime().post(id_, [this] {
    flush_posted_ = false;
    flush_outbox();
  });
}

void ShardBroker::flush_outbox() {
  commit_run();
  if (!outbox_dirty_) return;
  outbox_dirty_ = false;
  outbox_entries_ = 0;
  for (std::uint32_t s = 0; s < outbox_.size(); ++s) {
    auto& out = outbox_[s];
    if (out.messages.empty() && out.shared.empty()) continue;
    auto batch = std::make_shared<Outgoing>(std::move(out));
    out = next_batch(batch->messages.size(), batch->shared.size());
    node_.runtime().post(ShardId{s}, [node = &node_, s, batch, origin = id_.value] {
      node->shard(ShardId{s}).receive(std::move(*batch), origin);
    });
  }
}

void ShardBroker::receive(Outgoing&& batch, std::uint32_t origin) {
  const auto now = SteadyClock::now();
  if (store_ && !batch.gates.empty()) {
    // The sender's acks wait until what these deliveries stored is durable:
    // this shard's batch, and any shard a delivery is passed on to (a shared
    // member that left meanwhile). A relay gate collects both.
    relay_gate_ = next_gate_++;
    AckGate& g = gates_[relay_gate_];
    g.pending = 1;
    g.relay_origin = origin;
    g.relay_ids = std::move(batch.gates);
    run_gates_.push_back(relay_gate_);
  }
  for (const auto& m : batch.messages) deliver_local(m, now);
  for (const auto& d : batch.shared) deliver_shared(d, now);
  relay_gate_ = 0;
  keep_spare(std::move(batch));
  flush_outbox();
  graveyard_.clear();
}

void ShardBroker::keep_spare(Outgoing&& batch) {
  if (spare_batches_.size() == kSpareBatches || batch.messages.capacity() > kSpareBatchEntries ||
      batch.shared.capacity() > kSpareBatchEntries)
    return;  // freed with the task that carried it
  batch.messages.clear();
  batch.shared.clear();
  batch.gates.clear();
  spare_batches_.push_back(std::move(batch));
}

ShardBroker::Outgoing ShardBroker::next_batch(std::size_t messages, std::size_t shared) {
  Outgoing out;
  if (!spare_batches_.empty()) {
    out = std::move(spare_batches_.back());
    spare_batches_.pop_back();
    ++stats_.outbox_batches_reused;
  }
  // The next batch is likely as big: one allocation instead of a doubling series.
  out.messages.reserve(messages);
  out.shared.reserve(shared);
  return out;
}

void ShardBroker::deliver_local(const MessagePtr& message, TimePoint now) {
  // Overlapping subscriptions of one session become one delivery with the
  // highest QoS and every subscription identifier [MQTT-3.3.4-2/3].
  auto& targets = scratch_targets_;
  targets.clear();
  local_.match(message->topic, [&](std::string_view, std::uint64_t key, const SubscriptionEntry& e) {
    for (auto& t : targets) {
      if (t.key != key) continue;
      if (e.options.max_qos > t.options.qos) t.options.qos = e.options.max_qos;
      t.options.retain_as_published = t.options.retain_as_published || e.options.retain_as_published;
      t.no_local = t.no_local && e.options.no_local;
      if (e.subscription_id) t.options.subscription_ids.push_back(*e.subscription_id);
      return;
    }
    Target t{key, {}, e.options.no_local};
    t.options.qos = e.options.max_qos;
    t.options.retain_as_published = e.options.retain_as_published;
    if (e.subscription_id) t.options.subscription_ids.push_back(*e.subscription_id);
    targets.push_back(std::move(t));
  });
  // Delivering may run arbitrary session actions; work on a private copy.
  std::vector<Target> work;
  work.swap(targets);
  for (auto& t : work) {
    SessionRecord* found = record_by_key(t.key);
    if (found == nullptr) continue;
    SessionRecord& record = *found;
    if (replaying_ && record.session.holds(message)) continue;
    // [MQTT-3.8.3-3] No Local: not back to the publisher's own connection.
    if (t.no_local && !message->publisher.empty() && record.session.client_id() == message->publisher) {
      ++stats_.dropped_no_local;
      continue;
    }
    drive(record, now, [&](Actions& actions) {
      record.session.deliver(message, t.options, now, actions);
    });
  }
  work.clear();
  if (scratch_targets_.capacity() < work.capacity()) scratch_targets_.swap(work);
}

void ShardBroker::deliver_shared(const SharedDelivery& delivery, TimePoint now) {
  SessionRecord* found = record_by_key(delivery.session_key);
  if (found == nullptr) {
    // The member left while the message travelled: another member takes it.
    route_shared(delivery.message, now, delivery.session_key, relay_gate_);
    return;
  }
  SessionRecord& record = *found;
  if (replaying_ && record.session.holds(delivery.message)) return;
  drive(record, now, [&](Actions& actions) {
    record.session.deliver(delivery.message, delivery.options, now, actions);
  });
}

// ── time and operations ──────────────────────────────────────────────────────

void ShardBroker::tick(TimePoint now) {
  const auto idle = node_.options().idle_timeout;
  while (pending_head_ && now - pending_head_->accepted_at() >= idle) {
    Channel* c = pending_head_;
    remove_pending(*c);
    ++stats_.idle_timeouts;
    c->close(mqtt::ReasonCode::normal_disconnection, false);
  }
  while (!deadlines_.empty() && deadlines_.top().first <= now) {
    const auto [when, key] = deadlines_.top();
    deadlines_.pop();
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    SessionRecord& record = *it->second;
    if (record.scheduled != when) continue;  // superseded by an earlier deadline
    record.scheduled = TimePoint::max();
    drive(record, now, [&](Actions& actions) { record.session.tick(now, actions); });
  }
  flush_outbox();
  graveyard_.clear();
}

void ShardBroker::publish_connected(Channel& channel, TimePoint now) {
  route(make_connected_event(node_.options().name, channel.info()), now);
}

void ShardBroker::publish_disconnected(Channel& channel, DetachReason reason, TimePoint now) {
  route(make_disconnected_event(node_.options().name, channel.info(), reason, wall_clock_ms()), now);
}

void ShardBroker::shutdown(TimePoint now) {
  std::vector<SessionRecord*> online;
  for (auto& [id, record] : sessions_)
    if (record->channel) online.push_back(record.get());
  for (auto* record : online) detach(*record, DetachReason::server_shutdown, mqtt::ReasonCode::server_shutting_down, now);
  for (Channel* c = pending_head_; c;) {
    Channel* next = c->pending_next;
    remove_pending(*c);
    c->close(mqtt::ReasonCode::server_shutting_down, false);
    c = next;
  }
  flush_outbox();
}

ShardStats ShardBroker::stats() const {
  ShardStats s = stats_;
  s.sessions_count = sessions_.size();
  s.subscriptions = local_.size();
  s.retained = retained_.size();
  s.acks_waiting = gates_.size();
  if (store_) s.store = store_->stats();
  return s;
}

}  // namespace roadmq::broker
