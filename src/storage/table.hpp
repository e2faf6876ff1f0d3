// The tables (RocksDB column families) RoadMQ keeps, and what each key and
// value holds. Key and value encodings belong to the modules that write them
// (broker/persist_codec.hpp); storage only sees bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace roadmq::storage {

enum class Table : std::uint8_t {
  meta,           // format version, id counters
  sessions,       // client id -> session state (expiry, will, deadlines)
  subscriptions,  // client id + filter -> options
  messages,       // message id (u64 big-endian) -> message; reference-counted (see Committer)
  outbound,       // client id + sequence -> queued / inflight delivery
  inbound,        // client id + packet id -> inbound QoS 2 awaiting PUBREL
  retained,       // topic -> message
};

inline constexpr std::size_t kTableCount = 7;

// The column family name of each table (stable: it is on disk).
constexpr std::string_view table_name(Table t) noexcept {
  constexpr std::array<std::string_view, kTableCount> names{
      "meta", "sessions", "subscriptions", "messages", "outbound", "inbound", "retained"};
  return names[static_cast<std::size_t>(t)];
}

}  // namespace roadmq::storage
