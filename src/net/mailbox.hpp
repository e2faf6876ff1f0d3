// Mailbox: the multi-producer, single-consumer task queue behind
// Shard::post(). Any thread pushes; only the owning shard drains. It is an
// intrusive Vyukov queue (one atomic exchange per push, no lock) plus a
// "scheduled" flag, so a burst of N posts costs the consumer one wake-up,
// not N: only the push that finds the consumer idle asks for a drain.
//
// Per-producer FIFO holds: tasks pushed by one thread run in push order.
//
// Thread safety: push() from any thread; drain()/destroy_all() only from the
// consumer (the shard thread). Tasks run and are destroyed on the consumer.
#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace roadmq::net {

struct MailboxNode {
  std::atomic<MailboxNode*> next{nullptr};
};

// A type-erased, move-only unit of work; one allocation per posted task.
class Task : public MailboxNode {
 public:
  virtual ~Task() = default;
  virtual void run() = 0;
};

namespace detail {
template <class F>
class FnTask final : public Task {
 public:
  template <class G>
  explicit FnTask(G&& g) : fn_(std::forward<G>(g)) {}
  void run() override { fn_(); }

 private:
  F fn_;
};
}  // namespace detail

template <class F>
Task* make_task(F&& fn) {
  return new detail::FnTask<std::decay_t<F>>(std::forward<F>(fn));
}

class Mailbox {
 public:
  enum class Drain {
    idle,  // queue seen empty; the consumer cleared "scheduled": do not reschedule
    more,  // budget used up, or a producer is mid-push: reschedule a drain
  };

  Mailbox() noexcept;
  ~Mailbox();  // destroys tasks never run
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Any thread. Takes ownership. Returns true when the caller must schedule
  // a drain on the consumer (it was idle); false when one is already due.
  [[nodiscard]] bool push(Task* task) noexcept;

  // Consumer only. Runs up to `budget` tasks, adding the count to `ran`.
  [[nodiscard]] Drain drain(std::size_t budget, std::size_t& ran);

  // Consumer only: deletes queued tasks without running them (shutdown).
  void destroy_all() noexcept;

 private:
  void push_node(MailboxNode* n) noexcept;
  Task* pop(bool& busy) noexcept;
  bool maybe_nonempty() const noexcept;

  alignas(64) std::atomic<MailboxNode*> head_;  // producers exchange here
  std::atomic<bool> scheduled_{false};
  alignas(64) MailboxNode* tail_;  // consumer-private
  MailboxNode stub_;
};

}  // namespace roadmq::net
