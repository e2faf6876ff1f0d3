// Owning wrapper for a POSIX file descriptor: closes it on destruction unless
// released. Used to move a socket between threads (accept hand-off,
// migration) so that a dropped hand-off still closes the descriptor.
//
// Thread safety: a value type; one owner at a time.
#pragma once

#include <unistd.h>

#include <utility>

namespace roadmq::net {

class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) (void)::close(fd_);  // nothing useful to do if close fails
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace roadmq::net
