// Helpers for the net tests: blocking loopback clients driven from the test
// thread, a configurable handler that reports to a thread-safe Probe, and
// waits bounded by generous timeouts (they catch hangs; they never measure
// speed).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "net/connection.hpp"
#include "net/shard.hpp"
#include "net/tcp_listener.hpp"
#include "net/unique_fd.hpp"

namespace roadmq::net::test {

using namespace std::chrono_literals;

inline constexpr auto kTimeout = std::chrono::seconds(30);

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = kTimeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Runs `fn` on shard `id` and returns its result to the test thread.
template <class F>
auto run_on(ShardPool& pool, ShardId id, F&& fn) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  std::promise<R> done;
  auto fut = done.get_future();
  pool.post(id, [&fn, &done] {
    if constexpr (std::is_void_v<R>) {
      fn();
      done.set_value();
    } else {
      done.set_value(fn());
    }
  });
  if (fut.wait_for(kTimeout) != std::future_status::ready) std::abort();  // a hang, not a failure mode
  return fut.get();
}

// A blocking TCP client on the test thread.
class Client {
 public:
  struct Options {
    int receive_buffer = 0;  // SO_RCVBUF before connect; 0 = default
    bool v6 = false;
  };

  explicit Client(std::uint16_t port) : Client(port, Options{}) {}
  Client(std::uint16_t port, Options o) {
    fd_.reset(::socket(o.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (o.receive_buffer > 0)
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &o.receive_buffer, sizeof o.receive_buffer);
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    if (o.v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_loopback;
      rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    connect_errno_ = rc == 0 ? 0 : errno;
  }

  bool connected() const { return connect_errno_ == 0; }
  int connect_errno() const { return connect_errno_; }
  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

  bool send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `n` bytes arrived, the peer closed, or the timeout passed.
  std::string recv_exact(std::size_t n, std::chrono::milliseconds timeout = kTimeout) {
    std::string out;
    out.reserve(n);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (out.size() < n) {
      if (!wait_readable(deadline)) break;
      const ssize_t r = ::recv(fd_.get(), buf, std::min(sizeof buf, n - out.size()), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
  }

  // True once the peer closed (EOF or reset); input before that is skipped.
  bool wait_closed(std::chrono::milliseconds timeout = kTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
      if (!wait_readable(deadline)) return false;
      const ssize_t r = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return true;
    }
  }

 private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_.get(), POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }

  UniqueFd fd_;
  int connect_errno_ = 0;
};

// What server-side handlers saw, readable from the test thread.
struct Probe {
  std::atomic<int> accepted{0};
  std::atomic<int> closed{0};
  std::atomic<int> writable{0};
  std::atomic<int> migrated{0};
  std::atomic<std::uint64_t> bytes_read{0};
  std::atomic<Connection*> last{nullptr};  // dereference only on its shard
  std::atomic<std::uint32_t> last_shard{UINT32_MAX};

  void record_close(std::error_code ec, ShardId shard) {
    std::lock_guard lock(mu_);
    reasons_.push_back(ec);
    close_shards_.push_back(shard);
    closed.fetch_add(1);
  }
  std::vector<std::error_code> reasons() const {
    std::lock_guard lock(mu_);
    return reasons_;
  }
  std::vector<ShardId> close_shards() const {
    std::lock_guard lock(mu_);
    return close_shards_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::error_code> reasons_;
  std::vector<ShardId> close_shards_;
};

// A handler whose behaviour each test plugs in; echoes by default.
class TestHandler : public ConnectionHandler {
 public:
  using DataHook = std::function<void(TestHandler&, std::span<const std::uint8_t>)>;

  TestHandler(std::shared_ptr<Probe> probe, DataHook on_data = {}, std::size_t read_size = 4096)
      : probe_(std::move(probe)), on_data_(std::move(on_data)), buf_(read_size) {}

  std::span<std::uint8_t> read_buffer(std::size_t) override { return buf_; }

  void on_read(std::size_t n) override {
    probe_->bytes_read.fetch_add(n);
    const std::span<const std::uint8_t> data(buf_.data(), n);
    if (on_data_) {
      on_data_(*this, data);
    } else {
      connection().out().append(data);
      connection().flush();
    }
  }

  void on_closed(std::error_code reason) override {
    probe_->record_close(reason, connection().shard_id());
  }

  void on_writable() override {
    probe_->writable.fetch_add(1);
    if (on_writable_) on_writable_(*this);
  }

  std::function<void(TestHandler&)> on_writable_;
  std::uint64_t state = 0;  // free for the hooks (shard-local)
  Probe& probe() { return *probe_; }

 private:
  std::shared_ptr<Probe> probe_;
  DataHook on_data_;
  std::vector<std::uint8_t> buf_;
};

inline std::string pattern(std::size_t n, std::size_t offset = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (offset + i) % 26);
  return s;
}

// A pool plus a listener on 127.0.0.1:<ephemeral> whose accepted
// connections get handlers from `make`; the probe sees every accept.
struct Server {
  using Factory = std::function<std::unique_ptr<ConnectionHandler>(Connection&)>;

  Server(std::size_t shards, ListenerOptions lo, Factory make) {
    pool.start(shards);
    if (lo.bind == ListenerOptions{}.bind) lo.bind = "127.0.0.1:0";
    listener = std::make_unique<TcpListener>(
        pool, lo, [p = probe, make = std::move(make)](Connection& c) {
          p->last.store(&c);
          p->last_shard.store(c.shard_id().value());
          c.set_handler(make ? make(c) : std::make_unique<TestHandler>(p));
          p->accepted.fetch_add(1);
        });
    auto r = listener->start();
    if (!r) {
      error = r.error().what;
      return;
    }
    port = listener->local_port();
  }
  // Echo handlers.
  explicit Server(std::size_t shards, ListenerOptions lo = {})
      : Server(shards, std::move(lo), nullptr) {}

  ~Server() {
    listener->stop();
    pool.stop();
  }

  ShardId last_shard() const { return ShardId(probe->last_shard.load()); }

  // Runs `fn(conn)` on the last accepted connection's shard.
  template <class F>
  auto on_last(F&& fn) {
    Connection* c = probe->last.load();
    return run_on(pool, last_shard(), [&] { return fn(*c); });
  }

  ShardPool pool;
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();
  std::unique_ptr<TcpListener> listener;
  std::uint16_t port = 0;
  std::string error;
};

}  // namespace roadmq::net::test
