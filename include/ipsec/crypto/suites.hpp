// SPDX-License-Identifier: Apache-2.0
// Sizes and properties of the transforms the library implements, by IANA ID:
// what the IKE engine needs to size KEYMAT and what ESP needs to frame
// packets. A transform absent here is not implemented (std::nullopt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

struct EncrInfo {
  EncrId id{};
  bool aead = false;         // combined mode: no separate integrity transform
  bool confidential = true;  // false for ENCR_NULL and GMAC (authentication only)
  uint8_t block_size = 1;    // ESP pads the payload to this (and to 4, RFC 4303 2.4)
  uint8_t iv_size = 0;       // explicit per-packet IV carried on the wire
  uint8_t salt_size = 0;     // key material appended to the key (RFC 4106 8.1, 4309 7.1, 3686 5.1, 7634 2)
  uint8_t icv_size = 0;      // AEAD tag length (0 for plain ciphers)
  bool key_length_attribute = false;  // RFC 7296 3.3.5: proposal carries Key Length
  uint16_t fixed_key_bits = 0;        // when no attribute: the key size (0 for NULL)

  // allows_key_bits: whether `bits` is a valid key length for this transform
  // (for transforms without the attribute, 0 means "the fixed size").
  [[nodiscard]] constexpr bool allows_key_bits(uint16_t bits) const noexcept {
    if (!key_length_attribute) return bits == 0 || bits == fixed_key_bits;
    return bits == 128 || bits == 192 || bits == 256;
  }
  // key_bits: the effective key length for a proposal's attribute value.
  [[nodiscard]] constexpr uint16_t key_bits(uint16_t attribute_bits) const noexcept {
    return key_length_attribute ? attribute_bits : fixed_key_bits;
  }
  // keymat_size: bytes taken from KEYMAT for one direction: key + salt.
  [[nodiscard]] constexpr size_t keymat_size(uint16_t attribute_bits) const noexcept {
    return key_bits(attribute_bits) / 8u + salt_size;
  }
};

[[nodiscard]] constexpr std::optional<EncrInfo> encr_info(EncrId id) noexcept {
  switch (id) {
    case EncrId::null: return EncrInfo{id, false, false, 1, 0, 0, 0, false, 0};
    case EncrId::aes_cbc: return EncrInfo{id, false, true, 16, 16, 0, 0, true, 0};
    case EncrId::aes_ctr: return EncrInfo{id, false, true, 1, 8, 4, 0, true, 0};
    case EncrId::aes_ccm_8: return EncrInfo{id, true, true, 1, 8, 3, 8, true, 0};
    case EncrId::aes_ccm_12: return EncrInfo{id, true, true, 1, 8, 3, 12, true, 0};
    case EncrId::aes_ccm_16: return EncrInfo{id, true, true, 1, 8, 3, 16, true, 0};
    case EncrId::aes_gcm_8: return EncrInfo{id, true, true, 1, 8, 4, 8, true, 0};
    case EncrId::aes_gcm_12: return EncrInfo{id, true, true, 1, 8, 4, 12, true, 0};
    case EncrId::aes_gcm_16: return EncrInfo{id, true, true, 1, 8, 4, 16, true, 0};
    case EncrId::null_auth_aes_gmac: return EncrInfo{id, true, false, 1, 8, 4, 16, true, 0};
    case EncrId::chacha20_poly1305: return EncrInfo{id, true, true, 1, 8, 4, 16, false, 256};
    default: return std::nullopt;
  }
}

struct IntegInfo {
  IntegId id{};
  uint8_t key_size = 0;  // bytes (RFC 7296 2.17: the KEYMAT taken per direction)
  uint8_t icv_size = 0;  // truncated output carried on the wire
};

[[nodiscard]] constexpr std::optional<IntegInfo> integ_info(IntegId id) noexcept {
  switch (id) {
    case IntegId::hmac_sha1_96: return IntegInfo{id, 20, 12};       // RFC 2404
    case IntegId::aes_xcbc_96:                                      // RFC 3566
    case IntegId::aes_cmac_96: return IntegInfo{id, 16, 12};        // RFC 4494
    case IntegId::hmac_sha2_256_128: return IntegInfo{id, 32, 16};  // RFC 4868
    case IntegId::hmac_sha2_384_192: return IntegInfo{id, 48, 24};
    case IntegId::hmac_sha2_512_256: return IntegInfo{id, 64, 32};
    default: return std::nullopt;
  }
}

struct PrfInfo {
  PrfId id{};
  uint8_t output_size = 0;
  // key_size: the preferred key length (RFC 7296 2.13); for the AES-based
  // PRFs the only one, longer or shorter keys are first normalised (RFC 4434
  // section 2, RFC 4615 section 3), and SKEYSEED uses 64 bits of each nonce.
  uint8_t key_size = 0;
  bool fixed_key_size = false;
};

[[nodiscard]] constexpr std::optional<PrfInfo> prf_info(PrfId id) noexcept {
  switch (id) {
    case PrfId::hmac_sha1: return PrfInfo{id, 20, 20, false};
    case PrfId::aes128_xcbc: return PrfInfo{id, 16, 16, true};
    case PrfId::hmac_sha2_256: return PrfInfo{id, 32, 32, false};
    case PrfId::hmac_sha2_384: return PrfInfo{id, 48, 48, false};
    case PrfId::hmac_sha2_512: return PrfInfo{id, 64, 64, false};
    case PrfId::aes128_cmac: return PrfInfo{id, 16, 16, true};
    default: return std::nullopt;
  }
}

struct KeGroupInfo {
  KeGroup id{};
  uint16_t public_size = 0;  // KE payload data length
  uint16_t shared_size = 0;  // g^ir length
};

[[nodiscard]] constexpr std::optional<KeGroupInfo> ke_group_info(KeGroup id) noexcept {
  switch (id) {
    case KeGroup::modp2048:
      return KeGroupInfo{id, 256, 256};  // RFC 3526; g^ir padded to the prime (RFC 7296 3.4)
    case KeGroup::modp3072: return KeGroupInfo{id, 384, 384};
    case KeGroup::modp4096: return KeGroupInfo{id, 512, 512};
    case KeGroup::ecp256: return KeGroupInfo{id, 64, 32};  // RFC 5903 section 7: x | y; secret is x
    case KeGroup::ecp384: return KeGroupInfo{id, 96, 48};
    case KeGroup::ecp521: return KeGroupInfo{id, 132, 66};
    case KeGroup::brainpool256: return KeGroupInfo{id, 64, 32};  // RFC 6954 section 3
    case KeGroup::curve25519: return KeGroupInfo{id, 32, 32};    // RFC 8031 section 3
    case KeGroup::curve448: return KeGroupInfo{id, 56, 56};
    default: return std::nullopt;
  }
}

}  // namespace ipsec::crypto
