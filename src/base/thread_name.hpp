#pragma once

#include <string_view>

namespace roadmq::base {

// Names the calling thread as `ps -L`, `top -H`, perf and gdb show it, so an
// operator (or bench/shard_scaling.py) can tell the shards from the committer
// and pin or cap them one by one. Linux keeps 15 bytes; longer names are cut.
void name_this_thread(std::string_view name) noexcept;

}  // namespace roadmq::base
