// Reads the durable state back at startup: sessions with their
// subscriptions, outbound records and inbound QoS 2 ids, grouped by home
// shard; retained messages; and what the committer and the shards need to
// continue (reference counts, the next storage id).
//
// Damaged or orphaned records (a record whose session header is gone, an
// outbound record whose message body is missing) are skipped, counted and
// erased through `cleanup`, so one bad record never stops the broker.
//
// Thread safety: runs on the main thread before the shards serve clients.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/expected.hpp"
#include "broker/message.hpp"
#include "broker/persist_codec.hpp"
#include "broker/session_action.hpp"
#include "storage/kv_store.hpp"
#include "storage/write_batch.hpp"

namespace roadmq::broker {

struct RestoredSession {
  struct Outbound {
    std::uint64_t seq = 0;
    MessagePtr message;  // null for a record awaiting PUBCOMP
    persist::OutboundRecord record;
  };
  std::string client_id;
  persist::SessionImage image;
  std::vector<std::pair<std::string, SubscriptionEntry>> subscriptions;
  std::vector<Outbound> outbound;  // in sequence order
  struct Inbound {
    std::uint16_t packet_id = 0;
    std::uint64_t message_id = 0;
    MessagePtr message;  // routed again at startup to sessions that lack it
  };
  std::vector<Inbound> inbound;
};

struct LoadStats {
  std::uint64_t sessions = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t outbound = 0;
  std::uint64_t inbound = 0;
  std::uint64_t messages = 0;
  std::uint64_t retained = 0;
  std::uint64_t orphans = 0;          // records of no session, bodies of no record
  std::uint64_t damaged = 0;          // records that did not decode
};

struct LoadResult {
  std::vector<std::vector<RestoredSession>> shards;  // by home shard
  std::vector<MessagePtr> retained;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> committer_refs;  // message id, shards referring
  std::uint64_t first_counter = 1;   // for every shard's storage ids
  storage::WriteBatch cleanup;
  LoadStats stats;
};

using HomeShard = std::function<std::uint32_t(std::string_view client_id)>;

[[nodiscard]] Expected<LoadResult, storage::StoreError> load_state(storage::KvStore& store,
                                                                   std::uint32_t shard_count,
                                                                   const HomeShard& home,
                                                                   const persist::Clocks& clocks);

}  // namespace roadmq::broker
