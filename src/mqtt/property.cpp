#include "mqtt/property.hpp"

#include <algorithm>
#include <array>

namespace roadmq::mqtt {
namespace {

constexpr PropertyInfo kInfos[] = {
#define ROADMQ_X(id, nm, type, spec, scopes) {PropertyId::nm, PropertyType::type, spec, scopes},
    ROADMQ_MQTT_PROPERTIES(ROADMQ_X)
#undef ROADMQ_X
};

struct Index {
  std::array<const PropertyInfo*, 256> by_id{};
  constexpr Index() {
    for (const auto& info : kInfos) by_id[static_cast<std::uint8_t>(info.id)] = &info;
  }
};
constexpr Index kIndex;

}  // namespace

const PropertyInfo* find_property(std::uint8_t id) noexcept { return kIndex.by_id[id]; }

bool is_allowed_in(PropertyId id, PropertyScope scope) noexcept {
  const auto* info = find_property(static_cast<std::uint8_t>(id));
  return info && (info->scopes & static_cast<std::uint32_t>(scope)) != 0;
}

bool may_repeat(PropertyId id, PropertyScope scope) noexcept {
  return id == PropertyId::user_property ||
         (id == PropertyId::subscription_identifier && scope == PropertyScope::publish);
}

const Property* Properties::find(PropertyId id) const noexcept {
  for (const auto& p : items_)
    if (p.id == id) return &p;
  return nullptr;
}

void Properties::erase(PropertyId id) noexcept {
  std::erase_if(items_, [id](const Property& p) { return p.id == id; });
}

void Properties::set_number(PropertyId id, std::uint32_t v) {
  for (auto& p : items_) {
    if (p.id == id) {
      p.number = v;
      return;
    }
  }
  items_.push_back(Property{id, v, {}, {}});
}

std::optional<std::uint32_t> Properties::number(PropertyId id) const noexcept {
  if (const auto* p = find(id)) return p->number;
  return std::nullopt;
}

void Properties::set_text(PropertyId id, std::string v) {
  for (auto& p : items_) {
    if (p.id == id) {
      p.text = std::move(v);
      return;
    }
  }
  items_.push_back(Property{id, 0, std::move(v), {}});
}

std::optional<std::string_view> Properties::text(PropertyId id) const noexcept {
  if (const auto* p = find(id)) return std::string_view(p->text);
  return std::nullopt;
}

void Properties::add_user_property(std::string name, std::string value) {
  items_.push_back(Property{PropertyId::user_property, 0, std::move(name), std::move(value)});
}

void Properties::add_subscription_identifier(std::uint32_t id) {
  items_.push_back(Property{PropertyId::subscription_identifier, id, {}, {}});
}

std::vector<std::uint32_t> Properties::subscription_identifiers() const {
  std::vector<std::uint32_t> out;
  for (const auto& p : items_)
    if (p.id == PropertyId::subscription_identifier) out.push_back(p.number);
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> Properties::user_properties() const {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const auto& p : items_)
    if (p.id == PropertyId::user_property) out.emplace_back(p.text, p.text2);
  return out;
}

}  // namespace roadmq::mqtt
