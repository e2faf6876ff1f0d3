#include "loadgen/worker.hpp"

#include <algorithm>
#include <cmath>

#include "base/assert.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::loadgen {
namespace {

// Messages one publisher appends per pump run in unlimited mode: large
// enough that a write carries many, small enough that acks and other
// clients get a turn between runs.
constexpr std::uint64_t kPumpBatch = 256;
constexpr auto kSweepPeriod = std::chrono::milliseconds(250);
constexpr auto kMinTick = std::chrono::milliseconds(1);
constexpr auto kMaxTick = std::chrono::milliseconds(100);

std::size_t publish_wire_size(std::size_t topic_len, std::size_t payload, std::uint8_t qos,
                              mqtt::ProtocolVersion v) {
  const std::string topic(topic_len, 't');
  const std::string body(payload, 'p');
  mqtt::PublishView pv;
  pv.topic = topic;
  pv.payload = body;
  pv.qos = static_cast<mqtt::QoS>(qos);
  if (qos > 0) pv.packet_id = mqtt::PacketId{1};
  return std::max<std::size_t>(1, mqtt::encoded_size(pv, v));
}

Clock::duration uniform_between(std::mt19937_64& rng, Clock::duration lo, Clock::duration hi) {
  if (hi <= lo) return lo;
  std::uniform_int_distribution<Clock::rep> d(lo.count(), hi.count());
  return Clock::duration(d(rng));
}

}  // namespace

Worker::Worker(const RunPlan& plan, RunShared& shared, std::uint32_t id, net::Shard& shard)
    : plan_(plan),
      opt_(plan.options),
      shared_(shared),
      id_(id),
      shard_(shard),
      scratch_(plan.scratch_size),
      rng_(plan.run_id ^ (0x9E3779B97F4A7C15ull * (id + 1))) {
  std::size_t longest_topic = 0;
  std::size_t longest_downlink = 0;
  std::size_t receivers = 0;
  for (std::size_t i = 0; i < plan.clients.size(); ++i) {
    if (plan.worker_of(i) != id) continue;
    const ClientSpec& spec = plan.clients[i];
    Slot s;
    s.spec = &spec;
    Client::Setup setup;
    setup.shard = &shard_;
    setup.events = this;
    setup.scratch = &scratch_;
    setup.session = spec.role == Role::platform ? &plan.platform_session : &plan.session;
    setup.group = plan.group;
    setup.server = plan.server;
    setup.source = spec.source;
    setup.client_id = spec.client_id;
    setup.subscriptions = spec.subscriptions;
    setup.local_index = static_cast<std::uint32_t>(slots_.size());
    s.client = std::make_unique<Client>(std::move(setup));
    if (spec.publishes && spec.role != Role::platform) {
      publishers_.push_back(static_cast<std::uint32_t>(slots_.size()));
      longest_topic = std::max(longest_topic, spec.topic.size());
    }
    if (spec.role == Role::subscriber) ++receivers;
    slots_.push_back(std::move(s));
  }
  for (const auto& t : plan.downlink_topics)
    longest_downlink = std::max(longest_downlink, t.size());
  wire_size_ = publish_wire_size(longest_topic, opt_.payload_size, opt_.qos, opt_.version);
  downlink_wire_size_ =
      publish_wire_size(longest_downlink, opt_.fleet.downlink_size, 1, opt_.version);

  // Stream tables: fixed in number before any pointer to them is taken.
  if (opt_.command == Command::sub) {
    results_.tables.resize(plan.shared_receivers ? (receivers > 0 ? 1 : 0) : receivers);
    std::size_t next = 0;
    for (auto& s : slots_) {
      if (s.spec->role != Role::subscriber) continue;
      s.table = &results_.tables[plan.shared_receivers ? 0 : next++];
    }
  }
  for (auto& s : slots_) {
    if (s.spec->role != Role::platform) continue;
    platform_ = &s;
    results_.tables.resize(1);
    s.table = &results_.tables[0];
  }
}

Worker::~Worker() = default;

// ── phases ────────────────────────────────────────────────────────────────────

void Worker::start() {
  ROADMQ_ASSERT(shard_.is_current());
  const auto now = Clock::now();
  const double total = static_cast<double>(plan_.clients.size());
  const double share = total > 0 ? static_cast<double>(slots_.size()) / total : 0;
  ramping_ = !slots_.empty();
  if (opt_.conn_rate > 0) ramp_pacer_ = Pacer(opt_.conn_rate * share, now);
  arm_sweep();
  on_tick();
}

void Worker::start_traffic(Clock::time_point at) {
  ROADMQ_ASSERT(shard_.is_current());
  if (closing_) return;
  traffic_ = true;
  const double pubs_total = [&] {
    std::size_t n = 0;
    for (const auto& c : plan_.clients)
      if (c.publishes && c.role != Role::platform) ++n;
    return static_cast<double>(n);
  }();
  const double mine = static_cast<double>(publishers_.size());
  if (opt_.command == Command::pub && opt_.rate > 0 && mine > 0) {
    traffic_pacer_ = Pacer(opt_.rate * mine / pubs_total, at);
  } else if (opt_.command == Command::fleet && mine > 0) {
    traffic_pacer_ = Pacer(mine * 1000.0 / static_cast<double>(opt_.interval.count()), at);
  }
  // A backlog of at most a second's worth: a stalled publisher catches up
  // briefly, not with an unbounded burst.
  owed_cap_ = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(traffic_pacer_.rate()));
  if (platform_ != nullptr && opt_.fleet.downlink_rate > 0)
    downlink_pacer_ = Pacer(opt_.fleet.downlink_rate, at);
  if (opt_.command == Command::pub && opt_.rate <= 0)
    for (std::uint32_t i : publishers_) want_pump(slots_[i]);
  if (opt_.command == Command::fleet && opt_.fleet.disconnect_rate > 0) {
    const auto now = Clock::now();
    for (auto& s : slots_)
      if (s.spec->role == Role::vehicle && s.client->ready()) schedule_drop(s, now);
  }
  on_tick();
}

void Worker::finish_traffic() {
  ROADMQ_ASSERT(shard_.is_current());
  if (finishing_) return;
  traffic_ = false;
  finishing_ = true;
  traffic_pacer_ = Pacer();
  downlink_pacer_ = Pacer();
  for (auto& s : slots_) s.next_drop = Clock::time_point::max();
  // Every stream that is not complete yet ends with a message flagged final,
  // so receivers know its length (and any lost tail).
  std::uint64_t pending = 0;
  for (std::uint32_t i : publishers_) {
    Slot& s = slots_[i];
    if (s.done || !s.alive) continue;
    s.final_pending = true;
    ++pending;
  }
  counters_.finals_pending.set(pending);
  for (std::uint32_t i : publishers_) try_final(slots_[i]);
}

void Worker::close_all() {
  ROADMQ_ASSERT(shard_.is_current());
  closing_ = true;
  traffic_ = false;
  ramping_ = false;
  if (tick_.valid()) shard_.timers().cancel(tick_);
  const bool end_sessions = opt_.command == Command::fleet && !opt_.fleet.keep_sessions;
  for (auto& s : slots_) {
    if (s.reconnect.valid()) shard_.timers().cancel(s.reconnect);
    s.final_pending = false;
    s.client->disconnect(end_sessions ? Client::EndSession::yes : Client::EndSession::no);
  }
  counters_.finals_pending.set(0);
}

LatencyHistogram Worker::take_interval() {
  LatencyHistogram out = interval_;
  interval_.reset();
  return out;
}

// ── timers ────────────────────────────────────────────────────────────────────

void Worker::arm_tick(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  if (ramping_) next = std::min(next, opt_.conn_rate > 0 ? ramp_pacer_.next_due() : now);
  if (traffic_) {
    next = std::min(next, traffic_pacer_.next_due());
    next = std::min(next, downlink_pacer_.next_due());
    // Work carried over (blocked publishers) is retried soon, not at the
    // next due unit, which may be far off at low rates.
    if (owed_ > 0 || downlinks_owed_ > 0) next = std::min(next, now + kMinTick);
  }
  if (next == Clock::time_point::max()) return;
  // One wake-up per millisecond at most (batches of rate/1000), and at
  // least every 100 ms so a tick never sleeps through a phase change.
  next = std::clamp(next, now + kMinTick, now + kMaxTick);
  if (tick_.valid()) shard_.timers().cancel(tick_);
  tick_ = shard_.timers().schedule(next, [this] {
    tick_ = {};
    on_tick();
  });
}

void Worker::on_tick() {
  if (closing_) return;
  const auto now = Clock::now();
  if (ramping_) {
    const std::uint64_t due =
        opt_.conn_rate > 0 ? ramp_pacer_.take_due(now) : slots_.size() - ramp_next_;
    ramp(due);
  }
  if (traffic_) {
    const std::uint64_t due = traffic_pacer_.take_due(now);
    if (opt_.command == Command::pub) {
      if (due > 0 || owed_ > 0) send_paced(due);
    } else if (opt_.command == Command::fleet) {
      if (due > 0) send_uplinks(due);
    }
    const std::uint64_t dl = downlink_pacer_.take_due(now);
    if (dl > 0 || downlinks_owed_ > 0) send_downlinks(dl);
  }
  arm_tick(now);
}

void Worker::arm_sweep() {
  sweep_ = shard_.timers().schedule_after(kSweepPeriod, [this] {
    sweep_ = {};
    on_sweep();
  });
}

void Worker::on_sweep() {
  const auto now = Clock::now();
  std::uint64_t inflight = 0;
  std::uint64_t finals = 0;
  for (auto& s : slots_) {
    Client& c = *s.client;
    c.check_timers(now);
    if (traffic_ && c.ready() && now >= s.next_drop) {
      s.next_drop = Clock::time_point::max();
      c.drop();
    }
    collect_client_counts(s);
    if (s.alive) {
      inflight += c.inflight();
      if (s.final_pending) ++finals;
    }
  }
  counters_.inflight.set(inflight);
  if (!closing_) counters_.finals_pending.set(finals);
  arm_sweep();
}

void Worker::collect_client_counts(Slot& s) {
  if (const auto n = s.client->take_retransmitted()) counters_.retransmitted.add(n);
  if (const auto n = s.client->take_dropped_inflight()) counters_.dropped_inflight.add(n);
}

// ── connecting ────────────────────────────────────────────────────────────────

void Worker::ramp(std::uint64_t due) {
  while (due > 0 && ramp_next_ < slots_.size()) {
    --due;
    Slot& s = slots_[ramp_next_++];
    counters_.connect_attempts.add();
    s.client->connect();
  }
  if (ramp_next_ == slots_.size()) ramping_ = false;
}

void Worker::schedule_drop(Slot& s, Clock::time_point now) {
  std::exponential_distribution<double> gap(opt_.fleet.disconnect_rate);
  s.next_drop =
      now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng_)));
}

void Worker::schedule_reconnect(Slot& s, DownCause cause) {
  const FleetOptions& f = opt_.fleet;
  Clock::duration delay;
  if (cause == DownCause::dropped) {
    // A tunnel: away for a while, then the modem comes back.
    delay = uniform_between(rng_, f.outage_min, f.outage_max);
  } else {
    // Exponential backoff with jitter, so vehicles that failed together do
    // not retry together.
    const auto base = std::min<Clock::duration>(
        f.backoff_max,
        Clock::duration(f.backoff_min) * (1ull << std::min<std::uint32_t>(s.failures, 20)));
    delay = uniform_between(rng_, base / 2, base);
    ++s.failures;
  }
  Client* c = s.client.get();
  s.reconnect = shard_.timers().schedule_after(delay, [this, c, &s] {
    s.reconnect = {};
    if (closing_ || c->state() != Client::State::down) return;
    counters_.connect_attempts.add();
    c->connect();
  });
}

void Worker::note_error(const std::string& why) {
  // Distinct messages stay few (errno texts, reason codes); a long run with
  // a flapping broker must not grow this without bound all the same.
  if (results_.errors.size() < 64 || results_.errors.count(why)) ++results_.errors[why];
}

// ── client events ─────────────────────────────────────────────────────────────

void Worker::on_ready(Client& c, ReadyInfo info) {
  Slot& s = slots_[c.local_index()];
  const bool again = s.ever_up;
  s.ever_up = true;
  counters_.connects.add();
  if (again) counters_.reconnects.add();
  if (!s.settled) {
    s.settled = true;
    counters_.settled.add();
  }
  s.up = true;
  s.failures = 0;
  counters_.open.add();
  results_.connect_latency.record(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(c.last_connect_time()).count()));
  if (!info.granted) {
    counters_.subscribe_failures.add();
    note_error("subscription refused");
  }
  collect_client_counts(s);
  if (info.session_present) counters_.sessions_present.add();
  if (s.spec->role == Role::vehicle) {
    if (again && !info.session_present) counters_.sessions_lost.add();
    shared_.vehicle_ready[s.spec->vehicle].store(1, std::memory_order_release);
    if (traffic_ && opt_.fleet.disconnect_rate > 0) schedule_drop(s, Clock::now());
  }
  if (closing_) {
    c.disconnect(Client::EndSession::no);
    return;
  }
  if (s.final_pending) try_final(s);
  if (traffic_ && opt_.command == Command::pub && opt_.rate <= 0) want_pump(s);
}

void Worker::on_message(Client& c, const mqtt::Publish& p) {
  Slot& s = slots_[c.local_index()];
  const std::uint64_t now = monotonic_ns();
  auto h = decode_header(p.payload);
  if (!h) {
    counters_.foreign.add();
    return;
  }
  const Role role = s.spec->role;
  if (role != Role::subscriber && h->stream.run_id != plan_.run_id) {
    counters_.foreign.add();  // e.g. a command queued for this VIN by an earlier run
    return;
  }
  const bool clock_ok = h->sent_ns <= now;
  if (!clock_ok) counters_.clock_errors.add();
  const std::uint64_t latency = clock_ok ? now - h->sent_ns : 0;

  if (role == Role::vehicle) {
    if (h->stream.publisher != kPlatformPublisher) {
      counters_.foreign.add();
      return;
    }
    if (results_.downlinks.record(h->sequence)) {
      counters_.downlinks_received.add();
      if (clock_ok) results_.downlink_latency.record(latency);
    } else {
      counters_.downlink_duplicates.add();
    }
    return;
  }
  if (s.table == nullptr) {
    counters_.foreign.add();
    return;
  }
  const auto outcome = s.table->record(*h, static_cast<std::uint8_t>(p.qos));
  if (h->is_final() && outcome != SequenceTracker::Outcome::duplicate) counters_.finals_received.add();
  counters_.received.add();
  if (counters_.first_receive_ns.get() == 0) counters_.first_receive_ns.set(now);
  counters_.last_receive_ns.set(now);
  if (clock_ok) {
    results_.latency.record(latency);
    interval_.record(latency);
  }
}

void Worker::on_acked(Client& c, const OutboundEntry& e, AckOutcome outcome) {
  Slot& s = slots_[c.local_index()];
  const bool accepted = outcome == AckOutcome::accepted;
  if (accepted) {
    counters_.acked.add();
  } else {
    counters_.rejected.add();
    note_error("publish refused by the broker (failure reason code)");
  }
  const std::uint64_t now = monotonic_ns();
  if (e.header.sent_ns <= now) results_.ack_latency.record(now - e.header.sent_ns);
  if (s.spec->role == Role::platform && accepted) counters_.downlinks_acked.add();
}

void Worker::on_down(Client& c, DownCause cause, const std::string& why) {
  Slot& s = slots_[c.local_index()];
  if (s.up) {
    s.up = false;
    counters_.open.sub();
  }
  s.next_drop = Clock::time_point::max();
  collect_client_counts(s);
  switch (cause) {
    case DownCause::connect_failed:
      counters_.connect_failures.add();
      note_error(why);
      if (!s.settled) {
        s.settled = true;
        counters_.settled.add();
      }
      break;
    case DownCause::lost:
      counters_.connections_lost.add();
      note_error(why);
      break;
    case DownCause::dropped:
      counters_.drops.add();
      break;
    case DownCause::closed:
      break;
  }
  if (closing_ || cause == DownCause::closed) return;
  if (s.spec->role == Role::vehicle) {
    schedule_reconnect(s, cause);
    return;
  }
  // Everyone else has one connection for the whole run: what it had not
  // sent will never be sent.
  s.alive = false;
  s.final_pending = false;
}

void Worker::on_room(Client& c) {
  Slot& s = slots_[c.local_index()];
  if (s.final_pending) try_final(s);
  if (traffic_ && opt_.command == Command::pub && opt_.rate <= 0) want_pump(s);
}

// ── publishing ────────────────────────────────────────────────────────────────

std::uint64_t Worker::send_from(Slot& s, std::uint64_t max) {
  if (s.done || s.final_pending) return 0;
  Client& c = *s.client;
  std::uint64_t n = std::min<std::uint64_t>(max, c.budget(wire_size_, opt_.qos));
  const std::uint64_t limit = opt_.command == Command::pub ? opt_.count : 0;
  if (limit > 0) n = std::min(n, limit - s.next_seq);
  if (n == 0) return 0;
  PayloadHeader h;
  h.stream = {plan_.run_id, s.spec->index};
  for (std::uint64_t i = 0; i < n; ++i) {
    h.sequence = s.next_seq++;
    h.sent_ns = monotonic_ns();
    h.flags = limit > 0 && s.next_seq == limit ? kFlagFinal : 0;
    c.publish(s.spec->topic, opt_.qos, opt_.retain, h, opt_.payload_size);
  }
  c.flush();
  counters_.published.add(n);
  if (limit > 0 && s.next_seq == limit) {
    counters_.finals_sent.add();
    s.done = true;
    counters_.publishers_done.add();
  }
  return n;
}

void Worker::try_final(Slot& s) {
  if (!s.final_pending) return;
  Client& c = *s.client;
  if (c.budget(wire_size_, opt_.qos) == 0) return;  // on_room() / on_ready() retry
  PayloadHeader h;
  h.stream = {plan_.run_id, s.spec->index};
  h.sequence = s.next_seq++;
  h.sent_ns = monotonic_ns();
  h.flags = kFlagFinal;
  c.publish(s.spec->topic, opt_.qos, opt_.retain, h, opt_.payload_size);
  c.flush();
  counters_.published.add();
  counters_.finals_sent.add();
  s.final_pending = false;
  s.done = true;
  counters_.finals_pending.sub();
}

void Worker::send_paced(std::uint64_t due) {
  owed_ += due;
  if (owed_ > owed_cap_) {
    counters_.skipped.add(owed_ - owed_cap_);
    owed_ = owed_cap_;
  }
  const std::size_t n = publishers_.size();
  if (n == 0) return;
  // Round robin, each publisher taking an equal share of what is due (at
  // least one); a full round with nobody able to send ends the attempt.
  std::size_t idle = 0;
  while (owed_ > 0 && idle < n) {
    Slot& s = slots_[publishers_[rr_]];
    rr_ = (rr_ + 1) % n;
    const std::uint64_t sent = send_from(s, std::max<std::uint64_t>(1, owed_ / n));
    if (sent == 0) {
      ++idle;
      continue;
    }
    idle = 0;
    owed_ -= sent;
  }
  if (owed_ == 0) return;
  // Publishers that have all reached --count (or are gone) leave nothing
  // to carry; blocked ones keep the backlog for the next tick.
  const bool any_left = std::any_of(publishers_.begin(), publishers_.end(), [&](std::uint32_t i) {
    return !slots_[i].done && slots_[i].alive;
  });
  if (!any_left) owed_ = 0;
}

void Worker::send_uplinks(std::uint64_t due) {
  const std::size_t n = publishers_.size();
  if (n == 0) return;
  PayloadHeader h;
  for (; due > 0; --due) {
    Slot& s = slots_[publishers_[rr_]];
    rr_ = (rr_ + 1) % n;
    Client& c = *s.client;
    if (c.budget(wire_size_, opt_.qos) == 0) {
      counters_.skipped.add();
      continue;
    }
    h.stream = {plan_.run_id, s.spec->index};
    h.sequence = s.next_seq++;
    h.sent_ns = monotonic_ns();
    h.flags = 0;
    c.publish(s.spec->topic, opt_.qos, false, h, opt_.payload_size);
    c.flush();
    counters_.published.add();
  }
}

void Worker::send_downlinks(std::uint64_t due) {
  if (platform_ == nullptr) return;
  downlinks_owed_ = std::min<std::uint64_t>(
      downlinks_owed_ + due,
      std::max<std::uint64_t>(1, static_cast<std::uint64_t>(opt_.fleet.downlink_rate)));
  Client& p = *platform_->client;
  std::size_t budget = p.budget(downlink_wire_size_, 1);
  PayloadHeader h;
  h.stream = {plan_.run_id, kPlatformPublisher};
  std::uniform_int_distribution<std::uint32_t> pick(0, plan_.vehicles - 1);
  while (downlinks_owed_ > 0 && budget > 0) {
    --downlinks_owed_;
    // Commands go to vehicles that have subscribed at least once; their
    // persistent session keeps the subscription through any outage.
    std::uint32_t v = pick(rng_);
    bool found = false;
    for (int tries = 0; tries < 16 && !found; ++tries) {
      if (shared_.vehicle_ready[v].load(std::memory_order_acquire)) {
        found = true;
      } else {
        v = pick(rng_);
      }
    }
    if (!found) {
      counters_.skipped.add();
      continue;
    }
    h.sequence = downlink_seq_++;
    h.sent_ns = monotonic_ns();
    p.publish(plan_.downlink_topics[v], 1, false, h, opt_.fleet.downlink_size);
    counters_.downlinks_sent.add();
    --budget;
  }
  p.flush();
}

void Worker::want_pump(Slot& s) {
  if (s.in_pump || s.done || !s.spec->publishes || !traffic_) return;
  s.in_pump = true;
  pump_.push_back(static_cast<std::uint32_t>(&s - slots_.data()));
  shard_.defer(*this);
}

void Worker::run_deferred() {
  if (!traffic_ || closing_) {
    for (std::uint32_t i : pump_) slots_[i].in_pump = false;
    pump_.clear();
    return;
  }
  pump_next_.clear();
  for (std::uint32_t i : pump_) {
    Slot& s = slots_[i];
    s.in_pump = false;
    const std::uint64_t sent = send_from(s, kPumpBatch);
    if (s.done) continue;
    // A short batch means the budget ran out; asking again records that
    // this client wants on_room() (or finds room after all).
    if (sent == kPumpBatch || s.client->budget(wire_size_, opt_.qos) > 0) {
      s.in_pump = true;
      pump_next_.push_back(i);
    }
  }
  pump_.swap(pump_next_);
  if (!pump_.empty()) shard_.defer(*this);
}

}  // namespace roadmq::loadgen
