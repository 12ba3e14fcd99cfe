// SPDX-License-Identifier: Apache-2.0
// Randomness is injected: every function that needs random bytes takes an
// Rng&. Production uses SystemRng; tests, fuzzers and replays use SeededRng
// so that the same seed gives the same keys, nonces and SPIs.
#pragma once

#include <array>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"

namespace ipsec::crypto {

class Rng {
 public:
  virtual ~Rng() = default;
  // fill: overwrite `out` with random bytes. Cannot fail.
  virtual void fill(MutableByteView out) noexcept = 0;
};

// SystemRng: the operating system's CSPRNG through libsodium
// (randombytes_buf: getrandom(2) on Linux).
class SystemRng final : public Rng {
 public:
  SystemRng() noexcept;
  void fill(MutableByteView out) noexcept override;
};

// SeededRng: a deterministic stream (ChaCha20 keyed with the seed, a fresh
// nonce per call) for tests, fuzzers and reproducible replays. NOT SECURE
// unless the seed is secret and used once.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::array<uint8_t, 32> seed) noexcept;
  explicit SeededRng(uint64_t seed) noexcept;
  ~SeededRng() override;
  SeededRng(const SeededRng&) = delete;
  SeededRng& operator=(const SeededRng&) = delete;
  void fill(MutableByteView out) noexcept override;

 private:
  std::array<uint8_t, 32> key_{};
  uint64_t calls_ = 0;
};

}  // namespace ipsec::crypto
