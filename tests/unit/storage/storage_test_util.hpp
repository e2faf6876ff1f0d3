// Helpers shared by the storage tests: a temporary directory and a KvStore
// double that records what the Committer asks of it and fails on request.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/kv_store.hpp"

namespace roadmq::storage::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/roadmq-storage-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Every key and value of a table, in order.
inline std::map<std::string, std::string> dump(KvStore& store, Table table, std::string_view prefix = "") {
  std::map<std::string, std::string> out;
  auto st = store.scan(table, prefix, [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(st.has_value()) << st.error().message;
  return out;
}

// Wraps the memory store. Records the sync flag of every write and counts
// sync_wal() calls; can fail the next N writes or syncs, and can hold writes
// at a gate so a test decides when the committer's write returns.
class FakeStore final : public KvStore {
 public:
  StoreStatus write(const WriteBatch& batch, bool sync) override {
    std::unique_lock lock(mu_);
    ++writes_entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !gate_closed_; });
    write_syncs_.push_back(sync);
    write_ops_.push_back(batch.ops());
    if (fail_writes_ > 0) {
      --fail_writes_;
      return Unexpected(StoreError{"injected write failure"});
    }
    return inner_->write(batch, sync);
  }

  StoreStatus sync_wal() override {
    std::lock_guard lock(mu_);
    ++sync_wal_calls_;
    cv_.notify_all();
    if (fail_syncs_ > 0) {
      --fail_syncs_;
      return Unexpected(StoreError{"injected sync failure"});
    }
    return inner_->sync_wal();
  }

  Expected<std::optional<std::string>, StoreError> get(Table table, std::string_view key) override {
    return inner_->get(table, key);
  }
  StoreStatus scan(Table table, std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return inner_->scan(table, prefix, fn);
  }
  StoreUsage usage() const override { return inner_->usage(); }

  KvStore& inner() { return *inner_; }

  void fail_next_writes(int n) {
    std::lock_guard lock(mu_);
    fail_writes_ = n;
  }
  void fail_next_syncs(int n) {
    std::lock_guard lock(mu_);
    fail_syncs_ = n;
  }
  void close_gate() {
    std::lock_guard lock(mu_);
    gate_closed_ = true;
  }
  void open_gate() {
    std::lock_guard lock(mu_);
    gate_closed_ = false;
    cv_.notify_all();
  }
  // Blocks until `n` writes have reached the store (passed the gate or not).
  // The bound only turns a hang into a failure; it never decides a pass.
  bool wait_writes_entered(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return writes_entered_ >= n; });
  }
  bool wait_sync_wal_calls(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return sync_wal_calls_ >= n; });
  }

  std::vector<bool> write_syncs() {
    std::lock_guard lock(mu_);
    return write_syncs_;
  }
  std::vector<std::size_t> write_ops() {
    std::lock_guard lock(mu_);
    return write_ops_;
  }
  int sync_wal_calls() {
    std::lock_guard lock(mu_);
    return sync_wal_calls_;
  }

 private:
  std::unique_ptr<KvStore> inner_ = make_memory_store();
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> write_syncs_;
  std::vector<std::size_t> write_ops_;
  int writes_entered_ = 0;
  int sync_wal_calls_ = 0;
  int fail_writes_ = 0;
  int fail_syncs_ = 0;
  bool gate_closed_ = false;
};

}  // namespace roadmq::storage::test
