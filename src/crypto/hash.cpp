// SPDX-License-Identifier: Apache-2.0
#include "ipsec/crypto/hash.hpp"

#include <mbedtls/md.h>

namespace ipsec::crypto {

Status hash(HashId id, std::span<const ByteView> parts, MutableByteView out) noexcept {
  mbedtls_md_type_t type = MBEDTLS_MD_NONE;
  switch (id) {
    case HashId::sha1: type = MBEDTLS_MD_SHA1; break;
    case HashId::sha2_256: type = MBEDTLS_MD_SHA256; break;
    case HashId::sha2_384: type = MBEDTLS_MD_SHA384; break;
    case HashId::sha2_512: type = MBEDTLS_MD_SHA512; break;
    case HashId::identity: return Errc::unsupported_algorithm;
  }
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(type);
  if (info == nullptr) return Errc::unsupported_algorithm;
  if (out.size() != hash_size(id)) return Errc::invalid_length;
  mbedtls_md_context_t ctx;
  mbedtls_md_init(&ctx);
  int rc = mbedtls_md_setup(&ctx, info, 0);
  if (rc == 0) rc = mbedtls_md_starts(&ctx);
  for (const ByteView& p : parts) {
    if (rc == 0 && !p.empty()) rc = mbedtls_md_update(&ctx, p.data(), p.size());
  }
  if (rc == 0) rc = mbedtls_md_finish(&ctx, out.data());
  mbedtls_md_free(&ctx);
  if (rc == MBEDTLS_ERR_MD_ALLOC_FAILED) return Errc::out_of_memory;
  return rc == 0 ? Status::success() : Status(Errc::crypto_backend_failure);
}

}  // namespace ipsec::crypto
