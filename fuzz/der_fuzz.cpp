// SPDX-License-Identifier: Apache-2.0
// Fuzz target: DER element reading (keys, certificates, RFC 7427
// AlgorithmIdentifiers), then the library's key and certificate parsers on
// the same bytes (mbedTLS's X.509 parser, and the library's own for Ed25519
// certificates), the certificate accessors and a self-verification.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/wire/der.hpp"

using namespace ipsec;

namespace {
// Walk nested elements depth-first, checking every view stays in bounds.
void walk(ByteView in, uint32_t base, int depth) {
  ByteReader r(in, base);
  wire::DerElement e;
  while (!r.empty() && wire::read_der(r, &e)) {
    if (e.value.data() < in.data() || e.value.data() + e.value.size() > in.data() + in.size()) std::abort();
    if (depth < 8 && (e.tag & 0x20) != 0) walk(e.value, e.value_offset, depth + 1);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView in(data, size);
  walk(in, 0, 0);
  (void)crypto::PrivateKey::parse(in);
  (void)crypto::PublicKey::parse(in);
  if (auto cert = crypto::Certificate::parse_der(in)) {
    for (size_t i = 0; i < cert->subject_alt_name_count(); ++i) (void)cert->subject_alt_name(i);
    (void)cert->public_key();
    char text[256];
    (void)cert->subject_text(text);
    (void)cert->not_before();
    (void)cert->not_after();
    (void)cert->is_ca();
    // The certificate as its own trust anchor: one signature check at most
    // (the library's own path validation for Ed25519 certificates).
    (void)crypto::verify_chain(*cert, {}, std::span<const crypto::Certificate>(&*cert, 1),
                               cert->not_before());
  }
  return 0;
}
