// The durable side of Session: what it tells its owner to store, and how a
// stored session is rebuilt at startup.
#include "broker/session.hpp"

namespace roadmq::broker {
namespace {

constexpr TimePoint kNever = TimePoint::max();
constexpr std::uint32_t kNeverExpires = 0xFFFF'FFFF;

std::uint64_t wall_of(TimePoint t, const persist::Clocks& c) {
  if (t == kNever) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - c.steady).count();
  return ms <= 0 ? c.wall_ms : c.wall_ms + static_cast<std::uint64_t>(ms);
}

TimePoint steady_of(std::uint64_t wall_ms, const persist::Clocks& c) {
  if (wall_ms == 0) return kNever;
  if (wall_ms <= c.wall_ms) return c.steady;
  return c.steady + std::chrono::milliseconds(wall_ms - c.wall_ms);
}

}  // namespace

bool Session::persistent() const noexcept {
  return settings_->persistence && session_expiry_s_ != 0 && state_ != State::ended;
}

void Session::store(std::uint64_t seq, const MessagePtr& message, MessagePtr released, bool is_new,
                    mqtt::QoS qos, std::uint8_t flags, const DeliveryExtras* extras,
                    std::uint16_t packet_id, persist::OutboundPhase phase, Actions& out) {
  StoreOutbound s;
  s.seq = seq;
  s.message = message;
  s.released = std::move(released);
  s.is_new = is_new;
  s.qos = qos;
  s.flags = static_cast<std::uint8_t>(flags & ~kResendHeld);
  s.packet_id = packet_id;
  s.phase = static_cast<std::uint8_t>(phase);
  if (extras != nullptr) {
    s.subscription_ids = extras->subscription_ids;
    s.share_group = extras->share_group;
  }
  out.push_back(std::move(s));
}

void Session::forget(std::uint64_t seq, MessagePtr message, Actions& out) {
  if (seq != 0) out.push_back(ForgetOutbound{seq, std::move(message)});
}

void Session::unstore(Actions& out) {
  UnstoreSession u;
  for_each_stored_record([&](std::uint64_t seq, const MessagePtr& m) { u.records.emplace_back(seq, m); });
  for (auto& e : inflight_) e.seq = 0;
  if (queue_)
    for (auto& e : *queue_) e.seq = 0;
  stored_ = false;
  out.push_back(std::move(u));
}

persist::SessionImage Session::image(const persist::Clocks& clocks) const {
  persist::SessionImage s;
  s.version = version_;
  s.expiry_s = session_expiry_s_;
  s.connected = state_ == State::connected;
  if (!s.connected) {
    s.expires_at_ms = wall_of(expiry_at_, clocks);
    s.will_at_ms = wall_of(will_at_, clocks);
  }
  if (will_) s.will = persist::StoredWill{will_->will, will_->delay_s};
  return s;
}

void Session::restore(const persist::SessionImage& image, const persist::Clocks& clocks) {
  version_ = image.version;
  session_expiry_s_ = image.expiry_s;
  connect_expiry_zero_ = image.expiry_s == 0;
  stored_ = true;
  state_ = State::disconnected;
  if (image.will) {
    will_ = std::make_unique<WillState>();
    will_->will = image.will->will;
    will_->delay_s = image.will->delay_s;
  }
  if (image.connected) {
    // The connection was lost with the broker: will and expiry count from now.
    if (will_) {
      const std::uint32_t delay = std::min(will_->delay_s, session_expiry_s_);
      will_at_ = clocks.steady + std::chrono::seconds(delay);
    }
    expiry_at_ = session_expiry_s_ == kNeverExpires ? kNever
                                                      : clocks.steady + std::chrono::seconds(session_expiry_s_);
  } else {
    will_at_ = will_ ? steady_of(image.will_at_ms, clocks) : kNever;
    if (will_ && will_at_ == kNever) will_at_ = clocks.steady;
    expiry_at_ = steady_of(image.expires_at_ms, clocks);
  }
  last_activity_ = clocks.steady;
}

void Session::restore_subscription(std::string filter, const SubscriptionEntry& entry) {
  subscriptions_.insert_or_assign(std::move(filter), entry);
}

void Session::restore_outbound(std::uint64_t seq, MessagePtr message, const persist::OutboundRecord& r,
                               TimePoint now) {
  std::unique_ptr<DeliveryExtras> extras;
  if (!r.subscription_ids.empty() || !r.share_group.empty()) {
    extras = std::make_unique<DeliveryExtras>(DeliveryExtras{r.subscription_ids, r.share_group});
  }
  next_seq_ = std::max(next_seq_, seq + 1);
  if (r.phase == persist::OutboundPhase::queued) {
    if (!queue_) queue_ = std::make_unique<std::deque<Queued>>();
    queue_->push_back(Queued{std::move(message), std::move(extras), seq, r.qos, r.flags});
    account(queue_->back());
    return;
  }
  Phase phase = Phase::awaiting_puback;
  if (r.phase == persist::OutboundPhase::awaiting_pubrec) phase = Phase::awaiting_pubrec;
  if (r.phase == persist::OutboundPhase::awaiting_pubcomp) phase = Phase::awaiting_pubcomp;
  inflight_.push_back(Inflight{std::move(message), std::move(extras), now, seq, mqtt::PacketId{r.packet_id},
                               r.qos, phase, r.flags});
}

void Session::restore_inbound(std::uint16_t packet_id, TimePoint since, MessagePtr message) {
  awaiting_rel_.push_back(AwaitingRel{mqtt::PacketId{packet_id}, since, std::move(message)});
}

bool Session::holds(const MessagePtr& m) const noexcept {
  for (const auto& e : inflight_)
    if (e.message == m) return true;
  if (queue_)
    for (const auto& e : *queue_)
      if (e.message == m) return true;
  return false;
}

}  // namespace roadmq::broker
