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
//  - IpsecMbProvider: Intel's ipsec-mb (x86-64, when the build found it:
//    IPSEC_WITH_IPSEC_MB) for the ESP transforms: AES-GCM-8/12/16, AES-GMAC,
//    ChaCha20-Poly1305, AES-CBC, AES-CTR, HMAC-SHA1/SHA2, AES-XCBC/CMAC-96;
//    its burst calls pipeline packets (multi-buffer). unsupported_algorithm
//    for the rest, and for everything when not compiled in or the CPU lacks
//    AES-NI (available()).
//  - DefaultProvider: per algorithm the fastest available backend, from a
//    static ranking measured with benchmarks/crypto_bench.cpp (README
//    "Crypto backends"): ipsec-mb, then libsodium, then mbedTLS for AES-GCM;
//    ipsec-mb, then mbedTLS for AES-CBC/CTR and the integrity transforms;
//    mbedTLS for the PRFs and key exchanges but Curve25519 (libsodium). A
//    host may override the choice per algorithm (prefer).
#pragma once

#include <array>
#include <cstddef>
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

// IpsecMbProvider: one IMB_MGR per thread, allocated on first use in that
// thread and freed when it exits; keyed objects hold only expanded keys, so
// one object may be used from several threads at once (aead.hpp). Errors of
// make_*: unsupported_algorithm (not compiled in, CPU without AES-NI, or an
// algorithm ipsec-mb lacks), invalid_key_length, out_of_memory (no manager
// could be allocated for this thread), crypto_backend_failure.
class IpsecMbProvider final : public Provider {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "ipsec-mb"; }
  [[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Cipher>> make_cipher(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Integrity>> make_integrity(IntegId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Prf>> make_prf(PrfId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup, Rng&) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> import_key_exchange(KeGroup, ByteView) noexcept override;

  // available: compiled in (IPSEC_WITH_IPSEC_MB) and the CPU has what the
  // library needs (AES-NI at least).
  [[nodiscard]] static bool available() noexcept;
  // arch: the code path ipsec-mb picked for this CPU ("sse", "avx",
  // "avx2", "avx512"), or "none" when not available.
  [[nodiscard]] static const char* arch() noexcept;
  // supports: whether make_aead/make_cipher/make_integrity would succeed
  // with well-formed key material (false whenever !available()).
  [[nodiscard]] static bool supports(EncrId id, uint16_t key_bits) noexcept;
  [[nodiscard]] static bool supports(IntegId id) noexcept;
};

// Backend: the crypto libraries DefaultProvider chooses from.
enum class Backend : uint8_t { ipsec_mb, libsodium, mbedtls };
[[nodiscard]] constexpr const char* to_string(Backend b) noexcept {
  switch (b) {
    case Backend::ipsec_mb: return "ipsec-mb";
    case Backend::libsodium: return "libsodium";
    case Backend::mbedtls: return "mbedtls";
  }
  return "?";
}

class DefaultProvider final : public Provider {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "default"; }
  [[nodiscard]] Result<std::unique_ptr<Aead>> make_aead(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Cipher>> make_cipher(EncrId, uint16_t, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Integrity>> make_integrity(IntegId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<Prf>> make_prf(PrfId, ByteView) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> make_key_exchange(KeGroup, Rng&) noexcept override;
  [[nodiscard]] Result<std::unique_ptr<KeyExchange>> import_key_exchange(KeGroup, ByteView) noexcept override;

  // backend_for: the backend make_aead/make_cipher (EncrId) or
  // make_integrity (IntegId) uses: the host's preference when that backend
  // has the algorithm, else the first of the ranking that has it (mbedTLS
  // when none has it: it then reports the error).
  [[nodiscard]] Backend backend_for(EncrId id, uint16_t key_bits) const noexcept;
  [[nodiscard]] Backend backend_for(IntegId id) const noexcept;
  // prefer: use `backend` for `id` (every key size) whenever it has the
  // algorithm. For configuration before the provider is shared: not
  // synchronised with concurrent make_* calls. Transforms unknown to
  // crypto/suites.hpp are ignored.
  void prefer(EncrId id, Backend backend) noexcept;
  void prefer(IntegId id, Backend backend) noexcept;

 private:
  static constexpr size_t kMaxPreferences = 16;  // more than the transforms of suites.hpp
  struct Preference {
    uint16_t id = 0;
    Backend backend = Backend::mbedtls;
  };
  Provider& provider(Backend b) noexcept;

  SodiumProvider sodium_;
  MbedtlsProvider mbedtls_;
  IpsecMbProvider ipsec_mb_;
  std::array<Preference, kMaxPreferences> encr_prefs_{};
  size_t encr_pref_count_ = 0;
  std::array<Preference, kMaxPreferences> integ_prefs_{};
  size_t integ_pref_count_ = 0;
};

}  // namespace ipsec::crypto
