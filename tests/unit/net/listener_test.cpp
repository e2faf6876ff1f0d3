#include "net/tcp_listener.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <dirent.h>
#include <fcntl.h>

#include "net/net_test_util.hpp"
#include "net/tcp_connection.hpp"

namespace roadmq::net {
namespace {

using test::Client;
using test::Server;
using test::wait_until;

TEST(NetListener, EphemeralPortWithReusePortAcceptsOnEveryShard) {
  Server srv(2);
  ASSERT_EQ(srv.error, "");
  EXPECT_NE(srv.port, 0);
  EXPECT_TRUE(srv.listener->reuse_port());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<Client>(srv.port));
    ASSERT_TRUE(clients.back()->connected());
  }
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 40; }));
  EXPECT_EQ(srv.listener->open_connections(), 40u);
  for (auto& c : clients) {
    ASSERT_TRUE(c->send_all("ping"));
    EXPECT_EQ(c->recv_exact(4), "ping");
  }
  clients.clear();
  ASSERT_TRUE(wait_until([&] { return srv.listener->open_connections() == 0; }));
}

TEST(NetListener, RoundRobinFallbackSpreadsOverShards) {
  ListenerOptions lo;
  lo.reuse_port = ReusePort::no;
  Server srv(2, lo);
  ASSERT_EQ(srv.error, "");
  EXPECT_FALSE(srv.listener->reuse_port());
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(std::make_unique<Client>(srv.port));
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 10; }));
  EXPECT_EQ(srv.pool.shard(ShardId(0)).counters().connections_accepted.get(), 5u);
  EXPECT_EQ(srv.pool.shard(ShardId(1)).counters().connections_accepted.get(), 5u);
  for (auto& c : clients) {
    ASSERT_TRUE(c->send_all("rr"));
    EXPECT_EQ(c->recv_exact(2), "rr");
  }
}

TEST(NetListener, Ipv6Loopback) {
  ListenerOptions lo;
  lo.bind = "[::1]:0";
  Server srv(1, lo);
  if (!srv.error.empty()) GTEST_SKIP() << "no IPv6 loopback here: " << srv.error;
  EXPECT_EQ(srv.listener->local_endpoint().family, Endpoint::Family::v6);
  Client c(srv.port, {.v6 = true});
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("six"));
  EXPECT_EQ(c.recv_exact(3), "six");
  EXPECT_EQ(srv.on_last([](Connection& conn) { return conn.remote_endpoint().address_string(); }),
            "::1");
}

TEST(NetListener, MaxConnectionsRefusesTheExcess) {
  ListenerOptions lo;
  lo.max_connections = 2;
  Server srv(2, lo);
  Client a(srv.port);
  Client b(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 2; }));
  Client over(srv.port);  // the handshake completes in the backlog...
  ASSERT_TRUE(over.connected());
  EXPECT_TRUE(over.wait_closed());  // ...then it is accepted and closed
  EXPECT_EQ(srv.pool.counters().connections_refused, 1u);
  EXPECT_EQ(srv.probe->accepted.load(), 2);

  a.close();
  ASSERT_TRUE(wait_until([&] { return srv.listener->open_connections() == 1; }));
  Client again(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 3; }));
  ASSERT_TRUE(again.send_all("ok"));
  EXPECT_EQ(again.recv_exact(2), "ok");
}

TEST(NetListener, StopClosesListeningSocketsButNotConnections) {
  Server srv(2);
  Client a(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  srv.listener->stop();
  Client refused(srv.port);
  EXPECT_FALSE(refused.connected());
  EXPECT_EQ(refused.connect_errno(), ECONNREFUSED);
  ASSERT_TRUE(a.send_all("still"));
  EXPECT_EQ(a.recv_exact(5), "still");
  srv.listener->stop();  // idempotent
}

TEST(NetListener, BindErrorsAreReported) {
  ShardPool pool;
  pool.start(2);
  {
    TcpListener bad(pool, {.bind = "127.0.0.1:99999"}, [](Connection&) {});
    auto r = bad.start();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::invalid_argument);
    EXPECT_NE(r.error().what.find("invalid port"), std::string::npos);
  }
  {
    // A port held by a socket without SO_REUSEPORT.
    UniqueFd holder(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(holder.get(), 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&a), &len);
    TcpListener busy(pool, {.bind = "127.0.0.1:" + std::to_string(ntohs(a.sin_port))},
                     [](Connection&) {});
    auto r = busy.start();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, std::errc::address_in_use);
    EXPECT_NE(r.error().what.find("bind"), std::string::npos);
  }
  pool.stop();
  TcpListener late(pool, {.bind = "127.0.0.1:0"}, [](Connection&) {});
  EXPECT_FALSE(late.start());  // pool not running
}

TEST(NetListener, AcceptWithoutAHandlerCloses) {
  ShardPool pool;
  pool.start(1);
  TcpListener l(pool, {.bind = "127.0.0.1:0"}, [](Connection&) {});
  ASSERT_TRUE(l.start());
  Client c(l.local_port());
  EXPECT_TRUE(c.wait_closed());
  l.stop();
  pool.stop();
}

int highest_open_fd() {
  int high = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) high = std::max(high, std::atoi(e->d_name));
  ::closedir(d);
  return high;
}

// Out of descriptors: accept fails with EMFILE. The listener must pause
// (counted, reported) rather than spin, then accept once descriptors free up.
TEST(NetListener, EmfilePausesAcceptingThenRecovers) {
  std::atomic<int> reported{0};
  std::atomic<int> last_error{0};
  ShardPool pool;
  pool.start(1);
  auto probe = std::make_shared<test::Probe>();
  TcpListener l(
      pool, {.bind = "127.0.0.1:0", .accept_error_pause = std::chrono::milliseconds(20)},
      [probe](Connection& c) {
        c.set_handler(std::make_unique<test::TestHandler>(probe));
        probe->accepted.fetch_add(1);
      },
      [&](ShardId, std::error_code ec) {
        last_error = ec.value();
        reported.fetch_add(1);
      });
  ASSERT_TRUE(l.start());
  ASSERT_TRUE(test::run_on(pool, ShardId(0), [] { return true; }));  // acceptor is up

  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // Fill every descriptor below a new, low limit, then free exactly one for
  // the client socket: the server's accept has none left.
  const int limit = highest_open_fd() + 16;
  std::vector<UniqueFd> filler;
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(limit);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  for (;;) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) break;
    filler.push_back(std::move(fd));
  }
  ASSERT_FALSE(filler.empty());
  filler.pop_back();
  Client c(l.local_port());  // completes in the kernel backlog
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(wait_until([&] { return pool.counters().accept_pauses >= 1; }));
  EXPECT_GE(pool.counters().accept_errors, 1u);
  EXPECT_EQ(probe->accepted.load(), 0);
  EXPECT_GE(reported.load(), 1);
  EXPECT_EQ(last_error.load(), EMFILE);
  // Free descriptors: the paused acceptor retries and takes the connection.
  filler.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_TRUE(wait_until([&] { return probe->accepted.load() == 1; }));
  ASSERT_TRUE(c.send_all("back"));
  EXPECT_EQ(c.recv_exact(4), "back");
  l.stop();
  pool.stop();
}

TEST(NetConnector, ConnectsOutAndTalksToAListener) {
  Server srv(2);
  auto client_probe = std::make_shared<test::Probe>();
  std::atomic<bool> got_reply{false};
  std::string reply;  // written on shard 1, read after got_reply
  auto group = std::make_shared<ConnectionGroup>(ConnectionOptions{});
  srv.pool.post(ShardId(1), [&, group] {
    tcp_connect(*Shard::current(), Endpoint::loopback_v4(srv.port), ConnectionSlot::acquire(group),
                std::chrono::seconds(10), [&](Expected<ConnectionPtr, std::error_code> r) {
                  ASSERT_TRUE(r);
                  ConnectionPtr c = *r;
                  c->set_handler(std::make_unique<test::TestHandler>(
                      client_probe, [&](test::TestHandler& h, std::span<const std::uint8_t> d) {
                        reply.append(d.begin(), d.end());
                        if (reply.size() == 4) {
                          got_reply = true;
                          h.connection().close();
                        }
                      }));
                  c->out().append(std::string_view("ping"));
                  c->flush();
                });
  });
  ASSERT_TRUE(wait_until([&] { return got_reply.load(); }));
  EXPECT_EQ(reply, "ping");
  ASSERT_TRUE(wait_until([&] { return client_probe->closed.load() == 1; }));
  EXPECT_EQ(client_probe->reasons()[0], Error::local_close);
  ASSERT_TRUE(wait_until([&] { return group->open() == 0; }));
}

TEST(NetConnector, ReportsConnectionRefused) {
  ShardPool pool;
  pool.start(1);
  // A port nobody listens on: bind one, then close it.
  std::uint16_t port;
  {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  std::atomic<int> error{0};
  auto group = std::make_shared<ConnectionGroup>(ConnectionOptions{});
  pool.post(ShardId(0), [&, group] {
    tcp_connect(*Shard::current(), Endpoint::loopback_v4(port), ConnectionSlot::acquire(group),
                std::chrono::seconds(10), [&](Expected<ConnectionPtr, std::error_code> r) {
                  error = r ? -1 : r.error().value();
                });
  });
  ASSERT_TRUE(wait_until([&] { return error.load() != 0; }));
  EXPECT_EQ(error.load(), ECONNREFUSED);
  pool.stop();
}

}  // namespace
}  // namespace roadmq::net
