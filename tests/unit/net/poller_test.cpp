// Poller: a shard's nested epoll set. Events reach their targets from the
// io_context, more than one batch of them too; a target removed while a
// batch is handed out gets nothing more from it; edges that come after a
// drain wake the io_context again.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "net/poller.hpp"
#include "net/unique_fd.hpp"

namespace roadmq::net {
namespace {

struct Pair {
  UniqueFd a, b;  // a: registered end; b: the peer that writes
};

Pair make_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void poke(const UniqueFd& fd) { ASSERT_EQ(::write(fd.get(), "x", 1), 1); }

struct Recorder final : PollTarget {
  std::vector<std::uint32_t> events;
  std::function<void()> on_event;
  void on_poll(std::uint32_t e) override {
    events.push_back(e);
    if (on_event) on_event();
  }
  bool saw(std::uint32_t bit) const {
    for (auto e : events)
      if ((e & bit) != 0) return true;
    return false;
  }
};

void run_for_a_moment(boost::asio::io_context& io) {
  io.restart();
  io.poll();
  io.restart();
  io.run_for(std::chrono::milliseconds(20));
}

TEST(NetPoller, ReadinessAtRegistrationAndLaterEdgesAreReported) {
  boost::asio::io_context io(1);
  Poller poller(io);
  Pair p = make_pair();
  Recorder r;
  ASSERT_FALSE(poller.add(p.a.get(), r));
  EXPECT_EQ(poller.registered(), 1u);
  run_for_a_moment(io);
  ASSERT_FALSE(r.events.empty());
  EXPECT_TRUE(r.saw(EPOLLOUT));  // writable from the start
  EXPECT_FALSE(r.saw(EPOLLIN));
  r.events.clear();
  poke(p.b);
  run_for_a_moment(io);
  EXPECT_TRUE(r.saw(EPOLLIN));
  r.events.clear();
  p.b.reset();  // hang-up
  run_for_a_moment(io);
  EXPECT_TRUE(r.saw(EPOLLRDHUP) || r.saw(EPOLLHUP));
  poller.remove(p.a.get(), r);
  EXPECT_EQ(poller.registered(), 0u);
}

TEST(NetPoller, MoreThanOneBatchIsHandedOutWithoutANewEdge) {
  boost::asio::io_context io(1);
  Poller poller(io);
  constexpr int kCount = Poller::kBatch * 2 + 10;
  std::vector<Pair> pairs;
  std::vector<std::unique_ptr<Recorder>> targets;
  for (int i = 0; i < kCount; ++i) {
    pairs.push_back(make_pair());
    targets.push_back(std::make_unique<Recorder>());
    ASSERT_FALSE(poller.add(pairs.back().a.get(), *targets.back()));
  }
  run_for_a_moment(io);  // registration edges
  for (auto& t : targets) t->events.clear();
  for (auto& p : pairs) poke(p.b);
  run_for_a_moment(io);
  int got = 0;
  for (auto& t : targets) got += t->saw(EPOLLIN) ? 1 : 0;
  EXPECT_EQ(got, kCount);
  for (int i = 0; i < kCount; ++i) poller.remove(pairs[i].a.get(), *targets[i]);
}

TEST(NetPoller, ATargetRemovedDuringABatchGetsNothingMoreFromIt) {
  boost::asio::io_context io(1);
  Poller poller(io);
  Pair p1 = make_pair(), p2 = make_pair();
  auto first = std::make_unique<Recorder>();
  auto second = std::make_unique<Recorder>();
  ASSERT_FALSE(poller.add(p1.a.get(), *first));
  ASSERT_FALSE(poller.add(p2.a.get(), *second));
  run_for_a_moment(io);
  first->events.clear();
  second->events.clear();
  // Whichever of the two is told first removes and destroys the other, as
  // a session takeover closes an older connection.
  bool removed = false;
  auto remove_other = [&](std::unique_ptr<Recorder>& other, Pair& pair) {
    if (removed) return;
    removed = true;
    poller.remove(pair.a.get(), *other);
    other.reset();
  };
  first->on_event = [&] { remove_other(second, p2); };
  second->on_event = [&] { remove_other(first, p1); };
  poke(p1.b);
  poke(p2.b);
  run_for_a_moment(io);  // ASan catches a call into the destroyed target
  EXPECT_TRUE(removed);
  EXPECT_EQ(poller.registered(), 1u);
  if (first) poller.remove(p1.a.get(), *first);
  if (second) poller.remove(p2.a.get(), *second);
}

TEST(NetPoller, ADescriptorThatCannotBeWatchedIsAnError) {
  boost::asio::io_context io(1);
  Poller poller(io);
  Recorder r;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd rd(fds[0]), wr(fds[1]);
  const int closed = ::dup(rd.get());
  ::close(closed);
  EXPECT_TRUE(poller.add(closed, r));  // EBADF
  EXPECT_EQ(poller.registered(), 0u);
}

}  // namespace
}  // namespace roadmq::net
