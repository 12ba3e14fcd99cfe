// SPDX-License-Identifier: Apache-2.0
// Fuzz target: AEAD open on attacker-chosen bytes with fixed keys, for every
// AEAD and backend: input = selector(1) | iv(8) | aad_len(1) | aad | data |
// icv. Forged input must be rejected (never crash, never "authenticate").
#include <array>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ipsec/bytes/reader.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/suites.hpp"

using namespace ipsec;
using namespace ipsec::crypto;

namespace {
struct Candidate {
  EncrId id;
  uint16_t bits;
};
constexpr Candidate kAeads[] = {
    {EncrId::aes_gcm_16, 256},         {EncrId::aes_gcm_8, 128}, {EncrId::aes_gcm_12, 192},
    {EncrId::aes_ccm_16, 256},         {EncrId::aes_ccm_8, 128}, {EncrId::chacha20_poly1305, 0},
    {EncrId::null_auth_aes_gmac, 256},
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MbedtlsProvider mbedtls;
  static SodiumProvider sodium;
  ByteReader r(ByteView(data, size));
  uint8_t selector = 0, aad_len = 0;
  ByteView iv, aad, rest;
  if (!r.read_u8(&selector) || !r.read_bytes(8, &iv) || !r.read_u8(&aad_len) ||
      !r.read_bytes(aad_len, &aad) || !r.read_rest(&rest)) {
    return 0;
  }
  const Candidate c = kAeads[selector % std::size(kAeads)];
  Provider& provider = (selector & 0x80) ? static_cast<Provider&>(sodium) : static_cast<Provider&>(mbedtls);
  const auto info = encr_info(c.id);
  std::array<uint8_t, 64> keymat{};
  for (size_t i = 0; i < keymat.size(); ++i) keymat[i] = static_cast<uint8_t>(i * 7 + 1);
  auto aead = provider.make_aead(c.id, c.bits, ByteView(keymat).first(info->keymat_size(c.bits)));
  if (!aead) return 0;  // libsodium lacks most of these
  if (rest.size() < info->icv_size) return 0;
  std::vector<uint8_t> body(rest.begin(), rest.end() - info->icv_size);
  const ByteView icv = rest.last(info->icv_size);
  const Status s = (*aead)->open(iv, aad, body, icv);
  // A random input authenticating would be a 2^-64 event at least: treat as a bug.
  if (s.ok() && info->icv_size >= 12) std::abort();
  return 0;
}
