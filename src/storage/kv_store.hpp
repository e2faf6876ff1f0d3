// A transactional key-value store of tables: RocksDB on disk, or an
// in-memory map for unit tests, behind one interface.
//
// Thread safety: write()/sync_wal() from one thread at a time (the
// Committer's); get()/scan() from any thread, but in RoadMQ they run at
// startup, before the Committer starts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "base/expected.hpp"
#include "storage/table.hpp"
#include "storage/write_batch.hpp"

namespace roadmq::storage {

// A broken environment (I/O error, corruption, a locked or foreign data dir):
// a message naming the path, with RocksDB's own status text where it has one.
struct StoreError {
  std::string message;
};

using StoreStatus = Expected<std::monostate, StoreError>;

struct StoreUsage {
  std::uint64_t disk_bytes = 0;   // SST + WAL files in the data dir
  std::uint64_t memtable_bytes = 0;
  std::uint64_t live_keys_estimate = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // Applies every operation of `batch` atomically (no ref_message /
  // unref_message: the Committer resolves those first). With `sync`, the
  // write-ahead log is fsynced before this returns.
  [[nodiscard]] virtual StoreStatus write(const WriteBatch& batch, bool sync) = 0;
  // Makes every earlier write durable (fsync of the write-ahead log).
  [[nodiscard]] virtual StoreStatus sync_wal() = 0;

  [[nodiscard]] virtual Expected<std::optional<std::string>, StoreError> get(Table table,
                                                                             std::string_view key) = 0;
  // Every key starting with `prefix` (all keys for ""), in key order;
  // fn returns false to stop early.
  [[nodiscard]] virtual StoreStatus scan(
      Table table, std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;

  virtual StoreUsage usage() const = 0;
};

struct RocksOptions {
  std::string data_dir;                      // node.data_dir; created if missing
  std::size_t write_buffer_bytes = 64u << 20;
  std::size_t block_cache_bytes = 64u << 20;
  int max_background_jobs = 2;
};

// Opens (creating if missing) the store in `options.data_dir`:
// - takes an exclusive lock on <data_dir>/roadmq.lock (holding the PID); a
//   second broker on the same dir gets "data dir <path> is in use by
//   another roadmq (pid N)";
// - checks the format version in Table::meta (writes it on a fresh dir); a
//   different one gets "data dir <path> has format N; this roadmq reads
//   format M";
// - reports corruption or I/O errors with RocksDB's status text and the path.
// The lock is held until the store is destroyed.
[[nodiscard]] Expected<std::unique_ptr<KvStore>, StoreError> open_rocksdb(const RocksOptions& options);

// The same contract in memory (no lock, no files), for unit tests.
std::unique_ptr<KvStore> make_memory_store();

inline constexpr std::uint32_t kFormatVersion = 1;
// The Table::meta key holding the format version (decimal text).
inline constexpr std::string_view kFormatVersionKey = "format_version";

}  // namespace roadmq::storage
