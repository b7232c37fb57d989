// cardionets/core.h - version, build information, CPU features and the library's error type.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace cardionets {

// Every error the C++ library raises. Messages name the input (file, array) and the problem;
// the Python bindings turn it into cardionets.errors.NativeError (a CardioNetsError).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A declared size (samples, bytes, leads) above one of the documented resource limits of the
// readers (cardionets::wfdb::Limits, cardionets::xli::Limits): the message names the limit.
// Python: cardionets.errors.NativeLimitExceeded.
class LimitExceeded : public Error {
 public:
  using Error::Error;
};

// A valid input that the C++ library does not decode (e.g. WFDB format 61 or 160, multi-sample
// frames); callers can fall back to another reader. Python: cardionets.errors.NativeUnsupported.
class Unsupported : public Error {
 public:
  using Error::Error;
};

// Library version ("0.1.0").
const char* version();

// Compiler, build type and optimisation flags the library was built with.
const char* build_info();

// Instruction-set extensions the library was compiled for (e.g. {"avx2", "avx512f"}).
std::vector<std::string> compiled_isa();

// Instruction-set extensions this CPU supports at run time.
std::vector<std::string> cpu_features();

}  // namespace cardionets
