// TCP connections: wrapping an accepted/connected socket as a Connection,
// and connecting out (cluster links, tests, load generators).
//
// Thread safety: every function here runs on the shard thread given as
// argument, and the resulting Connection belongs to that shard.
#pragma once

#include <chrono>
#include <functional>
#include <system_error>

#include "base/expected.hpp"
#include "net/connection.hpp"
#include "net/endpoint.hpp"
#include "net/unique_fd.hpp"

namespace roadmq::net {

// Takes ownership of a connected stream socket and returns it as an open,
// registered Connection of `shard` (no handler yet: call set_handler()).
// Sets O_NONBLOCK and TCP_NODELAY (per the group's options). `remote` saves
// a getpeername() when the caller already knows it (accept).
Expected<ConnectionPtr, std::error_code> adopt_tcp_socket(Shard& shard, UniqueFd fd,
                                                          ConnectionSlot slot);
Expected<ConnectionPtr, std::error_code> adopt_tcp_socket(Shard& shard, UniqueFd fd,
                                                          ConnectionSlot slot,
                                                          const Endpoint& remote);

// Connects to `to` without blocking; `done` runs later on `shard` with the
// connection (attach a handler there) or the error (std::errc::timed_out
// after `timeout`). Not called at all if the shard stops first.
using ConnectCallback = std::function<void(Expected<ConnectionPtr, std::error_code>)>;
void tcp_connect(Shard& shard, const Endpoint& to, ConnectionSlot slot,
                 std::chrono::milliseconds timeout, ConnectCallback done);

}  // namespace roadmq::net
