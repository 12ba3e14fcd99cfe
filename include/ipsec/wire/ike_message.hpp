// SPDX-License-Identifier: Apache-2.0
// Parsing a whole IKEv2 message: the header, then the chain of payloads
// (RFC 7296 3.2), every payload body checked by its decoder before the
// message is accepted. Zero-copy and allocation-free: the payload views live
// in a fixed array inside ParsedMessage and point into the datagram.
//
//   HDR | payload | payload | ... | SK { inner payloads }
//
// The chain ends at a Next Payload of 0, or at SK/SKF, which must be last
// (3.14, RFC 7383 2.5); their Next Payload names the first inner payload,
// reached only after the SK payload is opened (wire/ike_sk.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::wire {

// is_known_payload: the payload types this library parses; others are
// skipped, or refused when critical (RFC 7296 2.5).
[[nodiscard]] constexpr bool is_known_payload(PayloadType t) noexcept {
  const auto v = static_cast<uint8_t>(t);
  return (v >= static_cast<uint8_t>(PayloadType::sa) && v <= static_cast<uint8_t>(PayloadType::eap)) ||
         t == PayloadType::skf;
}

class ParsedMessage {
 public:
  IkeHeader header;
  // unsupported_payload_type: when parsing failed with
  // unsupported_critical_payload, the type to name in the notify's data.
  uint8_t unsupported_payload_type = 0;
  // decrypted: the SK payload was verified and opened (its inner payloads,
  // if any, follow it marked `encrypted`).
  bool decrypted = false;

  [[nodiscard]] std::span<const PayloadView> payloads() const noexcept { return {slots_.data(), count_}; }
  [[nodiscard]] size_t size() const noexcept { return count_; }
  // find: the first payload of a type (outer or inner), or nullptr.
  [[nodiscard]] const PayloadView* find(PayloadType t) const noexcept {
    for (const PayloadView& p : payloads()) {
      if (p.type == t) return &p;
    }
    return nullptr;
  }
  // count: how many payloads of a type.
  [[nodiscard]] size_t count(PayloadType t) const noexcept {
    size_t n = 0;
    for (const PayloadView& p : payloads()) n += p.type == t ? 1 : 0;
    return n;
  }
  // find_notify: the first Notify of a type, decoded (payloads were checked
  // when parsed, so a found one decodes).
  [[nodiscard]] std::optional<NotifyPayload> find_notify(NotifyType t) const noexcept {
    for (const PayloadView& p : payloads()) {
      if (p.type != PayloadType::notify) continue;
      auto n = decode_notify(p);
      if (n && n->type == t) return *n;
    }
    return std::nullopt;
  }
  // protected_payload: the SK or SKF payload, if the message has one.
  [[nodiscard]] const PayloadView* protected_payload() const noexcept {
    for (const PayloadView& p : payloads()) {
      if (!p.encrypted && (p.type == PayloadType::sk || p.type == PayloadType::skf)) return &p;
    }
    return nullptr;
  }

  void clear() noexcept {
    count_ = 0;
    unsupported_payload_type = 0;
    decrypted = false;
  }
  // append: used by the chain parser; false when the array is full.
  [[nodiscard]] bool append(const PayloadView& p) noexcept {
    if (count_ == slots_.size()) return false;
    slots_[count_++] = p;
    return true;
  }

 private:
  std::array<PayloadView, limits::kMaxIkePayloads> slots_{};
  size_t count_ = 0;
};

// parse_payload_chain: walk the chain starting with a payload of type
// `first` over `chain` (whose first octet is at absolute `base_offset`),
// validate every known payload's body, and append the views to `out`
// (marked `encrypted` when the chain came out of SK/SKF). Errors, each with
// the offset of the failing field:
//  - truncated: a generic header or body past the end;
//  - invalid_length ("payload.length"): a Payload Length below 4;
//  - unsupported_critical_payload: an unknown type with the critical bit
//    (out->unsupported_payload_type says which);
//  - payload_not_allowed: SK/SKF not last, or inside an encrypted chain;
//  - trailing_data: bytes after the payload that ends the chain;
//  - limit_exceeded ("payloads"): more payloads than limits.max_payloads;
//  - whatever the payload's decoder reports.
[[nodiscard]] inline Status parse_payload_chain(PayloadType first, ByteView chain, uint32_t base_offset,
                                                bool encrypted, ParsedMessage* out,
                                                const ParseLimits& lim = {}) noexcept {
  const size_t max_payloads =
      lim.max_payloads < limits::kMaxIkePayloads ? lim.max_payloads : limits::kMaxIkePayloads;
  ByteReader r(chain, base_offset);
  PayloadType type = first;
  while (type != PayloadType::none) {
    const uint32_t at = r.offset();
    uint8_t next = 0, flags = 0;
    uint16_t length = 0;
    if (!r.read_u8(&next) || !r.read_u8(&flags) || !r.read_u16(&length))
      return r.status().with_field("payload");
    if (length < kGenericPayloadHeaderSize) return Status(Errc::invalid_length, at + 2, "payload.length");
    PayloadView p;
    p.type = type;
    p.next = static_cast<PayloadType>(next);
    p.critical = (flags & kCriticalBit) != 0;
    p.encrypted = encrypted;
    p.offset = at;
    if (!r.read_bytes(length - kGenericPayloadHeaderSize, &p.body))
      return r.status().with_field("payload.length");
    if (out->size() >= max_payloads) return Status(Errc::limit_exceeded, at, "payloads");
    const bool ends_chain = type == PayloadType::sk || type == PayloadType::skf;
    if (ends_chain) {
      // 3.14, RFC 7383 2.5: the encrypted payload is the last one, and is
      // never nested.
      if (encrypted || !r.empty()) return Status(Errc::payload_not_allowed, at, "payload.sk");
    } else if (!is_known_payload(type)) {
      if (p.critical) {
        out->unsupported_payload_type = static_cast<uint8_t>(type);
        return Status(Errc::unsupported_critical_payload, at, "payload.type");
      }
      p.understood = false;
    } else {
      IPSEC_TRY(validate_payload(p, lim));
    }
    if (type == PayloadType::skf) IPSEC_TRY(validate_payload(p, lim));
    (void)out->append(p);
    if (ends_chain) return Status::success();
    type = p.next;
  }
  return r.expect_end("payload.next");
}

// parse_message: the header (parse_ike_header), its Length against the
// datagram (invalid_length at offset 24 when they differ: a UDP datagram or
// an RFC 8229 frame is exactly one message), then the payload chain. On
// success `out` holds the header and the outer payloads (SK/SKF unopened).
// Also limit_exceeded ("ike.length") past limits.max_message_size.
[[nodiscard]] inline Status parse_message(ByteView datagram, ParsedMessage* out,
                                          const ParseLimits& lim = {}) noexcept {
  out->clear();
  auto header = parse_ike_header(datagram);
  if (!header) return header.status();
  out->header = *header;
  if (header->length != datagram.size()) return Status(Errc::invalid_length, 24, "ike.length");
  if (datagram.size() > lim.max_message_size) return Status(Errc::limit_exceeded, 24, "ike.length");
  return parse_payload_chain(header->next_payload, datagram.subspan(kIkeHeaderSize), kIkeHeaderSize, false,
                             out, lim);
}

}  // namespace ipsec::wire
