// UTF-8 rules of [MQTT-1.5.4]: well-formed (no overlong forms, no surrogates
// U+D800..U+DFFF [MQTT-1.5.4-1]), no U+0000 [MQTT-1.5.4-2], at most 65535 bytes.
#pragma once

#include <cstdint>
#include <string_view>

namespace roadmq::mqtt {

bool is_valid_mqtt_utf8(std::string_view s) noexcept;

// Why a string fails is_valid_mqtt_utf8(), so callers can cite the rule that
// was broken. When a string breaks several rules, the first offending byte
// decides (too_long is checked before any byte is read).
enum class Utf8Status : std::uint8_t {
  ok,
  too_long,        // more than 65535 bytes [MQTT-1.5.4]
  null_character,  // U+0000 [MQTT-1.5.4-2]
  ill_formed,      // not well-formed UTF-8 [MQTT-1.5.4-1]
};
Utf8Status check_mqtt_utf8(std::string_view s) noexcept;

}  // namespace roadmq::mqtt
