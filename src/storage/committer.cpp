#include "storage/committer.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "base/thread_name.hpp"
#include "storage/group_writes.hpp"

namespace roadmq::storage {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRelaxed = std::memory_order_relaxed;

std::uint64_t decode_be64(std::string_view key) noexcept {
  std::uint64_t v = 0;
  for (const char c : key) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

struct Pending {
  WriteBatch batch;
  Committer::Done done;
  bool deferrable = false;  // sync mode may leave its fsync to a later one
};

}  // namespace

struct Committer::Impl {
  Impl(KvStore& s, CommitterOptions o) : store(s), options(o) {}

  // --- shared with submitters and flush(), under mu -------------------------
  std::mutex mu;
  std::condition_variable wake;     // the committer: work, flush or stop
  std::condition_variable flushed;  // flush() callers: `durable` moved
  std::vector<Pending> queue;
  std::uint64_t submitted = 0;      // sequence number of the last submit()
  std::uint64_t durable = 0;        // all up to here written and fsynced (or failed)
  std::uint64_t flush_target = 0;
  bool idle = false;                // the committer sleeps on `wake`: notify it
  bool stopping = false;
  bool running = false;
  std::thread thread;

  // --- the committer's own (the control thread's while not running) ---------
  KvStore& store;
  const CommitterOptions options;
  std::vector<Pending> work;        // swapped with `queue`; both keep their capacity
  GroupWrites group;                // one group's writes, superseded ones dropped
  WriteBatch merged;                // reused: no allocation per write once warm
  std::unordered_map<std::uint64_t, std::uint32_t> refs;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> undo;  // (id, count before) for a failed write
  std::uint64_t written = 0;        // sequence number of the last batch written
  bool dirty = false;               // written without fsync since the last sync
  Clock::time_point sync_due{};
  std::uint64_t failed_in_burst = 0;

  // --- stats, read from anywhere --------------------------------------------
  // Touched by every submit(): kept off the committer's own counters' cache
  // line, so submitters and the committer do not bounce one line.
  alignas(64) std::atomic<std::uint64_t> batches_submitted{0};
  std::atomic<std::uint64_t> pending_bytes{0};
  // Written by the committer only.
  alignas(64) std::atomic<std::uint64_t> writes{0}, syncs{0}, ops{0}, bytes{0}, sync_ns_total{0},
      sync_ns_max{0}, errors{0}, messages_stored{0}, messages_deleted{0}, messages_live{0},
      ops_elided{0}, writes_unsynced{0};

  void run();
  void drain_inline();
  void process(std::vector<Pending>& items);
  void write_group(Pending* first, std::size_t count, std::size_t group_bytes);
  void sync_now();
  void record_sync(Clock::duration took);
  void failed(const char* what, const std::string& error, std::size_t batches);
  void succeeded();
};

// The committer loop. Each turn takes the whole queue in one swap (one lock
// per turn, however many batches arrived), writes it as a few merged writes,
// then fsyncs if a flush, a stop or the periodic deadline asks for it.
void Committer::Impl::run() {
  base::name_this_thread("committer");
  // Unsynced writes have a deadline in periodic mode, and in sync mode for
  // the removals it defers; none syncs only on flush() and stop().
  const bool timed = options.durability != Durability::none;
  std::unique_lock lock(mu);
  for (;;) {
    while (queue.empty() && !stopping && flush_target <= durable) {
      idle = true;
      if (timed && dirty) {
        if (wake.wait_until(lock, sync_due) == std::cv_status::timeout) break;
      } else {
        wake.wait(lock);
      }
    }
    idle = false;
    if (!queue.empty()) {
      work.swap(queue);
      const std::uint64_t end = submitted;
      lock.unlock();
      process(work);
      work.clear();  // destroys the batches and callbacks off the lock
      lock.lock();
      written = end;
    }
    // A flush is served once everything up to its target is written: a
    // sync before that would have to be repeated after the rest.
    const bool want_sync =
        dirty && ((flush_target > durable && flush_target <= written) || (stopping && queue.empty()) ||
                  (timed && Clock::now() >= sync_due));
    if (want_sync) {
      lock.unlock();
      sync_now();
      lock.lock();
    }
    if (!dirty && durable != written) {
      durable = written;
      flushed.notify_all();
    }
    if (stopping && queue.empty() && !dirty) return;
  }
}

// flush()/stop() without a running thread: the caller does the committer's
// work itself, so nothing submitted is ever left behind.
void Committer::Impl::drain_inline() {
  std::unique_lock lock(mu);
  while (!queue.empty()) {
    work.swap(queue);
    const std::uint64_t end = submitted;
    lock.unlock();
    process(work);
    work.clear();
    lock.lock();
    written = end;
  }
  lock.unlock();
  if (dirty) sync_now();
  lock.lock();
  durable = written;
}

void Committer::Impl::process(std::vector<Pending>& items) {
  std::size_t i = 0;
  while (i < items.size()) {
    // At least one batch per write, however large; then as many as fit.
    std::size_t j = i;
    std::size_t group_bytes = 0;
    do {
      group_bytes += items[j].batch.bytes();
      ++j;
    } while (j < items.size() && group_bytes + items[j].batch.bytes() <= options.max_batch_bytes);
    write_group(items.data() + i, j - i, group_bytes);
    i = j;
  }
}

void Committer::Impl::write_group(Pending* first, std::size_t count, std::size_t group_bytes) {
  merged.clear();
  group.clear();
  undo.clear();
  std::uint64_t stored = 0;
  std::uint64_t deleted = 0;
  std::uint64_t group_ops = 0;
  for (std::size_t k = 0; k < count; ++k) {
    const WriteBatch& batch = first[k].batch;
    group_ops += batch.ops();
    batch.for_each([&](const WriteBatch::Op& op) {
      switch (op.kind) {
        case WriteBatch::OpKind::put:
          group.put(op.table, op.key, op.value);
          break;
        case WriteBatch::OpKind::erase:
          group.erase(op.table, op.key);
          break;
        case WriteBatch::OpKind::erase_prefix:
          group.erase_prefix(op.table, op.key);
          break;
        case WriteBatch::OpKind::ref_message: {
          const auto [it, inserted] = refs.try_emplace(decode_be64(op.key), 0);
          undo.emplace_back(it->first, it->second);
          if (it->second++ == 0) {
            group.put_body(op.key, op.value);
            ++stored;
          }
          break;
        }
        case WriteBatch::OpKind::unref_message: {
          const auto id = decode_be64(op.key);
          const auto it = refs.find(id);
          if (it == refs.end()) {
            // Counts are rebuilt from outbound records at startup, so this
            // is a caller bug; keeping the body is the safe side (the next
            // collect_garbage() drops it if it really is unreferenced).
            ROADMQ_LOG_RATELIMITED(log::Level::warning, "storage: unref of message %llu, which has no reference",
                                   static_cast<unsigned long long>(id));
            break;
          }
          undo.emplace_back(id, it->second);
          if (--it->second == 0) {
            refs.erase(it);
            group.erase_body(op.key);
            ++deleted;
          }
          break;
        }
      }
    });
  }

  group.build(merged);
  ops_elided.fetch_add(group.elided(), kRelaxed);
  bool ok = true;
  if (!merged.empty()) {
    const bool sync = options.durability == Durability::sync &&
                      std::any_of(first, first + count, [](const Pending& p) { return !p.deferrable; });
    const auto t0 = Clock::now();
    auto status = store.write(merged, sync);
    const auto took = Clock::now() - t0;
    writes.fetch_add(1, kRelaxed);
    if (!status) {
      ok = false;
      // Nothing of the write is stored: the counts go back to what the
      // disk says, or a later ref would skip writing a body that is missing.
      for (auto u = undo.rbegin(); u != undo.rend(); ++u) {
        if (u->second == 0)
          refs.erase(u->first);
        else
          refs[u->first] = u->second;
      }
      failed("write", status.error().message, count);
    } else {
      if (sync) {
        record_sync(took);
        dirty = false;  // the fsync covered every earlier write too
      } else {
        if (options.durability == Durability::sync) writes_unsynced.fetch_add(1, kRelaxed);
        if (!dirty) {
          dirty = true;
          sync_due = Clock::now() + options.sync_interval;
        }
      }
      succeeded();
    }
  }

  ops.fetch_add(group_ops, kRelaxed);
  bytes.fetch_add(group_bytes, kRelaxed);
  pending_bytes.fetch_sub(group_bytes, kRelaxed);
  if (ok) {
    messages_stored.fetch_add(stored, kRelaxed);
    messages_deleted.fetch_add(deleted, kRelaxed);
  }
  messages_live.store(refs.size(), kRelaxed);
  for (std::size_t k = 0; k < count; ++k) {
    if (first[k].done) first[k].done(ok);
  }
}

void Committer::Impl::sync_now() {
  const auto t0 = Clock::now();
  auto status = store.sync_wal();
  const auto took = Clock::now() - t0;
  // Cleared even on failure: retrying a broken WAL in a loop helps nobody,
  // and the error is logged and counted.
  dirty = false;
  if (!status) {
    failed("WAL sync", status.error().message, 0);
    return;
  }
  record_sync(took);
  succeeded();
}

void Committer::Impl::record_sync(Clock::duration took) {
  const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
  syncs.fetch_add(1, kRelaxed);
  sync_ns_total.fetch_add(ns, kRelaxed);
  if (ns > sync_ns_max.load(kRelaxed)) sync_ns_max.store(ns, kRelaxed);  // single writer
}

// One line per burst of failures (a full disk fails every write) and one
// when writes work again, so the log shows the outage without flooding.
void Committer::Impl::failed(const char* what, const std::string& error, std::size_t batches) {
  errors.fetch_add(1, kRelaxed);
  if (failed_in_burst++ == 0) {
    ROADMQ_ERROR("storage: %s failed (%zu batches not stored; further failures not logged until one succeeds): %s",
                 what, batches, error.c_str());
  }
}

void Committer::Impl::succeeded() {
  if (failed_in_burst == 0) return;
  ROADMQ_WARN("storage: writes succeed again after %llu failures",
              static_cast<unsigned long long>(failed_in_burst));
  failed_in_burst = 0;
}

Committer::Committer(KvStore& store, CommitterOptions options)
    : impl_(std::make_unique<Impl>(store, options)) {}

Committer::~Committer() { stop(); }

void Committer::set_refs(std::uint64_t message_id, std::uint32_t refs) {
  auto& d = *impl_;
  if (refs == 0)
    d.refs.erase(message_id);
  else
    d.refs[message_id] = refs;
  d.messages_live.store(d.refs.size(), kRelaxed);
}

Expected<std::size_t, StoreError> Committer::collect_garbage() {
  auto& d = *impl_;
  // Keys first, deletes after: a store need not allow writes inside scan().
  std::vector<std::string> orphans;
  auto status = d.store.scan(Table::messages, "", [&](std::string_view key, std::string_view) {
    if (key.size() != 8 || !d.refs.contains(decode_be64(key))) orphans.emplace_back(key);
    return true;
  });
  if (!status) return Unexpected(status.error());
  WriteBatch batch;
  for (std::size_t i = 0; i < orphans.size(); ++i) {
    batch.erase(Table::messages, orphans[i]);
    if (batch.bytes() >= d.options.max_batch_bytes || i + 1 == orphans.size()) {
      if (auto st = d.store.write(batch, true); !st) return Unexpected(st.error());
      batch.clear();
    }
  }
  d.messages_deleted.fetch_add(orphans.size(), kRelaxed);
  return orphans.size();
}

void Committer::start() {
  auto& d = *impl_;
  std::lock_guard lock(d.mu);
  if (d.running) return;
  d.running = true;
  d.stopping = false;
  d.thread = std::thread([&d] { d.run(); });
}

void Committer::stop() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.running) {
      d.stopping = true;
      d.wake.notify_one();
    }
  }
  if (d.thread.joinable()) d.thread.join();
  {
    std::lock_guard lock(d.mu);
    d.running = false;
    d.stopping = false;
  }
  // Whatever was submitted while the thread wound down, or with no thread
  // at all, is written here rather than dropped.
  d.drain_inline();
}

void Committer::submit(WriteBatch&& batch, Done done, Waiter waiter) {
  auto& d = *impl_;
  const std::size_t size = batch.bytes();
  // Mode none acknowledges without waiting, but only while the writer keeps
  // up: past max_pending_bytes the caller waits for the write like in
  // periodic, so publishers are held back by their inflight windows instead
  // of growing the queue without bound.
  if (d.options.durability == Durability::none && done &&
      d.pending_bytes.load(kRelaxed) + size <= d.options.max_pending_bytes) {
    done(true);
    done = nullptr;
  }
  d.batches_submitted.fetch_add(1, kRelaxed);
  d.pending_bytes.fetch_add(size, kRelaxed);
  bool notify = false;
  {
    std::lock_guard lock(d.mu);
    const bool deferrable = waiter == Waiter::none && batch.only_removes();
    d.queue.push_back(Pending{std::move(batch), std::move(done), deferrable});
    ++d.submitted;
    notify = d.idle;
    d.idle = false;  // one wake-up per sleep: the rest of a burst pays no syscall
  }
  if (notify) d.wake.notify_one();
}

void Committer::flush() {
  auto& d = *impl_;
  std::unique_lock lock(d.mu);
  if (!d.running) {
    lock.unlock();
    d.drain_inline();
    return;
  }
  const std::uint64_t target = d.submitted;
  if (d.durable >= target) return;
  d.flush_target = std::max(d.flush_target, target);
  d.idle = false;
  d.wake.notify_one();
  d.flushed.wait(lock, [&] { return d.durable >= target; });
}

std::size_t Committer::pending_bytes() const noexcept { return impl_->pending_bytes.load(kRelaxed); }

bool Committer::overloaded() const noexcept {
  return impl_->pending_bytes.load(kRelaxed) > impl_->options.max_pending_bytes;
}

CommitterStats Committer::stats() const {
  const auto& d = *impl_;
  CommitterStats s;
  s.batches_submitted = d.batches_submitted.load(kRelaxed);
  s.writes = d.writes.load(kRelaxed);
  s.syncs = d.syncs.load(kRelaxed);
  s.ops = d.ops.load(kRelaxed);
  s.bytes = d.bytes.load(kRelaxed);
  s.sync_ns_total = d.sync_ns_total.load(kRelaxed);
  s.sync_ns_max = d.sync_ns_max.load(kRelaxed);
  s.errors = d.errors.load(kRelaxed);
  s.pending_bytes = d.pending_bytes.load(kRelaxed);
  s.messages_stored = d.messages_stored.load(kRelaxed);
  s.messages_deleted = d.messages_deleted.load(kRelaxed);
  s.messages_live = d.messages_live.load(kRelaxed);
  s.ops_elided = d.ops_elided.load(kRelaxed);
  s.writes_unsynced = d.writes_unsynced.load(kRelaxed);
  return s;
}

Durability Committer::durability() const noexcept { return impl_->options.durability; }

}  // namespace roadmq::storage
