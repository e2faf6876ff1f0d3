// Transport-independent connection logic: read loop, write coalescing,
// backpressure, graceful close and migration. No Asio here; the transport
// (tcp_connection.cpp) supplies readiness waits and non-blocking I/O.
#include "net/connection.hpp"

#include <array>
#include <utility>

#include "base/assert.hpp"

namespace roadmq::net {
namespace {

// Deferred actions, run in this order by run_deferred().
enum : std::uint8_t {
  kNotify = 1 << 0,    // deliver on_closed()
  kMigrate = 1 << 1,   // try to finish a migration
  kRead = 1 << 2,      // read without waiting (data may already be there)
  kFlush = 1 << 3,     // write pending output
  kWritable = 1 << 4,  // deliver on_writable()
};

constexpr std::uint32_t kLingerReadsPerWake = 16;

}  // namespace

// ---------------------------------------------------------------------------
// ConnectionSlot

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& o) noexcept {
  if (this != &o) {
    release();
    group_ = std::move(o.group_);
    held_ = std::exchange(o.held_, false);
  }
  return *this;
}

ConnectionSlot ConnectionSlot::acquire(std::shared_ptr<ConnectionGroup> group) noexcept {
  ConnectionSlot s;
  if (!group) return s;
  const std::size_t max = group->max_;
  std::size_t cur = group->open_.load(std::memory_order_relaxed);
  do {
    if (max != 0 && cur >= max) {
      s.group_ = std::move(group);
      return s;  // group kept for its options, but no place held
    }
  } while (!group->open_.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed));
  s.group_ = std::move(group);
  s.held_ = true;
  return s;
}

void ConnectionSlot::release() noexcept {
  if (held_) {
    group_->open_.fetch_sub(1, std::memory_order_relaxed);
    held_ = false;
  }
}

ConnectionSlot ConnectionSlot::take() noexcept {
  ConnectionSlot s;
  s.group_ = group_;
  s.held_ = std::exchange(held_, false);
  return s;
}

// ---------------------------------------------------------------------------
// Migration hand-off

struct Connection::PendingMigration {
  ShardId target;
  MigrateCallback done;
};

// Everything that crosses to the target shard. Travels by value through the
// mailbox; if it never arrives (target stopping), its members close the
// socket and destroy the handler on whichever thread drops it.
struct MigrationPacket {
  std::unique_ptr<MovedTransport> transport;
  std::unique_ptr<ConnectionHandler> handler;
  OutputBuffer out;
  ConnectionSlot slot;
  Endpoint remote;
  Connection::MigrateCallback done;
  bool user_paused = false;
};

// Keeps the connection alive across a handler callback and flushes, once the
// outermost callback returns, everything the handler flushed meanwhile: the
// "one write per handler run" rule.
class Connection::DispatchScope {
 public:
  explicit DispatchScope(Connection& c) noexcept : c_(&c) { ++c.dispatch_depth_; }
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;
  ~DispatchScope() {
    if (--c_->dispatch_depth_ == 0 && c_->flush_requested_) c_->do_write();
  }

 private:
  ConnectionPtr c_;
};

// ---------------------------------------------------------------------------
// Lifecycle

Connection::Connection(Shard& shard, ConnectionSlot slot, const Endpoint& remote) noexcept
    : shard_(&shard), slot_(std::move(slot)), remote_(remote) {
  ROADMQ_ASSERT(shard.is_current());
  ROADMQ_ASSERT(slot_.group() != nullptr);
}

Connection::~Connection() {
  ROADMQ_ASSERT(shard_->is_current());
  ROADMQ_ASSERT(!attached_);
}

void Connection::attach() noexcept {
  ROADMQ_ASSERT(!attached_);
  shard_->register_object(*this);
  intrusive_ptr_add_ref(this);  // the registry's reference
  attached_ = true;
  shard_->counters().connections_open.add();
}

void Connection::detach() noexcept {
  if (!attached_) return;
  attached_ = false;
  shard_->unregister_object(*this);
  shard_->counters().connections_open.sub();
  intrusive_ptr_release(this);  // callers hold their own reference
}

void Connection::set_handler(std::unique_ptr<ConnectionHandler> handler) {
  ROADMQ_ASSERT(shard_->is_current());
  ROADMQ_ASSERT(handler != nullptr);
  ROADMQ_ASSERT(handler_ == nullptr);
  handler_ = std::move(handler);
  handler_->connection_ = this;
  if (state_ == State::open) {
    request_read();
  } else if (state_ == State::closed) {
    // Closed before anyone listened: this handler still gets its on_closed.
    if (close_code_ == 0) set_close_reason(make_error_code(Error::aborted));
    defer_action(kNotify);
  }
}

void Connection::defer_action(std::uint8_t action) {
  deferred_actions_ |= action;
  if (!deferred_queued()) {
    intrusive_ptr_add_ref(this);  // adopted by run_deferred()
    shard_->defer(*this);
  }
}

void Connection::run_deferred() {
  ConnectionPtr self(this, /*add_ref=*/false);
  const std::uint8_t a = std::exchange(deferred_actions_, 0);
  if (a & kNotify) notify_closed();
  if (a & kMigrate) continue_migration();
  if (a & kRead) do_read();
  if (a & kFlush) do_write();
  if (a & kWritable) notify_writable();
}

void Connection::on_shard_stop() {
  ConnectionPtr self(this);
  terminate(make_error_code(Error::shutdown));
  // The loop has stopped: deliver on_closed now rather than from a handler
  // run that will never come.
  if (deferred_actions_ & kNotify) {
    deferred_actions_ &= static_cast<std::uint8_t>(~kNotify);
    notify_closed();
  }
}

void Connection::on_wait_complete(Wait w, std::error_code ec) {
  set_wait_pending(w, false);
  switch (state_) {
    case State::closed:
    case State::moved:
      return;
    case State::migrating:
      continue_migration();
      return;
    default:
      break;
  }
  if (ec == std::errc::operation_canceled) {
    // Only we cancel (a migration that close() then called off): carry on
    // from wherever the connection is now.
    if (w == Wait::read) {
      request_read();
    } else {
      do_write();
    }
    return;
  }
  if (ec) {
    terminate(ec);
    return;
  }
  if (w == Wait::read) {
    do_read();
  } else {
    do_write();
  }
}

// ---------------------------------------------------------------------------
// Reading

void Connection::request_read() {
  if (read_wait_pending_) return;  // the wait's completion reads
  if (can_read() || state_ == State::lingering) defer_action(kRead);
}

void Connection::set_wait_pending(Wait w, bool pending) noexcept {
  if (w == Wait::read) {
    read_wait_pending_ = pending;
  } else {
    write_wait_pending_ = pending;
  }
}

void Connection::arm(Wait w) {
  if (transport_wait(w)) {
    set_wait_pending(w, true);
    return;
  }
  defer_action(w == Wait::read ? kRead : kFlush);
}

void Connection::resume_reading() {
  ROADMQ_ASSERT(shard_->is_current());
  user_paused_ = false;
  request_read();
}

void Connection::do_read() {
  if (read_wait_pending_) return;
  if (state_ == State::lingering) {
    linger_read();
    return;
  }
  if (!can_read()) return;
  DispatchScope scope(*this);
  const ConnectionOptions& o = options();
  NetCounters& counters = shard_->counters();
  std::size_t bytes_this_wake = 0;
  for (std::uint32_t i = 0;; ++i) {
    if (i == o.max_reads_per_wake || bytes_this_wake >= o.max_read_bytes_per_wake) {
      defer_action(kRead);  // fairness: let other connections run first
      return;
    }
    const std::span<std::uint8_t> buf = handler_->read_buffer(o.read_hint);
    if (!can_read()) return;
    if (buf.empty()) {
      user_paused_ = true;
      return;
    }
    const IoResult r = transport_read(buf);
    switch (r.status) {
      case IoResult::Status::would_block:
        arm(Wait::read);
        return;
      case IoResult::Status::eof:
        terminate(make_error_code(Error::peer_closed));
        return;
      case IoResult::Status::error:
        terminate(r.error);
        return;
      case IoResult::Status::ok:
        break;
    }
    counters.reads.add();
    counters.bytes_in.add(r.bytes);
    bytes_this_wake += r.bytes;
    handler_->on_read(r.bytes);
    if (!can_read()) return;
    // A short read emptied the socket; any later arrival raises a new
    // edge-triggered event, so waiting now saves a read that would return
    // EAGAIN.
    if (r.bytes < buf.size()) {
      arm(Wait::read);
      return;
    }
  }
}

void Connection::linger_read() {
  // Input after our FIN is discarded; it is read only so that closing with
  // it unread does not send a RST that could destroy our last output.
  static thread_local std::array<std::uint8_t, 4096> sink;
  for (std::uint32_t i = 0; i < kLingerReadsPerWake; ++i) {
    const IoResult r = transport_read(sink);
    switch (r.status) {
      case IoResult::Status::would_block:
        arm(Wait::read);
        return;
      case IoResult::Status::ok:
        shard_->counters().bytes_in.add(r.bytes);
        continue;
      case IoResult::Status::eof:
      case IoResult::Status::error:
        terminate(make_error_code(Error::local_close));
        return;
    }
  }
  terminate(make_error_code(Error::local_close));  // the peer keeps talking: stop waiting
}

// ---------------------------------------------------------------------------
// Writing

void Connection::flush() {
  ROADMQ_ASSERT(shard_->is_current());
  switch (state_) {
    case State::open:
    case State::draining:
    case State::migrating:
      break;
    case State::lingering:
    case State::closed:
    case State::moved:
      out_.clear();  // nothing more will be written
      return;
  }
  const ConnectionOptions& o = options();
  const std::size_t pending = out_.size();
  if (o.hard_limit != 0 && pending > o.hard_limit) {
    shard_->counters().output_overflows.add();
    terminate(make_error_code(Error::output_overflow));
    return;
  }
  if (!bp_paused_ && pending > o.high_watermark) {
    bp_paused_ = true;  // do_read() sees it and stops; no syscall needed
    shard_->counters().backpressure_pauses.add();
  }
  if (state_ == State::migrating || write_wait_pending_) return;  // written later
  if (dispatch_depth_ > 0) {
    flush_requested_ = true;  // written when the outermost callback returns
    return;
  }
  // Appended from another connection's callback (fan-out, fan-in).
  if (o.eager_write_bytes != 0 && pending >= o.eager_write_bytes) {
    ConnectionPtr self(this);  // a failed write may end the connection
    do_write();
    return;
  }
  defer_action(kFlush);
}

void Connection::prepare_output(std::size_t bytes) {
  std::vector<std::uint8_t>& storage = out_.bytes();
  if (storage.capacity() != 0) return;
  if (!shard_->output_spares().lend(storage)) storage.reserve(bytes);
}

void Connection::do_write() {
  flush_requested_ = false;
  if (write_wait_pending_) return;
  if (state_ != State::open && state_ != State::draining) return;
  std::array<std::span<const std::uint8_t>, kMaxSlices> slices;
  NetCounters& counters = shard_->counters();
  while (!out_.empty()) {
    const std::size_t n = out_.gather(slices);
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += slices[i].size();
    const IoResult r = transport_write({slices.data(), n});
    if (r.status == IoResult::Status::would_block) {
      arm(Wait::write);
      break;
    }
    if (r.status != IoResult::Status::ok) {
      terminate(r.error ? r.error : make_error_code(Error::peer_closed));
      return;
    }
    counters.writes.add();
    counters.bytes_out.add(r.bytes);
    out_.consume(r.bytes);
    if (r.bytes < total) {  // socket buffer full: the next try would EAGAIN
      arm(Wait::write);
      break;
    }
  }
  after_output_progress();
}

void Connection::after_output_progress() {
  const ConnectionOptions& o = options();
  if (out_.empty()) out_.trim(o.idle_output_capacity, shard_->output_spares());
  if (bp_paused_ && out_.size() <= o.low_watermark) {
    bp_paused_ = false;
    if (state_ == State::open) {
      request_read();
      defer_action(kWritable);
    }
  }
  if (state_ == State::draining && out_.empty() && !write_wait_pending_) begin_linger();
}

void Connection::notify_writable() {
  if (state_ != State::open || !handler_ || bp_paused_) return;
  DispatchScope scope(*this);
  handler_->on_writable();
}

// ---------------------------------------------------------------------------
// Closing

void Connection::close() {
  ROADMQ_ASSERT(shard_->is_current());
  if (state_ == State::migrating) {
    // Called off before the socket left: close here instead. The cancelled
    // waits complete harmlessly (see on_wait_complete).
    migration_.reset();
    state_ = State::open;
  }
  if (state_ != State::open) return;
  state_ = State::draining;
  close_timer_ = shard_->timers().schedule_after(
      options().close_timeout, [self = ConnectionPtr(this)] { self->on_close_timeout(); });
  if (!write_wait_pending_) defer_action(kFlush);
}

void Connection::abort() {
  ROADMQ_ASSERT(shard_->is_current());
  terminate(make_error_code(Error::aborted));
}

void Connection::on_close_timeout() {
  close_timer_ = {};
  if (state_ == State::draining) {
    shard_->counters().close_timeouts.add();
    terminate(make_error_code(Error::close_timeout));
  } else if (state_ == State::lingering) {
    terminate(make_error_code(Error::local_close));
  }
}

void Connection::begin_linger() {
  state_ = State::lingering;
  transport_shutdown_send();
  if (handler_) {
    set_close_reason(make_error_code(Error::local_close));
    defer_action(kNotify);
  }
  request_read();
}

void Connection::terminate(std::error_code reason) {
  if (state_ == State::closed || state_ == State::moved) return;
  ConnectionPtr self(this);  // detach() drops the registry's reference
  const bool notify = state_ != State::lingering;  // lingering: already told
  state_ = State::closed;
  migration_.reset();  // a pending migration is answered by on_closed
  if (close_timer_.valid()) shard_->timers().cancel(close_timer_);
  transport_close();
  out_.clear();
  out_.trim(0);
  slot_.release();
  shard_->counters().connections_closed.add();
  detach();
  if (notify && handler_) {
    set_close_reason(reason);
    defer_action(kNotify);
  }
}

void Connection::notify_closed() {
  if (!handler_) return;
  std::unique_ptr<ConnectionHandler> h = std::move(handler_);
  h->on_closed(close_reason());
}

void Connection::set_close_reason(std::error_code ec) noexcept {
  if (ec.category() == net_category()) {
    close_code_ = ec.value();
    close_code_is_errno_ = false;
  } else if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
    close_code_ = ec.value();
    close_code_is_errno_ = true;
  } else {
    // Transports report errno values; anything else is unexpected here.
    close_code_ = static_cast<std::int32_t>(Error::aborted);
    close_code_is_errno_ = false;
  }
}

std::error_code Connection::close_reason() const noexcept {
  if (close_code_is_errno_) return {close_code_, std::system_category()};
  return {close_code_, net_category()};
}

Endpoint Connection::local_endpoint() const {
  if (state_ == State::closed || state_ == State::moved) return {};
  return transport_local_endpoint();
}

// ---------------------------------------------------------------------------
// Migration

void Connection::migrate_to(ShardId target, MigrateCallback done) {
  ROADMQ_ASSERT(shard_->is_current());
  ROADMQ_ASSERT(target.value() < shard_->pool().size());
  ROADMQ_ASSERT(handler_ != nullptr);
  if (state_ != State::open) return;  // closing: on_closed answers instead
  state_ = State::migrating;
  migration_ = std::make_unique<PendingMigration>(PendingMigration{target, std::move(done)});
  transport_cancel();  // pending waits complete (cancelled) and call us back
  defer_action(kMigrate);
}

void Connection::continue_migration() {
  if (state_ != State::migrating) return;
  // The socket leaves this io_context only once no wait references it.
  if (read_wait_pending_ || write_wait_pending_ || dispatch_depth_ > 0) return;
  ConnectionPtr self(this);
  std::error_code ec;
  std::unique_ptr<MovedTransport> moved = transport_export(ec);
  if (!moved) {
    terminate(ec);
    return;
  }
  MigrationPacket p;
  p.transport = std::move(moved);
  p.handler = std::move(handler_);
  p.out = std::move(out_);
  p.slot = slot_.take();  // slot_ keeps the group, so options() stays valid
  p.remote = remote_;
  p.user_paused = user_paused_;
  p.done = std::move(migration_->done);
  const ShardId target = migration_->target;
  migration_.reset();
  state_ = State::moved;
  shard_->counters().migrations_out.add();
  detach();
  shard_->pool().post(target, [p = std::move(p)]() mutable {
    arrive(*Shard::current(), std::move(p));
  });
}

void Connection::arrive(Shard& target, MigrationPacket&& p) {
  std::error_code ec;
  ConnectionPtr c = p.transport->rebuild(target, p.slot.take(), p.remote, ec);
  if (!c) {
    // p's members close the socket and destroy the handler (no on_closed:
    // there is no connection left to report from; see migrate_to()).
    target.counters().connections_closed.add();
    return;
  }
  c->handler_ = std::move(p.handler);
  c->handler_->connection_ = c.get();
  c->out_ = std::move(p.out);
  c->user_paused_ = p.user_paused;
  c->bp_paused_ = c->out_.size() > c->options().high_watermark;
  target.counters().migrations_in.add();
  {
    DispatchScope scope(*c);
    c->flush_requested_ = !c->out_.empty();  // output carried over goes first
    if (p.done) p.done(*c);
  }
  c->request_read();  // not a wait: input may have arrived during the move
}

}  // namespace roadmq::net
