#include "net/connection.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

#include "net/error.hpp"
#include "net/net_test_util.hpp"

namespace roadmq::net {
namespace {

using test::Client;
using test::pattern;
using test::Server;
using test::TestHandler;
using test::wait_until;

std::unique_ptr<ConnectionHandler> handler(const std::shared_ptr<test::Probe>& p,
                                           TestHandler::DataHook hook, std::size_t read_size = 4096) {
  return std::make_unique<TestHandler>(p, std::move(hook), read_size);
}

void append(Connection& c, std::string_view s) { c.out().append(s); }

TEST(NetConnection, EchoRoundTrip) {
  Server srv(2);
  ASSERT_EQ(srv.error, "");
  ASSERT_NE(srv.port, 0);
  Client c(srv.port);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("hello"));
  EXPECT_EQ(c.recv_exact(5), "hello");

  // 4 MiB both ways at once (the reader keeps the server's output moving).
  const std::string big = pattern(4 << 20);
  std::thread sender([&] { c.send_all(big); });
  const std::string back = c.recv_exact(big.size());
  sender.join();
  EXPECT_TRUE(back == big);

  EXPECT_EQ(srv.on_last([](Connection& conn) { return conn.remote_endpoint().address_string(); }),
            "127.0.0.1");
  EXPECT_EQ(srv.on_last([](Connection& conn) { return conn.local_endpoint().port; }), srv.port);

  c.close();
  ASSERT_TRUE(wait_until([&] { return srv.probe->closed.load() == 1; }));
  EXPECT_EQ(srv.probe->reasons()[0], Error::peer_closed);
  const auto n = srv.pool.counters();
  EXPECT_EQ(n.connections_accepted, 1u);
  EXPECT_EQ(n.connections_closed, 1u);
  EXPECT_EQ(n.connections_open, 0u);
  EXPECT_EQ(n.bytes_in, 5u + big.size());
  EXPECT_EQ(n.bytes_out, 5u + big.size());
}

TEST(NetConnection, ManyFlushesInOneHandlerRunAreOneWrite) {
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, {}, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      for (int i = 0; i < 100; ++i) {
        append(h.connection(), "msg-" + std::to_string(1000 + i) + ";");
        h.connection().flush();
      }
    });
  });
  Client c(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  const auto before = srv.pool.counters();
  ASSERT_TRUE(c.send_all("x"));
  const std::string got = c.recv_exact(100 * 9);
  ASSERT_EQ(got.size(), 900u);
  EXPECT_EQ(got.substr(0, 18), "msg-1000;msg-1001;");
  // The client can see the bytes before the server counts its write.
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().writes - before.writes >= 1; }));
  srv.on_last([](Connection&) {});  // and anything after it has run
  const auto after = srv.pool.counters();
  EXPECT_EQ(after.reads - before.reads, 1u);
  EXPECT_EQ(after.writes - before.writes, 1u);
}

TEST(NetConnection, FlushesFromOutsideAHandlerCoalesceToo) {
  Server srv(1);
  Client c(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  const auto before = srv.pool.counters();
  // As a router fanning out a batch: many deliveries, each flushed.
  srv.on_last([](Connection& conn) {
    for (int i = 0; i < 100; ++i) {
      append(conn, "0123456789");
      conn.flush();
    }
  });
  EXPECT_EQ(c.recv_exact(1000).size(), 1000u);
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().writes - before.writes >= 1; }));
  srv.on_last([](Connection&) {});
  EXPECT_EQ(srv.pool.counters().writes - before.writes, 1u);
}

TEST(NetConnection, WriteCoalescingUnderLoad) {
  ListenerOptions lo;
  lo.connection.high_watermark = 64u << 20;
  lo.connection.hard_limit = 128u << 20;
  lo.connection.send_buffer = 4096;
  Server srv(1, lo);
  Client c(srv.port, {.receive_buffer = 4096});
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  constexpr int kMessages = 20000;
  constexpr std::size_t kSize = 100;
  std::atomic<bool> produced{false};
  const auto before = srv.pool.counters();
  // Each message is its own task (its own handler run), as deliveries from
  // other shards arrive.
  Connection* conn = srv.probe->last.load();
  ShardPool& pool = srv.pool;
  std::function<void(int)> produce = [&](int i) {
    conn->out().append(pattern(kSize, i * kSize));
    conn->flush();
    if (i + 1 < kMessages) {
      pool.post(ShardId(0), [&produce, i] { produce(i + 1); });
    } else {
      produced = true;
    }
  };
  pool.post(ShardId(0), [&] { produce(0); });
  ASSERT_TRUE(wait_until([&] { return produced.load(); }));
  const std::string got = c.recv_exact(kMessages * kSize);
  ASSERT_EQ(got.size(), kMessages * kSize);
  EXPECT_TRUE(got == pattern(kMessages * kSize));
  const auto writes = srv.pool.counters().writes - before.writes;
  EXPECT_LT(writes, kMessages / 10u) << "writes were not coalesced";
  EXPECT_GE(writes, 1u);
}

// Per request byte the server answers 64 KiB; the client sends 100 requests
// and does not read: reading must pause above the high watermark.
TEST(NetConnection, BackpressurePausesAndResumesReading) {
  ListenerOptions lo;
  lo.connection.high_watermark = 256u << 10;
  lo.connection.low_watermark = 64u << 10;
  lo.connection.send_buffer = 4096;
  auto probe = std::make_shared<test::Probe>();
  constexpr std::size_t kAnswer = 64u << 10;
  Server srv(1, lo, [probe](Connection&) {
    return handler(
        probe,
        [](TestHandler& h, std::span<const std::uint8_t> data) {
          for (std::size_t i = 0; i < data.size(); ++i) {
            h.connection().out().append(pattern(kAnswer, h.state));
            h.state += kAnswer;
            h.connection().flush();
          }
        },
        /*read_size=*/1);
  });
  Client c(srv.port, {.receive_buffer = 4096});
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  ASSERT_TRUE(c.send_all(std::string(100, 'r')));
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().backpressure_pauses >= 1; }));
  const auto [blocked, pending] = srv.on_last([](Connection& conn) {
    return std::pair{conn.output_blocked(), conn.output_pending()};
  });
  EXPECT_TRUE(blocked);
  EXPECT_GT(pending, 64u << 10);
  EXPECT_LT(probe->bytes_read.load(), 100u) << "kept reading while blocked";

  const std::string got = c.recv_exact(100 * kAnswer);
  ASSERT_EQ(got.size(), 100 * kAnswer);
  EXPECT_TRUE(got == pattern(100 * kAnswer));
  EXPECT_EQ(probe->bytes_read.load(), 100u);
  EXPECT_GE(probe->writable.load(), 1);
  EXPECT_FALSE(srv.on_last([](Connection& conn) { return conn.output_blocked(); }));
}

TEST(NetConnection, HardOutputLimitCloses) {
  ListenerOptions lo;
  lo.connection.high_watermark = 64u << 20;
  lo.connection.hard_limit = 1u << 20;
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, lo, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      for (int i = 0; i < 32; ++i) {
        h.connection().out().append(std::string(64u << 10, 'z'));
        h.connection().flush();
      }
    });
  });
  Client c(srv.port);
  ASSERT_TRUE(c.send_all("go"));
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
  EXPECT_EQ(probe->reasons()[0], Error::output_overflow);
  EXPECT_EQ(srv.pool.counters().output_overflows, 1u);
  EXPECT_TRUE(c.wait_closed());
}

// A fan-out payload queued by reference: on the wire in order between
// copied bytes, and released once written.
TEST(NetConnection, SharedBlocksAreWrittenByReference) {
  auto block = std::make_shared<const std::string>(pattern(64u << 10, 7));
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, {}, [probe, block](Connection&) {
    return handler(probe, [block](TestHandler& h, std::span<const std::uint8_t>) {
      OutputBuffer& out = h.connection().out();
      for (int i = 0; i < 20; ++i) {
        out.append(std::string_view("<hdr>"));
        out.append_shared(block, {reinterpret_cast<const std::uint8_t*>(block->data()), block->size()});
      }
      out.append(std::string_view("<end>"));
      h.connection().flush();
    });
  });
  Client c(srv.port);
  ASSERT_TRUE(c.send_all("x"));
  std::string expect;
  for (int i = 0; i < 20; ++i) expect += "<hdr>" + *block;
  expect += "<end>";
  const std::string got = c.recv_exact(expect.size());
  EXPECT_TRUE(got == expect);
  // Written, so the 20 queued references are gone: left are ours, the
  // factory's and the handler hook's.
  EXPECT_TRUE(wait_until([&] { return block.use_count() == 3; }));
}

TEST(NetConnection, ALargeBacklogFromOutsideAHandlerIsWrittenAtOnce) {
  Server srv(1);
  Client c(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  // As a fan-in: another connection's callback delivers many messages here.
  // Below eager_write_bytes they wait for the end of that callback; past it
  // they leave right away, so the backlog never reaches the high watermark.
  const std::size_t eager = ConnectionOptions{}.eager_write_bytes;
  const auto pending = srv.on_last([&](Connection& conn) {
    std::size_t most = 0;
    for (std::size_t sent = 0; sent < 4 * eager; sent += 1000) {
      append(conn, pattern(1000));
      conn.flush();
      most = std::max(most, conn.output_pending());
    }
    return most;
  });
  EXPECT_LT(pending, eager + 1000);
  EXPECT_EQ(c.recv_exact(4 * eager).size(), 4 * eager);
}

TEST(NetConnection, ReadsPerWakeStopAtTheByteBudget) {
  ListenerOptions lo;
  lo.connection.max_read_bytes_per_wake = 8192;
  lo.connection.max_reads_per_wake = 1000;
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, lo, [probe](Connection&) {
    return handler(probe, [](TestHandler&, std::span<const std::uint8_t>) {}, 4096);
  });
  Client c(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  // Everything arrives (the rest of the input is read on later wakes).
  const std::string big = pattern(1 << 20);
  ASSERT_TRUE(c.send_all(big));
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().bytes_in >= big.size(); }));
  EXPECT_EQ(srv.pool.counters().bytes_in, big.size());
}

TEST(NetConnection, IdleOutputStorageShrinksAfterABurst) {
  Server srv(1);
  Client c(srv.port);
  const std::string big = pattern(1 << 20);
  std::thread sender([&] { c.send_all(big); });
  EXPECT_EQ(c.recv_exact(big.size()).size(), big.size());
  sender.join();
  const std::size_t cap = srv.on_last([](Connection& conn) {
    return conn.output_pending() == 0 ? conn.out().capacity_bytes() : SIZE_MAX;
  });
  EXPECT_LE(cap, ConnectionOptions{}.idle_output_capacity);
}

TEST(NetConnection, GracefulCloseFlushesThenSendsFin) {
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, {}, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      h.connection().out().append(pattern(2u << 20));  // more than the socket takes at once
      h.connection().flush();
      h.connection().close();
      h.connection().close();  // idempotent
    });
  });
  Client c(srv.port, {.receive_buffer = 4096});
  ASSERT_TRUE(c.send_all("bye"));
  const std::string got = c.recv_exact(2u << 20);
  EXPECT_TRUE(got == pattern(2u << 20));
  EXPECT_TRUE(c.wait_closed());
  c.close();  // ends the server's lingering read
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
  EXPECT_EQ(probe->reasons()[0], Error::local_close);
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().connections_open == 0; }));
  EXPECT_EQ(srv.pool.counters().close_timeouts, 0u);
}

TEST(NetConnection, CloseTimesOutWhenThePeerDoesNotRead) {
  ListenerOptions lo;
  lo.connection.close_timeout = std::chrono::milliseconds(50);
  lo.connection.send_buffer = 4096;
  lo.connection.high_watermark = 64u << 20;
  lo.connection.hard_limit = 0;
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, lo, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      h.connection().out().append(std::string(8u << 20, 'w'));
      h.connection().close();
    });
  });
  Client c(srv.port, {.receive_buffer = 4096});
  ASSERT_TRUE(c.send_all("x"));
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
  EXPECT_EQ(probe->reasons()[0], Error::close_timeout);
  EXPECT_EQ(srv.pool.counters().close_timeouts, 1u);
  EXPECT_TRUE(c.wait_closed());
}

TEST(NetConnection, AbortDropsOutput) {
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, {}, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t>) {
      append(h.connection(), "never sent");
      h.connection().flush();
      h.connection().abort();
      append(h.connection(), "nor this");
      h.connection().flush();
    });
  });
  Client c(srv.port);
  ASSERT_TRUE(c.send_all("x"));
  EXPECT_EQ(c.recv_exact(1), "");  // closed without data
  ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
  EXPECT_EQ(probe->reasons()[0], Error::aborted);
}

// close/abort combinations in one handler run: exactly one on_closed.
TEST(NetConnection, CloseAndAbortRacesGiveOneOnClosed) {
  enum Mode { close_then_abort, abort_then_close, abort_twice };
  for (Mode mode : {close_then_abort, abort_then_close, abort_twice}) {
    auto probe = std::make_shared<test::Probe>();
    Server srv(1, {}, [probe, mode](Connection&) {
      return handler(probe, [mode](TestHandler& h, std::span<const std::uint8_t>) {
        Connection& c = h.connection();
        append(c, "data");
        c.flush();
        switch (mode) {
          case close_then_abort:
            c.close();
            c.abort();
            break;
          case abort_then_close:
            c.abort();
            c.close();
            break;
          case abort_twice:
            c.abort();
            c.abort();
            break;
        }
      });
    });
    Client c(srv.port);
    ASSERT_TRUE(c.send_all("x"));
    EXPECT_TRUE(c.wait_closed());
    ASSERT_TRUE(wait_until([&] { return probe->closed.load() >= 1; }));
    ASSERT_TRUE(wait_until([&] { return srv.pool.counters().connections_open == 0; }));
    srv.on_last([](Connection&) {});  // let any stray notification run
    EXPECT_EQ(probe->closed.load(), 1) << mode;
    EXPECT_EQ(probe->reasons()[0], Error::aborted) << mode;
  }
}

// Aborting from outside while a write waits for the socket, and a peer that
// resets while output is blocked: one on_closed each, no use-after-free.
TEST(NetConnection, CloseRacesAPendingWrite) {
  ListenerOptions lo;
  lo.connection.send_buffer = 4096;
  lo.connection.high_watermark = 64u << 20;
  lo.connection.hard_limit = 0;
  auto probe = std::make_shared<test::Probe>();
  Server srv(1, lo, [probe](Connection&) {
    return handler(probe, [](TestHandler& h, std::span<const std::uint8_t> d) {
      if (d[0] == 'w') {
        h.connection().out().append(std::string(4u << 20, 'w'));
        h.connection().flush();
      }
    });
  });
  {
    Client c(srv.port, {.receive_buffer = 4096});
    ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
    ASSERT_TRUE(c.send_all("w"));
    ASSERT_TRUE(wait_until([&] {
      return srv.on_last([](Connection& conn) { return conn.output_pending() > 0; });
    }));
    srv.on_last([](Connection& conn) {
      conn.abort();
      conn.abort();
      conn.close();
      conn.out().append(std::string_view("late"));
      conn.flush();
    });
    ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 1; }));
    EXPECT_EQ(probe->reasons()[0], Error::aborted);
  }
  {
    Client c(srv.port, {.receive_buffer = 4096});
    ASSERT_TRUE(c.send_all("w"));
    ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 2; }));
    ASSERT_TRUE(wait_until([&] {
      return srv.on_last([](Connection& conn) { return conn.output_pending() > 0; });
    }));
    const linger lg{1, 0};  // close with RST
    ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    c.close();
    ASSERT_TRUE(wait_until([&] { return probe->closed.load() == 2; }));
    const std::error_code reason = probe->reasons()[1];
    EXPECT_TRUE(reason == std::errc::connection_reset || reason == std::errc::broken_pipe ||
                reason == Error::peer_closed)
        << reason.message();
  }
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().connections_open == 0; }));
}

// Many clients that send and vanish (half with a RST) while the server
// echoes on two shards: each connection is reported closed exactly once.
TEST(NetConnection, ManyAbruptClosesUnderTraffic) {
  Server srv(2);
  constexpr int kClients = 64;
  {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<Client>(srv.port));
      ASSERT_TRUE(clients.back()->connected());
      clients.back()->send_all(pattern(100000, static_cast<std::size_t>(i)));
    }
    for (int i = 0; i < kClients; ++i) {
      if (i % 2 == 0) {
        const linger lg{1, 0};
        ::setsockopt(clients[i]->fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      }
      clients[i]->close();
    }
  }
  ASSERT_TRUE(wait_until([&] { return srv.probe->closed.load() == kClients; }));
  ASSERT_TRUE(wait_until([&] { return srv.pool.counters().connections_open == 0; }));
  EXPECT_EQ(srv.probe->closed.load(), kClients);
  EXPECT_EQ(srv.pool.counters().connections_closed, static_cast<std::uint64_t>(kClients));
}

TEST(NetConnection, ApplicationPauseAndResume) {
  Server srv(1);
  Client c(srv.port);
  ASSERT_TRUE(wait_until([&] { return srv.probe->accepted.load() == 1; }));
  srv.on_last([](Connection& conn) { conn.pause_reading(); });
  ASSERT_TRUE(c.send_all("abc"));
  EXPECT_EQ(c.recv_exact(3, std::chrono::milliseconds(100)), "");  // paused: no echo
  EXPECT_EQ(srv.probe->bytes_read.load(), 0u);
  srv.on_last([](Connection& conn) { conn.resume_reading(); });
  EXPECT_EQ(c.recv_exact(3), "abc");
}

TEST(NetConnection, PoolStopClosesOpenConnectionsWithShutdown) {
  auto srv = std::make_unique<Server>(2);
  Client a(srv->port);
  Client b(srv->port);
  ASSERT_TRUE(wait_until([&] { return srv->probe->accepted.load() == 2; }));
  auto probe = srv->probe;
  srv.reset();  // listener stop, then pool stop
  ASSERT_EQ(probe->closed.load(), 2);
  for (const auto& r : probe->reasons()) EXPECT_EQ(r, Error::shutdown);
  EXPECT_TRUE(a.wait_closed());
  EXPECT_TRUE(b.wait_closed());
}

}  // namespace
}  // namespace roadmq::net
