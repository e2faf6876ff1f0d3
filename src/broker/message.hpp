// An application message as the broker routes it: decoded once from the
// publisher's PUBLISH, immutable afterwards, and shared by reference count
// across shards and subscribers. Its payload is never copied for fan-out.
//
// Thread safety: immutable after construction; MessagePtr may be passed to
// and read from any shard.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mqtt/packet.hpp"

namespace roadmq::broker {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Duration = SteadyClock::duration;

struct Message;

// Topic, payload or publisher id of a message: bytes in the message's own
// allocation (new_message()), so a message costs one allocation, not one
// plus one for each of these that is too long for a string's inline buffer
// (a VIN topic is). Read-only; only new_message() gives it bytes.
class Slice {
 public:
  Slice() = default;
  std::string_view view() const noexcept { return {data_, size_}; }
  operator std::string_view() const noexcept { return view(); }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  friend bool operator==(const Slice& a, const Slice& b) noexcept { return a.view() == b.view(); }
  friend bool operator==(const Slice& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const Slice& s);

 private:
  friend std::shared_ptr<Message> new_message(std::string_view topic, std::string_view payload,
                                              std::string_view publisher);
  Slice(const char* data, std::size_t size) noexcept : data_(data), size_(size) {}
  const char* data_ = "";
  std::size_t size_ = 0;
};

struct Message {
  Slice topic;
  Slice payload;
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  bool retain = false;
  // What the publisher sent that subscribers get unchanged: Payload Format
  // Indicator, Content Type, Response Topic, Correlation Data, User Property.
  // Never Topic Alias, Subscription Identifier or Message Expiry Interval
  // (expiry is kept absolute below and re-derived per delivery).
  mqtt::Properties properties;
  std::optional<TimePoint> expires_at;
  Slice publisher;  // client id, for No Local; empty for broker-made messages
  std::uint64_t received_at_ms = 0;  // wall clock, for events and $SYS
  // The id its body is stored under; given by the first shard that stores
  // it (0 = never stored). Atomic because shards may race to give it.
  mutable std::atomic<std::uint64_t> stored_id{0};

  // stored_id, set to `candidate` if it had none; returns the id in force.
  std::uint64_t assign_stored_id(std::uint64_t candidate) const noexcept {
    std::uint64_t expected = 0;
    if (stored_id.compare_exchange_strong(expected, candidate, std::memory_order_acq_rel)) return candidate;
    return expected;
  }

  bool expired(TimePoint now) const noexcept { return expires_at && now >= *expires_at; }
  // Remaining Message Expiry Interval in whole seconds, at least 1 while not expired.
  std::optional<std::uint32_t> remaining_expiry(TimePoint now) const noexcept;
};

using MessagePtr = std::shared_ptr<const Message>;

// A message holding copies of these in the same allocation; the caller
// fills in the other fields before sharing it.
std::shared_ptr<Message> new_message(std::string_view topic, std::string_view payload,
                                     std::string_view publisher);

// Builds a Message from a decoded PUBLISH (topic already resolved from any
// alias), keeping only the forwarded properties. Topic and payload are
// copied, so the caller's Publish keeps its buffers for the next decode.
MessagePtr make_message(mqtt::Publish&& publish, std::string_view publisher, TimePoint now,
                        std::uint64_t wall_ms);

}  // namespace roadmq::broker
