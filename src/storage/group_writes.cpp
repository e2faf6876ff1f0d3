#include "storage/group_writes.hpp"

namespace roadmq::storage {

void GroupWrites::reset_indexes() {
  last_put_.emplace(&arena_);
  body_put_.emplace(&arena_);
}

void GroupWrites::clear() {
  staged_.clear();
  // The maps go before the arena that holds their nodes and buckets.
  last_put_.reset();
  body_put_.reset();
  arena_.release();
  reset_indexes();
  elided_ = 0;
}

void GroupWrites::kill(std::size_t index) noexcept {
  staged_[index].live = false;
  ++elided_;
}

void GroupWrites::put(Table table, std::string_view key, std::string_view value) {
  const auto [it, inserted] = last_put_->try_emplace(Key{table, key}, staged_.size());
  if (!inserted) {
    kill(it->second);
    it->second = staged_.size();
  }
  staged_.push_back({{WriteBatch::OpKind::put, table, key, value}});
}

void GroupWrites::erase(Table table, std::string_view key) {
  if (const auto it = last_put_->find(Key{table, key}); it != last_put_->end()) {
    kill(it->second);
    last_put_->erase(it);
  }
  staged_.push_back({{WriteBatch::OpKind::erase, table, key, {}}});
}

void GroupWrites::erase_prefix(Table table, std::string_view prefix) {
  // Puts it covers are kept: rare (a session's end), and still correct.
  staged_.push_back({{WriteBatch::OpKind::erase_prefix, table, prefix, {}}});
}

void GroupWrites::put_body(std::string_view key, std::string_view value) {
  (*body_put_)[key] = staged_.size();
  staged_.push_back({{WriteBatch::OpKind::put, Table::messages, key, value}});
}

void GroupWrites::erase_body(std::string_view key) {
  if (const auto it = body_put_->find(key); it != body_put_->end()) {
    // No reference was left at the start of the group, so the body was not
    // on disk: neither the put nor a tombstone is needed.
    kill(it->second);
    body_put_->erase(it);
    ++elided_;
    return;
  }
  staged_.push_back({{WriteBatch::OpKind::erase, Table::messages, key, {}}});
}

void GroupWrites::build(WriteBatch& out) const {
  for (const Staged& s : staged_) {
    if (!s.live) continue;
    switch (s.op.kind) {
      case WriteBatch::OpKind::put:
        out.put(s.op.table, s.op.key, s.op.value);
        break;
      case WriteBatch::OpKind::erase:
        out.erase(s.op.table, s.op.key);
        break;
      case WriteBatch::OpKind::erase_prefix:
        out.erase_prefix(s.op.table, s.op.key);
        break;
      case WriteBatch::OpKind::ref_message:
      case WriteBatch::OpKind::unref_message:
        break;  // resolved to put / erase by the committer before staging
    }
  }
}

}  // namespace roadmq::storage
