// SPDX-License-Identifier: Apache-2.0
#include "ipsec/crypto/rng.hpp"

#include <sodium.h>

#include "ipsec/bytes/endian.hpp"
#include "ipsec/core/secret.hpp"

namespace ipsec::crypto {

SystemRng::SystemRng() noexcept {
  // sodium_init is idempotent and thread-safe; it opens the randomness source.
  IPSEC_ASSERT(sodium_init() >= 0);
}

void SystemRng::fill(MutableByteView out) noexcept {
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

SeededRng::SeededRng(std::array<uint8_t, 32> seed) noexcept : key_(seed) {}

SeededRng::SeededRng(uint64_t seed) noexcept { store_be64(std::span<uint8_t, 32>(key_).first<8>(), seed); }

SeededRng::~SeededRng() { secure_zero(key_); }

void SeededRng::fill(MutableByteView out) noexcept {
  if (out.empty()) return;
  // Each call draws from its own ChaCha20 stream (nonce = call counter), so
  // the output depends on the seed and the sequence of calls only.
  std::array<uint8_t, crypto_stream_chacha20_ietf_NONCEBYTES> nonce{};
  store_be64(std::span<uint8_t, 12>(nonce).last<8>(), calls_++);
  crypto_stream_chacha20_ietf(out.data(), out.size(), nonce.data(), key_.data());
}

}  // namespace ipsec::crypto
