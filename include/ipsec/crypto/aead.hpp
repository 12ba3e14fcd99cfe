// SPDX-License-Identifier: Apache-2.0
// Aead: a keyed combined-mode transform as IPsec and IKEv2 use it
// (AES-GCM RFC 4106/5282, AES-CCM RFC 4309, AES-GMAC RFC 4543,
// ChaCha20-Poly1305 RFC 7634).
//
// Keyed once from KEYMAT (key || salt); per packet the caller supplies the
// 8-octet explicit IV and the nonce is salt || IV. Data is transformed in
// place; nothing is allocated per call. seal and open may run concurrently on
// one keyed object (an outbound SA shared by several workers): backends keep
// no per-call state in it.
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Aead;

// AeadOp: one packet of a burst. icv is written by seal and read by open;
// status is set by the burst call. The ops of one burst may differ in key
// and in backend: each names its own keyed transform.
struct AeadOp {
  Aead* aead = nullptr;
  ByteView iv;
  ByteView aad;
  MutableByteView data;
  MutableByteView icv;
  Status status;
};

class Aead {
 public:
  static constexpr size_t kIvSize = 8;  // RFC 4106 3.1, 4309 3.1, 4543 3.1, 7634 2.1

  virtual ~Aead() = default;
  [[nodiscard]] virtual EncrId id() const noexcept = 0;
  [[nodiscard]] virtual size_t key_size() const noexcept = 0;  // bytes, without the salt
  [[nodiscard]] virtual size_t icv_size() const noexcept = 0;
  // backend: "libsodium", "mbedtls", ... (for reports and benchmarks).
  [[nodiscard]] virtual const char* backend() const noexcept = 0;

  // seal: encrypt `data` in place under salt || iv, authenticating `aad`
  // first, and write the tag into `icv`. Errors: invalid_iv_length (iv not 8
  // octets), invalid_icv_length (icv not icv_size()), invalid_argument (GMAC
  // with non-empty data: RFC 4543 authenticates everything as AAD).
  [[nodiscard]] virtual Status seal(ByteView iv, ByteView aad, MutableByteView data,
                                    MutableByteView icv) noexcept = 0;
  // open: verify `icv` over aad and data and decrypt `data` in place.
  // Errors: integrity_check_failed (then `data` is zeroed: unauthenticated
  // plaintext is never released), and the argument errors of seal.
  [[nodiscard]] virtual Status open(ByteView iv, ByteView aad, MutableByteView data,
                                    ByteView icv) noexcept = 0;

  // seal_burst / open_burst: process every op of `ops` with its own
  // op.aead (which may be of another backend: such ops are handed to
  // op.aead->seal/open) and set every op.status: the errors of seal/open,
  // invalid_argument for an op without an aead. Backends that pipeline
  // packets (multi-buffer: ipsec-mb) override these and submit their own ops
  // together; the default handles the ops one by one.
  virtual void seal_burst(std::span<AeadOp> ops) noexcept;
  virtual void open_burst(std::span<AeadOp> ops) noexcept;
};

// seal_one / open_one: one op through its own op.aead (the generic path of
// the bursts). Errors: invalid_argument (no aead), those of seal/open.
[[nodiscard]] inline Status seal_one(AeadOp& op) noexcept {
  if (op.aead == nullptr) return Errc::invalid_argument;
  return op.aead->seal(op.iv, op.aad, op.data, op.icv);
}
[[nodiscard]] inline Status open_one(AeadOp& op) noexcept {
  if (op.aead == nullptr) return Errc::invalid_argument;
  return op.aead->open(op.iv, op.aad, op.data, op.icv);
}

inline void Aead::seal_burst(std::span<AeadOp> ops) noexcept {
  for (AeadOp& op : ops) op.status = seal_one(op);
}
inline void Aead::open_burst(std::span<AeadOp> ops) noexcept {
  for (AeadOp& op : ops) op.status = open_one(op);
}

// seal_burst / open_burst: the burst through the first op's transform (so
// that a backend sees its own ops together); nothing for an empty span, the
// one-by-one default when ops[0] has no aead. Every op.status is set.
inline void seal_burst(std::span<AeadOp> ops) noexcept {
  if (ops.empty()) return;
  if (ops[0].aead == nullptr) {
    for (AeadOp& op : ops) op.status = seal_one(op);
    return;
  }
  ops[0].aead->seal_burst(ops);
}
inline void open_burst(std::span<AeadOp> ops) noexcept {
  if (ops.empty()) return;
  if (ops[0].aead == nullptr) {
    for (AeadOp& op : ops) op.status = open_one(op);
    return;
  }
  ops[0].aead->open_burst(ops);
}

}  // namespace ipsec::crypto
