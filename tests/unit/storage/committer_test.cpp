#include "storage/committer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage_test_util.hpp"

namespace roadmq::storage {
namespace {

using namespace std::chrono_literals;
using test::dump;
using test::FakeStore;
using test::TempDir;
using ::testing::HasSubstr;

CommitterOptions mode(Durability d, std::chrono::milliseconds sync_interval = CommitterOptions{}.sync_interval) {
  CommitterOptions o;
  o.durability = d;
  o.sync_interval = sync_interval;
  return o;
}

WriteBatch put_batch(Table t, const std::string& key, const std::string& value = "v") {
  WriteBatch b;
  b.put(t, key, value);
  return b;
}

bool has(KvStore& store, Table t, const std::string& key) {
  auto r = store.get(t, key);
  EXPECT_TRUE(r.has_value());
  return r.has_value() && r->has_value();
}

TEST(StorageCommitter, EveryDoneOnceInSubmissionOrder) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  std::vector<int> order;  // only the committer thread appends
  constexpr int kN = 2000;
  for (int i = 0; i < kN; ++i) {
    c.submit(put_batch(Table::outbound, "k" + std::to_string(i)), [&order, i](bool ok) {
      EXPECT_TRUE(ok);
      order.push_back(i);
    });
  }
  c.stop();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(dump(store, Table::outbound).size(), static_cast<std::size_t>(kN));
}

TEST(StorageCommitter, DoneRunsAfterItsWriteOnTheCommitterThread) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  std::atomic<int> seen{0};
  const auto submitter = std::this_thread::get_id();
  c.submit(put_batch(Table::sessions, "c1"), [&](bool ok) {
    EXPECT_TRUE(ok);
    EXPECT_NE(std::this_thread::get_id(), submitter);
    EXPECT_TRUE(has(store, Table::sessions, "c1"));  // already written when done runs
    seen = 1;
  });
  c.flush();
  EXPECT_EQ(seen.load(), 1);  // flush() returns after the dones before it ran
}

TEST(StorageCommitter, EmptyBatchesAndEmptyDones) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  std::vector<int> order;
  c.submit(WriteBatch{}, [&](bool ok) { order.push_back(ok ? 1 : -1); });
  c.submit(put_batch(Table::meta, "a"), {});  // no callback
  c.submit(WriteBatch{}, [&](bool ok) { order.push_back(ok ? 3 : -3); });
  c.stop();
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_TRUE(has(store, Table::meta, "a"));
}

TEST(StorageCommitter, ManyThreadsSubmittingConcurrentlyAllLandInPerThreadOrder) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3000;
  std::vector<std::vector<int>> done_order(kThreads);  // appended on the committer thread only
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch b;
        b.put(Table::outbound, "t" + std::to_string(t) + "/" + std::to_string(i), "rec");
        b.ref_message(static_cast<std::uint64_t>(t) * 1'000'000 + static_cast<std::uint64_t>(i), "body");
        c.submit(std::move(b), [&done_order, t, i](bool ok) {
          EXPECT_TRUE(ok);
          done_order[t].push_back(i);
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  c.stop();
  EXPECT_EQ(dump(store, Table::outbound).size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(dump(store, Table::messages).size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(done_order[t].size(), static_cast<std::size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(done_order[t][i], i);
  }
  const auto s = c.stats();
  EXPECT_EQ(s.batches_submitted, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.ops, static_cast<std::uint64_t>(2 * kThreads * kPerThread));
  EXPECT_LE(s.writes, s.batches_submitted);
  EXPECT_EQ(s.messages_stored, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.errors, 0u);
}

TEST(StorageCommitter, BatchesArrivingDuringAWriteAreMergedIntoTheNext) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  store.close_gate();
  c.submit(put_batch(Table::outbound, "first"), {});
  ASSERT_TRUE(store.wait_writes_entered(1));  // the committer is inside write #1
  // Submitted from several threads while write #1 is held at the gate.
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) c.submit(put_batch(Table::outbound, std::to_string(t) + "/" + std::to_string(i)), {});
    });
  }
  for (auto& th : threads) th.join();
  store.open_gate();
  c.flush();
  const auto s = c.stats();
  EXPECT_EQ(s.batches_submitted, 301u);
  EXPECT_EQ(s.writes, 2u);  // the 300 waiting batches went out as one group commit
  EXPECT_EQ(store.write_ops(), (std::vector<std::size_t>{1, 300}));
  EXPECT_EQ(dump(store, Table::outbound).size(), 301u);
}

TEST(StorageCommitter, MergedWritesStayWithinMaxBatchBytes) {
  FakeStore store;
  CommitterOptions o = mode(Durability::sync);
  o.max_batch_bytes = 2500;
  Committer c(store, o);
  // Queued before start, so the committer takes all of them in one turn.
  for (int i = 0; i < 10; ++i) c.submit(put_batch(Table::retained, "k" + std::to_string(i), std::string(990, 'x')), {});
  c.submit(put_batch(Table::retained, "big", std::string(10000, 'x')), {});  // over the limit: alone
  c.submit(put_batch(Table::retained, "last"), {});
  c.start();
  c.flush();
  // 10 x ~1000 B in pairs, then the oversized one alone, then the last.
  EXPECT_EQ(store.write_ops(), (std::vector<std::size_t>{2, 2, 2, 2, 2, 1, 1}));
  EXPECT_EQ(dump(store, Table::retained).size(), 12u);
}

TEST(StorageCommitter, MessageBodyStoredOnceAndDeletedAtLastUnref) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  const auto key = message_key(77);
  for (int s = 0; s < 3; ++s) {
    WriteBatch b;
    b.ref_message(77, "the body");
    b.put(Table::outbound, "session" + std::to_string(s) + "/1", "77");
    c.submit(std::move(b), {});
  }
  c.flush();
  EXPECT_EQ(*store.get(Table::messages, key).value(), "the body");
  auto s = c.stats();
  EXPECT_EQ(s.messages_stored, 1u);
  EXPECT_EQ(s.messages_live, 1u);

  for (int i = 0; i < 2; ++i) {
    WriteBatch b;
    b.erase(Table::outbound, "session" + std::to_string(i) + "/1");
    b.unref_message(77);
    c.submit(std::move(b), {});
  }
  c.flush();
  EXPECT_TRUE(has(store, Table::messages, key));  // one reference left
  WriteBatch b;
  b.unref_message(77);
  c.submit(std::move(b), {});
  c.flush();
  EXPECT_FALSE(has(store, Table::messages, key));
  s = c.stats();
  EXPECT_EQ(s.messages_deleted, 1u);
  EXPECT_EQ(s.messages_live, 0u);

  c.stop();
}

TEST(StorageCommitter, RefsResolvedWithinOneMergedWrite) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  WriteBatch b1;
  b1.ref_message(1, "one");
  b1.ref_message(2, "two");
  WriteBatch b2;
  b2.ref_message(1, "one");  // second reference: no second put
  b2.unref_message(2);       // 1 -> 0 in the same write: put then erase
  WriteBatch b3;
  b3.ref_message(3, "three");
  b3.unref_message(3);  // both in one batch
  c.submit(std::move(b1), {});
  c.submit(std::move(b2), {});
  c.submit(std::move(b3), {});
  c.start();
  c.flush();
  EXPECT_EQ(c.stats().writes, 1u);
  // Only put 1 is written: the second ref of 1 adds nothing, and 2 and 3
  // are written and deleted within the write, so neither reaches the disk.
  EXPECT_EQ(store.write_ops(), (std::vector<std::size_t>{1}));
  EXPECT_EQ(c.stats().ops_elided, 4u);
  EXPECT_EQ(dump(store, Table::messages), (std::map<std::string, std::string>{{message_key(1), "one"}}));
  EXPECT_EQ(c.stats().messages_live, 1u);
}

// A delivery acknowledged while the previous write was still being synced:
// its record and body are superseded within one merged write.
TEST(StorageCommitter, ARecordStoredAndErasedInOneMergedWriteLeavesOnlyATombstone) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.submit(put_batch(Table::outbound, "kept/1"), {});  // an earlier group
  c.flush();
  WriteBatch stored;
  stored.ref_message(5, "body");
  stored.put(Table::outbound, "s/5", "record");
  WriteBatch acked;
  acked.erase(Table::outbound, "s/5");
  acked.unref_message(5);
  acked.erase(Table::outbound, "kept/1");  // stored by an earlier write: still erased
  int done = 0;
  c.submit(std::move(stored), [&](bool ok) { done += ok; });
  c.submit(std::move(acked), [&](bool ok) { done += ok; });
  c.start();
  c.flush();
  EXPECT_EQ(done, 2);
  EXPECT_EQ(store.write_ops(), (std::vector<std::size_t>{1, 2}));  // two tombstones
  EXPECT_EQ(c.stats().ops_elided, 3u);
  EXPECT_TRUE(dump(store, Table::outbound).empty());
  EXPECT_TRUE(dump(store, Table::messages).empty());
  c.stop();
}

TEST(StorageCommitter, UnrefOfUnknownMessageKeepsTheBody) {
  FakeStore store;
  ASSERT_TRUE(store.write(put_batch(Table::messages, message_key(5), "body"), true).has_value());
  Committer c(store, mode(Durability::sync));
  c.start();
  WriteBatch b;
  b.unref_message(5);  // never referenced in this run (no set_refs)
  bool ok = false;
  c.submit(std::move(b), [&](bool r) { ok = r; });
  c.flush();
  EXPECT_TRUE(ok);
  EXPECT_TRUE(has(store, Table::messages, message_key(5)));
  EXPECT_EQ(c.stats().messages_deleted, 0u);
}

TEST(StorageCommitter, SetRefsAndCollectGarbageAtStartup) {
  FakeStore store;
  WriteBatch seed;
  for (std::uint64_t id = 1; id <= 5; ++id) seed.put(Table::messages, message_key(id), "body" + std::to_string(id));
  seed.put(Table::messages, "bad-key", "not a message id");
  ASSERT_TRUE(store.write(seed, true).has_value());

  Committer c(store, mode(Durability::sync));
  c.set_refs(2, 1);
  c.set_refs(4, 3);
  c.set_refs(5, 2);
  c.set_refs(5, 0);  // 0 forgets it
  auto collected = c.collect_garbage();
  ASSERT_TRUE(collected.has_value()) << collected.error().message;
  EXPECT_EQ(*collected, 4u);  // 1, 3, 5 and the malformed key
  EXPECT_EQ(dump(store, Table::messages),
            (std::map<std::string, std::string>{{message_key(2), "body2"}, {message_key(4), "body4"}}));
  EXPECT_EQ(c.stats().messages_live, 2u);

  c.start();
  WriteBatch b;
  b.unref_message(2);
  b.unref_message(4);
  b.unref_message(4);
  b.ref_message(4, "ignored: already stored");
  c.submit(std::move(b), {});
  c.flush();
  EXPECT_FALSE(has(store, Table::messages, message_key(2)));
  EXPECT_EQ(*store.get(Table::messages, message_key(4)).value(), "body4");  // 3 - 2 + 1 = 2 refs
  b.clear();
  b.unref_message(4);
  b.unref_message(4);
  c.submit(std::move(b), {});
  c.flush();
  EXPECT_TRUE(dump(store, Table::messages).empty());
  EXPECT_EQ(c.stats().messages_live, 0u);
}

TEST(StorageCommitter, CollectGarbageWithNothingToCollect) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  auto collected = c.collect_garbage();
  ASSERT_TRUE(collected.has_value());
  EXPECT_EQ(*collected, 0u);
  EXPECT_TRUE(store.write_syncs().empty());
}

TEST(StorageCommitter, SyncModeFsyncsEveryWrite) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  EXPECT_EQ(c.durability(), Durability::sync);
  c.start();
  for (int i = 0; i < 50; ++i) c.submit(put_batch(Table::inbound, std::to_string(i)), {});
  c.flush();
  const auto syncs = store.write_syncs();
  ASSERT_FALSE(syncs.empty());
  for (const bool s : syncs) EXPECT_TRUE(s);
  EXPECT_EQ(store.sync_wal_calls(), 0);  // nothing is ever left unsynced
  const auto s = c.stats();
  EXPECT_EQ(s.syncs, s.writes);
}

WriteBatch erase_batch(Table t, const std::string& key) {
  WriteBatch b;
  b.erase(t, key);
  b.erase_prefix(Table::inbound, key + "/");
  return b;
}

// Submits and waits for `done`, which for a batch nothing waits on comes
// right after its write.
bool submit_and_wait(Committer& c, WriteBatch&& b, Waiter w) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  c.submit(std::move(b),
           [&](bool ok) {
             EXPECT_TRUE(ok);
             std::lock_guard lock(mu);
             done = true;
             cv.notify_one();
           },
           w);
  std::unique_lock lock(mu);
  return cv.wait_for(lock, 60s, [&] { return done; });
}

TEST(StorageCommitter, SyncModeLeavesARemovalNothingWaitsOnToTheNextFsync) {
  FakeStore store;
  Committer c(store, mode(Durability::sync, std::chrono::hours(1)));
  c.start();
  c.submit(put_batch(Table::outbound, "a"), {});
  c.submit(put_batch(Table::outbound, "b"), {});
  c.flush();
  const auto before = store.write_syncs().size();

  ASSERT_TRUE(submit_and_wait(c, erase_batch(Table::outbound, "a"), Waiter::none));
  EXPECT_EQ(store.write_syncs().back(), false);
  EXPECT_FALSE(has(store, Table::outbound, "a"));
  EXPECT_EQ(c.stats().writes_unsynced, 1u);

  // The next batch an ack waits on is fsynced, and that fsync covers the
  // removal: flush() has nothing left to sync.
  ASSERT_TRUE(submit_and_wait(c, put_batch(Table::outbound, "c"), Waiter::ack));
  EXPECT_EQ(store.write_syncs().back(), true);
  c.flush();
  EXPECT_EQ(store.sync_wal_calls(), 0);

  // A removal left unsynced is synced by flush() (and so by stop()).
  ASSERT_TRUE(submit_and_wait(c, erase_batch(Table::outbound, "b"), Waiter::none));
  c.flush();
  EXPECT_EQ(store.sync_wal_calls(), 1);
  EXPECT_EQ(store.write_syncs().size(), before + 3);
}

TEST(StorageCommitter, SyncModeSyncsAnUnwaitedRemovalWithinTheInterval) {
  FakeStore store;
  Committer c(store, mode(Durability::sync, 1ms));
  c.start();
  ASSERT_TRUE(submit_and_wait(c, erase_batch(Table::outbound, "x"), Waiter::none));
  ASSERT_TRUE(store.wait_sync_wal_calls(1));  // no flush(): the deadline alone
  c.stop();  // nothing left to sync
  EXPECT_EQ(c.stats().syncs, 1u);
}

TEST(StorageCommitter, SyncModeFsyncsABatchThatStoresEvenWithNothingWaiting) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  WriteBatch b = erase_batch(Table::outbound, "x");
  b.put(Table::sessions, "client", "image");
  ASSERT_TRUE(submit_and_wait(c, std::move(b), Waiter::none));
  EXPECT_EQ(store.write_syncs(), (std::vector<bool>{true}));
  EXPECT_EQ(c.stats().writes_unsynced, 0u);
}

TEST(StorageCommitter, PeriodicModeWritesWithoutSyncAndSyncsInTheBackground) {
  FakeStore store;
  Committer c(store, mode(Durability::periodic, 1ms));
  c.start();
  std::atomic<bool> done{false};
  c.submit(put_batch(Table::outbound, "k"), [&](bool ok) {
    EXPECT_TRUE(ok);
    EXPECT_TRUE(has(store, Table::outbound, "k"));
    done = true;
  });
  // No flush(): the periodic sync alone must come.
  ASSERT_TRUE(store.wait_sync_wal_calls(1));
  EXPECT_TRUE(done.load());
  EXPECT_EQ(store.write_syncs(), (std::vector<bool>{false}));
  // Nothing written since: no further sync, however long we look.
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(store.sync_wal_calls(), 1);
  c.submit(put_batch(Table::outbound, "k2"), {});
  ASSERT_TRUE(store.wait_sync_wal_calls(2));
  c.stop();
  EXPECT_EQ(c.stats().syncs, 2u);
}

TEST(StorageCommitter, PeriodicFlushSyncsWithoutWaitingForTheInterval) {
  FakeStore store;
  Committer c(store, mode(Durability::periodic, std::chrono::hours(1)));
  c.start();
  int dones = 0;
  for (int i = 0; i < 10; ++i) c.submit(put_batch(Table::outbound, std::to_string(i)), [&](bool) { ++dones; });
  c.flush();
  EXPECT_EQ(dones, 10);
  EXPECT_EQ(store.sync_wal_calls(), 1);
  EXPECT_EQ(dump(store, Table::outbound).size(), 10u);
  c.flush();  // nothing new: no second sync
  EXPECT_EQ(store.sync_wal_calls(), 1);
}

TEST(StorageCommitter, NoneModeDoneRunsInsideSubmit) {
  FakeStore store;
  CommitterOptions o = mode(Durability::none);
  Committer c(store, o);
  c.start();
  const auto submitter = std::this_thread::get_id();
  bool called = false;
  c.submit(put_batch(Table::outbound, "k"), [&](bool ok) {
    EXPECT_TRUE(ok);
    EXPECT_EQ(std::this_thread::get_id(), submitter);
    called = true;
  });
  EXPECT_TRUE(called);  // before submit() returned, whatever the writer is doing
  c.flush();            // flush still makes it durable
  EXPECT_TRUE(has(store, Table::outbound, "k"));
  EXPECT_EQ(store.write_syncs(), (std::vector<bool>{false}));
  EXPECT_EQ(store.sync_wal_calls(), 1);
}

TEST(StorageCommitter, NoneModeDoesNotWaitForTheWriter) {
  FakeStore store;
  Committer c(store, mode(Durability::none));
  c.start();
  store.close_gate();
  c.submit(put_batch(Table::outbound, "a"), {});
  ASSERT_TRUE(store.wait_writes_entered(1));
  int called = 0;
  c.submit(put_batch(Table::outbound, "b"), [&](bool) { ++called; });  // the writer is stuck
  EXPECT_EQ(called, 1);
  store.open_gate();
  c.stop();
}

TEST(StorageCommitter, FlushBeforeStartWritesOnTheCallersThread) {
  FakeStore store;
  Committer c(store, mode(Durability::periodic));
  int dones = 0;
  c.submit(put_batch(Table::sessions, "s"), [&](bool ok) { dones += ok; });
  c.flush();
  EXPECT_EQ(dones, 1);
  EXPECT_TRUE(has(store, Table::sessions, "s"));
  EXPECT_EQ(store.sync_wal_calls(), 1);
}

TEST(StorageCommitter, FlushWaitsForEverythingBeforeIt) {
  FakeStore store;
  Committer c(store, mode(Durability::periodic));
  c.start();
  store.close_gate();
  std::atomic<int> dones{0};
  for (int i = 0; i < 100; ++i) c.submit(put_batch(Table::outbound, std::to_string(i)), [&](bool) { ++dones; });
  ASSERT_TRUE(store.wait_writes_entered(1));
  std::atomic<bool> flushed{false};
  std::thread flusher([&] {
    c.flush();
    flushed = true;
  });
  std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(flushed.load());  // a write is still held: flush cannot be done
  store.open_gate();
  flusher.join();
  EXPECT_EQ(dones.load(), 100);
  EXPECT_EQ(dump(store, Table::outbound).size(), 100u);
  EXPECT_GE(store.sync_wal_calls(), 1);
}

TEST(StorageCommitter, StopDrainsAndCanBeCalledTwice) {
  for (const auto d : {Durability::sync, Durability::periodic, Durability::none}) {
    FakeStore store;
    Committer c(store, mode(d, std::chrono::hours(1)));
    c.start();
    std::atomic<int> dones{0};
    for (int i = 0; i < 500; ++i) c.submit(put_batch(Table::outbound, std::to_string(i)), [&](bool) { ++dones; });
    c.stop();
    EXPECT_EQ(dones.load(), 500);
    EXPECT_EQ(dump(store, Table::outbound).size(), 500u);
    if (d != Durability::sync) {
      EXPECT_EQ(store.sync_wal_calls(), 1) << static_cast<int>(d);
    }
    c.stop();
    // Submitted after stop: written by the next stop (or the destructor).
    c.submit(put_batch(Table::outbound, "late"), [&](bool) { ++dones; });
    c.stop();
    EXPECT_TRUE(has(store, Table::outbound, "late"));
    EXPECT_EQ(dones.load(), 501);
  }
}

TEST(StorageCommitter, DestructorDrains) {
  FakeStore store;
  int dones = 0;
  {
    Committer c(store, mode(Durability::sync));
    c.start();
    for (int i = 0; i < 100; ++i) c.submit(put_batch(Table::outbound, std::to_string(i)), [&](bool) { ++dones; });
  }
  EXPECT_EQ(dones, 100);
  EXPECT_EQ(dump(store, Table::outbound).size(), 100u);
}

TEST(StorageCommitter, RestartAfterStop) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  c.start();
  c.submit(put_batch(Table::meta, "a"), {});
  c.stop();
  c.start();
  c.submit(put_batch(Table::meta, "b"), {});
  c.flush();
  EXPECT_TRUE(has(store, Table::meta, "b"));
}

TEST(StorageCommitter, FailedWriteReportsFalseLogsOnceAndRollsBackRefs) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  store.fail_next_writes(3);
  std::vector<bool> results;  // committer thread only
  ::testing::internal::CaptureStderr();
  c.start();
  for (int i = 0; i < 3; ++i) {
    WriteBatch b;
    b.ref_message(9, "body");
    b.put(Table::outbound, "s/" + std::to_string(i), "9");
    c.submit(std::move(b), [&](bool ok) { results.push_back(ok); });
    c.flush();  // one write each, so three failed writes in a row
  }
  WriteBatch b;
  b.ref_message(9, "body");
  b.put(Table::outbound, "s/3", "9");
  c.submit(std::move(b), [&](bool ok) { results.push_back(ok); });
  c.flush();
  c.stop();
  const std::string log = ::testing::internal::GetCapturedStderr();

  EXPECT_EQ(results, (std::vector<bool>{false, false, false, true}));
  // The failed refs were undone: the first stored ref writes the body again.
  EXPECT_EQ(*store.get(Table::messages, message_key(9)).value(), "body");
  EXPECT_EQ(dump(store, Table::outbound).size(), 1u);
  const auto s = c.stats();
  EXPECT_EQ(s.errors, 3u);
  EXPECT_EQ(s.messages_stored, 1u);
  EXPECT_EQ(s.messages_live, 1u);
  // One line for the burst, with the store's own text, and one on recovery.
  EXPECT_THAT(log, HasSubstr("injected write failure"));
  EXPECT_EQ(log.find("injected write failure"), log.rfind("injected write failure"));
  EXPECT_THAT(log, HasSubstr("succeed again after 3 failures"));
}

TEST(StorageCommitter, FailedWriteFailsEveryBatchMergedIntoIt) {
  FakeStore store;
  Committer c(store, mode(Durability::sync));
  std::vector<bool> results;
  for (int i = 0; i < 5; ++i) c.submit(put_batch(Table::outbound, std::to_string(i)), [&](bool ok) { results.push_back(ok); });
  store.fail_next_writes(1);
  ::testing::internal::CaptureStderr();
  c.start();
  c.flush();
  (void)::testing::internal::GetCapturedStderr();
  EXPECT_EQ(results, (std::vector<bool>(5, false)));
  EXPECT_TRUE(dump(store, Table::outbound).empty());
  EXPECT_EQ(c.stats().errors, 1u);
  EXPECT_EQ(c.stats().writes, 1u);
}

TEST(StorageCommitter, FailedSyncIsCountedAndFlushStillReturns) {
  FakeStore store;
  Committer c(store, mode(Durability::periodic));
  c.start();
  store.fail_next_syncs(1);
  ::testing::internal::CaptureStderr();
  c.submit(put_batch(Table::outbound, "k"), {});
  c.flush();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(c.stats().errors, 1u);
  EXPECT_THAT(log, HasSubstr("injected sync failure"));
}

TEST(StorageCommitter, StatsAndPendingBytes) {
  FakeStore store;
  CommitterOptions o = mode(Durability::sync);
  o.max_pending_bytes = 1000;
  Committer c(store, o);
  EXPECT_FALSE(c.overloaded());
  std::size_t bytes = 0;
  for (int i = 0; i < 20; ++i) {
    WriteBatch b;
    b.put(Table::outbound, "key" + std::to_string(i), std::string(100, 'x'));
    b.ref_message(static_cast<std::uint64_t>(i), "body");
    bytes += b.bytes();
    c.submit(std::move(b), {});
  }
  // Not started: everything is still pending.
  EXPECT_EQ(c.pending_bytes(), bytes);
  EXPECT_EQ(c.stats().pending_bytes, bytes);
  EXPECT_TRUE(c.overloaded());
  c.start();
  c.flush();
  EXPECT_EQ(c.pending_bytes(), 0u);
  EXPECT_FALSE(c.overloaded());
  const auto s = c.stats();
  EXPECT_EQ(s.batches_submitted, 20u);
  EXPECT_EQ(s.writes, 1u);
  EXPECT_EQ(s.syncs, 1u);
  EXPECT_EQ(s.ops, 40u);
  EXPECT_EQ(s.bytes, bytes);
  EXPECT_EQ(s.messages_stored, 20u);
  EXPECT_EQ(s.messages_live, 20u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_GE(s.sync_ns_total, s.sync_ns_max);
}

TEST(StorageCommitter, OnRocksDBMessagesSurviveRestart) {
  TempDir tmp;
  RocksOptions ro;
  ro.data_dir = tmp.sub("data");
  ro.write_buffer_bytes = 1u << 20;
  ro.block_cache_bytes = 1u << 20;
  {
    auto opened = open_rocksdb(ro);
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    auto store = std::move(opened).value();
    Committer c(*store, mode(Durability::sync));
    c.start();
    for (std::uint64_t id = 1; id <= 100; ++id) {
      for (int s = 0; s < 3; ++s) {
        WriteBatch b;
        b.ref_message(id, "body" + std::to_string(id));
        b.put(Table::outbound, "s" + std::to_string(s) + "/" + std::to_string(id), std::to_string(id));
        c.submit(std::move(b), {});
      }
    }
    for (std::uint64_t id = 1; id <= 50; ++id) {  // fully delivered
      for (int s = 0; s < 3; ++s) {
        WriteBatch b;
        b.erase(Table::outbound, "s" + std::to_string(s) + "/" + std::to_string(id));
        b.unref_message(id);
        c.submit(std::move(b), {});
      }
    }
    c.stop();
    EXPECT_EQ(c.stats().messages_live, 50u);
  }
  auto opened = open_rocksdb(ro);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  auto store = std::move(opened).value();
  EXPECT_EQ(dump(*store, Table::messages).size(), 50u);
  EXPECT_EQ(dump(*store, Table::outbound).size(), 150u);
  EXPECT_EQ(*store->get(Table::messages, message_key(51)).value(), "body51");
  EXPECT_FALSE(store->get(Table::messages, message_key(50)).value().has_value());
}

}  // namespace
}  // namespace roadmq::storage
