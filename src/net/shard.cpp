#include "net/shard.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>

#include "base/thread_name.hpp"
#include "net/poller.hpp"

namespace roadmq::net {
namespace {

thread_local Shard* t_current = nullptr;

// Tasks run per mailbox wake-up before yielding to I/O again, so a flood of
// cross-shard messages cannot starve this shard's sockets.
constexpr std::size_t kMailboxBudget = 256;

// io_context::shutdown() is protected; the shard thread calls it itself so
// that every pending handler (and what it owns) dies on the owning thread.
class ShardContext : public boost::asio::io_context {  // not final: Asio traits derive from it
 public:
  // Hint 1: exactly one thread runs this context, which lets Asio queue
  // handlers posted from that thread without taking its mutex.
  ShardContext() : boost::asio::io_context(1) {}
  void shutdown_on_this_thread() { shutdown(); }
};

using ShardTimer =
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      boost::asio::io_context::executor_type>;
using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

}  // namespace

struct Shard::Runtime {
  ShardContext io;
  ShardTimer timer{io.get_executor()};
  std::optional<WorkGuard> work{io.get_executor()};
  Poller poller{io};
};

ShardId current_shard() noexcept {
  const Shard* s = t_current;
  return s != nullptr ? s->id() : ShardId::invalid();
}

bool on_shard(ShardId id) noexcept { return id.valid() && current_shard() == id; }

Shard::Shard(ShardPool& pool, ShardId id)
    : pool_(pool),
      id_(id),
      rt_(std::make_unique<Runtime>()),
      timers_(TimerQueue::Waker{
          [](void* self, TimerQueue::TimePoint at) { static_cast<Shard*>(self)->arm_timer(at); },
          this}) {}

Shard::~Shard() {
  ROADMQ_ASSERT(!thread_.joinable());
}

boost::asio::io_context& Shard::io() noexcept { return rt_->io; }

Poller& Shard::poller() noexcept {
  ROADMQ_ASSERT(is_current());
  return rt_->poller;
}

bool Shard::is_current() const noexcept { return t_current == this; }

Shard* Shard::current() noexcept { return t_current; }

void Shard::post_task(Task* task) {
  if (!accepting()) {
    delete task;
    return;
  }
  if (mailbox_.push(task)) schedule_mailbox_drain();
}

void Shard::schedule_mailbox_drain() {
  // Any thread. Asio must not be handed work while the shard thread shuts
  // its io_context down (Asio drains its queue there without its lock), so
  // wakers announce themselves and teardown waits for them. Only the push
  // that found the shard idle gets here: once per batch, not per post.
  wakers_.fetch_add(1, std::memory_order_seq_cst);
  if (io_open_.load(std::memory_order_seq_cst))
    boost::asio::post(rt_->io.get_executor(), [this] { drain_mailbox(); });
  wakers_.fetch_sub(1, std::memory_order_release);
}

void Shard::drain_mailbox() {
  std::size_t ran = 0;
  const Mailbox::Drain r = mailbox_.drain(kMailboxBudget, ran);
  counters_.mailbox_wakeups.add();
  counters_.mailbox_tasks.add(ran);
  if (r == Mailbox::Drain::more) schedule_mailbox_drain();
}

void Shard::defer(ShardObject& obj) {
  ROADMQ_ASSERT(is_current());
  if (obj.deferred_queued_) return;
  obj.deferred_queued_ = true;
  obj.deferred_next_ = nullptr;
  if (deferred_tail_ != nullptr) {
    deferred_tail_->deferred_next_ = &obj;
  } else {
    deferred_head_ = &obj;
  }
  deferred_tail_ = &obj;
  if (!deferred_posted_) {
    deferred_posted_ = true;
    boost::asio::post(rt_->io.get_executor(), [this] { drain_deferred(); });
  }
}

void Shard::drain_deferred() {
  deferred_posted_ = false;
  // Detach the batch: objects deferred while it runs go into the next one,
  // so an object that keeps deferring itself cannot monopolise the thread.
  ShardObject* o = std::exchange(deferred_head_, nullptr);
  deferred_tail_ = nullptr;
  while (o != nullptr) {
    ShardObject* next = o->deferred_next_;
    o->deferred_next_ = nullptr;
    o->deferred_queued_ = false;
    o->run_deferred();  // may destroy `o`; queued objects hold their own ref
    o = next;
  }
}

void Shard::register_object(ShardObject& obj) noexcept {
  ROADMQ_ASSERT(is_current());
  ROADMQ_ASSERT(!obj.registered_);
  obj.registered_ = true;
  obj.reg_prev_ = nullptr;
  obj.reg_next_ = reg_head_;
  if (reg_head_ != nullptr) reg_head_->reg_prev_ = &obj;
  reg_head_ = &obj;
  ++registered_count_;
}

void Shard::unregister_object(ShardObject& obj) noexcept {
  ROADMQ_ASSERT(is_current());
  if (!obj.registered_) return;
  if (obj.reg_prev_ != nullptr) {
    obj.reg_prev_->reg_next_ = obj.reg_next_;
  } else {
    reg_head_ = obj.reg_next_;
  }
  if (obj.reg_next_ != nullptr) obj.reg_next_->reg_prev_ = obj.reg_prev_;
  obj.reg_prev_ = obj.reg_next_ = nullptr;
  obj.registered_ = false;
  --registered_count_;
}

void Shard::arm_timer(TimerQueue::TimePoint at) {
  // expires_at() cancels the wait in progress (its handler sees
  // operation_aborted); TimerQueue only asks when the deadline moves earlier.
  rt_->timer.expires_at(at);
  rt_->timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_timer();
  });
}

void Shard::on_timer() { timers_.run_expired(TimerQueue::Clock::now()); }

void Shard::start_thread() {
  thread_ = std::thread([this] { thread_main(); });
}

void Shard::request_stop() noexcept {
  accepting_.store(false, std::memory_order_release);
  rt_->io.stop();
}

void Shard::join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::thread_main() {
  base::name_this_thread("shard-" + std::to_string(id_.value()));
  t_current = this;
  rt_->io.run();
  teardown();
  t_current = nullptr;
}

void Shard::teardown() {
  // Closing objects may defer work or drop timers that hold other objects;
  // a few passes reach a fixed point (two in practice).
  for (int pass = 0; pass < 8; ++pass) {
    while (reg_head_ != nullptr) {
      ShardObject* o = reg_head_;
      o->on_shard_stop();
      // An object that unregistered itself may be gone already; one still at
      // the head did not, and is alive while registered.
      if (reg_head_ == o) unregister_object(*o);
    }
    mailbox_.destroy_all();
    drain_deferred();
    timers_.clear();
    if (reg_head_ == nullptr && deferred_head_ == nullptr) break;
  }
  // No new wake-ups from other threads; wait out any in progress. Tasks that
  // still reach the mailbox stay there until the pool is destroyed.
  io_open_.store(false, std::memory_order_seq_cst);
  while (wakers_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  rt_->timer.cancel();
  rt_->work.reset();
  // Destroys handlers still queued or pending in the reactor, here, on the
  // owning thread, rather than in ~io_context on whoever destroys the pool.
  rt_->io.shutdown_on_this_thread();
}

ShardPool::~ShardPool() { stop(); }

void ShardPool::start(std::size_t count) {
  ROADMQ_ASSERT(!started_);
  ROADMQ_ASSERT(count >= 1);
  started_ = true;
  shards_.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
    shards_.push_back(std::unique_ptr<Shard>(new Shard(*this, ShardId(static_cast<std::uint32_t>(i)))));
  running_.store(true, std::memory_order_release);
  for (auto& s : shards_) s->start_thread();
}

void ShardPool::stop() {
  if (!running_.exchange(false, std::memory_order_acq_rel)) return;
  ROADMQ_ASSERT(Shard::current() == nullptr || &Shard::current()->pool() != this);
  // Refuse new cross-shard posts everywhere before any shard starts tearing
  // down, so a closing connection cannot post into a half-stopped shard.
  for (auto& s : shards_) s->accepting_.store(false, std::memory_order_release);
  for (auto& s : shards_) s->request_stop();
  for (auto& s : shards_) s->join();
}

NetCountersSnapshot ShardPool::counters() const noexcept {
  NetCountersSnapshot sum;
  for (const auto& s : shards_) sum += s->counters().snapshot();
  return sum;
}

}  // namespace roadmq::net
