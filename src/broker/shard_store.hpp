// One shard's side of durable sessions: turns the sessions' Store*/Forget*
// actions into the storage batch of the current run, keeps this shard's
// references to stored message bodies, and gives messages their storage ids.
//
// A message body is stored once per node: each shard counts its own
// references and tells the committer only on its 0 → 1 and 1 → 0 turns; the
// committer counts shards. So a notice to 10,000 offline sessions puts its
// body into at most one batch per shard and onto disk once.
//
// Thread safety: owned by one shard; every call on that shard's thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "broker/message.hpp"
#include "broker/persist_codec.hpp"
#include "broker/session_action.hpp"
#include "storage/write_batch.hpp"

namespace roadmq::broker {

class Session;

struct StoreStats {
  std::uint64_t batches = 0;          // batches submitted from this shard
  std::uint64_t records_written = 0;  // outbound records put
  std::uint64_t records_erased = 0;
  std::uint64_t message_refs = 0;     // bodies this shard references now
};

class ShardStore {
 public:
  // Storage ids are (counter << 8) | shard; counters start at `first_counter`
  // so ids never repeat one already on disk.
  ShardStore(std::uint32_t shard, std::uint64_t first_counter);

  void store_session(const Session& session, const persist::Clocks& clocks);
  void store_outbound(const std::string& client_id, const StoreOutbound& a);
  void forget_outbound(const std::string& client_id, const ForgetOutbound& a);
  void store_inbound(const std::string& client_id, std::uint16_t packet_id, std::uint64_t wall_ms,
                     const MessagePtr& message);
  void forget_inbound(const std::string& client_id, std::uint16_t packet_id, const MessagePtr& message);
  void store_subscription(const std::string& client_id, const std::string& filter, const SubscriptionEntry& e);
  void forget_subscription(const std::string& client_id, const std::string& filter);
  // Everything of the session, and its references (session end, or no
  // longer persistent). Point deletes of the records it holds, not range
  // deletions: a session's records are few and known, and range tombstones
  // would slow every later scan of the table.
  using StoredRecords = std::vector<std::pair<std::uint64_t, MessagePtr>>;
  void erase_session(const Session& session, const StoredRecords& records);
  // The retained table (owner shard of the topic only).
  void store_retained(const Message& m, const persist::Clocks& clocks);
  void erase_retained(std::string_view topic);

  // A reference loaded at startup (the committer's count is set separately).
  void adopt_reference(std::uint64_t id) { ++refs_[id]; }

  bool has_writes() const noexcept { return !batch_.empty(); }
  storage::WriteBatch take_batch();
  const StoreStats& stats() const noexcept { return stats_; }

 private:
  std::uint64_t id_of(const MessagePtr& m);
  void ref(const MessagePtr& m);
  void unref(const MessagePtr& m);

  std::uint32_t shard_;
  std::uint64_t counter_;
  storage::WriteBatch batch_;
  std::unordered_map<std::uint64_t, std::uint32_t> refs_;
  // Fan-out refers to one message many times in a row: encode it once.
  std::uint64_t encoded_id_ = 0;
  std::string encoded_;
  StoreStats stats_;
};

}  // namespace roadmq::broker
