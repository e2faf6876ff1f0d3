#include "broker/message.hpp"

#include <cstring>
#include <new>
#include <ostream>

namespace roadmq::broker {
namespace {

// Allocates what std::allocate_shared asks for (the control block with the
// message inside) plus `tail` bytes right after it, and says where those
// start. The control block keeps a copy, so deallocate knows the size.
template <class T>
struct TailAllocator {
  using value_type = T;
  std::size_t tail = 0;
  char** tail_at = nullptr;  // written once, by allocate

  TailAllocator(std::size_t t, char** at) noexcept : tail(t), tail_at(at) {}
  template <class U>
  TailAllocator(const TailAllocator<U>& o) noexcept : tail(o.tail), tail_at(o.tail_at) {}

  T* allocate(std::size_t n) {
    void* p = ::operator new(sizeof(T) * n + tail);
    *tail_at = static_cast<char*>(p) + sizeof(T) * n;
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, sizeof(T) * n + tail); }

  template <class U>
  friend bool operator==(const TailAllocator&, const TailAllocator<U>&) noexcept {
    return true;
  }
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const Slice& s) { return os << s.view(); }

std::shared_ptr<Message> new_message(std::string_view topic, std::string_view payload,
                                     std::string_view publisher) {
  char* tail = nullptr;
  auto m = std::allocate_shared<Message>(
      TailAllocator<Message>(topic.size() + payload.size() + publisher.size(), &tail));
  const auto keep = [&tail](std::string_view bytes) {
    if (bytes.empty()) return Slice();
    std::memcpy(tail, bytes.data(), bytes.size());
    const Slice s(tail, bytes.size());
    tail += bytes.size();
    return s;
  };
  m->topic = keep(topic);
  m->payload = keep(payload);
  m->publisher = keep(publisher);
  return m;
}

std::optional<std::uint32_t> Message::remaining_expiry(TimePoint now) const noexcept {
  if (!expires_at) return std::nullopt;
  if (now >= *expires_at) return 0;
  const auto left = std::chrono::ceil<std::chrono::seconds>(*expires_at - now).count();
  return static_cast<std::uint32_t>(left < 1 ? 1 : left);
}

MessagePtr make_message(mqtt::Publish&& publish, std::string_view publisher, TimePoint now,
                        std::uint64_t wall_ms) {
  auto m = new_message(publish.topic, publish.payload, publisher);
  m->qos = publish.qos;
  m->retain = publish.retain;
  m->received_at_ms = wall_ms;
  for (auto& p : publish.properties.items()) {
    switch (p.id) {
      case mqtt::PropertyId::message_expiry_interval:
        m->expires_at = now + std::chrono::seconds(p.number);
        break;
      case mqtt::PropertyId::topic_alias:
      case mqtt::PropertyId::subscription_identifier:
        break;
      default:
        m->properties.push_back(p);
    }
  }
  return m;
}

}  // namespace roadmq::broker
