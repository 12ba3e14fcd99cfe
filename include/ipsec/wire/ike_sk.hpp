// SPDX-License-Identifier: Apache-2.0
// SK and SKF protection of IKEv2 messages: the Encrypted payload (RFC 7296
// 3.14, RFC 5282 for AEAD transforms) and the Encrypted Fragment payload
// (RFC 7383 2.5).
//
//   HDR | ... | SK hdr | IV | E(inner payloads | padding | pad length) | ICV
//   HDR | SKF hdr | Fragment Number | Total | IV | E(fragment | pad | len) | ICV
//
// Integrity first: with encrypt-then-MAC transforms the ICV covers the whole
// message up to the ICV; with AEAD transforms the associated data is
// everything in front of the IV (the IKE header, any unencrypted payloads,
// the SK or SKF header with the fragment fields). The ICV is verified before
// anything is decrypted or parsed, and a message that fails is to be dropped
// silently (RFC 7296 2.21.2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"

namespace ipsec::wire {

// SkTransform: the keyed SK transform of one direction of an IKE SA
// (SK_ei/SK_ai to send as initiator, SK_er/SK_ar to receive, ...).
class SkTransform {
 public:
  SkTransform(SkTransform&&) noexcept = default;
  SkTransform& operator=(SkTransform&&) noexcept = default;

  // make: encr with its Key Length attribute (0 when the transform has
  // none); sk_e is the encryption key with its salt or nonce (RFC 5282 7.1:
  // 4 octets for GCM, 3 for CCM; RFC 7634: 4 for ChaCha20-Poly1305; RFC
  // 5930: 4 for CTR); integ and sk_a only for non-AEAD transforms (IntegId
  // none and an empty key for AEAD). Errors: unsupported_algorithm (NULL or
  // GMAC, an AEAD with an integrity transform, a cipher without one),
  // invalid_key_length, and what the provider reports.
  [[nodiscard]] static Result<SkTransform> make(crypto::Provider& provider, crypto::EncrId encr,
                                                uint16_t key_bits, crypto::IntegId integ, ByteView sk_e,
                                                ByteView sk_a) noexcept {
    const auto info = crypto::encr_info(encr);
    // IKE messages are always encrypted: ENCR_NULL and the authentication-
    // only GMAC are ESP transforms, not IKE ones (RFC 7296 3.3.2, RFC 4543).
    if (!info || !info->confidential) return Errc::unsupported_algorithm;
    SkTransform t;
    if (info->aead) {
      if (integ != crypto::IntegId::none || !sk_a.empty()) return Errc::unsupported_algorithm;
      auto aead = provider.make_aead(encr, key_bits, sk_e);
      if (!aead) return aead.status();
      t.aead_ = std::move(*aead);
      t.iv_size_ = crypto::Aead::kIvSize;
      t.icv_size_ = t.aead_->icv_size();
      t.block_size_ = 1;
    } else {
      if (integ == crypto::IntegId::none) return Errc::unsupported_algorithm;
      auto cipher = provider.make_cipher(encr, key_bits, sk_e);
      if (!cipher) return cipher.status();
      auto mac = provider.make_integrity(integ, sk_a);
      if (!mac) return mac.status();
      t.cipher_ = std::move(*cipher);
      t.integrity_ = std::move(*mac);
      t.iv_size_ = t.cipher_->iv_size();
      t.icv_size_ = t.integrity_->icv_size();
      t.block_size_ = t.cipher_->block_size();
    }
    return t;
  }

  [[nodiscard]] bool aead() const noexcept { return aead_ != nullptr; }
  [[nodiscard]] size_t iv_size() const noexcept { return iv_size_; }
  [[nodiscard]] size_t icv_size() const noexcept { return icv_size_; }
  [[nodiscard]] size_t block_size() const noexcept { return block_size_; }

  // encrypted_size: the octets plaintext takes once padded (3.14: payloads,
  // padding and the Pad Length octet fill whole cipher blocks).
  [[nodiscard]] size_t encrypted_size(size_t plaintext) const noexcept {
    const size_t with_length = plaintext + 1;
    return (with_length + block_size_ - 1) / block_size_ * block_size_;
  }
  // overhead: what protecting n octets adds to them: IV, padding, Pad
  // Length, ICV.
  [[nodiscard]] size_t overhead(size_t plaintext) const noexcept {
    return iv_size_ + encrypted_size(plaintext) - plaintext + icv_size_;
  }

  // seal: `message` ends with IV | plaintext | room for padding, Pad Length
  // and ICV; the IV starts at iv_offset and the plaintext is `plaintext`
  // octets long. Writes the IV, the padding (zeros) and Pad Length, encrypts
  // and appends the ICV. The IV is drawn from rng for CBC (3.14: random,
  // unpredictable) and is a counter from a random start for AEAD (RFC 5282
  // 3.1: never repeated under one key). Errors: invalid_length when the
  // sizes do not add up to message.size(); the backend's errors.
  [[nodiscard]] Status seal(MutableByteView message, size_t iv_offset, size_t plaintext,
                            crypto::Rng& rng) noexcept {
    const size_t encrypted = encrypted_size(plaintext);
    if (iv_offset > message.size() || message.size() - iv_offset != iv_size_ + encrypted + icv_size_) {
      return Errc::invalid_length;
    }
    const MutableByteView iv = message.subspan(iv_offset, iv_size_);
    const MutableByteView data = message.subspan(iv_offset + iv_size_, encrypted);
    const MutableByteView icv = message.subspan(iv_offset + iv_size_ + encrypted, icv_size_);
    const size_t pad = encrypted - plaintext - 1;
    for (size_t i = 0; i < pad; ++i) data[plaintext + i] = 0;
    data[encrypted - 1] = static_cast<uint8_t>(pad);
    if (aead_) {
      if (!iv_counter_) {
        std::array<uint8_t, 8> start{};
        rng.fill(start);
        iv_counter_ = load_be64(start);
      }
      store_be64(iv.first<8>(), (*iv_counter_)++);
      return aead_->seal(iv, message.first(iv_offset), data, icv);
    }
    rng.fill(iv);
    IPSEC_TRY(cipher_->encrypt(iv, data));
    return integrity_->compute(message.first(message.size() - icv_size_), icv);
  }

  // open: the inverse on a message whose IV starts at iv_offset and whose
  // ICV ends the message. Verifies the ICV, then decrypts in place and
  // returns the plaintext without padding (a view into message). Errors:
  // invalid_length ("sk.length" at iv_offset) when the protected part is
  // shorter than IV + Pad Length + ICV or, for block ciphers, not whole
  // blocks; integrity_check_failed; bad_padding when Pad Length points
  // before the plaintext. Padding contents are not checked (3.14: any
  // value).
  [[nodiscard]] Result<MutableByteView> open(MutableByteView message, size_t iv_offset) noexcept {
    const auto at = static_cast<uint32_t>(iv_offset);
    if (iv_offset > message.size() || message.size() - iv_offset < iv_size_ + 1 + icv_size_) {
      return Status(Errc::invalid_length, at, "sk.length");
    }
    const size_t encrypted = message.size() - iv_offset - iv_size_ - icv_size_;
    if (encrypted % block_size_ != 0) return Status(Errc::invalid_length, at, "sk.length");
    const ByteView iv = message.subspan(iv_offset, iv_size_);
    const MutableByteView data = message.subspan(iv_offset + iv_size_, encrypted);
    const ByteView icv = message.subspan(iv_offset + iv_size_ + encrypted, icv_size_);
    if (aead_) {
      const Status s = aead_->open(iv, message.first(iv_offset), data, icv);
      if (!s.ok()) return Status(s.code(), at, "sk.icv");
    } else {
      const Status s = integrity_->verify(message.first(message.size() - icv_size_), icv);
      if (!s.ok()) return Status(s.code(), at, "sk.icv");
      IPSEC_TRY(cipher_->decrypt(iv, data));
    }
    const size_t pad = data[encrypted - 1];
    if (pad + 1 > encrypted) {
      return Status(Errc::bad_padding, at + static_cast<uint32_t>(iv_size_ + encrypted - 1), "sk.pad_length");
    }
    return data.first(encrypted - pad - 1);
  }

 private:
  SkTransform() noexcept = default;

  std::unique_ptr<crypto::Aead> aead_;
  std::unique_ptr<crypto::Cipher> cipher_;
  std::unique_ptr<crypto::Integrity> integrity_;
  std::optional<uint64_t> iv_counter_;
  size_t iv_size_ = 0;
  size_t icv_size_ = 0;
  size_t block_size_ = 1;
};

// build_protected_message: HDR, SK { chain } into `out`, where chain is a
// payload chain starting with a payload of type `first` (a ChainBuilder's
// output). header.next_payload and header.length are set here. Errors:
// buffer_too_small, invalid_length (over 65535 octets), backend errors.
[[nodiscard]] inline Result<ByteView> build_protected_message(const IkeHeader& header, PayloadType first,
                                                              ByteView chain, SkTransform& keys,
                                                              crypto::Rng& rng,
                                                              MutableByteView out) noexcept {
  ByteWriter w(out);
  const IkeHeaderSlots slots = write_ike_header(w, header);
  w.patch(slots.next_payload, static_cast<uint8_t>(PayloadType::sk));
  w.put_u8(static_cast<uint8_t>(first));
  w.put_u8(0);
  const auto sk_length = w.reserve_u16();
  const size_t iv_offset = w.needed();
  w.put_zeros(keys.iv_size());
  w.put_bytes(chain);
  w.put_zeros(keys.encrypted_size(chain.size()) - chain.size() + keys.icv_size());
  w.patch_length_since(sk_length, kIkeHeaderSize);
  w.patch_length_since(slots.length, 0);
  if (!w.ok()) return w.status();
  const MutableByteView message = out.first(w.size());
  IPSEC_TRY(keys.seal(message, iv_offset, chain.size(), rng));
  return ByteView(message);
}

// open_protected_message: verify and decrypt the SK payload of `msg` (parsed
// by parse_message from exactly these bytes) in place, then parse the inner
// chain into msg (views marked encrypted; error offsets are offsets in the
// datagram). Errors: invalid_argument when msg has no SK payload or was not
// parsed from `datagram`; SkTransform::open's errors; parse_payload_chain's.
[[nodiscard]] inline Status open_protected_message(SkTransform& keys, MutableByteView datagram,
                                                   ParsedMessage& msg, const ParseLimits& lim = {}) noexcept {
  const PayloadView* sk = msg.protected_payload();
  if (sk == nullptr || sk->type != PayloadType::sk) return Errc::invalid_argument;
  const size_t body_at = size_t{sk->offset} + kGenericPayloadHeaderSize;
  if (body_at > datagram.size() || datagram.size() - body_at != sk->body.size() ||
      datagram.subspan(body_at).data() != sk->body.data()) {
    return Errc::invalid_argument;
  }
  const PayloadType first = sk->next;
  auto plain = keys.open(datagram, body_at);
  if (!plain) return plain.status();
  msg.decrypted = true;
  return parse_payload_chain(first, *plain, static_cast<uint32_t>(body_at + keys.iv_size()), true, &msg, lim);
}

}  // namespace ipsec::wire
