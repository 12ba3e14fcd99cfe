// SPDX-License-Identifier: Apache-2.0
// DefaultProvider: per algorithm, the faster of libsodium and mbedTLS on the
// machines we measured (benchmarks/crypto_bench.cpp; README "Crypto
// backends"): libsodium for AES-256-GCM-16 (when the CPU has AES-NI and
// PCLMUL), ChaCha20-Poly1305 and Curve25519; mbedTLS for everything else.
#include "ipsec/crypto/provider.hpp"

namespace ipsec::crypto {

Result<std::unique_ptr<Aead>> DefaultProvider::make_aead(EncrId id, uint16_t key_bits,
                                                         ByteView keymat) noexcept {
  auto fast = sodium_.make_aead(id, key_bits, keymat);
  if (fast || fast.error() != Errc::unsupported_algorithm) return fast;
  return mbedtls_.make_aead(id, key_bits, keymat);
}

Result<std::unique_ptr<Cipher>> DefaultProvider::make_cipher(EncrId id, uint16_t key_bits,
                                                             ByteView keymat) noexcept {
  return mbedtls_.make_cipher(id, key_bits, keymat);
}

Result<std::unique_ptr<Integrity>> DefaultProvider::make_integrity(IntegId id, ByteView key) noexcept {
  return mbedtls_.make_integrity(id, key);
}

Result<std::unique_ptr<Prf>> DefaultProvider::make_prf(PrfId id, ByteView key) noexcept {
  return mbedtls_.make_prf(id, key);
}

Result<std::unique_ptr<KeyExchange>> DefaultProvider::make_key_exchange(KeGroup group, Rng& rng) noexcept {
  if (group == KeGroup::curve25519) return sodium_.make_key_exchange(group, rng);
  return mbedtls_.make_key_exchange(group, rng);
}

Result<std::unique_ptr<KeyExchange>> DefaultProvider::import_key_exchange(KeGroup group,
                                                                          ByteView private_value) noexcept {
  if (group == KeGroup::curve25519) return sodium_.import_key_exchange(group, private_value);
  return mbedtls_.import_key_exchange(group, private_value);
}

}  // namespace ipsec::crypto
