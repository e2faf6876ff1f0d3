// Group commit: batches submitted from every shard are merged and written by
// one thread, so one write-ahead-log fsync covers many messages from many
// connections. The durability mode decides when a batch counts as done:
//
//   sync      done after the WAL fsync that covers it: survives kill -9 and
//             power loss. A batch submitted with Waiter::none that only
//             removes data (a delivered message's record and body) is
//             written at once but fsynced by the next fsync or within
//             `sync_interval`, whichever comes first: nothing is
//             acknowledged on it, and losing it brings back a delivery
//             (sent again, as at least once allows), never loses one.
//   periodic  done once written to the WAL (the OS page cache): survives
//             kill -9; a power loss loses at most `sync_interval`, the
//             period of the background fsync.
//   none      done at once, written in the background without waiting:
//             kill -9 loses what was still queued (typically milliseconds).
//             While more than max_pending_bytes wait, done follows the write
//             instead (as in periodic): the queue stays bounded.
//
//   shard threads ── submit(batch, done) ──▶ [pending queue] ──▶ committer thread
//                                                                  merge ≤ max_batch_bytes
//                                                                  resolve message refs
//                                                                  drop superseded writes
//                                                                  KvStore::write(sync?)
//   shard threads ◀── done(ok) (they post back to themselves) ◀──┘
//
// Message blobs: the committer keeps an in-memory reference count per
// message id; ref_message() writes the body when the count goes 0 → 1,
// unref_message() deletes it at 1 → 0, so a message queued for 10,000
// sessions is stored once. Counts are not stored: at startup the owner
// rebuilds them with set_refs() from the outbound records, then calls
// collect_garbage() to drop bodies nothing refers to.
//
// Bounds: the pending queue is not refused, but pending_bytes() and
// overloaded() (above max_pending_bytes) let the broker pause readers.
//
// Thread safety: submit(), pending_bytes(), overloaded(), stats() from any
// thread; set_refs()/collect_garbage() before start(); flush() and stop()
// from one control thread. `done` runs on the committer thread (or, in mode
// none, on the submitting thread inside submit()): keep it short, post work.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "storage/kv_store.hpp"

namespace roadmq::storage {

enum class Durability : std::uint8_t { sync, periodic, none };

struct CommitterOptions {
  Durability durability = Durability::sync;
  // periodic: background fsync period; sync: longest an unacknowledged
  // removal stays unsynced.
  std::chrono::milliseconds sync_interval{100};
  std::size_t max_batch_bytes = 8u << 20;        // one merged write at most this large
  std::size_t max_pending_bytes = 256u << 20;    // above it, overloaded() is true
};

struct CommitterStats {
  std::uint64_t batches_submitted = 0;
  std::uint64_t writes = 0;            // merged KvStore::write calls (group commits)
  std::uint64_t syncs = 0;             // WAL fsyncs
  std::uint64_t writes_unsynced = 0;   // sync mode: removals left to a later fsync
  std::uint64_t ops = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sync_ns_total = 0;     // time in write(sync=true) / sync_wal()
  std::uint64_t sync_ns_max = 0;
  std::uint64_t errors = 0;
  std::uint64_t pending_bytes = 0;
  std::uint64_t messages_stored = 0;   // blobs written (refs 0 → 1)
  std::uint64_t messages_deleted = 0;  // blobs deleted (refs 1 → 0)
  std::uint64_t messages_live = 0;
  std::uint64_t ops_elided = 0;        // superseded within a group, never written
};

// Whether something is acknowledged once a batch is stored (see sync above).
enum class Waiter : std::uint8_t { ack, none };

class Committer {
 public:
  // ok is false when the write failed (the error is logged and counted);
  // nothing of that batch may be assumed stored.
  using Done = std::function<void(bool ok)>;

  Committer(KvStore& store, CommitterOptions options);
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;
  ~Committer();  // stop()

  void set_refs(std::uint64_t message_id, std::uint32_t refs);
  // Deletes message bodies with no reference; returns how many.
  [[nodiscard]] Expected<std::size_t, StoreError> collect_garbage();

  void start();
  // Writes everything submitted so far, fsyncs, then stops the thread.
  void stop();

  // Batches are applied in the order submit() calls return. `done` may be
  // empty. An empty batch still gets its `done` (in order).
  void submit(WriteBatch&& batch, Done done, Waiter waiter = Waiter::ack);
  // Blocks until everything submitted before the call is durable (fsynced),
  // whatever the mode.
  void flush();

  std::size_t pending_bytes() const noexcept;
  bool overloaded() const noexcept;
  CommitterStats stats() const;
  Durability durability() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace roadmq::storage
