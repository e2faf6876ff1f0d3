// What the broker needs from a connection and from the shard runtime, as
// interfaces, so broker/ never touches a socket or an io_context. The server
// module implements them over net/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mqtt/encoder.hpp"

namespace roadmq::broker {

struct ShardId {
  std::uint32_t value = 0;
  friend constexpr bool operator==(ShardId, ShardId) = default;
};

// One client connection, as the protocol side sees it. Owned by its shard.
class Transport {
 public:
  virtual ~Transport() = default;
  // Encoded packets are appended here and go out in one coalesced write
  // after the current handler returns (or at flush()).
  virtual mqtt::ByteBuffer& output() = 0;
  virtual void flush() = 0;
  // Bytes appended but not yet written; the router checks it for backpressure.
  virtual std::size_t output_pending() const = 0;
  // Bytes that may still be appended before output counts as blocked (the
  // backlog passed the high watermark); 0 while blocked. Once blocked, the
  // channel's on_writable() follows when the backlog has drained.
  virtual std::size_t output_headroom() const = 0;
  // Flush what is pending, then close. on_closed() follows on the same shard.
  virtual void close() = 0;
  // "ip:port", formatted when asked: the connection keeps the address only
  // in binary form.
  virtual std::string peer_address() const = 0;
  // Moves this connection (with its handler) to `shard`'s thread, then runs
  // `done` there. Nothing arrives from the connection in between.
  virtual void migrate(ShardId shard, std::function<void()> done) = 0;
};

// Services of the shard runtime the broker uses.
class ShardRuntime {
 public:
  virtual ~ShardRuntime() = default;
  virtual std::uint32_t shard_count() const = 0;
  // Runs `fn` on `shard`'s thread; batched by the runtime.
  virtual void post(ShardId shard, std::function<void()> fn) = 0;
};

}  // namespace roadmq::broker
