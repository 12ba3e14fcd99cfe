// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER: being written (MODP, ECP, brainpool, Curve25519/448 via mbedTLS).
#include "ipsec/crypto/provider.hpp"

namespace ipsec::crypto {

Result<std::unique_ptr<KeyExchange>> MbedtlsProvider::make_key_exchange(KeGroup, Rng&) noexcept {
  return Errc::unsupported_algorithm;
}
Result<std::unique_ptr<KeyExchange>> MbedtlsProvider::import_key_exchange(KeGroup, ByteView) noexcept {
  return Errc::unsupported_algorithm;
}

}  // namespace ipsec::crypto
