// OutboundWindow: a client's QoS 1/2 publishes that still await their acks,
// in send order, with the packet identifiers they use.
//
//   QoS 1:  PUBLISH ──▶ awaiting_puback ──PUBACK──▶ done
//   QoS 2:  PUBLISH ──▶ awaiting_pubrec ──PUBREC──▶ awaiting_pubcomp ──PUBCOMP──▶ done
//                                        (PUBREL sent)
//
// Bounds: at most `limit` entries are active (the --inflight window, lowered
// to the broker's Receive Maximum); entries completed out of order leave a
// hole until the oldest completes, and holes plus active entries never
// exceed 2 * the configured limit. Packet identifiers are handed out in
// sequence, so every entry's identifier is one of the last 2 * limit (+ a
// SUBSCRIBE or two) handed out: with limit <= 16384 no identifier in use is
// ever handed out again [MQTT-2.2.1-3].
//
// Storage grows with use (a power-of-two ring), so a client that never has
// more than one message in flight, like most vehicles, holds one entry.
//
// Thread safety: owned by one client on one worker thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/payload.hpp"

namespace roadmq::loadgen {

enum class OutboundStage : std::uint8_t {
  awaiting_puback,
  awaiting_pubrec,
  awaiting_pubcomp,
  done
};

struct OutboundEntry {
  const std::string* topic = nullptr;  // owned by the run plan, immutable
  PayloadHeader header;                // rebuilds the same payload on resend
  std::uint32_t payload_size = 0;
  std::uint16_t packet_id = 0;
  std::uint8_t qos = 1;
  bool retain = false;
  OutboundStage stage = OutboundStage::awaiting_puback;
};

class OutboundWindow {
 public:
  explicit OutboundWindow(std::uint16_t limit);

  // The broker's Receive Maximum (or the configured limit again).
  void set_limit(std::uint16_t limit) noexcept;
  std::uint16_t limit() const noexcept { return limit_; }

  std::size_t active() const noexcept { return active_; }
  std::size_t room() const noexcept;
  bool empty() const noexcept { return active_ == 0; }

  // The next identifier (1..65535, wrapping); SUBSCRIBE takes one too.
  std::uint16_t next_packet_id() noexcept;

  // Appends an entry (room() > 0) with a fresh packet identifier.
  OutboundEntry& push(const OutboundEntry& e);

  // The active entry with this identifier in this stage, or nullptr.
  OutboundEntry* find(std::uint16_t packet_id, OutboundStage stage) noexcept;
  // Marks it done and releases the settled prefix.
  void complete(OutboundEntry& e) noexcept;

  // Active entries, oldest first (resending after a reconnect).
  template <class F>
  void for_each_active(F&& f) {
    for (std::size_t i = 0; i < span_; ++i) {
      OutboundEntry& e = at(i);
      if (e.stage != OutboundStage::done) f(e);
    }
  }
  // Forgets everything (the broker lost the session); returns how many
  // active entries were dropped.
  std::size_t clear() noexcept;

 private:
  OutboundEntry& at(std::size_t i) noexcept { return ring_[(head_ + i) & (ring_.size() - 1)]; }
  void grow();

  std::vector<OutboundEntry> ring_;
  std::size_t head_ = 0;
  std::size_t span_ = 0;    // entries from head, done or not
  std::size_t active_ = 0;  // entries not done
  std::uint16_t configured_;
  std::uint16_t limit_;
  std::uint16_t next_id_ = 1;
};

}  // namespace roadmq::loadgen
