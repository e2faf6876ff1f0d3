#include "net/tcp_listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <latch>
#include <vector>

#include "base/assert.hpp"
#include "net/tcp_connection.hpp"
#include "net/unique_fd.hpp"

namespace roadmq::net {

namespace detail {
class ShardAcceptor;
}

struct TcpListener::Shared {
  Shared(ShardPool& p, std::shared_ptr<ConnectionGroup> g, AcceptCallback a, ErrorCallback e,
         std::chrono::milliseconds pause_for)
      : pool(p), group(std::move(g)), on_accept(std::move(a)), on_error(std::move(e)), pause(pause_for) {}

  ShardPool& pool;
  const std::shared_ptr<ConnectionGroup> group;
  const AcceptCallback on_accept;
  const ErrorCallback on_error;
  const std::chrono::milliseconds pause;
  bool reuse_port = false;                     // set before any acceptor starts
  std::vector<detail::ShardAcceptor*> slots;   // slot i: read/written on shard i only
  std::uint32_t next_shard = 0;                // round-robin: the one accepting shard only
  std::atomic<bool> stopped{false};
};

namespace detail {
namespace {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using Acceptor = asio::basic_socket_acceptor<Tcp, asio::io_context::executor_type>;

// Accepts per wake-up before yielding, so a connection storm cannot starve
// the shard's established connections.
constexpr int kAcceptBudget = 64;

// accept(2): errors already pending on the new connection are reported by
// accept itself; for TCP they mean "that one died", so try the next.
bool transient_accept_error(int e) noexcept {
  switch (e) {
    case ECONNABORTED:
    case EPERM:  // firewall rules
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

void admit(Shard& shard, const std::shared_ptr<TcpListener::Shared>& shared, UniqueFd fd,
           ConnectionSlot slot, const Endpoint& remote) {
  auto r = adopt_tcp_socket(shard, std::move(fd), std::move(slot), remote);
  if (!r) {
    shard.counters().accept_errors.add();
    if (shared->on_error) shared->on_error(shard.id(), r.error());
    return;
  }
  shard.counters().connections_accepted.add();
  ConnectionPtr c = std::move(*r);
  if (shared->on_accept) shared->on_accept(*c);
  if (c->handler() == nullptr) c->abort();
}

}  // namespace

// One listening socket on one shard. Owns itself (self_) while open; pending
// waits and the pause timer hold references too, so it is destroyed on its
// shard once closed and idle.
class ShardAcceptor final : public ShardObject, public std::enable_shared_from_this<ShardAcceptor> {
 public:
  ShardAcceptor(Shard& shard, std::shared_ptr<TcpListener::Shared> shared)
      : shard_(shard), shared_(std::move(shared)), acceptor_(shard.io().get_executor()) {}

  std::error_code open(UniqueFd fd, bool v6) {
    boost::system::error_code ec;
    acceptor_.assign(v6 ? Tcp::v6() : Tcp::v4(), fd.get(), ec);
    if (ec) return {ec.value(), std::system_category()};
    (void)fd.release();  // owned by acceptor_
    return {};
  }

  void start() {
    self_ = shared_from_this();
    open_ = true;
    shard_.register_object(*this);
    shared_->slots[shard_.id().value()] = this;
    // Not a wait: connections may have queued between listen() and now, and
    // the edge-triggered reactor would not report them again.
    accept_batch();
  }

  void close() {
    if (!open_) return;
    const std::shared_ptr<ShardAcceptor> keep = std::move(self_);
    open_ = false;
    if (pause_timer_.valid()) shard_.timers().cancel(pause_timer_);
    boost::system::error_code ignored;
    acceptor_.close(ignored);  // a pending wait completes aborted
    shared_->slots[shard_.id().value()] = nullptr;
    shard_.unregister_object(*this);
  }

 private:
  void on_shard_stop() override { close(); }

  void arm() {
    acceptor_.async_wait(Acceptor::wait_read,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           if (!self->open_ || ec == asio::error::operation_aborted) return;
                           if (ec) {
                             self->shard_.counters().accept_errors.add();
                             self->pause({ec.value(), std::system_category()});
                             return;
                           }
                           self->accept_batch();
                         });
  }

  void pause(std::error_code ec) {
    NetCounters& c = shard_.counters();
    c.accept_pauses.add();
    if (shared_->on_error) shared_->on_error(shard_.id(), ec);
    pause_timer_ = shard_.timers().schedule_after(shared_->pause, [self = shared_from_this()] {
      self->pause_timer_ = {};
      if (self->open_) self->accept_batch();  // descriptors may be free again
    });
  }

  void accept_batch() {
    NetCounters& counters = shard_.counters();
    for (int i = 0; i < kAcceptBudget; ++i) {
      if (!open_) return;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      const int fd = ::accept4(acceptor_.native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) {
          arm();
          return;
        }
        if (e == EINTR) continue;
        counters.accept_errors.add();
        if (transient_accept_error(e)) continue;
        // EMFILE/ENFILE/ENOBUFS/ENOMEM (or a broken socket): retrying now
        // would fail the same way in a busy loop.
        pause({e, std::system_category()});
        return;
      }
      UniqueFd conn(fd);
      const Endpoint remote = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
      ConnectionSlot slot = ConnectionSlot::acquire(shared_->group);
      if (!slot) {
        counters.connections_refused.add();
        continue;  // `conn` closes here
      }
      dispatch(std::move(conn), std::move(slot), remote);
    }
    asio::post(shard_.io(), [self = shared_from_this()] {
      if (self->open_) self->accept_batch();
    });
  }

  void dispatch(UniqueFd fd, ConnectionSlot slot, const Endpoint& remote) {
    ShardPool& pool = shared_->pool;
    if (shared_->reuse_port || pool.size() == 1) {
      admit(shard_, shared_, std::move(fd), std::move(slot), remote);
      return;
    }
    const ShardId target(static_cast<std::uint32_t>(shared_->next_shard++ % pool.size()));
    if (target == shard_.id()) {
      admit(shard_, shared_, std::move(fd), std::move(slot), remote);
      return;
    }
    pool.post(target, [shared = shared_, fd = std::move(fd), slot = std::move(slot), remote]() mutable {
      admit(*Shard::current(), shared, std::move(fd), std::move(slot), remote);
    });
  }

  Shard& shard_;
  std::shared_ptr<TcpListener::Shared> shared_;
  Acceptor acceptor_;
  TimerQueue::Handle pause_timer_;
  std::shared_ptr<ShardAcceptor> self_;
  bool open_ = false;
};

}  // namespace detail

namespace {

// Counts a latch down when destroyed, whether its task ran or was dropped.
class CountDown {
 public:
  explicit CountDown(std::latch* l) noexcept : latch_(l) {}
  CountDown(CountDown&& o) noexcept : latch_(std::exchange(o.latch_, nullptr)) {}
  CountDown(const CountDown&) = delete;
  CountDown& operator=(const CountDown&) = delete;
  CountDown& operator=(CountDown&&) = delete;
  ~CountDown() {
    if (latch_ != nullptr) latch_->count_down();
  }

 private:
  std::latch* latch_;
};

}  // namespace

TcpListener::TcpListener(ShardPool& pool, ListenerOptions options, AcceptCallback on_accept,
                         ErrorCallback on_error)
    : pool_(pool),
      options_(std::move(options)),
      shared_(std::make_shared<Shared>(
          pool, std::make_shared<ConnectionGroup>(options_.connection, options_.max_connections),
          std::move(on_accept), std::move(on_error), options_.accept_error_pause)) {}

TcpListener::~TcpListener() { stop(); }

bool TcpListener::reuse_port() const noexcept { return shared_->reuse_port; }

std::size_t TcpListener::open_connections() const noexcept { return shared_->group->open(); }

Expected<void, ListenerError> TcpListener::start() {
  ROADMQ_ASSERT(!started_);
  started_ = true;
  auto parsed = parse_endpoint(options_.bind);
  if (!parsed)
    return Unexpected{ListenerError{std::make_error_code(std::errc::invalid_argument),
                                    "listener bind \"" + options_.bind + "\": " + parsed.error()}};
  if (!pool_.running())
    return Unexpected{ListenerError{std::make_error_code(std::errc::operation_not_permitted),
                                    "listener " + options_.bind + ": shard pool is not running"}};

  Endpoint ep = *parsed;
  const bool v6 = ep.family == Endpoint::Family::v6;
  const std::size_t shards = pool_.size();
  bool reuse = options_.reuse_port == ReusePort::yes && shards > 1;
  std::vector<UniqueFd> fds;
  const auto fail = [&](const char* step) {
    const std::error_code ec(errno, std::system_category());
    return Unexpected{ListenerError{ec, std::string(step) + " " + ep.to_string() + ": " + ec.message()}};
  };

  for (std::size_t i = 0; i < (reuse ? shards : 1); ++i) {
    UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return fail("socket");
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
      return fail("setsockopt(SO_REUSEADDR)");
    if (reuse && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      if (i != 0) return fail("setsockopt(SO_REUSEPORT)");
      reuse = false;  // unsupported: one acceptor, round-robin hand-off
    }
    if (v6) {
      const int v6only = options_.ipv6_only ? 1 : 0;
      if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
        return fail("setsockopt(IPV6_V6ONLY)");
    }
    sockaddr_storage ss{};
    const socklen_t len = ep.to_sockaddr(ss);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) return fail("bind");
    if (::listen(fd.get(), options_.backlog) != 0) return fail("listen");
    if (i == 0) {
      sockaddr_storage bound{};
      socklen_t blen = sizeof bound;
      if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen) != 0)
        return fail("getsockname");
      local_ = Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), blen);
      ep.port = local_.port;  // the other shards join the same (maybe ephemeral) port
    }
    fds.push_back(std::move(fd));
  }

  shared_->reuse_port = reuse;
  shared_->slots.assign(shards, nullptr);
  for (std::size_t i = 0; i < fds.size(); ++i) {
    pool_.post(ShardId(static_cast<std::uint32_t>(i)),
               [shared = shared_, fd = std::move(fds[i]), v6]() mutable {
                 Shard& shard = *Shard::current();
                 if (shared->stopped.load(std::memory_order_acquire)) return;  // fd closes
                 auto a = std::make_shared<detail::ShardAcceptor>(shard, shared);
                 if (const std::error_code ec = a->open(std::move(fd), v6)) {
                   shard.counters().accept_errors.add();
                   if (shared->on_error) shared->on_error(shard.id(), ec);
                   return;
                 }
                 a->start();
               });
  }
  return {};
}

void TcpListener::stop() {
  if (!started_ || shared_->stopped.exchange(true, std::memory_order_acq_rel)) return;
  Shard* const current = Shard::current();
  const bool on_pool = current != nullptr && &current->pool() == &pool_;
  const std::size_t n = shared_->slots.size();
  std::latch closed(static_cast<std::ptrdiff_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    if (on_pool && current->id().value() == i) {
      if (detail::ShardAcceptor* a = shared_->slots[i]) a->close();
      closed.count_down();
      continue;
    }
    pool_.post(ShardId(static_cast<std::uint32_t>(i)),
               [shared = shared_, i, done = CountDown(on_pool ? nullptr : &closed)] {
                 if (detail::ShardAcceptor* a = shared->slots[i]) a->close();
               });
  }
  if (!on_pool) closed.wait();
}

}  // namespace roadmq::net
