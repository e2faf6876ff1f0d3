// Poller: a shard's own epoll set for its TCP connections, nested in the
// shard's io_context as one descriptor. Each socket is registered once,
// edge-triggered for both directions, for its whole life on the shard;
// readiness is remembered by the connection itself. Compared with a
// per-socket Asio wait, an idle connection then costs no reactor state and
// no pending operation object (about 290 bytes), and one wake of the shard
// hands out the readiness of many sockets with one epoll_wait.
//
// Thread safety: shard thread only (created, used and destroyed there).
#pragma once

#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace roadmq::net {

// Something registered with a Poller: told the epoll events of its socket.
class PollTarget {
 public:
  // EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP / EPOLLRDHUP bits. The target
  // may unregister itself, other targets or be destroyed from here.
  virtual void on_poll(std::uint32_t events) = 0;

 protected:
  PollTarget() = default;
  ~PollTarget() = default;
};

class Poller {
 public:
  // Events handed out per epoll_wait before the shard runs other handlers.
  static constexpr int kBatch = 256;

  explicit Poller(boost::asio::io_context& io);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers `fd` (non-blocking), edge-triggered for input and output.
  // Readiness present at registration is reported once.
  std::error_code add(int fd, PollTarget& target) noexcept;
  // Stops reporting `fd` for `target`, including events already fetched in
  // the batch being handed out. Call before closing or handing over `fd`.
  void remove(int fd, PollTarget& target) noexcept;

  std::size_t registered() const noexcept { return registered_; }

 private:
  struct State;
  void arm();
  void dispatch();
  bool retired(const PollTarget* t) const noexcept;

  std::unique_ptr<State> st_;
  std::vector<PollTarget*> retired_;  // removed during the current batch
  std::size_t registered_ = 0;
  bool dispatching_ = false;
};

}  // namespace roadmq::net
