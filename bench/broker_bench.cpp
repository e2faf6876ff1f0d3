// Topic-table micro-benchmarks: the per-publish lookups of the broker's hot
// path and the retained lookup of a wildcard SUBSCRIBE.
//   build/release/bench/broker_bench
//
// The big tables are built once per process (function statics) and queried
// with topics drawn at random, so the figures include the cache misses a
// real fleet causes rather than one hot key.
#include <benchmark/benchmark.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/retained_store.hpp"
#include "broker/route_table.hpp"
#include "broker/subscription_index.hpp"

namespace rb = roadmq::broker;

namespace {

struct Entry {
  std::uint8_t qos = 1;
  std::uint32_t subscription_id = 0;
};
using Index = rb::SubscriptionIndex<Entry>;

constexpr std::size_t kVehicles = 1'000'000;

std::string vin(std::size_t i) {
  // 17 characters, like a real VIN.
  std::string s = "LSVAU2180N";
  std::string digits = std::to_string(1'000'000 + i);
  s += digits.substr(digits.size() - 7);
  return s;
}

// Bytes handed out by malloc (glibc), including large blocks it serves with
// mmap (hash table slot arrays); 0 elsewhere, making the memory counters
// meaningless but harmless.
std::size_t heap_in_use() {
#if defined(__GLIBC__)
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#else
  return 0;
#endif
}

// 1M sessions, each subscribed to its own "vehicle/{vin}/down"; the same
// filters in the route table and, for scale, in the node-based map a naive
// broker would use.
struct ExactFleet {
  Index index;
  rb::RouteTable routes;
  std::unordered_map<std::string, std::vector<std::pair<rb::SubscriberKey, Entry>>> baseline;
  std::vector<std::string> down;  // topics with a subscriber
  std::vector<std::string> up;    // topics without one
  double index_bytes = 0;
  double routes_bytes = 0;
  double baseline_bytes = 0;

  ExactFleet() {
    down.reserve(kVehicles);
    up.reserve(kVehicles);
    for (std::size_t i = 0; i < kVehicles; ++i) {
      down.push_back("vehicle/" + vin(i) + "/down");
      up.push_back("vehicle/" + vin(i) + "/up");
    }
    std::size_t before = heap_in_use();
    for (std::size_t i = 0; i < kVehicles; ++i) index.add(down[i], i + 1, Entry{});
    index_bytes = static_cast<double>(heap_in_use() - before) / kVehicles;
    before = heap_in_use();
    for (std::size_t i = 0; i < kVehicles; ++i) routes.set(down[i], static_cast<std::uint32_t>(i % 8), true);
    routes_bytes = static_cast<double>(heap_in_use() - before) / kVehicles;
    before = heap_in_use();
    for (std::size_t i = 0; i < kVehicles; ++i) baseline[down[i]].emplace_back(i + 1, Entry{});
    baseline_bytes = static_cast<double>(heap_in_use() - before) / kVehicles;
  }
  static ExactFleet& get() {
    static ExactFleet fleet;
    return fleet;
  }
};

// Topics to query. Hot: 4096 fixed topics (the pure CPU cost of hashing and
// probing). Cold: a fresh random vehicle each time among 1M (every level of
// the table misses cache, as under a real fleet).
enum class Heat { hot, cold };

template <class Lookup>
void run_exact(benchmark::State& state, const std::vector<std::string>& topics, Heat heat, Lookup&& lookup) {
  std::mt19937_64 rng(7);
  std::vector<const std::string*> hot;
  for (int i = 0; i < 4096; ++i) hot.push_back(&topics[rng() % topics.size()]);
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    const std::string& t = heat == Heat::hot ? *hot[i++ & 4095] : topics[rng() % topics.size()];
    found += lookup(t);
  }
  benchmark::DoNotOptimize(found);
}

std::size_t index_lookup(const std::string& topic) {
  std::size_t n = 0;
  ExactFleet::get().index.match(topic, [&](std::string_view, rb::SubscriberKey, const Entry&) { ++n; });
  return n;
}

std::size_t baseline_lookup(const std::string& topic) {
  const auto& map = ExactFleet::get().baseline;
  auto it = map.find(topic);
  return it == map.end() ? 0 : it->second.size();
}

void BM_IndexExactHit_1M(benchmark::State& state) {
  auto& fleet = ExactFleet::get();
  run_exact(state, fleet.down, static_cast<Heat>(state.range(0)), index_lookup);
  state.counters["heap_B_per_filter"] = fleet.index_bytes;
}
BENCHMARK(BM_IndexExactHit_1M)->ArgName("cold")->Arg(0)->Arg(1);

void BM_IndexExactMiss_1M(benchmark::State& state) {
  run_exact(state, ExactFleet::get().up, static_cast<Heat>(state.range(0)), index_lookup);
}
BENCHMARK(BM_IndexExactMiss_1M)->ArgName("cold")->Arg(0)->Arg(1);

void BM_RouteExactHit_1M(benchmark::State& state) {
  auto& fleet = ExactFleet::get();
  run_exact(state, fleet.down, static_cast<Heat>(state.range(0)),
            [&](const std::string& t) { return static_cast<std::size_t>(fleet.routes.match(t) != 0); });
  state.counters["heap_B_per_filter"] = fleet.routes_bytes;
}
BENCHMARK(BM_RouteExactHit_1M)->ArgName("cold")->Arg(0)->Arg(1);

void BM_BaselineUnorderedMapHit_1M(benchmark::State& state) {
  auto& fleet = ExactFleet::get();
  run_exact(state, fleet.down, static_cast<Heat>(state.range(0)), baseline_lookup);
  state.counters["heap_B_per_filter"] = fleet.baseline_bytes;
}
BENCHMARK(BM_BaselineUnorderedMapHit_1M)->ArgName("cold")->Arg(0)->Arg(1);

void BM_BaselineUnorderedMapMiss_1M(benchmark::State& state) {
  run_exact(state, ExactFleet::get().up, static_cast<Heat>(state.range(0)), baseline_lookup);
}
BENCHMARK(BM_BaselineUnorderedMapMiss_1M)->ArgName("cold")->Arg(0)->Arg(1);

// 1024 exact filters: the whole table stays in L1/L2, so this is the pure
// CPU cost of hashing a 30-byte topic and probing.
void BM_IndexExactHit_Small(benchmark::State& state) {
  static Index index;
  static std::vector<std::string> topics;
  if (topics.empty()) {
    for (std::size_t i = 0; i < 1024; ++i) {
      topics.push_back("vehicle/" + vin(i * 977) + "/down");
      index.add(topics.back(), i + 1, Entry{});
    }
  }
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    index.match(topics[i++ & 1023], [&](std::string_view, rb::SubscriberKey, const Entry&) { ++found; });
  }
  benchmark::DoNotOptimize(found);
}
BENCHMARK(BM_IndexExactHit_Small);

// A wildcard-heavy index: per-vehicle "#" subscriptions (a debug tool on
// every car), per-fleet "+" subscriptions, and a few broad backend filters.
struct WildcardIndex {
  Index index;
  std::vector<std::string> topics;

  WildcardIndex() {
    constexpr std::size_t kCars = 100'000;
    constexpr std::size_t kFleets = 1'000;
    rb::SubscriberKey key = 1;
    for (std::size_t i = 0; i < kCars; ++i) index.add("vehicle/" + vin(i) + "/#", key++, Entry{});
    for (std::size_t f = 0; f < kFleets; ++f) {
      index.add("fleet/" + std::to_string(f) + "/+/status", key++, Entry{});
      index.add("fleet/" + std::to_string(f) + "/+/alarm/#", key++, Entry{});
    }
    for (const char* f : {"vehicle/+/up", "vehicle/+/status", "+/+/alarm", "$SYS/#", "#", "vehicle/+/+/gps"}) {
      index.add(f, key++, Entry{});
    }
    std::mt19937_64 rng(4);
    for (int i = 0; i < 4096; ++i) {
      const std::size_t car = rng() % kCars;
      switch (i % 4) {
        case 0: topics.push_back("vehicle/" + vin(car) + "/up"); break;
        case 1: topics.push_back("vehicle/" + vin(car) + "/can/gps"); break;
        case 2: topics.push_back("fleet/" + std::to_string(car % kFleets) + "/" + vin(car) + "/status"); break;
        default: topics.push_back("fleet/" + std::to_string(car % kFleets) + "/" + vin(car) + "/alarm/door"); break;
      }
    }
  }
  static WildcardIndex& get() {
    static WildcardIndex w;
    return w;
  }
};

void BM_IndexWildcard(benchmark::State& state) {
  auto& w = WildcardIndex::get();
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    w.index.match(w.topics[i++ & 4095], [&](std::string_view, rb::SubscriberKey, const Entry&) { ++found; });
  }
  benchmark::DoNotOptimize(found);
  state.counters["matches_per_topic"] =
      benchmark::Counter(static_cast<double>(found), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_IndexWildcard);

// 10k vehicles with three retained topics each under "a/{vin}/": the
// filter "a/+/c" matches one per vehicle and must skip the rest cheaply.
struct RetainedFleet {
  rb::RetainedStore store;
  std::vector<rb::MessagePtr> messages;
  double bytes_per_topic = 0;  // trie only: the messages are shared, not counted
  RetainedFleet() {
    for (std::size_t i = 0; i < 10'000; ++i) {
      for (const char* leaf : {"c", "d", "e"}) {
        auto m = rb::new_message("a/" + vin(i) + "/" + leaf, "{\"state\":\"parked\"}", {});
        m->retain = true;
        messages.push_back(std::move(m));
      }
    }
    const std::size_t before = heap_in_use();
    for (const auto& m : messages) (void)store.put(m);
    bytes_per_topic = static_cast<double>(heap_in_use() - before) / static_cast<double>(messages.size());
    for (std::size_t i = 0; i < 10'000; ++i) {
      auto m = rb::new_message("b/" + vin(i) + "/c", "x", {});
      (void)store.put(m);
    }
  }
  static RetainedFleet& get() {
    static RetainedFleet r;
    return r;
  }
};

void BM_RetainedMatchPlus(benchmark::State& state) {
  auto& r = RetainedFleet::get();
  const rb::TimePoint now = rb::SteadyClock::now();
  std::size_t found = 0;
  for (auto _ : state) {
    found += r.store.match("a/+/c", now, [](const rb::MessagePtr& m) { benchmark::DoNotOptimize(m.get()); });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(found));
  state.counters["trie_B_per_topic"] = r.bytes_per_topic;
}
BENCHMARK(BM_RetainedMatchPlus)->Unit(benchmark::kMicrosecond);

// What each shard pays to apply one retained PUBLISH to its replica: a
// replacement of an existing vehicle topic with a new shared message.
void BM_RetainedPutReplace(benchmark::State& state) {
  auto& r = RetainedFleet::get();
  std::mt19937_64 rng(6);
  std::vector<rb::MessagePtr> updates;
  for (int i = 0; i < 4096; ++i) updates.push_back(r.messages[rng() % r.messages.size()]);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(r.store.put(updates[i++ & 4095]));
}
BENCHMARK(BM_RetainedPutReplace);

void BM_RetainedMatchExact(benchmark::State& state) {
  auto& r = RetainedFleet::get();
  const rb::TimePoint now = rb::SteadyClock::now();
  std::mt19937_64 rng(5);
  std::vector<std::string> filters;
  for (int i = 0; i < 4096; ++i) filters.push_back("a/" + vin(rng() % 10'000) + "/c");
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    found += r.store.match(filters[i++ & 4095], now, [](const rb::MessagePtr& m) { benchmark::DoNotOptimize(m.get()); });
  }
  benchmark::DoNotOptimize(found);
}
BENCHMARK(BM_RetainedMatchExact);

}  // namespace

BENCHMARK_MAIN();
