// storage_bench: group-commit throughput of the Committer on RocksDB, for
// the write pattern of persistent QoS 1 traffic.
//
//   storage_bench [messages_per_run=1000000] [dir=/tmp] [mode=all|sync|periodic|none] [threads=0 (1,2,4)]
//
// First the raw cost of the disk: a loop of 4 KiB write + fdatasync, the
// floor under any fsync-per-write design. Then, for each durability mode and
// 1, 2 and 4 submitting threads (standing in for broker shards), each thread
// stores messages the way a shard does for a persistent session's QoS 1
// delivery, one batch per event:
//
//   on PUBLISH:  ref_message(id, 100-byte body) + put(outbound, ~40 B record)
//   on PUBACK:   erase(outbound) + unref_message(id)   (kLag messages later)
//
// A thread keeps at most kWindow messages waiting for their `done` (the
// PUBACKs the broker still owes), as many connections would. Each run uses a
// fresh RocksDB in a temporary dir under `dir`; the default run is long
// enough for memtables to fill and flush, so their cost is included.
//
// Columns: messages and store operations per second; process CPU time per
// message (all threads, RocksDB's flushes included; the machine's other load
// is not); batches per merged write; WAL syncs per second and their mean and
// max duration. In mode sync a sync is the whole synced write (memtable
// inserts + WAL append + fsync, as CommitterStats counts it); in the other
// modes it is sync_wal() alone.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/committer.hpp"
#include "storage/kv_store.hpp"

using namespace roadmq::storage;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kWindow = 4096;  // unacknowledged messages per submitting thread
constexpr int kLag = 1000;     // PUBACK arrives this many messages after PUBLISH

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string make_temp_dir(const std::string& base) {
  std::string tmpl = base + "/roadmq-storage-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

void raw_fsync(const std::string& base) {
  const std::string dir = make_temp_dir(base);
  const std::string path = dir + "/fsync-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  std::vector<char> block(4096, 'x');
  constexpr int kRounds = 300;
  double total = 0;
  double worst = 0;
  for (int i = 0; i < kRounds; ++i) {
    const auto t0 = Clock::now();
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
    const double s = seconds_since(t0);
    total += s;
    worst = std::max(worst, s);
  }
  ::close(fd);
  std::filesystem::remove_all(dir);
  std::printf("raw disk: 4 KiB append + fdatasync x %d: mean %.3f ms, max %.3f ms (%.0f fsyncs/s)\n\n", kRounds,
              total / kRounds * 1e3, worst * 1e3, kRounds / total);
}

// Counts messages whose PUBLISH batch is done, so a thread can bound what it
// has outstanding without spinning.
class Window {
 public:
  void sent() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ < kWindow; });
    ++outstanding_;
  }
  void acked() {
    std::lock_guard lock(mu_);
    if (outstanding_-- == kWindow) cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
};

const char* mode_name(Durability d) {
  switch (d) {
    case Durability::sync: return "sync";
    case Durability::periodic: return "periodic";
    case Durability::none: return "none";
  }
  return "?";
}

void run(Durability durability, int threads, int messages, const std::string& base) {
  const std::string dir = make_temp_dir(base);
  RocksOptions ro;
  ro.data_dir = dir + "/data";
  auto opened = open_rocksdb(ro);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    std::exit(1);
  }
  auto store = std::move(opened).value();
  CommitterOptions co;
  co.durability = durability;
  Committer committer(*store, co);
  committer.start();

  const int per_thread = messages / threads;
  const std::string body(100, 'b');
  const std::string record(40, 'r');
  std::vector<Window> windows(static_cast<std::size_t>(threads));
  const auto t0 = Clock::now();
  const double cpu0 = cpu_seconds();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      Window& window = windows[static_cast<std::size_t>(t)];
      char key[48];
      auto outbound_key = [&](int i) {
        const int n = std::snprintf(key, sizeof key, "vehicle-LSVAU2180N%06d/%012d", t, i);
        return std::string_view(key, static_cast<std::size_t>(n));
      };
      auto id_of = [&](int i) { return (static_cast<std::uint64_t>(i) << 8) | static_cast<std::uint64_t>(t); };
      for (int i = 0; i < per_thread + kLag; ++i) {
        if (i < per_thread) {
          window.sent();
          WriteBatch publish;
          publish.ref_message(id_of(i), body);
          publish.put(Table::outbound, outbound_key(i), record);
          committer.submit(std::move(publish), [&window](bool) { window.acked(); });
        }
        if (i >= kLag) {
          WriteBatch puback;
          puback.erase(Table::outbound, outbound_key(i - kLag));
          puback.unref_message(id_of(i - kLag));
          committer.submit(std::move(puback), {});
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  committer.flush();
  const double elapsed = seconds_since(t0);
  const double cpu = cpu_seconds() - cpu0;
  committer.stop();
  const auto s = committer.stats();
  const double total_messages = static_cast<double>(per_thread) * threads;
  std::printf("%-8s %d thr  %8.0f msg/s  %8.0f ops/s  cpu %4.1f us/msg  %7.1f batches/write  %6.0f fsyncs/s  "
              "sync mean %7.3f ms  max %7.3f ms%s\n",
              mode_name(durability), threads, total_messages / elapsed, static_cast<double>(s.ops) / elapsed,
              cpu / total_messages * 1e6,
              s.writes ? static_cast<double>(s.batches_submitted) / static_cast<double>(s.writes) : 0.0,
              static_cast<double>(s.syncs) / elapsed,
              s.syncs ? static_cast<double>(s.sync_ns_total) / static_cast<double>(s.syncs) / 1e6 : 0.0,
              static_cast<double>(s.sync_ns_max) / 1e6, s.errors ? "  (ERRORS)" : "");
  std::fflush(stdout);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::atoi(argv[1]) : 1000000;
  const std::string base = argc > 2 ? argv[2] : "/tmp";
  const std::string only_mode = argc > 3 ? argv[3] : "all";
  const int only_threads = argc > 4 ? std::atoi(argv[4]) : 0;
  raw_fsync(base);
  std::printf("%d messages per run (2 batches, 4 ops each message); window %d, ack lag %d per thread\n",
              messages, kWindow, kLag);
  for (const auto d : {Durability::sync, Durability::periodic, Durability::none}) {
    if (only_mode != "all" && only_mode != mode_name(d)) continue;
    for (const int threads : {1, 2, 4}) {
      if (only_threads == 0 || only_threads == threads) run(d, threads, messages, base);
    }
  }
  return 0;
}
