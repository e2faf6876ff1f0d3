#include "net/mailbox.hpp"

#include <thread>

namespace roadmq::net {

Mailbox::Mailbox() noexcept : head_(&stub_), tail_(&stub_) {}

Mailbox::~Mailbox() { destroy_all(); }

void Mailbox::push_node(MailboxNode* n) noexcept {
  n->next.store(nullptr, std::memory_order_relaxed);
  // seq_cst: pairs with the consumer's store(scheduled=false) then load(head_)
  // in drain(); one of the two sides must see the other (Dekker), or a task
  // could sit unnoticed while nobody is scheduled to drain.
  MailboxNode* prev = head_.exchange(n, std::memory_order_seq_cst);
  prev->next.store(n, std::memory_order_release);
}

bool Mailbox::push(Task* task) noexcept {
  push_node(task);
  return !scheduled_.exchange(true, std::memory_order_seq_cst);
}

Task* Mailbox::pop(bool& busy) noexcept {
  busy = false;
  MailboxNode* tail = tail_;
  MailboxNode* next = tail->next.load(std::memory_order_acquire);
  if (tail == &stub_) {
    if (next == nullptr) {
      // Empty, unless a producer has swapped head_ but not linked yet.
      busy = head_.load(std::memory_order_seq_cst) != &stub_;
      return nullptr;
    }
    tail_ = next;
    tail = next;
    next = next->next.load(std::memory_order_acquire);
  }
  if (next != nullptr) {
    tail_ = next;
    return static_cast<Task*>(tail);
  }
  if (tail != head_.load(std::memory_order_seq_cst)) {
    busy = true;  // a producer is between its exchange and its link
    return nullptr;
  }
  // `tail` is the last node: put the stub behind it so it can be handed out.
  push_node(&stub_);
  next = tail->next.load(std::memory_order_acquire);
  if (next != nullptr) {
    tail_ = next;
    return static_cast<Task*>(tail);
  }
  busy = true;
  return nullptr;
}

bool Mailbox::maybe_nonempty() const noexcept {
  return tail_->next.load(std::memory_order_seq_cst) != nullptr ||
         head_.load(std::memory_order_seq_cst) != tail_;
}

Mailbox::Drain Mailbox::drain(std::size_t budget, std::size_t& ran) {
  std::size_t n = 0;
  while (n < budget) {
    bool busy = false;
    Task* t = pop(busy);
    if (t == nullptr) {
      if (busy) break;  // come back shortly rather than spin here
      scheduled_.store(false, std::memory_order_seq_cst);
      if (!maybe_nonempty()) {
        ran += n;
        return Drain::idle;
      }
      // Something arrived after we looked. Either its producer saw
      // scheduled_ == false and scheduled a drain already, or we take it.
      if (scheduled_.exchange(true, std::memory_order_seq_cst)) {
        ran += n;
        return Drain::idle;
      }
      continue;
    }
    t->run();
    delete t;
    ++n;
  }
  ran += n;
  return Drain::more;
}

void Mailbox::destroy_all() noexcept {
  for (;;) {
    bool busy = false;
    Task* t = pop(busy);
    if (t == nullptr) {
      if (!busy) return;
      std::this_thread::yield();  // shutdown only: a racing producer is mid-link
      continue;
    }
    delete t;
  }
}

}  // namespace roadmq::net
