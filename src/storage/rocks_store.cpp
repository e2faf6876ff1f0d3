// The KvStore contract on RocksDB: one column family per Table, so each
// table gets its own memtable and compaction, and a whole-table scan never
// walks another table's keys.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/table.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>
#include <vector>

#include "base/log.hpp"
#include "storage/kv_store.hpp"

namespace roadmq::storage {
namespace {

rocksdb::Slice slice(std::string_view s) noexcept { return {s.data(), s.size()}; }
std::string_view view(const rocksdb::Slice& s) noexcept { return {s.data(), s.size()}; }

// The smallest key greater than every key starting with `prefix`; false when
// there is none ("" or all 0xff bytes).
bool prefix_successor(std::string_view prefix, std::string& out) {
  out.assign(prefix);
  while (!out.empty() && static_cast<unsigned char>(out.back()) == 0xff) out.pop_back();
  if (out.empty()) return false;
  out.back() = static_cast<char>(static_cast<unsigned char>(out.back()) + 1);
  return true;
}

std::string errno_text(int err) { return std::strerror(err); }

// The exclusive lock on <data_dir>/roadmq.lock. flock() (not fcntl) because
// its lock belongs to the open file description: a second open in the same
// process conflicts too, which is what a test or an embedding needs.
class LockFile {
 public:
  LockFile() = default;
  LockFile(const LockFile&) = delete;
  LockFile& operator=(const LockFile&) = delete;
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }

  StoreStatus acquire(const std::string& data_dir) {
    const std::string path = data_dir + "/roadmq.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Unexpected(StoreError{"cannot open lock file " + path + ": " + errno_text(errno)});
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        return Unexpected(StoreError{"data dir " + data_dir + " is in use by another roadmq (pid " +
                                     holder_pid() + ")"});
      }
      return Unexpected(StoreError{"cannot lock " + path + ": " + errno_text(err)});
    }
    // The PID is for the operator reading the error above; the lock itself
    // is the flock, so a stale PID from a crashed broker is harmless.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      return Unexpected(StoreError{"cannot write lock file " + path + ": " + errno_text(errno)});
    }
    return std::monostate{};
  }

 private:
  std::string holder_pid() const {
    char buf[32];
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    std::uint64_t pid = 0;
    if (n > 0) {
      const auto [ptr, ec] = std::from_chars(buf, buf + n, pid);
      (void)ptr;
      if (ec == std::errc() && pid != 0) return std::to_string(pid);
    }
    return "unknown";  // the holder has locked but not yet written its PID
  }

  int fd_ = -1;
};

class RocksStore final : public KvStore {
 public:
  explicit RocksStore(std::string path) : path_(std::move(path)) {}
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  ~RocksStore() override {
    if (!db_) return;
    // A clean stop leaves the memtables in SST files, so the next start reads
    // them instead of replaying the whole write-ahead log.
    rocksdb::FlushOptions fo;
    fo.wait = true;
    if (const auto s = db_->Flush(fo, std::vector<rocksdb::ColumnFamilyHandle*>(cfs_.begin(), cfs_.end())); !s.ok())
      ROADMQ_WARN("flushing data dir %s: %s", path_.c_str(), s.ToString().c_str());
    // Handles from Open() are ours to free, the default family's included;
    // this only fails for DefaultColumnFamily(), which is never among them.
    for (auto* cf : cfs_) (void)db_->DestroyColumnFamilyHandle(cf);
    (void)db_->DestroyColumnFamilyHandle(default_cf_);
    // Close() before the lock goes (lock_ is destroyed after this body), so
    // the next owner never sees files still being written.
    if (const auto s = db_->Close(); !s.ok())
      ROADMQ_WARN("closing data dir %s: %s", path_.c_str(), s.ToString().c_str());
  }

  StoreStatus open(const RocksOptions& options) {
    std::error_code ec;
    std::filesystem::create_directories(path_, ec);
    if (ec) return Unexpected(StoreError{"cannot create data dir " + path_ + ": " + ec.message()});
    if (!std::filesystem::is_directory(path_, ec))
      return Unexpected(StoreError{"data dir " + path_ + " is not a directory"});
    if (auto st = lock_.acquire(path_); !st) return st;
    if (auto st = check_not_orphaned(); !st) return st;

    auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
    rocksdb::DBOptions db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    db_options.max_background_jobs = std::max(options.max_background_jobs, 1);
    // Every table shares one WAL; a table written rarely (sessions) would
    // otherwise keep old WAL files alive until its own memtable fills.
    db_options.max_total_wal_size = 4 * static_cast<std::uint64_t>(options.write_buffer_bytes);
    // Bound the memtables of all tables together, not just each one.
    db_options.db_write_buffer_size = 4 * options.write_buffer_bytes;
    // Trickle SST writeback instead of one large flush stalling the WAL fsync.
    db_options.bytes_per_sync = 1u << 20;
    db_options.keep_log_file_num = 5;
    // One writer (the Committer): concurrent memtable inserts only add atomics.
    db_options.allow_concurrent_memtable_write = false;
    db_options.max_log_file_size = 16u << 20;

    const auto supported = rocksdb::GetSupportedCompressions();
    const bool lz4 = std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end();

    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (std::size_t i = 0; i < kTableCount; ++i) {
      const auto table = static_cast<Table>(i);
      rocksdb::ColumnFamilyOptions cf;
      cf.write_buffer_size = options.write_buffer_bytes;
      cf.level_compaction_dynamic_level_bytes = true;
      cf.compression = lz4 ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
      rocksdb::BlockBasedTableOptions table_options;
      table_options.block_cache = cache;
      table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table_options.cache_index_and_filter_blocks = true;
      table_options.pin_l0_filter_and_index_blocks_in_cache = true;
      cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
      if (table == Table::messages || table == Table::outbound || table == Table::inbound) {
        // Queue-like tables, written for every persistent message and read
        // only by the startup scan. A vector memtable makes an insert an
        // append (a skiplist insert into a large memtable is a few µs of
        // cache misses, which capped the single committer thread); the
        // sort happens once, on a background thread, when the memtable is
        // flushed. The price is a read of the live memtable sorting a copy
        // of it, which is why only tables nobody reads at runtime get it.
        cf.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
        // Most keys are deleted soon after they are written: compact files
        // dense in tombstones early, so the startup scan does not wade
        // through them.
        cf.table_properties_collector_factories.push_back(
            rocksdb::NewCompactOnDeletionCollectorFactory(128 * 1024, 64 * 1024, 0.5));
      }
      families.emplace_back(std::string(table_name(table)), cf);
    }
    // RocksDB insists on the default family; RoadMQ keeps nothing in it.
    families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    const auto s = rocksdb::DB::Open(db_options, path_, families, &handles, &db);
    if (!s.ok()) return Unexpected(StoreError{"cannot open data dir " + path_ + ": " + s.ToString()});
    db_.reset(db);
    for (std::size_t i = 0; i < kTableCount; ++i) cfs_[i] = handles[i];
    default_cf_ = handles[kTableCount];
    return check_format();
  }

  StoreStatus write(const WriteBatch& batch, bool sync) override try {
    if (batch.empty()) return sync ? sync_wal() : StoreStatus(std::monostate{});
    // Per-thread perf counters default to on; they cost a thread-local
    // lookup per key comparison in the memtable.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    wb_.Clear();
    std::string end_key;
    rocksdb::Status s;
    std::size_t index = 0;
    batch.for_each([&](const WriteBatch::Op& op) {
      const std::size_t at = index++;
      if (!s.ok()) return;
      auto* cf = cfs_[static_cast<std::size_t>(op.table)];
      switch (op.kind) {
        case WriteBatch::OpKind::put:
          s = wb_.Put(cf, slice(op.key), slice(op.value));
          break;
        case WriteBatch::OpKind::erase:
          s = wb_.Delete(cf, slice(op.key));
          break;
        case WriteBatch::OpKind::erase_prefix:
          if (prefix_successor(op.key, end_key)) {
            // A range tombstone later in the batch also covers puts earlier
            // in it: each operation gets the next sequence number.
            s = wb_.DeleteRange(cf, slice(op.key), slice(end_key));
          } else {
            s = erase_unbounded_prefix(batch, at, op.table, op.key);
          }
          break;
        case WriteBatch::OpKind::ref_message:
        case WriteBatch::OpKind::unref_message:
          s = rocksdb::Status::InvalidArgument("batch holds unresolved message references");
          break;
      }
    });
    if (!s.ok()) return fail("write to", s);
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    s = db_->Write(wo, &wb_);
    if (!s.ok()) return fail("write to", s);
    return std::monostate{};
  } catch (const std::exception& e) {
    return Unexpected(StoreError{"write to data dir " + path_ + " failed: " + e.what()});
  }

  StoreStatus sync_wal() override {
    const auto s = db_->SyncWAL();
    if (!s.ok()) return fail("sync of", s);
    return std::monostate{};
  }

  Expected<std::optional<std::string>, StoreError> get(Table table, std::string_view key) override try {
    rocksdb::PinnableSlice value;
    const auto s = db_->Get(rocksdb::ReadOptions(), cfs_[static_cast<std::size_t>(table)], slice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return fail("read from", s);
    return std::optional<std::string>(value.ToString());
  } catch (const std::exception& e) {
    return Unexpected(StoreError{"read from data dir " + path_ + " failed: " + e.what()});
  }

  StoreStatus scan(Table table, std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) override try {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // startup scans read everything once; keep the cache for lookups
    std::string upper;
    rocksdb::Slice upper_slice;
    if (prefix_successor(prefix, upper)) {
      upper_slice = slice(upper);
      ro.iterate_upper_bound = &upper_slice;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cfs_[static_cast<std::size_t>(table)]));
    for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
      const auto key = view(it->key());
      if (!key.starts_with(prefix)) break;
      if (!fn(key, view(it->value()))) return std::monostate{};
    }
    if (!it->status().ok()) return fail("scan of", it->status());
    return std::monostate{};
  } catch (const std::exception& e) {
    return Unexpected(StoreError{"scan of data dir " + path_ + " failed: " + e.what()});
  }

  StoreUsage usage() const override try {
    StoreUsage u;
    for (auto* cf : cfs_) {
      std::uint64_t v = 0;
      if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kLiveSstFilesSize, &v)) u.disk_bytes += v;
      if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) u.memtable_bytes += v;
      if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kEstimateNumKeys, &v)) u.live_keys_estimate += v;
    }
    rocksdb::VectorLogPtr wals;
    if (db_->GetSortedWalFiles(wals).ok()) {
      for (const auto& wal : wals) u.disk_bytes += wal->SizeFileBytes();
    }
    return u;
  } catch (const std::exception&) {
    return {};  // a statistic, not worth failing over (only bad_alloc can get here)
  }

 private:
  Unexpected<StoreError> fail(const char* what, const rocksdb::Status& s) const {
    return Unexpected(StoreError{std::string(what) + " data dir " + path_ + " failed: " + s.ToString()});
  }

  // erase_prefix for a prefix with no successor key ("" or all 0xff): the
  // range ends at the largest matching key, whether already stored or put
  // earlier in this batch, and that key itself is deleted too.
  rocksdb::Status erase_unbounded_prefix(const WriteBatch& batch, std::size_t before, Table table,
                                         std::string_view prefix) {
    auto* cf = cfs_[static_cast<std::size_t>(table)];
    std::string last;
    bool found = false;
    {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
      it->SeekToLast();
      if (it->Valid() && view(it->key()).starts_with(prefix)) {
        last = it->key().ToString();
        found = true;
      }
      if (!it->status().ok()) return it->status();
    }
    std::size_t index = 0;
    batch.for_each([&](const WriteBatch::Op& op) {
      if (index++ >= before) return;
      if (op.kind == WriteBatch::OpKind::put && op.table == table && op.key.starts_with(prefix) &&
          (!found || op.key > last)) {
        last.assign(op.key);
        found = true;
      }
    });
    if (!found) return rocksdb::Status::OK();
    if (last != prefix) {
      if (auto s = wb_.DeleteRange(cf, slice(prefix), slice(last)); !s.ok()) return s;
    }
    return wb_.Delete(cf, slice(last));
  }

  // Without CURRENT, RocksDB takes a dir for a new store and would start an
  // empty one beside the old files, so a lost CURRENT would silently look
  // like "no sessions, no messages". Refuse instead: that is an operator's call.
  StoreStatus check_not_orphaned() {
    std::error_code ec;
    if (std::filesystem::exists(path_ + "/CURRENT", ec)) return std::monostate{};
    for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
      const std::string name = entry.path().filename().string();
      const bool store_file = name.starts_with("MANIFEST-") || name.ends_with(".sst") ||
                              (name.ends_with(".log") &&  // WAL files are <number>.log
                               name.find_first_not_of("0123456789") == name.size() - 4);
      if (store_file) {
        return Unexpected(StoreError{"data dir " + path_ + " has store files (" + name +
                                     ") but no CURRENT file; refusing to start an empty store over them"});
      }
    }
    if (ec) return Unexpected(StoreError{"cannot list data dir " + path_ + ": " + ec.message()});
    return std::monostate{};
  }

  StoreStatus check_format() {
    auto* meta = cfs_[static_cast<std::size_t>(Table::meta)];
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), meta, slice(kFormatVersionKey), &value);
    if (s.ok()) {
      std::uint32_t version = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), version);
      if (ec != std::errc() || ptr != value.data() + value.size())
        return Unexpected(StoreError{"data dir " + path_ + " has an unreadable format version"});
      if (version != kFormatVersion) {
        return Unexpected(StoreError{"data dir " + path_ + " has format " + std::to_string(version) +
                                     "; this roadmq reads format " + std::to_string(kFormatVersion)});
      }
      return std::monostate{};
    }
    if (!s.IsNotFound()) return fail("read from", s);
    // No version: a fresh dir (or one whose first start died before writing
    // it, which left it empty). Data without a version is not ours to touch.
    for (auto* cf : cfs_) {
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
      it->SeekToFirst();
      if (!it->status().ok()) return fail("read from", it->status());
      if (it->Valid())
        return Unexpected(StoreError{"data dir " + path_ + " holds data but no format version"});
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Put(wo, meta, slice(kFormatVersionKey), std::to_string(kFormatVersion));
    if (!s.ok()) return fail("write to", s);
    return std::monostate{};
  }

  std::string path_;
  LockFile lock_;  // declared before db_: destroyed after it
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kTableCount> cfs_{};
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::WriteBatch wb_;  // reused by write(): one writer at a time, so no allocation once warm
};

}  // namespace

Expected<std::unique_ptr<KvStore>, StoreError> open_rocksdb(const RocksOptions& options) try {
  if (options.data_dir.empty()) return Unexpected(StoreError{"data dir is not set"});
  auto store = std::make_unique<RocksStore>(options.data_dir);
  if (auto st = store->open(options); !st) return Unexpected(st.error());
  return std::unique_ptr<KvStore>(std::move(store));
} catch (const std::exception& e) {
  return Unexpected(StoreError{"cannot open data dir " + options.data_dir + ": " + e.what()});
}

}  // namespace roadmq::storage
