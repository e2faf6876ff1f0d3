// Topic names and filters [MQTT-4.7]: validation, level splitting, matching,
// and shared-subscription parsing. Allocation-free except split_levels().
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "mqtt/error.hpp"

namespace roadmq::mqtt {

// A topic name (PUBLISH): non-empty, no '+' or '#' [MQTT-3.3.2-2], valid
// UTF-8 [MQTT-1.5.4]. Error reason: 0x90 Topic Name invalid.
std::optional<CodecError> validate_topic_name(std::string_view name) noexcept;

// The rules of validate_topic_name() beyond the UTF-8 encoding, for a name
// whose encoding the caller has already checked (the decoder, on every
// PUBLISH): non-empty, no '+' or '#'.
std::optional<CodecError> check_topic_name_shape(std::string_view name) noexcept;

// A topic filter (SUBSCRIBE/UNSUBSCRIBE), shared or not: non-empty
// [MQTT-4.7.3-1], '#' alone in the last level [MQTT-4.7.1-2], '+' alone in
// its level [MQTT-4.7.1-3], a well-formed $share prefix. Error: 0x8F.
std::optional<CodecError> validate_topic_filter(std::string_view filter) noexcept;

bool has_wildcard(std::string_view filter) noexcept;

// Splits on '/', keeping empty levels ("a//b" -> "a","","b"; "/a" -> "","a").
std::vector<std::string_view> split_levels(std::string_view topic);

// Does a valid topic name match a valid, non-shared filter? A filter starting
// with a wildcard does not match a name starting with '$' [MQTT-4.7.2-1].
// "sport/#" also matches "sport" [MQTT-4.7.1-2].
bool topic_matches(std::string_view filter, std::string_view name) noexcept;

// "$share/{group}/{filter}" (and "$queue/{filter}", group "$queue").
struct SharedFilter {
  std::string_view group;
  std::string_view filter;
};
// nullopt for an ordinary filter. A "$share/" prefix with an empty or
// wildcarded group, or no filter after the group, is rejected by
// validate_topic_filter, so callers validate first.
std::optional<SharedFilter> parse_shared(std::string_view filter) noexcept;

}  // namespace roadmq::mqtt
