#include <gtest/gtest.h>

#include <thread>

#include "net/connection.hpp"
#include "net/net_test_util.hpp"

namespace roadmq::net {
namespace {

using test::Client;
using test::pattern;
using test::Server;
using test::TestHandler;
using test::wait_until;

ShardId other(const Connection& c) { return ShardId(1 - c.shard_id().value()); }

// An echo server that moves each connection to the other shard every 64 KiB
// while the client streams: bytes in flight (in the kernel, in the handler,
// in pending output) must come back complete and in order.
TEST(NetMigration, KeepsBytesInFlightInOrder) {
  auto probe = std::make_shared<test::Probe>();
  std::atomic<int> wrong_thread{0};
  Server srv(2, {}, [&, probe](Connection&) {
    return std::make_unique<TestHandler>(
        probe, [&](TestHandler& h, std::span<const std::uint8_t> d) {
          Connection& c = h.connection();
          if (!c.shard().is_current()) wrong_thread.fetch_add(1);
          c.out().append(d);
          c.flush();
          const std::uint64_t before = h.state;
          h.state += d.size();
          if (before / (64u << 10) != h.state / (64u << 10)) {
            const ShardId target = other(c);
            c.migrate_to(target, [&, probe, target](Connection& moved) {
              if (moved.shard_id() != target || !moved.shard().is_current()) wrong_thread.fetch_add(1);
              if (&moved.handler()->connection() != &moved) wrong_thread.fetch_add(1);
              probe->migrated.fetch_add(1);
            });
          }
        },
        /*read_size=*/1500);
  });
  Client c(srv.port);
  const std::string data = pattern(8u << 20);
  std::thread sender([&] {
    // In pieces, so migrations interleave with arriving data.
    for (std::size_t off = 0; off < data.size(); off += 10000)
      c.send_all(std::string_view(data).substr(off, 10000));
  });
  const std::string back = c.recv_exact(data.size());
  sender.join();
  ASSERT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data);
  EXPECT_GE(probe->migrated.load(), 100);
  EXPECT_EQ(wrong_thread.load(), 0);
  const auto n = srv.pool.counters();
  EXPECT_EQ(n.migrations_in, static_cast<std::uint64_t>(probe->migrated.load()));
  EXPECT_EQ(n.migrations_out, n.migrations_in);
  EXPECT_EQ(n.connections_open, 1u);
  EXPECT_EQ(srv.listener->open_connections(), 1u);  // the slot moved along
  c.close();
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
  EXPECT_EQ(probe->reasons()[0], Error::peer_closed);
  EXPECT_EQ(srv.listener->open_connections(), 0u);
}

// Output the socket could not take yet travels with the connection.
TEST(NetMigration, CarriesPendingOutput) {
  ListenerOptions lo;
  lo.connection.send_buffer = 4096;
  lo.connection.high_watermark = 64u << 20;
  auto probe = std::make_shared<test::Probe>();
  std::atomic<std::uint32_t> done_on{UINT32_MAX};
  Server srv(2, lo, [&, probe](Connection&) {
    return std::make_unique<TestHandler>(probe, [&](TestHandler& h, std::span<const std::uint8_t>) {
      Connection& c = h.connection();
      c.out().append(pattern(3u << 20));
      c.flush();
      c.migrate_to(other(c), [&](Connection& moved) {
        done_on = current_shard().value();
        moved.out().append(pattern(1000, 3u << 20));  // after the carried bytes
        moved.flush();
      });
    });
  });
  Client c(srv.port, {.receive_buffer = 4096});
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  const std::uint32_t first = srv.last_shard().value();
  ASSERT_TRUE(c.send_all("m"));
  const std::string got = c.recv_exact((3u << 20) + 1000);
  EXPECT_TRUE(got == pattern((3u << 20) + 1000));
  EXPECT_EQ(done_on.load(), 1 - first);
}

// Close or abort in the same handler run as migrate_to: the migration is
// called off, the handler hears on_closed on the original shard, and the
// done callback never runs.
TEST(NetMigration, CloseBeforeTheMoveWins) {
  for (bool graceful : {true, false}) {
    auto probe = std::make_shared<test::Probe>();
    std::atomic<int> done_calls{0};
    Server srv(2, {}, [&, probe, graceful](Connection&) {
      return std::make_unique<TestHandler>(probe, [&, graceful](TestHandler& h, std::span<const std::uint8_t>) {
        Connection& c = h.connection();
        c.out().append(std::string_view("last words"));
        c.flush();
        c.migrate_to(other(c), [&](Connection&) { done_calls.fetch_add(1); });
        if (graceful) {
          c.close();
        } else {
          c.abort();
        }
      });
    });
    Client c(srv.port);
    ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
    const ShardId first = srv.last_shard();
    ASSERT_TRUE(c.send_all("x"));
    if (graceful) {
      EXPECT_EQ(c.recv_exact(10), "last words");
    }
    EXPECT_TRUE(c.wait_closed());
    ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
    EXPECT_EQ(probe->reasons()[0], graceful ? Error::local_close : Error::aborted);
    EXPECT_EQ(probe->close_shards()[0], first);
    EXPECT_EQ(done_calls.load(), 0);
    EXPECT_EQ(srv.pool.counters().migrations_out, 0u);
  }
}

// The peer vanishes while the connection is on its way: exactly one
// on_closed, on whichever shard the handler then lives.
TEST(NetMigration, PeerClosingDuringMigration) {
  auto probe = std::make_shared<test::Probe>();
  Server srv(2, {}, [probe](Connection&) {
    return std::make_unique<TestHandler>(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      Connection& c = h.connection();
      c.migrate_to(other(c), [](Connection& moved) {
        moved.migrate_to(other(moved), [](Connection&) {});  // and straight back
      });
    });
  });
  constexpr int kClients = 32;
  for (int i = 0; i < kClients; ++i) {
    Client c(srv.port);
    ASSERT_TRUE(c.send_all("m"));
    if (i % 2 == 0) {
      const linger lg{1, 0};
      ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
  }  // each closes right away
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == kClients; }));
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().connections_open == 0; }));
  EXPECT_EQ(probe->closed.load(), kClients);
  EXPECT_EQ(srv.listener->open_connections(), 0u);
}

TEST(NetMigration, ToItsOwnShard) {
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, {}, [probe](Connection&) {
    return std::make_unique<TestHandler>(probe, [probe](TestHandler& h, std::span<const std::uint8_t> d) {
      Connection& c = h.connection();
      c.out().append(d);
      c.flush();
      if (h.state++ == 0) c.migrate_to(c.shard_id(), [probe](Connection&) { probe->migrated.fetch_add(1); });
    });
  });
  Client c(srv.port);
  ASSERT_TRUE(c.send_all("one"));
  EXPECT_EQ(c.recv_exact(3), "one");
  ASSERT_TRUE(wait_until([&] { return probe->migrated.load() == 1; }));
  ASSERT_TRUE(c.send_all("two"));
  EXPECT_EQ(c.recv_exact(3), "two");
}

}  // namespace
}  // namespace roadmq::net
