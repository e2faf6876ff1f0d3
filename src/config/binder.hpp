// Binds schema keys to members of a settings struct, so a key is declared in
// exactly one place: its path, type, range, default and description go into
// the Schema, and how to copy the validated value into the struct (and how to
// compare it for a reload diff) is derived from the member's type.
//
//   Binder<Settings> b(schema);
//   b.add("mqtt.max_inflight", [](auto& s) -> auto& { return s.mqtt.max_inflight; },
//         spec::integer(1, 65535, "32", "..."));
//
// The member type must fit the key's kind (bool <- boolean, integral <-
// integer with a range that fits, double <- floating/percent, Duration <-
// duration, optional<Duration> <- duration that allows "disabled", ByteSize
// <- size, string <- string, vector<string> <- string_list); a mismatch is a
// programmer error caught by an assert when the schema is built.
//
// Thread safety: built once; apply() and diff() are const and reentrant.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/assert.hpp"
#include "config/schema.hpp"
#include "config/units.hpp"

namespace roadmq::config {

template <class Owner>
class Binder {
 public:
  struct Field {
    // Copies this field (from `prefix` + its path) out of a validated tree.
    std::function<void(Owner&, const Resolved&, const std::string& prefix)> apply;
    // Appends the full path of this field to `changed` if it differs.
    std::function<void(const Owner&, const Owner&, const std::string& prefix,
                       std::vector<std::string>& changed)>
        diff;
  };

  explicit Binder(Schema& schema) : schema_(&schema) {}

  template <class Access>
  void add(std::string_view path, Access access, KeySpec spec) {
    using M = std::remove_cvref_t<decltype(access(std::declval<Owner&>()))>;
    [[maybe_unused]] bool fits = kind_fits<M>(spec);
    ROADMQ_ASSERT(fits);
    schema_->add(path, std::move(spec));
    std::string p(path);
    fields_.push_back(Field{[access, p](Owner& o, const Resolved& r, const std::string& prefix) {
                              const ResolvedValue* rv = r.find(prefix + p);
                              ROADMQ_ASSERT(rv != nullptr);
                              if (rv) assign(rv->value, access(o));
                            },
                            [access, p](const Owner& a, const Owner& b, const std::string& prefix,
                                        std::vector<std::string>& changed) {
                              if (!(access(a) == access(b))) changed.push_back(prefix + p);
                            }});
  }

  // An enumeration: the schema sees the names, the struct gets E.
  template <class Access, class E>
  void add_enum(std::string_view path, Access access, std::vector<std::pair<std::string, E>> names,
                std::string default_text, std::string description) {
    std::vector<std::string> choices;
    for (const auto& entry : names) choices.push_back(entry.first);
    schema_->add(path, spec::enumeration(std::move(choices), std::move(default_text),
                                         std::move(description)));
    std::string p(path);
    fields_.push_back(
        Field{[access, p, names](Owner& o, const Resolved& r, const std::string& prefix) {
                const ResolvedValue* rv = r.find(prefix + p);
                ROADMQ_ASSERT(rv != nullptr);
                const std::string* s = rv ? std::get_if<std::string>(&rv->value) : nullptr;
                ROADMQ_ASSERT(s != nullptr);
                for (const auto& entry : names) {
                  if (s && entry.first == *s) access(o) = entry.second;
                }
              },
              [access, p](const Owner& a, const Owner& b, const std::string& prefix,
                          std::vector<std::string>& changed) {
                if (access(a) != access(b)) changed.push_back(prefix + p);
              }});
  }

  // A map of named entries (`listeners.tcp.<name>`): the member is a
  // std::map<std::string, Entry>; `describe_entry(Binder<Entry>&)` declares
  // the entry's keys. A diff reports added or removed entries by their path
  // (`listeners.tcp.ws1`) and changed fields by theirs.
  template <class Access, class Describe>
  void add_map(std::string_view path, Access access, std::string description,
               std::string_view default_entries, Describe describe_entry) {
    using MapT = std::remove_cvref_t<decltype(access(std::declval<Owner&>()))>;
    using Entry = typename MapT::mapped_type;
    Schema entry_schema;
    Binder<Entry> entry_binder(entry_schema);
    describe_entry(entry_binder);
    schema_->add_map(path, std::move(entry_schema), std::move(description), default_entries);
    std::string p(path);
    std::vector<typename Binder<Entry>::Field> entry_fields = entry_binder.fields();
    fields_.push_back(
        Field{[access, p, entry_fields](Owner& o, const Resolved& r, const std::string& prefix) {
                MapT& m = access(o);
                m.clear();
                for (const std::string& name : r.entries(prefix + p)) {
                  Entry e{};
                  std::string entry_prefix = prefix + p + "." + name + ".";
                  for (const auto& f : entry_fields) f.apply(e, r, entry_prefix);
                  m.emplace(name, std::move(e));
                }
              },
              [access, p, entry_fields](const Owner& a, const Owner& b, const std::string& prefix,
                                        std::vector<std::string>& changed) {
                const MapT& ma = access(a);
                const MapT& mb = access(b);
                for (const auto& [name, entry] : ma) {
                  std::string entry_path = prefix + p + "." + name;
                  auto it = mb.find(name);
                  if (it == mb.end()) {
                    changed.push_back(entry_path);
                    continue;
                  }
                  for (const auto& f : entry_fields)
                    f.diff(entry, it->second, entry_path + ".", changed);
                }
                for (const auto& entry : mb) {
                  if (ma.find(entry.first) == ma.end())
                    changed.push_back(prefix + p + "." + entry.first);
                }
              }});
  }

  void apply(Owner& o, const Resolved& r, const std::string& prefix = {}) const {
    for (const Field& f : fields_) f.apply(o, r, prefix);
  }

  std::vector<std::string> diff(const Owner& a, const Owner& b) const {
    std::vector<std::string> changed;
    for (const Field& f : fields_) f.diff(a, b, {}, changed);
    return changed;
  }

  const std::vector<Field>& fields() const { return fields_; }

 private:
  template <class M>
  static bool kind_fits(const KeySpec& s) {
    if constexpr (std::is_same_v<M, bool>) {
      return s.kind == Kind::boolean;
    } else if constexpr (std::is_integral_v<M>) {
      return s.kind == Kind::integer &&
             std::cmp_greater_equal(s.min, std::numeric_limits<M>::min()) &&
             std::cmp_less_equal(s.max, std::numeric_limits<M>::max());
    } else if constexpr (std::is_same_v<M, double>) {
      return s.kind == Kind::floating || s.kind == Kind::percent;
    } else if constexpr (std::is_same_v<M, Duration>) {
      return s.kind == Kind::duration && !s.allow_disabled;
    } else if constexpr (std::is_same_v<M, std::optional<Duration>>) {
      return s.kind == Kind::duration && s.allow_disabled;
    } else if constexpr (std::is_same_v<M, ByteSize>) {
      return s.kind == Kind::size;
    } else if constexpr (std::is_same_v<M, std::string>) {
      return s.kind == Kind::string;
    } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
      return s.kind == Kind::string_list;
    } else {
      static_assert(sizeof(M) == 0, "no config kind for this member type");
      return false;
    }
  }

  template <class M>
  static void assign(const Typed& t, M& out) {
    using Alt =
        std::conditional_t<std::is_integral_v<M> && !std::is_same_v<M, bool>, std::int64_t, M>;
    const Alt* v = std::get_if<Alt>(&t);
    ROADMQ_ASSERT(v != nullptr);
    if (v) out = static_cast<M>(*v);
  }

  Schema* schema_;
  std::vector<Field> fields_;
};

}  // namespace roadmq::config
