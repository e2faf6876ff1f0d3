#include "net/timer_queue.hpp"

#include <utility>

#include "base/assert.hpp"

namespace roadmq::net {

TimerQueue::~TimerQueue() { clear(); }

const TimerQueue::Slot* TimerQueue::find(Handle h) const noexcept {
  if (!h.valid() || h.index_ >= slots_.size()) return nullptr;
  const Slot& s = slots_[h.index_];
  if (s.generation != h.generation_ || s.heap_pos == kFree) return nullptr;
  return &s;
}

void TimerQueue::place(std::uint32_t pos, const HeapEntry& e) noexcept {
  heap_[pos] = e;
  slots_[e.slot].heap_pos = pos;
}

void TimerQueue::sift_up(std::uint32_t pos) noexcept {
  const HeapEntry e = heap_[pos];
  while (pos > 0) {
    const std::uint32_t parent = (pos - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(pos, heap_[parent]);
    pos = parent;
  }
  place(pos, e);
}

void TimerQueue::sift_down(std::uint32_t pos) noexcept {
  const HeapEntry e = heap_[pos];
  const auto n = static_cast<std::uint32_t>(heap_.size());
  for (;;) {
    std::uint32_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(pos, heap_[child]);
    pos = child;
  }
  place(pos, e);
}

void TimerQueue::remove_at(std::uint32_t pos) noexcept {
  const auto last = static_cast<std::uint32_t>(heap_.size() - 1);
  if (pos != last) {
    place(pos, heap_[last]);
    heap_.pop_back();
    // The moved entry may belong above or below its new position.
    if (pos > 0 && before(heap_[pos], heap_[(pos - 1) / 2])) {
      sift_up(pos);
    } else {
      sift_down(pos);
    }
  } else {
    heap_.pop_back();
  }
}

TimerQueue::Callback TimerQueue::free_slot(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  Callback cb = std::move(s.cb);
  s.cb = nullptr;
  s.heap_pos = kFree;
  // Generation 0 means "invalid handle"; skip it on wrap-around.
  if (++s.generation == 0) s.generation = 1;
  free_.push_back(index);
  return cb;
}

void TimerQueue::wake_for(TimePoint key) {
  if (waker_.arm == nullptr) return;
  if (armed_ && *armed_ <= key) return;  // an earlier wake-up is already due
  armed_ = key;
  waker_.arm(waker_.context, key);
}

TimerQueue::Handle TimerQueue::schedule(TimePoint deadline, Callback cb) {
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    ROADMQ_ASSERT(slots_.size() < kFree);
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[index];
  s.cb = std::move(cb);
  s.deadline = deadline;
  s.seq = next_seq_++;
  heap_.push_back(HeapEntry{deadline, s.seq, index});
  sift_up(static_cast<std::uint32_t>(heap_.size() - 1));
  wake_for(deadline);
  return Handle{index, s.generation};
}

bool TimerQueue::cancel(Handle& h) noexcept {
  const Slot* s = find(h);
  const Handle old = std::exchange(h, Handle{});
  if (s == nullptr) return false;
  remove_at(s->heap_pos);
  // Destroyed once the queue is consistent again: the callback's destructor
  // may release an object whose destructor cancels another timer.
  Callback dropped = free_slot(old.index_);
  return true;
}

bool TimerQueue::reschedule(Handle h, TimePoint deadline) noexcept {
  if (find(h) == nullptr) return false;
  Slot& s = slots_[h.index_];
  s.deadline = deadline;
  s.seq = next_seq_++;
  HeapEntry& e = heap_[s.heap_pos];
  if (deadline >= e.key) return true;  // lazy: re-keyed when it reaches the top
  e.key = deadline;
  e.seq = s.seq;
  sift_up(s.heap_pos);
  wake_for(deadline);
  return true;
}

bool TimerQueue::pending(Handle h) const noexcept { return find(h) != nullptr; }

std::optional<TimerQueue::TimePoint> TimerQueue::deadline(Handle h) const noexcept {
  const Slot* s = find(h);
  if (s == nullptr) return std::nullopt;
  return s->deadline;
}

std::optional<TimerQueue::TimePoint> TimerQueue::next_wakeup() const noexcept {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().key;
}

std::size_t TimerQueue::run_expired(TimePoint now) {
  armed_.reset();  // the owner woke: whatever it had armed is spent
  const std::uint64_t limit = next_seq_;
  std::size_t fired = 0;
  while (!heap_.empty()) {
    HeapEntry& top = heap_.front();
    if (now < top.key || top.seq >= limit) break;
    Slot& s = slots_[top.slot];
    if (top.key < s.deadline || top.seq != s.seq) {
      // Extended lazily (or rescheduled later): move to its real place.
      top.key = s.deadline;
      top.seq = s.seq;
      sift_down(0);
      continue;
    }
    const std::uint32_t index = top.slot;
    remove_at(0);
    Callback cb = free_slot(index);
    ++fired;
    if (cb) cb();
  }
  if (!heap_.empty()) wake_for(heap_.front().key);
  return fired;
}

void TimerQueue::clear() noexcept {
  // Slots are kept (with bumped generations) so no handle issued before the
  // clear can ever match a timer scheduled after it. Callbacks are moved out
  // and destroyed last: a destructor may re-enter cancel().
  std::vector<Callback> dropped;
  dropped.reserve(heap_.size());
  for (const HeapEntry& e : heap_) dropped.push_back(free_slot(e.slot));
  heap_.clear();
  armed_.reset();
  dropped.clear();
}

}  // namespace roadmq::net
