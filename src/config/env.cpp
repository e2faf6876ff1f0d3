#include "config/env.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "config/parser.hpp"

namespace roadmq::config {
namespace {

struct Override {
  std::string name;
  std::vector<std::string> path;
  std::string_view text;
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string display_path(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& seg : path) {
    if (!out.empty()) out += '.';
    out += seg;
  }
  return out;
}

}  // namespace

Expected<void, Errors> apply_env_overrides(Value& root, const std::vector<std::string>& env,
                                           const Schema& schema, std::string_view prefix) {
  Errors errors;
  std::vector<Override> overrides;
  for (const std::string& entry : env) {
    std::size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string_view name(entry.data(), eq);
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());
    if (rest.find("__") == std::string_view::npos) continue;

    Location where{std::make_shared<const std::string>("environment variable " + std::string(name)),
                   0, 0};
    Override o{std::string(name), {}, std::string_view(entry).substr(eq + 1)};
    bool malformed = false;
    for (std::size_t start = 0;;) {
      std::size_t sep = rest.find("__", start);
      std::string seg(rest.substr(start, sep - start));
      std::transform(seg.begin(), seg.end(), seg.begin(), lower);
      malformed = malformed || seg.empty();
      o.path.push_back(std::move(seg));
      if (sep == std::string_view::npos) break;
      start = sep + 2;
    }
    if (malformed) {
      errors.push_back({where,
                        "malformed name: levels are separated by exactly two '_' "
                        "(e.g. ROADMQ_MQTT__MAX_INFLIGHT)"});
      continue;
    }
    Schema::Lookup found = schema.lookup(o.path);
    if (found.what == Schema::Lookup::What::unknown) {
      std::string msg = "unknown key " + quote(display_path(o.path));
      if (!found.suggestion.empty()) msg += " (did you mean " + quote(found.suggestion) + "?)";
      errors.push_back({where, std::move(msg)});
      continue;
    }
    overrides.push_back(std::move(o));
  }

  // A whole-object override first, then the single keys inside it.
  std::stable_sort(overrides.begin(), overrides.end(), [](const Override& a, const Override& b) {
    return a.path.size() < b.path.size();
  });
  for (const Override& o : overrides) {
    Location where{std::make_shared<const std::string>("environment variable " + o.name), 0, 0};
    std::string_view text = trim(o.text);
    Value v;
    if (!text.empty() && (text.front() == '{' || text.front() == '[' || text.front() == '"')) {
      auto parsed = parse_value(text, "environment variable " + o.name);
      if (!parsed) {
        errors.push_back(parsed.error());
        continue;
      }
      v = std::move(*parsed);
      // Positions inside a one-line value help nobody once it parsed; name
      // the variable instead.
      relocate(v, where);
    } else {
      v = parse_scalar(text, where);
    }
    set_path(root, o.path, std::move(v), where);
  }
  if (!errors.empty()) return Unexpected{std::move(errors)};
  return {};
}

std::vector<std::string> environment_from(const char* const* envp) {
  std::vector<std::string> out;
  for (; envp && *envp; ++envp) out.emplace_back(*envp);
  return out;
}

}  // namespace roadmq::config
