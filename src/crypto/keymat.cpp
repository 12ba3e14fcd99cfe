// SPDX-License-Identifier: Apache-2.0
#include "ipsec/crypto/keymat.hpp"

#include <algorithm>
#include <array>

namespace ipsec::crypto {

Status prf_plus(Prf& prf, std::span<const ByteView> seed, MutableByteView out) noexcept {
  const size_t block = prf.output_size();
  IPSEC_ASSERT(block > 0 && block <= limits::kMaxPrfOutputSize);
  if (out.size() > block * limits::kMaxPrfPlusBlocks) return Errc::limit_exceeded;

  // Inputs per block: [T(n-1)] | S... | n, on the stack.
  if (seed.size() > limits::kMaxPrfPlusSeedParts) return Errc::invalid_argument;
  std::array<ByteView, limits::kMaxPrfPlusSeedParts + 2> parts{};
  // Two blocks, alternately T(n-1) and T(n), so no PRF call writes its input.
  std::array<std::array<uint8_t, limits::kMaxPrfOutputSize>, 2> t{};
  uint8_t counter = 0;
  size_t done = 0;
  Status status;
  while (done < out.size()) {
    ++counter;
    const MutableByteView current = MutableByteView(t[counter & 1]).first(block);
    size_t n = 0;
    if (counter > 1) parts[n++] = ByteView(t[(counter - 1) & 1]).first(block);  // T(n-1)
    for (const ByteView& s : seed) parts[n++] = s;
    parts[n++] = ByteView(&counter, 1);
    status = prf.compute(std::span<const ByteView>(parts).first(n), current);
    if (!status.ok()) break;
    const size_t take = std::min(block, out.size() - done);
    std::copy_n(current.begin(), take, out.subspan(done).begin());
    done += take;
  }
  secure_zero(t[0]);
  secure_zero(t[1]);
  if (!status.ok()) secure_zero(out);
  return status;
}

Result<SecretBytes> skeyseed(Provider& provider, PrfId prf_id, ByteView ni, ByteView nr,
                             ByteView shared_secret) noexcept {
  const auto info = prf_info(prf_id);
  if (!info) return Errc::unsupported_algorithm;
  // RFC 7296 2.14: the key is Ni | Nr, except that PRFs with a fixed key
  // size take the first 64 bits of each.
  if (ni.size() > limits::kMaxNonceSize || nr.size() > limits::kMaxNonceSize) return Errc::invalid_length;
  std::array<uint8_t, 2 * limits::kMaxNonceSize> key_storage{};
  size_t ni_len = ni.size(), nr_len = nr.size();
  if (info->fixed_key_size) {
    if (ni_len < 8 || nr_len < 8) return Errc::invalid_length;
    ni_len = nr_len = 8;
  }
  std::copy_n(ni.begin(), ni_len, key_storage.begin());
  std::copy_n(nr.begin(), nr_len, key_storage.begin() + static_cast<std::ptrdiff_t>(ni_len));
  auto prf = provider.make_prf(prf_id, ByteView(key_storage).first(ni_len + nr_len));
  secure_zero(key_storage);
  if (!prf) return prf.status();
  auto out = SecretBytes::allocate((*prf)->output_size());
  if (!out) return out.status();
  IPSEC_TRY((*prf)->compute(shared_secret, out->mutable_view()));
  return out;
}

}  // namespace ipsec::crypto
