// TimerQueue: many deadlines (one or more per session: keep-alive, will
// delay, close timeouts) on ONE steady timer per shard. A steady_timer per
// connection would cost ~100 bytes and a kernel timer-list entry each; here a
// timer costs one 56-byte slot plus a 24-byte heap entry.
//
// Structure: an indexed binary min-heap keyed by (deadline, sequence), with
// slots addressed by generation-checked handles so a stale handle (fired or
// cancelled) is harmless. Rescheduling to a LATER deadline - the keep-alive
// refresh on every packet - is O(1): only the slot's deadline changes, and
// the heap entry is re-keyed when it reaches the top. Earlier deadlines and
// cancels are O(log n). Equal deadlines fire in schedule order.
//
// The queue itself is sans-I/O: run_expired(now) fires what is due, and a
// Waker is told whenever the earliest deadline moves earlier, so the shard
// arms its asio timer while tests drive the queue with a fake clock.
//
// Thread safety: owned by one shard; every call on that shard's thread.
// Callbacks run inside run_expired(), after their handle became invalid.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace roadmq::net {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Duration = Clock::duration;
  using Callback = std::function<void()>;

  class Handle {
   public:
    constexpr Handle() noexcept = default;  // refers to nothing
    constexpr bool valid() const noexcept { return generation_ != 0; }
    friend constexpr bool operator==(Handle, Handle) noexcept = default;

   private:
    friend class TimerQueue;
    constexpr Handle(std::uint32_t index, std::uint32_t generation) noexcept
        : index_(index), generation_(generation) {}
    std::uint32_t index_ = 0;
    std::uint32_t generation_ = 0;
  };

  // Told to wake the owner at or after `earliest` to call run_expired(now).
  // A function and its context rather than a virtual interface, on purpose:
  // the wake-up runs on paths where the process may have no descriptor left
  // (the listener's EMFILE pause schedules a timer), and UBSan's vptr check
  // of a not-yet-seen dynamic type probes memory through pipe(2), which then
  // fails and aborts with a false "invalid vptr" on a live object.
  struct Waker {
    void (*arm)(void* context, TimePoint earliest) = nullptr;
    void* context = nullptr;
  };

  TimerQueue() noexcept = default;  // no waker: the owner polls (tests)
  explicit TimerQueue(Waker waker) noexcept : waker_(waker) {}
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  ~TimerQueue();

  [[nodiscard]] Handle schedule(TimePoint deadline, Callback cb);
  [[nodiscard]] Handle schedule_after(Duration delay, Callback cb) {
    return schedule(Clock::now() + delay, std::move(cb));
  }

  // Stops a pending timer (its callback is destroyed, not run) and resets
  // `h`. Returns false if it had already fired or been cancelled.
  bool cancel(Handle& h) noexcept;

  // Moves a pending timer's deadline (earlier or later). Returns false if it
  // is no longer pending. A rescheduled timer fires after earlier-scheduled
  // timers with the same deadline.
  bool reschedule(Handle h, TimePoint deadline) noexcept;

  bool pending(Handle h) const noexcept;
  std::optional<TimePoint> deadline(Handle h) const noexcept;

  // When the owner must wake next (may be earlier than the first real
  // deadline: a lazily extended timer wakes it once for nothing).
  std::optional<TimePoint> next_wakeup() const noexcept;

  // Fires, in (deadline, schedule order), every timer due at `now` that was
  // scheduled before this call; timers a callback schedules wait for the
  // next call even if already due, so a callback cannot starve the shard.
  // Returns the number fired.
  std::size_t run_expired(TimePoint now);

  std::size_t size() const noexcept { return heap_.size(); }
  bool empty() const noexcept { return heap_.empty(); }

  // Destroys every pending callback without running it (shard shutdown).
  void clear() noexcept;

 private:
  static constexpr std::uint32_t kFree = UINT32_MAX;

  struct Slot {
    Callback cb;
    TimePoint deadline{};     // the real deadline; >= the heap key
    std::uint64_t seq = 0;    // schedule order, for ties
    std::uint32_t heap_pos = kFree;
    std::uint32_t generation = 1;
  };
  struct HeapEntry {
    TimePoint key;
    std::uint64_t seq;
    std::uint32_t slot;
  };

  const Slot* find(Handle h) const noexcept;
  static bool before(const HeapEntry& a, const HeapEntry& b) noexcept {
    return a.key < b.key || (a.key == b.key && a.seq < b.seq);
  }
  void place(std::uint32_t pos, const HeapEntry& e) noexcept;
  void sift_up(std::uint32_t pos) noexcept;
  void sift_down(std::uint32_t pos) noexcept;
  void remove_at(std::uint32_t pos) noexcept;
  Callback free_slot(std::uint32_t index) noexcept;
  void wake_for(TimePoint key);

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<HeapEntry> heap_;
  std::uint64_t next_seq_ = 0;
  Waker waker_{};
  std::optional<TimePoint> armed_;  // what the waker was last asked for
};

}  // namespace roadmq::net
