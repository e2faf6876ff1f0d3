// net_bench: echo throughput over loopback through the net module, and the
// user-space memory an idle connection costs.
//
//   net_bench [seconds=5] [connections=64] [message_bytes=100] [idle_connections=5000]
//
// Echo: a 2-shard server echoes; a 2-shard client pool (also net) keeps a
// window of small messages in flight per connection, each appended and
// flushed on its own, so the numbers include write coalescing. Both pools
// share this machine's cores: the report gives CPU time per message beside
// the rate.
//
// Idle memory: `idle_connections` raw client sockets connect to a server
// whose handler keeps no buffer while idle (reads land in a per-thread
// scratch buffer); heap growth (mallinfo2) divided by the count is the
// net module's user-space cost per idle connection (kernel socket memory
// not included).
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/connection.hpp"
#include "net/shard.hpp"
#include "net/tcp_connection.hpp"
#include "net/tcp_listener.hpp"

using namespace roadmq::net;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class Echo final : public ConnectionHandler {
 public:
  std::span<std::uint8_t> read_buffer(std::size_t) override { return buf_; }
  void on_read(std::size_t n) override {
    connection().out().append(std::span<const std::uint8_t>(buf_.data(), n));
    connection().flush();
  }
  void on_closed(std::error_code) override {}

 private:
  std::array<std::uint8_t, 16384> buf_{};
};

class Load final : public ConnectionHandler {
 public:
  Load(std::size_t message, std::size_t window, const std::atomic<bool>& stop)
      : message_(message, 'm'), window_(window), stop_(stop) {}

  void start() { top_up(); }
  std::span<std::uint8_t> read_buffer(std::size_t) override { return buf_; }
  void on_read(std::size_t n) override {
    inflight_ -= n;
    top_up();
  }
  void on_closed(std::error_code) override {}

 private:
  void top_up() {
    if (stop_.load(std::memory_order_relaxed)) return;
    while (inflight_ + message_.size() <= window_) {
      connection().out().append(message_);  // one message...
      connection().flush();                 // ...one flush, as a broker delivers
      inflight_ += message_.size();
    }
  }

  std::string message_;
  std::size_t window_;
  std::size_t inflight_ = 0;
  const std::atomic<bool>& stop_;
  std::array<std::uint8_t, 16384> buf_{};
};

// Reads into a per-thread scratch buffer: an idle connection holds nothing.
class Idle final : public ConnectionHandler {
 public:
  std::span<std::uint8_t> read_buffer(std::size_t) override {
    static thread_local std::array<std::uint8_t, 4096> scratch;
    return scratch;
  }
  void on_read(std::size_t) override {}
  void on_closed(std::error_code) override {}
};

void echo_bench(int seconds, int connections, std::size_t message) {
  ShardPool server;
  server.start(2);
  TcpListener listener(server, {.bind = "127.0.0.1:0"},
                       [](Connection& c) { c.set_handler(std::make_unique<Echo>()); });
  if (auto r = listener.start(); !r) {
    std::fprintf(stderr, "listen: %s\n", r.error().what.c_str());
    std::exit(1);
  }
  ShardPool clients;
  clients.start(2);
  std::atomic<bool> stop{false};
  std::atomic<int> connected{0};
  auto group = std::make_shared<ConnectionGroup>(ConnectionOptions{});
  const std::size_t window = 64 * message;
  for (int i = 0; i < connections; ++i) {
    const ShardId shard(static_cast<std::uint32_t>(i % 2));
    clients.post(shard, [&, group] {
      tcp_connect(*Shard::current(), Endpoint::loopback_v4(listener.local_port()),
                  ConnectionSlot::acquire(group), std::chrono::seconds(10),
                  [&](roadmq::Expected<ConnectionPtr, std::error_code> r) {
                    if (!r) {
                      std::fprintf(stderr, "connect: %s\n", r.error().message().c_str());
                      std::exit(1);
                    }
                    auto h = std::make_unique<Load>(message, window, stop);
                    Load* load = h.get();
                    (*r)->set_handler(std::move(h));
                    load->start();
                    connected.fetch_add(1);
                  });
    });
  }
  while (connected.load() < connections) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const auto s0 = server.counters();
  const double cpu0 = cpu_seconds();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const auto s1 = server.counters();
  const double cpu1 = cpu_seconds();
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;

  const double bytes = static_cast<double>(s1.bytes_out - s0.bytes_out);
  const double msgs = bytes / static_cast<double>(message);
  const double writes = static_cast<double>(s1.writes - s0.writes);
  const double reads = static_cast<double>(s1.reads - s0.reads);
  std::printf("echo: %d connections, %zu-byte messages, window %zu B, %.1f s\n", connections,
              message, window, dt);
  std::printf("  server echoed %.1f MB/s = %.2f M messages/s\n", bytes / dt / 1e6, msgs / dt / 1e6);
  std::printf("  server reads %.0f/s, writes %.0f/s (%.1f messages per write)\n", reads / dt,
              writes / dt, writes > 0 ? msgs / writes : 0.0);
  std::printf("  process CPU (server + clients) %.2f cores, %.0f ns per message echoed\n",
              (cpu1 - cpu0) / dt, (cpu1 - cpu0) / msgs * 1e9);
  listener.stop();
  clients.stop();
  server.stop();
}

void idle_bench(int count) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(2 * count + 100)) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(2 * count + 100));
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ShardPool server;
  server.start(2);
  std::atomic<int> accepted{0};
  TcpListener listener(server, {.bind = "127.0.0.1:0", .backlog = 4096},
                       [&](Connection& c) {
                         c.set_handler(std::make_unique<Idle>());
                         accepted.fetch_add(1);
                       });
  if (auto r = listener.start(); !r) {
    std::fprintf(stderr, "listen: %s\n", r.error().what.c_str());
    std::exit(1);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(listener.local_port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Warm up allocator caches and shard structures with a few connections.
  std::vector<int> fds;
  auto open_some = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::fprintf(stderr, "idle: connect failed after %zu\n", fds.size());
        std::exit(1);
      }
      fds.push_back(fd);
    }
    while (accepted.load() < static_cast<int>(fds.size()))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  open_some(64);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::size_t before = mallinfo2().uordblks;
  open_some(count);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::size_t after = mallinfo2().uordblks;
  std::printf("idle: %d connections, %.0f bytes of heap each (Connection, Asio reactor state, "
              "pending wait; handler holds none)\n",
              count, static_cast<double>(after - before) / count);
  for (int fd : fds) ::close(fd);
  listener.stop();
  server.stop();
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 5;
  const int connections = argc > 2 ? std::atoi(argv[2]) : 64;
  const std::size_t message = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 100;
  const int idle = argc > 4 ? std::atoi(argv[4]) : 5000;
  if (idle > 0) idle_bench(idle);
  if (seconds > 0) echo_bench(seconds, connections, message);
  return 0;
}
