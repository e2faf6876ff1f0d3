#include "loadgen/outbound_window.hpp"

#include <algorithm>

#include "base/assert.hpp"

namespace roadmq::loadgen {

OutboundWindow::OutboundWindow(std::uint16_t limit)
    : configured_(std::max<std::uint16_t>(1, limit)), limit_(configured_) {}

void OutboundWindow::set_limit(std::uint16_t limit) noexcept {
  limit_ = std::clamp<std::uint16_t>(limit, 1, configured_);
}

std::size_t OutboundWindow::room() const noexcept {
  const std::size_t by_active = active_ < limit_ ? limit_ - active_ : 0;
  const std::size_t span_cap = 2u * configured_;
  const std::size_t by_span = span_ < span_cap ? span_cap - span_ : 0;
  return std::min(by_active, by_span);
}

std::uint16_t OutboundWindow::next_packet_id() noexcept {
  const std::uint16_t id = next_id_;
  next_id_ = next_id_ == 65535 ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
  return id;
}

void OutboundWindow::grow() {
  const std::size_t cap = ring_.empty() ? 1 : ring_.size() * 2;
  std::vector<OutboundEntry> bigger(cap);
  for (std::size_t i = 0; i < span_; ++i) bigger[i] = at(i);
  ring_ = std::move(bigger);
  head_ = 0;
}

OutboundEntry& OutboundWindow::push(const OutboundEntry& e) {
  ROADMQ_ASSERT(room() > 0);
  if (span_ == ring_.size()) grow();
  OutboundEntry& slot = at(span_);
  slot = e;
  slot.packet_id = next_packet_id();
  ++span_;
  ++active_;
  return slot;
}

OutboundEntry* OutboundWindow::find(std::uint16_t packet_id, OutboundStage stage) noexcept {
  // Acks come back in send order almost always: the match is at the front.
  for (std::size_t i = 0; i < span_; ++i) {
    OutboundEntry& e = at(i);
    if (e.packet_id == packet_id && e.stage == stage) return &e;
  }
  return nullptr;
}

void OutboundWindow::complete(OutboundEntry& e) noexcept {
  ROADMQ_ASSERT(e.stage != OutboundStage::done);
  e.stage = OutboundStage::done;
  e.topic = nullptr;
  --active_;
  while (span_ > 0 && at(0).stage == OutboundStage::done) {
    head_ = (head_ + 1) & (ring_.size() - 1);
    --span_;
  }
  if (span_ == 0) head_ = 0;
}

std::size_t OutboundWindow::clear() noexcept {
  const std::size_t dropped = active_;
  span_ = 0;
  active_ = 0;
  head_ = 0;
  return dropped;
}

}  // namespace roadmq::loadgen
