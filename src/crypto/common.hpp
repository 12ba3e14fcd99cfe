// SPDX-License-Identifier: Apache-2.0
// Internal helpers shared by the crypto backends (not installed).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/suites.hpp"

namespace ipsec::crypto::detail {

// check_encr: the EncrInfo for id, after checking that it is of the wanted
// kind (AEAD or not), that key_bits suits it and that keymat has exactly
// key + salt bytes.
[[nodiscard]] inline Result<EncrInfo> check_encr(EncrId id, bool want_aead, uint16_t key_bits,
                                                 ByteView keymat) noexcept {
  const auto info = encr_info(id);
  if (!info || info->aead != want_aead) return Errc::unsupported_algorithm;
  if (!info->allows_key_bits(key_bits)) return Errc::invalid_key_length;
  if (keymat.size() != info->keymat_size(key_bits)) return Errc::invalid_key_length;
  return *info;
}

// make_unique_nothrow: allocation failure becomes Errc::out_of_memory.
template <typename Base, typename T, typename... Args>
[[nodiscard]] Result<std::unique_ptr<Base>> make_object(Args&&... args) noexcept {
  std::unique_ptr<Base> p(new (std::nothrow) T(std::forward<Args>(args)...));
  if (!p) return Errc::out_of_memory;
  return p;
}

// nonce: salt || explicit IV (RFC 4106 4, RFC 4309 4, RFC 7634 2).
template <size_t SaltSize>
[[nodiscard]] inline std::array<uint8_t, SaltSize + 8> make_nonce(const std::array<uint8_t, SaltSize>& salt,
                                                                  ByteView iv) noexcept {
  std::array<uint8_t, SaltSize + 8> n{};
  for (size_t i = 0; i < SaltSize; ++i) n[i] = salt[i];
  for (size_t i = 0; i < 8; ++i) n[SaltSize + i] = iv[i];
  return n;
}

}  // namespace ipsec::crypto::detail
