#include "broker/shard_store.hpp"

#include "base/assert.hpp"
#include "broker/session.hpp"

namespace roadmq::broker {

using storage::Table;

ShardStore::ShardStore(std::uint32_t shard, std::uint64_t first_counter)
    : shard_(shard), counter_(first_counter == 0 ? 1 : first_counter) {}

std::uint64_t ShardStore::id_of(const MessagePtr& m) {
  const std::uint64_t have = m->stored_id.load(std::memory_order_acquire);
  if (have != 0) return have;
  const std::uint64_t mine = (counter_ << 8) | (shard_ & 0xFF);
  const std::uint64_t id = m->assign_stored_id(mine);
  if (id == mine) ++counter_;
  return id;
}

void ShardStore::ref(const MessagePtr& m) {
  const std::uint64_t id = id_of(m);
  if (refs_[id]++ != 0) return;
  ++stats_.message_refs;
  if (encoded_id_ != id) {
    encoded_ = persist::encode_message(*m, persist::clocks_now());
    encoded_id_ = id;
  }
  batch_.ref_message(id, encoded_);
}

void ShardStore::unref(const MessagePtr& m) {
  const std::uint64_t id = m->stored_id.load(std::memory_order_acquire);
  const auto it = refs_.find(id);
  if (id == 0 || it == refs_.end()) return;  // never referenced here
  if (--it->second != 0) return;
  refs_.erase(it);
  --stats_.message_refs;
  batch_.unref_message(id);
}

void ShardStore::store_session(const Session& session, const persist::Clocks& clocks) {
  batch_.put(Table::sessions, session.client_id(), persist::encode_session(session.image(clocks)));
}

void ShardStore::store_outbound(const std::string& client_id, const StoreOutbound& a) {
  persist::OutboundRecord r;
  if (a.message) {
    if (a.is_new) ref(a.message);
    r.message_id = id_of(a.message);
  }
  if (a.released) unref(a.released);
  r.qos = a.qos;
  r.flags = a.flags;
  r.packet_id = a.packet_id;
  r.phase = static_cast<persist::OutboundPhase>(a.phase);
  r.subscription_ids = a.subscription_ids;
  r.share_group = a.share_group;
  batch_.put(Table::outbound, persist::outbound_key(client_id, a.seq), persist::encode_outbound(r));
  ++stats_.records_written;
}

void ShardStore::forget_outbound(const std::string& client_id, const ForgetOutbound& a) {
  batch_.erase(Table::outbound, persist::outbound_key(client_id, a.seq));
  if (a.message) unref(a.message);
  ++stats_.records_erased;
}

void ShardStore::store_inbound(const std::string& client_id, std::uint16_t packet_id, std::uint64_t wall_ms,
                               const MessagePtr& message) {
  persist::InboundRecord r;
  r.since_wall_ms = wall_ms;
  if (message) {
    ref(message);
    r.message_id = id_of(message);
  }
  batch_.put(Table::inbound, persist::inbound_key(client_id, packet_id), persist::encode_inbound(r));
}

void ShardStore::forget_inbound(const std::string& client_id, std::uint16_t packet_id, const MessagePtr& message) {
  batch_.erase(Table::inbound, persist::inbound_key(client_id, packet_id));
  if (message) unref(message);
}

void ShardStore::store_subscription(const std::string& client_id, const std::string& filter,
                                    const SubscriptionEntry& e) {
  batch_.put(Table::subscriptions, persist::subscription_key(client_id, filter), persist::encode_subscription(e));
}

void ShardStore::forget_subscription(const std::string& client_id, const std::string& filter) {
  batch_.erase(Table::subscriptions, persist::subscription_key(client_id, filter));
}

void ShardStore::erase_session(const Session& session, const StoredRecords& records) {
  const std::string& cid = session.client_id();
  batch_.erase(Table::sessions, cid);
  for (const auto& [filter, entry] : session.subscriptions()) {
    (void)entry;
    batch_.erase(Table::subscriptions, persist::subscription_key(cid, filter));
  }
  for (const auto& [seq, message] : records) {
    batch_.erase(Table::outbound, persist::outbound_key(cid, seq));
    if (message) unref(message);
    ++stats_.records_erased;
  }
  session.for_each_awaiting_rel([&](std::uint16_t id, const MessagePtr& m) {
    batch_.erase(Table::inbound, persist::inbound_key(cid, id));
    if (m) unref(m);
  });
}

void ShardStore::store_retained(const Message& m, const persist::Clocks& clocks) {
  batch_.put(Table::retained, m.topic, persist::encode_message(m, clocks));
}

void ShardStore::erase_retained(std::string_view topic) { batch_.erase(Table::retained, topic); }

storage::WriteBatch ShardStore::take_batch() {
  ++stats_.batches;
  storage::WriteBatch out = std::move(batch_);
  batch_ = storage::WriteBatch{};
  return out;
}

}  // namespace roadmq::broker
