#include "net/poller.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/basic_stream_descriptor.hpp>
#include <cerrno>
#include <system_error>

namespace roadmq::net {
namespace {

namespace asio = boost::asio;
using Descriptor = asio::posix::basic_stream_descriptor<asio::io_context::executor_type>;

int make_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  // Without an epoll set the shard cannot serve a single socket.
  if (fd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
  return fd;
}

}  // namespace

struct Poller::State {
  explicit State(asio::io_context& io) : set(io.get_executor(), make_epoll()) {}
  Descriptor set;  // owns the epoll descriptor; readable when events wait
  std::array<epoll_event, kBatch> events{};
};

Poller::Poller(asio::io_context& io) : st_(std::make_unique<State>(io)) { arm(); }

Poller::~Poller() = default;

std::error_code Poller::add(int fd, PollTarget& target) noexcept {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &target;
  if (::epoll_ctl(st_->set.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return {errno, std::system_category()};
  ++registered_;
  return {};
}

void Poller::remove(int fd, PollTarget& target) noexcept {
  // The descriptor may be shared with another process (fork) or dup'ed, so
  // closing it alone would not be enough to stop its events.
  (void)::epoll_ctl(st_->set.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
  --registered_;
  if (dispatching_) retired_.push_back(&target);
}

bool Poller::retired(const PollTarget* t) const noexcept {
  return std::find(retired_.begin(), retired_.end(), t) != retired_.end();
}

void Poller::arm() {
  st_->set.async_wait(Descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the shard is going away, `this` may be too
    dispatch();
  });
}

void Poller::dispatch() {
  const int n = ::epoll_wait(st_->set.native_handle(), st_->events.data(), kBatch, 0);
  dispatching_ = true;
  for (int i = 0; i < n; ++i) {
    auto* target = static_cast<PollTarget*>(st_->events[i].data.ptr);
    // A target removed by an earlier one in this batch may be gone; its
    // address may even belong to a newer target, whose events are not in
    // this batch either.
    if (!retired_.empty() && retired(target)) continue;
    target->on_poll(st_->events[i].events);
  }
  dispatching_ = false;
  retired_.clear();
  if (n == kBatch) {
    // More may be ready. The nested set raises a new edge only for events
    // that arrive from now on, so come back for these rather than wait.
    asio::post(st_->set.get_executor(), [this] { dispatch(); });
  } else {
    arm();
  }
}

}  // namespace roadmq::net
