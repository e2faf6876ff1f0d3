// Programmer-error checks: fatal in debug builds, compiled out in release.
// Never use for untrusted input; that is answered with a reason code.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifndef NDEBUG
#define ROADMQ_ASSERT(cond)                                                        \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
#else
#define ROADMQ_ASSERT(cond) ((void)0)
#endif
