// Messages from the broker to the client: delivery, the offline queue, the
// inflight window, resends and outbound topic aliases. See session.hpp.
#include "broker/session.hpp"

#include <algorithm>
#include <utility>

#include "base/assert.hpp"

namespace roadmq::broker {
namespace {

using mqtt::QoS;

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

}  // namespace

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
  stats_->count_sent(item.qos);
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
    mqtt::Pubrel rel;
    rel.packet_id = entry.id;
    out.push_back(SendPacket{rel});
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

}  // namespace roadmq::broker
