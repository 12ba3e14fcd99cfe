// SPDX-License-Identifier: Apache-2.0
// Building IKEv2 messages into caller-provided storage (RFC 7296 3.1, 3.2).
// The writer chains payloads itself: each payload's type is written into the
// Next Payload octet of the one before it (or of the IKE header), and every
// length is back-patched, so a caller only lists payloads in order. Nothing
// is allocated; a buffer that is too small is reported with the size the
// message needs (ByteWriter::needed).
//
//   std::array<uint8_t, 1500> buf;
//   MessageBuilder b(buf, header);
//   b.payloads().add_sa(proposals);
//   b.payloads().add_ke({crypto::KeGroup::curve25519, public_value});
//   b.payloads().add_nonce(nonce);
//   auto msg = b.finish();   // HDR, SAi1, KEi, Ni
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::wire {

// PayloadChainWriter: appends payloads to a ByteWriter. The first payload's
// type goes into `first_next` (the IKE header's or the SK payload's Next
// Payload octet) when one is given; first_type() reports it either way.
class PayloadChainWriter {
 public:
  explicit PayloadChainWriter(ByteWriter& w) noexcept : w_(w) {}
  PayloadChainWriter(ByteWriter& w, ByteWriter::Slot first_next) noexcept
      : w_(w), pending_next_(first_next), has_pending_(true) {}

  [[nodiscard]] PayloadType first_type() const noexcept { return first_; }
  [[nodiscard]] size_t count() const noexcept { return count_; }

  void add_sa(std::span<const Proposal> proposals) noexcept {
    const size_t at = begin(PayloadType::sa, false);
    write_sa_body(w_, proposals);
    end(at);
  }
  void add_ke(const KePayload& v) noexcept {
    const size_t at = begin(PayloadType::ke, false);
    write_ke_body(w_, v);
    end(at);
  }
  // add_id: type is PayloadType::id_i or id_r.
  void add_id(PayloadType type, const IdPayload& v) noexcept {
    const size_t at = begin(type, false);
    write_id_body(w_, v);
    end(at);
  }
  void add_cert(const CertPayload& v) noexcept {
    const size_t at = begin(PayloadType::cert, false);
    write_cert_body(w_, v);
    end(at);
  }
  void add_certreq(const CertPayload& v) noexcept {
    const size_t at = begin(PayloadType::certreq, false);
    write_cert_body(w_, v);
    end(at);
  }
  void add_auth(const AuthPayload& v) noexcept {
    const size_t at = begin(PayloadType::auth, false);
    write_auth_body(w_, v);
    end(at);
  }
  void add_nonce(ByteView nonce) noexcept { add_raw(PayloadType::nonce, nonce); }
  void add_notify(const NotifyPayload& v) noexcept {
    const size_t at = begin(PayloadType::notify, false);
    write_notify_body(w_, v);
    end(at);
  }
  // add_notify: a notify about the IKE SA (no SPI), with optional data.
  void add_notify(NotifyType type, ByteView data = {}) noexcept {
    add_notify(NotifyPayload{ProtocolId::none, type, {}, data});
  }
  void add_delete(const DeletePayload& v) noexcept {
    const size_t at = begin(PayloadType::del, false);
    write_delete_body(w_, v);
    end(at);
  }
  void add_vendor_id(ByteView id) noexcept { add_raw(PayloadType::vendor_id, id); }
  // add_ts: type is PayloadType::ts_i or ts_r.
  void add_ts(PayloadType type, std::span<const TrafficSelector> selectors) noexcept {
    const size_t at = begin(type, false);
    write_ts_body(w_, selectors);
    end(at);
  }
  void add_cp(CfgType type, std::span<const ConfigAttribute> attributes) noexcept {
    const size_t at = begin(PayloadType::cp, false);
    write_cp_body(w_, type, attributes);
    end(at);
  }
  void add_eap(ByteView eap_message) noexcept { add_raw(PayloadType::eap, eap_message); }
  // add_raw: any payload from its body (a vendor's private payload, a
  // payload copied from a parsed message).
  void add_raw(PayloadType type, ByteView body, bool critical = false) noexcept {
    const size_t at = begin(type, critical);
    w_.put_bytes(body);
    end(at);
  }

 private:
  size_t begin(PayloadType type, bool critical) noexcept {
    if (count_++ == 0) first_ = type;
    if (has_pending_) w_.patch(pending_next_, static_cast<uint8_t>(type));
    const size_t start = w_.needed();
    pending_next_ = w_.reserve_u8();
    has_pending_ = true;
    w_.put_u8(critical ? kCriticalBit : 0);
    length_ = w_.reserve_u16();
    return start;
  }
  void end(size_t start) noexcept { w_.patch_length_since(length_, start); }

  ByteWriter& w_;
  ByteWriter::Slot pending_next_{};
  ByteWriter::Slot length_{};
  bool has_pending_ = false;
  PayloadType first_ = PayloadType::none;
  size_t count_ = 0;
};

// MessageBuilder: an unprotected message (IKE_SA_INIT, or an answer sent
// before keys exist): header, then the payloads added through payloads().
class MessageBuilder {
 public:
  MessageBuilder(MutableByteView storage, const IkeHeader& header) noexcept
      : w_(storage), slots_(write_ike_header(w_, header)), chain_(w_, slots_.next_payload) {}
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;

  [[nodiscard]] PayloadChainWriter& payloads() noexcept { return chain_; }
  // finish: patch the header's Length and return the message. Errors:
  // buffer_too_small (needed() tells the size), invalid_length (a payload
  // over 65535 octets).
  [[nodiscard]] Result<ByteView> finish() noexcept {
    w_.patch_length_since(slots_.length, 0);
    if (!w_.ok()) return w_.status();
    return w_.written();
  }
  [[nodiscard]] size_t needed() const noexcept { return w_.needed(); }

 private:
  ByteWriter w_;
  IkeHeaderSlots slots_;
  PayloadChainWriter chain_;
};

// ChainBuilder: a payload chain without a header, the plaintext that SK or
// SKF protection (wire/ike_sk.hpp) encrypts.
class ChainBuilder {
 public:
  explicit ChainBuilder(MutableByteView storage) noexcept : w_(storage), chain_(w_) {}
  ChainBuilder(const ChainBuilder&) = delete;
  ChainBuilder& operator=(const ChainBuilder&) = delete;

  [[nodiscard]] PayloadChainWriter& payloads() noexcept { return chain_; }
  [[nodiscard]] PayloadType first_type() const noexcept { return chain_.first_type(); }
  [[nodiscard]] Result<ByteView> finish() noexcept {
    if (!w_.ok()) return w_.status();
    return w_.written();
  }

 private:
  ByteWriter w_;
  PayloadChainWriter chain_;
};

}  // namespace ipsec::wire
