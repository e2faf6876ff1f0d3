#include "loadgen/stream_table.hpp"

#include <algorithm>

namespace roadmq::loadgen {

StreamTotals& StreamTotals::operator+=(const StreamTotals& o) noexcept {
  streams += o.streams;
  received += o.received;
  unique += o.unique;
  duplicates += o.duplicates;
  reordered += o.reordered;
  late += o.late;
  expected += o.expected;
  lost += o.lost;
  without_final += o.without_final;
  lost_reliable += o.lost_reliable;
  duplicates_qos2 += o.duplicates_qos2;
  return *this;
}

StreamTable::Stream& StreamTable::lookup(const StreamKey& k) {
  if (last_ != nullptr && last_key_ == k) return *last_;
  last_ = &streams_[k];
  last_key_ = k;
  return *last_;
}

SequenceTracker::Outcome StreamTable::record(const PayloadHeader& h, std::uint8_t qos) {
  Stream& s = lookup(h.stream);
  s.min_qos = std::min(s.min_qos, qos);
  if (h.is_final()) s.seq.mark_final(h.sequence);
  return s.seq.record(h.sequence);
}

const StreamTable::Stream* StreamTable::find(const StreamKey& k) const {
  auto it = streams_.find(k);
  return it == streams_.end() ? nullptr : &it->second;
}

void StreamTable::merge(const StreamTable& other) {
  for (const auto& [key, theirs] : other.streams_) {
    auto [it, inserted] = streams_.try_emplace(key, theirs);
    if (inserted) continue;
    it->second.seq.merge(theirs.seq);
    it->second.min_qos = std::min(it->second.min_qos, theirs.min_qos);
  }
  last_ = nullptr;
}

StreamTotals StreamTable::totals() const {
  StreamTotals t;
  for (const auto& [key, s] : streams_) {
    const SequenceTracker& q = s.seq;
    ++t.streams;
    t.received += q.received();
    t.unique += q.unique();
    t.duplicates += q.duplicates();
    t.reordered += q.reordered();
    t.late += q.late();
    t.expected += q.expected();
    t.lost += q.lost();
    if (!q.has_final()) ++t.without_final;
    if (s.min_qos >= 1) t.lost_reliable += q.lost();
    if (s.min_qos >= 2) t.duplicates_qos2 += q.duplicates();
  }
  return t;
}

}  // namespace roadmq::loadgen
