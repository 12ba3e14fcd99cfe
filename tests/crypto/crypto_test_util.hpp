// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the crypto tests: every provider, by name, so that each
// known-answer test runs against every backend that offers the transform.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "ipsec/core/result.hpp"
#include "ipsec/crypto/provider.hpp"
#include "test_util.hpp"

namespace ipsec::test {

// err: a Status by its stable name, so failures print readably.
inline std::string err(const Status& s) { return std::string(s.name()); }

struct NamedProvider {
  std::string name;
  crypto::Provider* provider;
};

inline std::vector<NamedProvider> providers() {
  static crypto::MbedtlsProvider mbedtls;
  static crypto::SodiumProvider sodium;
  static crypto::DefaultProvider fallback;
  return {{"MbedtlsProvider", &mbedtls}, {"SodiumProvider", &sodium}, {"DefaultProvider", &fallback}};
}

inline bool is_sodium(const crypto::Provider& p) { return std::string_view(p.name()) == "libsodium"; }

inline Bytes ascii(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes repeat(uint8_t b, size_t n) { return Bytes(n, b); }
// counting: first, first + 1, ... (mod 256), as RFC test messages often are.
inline Bytes counting(uint8_t first, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(first + i);
  return out;
}
inline Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace ipsec::test
