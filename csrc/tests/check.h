// The CHECK macro and failure counter shared by the C++ test programs (csrc/tests/test_*.cpp; each is
// its own executable, so this header is included once per program). A failed CHECK prints
// file:line and the condition to stderr and counts; main() returns non-zero when `failures` > 0.
#pragma once

#include <cstdio>

static int failures = 0;
#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)
