// SPDX-License-Identifier: Apache-2.0
// DefaultProvider: per algorithm the fastest backend this build and CPU
// have, from a static ranking measured with benchmarks/crypto_bench.cpp
// (README "Crypto backends"; AMD EPYC with AVX2, VAES and SHA-NI, 1400-octet
// packets):
//  - AES-GCM/GMAC: ipsec-mb (VAES, direct API), then libsodium (AES-256-GCM-16
//    only), then mbedTLS.
//  - ChaCha20-Poly1305: ipsec-mb (a little ahead of libsodium), then
//    libsodium, then mbedTLS.
//  - AES-CBC/CTR and HMAC-SHA1/SHA2, AES-XCBC/CMAC: ipsec-mb, then mbedTLS.
//    CBC + HMAC on ipsec-mb pays in bursts (multi-buffer): one packet alone
//    costs about what mbedTLS takes, a burst of 16 about a sixth.
//  - AES-CCM, ENCR_NULL, the PRFs and key exchanges: mbedTLS, but Curve25519
//    (libsodium).
// A host may prefer another backend per algorithm (prefer); when that
// backend lacks the algorithm the ranking decides.
#include <span>

#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"

namespace ipsec::crypto {
namespace {

bool sodium_has(EncrId id, uint16_t key_bits) noexcept {
  if (id == EncrId::chacha20_poly1305) return encr_info(id)->allows_key_bits(key_bits);
  return id == EncrId::aes_gcm_16 && key_bits == 256 && SodiumProvider::aes256gcm_available();
}

bool has(Backend b, EncrId id, uint16_t key_bits) noexcept {
  switch (b) {
    case Backend::ipsec_mb: return IpsecMbProvider::supports(id, key_bits);
    case Backend::libsodium: return sodium_has(id, key_bits);
    case Backend::mbedtls: return true;  // everything of suites.hpp; it reports the errors
  }
  return false;
}

bool has(Backend b, IntegId id) noexcept {
  switch (b) {
    case Backend::ipsec_mb: return IpsecMbProvider::supports(id);
    case Backend::libsodium: return false;
    case Backend::mbedtls: return true;
  }
  return false;
}

constexpr Backend kAesGcmRanking[] = {Backend::ipsec_mb, Backend::libsodium, Backend::mbedtls};
constexpr Backend kChachaRanking[] = {Backend::ipsec_mb, Backend::libsodium, Backend::mbedtls};
constexpr Backend kAesRanking[] = {Backend::ipsec_mb, Backend::mbedtls};
constexpr Backend kMbedtlsOnly[] = {Backend::mbedtls};

std::span<const Backend> ranking(EncrId id) noexcept {
  switch (id) {
    case EncrId::aes_gcm_8:
    case EncrId::aes_gcm_12:
    case EncrId::aes_gcm_16:
    case EncrId::null_auth_aes_gmac: return kAesGcmRanking;
    case EncrId::chacha20_poly1305: return kChachaRanking;
    case EncrId::aes_cbc:
    case EncrId::aes_ctr: return kAesRanking;
    default: return kMbedtlsOnly;
  }
}

template <typename Prefs, typename Id>
void set_preference(Prefs& prefs, size_t& count, Id id, Backend b) noexcept {
  const auto raw = static_cast<uint16_t>(id);
  for (size_t i = 0; i < count; ++i) {
    if (prefs[i].id == raw) {
      prefs[i].backend = b;
      return;
    }
  }
  if (count < prefs.size()) prefs[count++] = {raw, b};
}

template <typename Prefs, typename Id>
const Backend* find_preference(const Prefs& prefs, size_t count, Id id) noexcept {
  for (size_t i = 0; i < count; ++i) {
    if (prefs[i].id == static_cast<uint16_t>(id)) return &prefs[i].backend;
  }
  return nullptr;
}

}  // namespace

Backend DefaultProvider::backend_for(EncrId id, uint16_t key_bits) const noexcept {
  if (const Backend* p = find_preference(encr_prefs_, encr_pref_count_, id); p && has(*p, id, key_bits)) {
    return *p;
  }
  for (Backend b : ranking(id)) {
    if (has(b, id, key_bits)) return b;
  }
  return Backend::mbedtls;
}

Backend DefaultProvider::backend_for(IntegId id) const noexcept {
  if (const Backend* p = find_preference(integ_prefs_, integ_pref_count_, id); p && has(*p, id)) return *p;
  return has(Backend::ipsec_mb, id) ? Backend::ipsec_mb : Backend::mbedtls;
}

void DefaultProvider::prefer(EncrId id, Backend backend) noexcept {
  if (encr_info(id)) set_preference(encr_prefs_, encr_pref_count_, id, backend);
}

void DefaultProvider::prefer(IntegId id, Backend backend) noexcept {
  if (integ_info(id)) set_preference(integ_prefs_, integ_pref_count_, id, backend);
}

Provider& DefaultProvider::provider(Backend b) noexcept {
  switch (b) {
    case Backend::ipsec_mb: return ipsec_mb_;
    case Backend::libsodium: return sodium_;
    case Backend::mbedtls: return mbedtls_;
  }
  return mbedtls_;
}

Result<std::unique_ptr<Aead>> DefaultProvider::make_aead(EncrId id, uint16_t key_bits,
                                                         ByteView keymat) noexcept {
  return provider(backend_for(id, key_bits)).make_aead(id, key_bits, keymat);
}

Result<std::unique_ptr<Cipher>> DefaultProvider::make_cipher(EncrId id, uint16_t key_bits,
                                                             ByteView keymat) noexcept {
  return provider(backend_for(id, key_bits)).make_cipher(id, key_bits, keymat);
}

Result<std::unique_ptr<Integrity>> DefaultProvider::make_integrity(IntegId id, ByteView key) noexcept {
  return provider(backend_for(id)).make_integrity(id, key);
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
