// SPDX-License-Identifier: Apache-2.0
// Helpers the benchmark programs share (never the library).
#pragma once

#include <benchmark/benchmark.h>

#include <string>

#include "ipsec/core/result.hpp"

namespace ipsec::bench {

// fail: end the benchmark with the library's error, named: "seal:
// integrity_check_failed (sk.icv)". The smoke tests look for the error
// Google Benchmark then prints.
inline void fail(benchmark::State& state, const char* what, Status status) {
  std::string message(what);
  message += ": ";
  message += status.name();
  if (*status.field() != '\0') {
    message += " (";
    message += status.field();
    message += ")";
  }
  state.SkipWithError(message.c_str());
}

}  // namespace ipsec::bench
