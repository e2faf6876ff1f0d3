#include "broker/loader.hpp"

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace roadmq::broker {
namespace {

using storage::Table;

struct Sink {
  LoadStats& stats;
  storage::WriteBatch& cleanup;
  void damaged(Table t, std::string_view key) {
    ++stats.damaged;
    cleanup.erase(t, key);
  }
  void orphan(Table t, std::string_view key) {
    ++stats.orphans;
    cleanup.erase(t, key);
  }
};

}  // namespace

Expected<LoadResult, storage::StoreError> load_state(storage::KvStore& store, std::uint32_t shard_count,
                                                     const HomeShard& home, const persist::Clocks& clocks) {
  LoadResult out;
  out.shards.resize(shard_count);
  Sink sink{out.stats, out.cleanup};

  // Sessions first: every other record hangs off one.
  std::map<std::string, RestoredSession, std::less<>> sessions;
  auto st = store.scan(Table::sessions, "", [&](std::string_view key, std::string_view value) {
    auto image = persist::decode_session(value);
    if (!image) {
      sink.damaged(Table::sessions, key);
      return true;
    }
    RestoredSession s;
    s.client_id = std::string(key);
    s.image = std::move(*image);
    sessions.emplace(s.client_id, std::move(s));
    return true;
  });
  if (!st) return Unexpected{st.error()};

  auto owner = [&](Table t, std::string_view key) -> std::pair<RestoredSession*, std::string_view> {
    const auto split = persist::split_key(key);
    if (!split) {
      sink.damaged(t, key);
      return {nullptr, {}};
    }
    const auto it = sessions.find(split->client_id);
    if (it == sessions.end()) {
      sink.orphan(t, key);
      return {nullptr, {}};
    }
    return {&it->second, split->rest};
  };

  st = store.scan(Table::subscriptions, "", [&](std::string_view key, std::string_view value) {
    auto [s, filter] = owner(Table::subscriptions, key);
    if (!s) return true;
    auto e = persist::decode_subscription(value);
    if (!e || filter.empty()) {
      sink.damaged(Table::subscriptions, key);
      return true;
    }
    s->subscriptions.emplace_back(std::string(filter), *e);
    ++out.stats.subscriptions;
    return true;
  });
  if (!st) return Unexpected{st.error()};

  // Outbound records, remembering which bodies they need.
  std::unordered_map<std::uint64_t, MessagePtr> bodies;
  std::vector<std::string> outbound_keys;  // to drop a record whose body is missing
  st = store.scan(Table::outbound, "", [&](std::string_view key, std::string_view value) {
    auto [s, rest] = owner(Table::outbound, key);
    if (!s) return true;
    const auto seq = persist::decode_u64(rest);
    auto r = persist::decode_outbound(value);
    if (!seq || !r || *seq == 0) {
      sink.damaged(Table::outbound, key);
      return true;
    }
    if (r->message_id != 0) bodies.emplace(r->message_id, nullptr);
    s->outbound.push_back(RestoredSession::Outbound{*seq, nullptr, std::move(*r)});
    return true;
  });
  if (!st) return Unexpected{st.error()};

  st = store.scan(Table::inbound, "", [&](std::string_view key, std::string_view value) {
    auto [s, rest] = owner(Table::inbound, key);
    if (!s) return true;
    const auto id = persist::decode_u16(rest);
    const auto rec = persist::decode_inbound(value);
    if (!id || !rec || *id == 0) {
      sink.damaged(Table::inbound, key);
      return true;
    }
    if (rec->message_id != 0) bodies.emplace(rec->message_id, nullptr);
    s->inbound.push_back(RestoredSession::Inbound{*id, rec->message_id, nullptr});
    ++out.stats.inbound;
    return true;
  });
  if (!st) return Unexpected{st.error()};

  std::uint64_t max_id = 0;
  st = store.scan(Table::messages, "", [&](std::string_view key, std::string_view value) {
    const auto id = persist::decode_u64(key);
    if (!id) {
      sink.damaged(Table::messages, key);
      return true;
    }
    max_id = std::max(max_id, *id);
    const auto it = bodies.find(*id);
    if (it == bodies.end()) return true;  // no reference: the committer's garbage collection drops it
    auto m = persist::decode_message(value, clocks);
    if (!m) {
      sink.damaged(Table::messages, key);
      return true;
    }
    m->stored_id.store(*id, std::memory_order_relaxed);
    it->second = std::move(m);
    ++out.stats.messages;
    return true;
  });
  if (!st) return Unexpected{st.error()};
  out.first_counter = (max_id >> 8) + 1;

  // Attach bodies; count, per message, the shards that refer to it.
  std::unordered_map<std::uint64_t, std::unordered_set<std::uint32_t>> referring;
  for (auto& [client_id, s] : sessions) {
    const std::uint32_t shard = home(client_id) % shard_count;
    auto& records = s.outbound;
    std::erase_if(records, [&](RestoredSession::Outbound& o) {
      if (o.record.message_id == 0) {
        if (o.record.phase == persist::OutboundPhase::awaiting_pubcomp) return false;
        sink.damaged(Table::outbound, persist::outbound_key(client_id, o.seq));
        return true;
      }
      auto& body = bodies[o.record.message_id];
      if (!body) {
        sink.orphan(Table::outbound, persist::outbound_key(client_id, o.seq));
        return true;
      }
      o.message = body;
      referring[o.record.message_id].insert(shard);
      return false;
    });
    out.stats.outbound += records.size();
    for (auto& in : s.inbound) {
      if (in.message_id == 0) continue;
      auto& body = bodies[in.message_id];
      if (!body) continue;  // id kept (no second delivery), nothing to route again
      in.message = body;
      referring[in.message_id].insert(shard);
    }
    ++out.stats.sessions;
    out.shards[shard].push_back(std::move(s));
  }
  for (const auto& [id, shards] : referring)
    out.committer_refs.emplace_back(id, static_cast<std::uint32_t>(shards.size()));

  st = store.scan(Table::retained, "", [&](std::string_view key, std::string_view value) {
    auto m = persist::decode_message(value, clocks);
    if (!m || m->topic != key) {
      sink.damaged(Table::retained, key);
      return true;
    }
    if (m->expired(clocks.steady)) {
      out.cleanup.erase(Table::retained, key);
      return true;
    }
    out.retained.push_back(std::move(m));
    ++out.stats.retained;
    return true;
  });
  if (!st) return Unexpected{st.error()};
  return out;
}

}  // namespace roadmq::broker
