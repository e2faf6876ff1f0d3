// Connection: one byte-stream connection (TCP now, TLS later) owned by its
// shard, and ConnectionHandler, the interface the protocol side implements.
// The net module knows nothing of MQTT: it moves bytes, coalesces writes,
// applies backpressure and can move a live connection to another shard.
//
// Ownership and thread affinity
//  * A Connection belongs to one shard; every call and every ConnectionPtr
//    copy/release happens on that shard's thread (asserted in debug builds;
//    the reference count is not atomic). The shard registry holds a reference
//    while the socket is open; pending I/O and deferred work hold their own,
//    so a close racing a write or a migration never frees memory in use.
//  * The Connection owns its handler (unique_ptr). The handler is destroyed
//    right after on_closed() returns, on the connection's shard. No handler
//    callback follows on_closed(), and callbacks never nest: a close or abort
//    requested inside a callback is delivered from a fresh handler run.
//  * migrate_to() moves the socket, the pending output and the handler to a
//    new Connection object on the target shard; the old object becomes inert.
//
// Reading: readiness-based. An idle connection has only a wait pending on
// its socket and holds no read buffer; when data arrives the handler is asked
// for a buffer (read_buffer) and the bytes land there directly (on_read).
//
// Writing: the handler appends to out() and calls flush(). All output
// flushed during one handler run (or one batch of deferred work, e.g. a
// fan-out that delivers to many connections) leaves in ONE writev. While the
// socket is not writable, new output accumulates and goes in the next one.
//
// State machine:
//
//   open ──close()──▶ draining ──output flushed──▶ lingering ──EOF/timeout──▶ closed
//    │  │                 │      (FIN sent; on_closed(local_close))           ▲
//    │  │                 └──────── close_timeout / error ────────────────────┤
//    │  └──abort() / error / EOF / hard limit ───────────────────────────────┤
//    └──migrate_to()──▶ migrating ──socket released──▶ moved (new object on target)
//                          └── close()/abort() before release ───────────────┘
//
// Backpressure: output_pending() > high_watermark pauses reading (counted)
// and output_blocked() turns true; once the backlog drains to
// low_watermark reading resumes and on_writable() is called. Output above
// hard_limit closes the connection with Error::output_overflow.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <system_error>

#include <boost/smart_ptr/intrusive_ptr.hpp>

#include "net/endpoint.hpp"
#include "net/error.hpp"
#include "net/output_buffer.hpp"
#include "net/shard.hpp"
#include "net/timer_queue.hpp"

namespace roadmq::net {

class Connection;
class MovedTransport;
struct MigrationPacket;
using ConnectionPtr = boost::intrusive_ptr<Connection>;

enum class NoDelay : bool { no, yes };

struct ConnectionOptions {
  std::size_t read_hint = 1024;           // size suggested to read_buffer()
  std::uint32_t max_reads_per_wake = 16;  // then yield to other connections
  std::size_t max_read_bytes_per_wake = 64u << 10;  // ... or once this much came in
  // Output appended from another connection's callback (fan-in, fan-out)
  // waits for that callback to end; once this much is pending it is written
  // at once, so one busy publisher cannot hold a subscriber's backlog up to
  // the high watermark. 0: always wait.
  std::size_t eager_write_bytes = 64u << 10;
  std::size_t high_watermark = 1u << 20;  // pending output that pauses reading
  std::size_t low_watermark = 256u << 10; // ... and that resumes it
  std::size_t hard_limit = 16u << 20;     // pending output that closes (0: none)
  std::size_t idle_output_capacity = 512; // output storage kept once drained
  std::chrono::milliseconds close_timeout{5000};  // close(): flush + linger bound
  NoDelay no_delay = NoDelay::yes;
  // Kernel socket buffers (SO_SNDBUF / SO_RCVBUF); 0 keeps the kernel's
  // autotuning. With millions of connections these, not user memory,
  // dominate: small values trade bulk throughput for memory.
  int send_buffer = 0;
  int receive_buffer = 0;
};

// Shared by the connections of one listener (or one outbound client kind):
// their options and the count of open connections max_connections checks.
// Thread safety: immutable options; the count is atomic (touched once per
// connection open/close, never per message).
class ConnectionGroup {
 public:
  explicit ConnectionGroup(ConnectionOptions options, std::size_t max_connections = 0) noexcept
      : options_(options), max_(max_connections) {}
  const ConnectionOptions& options() const noexcept { return options_; }
  std::size_t max_connections() const noexcept { return max_; }
  std::size_t open() const noexcept { return open_.load(std::memory_order_relaxed); }

 private:
  friend class ConnectionSlot;
  ConnectionOptions options_;
  std::size_t max_;  // 0: unlimited
  std::atomic<std::size_t> open_{0};
};

// One counted place in a ConnectionGroup, held by a connection while its
// socket is open and moved along when it migrates. Releases on destruction.
// Thread safety: a move-only value; the group count is atomic.
class ConnectionSlot {
 public:
  ConnectionSlot() noexcept = default;
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : group_(std::move(o.group_)), held_(std::exchange(o.held_, false)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() { release(); }

  // Takes a place if the group is below its maximum; empty otherwise.
  static ConnectionSlot acquire(std::shared_ptr<ConnectionGroup> group) noexcept;

  explicit operator bool() const noexcept { return held_; }
  const std::shared_ptr<ConnectionGroup>& group() const noexcept { return group_; }
  void release() noexcept;  // gives the place back; keeps the group (options)
  // Moves the place (if held) into a new slot; this one keeps the group.
  [[nodiscard]] ConnectionSlot take() noexcept;

 private:
  std::shared_ptr<ConnectionGroup> group_;
  bool held_ = false;
};

// Implemented by the protocol side (e.g. the MQTT session adapter). All calls
// come on the connection's shard, never nested, never after on_closed().
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;

  // Where the next read lands: the protocol side's own decoder buffer, so no
  // copy. `hint` is a suggested size (ConnectionOptions::read_hint). An empty
  // span pauses reading until Connection::resume_reading().
  virtual std::span<std::uint8_t> read_buffer(std::size_t hint) = 0;
  // `n` (> 0) bytes were written at the start of the last read_buffer().
  virtual void on_read(std::size_t n) = 0;
  // The last callback. `reason`: an Error (peer_closed, local_close, ...)
  // or a system error (ECONNRESET, EPIPE, ...). The handler is destroyed
  // right after it returns.
  virtual void on_closed(std::error_code reason) = 0;
  // Output drained to the low watermark after output_blocked() was true.
  virtual void on_writable() {}

  // The connection this handler is attached to (follows migrations).
  Connection& connection() const noexcept { return *connection_; }

 private:
  friend class Connection;
  Connection* connection_ = nullptr;
};

class Connection : public ShardObject {
 public:
  using MigrateCallback = std::function<void(Connection&)>;

  ~Connection() override;

  Shard& shard() const noexcept { return *shard_; }
  ShardId shard_id() const noexcept { return shard_->id(); }

  // Attaches the protocol side and starts reading. Once per connection.
  void set_handler(std::unique_ptr<ConnectionHandler> handler);
  ConnectionHandler* handler() const noexcept { return handler_.get(); }

  // Output: append, then flush(). Appends without a flush are not written.
  OutputBuffer& out() noexcept { return out_; }
  // Before appending to out().bytes() without storage (a burst starting):
  // takes a drained buffer the shard keeps, or reserves `bytes` afresh.
  void prepare_output(std::size_t bytes);
  void flush();
  std::size_t output_pending() const noexcept { return out_.size(); }
  // True from high_watermark until drained to low_watermark.
  bool output_blocked() const noexcept { return bp_paused_; }
  // Bytes that may still be appended before the next flush() blocks output
  // (pending passes high_watermark); 0 while blocked. A writer that stops
  // only once it has used all of it is sure to get on_writable() later.
  std::size_t output_headroom() const noexcept {
    const std::size_t high = options().high_watermark;
    if (bp_paused_ || out_.size() > high) return 0;
    return high - out_.size() + 1;
  }

  // Application-level read pause (rate limits, waiting on storage).
  void pause_reading() noexcept { user_paused_ = true; }
  void resume_reading();
  bool reading_paused() const noexcept { return user_paused_ || bp_paused_; }

  // Graceful: stop reading, flush pending output, send FIN, then discard
  // input until the peer closes (so unread input cannot turn our FIN into a
  // RST that would destroy the last bytes we sent), all within close_timeout.
  // on_closed(Error::local_close) once the output is flushed.
  void close();
  // Immediate: drop pending output and close the socket;
  // on_closed(Error::aborted) follows from a fresh handler run.
  void abort();
  // Open for reading and writing (not closing, closed or migrated away).
  bool is_open() const noexcept { return state_ == State::open; }

  const Endpoint& remote_endpoint() const noexcept { return remote_; }
  // For PROXY protocol: the real client address, once the header is parsed.
  void set_remote_endpoint(const Endpoint& e) noexcept { remote_ = e; }
  Endpoint local_endpoint() const;  // a getsockname() call; none once closed

  // Moves this connection to shard `target`: reading stops here, the socket
  // leaves this shard's io_context, and on the target a new Connection
  // object takes the socket, pending output and handler, then `done` runs
  // there with it (handler().connection() already refers to it), then reading
  // resumes. This object becomes inert: drop references to it. If the
  // connection closes first, `done` is dropped and the handler gets
  // on_closed() instead: exactly one of the two follows. Exception: if the
  // socket cannot be re-registered on the target, or the target is stopping,
  // the handler is destroyed with neither (handlers must also release what
  // they hold in their destructor).
  void migrate_to(ShardId target, MigrateCallback done);

  const ConnectionOptions& options() const noexcept { return slot_.group()->options(); }

 protected:
  enum class Wait : std::uint8_t { read, write };
  struct IoResult {
    enum class Status : std::uint8_t { ok, would_block, eof, error };
    std::size_t bytes = 0;
    Status status = Status::ok;
    std::error_code error{};
  };
  // Gather limit per write: 64 slices, as Asio uses.
  static constexpr std::size_t kMaxSlices = 64;

  Connection(Shard& shard, ConnectionSlot slot, const Endpoint& remote) noexcept;

  // Registers with the shard and counts the connection open. Called by the
  // transport's factory once construction is complete.
  void attach() noexcept;
  void detach() noexcept;
  // The transport's wait finished (ec: operation_canceled when cancelled).
  void on_wait_complete(Wait w, std::error_code ec);

  // Transport hooks: TCP today; a TLS transport implements the same
  // readiness + non-blocking model (SSL_read / SSL_write on the socket).
  // Starts a wait, one per direction at a time, and returns true; or false
  // when the socket is known to be ready already (no wait started).
  virtual bool transport_wait(Wait w) = 0;
  virtual IoResult transport_read(std::span<std::uint8_t> buf) noexcept = 0;
  virtual IoResult transport_write(std::span<const std::span<const std::uint8_t>> bufs) noexcept = 0;
  virtual void transport_cancel() noexcept = 0;  // pending waits complete cancelled
  virtual void transport_shutdown_send() noexcept = 0;
  virtual void transport_close() noexcept = 0;
  // Detaches the transport for migration (no waits pending). nullptr + ec
  // on failure.
  virtual std::unique_ptr<MovedTransport> transport_export(std::error_code& ec) noexcept = 0;
  virtual Endpoint transport_local_endpoint() const noexcept = 0;

 private:
  friend class MovedTransport;
  friend struct MigrationPacket;
  friend void intrusive_ptr_add_ref(Connection* c) noexcept;
  friend void intrusive_ptr_release(Connection* c) noexcept;
  class DispatchScope;

  enum class State : std::uint8_t { open, draining, lingering, closed, migrating, moved };

  void run_deferred() override;
  void on_shard_stop() override;

  bool can_read() const noexcept {
    return state_ == State::open && handler_ && !user_paused_ && !bp_paused_;
  }
  void defer_action(std::uint8_t action);
  void request_read();
  void set_wait_pending(Wait w, bool pending) noexcept;
  void arm(Wait w);
  void do_read();
  void linger_read();
  void do_write();
  void after_output_progress();
  void begin_linger();
  void on_close_timeout();
  void terminate(std::error_code reason);
  void notify_closed();
  void set_close_reason(std::error_code ec) noexcept;
  std::error_code close_reason() const noexcept;
  void notify_writable();
  void continue_migration();
  static void arrive(Shard& target, MigrationPacket&& packet);

  Shard* shard_;
  ConnectionSlot slot_;
  std::unique_ptr<ConnectionHandler> handler_;
  OutputBuffer out_;
  Endpoint remote_;
  std::uint32_t refs_ = 0;
  State state_ = State::open;
  std::uint8_t deferred_actions_ = 0;
  std::uint8_t dispatch_depth_ = 0;
  bool read_wait_pending_ : 1 = false;
  bool write_wait_pending_ : 1 = false;
  bool user_paused_ : 1 = false;
  bool bp_paused_ : 1 = false;
  bool flush_requested_ : 1 = false;
  bool attached_ : 1 = false;
  bool close_code_is_errno_ : 1 = false;
  TimerQueue::Handle close_timer_;
  // What on_closed() will report, kept in 4 bytes (+1 bit): a net::Error
  // value or an errno. 0: none yet.
  std::int32_t close_code_ = 0;
  struct PendingMigration;
  std::unique_ptr<PendingMigration> migration_;
};

// Reference counting for ConnectionPtr: not atomic, owner shard only.
inline void intrusive_ptr_add_ref(Connection* c) noexcept {
  ROADMQ_ASSERT(c->shard_->is_current());
  ++c->refs_;
}
inline void intrusive_ptr_release(Connection* c) noexcept {
  ROADMQ_ASSERT(c->shard_->is_current());
  if (--c->refs_ == 0) delete c;
}

// A transport detached from its shard for migration; rebuilds a Connection
// of the same kind on the target shard. Thread safety: handed from the
// source shard to the target through the mailbox; used by one thread at a
// time. Its destructor closes the transport if it never arrived.
class MovedTransport {
 public:
  virtual ~MovedTransport() = default;
  // Target shard thread. Returns a new, attached Connection, or nullptr + ec.
  virtual ConnectionPtr rebuild(Shard& target, ConnectionSlot slot, const Endpoint& remote,
                                std::error_code& ec) = 0;
};

}  // namespace roadmq::net
