// TcpListener: accepts TCP connections for a ShardPool.
//
// With SO_REUSEPORT (the default) every shard gets its own listening socket
// on the same address and the kernel spreads incoming connections over them,
// so accepting scales with shards and needs no cross-shard hand-off. Where
// SO_REUSEPORT is unavailable (or ReusePort::no), one socket on shard 0
// accepts and hands sockets round-robin to the shards through their
// mailboxes.
//
// Over max_connections a connection is accepted and closed at once
// (connections_refused). Accept errors are counted; running out of
// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting
// on that shard for accept_error_pause instead of spinning on an error that
// repeats at once (accept_pauses), and the error callback hears about it.
//
// Thread safety: the TcpListener object is driven from one control thread
// (start/stop/destroy), usually the app's main thread. The callbacks run on
// shard threads, several at once: they must be safe to call concurrently.
// Per-shard acceptors live on, and are destroyed by, their shard.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "base/expected.hpp"
#include "net/connection.hpp"
#include "net/endpoint.hpp"
#include "net/shard.hpp"

namespace roadmq::net {

enum class ReusePort : bool { no, yes };

struct ListenerOptions {
  std::string bind = "0.0.0.0:1883";  // "host:port", "[v6]:port"; port 0 = ephemeral
  int backlog = 1024;
  std::size_t max_connections = 0;  // 0: unlimited
  ReusePort reuse_port = ReusePort::yes;
  bool ipv6_only = false;  // "[::]" also accepts IPv4 unless set
  std::chrono::milliseconds accept_error_pause{100};
  ConnectionOptions connection{};
};

struct ListenerError {
  std::error_code code;
  std::string what;  // "bind 127.0.0.1:1883: Address already in use"
};

class TcpListener {
 public:
  // On the connection's shard, right after accept. Attach a handler with
  // conn.set_handler(); a connection left without one is closed.
  using AcceptCallback = std::function<void(Connection& conn)>;
  // On the shard that hit the error (for the caller's rate-limited log).
  using ErrorCallback = std::function<void(ShardId shard, std::error_code error)>;

  TcpListener(ShardPool& pool, ListenerOptions options, AcceptCallback on_accept,
              ErrorCallback on_error = {});
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener();  // stop()

  // Binds and listens synchronously (so a bad address or a port in use is
  // reported here), then hands the sockets to the shards. The pool must be
  // running. Once per listener.
  Expected<void, ListenerError> start();

  // Stops accepting: closes the listening sockets. Connections already
  // accepted are not touched. From a non-shard thread it returns once every
  // shard has closed its socket; from a shard thread it cannot wait (that
  // could deadlock) and returns at once. Idempotent.
  void stop();

  std::uint16_t local_port() const noexcept { return local_.port; }
  const Endpoint& local_endpoint() const noexcept { return local_; }
  // True when each shard accepts on its own SO_REUSEPORT socket.
  bool reuse_port() const noexcept;
  // Connections accepted by this listener and still open (any thread).
  std::size_t open_connections() const noexcept;

  struct Shared;  // state shared with the per-shard acceptors

 private:
  ShardPool& pool_;
  ListenerOptions options_;
  std::shared_ptr<Shared> shared_;
  Endpoint local_;
  bool started_ = false;
};

}  // namespace roadmq::net
