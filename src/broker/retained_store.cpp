#include "broker/retained_store.hpp"

#include "base/assert.hpp"

namespace roadmq::broker {

RetainedStore::~RetainedStore() { clear(); }

RetainResult RetainedStore::put(const MessagePtr& message) {
  ROADMQ_ASSERT(message != nullptr && !message->topic.empty());
  const std::string_view topic = message->topic;
  Node* node = find(topic);
  const bool has_message = node != nullptr && node->message != nullptr;

  if (message->payload.empty()) {
    if (!has_message) return RetainResult::nothing_to_delete;
    drop_message(node);
    prune(node);
    ++counters_.deleted;
    return RetainResult::deleted;
  }
  if (limits_.max_payload_size != 0 && message->payload.size() > limits_.max_payload_size) {
    if (has_message) {
      drop_message(node);
      prune(node);
    }
    ++counters_.refused_too_large;
    return RetainResult::refused_too_large;
  }
  if (has_message) {
    heap_remove(node);
    node->message = message;
    if (message->expires_at) heap_push(node, *message->expires_at);
    ++counters_.replaced;
    return RetainResult::replaced;
  }
  if (limits_.max_messages != 0 && size_ >= limits_.max_messages) {
    ++counters_.refused_full;
    return RetainResult::refused_full;
  }
  if (node == nullptr) node = find_or_create(topic);
  node->message = message;
  ++size_;
  if (message->expires_at) heap_push(node, *message->expires_at);
  ++counters_.stored;
  return RetainResult::stored;
}

bool RetainedStore::erase(std::string_view topic) {
  Node* node = find(topic);
  if (node == nullptr || node->message == nullptr) return false;
  drop_message(node);
  prune(node);
  return true;
}

MessagePtr RetainedStore::get(std::string_view topic, TimePoint now) {
  Node* node = find(topic);
  if (node == nullptr || node->message == nullptr) return nullptr;
  if (node->message->expired(now)) {
    drop_message(node);
    prune(node);
    ++counters_.expired;
    return nullptr;
  }
  return node->message;
}

std::size_t RetainedStore::match_impl(std::string_view filter, TimePoint now, void* ctx, Visit visit) {
  ROADMQ_ASSERT(!filter.empty());
  // A frame iterates one node's children: for '+' each child continues the
  // filter at `pos`; for '#' each child and its whole subtree matches.
  struct Frame {
    const Node* node;
    std::size_t cursor;
    std::size_t pos;
    bool subtree;
    bool skip_system;  // [MQTT-4.7.2-1] a leading wildcard skips "$..." first levels
  };
  detail::SmallStack<Frame, 16> frames;
  std::size_t visited = 0;
  bool saw_expired = false;

  const auto emit = [&](const Node* n) {
    if (n->message == nullptr) return;
    if (n->message->expired(now)) {
      saw_expired = true;
      return;
    }
    ++visited;
    visit(ctx, n->message);
  };
  // Under '+' the same next level is looked up in every sibling; hash it once.
  std::size_t hashed_pos = std::string_view::npos;
  std::uint64_t hashed = 0;
  // Follows literal levels from `n` until the filter ends (emit) or reaches
  // a wildcard (push a frame).
  const auto enter = [&](const Node* n, std::size_t pos) {
    for (;;) {
      if (pos > filter.size()) {
        emit(n);
        return;
      }
      std::size_t end = filter.find('/', pos);
      if (end == std::string_view::npos) end = filter.size();
      const std::string_view level = filter.substr(pos, end - pos);
      if (level == "#") {
        emit(n);  // "a/#" matches "a" [MQTT-4.7.1-2]; the root holds no message
        if (!n->children.empty()) frames.push(Frame{n, 0, 0, true, n == &root_});
        return;
      }
      if (level == "+") {
        if (!n->children.empty()) frames.push(Frame{n, 0, end + 1, false, n == &root_});
        return;
      }
      if (n->children.size() > 1) {
        if (hashed_pos != pos) {
          hashed_pos = pos;
          hashed = detail::hash_string(level);
        }
        n = n->children.find_hashed(level, hashed);
      } else {
        n = n->children.find(level);
      }
      if (n == nullptr) return;
      pos = end + 1;
    }
  };

  enter(&root_, 0);
  while (!frames.empty()) {
    Frame& top = frames.top();
    const std::size_t slots = top.node->children.slot_count();
    const Node* child = nullptr;
    while (child == nullptr && top.cursor < slots) {
      child = top.node->children.slot(top.cursor++);
      if (child != nullptr && top.skip_system && child->key_size > 0 &&
          detail::key_of(child).front() == '$') {
        child = nullptr;
      }
    }
    if (child == nullptr) {
      frames.pop();
      continue;
    }
    // `top` dangles once something is pushed: read it first.
    if (top.subtree) {
      emit(child);
      if (!child->children.empty()) frames.push(Frame{child, 0, 0, true, false});
    } else {
      enter(child, top.pos);
    }
  }
  // Removing during the walk would reshape the tables being iterated.
  if (saw_expired) expire(now);
  return visited;
}

std::size_t RetainedStore::expire(TimePoint now) {
  std::size_t removed = 0;
  while (!expiry_.empty() && expiry_.front().at <= now) {
    Node* node = expiry_.front().node;
    drop_message(node);
    prune(node);
    ++removed;
  }
  counters_.expired += removed;
  return removed;
}

std::optional<TimePoint> RetainedStore::next_expiry() const noexcept {
  if (expiry_.empty()) return std::nullopt;
  return expiry_.front().at;
}

void RetainedStore::clear() noexcept {
  // Allocation-free, non-recursive teardown: a worklist threaded through
  // the parent pointers.
  Node* worklist = nullptr;
  auto release = [&worklist](Node& n) noexcept {
    n.children.for_each([&worklist](Node* c) {
      c->parent = worklist;
      worklist = c;
    });
    n.children = detail::NodeTable<Node>{};
  };
  release(root_);
  while (worklist != nullptr) {
    Node* n = worklist;
    worklist = n->parent;
    release(*n);
    detail::delete_keyed(n);
  }
  expiry_.clear();
  size_ = 0;
  nodes_ = 0;
}

RetainedStore::Node* RetainedStore::find(std::string_view topic) const noexcept {
  const Node* n = &root_;
  detail::LevelCursor levels(topic);
  while (!levels.done()) {
    n = n->children.find(levels.next());
    if (n == nullptr) return nullptr;
  }
  return const_cast<Node*>(n);
}

RetainedStore::Node* RetainedStore::find_or_create(std::string_view topic) {
  Node* n = &root_;
  detail::LevelCursor levels(topic);
  while (!levels.done()) {
    const std::string_view level = levels.next();
    Node* child = n->children.find(level);
    if (child == nullptr) {
      child = detail::new_keyed<Node>(level, n);
      try {
        n->children.insert(child);
      } catch (...) {
        detail::delete_keyed(child);
        prune(n);
        throw;
      }
      ++nodes_;
    }
    n = child;
  }
  return n;
}

void RetainedStore::drop_message(Node* node) noexcept {
  ROADMQ_ASSERT(node->message != nullptr);
  heap_remove(node);
  node->message.reset();
  --size_;
}

void RetainedStore::prune(Node* node) noexcept {
  while (node != &root_ && node->message == nullptr && node->children.empty()) {
    Node* parent = node->parent;
    Node* removed = parent->children.erase(detail::key_of(node));
    ROADMQ_ASSERT(removed == node);
    (void)removed;
    detail::delete_keyed(node);
    --nodes_;
    node = parent;
  }
}

void RetainedStore::heap_push(Node* node, TimePoint at) {
  expiry_.push_back(Expiry{at, node});
  node->heap_index = static_cast<std::uint32_t>(expiry_.size() - 1);
  heap_sift_up(expiry_.size() - 1);
}

void RetainedStore::heap_remove(Node* node) noexcept {
  const std::uint32_t i = node->heap_index;
  if (i == kNotInHeap) return;
  node->heap_index = kNotInHeap;
  const Expiry last = expiry_.back();
  expiry_.pop_back();
  if (i == expiry_.size()) return;
  heap_set(i, last);
  heap_sift_up(i);
  heap_sift_down(last.node->heap_index);
}

void RetainedStore::heap_sift_up(std::size_t i) noexcept {
  const Expiry e = expiry_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(e.at < expiry_[parent].at)) break;
    heap_set(i, expiry_[parent]);
    i = parent;
  }
  heap_set(i, e);
}

void RetainedStore::heap_sift_down(std::size_t i) noexcept {
  const Expiry e = expiry_[i];
  const std::size_t n = expiry_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && expiry_[child + 1].at < expiry_[child].at) ++child;
    if (!(expiry_[child].at < e.at)) break;
    heap_set(i, expiry_[child]);
    i = child;
  }
  heap_set(i, e);
}

void RetainedStore::heap_set(std::size_t i, Expiry e) noexcept {
  expiry_[i] = e;
  e.node->heap_index = static_cast<std::uint32_t>(i);
}

}  // namespace roadmq::broker
