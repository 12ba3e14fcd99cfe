// SPDX-License-Identifier: Apache-2.0
// IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" transform IDs
// (RFC 7296 section 3.3.2 and the registries it created). Open enums: a peer
// may send any 16-bit value, so unlisted values are representable and named
// "unknown".
#pragma once

#include <cstdint>
#include <string_view>

namespace ipsec::crypto {

// Transform Type 1: Encryption Algorithm Transform IDs.
enum class EncrId : uint16_t {
  des_iv64 = 1,
  des = 2,
  des3 = 3,
  rc5 = 4,
  idea = 5,
  cast = 6,
  blowfish = 7,
  idea3 = 8,
  des_iv32 = 9,
  null = 11,       // RFC 2410
  aes_cbc = 12,    // RFC 3602
  aes_ctr = 13,    // RFC 3686
  aes_ccm_8 = 14,  // RFC 4309
  aes_ccm_12 = 15,
  aes_ccm_16 = 16,
  aes_gcm_8 = 18,  // RFC 4106
  aes_gcm_12 = 19,
  aes_gcm_16 = 20,
  null_auth_aes_gmac = 21,  // RFC 4543
  camellia_cbc = 23,
  camellia_ctr = 24,
  camellia_ccm_8 = 25,
  camellia_ccm_12 = 26,
  camellia_ccm_16 = 27,
  chacha20_poly1305 = 28,  // RFC 7634
  aes_ccm_8_iiv = 29,      // RFC 8750
  aes_gcm_16_iiv = 30,
  chacha20_poly1305_iiv = 31,
};

// Transform Type 2: Pseudorandom Function Transform IDs.
enum class PrfId : uint16_t {
  hmac_md5 = 1,
  hmac_sha1 = 2,  // RFC 2104
  hmac_tiger = 3,
  aes128_xcbc = 4,    // RFC 4434
  hmac_sha2_256 = 5,  // RFC 4868
  hmac_sha2_384 = 6,
  hmac_sha2_512 = 7,
  aes128_cmac = 8,  // RFC 4615
  hmac_streebog_512 = 9,
};

// Transform Type 3: Integrity Algorithm Transform IDs.
enum class IntegId : uint16_t {
  none = 0,
  hmac_md5_96 = 1,
  hmac_sha1_96 = 2,  // RFC 2404
  des_mac = 3,
  kpdk_md5 = 4,
  aes_xcbc_96 = 5,  // RFC 3566
  hmac_md5_128 = 6,
  hmac_sha1_160 = 7,
  aes_cmac_96 = 8,  // RFC 4494
  aes_128_gmac = 9,
  aes_192_gmac = 10,
  aes_256_gmac = 11,
  hmac_sha2_256_128 = 12,  // RFC 4868
  hmac_sha2_384_192 = 13,
  hmac_sha2_512_256 = 14,
};

// Transform Type 4: Key Exchange Method Transform IDs (Diffie-Hellman groups).
enum class KeGroup : uint16_t {
  none = 0,
  modp768 = 1,
  modp1024 = 2,
  modp1536 = 5,
  modp2048 = 14,  // RFC 3526
  modp3072 = 15,
  modp4096 = 16,
  modp6144 = 17,
  modp8192 = 18,
  ecp256 = 19,  // RFC 5903
  ecp384 = 20,
  ecp521 = 21,
  modp1024_s160 = 22,
  modp2048_s224 = 23,
  modp2048_s256 = 24,
  ecp192 = 25,
  ecp224 = 26,
  brainpool224 = 27,  // RFC 6954
  brainpool256 = 28,
  brainpool384 = 29,
  brainpool512 = 30,
  curve25519 = 31,  // RFC 8031
  curve448 = 32,
  mlkem512 = 35,
  mlkem768 = 36,
  mlkem1024 = 37,
};

// RFC 7427 section 7: Hash Algorithm Identifiers (SIGNATURE_HASH_ALGORITHMS).
enum class HashId : uint16_t {
  sha1 = 1,
  sha2_256 = 2,
  sha2_384 = 3,
  sha2_512 = 4,
  identity = 5,  // RFC 8420: EdDSA signs the message itself
};

[[nodiscard]] constexpr std::string_view to_string(EncrId id) noexcept {
  switch (id) {
    case EncrId::des_iv64: return "ENCR_DES_IV64";
    case EncrId::des: return "ENCR_DES";
    case EncrId::des3: return "ENCR_3DES";
    case EncrId::rc5: return "ENCR_RC5";
    case EncrId::idea: return "ENCR_IDEA";
    case EncrId::cast: return "ENCR_CAST";
    case EncrId::blowfish: return "ENCR_BLOWFISH";
    case EncrId::idea3: return "ENCR_3IDEA";
    case EncrId::des_iv32: return "ENCR_DES_IV32";
    case EncrId::null: return "ENCR_NULL";
    case EncrId::aes_cbc: return "ENCR_AES_CBC";
    case EncrId::aes_ctr: return "ENCR_AES_CTR";
    case EncrId::aes_ccm_8: return "ENCR_AES_CCM_8";
    case EncrId::aes_ccm_12: return "ENCR_AES_CCM_12";
    case EncrId::aes_ccm_16: return "ENCR_AES_CCM_16";
    case EncrId::aes_gcm_8: return "ENCR_AES_GCM_8";
    case EncrId::aes_gcm_12: return "ENCR_AES_GCM_12";
    case EncrId::aes_gcm_16: return "ENCR_AES_GCM_16";
    case EncrId::null_auth_aes_gmac: return "ENCR_NULL_AUTH_AES_GMAC";
    case EncrId::camellia_cbc: return "ENCR_CAMELLIA_CBC";
    case EncrId::camellia_ctr: return "ENCR_CAMELLIA_CTR";
    case EncrId::camellia_ccm_8: return "ENCR_CAMELLIA_CCM_8";
    case EncrId::camellia_ccm_12: return "ENCR_CAMELLIA_CCM_12";
    case EncrId::camellia_ccm_16: return "ENCR_CAMELLIA_CCM_16";
    case EncrId::chacha20_poly1305: return "ENCR_CHACHA20_POLY1305";
    case EncrId::aes_ccm_8_iiv: return "ENCR_AES_CCM_8_IIV";
    case EncrId::aes_gcm_16_iiv: return "ENCR_AES_GCM_16_IIV";
    case EncrId::chacha20_poly1305_iiv: return "ENCR_CHACHA20_POLY1305_IIV";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(PrfId id) noexcept {
  switch (id) {
    case PrfId::hmac_md5: return "PRF_HMAC_MD5";
    case PrfId::hmac_sha1: return "PRF_HMAC_SHA1";
    case PrfId::hmac_tiger: return "PRF_HMAC_TIGER";
    case PrfId::aes128_xcbc: return "PRF_AES128_XCBC";
    case PrfId::hmac_sha2_256: return "PRF_HMAC_SHA2_256";
    case PrfId::hmac_sha2_384: return "PRF_HMAC_SHA2_384";
    case PrfId::hmac_sha2_512: return "PRF_HMAC_SHA2_512";
    case PrfId::aes128_cmac: return "PRF_AES128_CMAC";
    case PrfId::hmac_streebog_512: return "PRF_HMAC_STREEBOG_512";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(IntegId id) noexcept {
  switch (id) {
    case IntegId::none: return "NONE";
    case IntegId::hmac_md5_96: return "AUTH_HMAC_MD5_96";
    case IntegId::hmac_sha1_96: return "AUTH_HMAC_SHA1_96";
    case IntegId::des_mac: return "AUTH_DES_MAC";
    case IntegId::kpdk_md5: return "AUTH_KPDK_MD5";
    case IntegId::aes_xcbc_96: return "AUTH_AES_XCBC_96";
    case IntegId::hmac_md5_128: return "AUTH_HMAC_MD5_128";
    case IntegId::hmac_sha1_160: return "AUTH_HMAC_SHA1_160";
    case IntegId::aes_cmac_96: return "AUTH_AES_CMAC_96";
    case IntegId::aes_128_gmac: return "AUTH_AES_128_GMAC";
    case IntegId::aes_192_gmac: return "AUTH_AES_192_GMAC";
    case IntegId::aes_256_gmac: return "AUTH_AES_256_GMAC";
    case IntegId::hmac_sha2_256_128: return "AUTH_HMAC_SHA2_256_128";
    case IntegId::hmac_sha2_384_192: return "AUTH_HMAC_SHA2_384_192";
    case IntegId::hmac_sha2_512_256: return "AUTH_HMAC_SHA2_512_256";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(KeGroup id) noexcept {
  switch (id) {
    case KeGroup::none: return "NONE";
    case KeGroup::modp768: return "MODP_768";
    case KeGroup::modp1024: return "MODP_1024";
    case KeGroup::modp1536: return "MODP_1536";
    case KeGroup::modp2048: return "MODP_2048";
    case KeGroup::modp3072: return "MODP_3072";
    case KeGroup::modp4096: return "MODP_4096";
    case KeGroup::modp6144: return "MODP_6144";
    case KeGroup::modp8192: return "MODP_8192";
    case KeGroup::ecp256: return "ECP_256";
    case KeGroup::ecp384: return "ECP_384";
    case KeGroup::ecp521: return "ECP_521";
    case KeGroup::modp1024_s160: return "MODP_1024_160";
    case KeGroup::modp2048_s224: return "MODP_2048_224";
    case KeGroup::modp2048_s256: return "MODP_2048_256";
    case KeGroup::ecp192: return "ECP_192";
    case KeGroup::ecp224: return "ECP_224";
    case KeGroup::brainpool224: return "ECP_224_BP";
    case KeGroup::brainpool256: return "ECP_256_BP";
    case KeGroup::brainpool384: return "ECP_384_BP";
    case KeGroup::brainpool512: return "ECP_512_BP";
    case KeGroup::curve25519: return "CURVE_25519";
    case KeGroup::curve448: return "CURVE_448";
    case KeGroup::mlkem512: return "ML_KEM_512";
    case KeGroup::mlkem768: return "ML_KEM_768";
    case KeGroup::mlkem1024: return "ML_KEM_1024";
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view to_string(HashId id) noexcept {
  switch (id) {
    case HashId::sha1: return "SHA1";
    case HashId::sha2_256: return "SHA2_256";
    case HashId::sha2_384: return "SHA2_384";
    case HashId::sha2_512: return "SHA2_512";
    case HashId::identity: return "IDENTITY";
  }
  return "unknown";
}

}  // namespace ipsec::crypto
