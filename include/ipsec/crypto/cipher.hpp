// SPDX-License-Identifier: Apache-2.0
// Cipher: a keyed encryption transform without integrity, used together with
// an Integrity transform (encrypt-then-MAC, RFC 4303 3.3.2): AES-CBC
// (RFC 3602), AES-CTR (RFC 3686), NULL (RFC 2410). Keyed once; per packet
// the caller supplies the explicit IV. In place, no allocation; encrypt and
// decrypt may run concurrently on one keyed object.
#pragma once

#include <cstddef>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/transform_ids.hpp"

namespace ipsec::crypto {

class Cipher;

// EtmOp: one packet of an encrypt-then-MAC burst (ESP with a cipher and an
// integrity transform, RFC 4303 3.3.2 / 3.4.4). The ops of one burst may
// differ in keys and backends.
struct EtmOp {
  Cipher* cipher = nullptr;
  Integrity* integ = nullptr;
  // authenticated: what the ICV covers before `extra` (ESP: header | IV |
  // ciphertext); the ciphertext is authenticated[cipher_offset..].
  MutableByteView authenticated;
  size_t cipher_offset = 0;
  ByteView iv;          // the cipher's IV (ESP: inside `authenticated`, before the ciphertext)
  ByteView extra;       // authenticated after `authenticated`: ESN high bits (RFC 4303 3.3.2.1), often empty
  MutableByteView icv;  // written by seal, compared (constant time) by open
  Status status;
};

class Cipher {
 public:
  virtual ~Cipher() = default;
  [[nodiscard]] virtual EncrId id() const noexcept = 0;
  [[nodiscard]] virtual size_t key_size() const noexcept = 0;    // bytes, without a CTR nonce
  [[nodiscard]] virtual size_t iv_size() const noexcept = 0;     // 16 CBC, 8 CTR, 0 NULL
  [[nodiscard]] virtual size_t block_size() const noexcept = 0;  // 16 CBC, 1 CTR and NULL
  [[nodiscard]] virtual const char* backend() const noexcept = 0;

  // encrypt / decrypt: transform `data` in place. Errors: invalid_iv_length,
  // invalid_block_length (CBC data not a multiple of 16 octets).
  [[nodiscard]] virtual Status encrypt(ByteView iv, MutableByteView data) noexcept = 0;
  [[nodiscard]] virtual Status decrypt(ByteView iv, MutableByteView data) noexcept = 0;

  // etm_seal_burst: per op, encrypt authenticated[cipher_offset..] in place
  // under iv, then icv = MAC(authenticated || extra).
  // etm_open_burst: per op, verify icv over authenticated || extra, then
  // decrypt in place; on integrity_check_failed the ciphertext is left as it
  // was or zeroed, never released decrypted.
  // Every op.status is set: invalid_argument (no cipher or integ, or
  // cipher_offset past the end), the errors of encrypt/decrypt and of
  // Integrity::compute/verify. Ops of other backends go through the generic
  // path (etm_seal_one / etm_open_one); the default does every op so.
  virtual void etm_seal_burst(std::span<EtmOp> ops) noexcept;
  virtual void etm_open_burst(std::span<EtmOp> ops) noexcept;
};

// etm_seal_one / etm_open_one: one op, through op.cipher and op.integ (the
// generic path of the bursts). Errors as etm_seal_burst / etm_open_burst.
[[nodiscard]] inline Status etm_seal_one(EtmOp& op) noexcept {
  if (op.cipher == nullptr || op.integ == nullptr || op.cipher_offset > op.authenticated.size()) {
    return Errc::invalid_argument;
  }
  // Checked first so that a bad ICV buffer leaves the plaintext unencrypted.
  if (op.icv.size() != op.integ->icv_size()) return Errc::invalid_icv_length;
  IPSEC_TRY(op.cipher->encrypt(op.iv, op.authenticated.subspan(op.cipher_offset)));
  const ByteView parts[] = {op.authenticated, op.extra};
  return op.integ->compute(parts, op.icv);
}
[[nodiscard]] inline Status etm_open_one(EtmOp& op) noexcept {
  if (op.cipher == nullptr || op.integ == nullptr || op.cipher_offset > op.authenticated.size()) {
    return Errc::invalid_argument;
  }
  // RFC 4303 3.4.4: the ICV is checked before anything is decrypted.
  const ByteView parts[] = {op.authenticated, op.extra};
  IPSEC_TRY(op.integ->verify(parts, op.icv));
  return op.cipher->decrypt(op.iv, op.authenticated.subspan(op.cipher_offset));
}

inline void Cipher::etm_seal_burst(std::span<EtmOp> ops) noexcept {
  for (EtmOp& op : ops) op.status = etm_seal_one(op);
}
inline void Cipher::etm_open_burst(std::span<EtmOp> ops) noexcept {
  for (EtmOp& op : ops) op.status = etm_open_one(op);
}

// etm_seal_burst / etm_open_burst: the burst through the first op's cipher
// (so that a backend sees its own ops together); nothing for an empty span,
// the one-by-one generic path when ops[0] has no cipher.
inline void etm_seal_burst(std::span<EtmOp> ops) noexcept {
  if (ops.empty()) return;
  if (ops[0].cipher == nullptr) {
    for (EtmOp& op : ops) op.status = etm_seal_one(op);
    return;
  }
  ops[0].cipher->etm_seal_burst(ops);
}
inline void etm_open_burst(std::span<EtmOp> ops) noexcept {
  if (ops.empty()) return;
  if (ops[0].cipher == nullptr) {
    for (EtmOp& op : ops) op.status = etm_open_one(op);
    return;
  }
  ops[0].cipher->etm_open_burst(ops);
}

}  // namespace ipsec::crypto
