// The KvStore contract in memory: one ordered map per table. Used by unit
// tests of the modules above storage, so it checks what RocksDB would refuse
// (unresolved message references) instead of silently accepting it.
#include <array>
#include <map>
#include <mutex>

#include "storage/kv_store.hpp"

namespace roadmq::storage {
namespace {

class MemoryStore final : public KvStore {
 public:
  StoreStatus write(const WriteBatch& batch, bool /*sync*/) override {
    // Validate first so a refused batch changes nothing (atomicity).
    bool unresolved = false;
    batch.for_each([&](const WriteBatch::Op& op) {
      if (op.kind == WriteBatch::OpKind::ref_message || op.kind == WriteBatch::OpKind::unref_message)
        unresolved = true;
    });
    if (unresolved)
      return Unexpected(StoreError{"memory store: batch holds unresolved message references"});

    std::lock_guard lock(mu_);
    batch.for_each([&](const WriteBatch::Op& op) {
      auto& map = tables_[static_cast<std::size_t>(op.table)];
      switch (op.kind) {
        case WriteBatch::OpKind::put:
          map.insert_or_assign(std::string(op.key), std::string(op.value));
          break;
        case WriteBatch::OpKind::erase:
          if (auto it = map.find(op.key); it != map.end()) map.erase(it);
          break;
        case WriteBatch::OpKind::erase_prefix: {
          auto it = map.lower_bound(op.key);
          while (it != map.end() && it->first.starts_with(op.key)) it = map.erase(it);
          break;
        }
        case WriteBatch::OpKind::ref_message:
        case WriteBatch::OpKind::unref_message:
          break;  // refused above
      }
    });
    return std::monostate{};
  }

  StoreStatus sync_wal() override { return std::monostate{}; }

  Expected<std::optional<std::string>, StoreError> get(Table table, std::string_view key) override {
    std::lock_guard lock(mu_);
    const auto& map = tables_[static_cast<std::size_t>(table)];
    if (auto it = map.find(key); it != map.end()) return std::optional<std::string>(it->second);
    return std::optional<std::string>();
  }

  StoreStatus scan(Table table, std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::lock_guard lock(mu_);
    const auto& map = tables_[static_cast<std::size_t>(table)];
    for (auto it = map.lower_bound(prefix); it != map.end() && it->first.starts_with(prefix); ++it) {
      if (!fn(it->first, it->second)) break;
    }
    return std::monostate{};
  }

  StoreUsage usage() const override {
    std::lock_guard lock(mu_);
    StoreUsage u;
    for (const auto& map : tables_) {
      u.live_keys_estimate += map.size();
      for (const auto& [k, v] : map) u.memtable_bytes += k.size() + v.size();
    }
    return u;
  }

 private:
  mutable std::mutex mu_;
  std::array<std::map<std::string, std::string, std::less<>>, kTableCount> tables_;
};

}  // namespace

std::unique_ptr<KvStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace roadmq::storage
