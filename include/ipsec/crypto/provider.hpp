// SPDX-License-Identifier: Apache-2.0
// Provider: the factory for keyed transforms and key exchanges. The IKE
// engine and the datapath receive a Provider& from the host, so a host can
// choose backends (or, for fuzzing only, a NO-SECURITY provider) without the
// protocol code knowing. Creating a transform may allocate (control plane);
// using it never does.
//
// Backends:
//  - MbedtlsProvider: every transform listed in crypto/suites.hpp.
//  - SodiumProvider: what libsodium has (AES-256-GCM-16 on CPUs with
//    AES-NI + PCLMUL, ChaCha20-Poly1305, Curve25519); unsupported_algorithm
//    for the rest.
//  - DefaultProvider: per algorithm the faster of the two, measured in
//    benchmarks/crypto_bench.cpp (README "Crypto backends").
#pragma once

#include <cstdint>
#include <memory>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/key_exchange.hpp"
#include "ipsec/crypto/prf.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Provider {
 public:
  virtual ~Provider() = default;
  [[nodiscard]] virtual const char* name() const noexcept = 0;

  // make_aead: keymat = key || salt, sized by EncrInfo::keymat_size(key_bits)
  // (key_bits: the proposal's Key Length attribute; 0 for ChaCha20-Poly1305).
  // Errors: unsupported_algorithm, invalid_key_length.
  [[nodiscard]] virtual Result<std::unique_ptr<Aead>> make_aead(EncrId id, uint16_t key_bits,
                                                                ByteView keymat) noexcept = 0;
  // make_cipher: keymat = key (|| 4-octet nonce for AES-CTR, RFC 3686 5.1).
  [[nodiscard]] virtual Result<std::unique_ptr<Cipher>> make_cipher(EncrId id, uint16_t key_bits,
                                                                    ByteView keymat) noexcept = 0;
  // make_integrity: key of IntegInfo::key_size bytes.
  [[nodiscard]] virtual Result<std::unique_ptr<Integrity>> make_integrity(IntegId id,
                                                                          ByteView key) noexcept = 0;
  // make_prf: a key of any length (HMAC hashes long keys; the AES PRFs
  // normalise them per RFC 4434 / RFC 4615).
  [[nodiscard]] virtual Result<std::unique_ptr<Prf>> make_prf(PrfId id, ByteView key) noexcept = 0;
  // make_key_exchange: a fresh private value drawn from rng.
  [[nodiscard]] virtual Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup group,
                                                                               Rng& rng) noexcept = 0;
  // import_key_exchange: a given private value (known-answer tests,
  // replays): MODP the big-endian exponent (1 to prime-length octets,
  // 2 <= x <= p-2), ECP/brainpool the big-endian scalar of exactly the
  // group order's length (1 <= d <= n-1), Curve25519/448 the 32/56 scalar
  // octets of RFC 7748 (clamped as section 5 says). Errors: invalid_key.
  [[nodiscard]] virtual Result<std::unique_ptr<KeyExchange>> import_key_exchange(
      KeGroup group, ByteView private_value) noexcept = 0;
};

class MbedtlsProvider final : public Provider {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "mbedtls"; }
  [[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Cipher>> make_cipher(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Integrity>> make_integrity(IntegId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Prf>> make_prf(PrfId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup, Rng&) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> import_key_exchange(KeGroup, ByteView) noexcept override;
};

class SodiumProvider final : public Provider {
 public:
  SodiumProvider() noexcept;
  [[nodiscard]] const char* name() const noexcept override { return "libsodium"; }
  [[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Cipher>> make_cipher(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Integrity>> make_integrity(IntegId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Prf>> make_prf(PrfId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup, Rng&) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> import_key_exchange(KeGroup, ByteView) noexcept override;
  // aes256gcm_available: libsodium's AES-GCM needs AES-NI and PCLMUL.
  [[nodiscard]] static bool aes256gcm_available() noexcept;
};

class DefaultProvider final : public Provider {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "default"; }
  [[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Cipher>> make_cipher(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Integrity>> make_integrity(IntegId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Prf>> make_prf(PrfId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup, Rng&) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> import_key_exchange(KeGroup, ByteView) noexcept override;

 private:
  SodiumProvider sodium_;
  MbedtlsProvider mbedtls_;
};

}  // namespace ipsec::crypto
