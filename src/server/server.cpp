#include "server/server.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "base/log.hpp"
#include "broker/loader.hpp"
#include "broker/sys_topics.hpp"
#include "net/shard.hpp"
#include "net/tcp_listener.hpp"
#include "server/mqtt_handler.hpp"
#include "storage/committer.hpp"
#include "storage/kv_store.hpp"

namespace roadmq::server {
namespace {

// Keep alive, retry and expiry deadlines are whole seconds in the spec; a
// tenth of a second is precise enough and costs nothing when idle.
constexpr auto kTickPeriod = std::chrono::milliseconds(100);

}  // namespace

struct Server::Impl final : broker::ShardRuntime {
  explicit Impl(const config::Settings& s) : settings(s) {}

  std::uint32_t shard_count() const override { return static_cast<std::uint32_t>(pool.size()); }
  void post(broker::ShardId shard, std::function<void()> fn) override {
    pool.post(net::ShardId{shard.value}, std::move(fn));
  }

  void arm_tick(net::Shard& shard) {
    ticks[shard.id().value()] = shard.timers().schedule_after(kTickPeriod, [this, &shard] {
      if (stopping.load(std::memory_order_acquire)) return;
      node->shard(broker::ShardId{shard.id().value()}).tick(broker::SteadyClock::now());
      arm_tick(shard);
    });
  }

  void arm_sys(net::Shard& shard0) {
    sys_timer = shard0.timers().schedule_after(node->options().sys_interval, [this, &shard0] {
      if (stopping.load(std::memory_order_acquire)) return;
      sys->publish_now();
      arm_sys(shard0);
    });
  }

  // Runs `fn` on every shard and waits for all of them.
  void on_every_shard(const std::function<void(net::Shard&)>& fn) {
    std::vector<std::future<void>> done;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      auto& shard = pool.shard(net::ShardId{static_cast<std::uint32_t>(i)});
      shard.post([&fn, &shard, p] {
        fn(shard);
        p->set_value();
      });
    }
    for (auto& f : done) f.wait();
  }

  const config::Settings& settings;
  net::ShardPool pool;
  std::unique_ptr<broker::Node> node;
  std::unique_ptr<broker::SysPublisher> sys;
  std::vector<std::unique_ptr<net::TcpListener>> listeners;
  std::vector<net::TimerQueue::Handle> ticks;
  net::TimerQueue::Handle sys_timer;
  std::atomic<bool> stopping{false};
  bool started = false;
  std::unique_ptr<storage::KvStore> store;
  std::unique_ptr<storage::Committer> committer;
};

namespace {

storage::Durability durability(config::Durability d) {
  switch (d) {
    case config::Durability::sync: return storage::Durability::sync;
    case config::Durability::periodic: return storage::Durability::periodic;
    case config::Durability::none: return storage::Durability::none;
  }
  return storage::Durability::sync;
}

}  // namespace

Expected<void, std::string> Server::open_storage() {
  auto& im = *impl_;
  const auto& ds = im.settings.durable_sessions;
  if (!ds.enable) return {};
  storage::RocksOptions ro;
  ro.data_dir = im.settings.node.data_dir;
  auto opened = storage::open_rocksdb(ro);
  if (!opened) return Unexpected{opened.error().message};
  im.store = std::move(*opened);

  const auto started = std::chrono::steady_clock::now();
  auto* node = im.node.get();
  auto loaded = broker::load_state(
      *im.store, node->shard_count(),
      [node](std::string_view id) { return node->home_shard(id).value; }, broker::persist::clocks_now());
  if (!loaded) return Unexpected{loaded.error().message};
  auto& state = *loaded;

  storage::CommitterOptions co;
  co.durability = durability(ds.durability);
  co.sync_interval = std::chrono::duration_cast<std::chrono::milliseconds>(ds.sync_interval);
  co.max_batch_bytes = ds.batch_size.bytes;
  im.committer = std::make_unique<storage::Committer>(*im.store, co);
  for (const auto& [id, refs] : state.committer_refs) im.committer->set_refs(id, refs);
  const auto garbage = im.committer->collect_garbage();
  if (!garbage) return Unexpected{garbage.error().message};
  if (!state.cleanup.empty()) {
    if (auto ok = im.store->write(state.cleanup, true); !ok) return Unexpected{ok.error().message};
  }
  im.committer->start();

  auto broker_on = [&im](net::Shard& shard) -> broker::ShardBroker& {
    return im.node->shard(broker::ShardId{shard.id().value()});
  };
  auto shards = std::make_shared<std::vector<std::vector<broker::RestoredSession>>>(std::move(state.shards));
  auto retained = std::make_shared<std::vector<broker::MessagePtr>>(std::move(state.retained));
  const auto first_counter = state.first_counter;
  im.on_every_shard([&im, &broker_on, shards, retained, first_counter](net::Shard& shard) {
    auto& b = broker_on(shard);
    b.enable_durability(*im.committer, first_counter);
    b.restore(std::move((*shards)[shard.id().value()]), broker::SteadyClock::now());
    b.restore_retained(*retained);
    b.flush_outbox();
  });
  // Route and shared-group updates the restore posted between shards land
  // before the first client: every mailbox is FIFO, and this runs after them.
  im.on_every_shard([](net::Shard&) {});
  // Inbound QoS 2 messages caught mid-route by a crash go to whoever lacks them.
  im.on_every_shard([&broker_on](net::Shard& shard) { broker_on(shard).set_replaying(true); });
  im.on_every_shard([&broker_on](net::Shard& shard) { broker_on(shard).replay_inbound(broker::SteadyClock::now()); });
  im.on_every_shard([](net::Shard&) {});
  im.on_every_shard([&broker_on](net::Shard& shard) {
    auto& b = broker_on(shard);
    b.set_replaying(false);
    b.flush_outbox();
  });
  const auto& st = state.stats;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  ROADMQ_LOG(log::Level::info,
             "storage %s: %llu sessions, %llu subscriptions, %llu queued/inflight, %llu retained, "
             "%llu message bodies loaded in %lld ms (%zu unreferenced bodies dropped, %llu orphaned and "
             "%llu damaged records removed)",
             im.settings.node.data_dir.c_str(), static_cast<unsigned long long>(st.sessions),
             static_cast<unsigned long long>(st.subscriptions), static_cast<unsigned long long>(st.outbound),
             static_cast<unsigned long long>(st.retained), static_cast<unsigned long long>(st.messages),
             static_cast<long long>(ms), *garbage, static_cast<unsigned long long>(st.orphans),
             static_cast<unsigned long long>(st.damaged));
  return {};
}

Server::Server(const config::Settings& settings, broker::NodeOptions options)
    : impl_(std::make_unique<Impl>(settings)) {
  auto shards = settings.node.shards;
  if (shards == 0) shards = std::max(1u, std::thread::hardware_concurrency());
  if (shards > 64) shards = 64;  // the route replica's shard mask is 64 bits
  impl_->pool.start(shards);
  impl_->ticks.resize(shards);
  impl_->node = std::make_unique<broker::Node>(std::move(options), *impl_);
}

Server::~Server() { stop(); }

unsigned Server::shard_count() const noexcept { return static_cast<unsigned>(impl_->pool.size()); }

Expected<void, std::string> Server::start() {
  auto& im = *impl_;
  if (auto ok = open_storage(); !ok) return ok;
  for (const auto& [name, tcp] : im.settings.listeners.tcp) {
    if (!tcp.enable) continue;
    net::ListenerOptions lo;
    lo.bind = tcp.bind;
    lo.max_connections = tcp.max_connections;
    // The decoder grows its buffer only for large packets; start reads small
    // so an idle connection costs little.
    lo.connection.read_hint = 512;
    // Reads land in the shard's scratch buffer and output storage is freed
    // once written: an idle connection keeps no I/O buffer at all.
    lo.connection.idle_output_capacity = 0;
    auto* node = im.node.get();
    auto listener = std::make_unique<net::TcpListener>(
        im.pool, lo,
        [node](net::Connection& conn) {
          auto handler = std::make_unique<MqttHandler>(*node);
          auto* h = handler.get();
          h->start(broker::ShardId{conn.shard_id().value()});
          conn.set_handler(std::move(handler));
        },
        [name = name](net::ShardId shard, std::error_code ec) {
          ROADMQ_LOG_RATELIMITED(log::Level::warning, "listener tcp:%s shard %u: accept error: %s", name.c_str(),
                                 shard.value(), ec.message().c_str());
        });
    if (auto ok = listener->start(); !ok) return Unexpected{"listener tcp:" + name + ": " + ok.error().what};
    bound_.push_back({"tcp:" + name, listener->local_endpoint().to_string()});
    im.listeners.push_back(std::move(listener));
  }
  im.on_every_shard([&im](net::Shard& shard) { im.arm_tick(shard); });
  if (im.node->options().sys_interval.count() > 0) {
    im.sys = std::make_unique<broker::SysPublisher>(*im.node);
    im.on_every_shard([&im](net::Shard& shard) {
      if (shard.id().value() == 0) im.arm_sys(shard);
    });
  }
  im.started = true;
  return {};
}

void Server::stop() {
  auto& im = *impl_;
  if (!im.pool.running()) return;
  if (im.started) {
    // 1. stop accepting
    for (auto& l : im.listeners) l->stop();
    // 2. tell every client and close
    im.stopping.store(true, std::memory_order_release);
    im.on_every_shard([&im](net::Shard& shard) {
      shard.timers().cancel(im.ticks[shard.id().value()]);
      if (shard.id().value() == 0) shard.timers().cancel(im.sys_timer);
      im.node->shard(broker::ShardId{shard.id().value()}).shutdown(broker::SteadyClock::now());
    });
    // 3. drain: closing connections flush what they have (bounded by the
    // connection close timeout).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      std::size_t open = 0;
      for (auto& l : im.listeners) open += l->open_connections();
      if (open == 0 || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // 4. make what the shards submitted durable (their last session headers
  // included), then stop the shards; the node goes after them.
  if (im.committer) {
    im.on_every_shard([&im](net::Shard& shard) { im.node->shard(broker::ShardId{shard.id().value()}).flush_outbox(); });
    im.committer->flush();
  }
  im.pool.stop();
  if (im.committer) im.committer->stop();
  im.committer.reset();
  im.store.reset();
  im.listeners.clear();
}

}  // namespace roadmq::server
