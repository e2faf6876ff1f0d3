// Action lists reused from one handler call to the next. A fresh vector per
// packet or delivery costs an allocation or three on the message path; a
// lease takes a cleared vector that kept its capacity. Runs nest (a publish
// routes to deliveries that run their own actions), so each nesting level
// leases its own vector.
//
// Thread safety: one pool per shard, used on that shard's thread.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "broker/session_action.hpp"

namespace roadmq::broker {

class ActionsPool {
 public:
  class Lease {
   public:
    explicit Lease(ActionsPool& pool) : pool_(pool), actions_(pool.take()) {}
    ~Lease() { pool_.give(std::move(actions_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Actions& operator*() noexcept { return actions_; }

   private:
    ActionsPool& pool_;
    Actions actions_;
  };

 private:
  // Bounds: a few nesting levels are all a shard ever uses at once, and a
  // vector that once grew large is not kept.
  static constexpr std::size_t kMaxKept = 8;
  static constexpr std::size_t kMaxCapacity = 256;

  Actions take() {
    if (free_.empty()) return {};
    Actions a = std::move(free_.back());
    free_.pop_back();
    return a;
  }
  void give(Actions&& a) {
    a.clear();
    if (free_.size() < kMaxKept && a.capacity() <= kMaxCapacity) free_.push_back(std::move(a));
  }

  std::vector<Actions> free_;
};

}  // namespace roadmq::broker
