// SPDX-License-Identifier: Apache-2.0
// IKEv2 payload bodies (RFC 7296 sections 3.3 to 3.16, RFC 7427, RFC 7383):
// one decode_* per payload family, returning a zero-copy view over the
// received bytes after checking every length, count and format rule, and one
// write_*_body that produces the canonical encoding of the same model.
// decode(write(x)) == x, and write(decode(b)) == b for every canonical b
// (reserved fields zero, Key Length as the first transform attribute).
//
// A payload's body is what follows its 4-octet generic header. Views hold
// spans into the message: they are valid while the message bytes are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/wire/der.hpp"
#include "ipsec/wire/ike_enums.hpp"

namespace ipsec::wire {

// ParseLimits: bounds on what one message may contain. Defaults are the
// library's limits (core/limits.hpp); a host may lower them, never raise them
// (larger values are clamped).
struct ParseLimits {
  size_t max_message_size = limits::kMaxIkeMessageSize;
  size_t max_payloads = limits::kMaxIkePayloads;
  size_t max_proposals = limits::kMaxProposals;
  size_t max_transforms = limits::kMaxTransformsPerProposal;  // per proposal
  size_t max_traffic_selectors = limits::kMaxTrafficSelectors;
  size_t max_config_attributes = limits::kMaxConfigAttributes;
  size_t max_delete_spis = limits::kMaxDeleteSpis;
};

// PayloadView: one payload of a parsed chain.
struct PayloadView {
  PayloadType type = PayloadType::none;
  // next: the Next Payload octet as received (for SK and SKF, the type of
  // the first inner payload).
  PayloadType next = PayloadType::none;
  bool critical = false;
  bool encrypted = false;  // found inside an SK or SKF payload
  bool understood = true;  // false: an unknown, non-critical payload, skipped (RFC 7296 2.5)
  uint32_t offset = 0;     // of the generic payload header, in the datagram (or reassembled chain)
  ByteView body;           // after the generic header
};

namespace detail {

// ItemRange: iterate `count` items that a validated body holds, decoding
// each with Read. The body was checked when the payload was decoded, so
// iteration stops early only if a caller builds a range over bytes it did
// not validate.
template <typename T, bool (*Read)(ByteReader&, T*)>
class ItemRange {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    iterator() noexcept = default;  // the end
    iterator(const ByteReader& r, size_t left) noexcept : r_(r), left_(left), done_(false) { advance(); }
    const T& operator*() const noexcept { return item_; }
    const T* operator->() const noexcept { return &item_; }
    iterator& operator++() noexcept {
      advance();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      advance();
      return before;
    }
    bool operator==(const iterator& o) const noexcept {
      return done_ == o.done_ && (done_ || left_ == o.left_);
    }

   private:
    void advance() noexcept {
      if (left_ == 0 || !Read(r_, &item_)) {
        done_ = true;
        return;
      }
      --left_;
    }
    ByteReader r_;
    size_t left_ = 0;
    T item_{};
    bool done_ = true;
  };

  ItemRange() noexcept = default;
  ItemRange(ByteView bytes, uint32_t offset, size_t count) noexcept
      : bytes_(bytes), offset_(offset), count_(count) {}
  [[nodiscard]] iterator begin() const noexcept { return iterator(ByteReader(bytes_, offset_), count_); }
  [[nodiscard]] iterator end() const noexcept { return iterator(); }
  [[nodiscard]] size_t size() const noexcept { return count_; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] ByteView bytes() const noexcept { return bytes_; }

 private:
  ByteView bytes_;
  uint32_t offset_ = 0;
  size_t count_ = 0;
};

inline Status fail(Errc code, uint32_t offset, const char* field) noexcept {
  return Status(code, offset, field);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// SA (RFC 7296 3.3): proposals, transforms, attributes.

inline constexpr uint16_t kAttributeFormatTv = 0x8000;  // AF bit (3.3.5)
inline constexpr uint8_t kLastProposal = 0, kMoreProposals = 2;
inline constexpr uint8_t kLastTransform = 0, kMoreTransforms = 3;

struct Transform {
  TransformType type{};
  uint16_t id = 0;
  std::optional<uint16_t> key_length;  // the Key Length attribute (3.3.5), in bits
  // attributes: every attribute as received (empty when none). When
  // building, non-empty attributes are written as given and key_length is
  // ignored; a receiver rejects a transform with attributes it does not
  // understand (3.3.6): unknown_attributes counts those.
  ByteView attributes;
  uint8_t unknown_attributes = 0;

  friend bool operator==(const Transform& a, const Transform& b) noexcept {
    return a.type == b.type && a.id == b.id && a.key_length == b.key_length &&
           equal_bytes(a.attributes, b.attributes) && a.unknown_attributes == b.unknown_attributes;
  }
};

namespace detail {
// read_transform: one transform substructure (3.3.2) with its attributes.
inline bool read_transform(ByteReader& r, Transform* out) noexcept {
  const uint32_t at = r.offset();
  uint8_t last = 0, reserved = 0, type = 0, reserved2 = 0;
  uint16_t length = 0, id = 0;
  if (!r.read_u8(&last) || !r.read_u8(&reserved) || !r.read_u16(&length)) return false;
  if (last != kLastTransform && last != kMoreTransforms) {
    (void)r.fail_at(Errc::invalid_value, at, "transform.last");
    return false;
  }
  if (length < 8) {
    (void)r.fail_at(Errc::invalid_length, at + 2, "transform.length");
    return false;
  }
  ByteReader t;
  if (!r.read_sub(length - 4u, &t)) return false;
  if (!t.read_u8(&type) || !t.read_u8(&reserved2) || !t.read_u16(&id)) return false;
  Transform x;
  x.type = static_cast<TransformType>(type);
  x.id = id;
  const uint32_t attributes_at = t.offset();
  ByteView attributes;
  (void)t.read_rest(&attributes);
  ByteReader a(attributes, attributes_at);
  size_t count = 0;
  while (!a.empty()) {
    const uint32_t attribute_at = a.offset();
    uint16_t af_type = 0, length_or_value = 0;
    if (!a.read_u16(&af_type) || !a.read_u16(&length_or_value)) {
      (void)r.fail_at(a.status().code(), a.status().offset(), "transform.attribute");
      return false;
    }
    if (++count > limits::kMaxTransformAttributes) {
      (void)r.fail_at(Errc::limit_exceeded, attribute_at, "transform.attributes");
      return false;
    }
    const bool tv = (af_type & kAttributeFormatTv) != 0;
    const auto attribute = static_cast<TransformAttributeType>(af_type & 0x7fff);
    if (attribute == TransformAttributeType::key_length) {
      // 3.3.5: Key Length is a TV attribute, and one per transform.
      if (!tv || x.key_length) {
        (void)r.fail_at(Errc::invalid_value, attribute_at, "transform.key_length");
        return false;
      }
      x.key_length = length_or_value;
    } else {
      ++x.unknown_attributes;
      if (!tv && !a.skip(length_or_value)) {
        (void)r.fail_at(Errc::truncated, a.status().offset(), "transform.attribute");
        return false;
      }
    }
  }
  x.attributes = attributes;
  *out = x;
  return true;
}
}  // namespace detail

using TransformRange = detail::ItemRange<Transform, detail::read_transform>;

struct ProposalView {
  uint8_t number = 0;
  ProtocolId protocol{};
  ByteView spi;
  uint32_t offset = 0;  // of the proposal substructure
  TransformRange transforms;
};

namespace detail {
inline bool read_proposal(ByteReader& r, ProposalView* out) noexcept {
  const uint32_t at = r.offset();
  uint8_t last = 0, reserved = 0, number = 0, protocol = 0, spi_size = 0, transform_count = 0;
  uint16_t length = 0;
  if (!r.read_u8(&last) || !r.read_u8(&reserved) || !r.read_u16(&length)) return false;
  if (last != kLastProposal && last != kMoreProposals) {
    (void)r.fail_at(Errc::invalid_value, at, "proposal.last");
    return false;
  }
  if (length < 8) {
    (void)r.fail_at(Errc::invalid_length, at + 2, "proposal.length");
    return false;
  }
  ByteReader p;
  if (!r.read_sub(length - 4u, &p)) return false;
  ProposalView v;
  if (!p.read_u8(&number) || !p.read_u8(&protocol) || !p.read_u8(&spi_size) || !p.read_u8(&transform_count) ||
      !p.read_bytes(spi_size, &v.spi)) {
    (void)r.fail_at(p.status().code(), p.status().offset(), "proposal");
    return false;
  }
  v.number = number;
  v.protocol = static_cast<ProtocolId>(protocol);
  v.offset = at;
  // 3.3.1: an IKE SA proposal has no SPI in IKE_SA_INIT and an 8-octet one
  // when rekeying; AH and ESP carry their 4-octet SPI.
  const bool spi_ok = v.protocol == ProtocolId::ike ? (spi_size == 0 || spi_size == 8)
                      : (v.protocol == ProtocolId::esp || v.protocol == ProtocolId::ah) ? spi_size == 4
                                                                                        : spi_size <= 8;
  if (!spi_ok) {
    (void)r.fail_at(Errc::invalid_length, at + 6, "proposal.spi_size");
    return false;
  }
  const uint32_t transforms_at = p.offset();
  ByteView transforms;
  (void)p.read_rest(&transforms);
  v.transforms = TransformRange(transforms, transforms_at, transform_count);
  *out = v;
  return true;
}
}  // namespace detail

using ProposalRange = detail::ItemRange<ProposalView, detail::read_proposal>;

struct SaPayload {
  ProposalRange proposals;
};

// decode_sa: RFC 7296 3.3. Errors (offset at the failing field):
// invalid_value for Last Substruc values other than 0/2 (proposals) and 0/3
// (transforms), for a Last Substruc that says "last" before the end or "more"
// at the end, for proposal numbers that do not start at a number >= 1 and
// grow by one, and for a Key Length that is TLV or repeated; invalid_length
// for substructure lengths below their headers or SPI sizes wrong for the
// protocol; limit_exceeded past limits.max_proposals/max_transforms (and
// kMaxTransformAttributes); truncated; trailing_data when a Num Transforms
// disagrees with the transforms present.
[[nodiscard]] inline Result<SaPayload> decode_sa(const PayloadView& p, const ParseLimits& lim = {}) noexcept {
  const uint32_t body_at = p.offset + 4;
  ByteReader r(p.body, body_at);
  if (r.empty()) return Status(Errc::truncated, body_at, "sa.proposals");
  size_t count = 0;
  uint8_t previous_number = 0;
  while (!r.empty()) {
    const uint32_t at = r.offset();
    uint8_t last = 0;
    (void)r.peek_u8(&last);
    ProposalView v;
    if (!detail::read_proposal(r, &v)) return r.status();
    if (++count > lim.max_proposals) return Status(Errc::limit_exceeded, at, "sa.proposals");
    if ((last == kLastProposal) != r.empty()) return Status(Errc::invalid_value, at, "proposal.last");
    if (v.number == 0 || (count > 1 && v.number != previous_number + 1)) {
      return Status(Errc::invalid_value, at + 4, "proposal.number");
    }
    previous_number = v.number;
    // Walk the transforms once: lengths, Last Substruc, the count.
    ByteReader t(v.transforms.bytes(), at + 8 + static_cast<uint32_t>(v.spi.size()));
    size_t transforms = 0;
    while (!t.empty()) {
      const uint32_t transform_at = t.offset();
      uint8_t transform_last = 0;
      (void)t.peek_u8(&transform_last);
      Transform x;
      if (!detail::read_transform(t, &x)) return t.status();
      if (++transforms > lim.max_transforms)
        return Status(Errc::limit_exceeded, transform_at, "proposal.transforms");
      if ((transform_last == kLastTransform) != t.empty()) {
        return Status(Errc::invalid_value, transform_at, "transform.last");
      }
    }
    if (transforms != v.transforms.size())
      return Status(Errc::invalid_value, at + 7, "proposal.num_transforms");
  }
  return SaPayload{ProposalRange(p.body, body_at, count)};
}

// Proposal: what write_sa_body encodes.
struct Proposal {
  uint8_t number = 1;
  ProtocolId protocol = ProtocolId::ike;
  ByteView spi;
  std::span<const Transform> transforms;
};

inline void write_sa_body(ByteWriter& w, std::span<const Proposal> proposals) noexcept {
  for (size_t i = 0; i < proposals.size(); ++i) {
    const Proposal& p = proposals[i];
    const size_t start = w.needed();
    w.put_u8(i + 1 == proposals.size() ? kLastProposal : kMoreProposals);
    w.put_u8(0);
    const auto length = w.reserve_u16();
    w.put_u8(p.number);
    w.put_u8(static_cast<uint8_t>(p.protocol));
    w.put_u8(static_cast<uint8_t>(p.spi.size()));
    w.put_u8(static_cast<uint8_t>(p.transforms.size()));
    w.put_bytes(p.spi);
    for (size_t j = 0; j < p.transforms.size(); ++j) {
      const Transform& t = p.transforms[j];
      const size_t t_start = w.needed();
      w.put_u8(j + 1 == p.transforms.size() ? kLastTransform : kMoreTransforms);
      w.put_u8(0);
      const auto t_length = w.reserve_u16();
      w.put_u8(static_cast<uint8_t>(t.type));
      w.put_u8(0);
      w.put_u16(t.id);
      if (!t.attributes.empty()) {
        w.put_bytes(t.attributes);
      } else if (t.key_length) {
        w.put_u16(kAttributeFormatTv | static_cast<uint16_t>(TransformAttributeType::key_length));
        w.put_u16(*t.key_length);
      }
      w.patch_length_since(t_length, t_start);
    }
    w.patch_length_since(length, start);
  }
}

// ---------------------------------------------------------------------------
// Simple payloads.

// KE (3.4): Diffie-Hellman Group Num, RESERVED, Key Exchange Data.
struct KePayload {
  crypto::KeGroup group{};
  ByteView data;
};
// decode_ke: truncated (under 4 octets), invalid_length (no key data).
[[nodiscard]] inline Result<KePayload> decode_ke(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint16_t group = 0, reserved = 0;
  KePayload v;
  if (!r.read_u16(&group) || !r.read_u16(&reserved)) return r.status().with_field("ke");
  (void)r.read_rest(&v.data);
  if (v.data.empty()) return Status(Errc::invalid_length, p.offset + 2, "ke.data");
  v.group = static_cast<crypto::KeGroup>(group);
  return v;
}
inline void write_ke_body(ByteWriter& w, const KePayload& v) noexcept {
  w.put_u16(static_cast<uint16_t>(v.group));
  w.put_u16(0);
  w.put_bytes(v.data);
}

// IDi/IDr (3.5): ID Type, RESERVED (3), Identification Data.
struct IdPayload {
  IdType type{};
  ByteView data;
};
// decode_id: truncated; invalid_length for an IPv4/IPv6 address that is not
// 4/16 octets, for empty FQDN, RFC 822, DN, GN and key IDs, and for an
// ID_NULL that carries data (RFC 7619 section 3); invalid_value for a DN or
// GN that is not one DER element.
[[nodiscard]] inline Result<IdPayload> decode_id(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t type = 0;
  IdPayload v;
  if (!r.read_u8(&type) || !r.skip(3)) return r.status().with_field("id");
  (void)r.read_rest(&v.data);
  v.type = static_cast<IdType>(type);
  const uint32_t data_at = p.offset + 8;
  switch (v.type) {
    case IdType::ipv4_addr:
      if (v.data.size() != 4) return Status(Errc::invalid_length, data_at, "id.ipv4");
      break;
    case IdType::ipv6_addr:
      if (v.data.size() != 16) return Status(Errc::invalid_length, data_at, "id.ipv6");
      break;
    case IdType::null_id:
      if (!v.data.empty()) return Status(Errc::invalid_length, data_at, "id.null");
      break;
    case IdType::der_asn1_dn:
    case IdType::der_asn1_gn: {
      DerElement e;
      if (v.data.empty()) return Status(Errc::invalid_length, data_at, "id.der");
      ByteReader d(v.data, data_at);
      if (!read_der(d, &e) || !d.expect_end().ok()) return d.status().with_field("id.der");
      if (v.type == IdType::der_asn1_dn && e.tag != der_tag::kSequence) {
        return Status(Errc::invalid_value, data_at, "id.dn");
      }
      break;
    }
    case IdType::fqdn:
    case IdType::rfc822_addr:
    case IdType::key_id:
    case IdType::fc_name:
      if (v.data.empty()) return Status(Errc::invalid_length, data_at, "id.data");
      break;
  }
  return v;
}
inline void write_id_body(ByteWriter& w, const IdPayload& v) noexcept {
  w.put_u8(static_cast<uint8_t>(v.type));
  w.put_zeros(3);
  w.put_bytes(v.data);
}

// CERT (3.6) and CERTREQ (3.7): Cert Encoding, then the data.
struct CertPayload {
  CertEncoding encoding{};
  ByteView data;
};
// decode_cert: truncated; invalid_length for empty certificate data.
[[nodiscard]] inline Result<CertPayload> decode_cert(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t encoding = 0;
  CertPayload v;
  if (!r.read_u8(&encoding)) return r.status().with_field("cert");
  (void)r.read_rest(&v.data);
  v.encoding = static_cast<CertEncoding>(encoding);
  if (v.data.empty()) return Status(Errc::invalid_length, p.offset + 5, "cert.data");
  return v;
}
// decode_certreq: truncated; invalid_length when an X.509 request's
// Certification Authority field is not a list of 20-octet SHA-1 key hashes
// (3.7). An empty list is accepted (some peers send one to ask for any
// certificate).
[[nodiscard]] inline Result<CertPayload> decode_certreq(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t encoding = 0;
  CertPayload v;
  if (!r.read_u8(&encoding)) return r.status().with_field("certreq");
  (void)r.read_rest(&v.data);
  v.encoding = static_cast<CertEncoding>(encoding);
  if (v.encoding == CertEncoding::x509_signature && v.data.size() % 20 != 0) {
    return Status(Errc::invalid_length, p.offset + 5, "certreq.authorities");
  }
  return v;
}
inline void write_cert_body(ByteWriter& w, const CertPayload& v) noexcept {
  w.put_u8(static_cast<uint8_t>(v.encoding));
  w.put_bytes(v.data);
}

// AUTH (3.8): Auth Method, RESERVED (3), Authentication Data.
struct AuthPayload {
  AuthMethod method{};
  ByteView data;
};

// SignatureAuthData: RFC 7427 section 3, the data of AUTH method 14: a
// one-octet length, the DER AlgorithmIdentifier, the signature.
struct SignatureAuthData {
  ByteView algorithm_identifier;  // the whole DER SEQUENCE
  ByteView algorithm_oid;         // the OID's value octets
  ByteView parameters;            // DER elements after the OID (may be empty)
  ByteView signature;
};

// decode_signature_auth: RFC 7427 section 3. data_offset is the absolute
// offset of data[0]. Errors: truncated, invalid_length (ASN.1 length of 0,
// empty signature), invalid_value (not a SEQUENCE starting with an OID, or
// the length octet disagrees with the DER element), trailing bytes.
[[nodiscard]] inline Result<SignatureAuthData> decode_signature_auth(ByteView data,
                                                                     uint32_t data_offset = 0) noexcept {
  ByteReader r(data, data_offset);
  SignatureAuthData v;
  uint8_t asn1_length = 0;
  if (!r.read_u8(&asn1_length)) return r.status().with_field("auth.asn1_length");
  if (asn1_length == 0) return Status(Errc::invalid_length, data_offset, "auth.asn1_length");
  const uint32_t ai_at = r.offset();
  if (!r.read_bytes(asn1_length, &v.algorithm_identifier)) return r.status().with_field("auth.algorithm");
  ByteReader ai(v.algorithm_identifier, ai_at);
  DerElement seq, oid;
  if (!read_der_tagged(ai, der_tag::kSequence, &seq) || !ai.expect_end().ok()) {
    return ai.status().with_field("auth.algorithm");
  }
  ByteReader inner(seq.value, seq.value_offset);
  if (!read_der_tagged(inner, der_tag::kOid, &oid) || oid.value.empty()) {
    return Status(Errc::invalid_value, seq.value_offset, "auth.algorithm_oid");
  }
  v.algorithm_oid = oid.value;
  (void)inner.read_rest(&v.parameters);
  (void)r.read_rest(&v.signature);
  if (v.signature.empty()) return Status(Errc::invalid_length, r.offset(), "auth.signature");
  return v;
}

// decode_auth: truncated; invalid_length for empty authentication data;
// method 14 (RFC 7427) data must pass decode_signature_auth.
[[nodiscard]] inline Result<AuthPayload> decode_auth(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t method = 0;
  AuthPayload v;
  if (!r.read_u8(&method) || !r.skip(3)) return r.status().with_field("auth");
  (void)r.read_rest(&v.data);
  v.method = static_cast<AuthMethod>(method);
  if (v.data.empty()) return Status(Errc::invalid_length, p.offset + 8, "auth.data");
  if (v.method == AuthMethod::digital_signature) {
    auto s = decode_signature_auth(v.data, p.offset + 8);
    if (!s) return s.status();
  }
  return v;
}
inline void write_auth_body(ByteWriter& w, const AuthPayload& v) noexcept {
  w.put_u8(static_cast<uint8_t>(v.method));
  w.put_zeros(3);
  w.put_bytes(v.data);
}
// write_signature_auth_data: the RFC 7427 AUTH data for an AlgorithmIdentifier
// (whole DER, at most 255 octets) and a signature.
inline void write_signature_auth_data(ByteWriter& w, ByteView algorithm_identifier,
                                      ByteView signature) noexcept {
  w.put_u8(static_cast<uint8_t>(algorithm_identifier.size()));
  w.put_bytes(algorithm_identifier);
  w.put_bytes(signature);
}

// Nonce (3.9): 16 to 256 octets.
// decode_nonce: invalid_length outside that range.
[[nodiscard]] inline Result<ByteView> decode_nonce(const PayloadView& p) noexcept {
  if (p.body.size() < limits::kMinNonceSize || p.body.size() > limits::kMaxNonceSize) {
    return Status(Errc::invalid_length, p.offset + 2, "nonce.length");
  }
  return p.body;
}

// Notify (3.10): Protocol ID, SPI Size, Notify Message Type, SPI, data.
struct NotifyPayload {
  ProtocolId protocol = ProtocolId::none;
  NotifyType type{};
  ByteView spi;
  ByteView data;
};

// decode_notify: truncated; invalid_length for an SPI size other than 0, 4
// or 8, and for the data of types whose size RFC 7296 fixes: NAT detection
// (20, a SHA-1 digest, 2.23), COOKIE (1 to 64, 2.6), INVALID_KE_PAYLOAD (2,
// 1.2), SET_WINDOW_SIZE and AUTH_LIFETIME (4), SIGNATURE_HASH_ALGORITHMS (a
// list of 16-bit IDs, RFC 7427 4), UNSUPPORTED_CRITICAL_PAYLOAD (1), and
// REKEY_SA (a 4-octet SPI of ESP or AH, 1.3.3).
[[nodiscard]] inline Result<NotifyPayload> decode_notify(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t protocol = 0, spi_size = 0;
  uint16_t type = 0;
  NotifyPayload v;
  if (!r.read_u8(&protocol) || !r.read_u8(&spi_size) || !r.read_u16(&type))
    return r.status().with_field("notify");
  if (spi_size != 0 && spi_size != 4 && spi_size != 8) {
    return Status(Errc::invalid_length, p.offset + 5, "notify.spi_size");
  }
  if (!r.read_bytes(spi_size, &v.spi)) return r.status().with_field("notify.spi");
  const uint32_t data_at = r.offset();
  (void)r.read_rest(&v.data);
  v.protocol = static_cast<ProtocolId>(protocol);
  v.type = static_cast<NotifyType>(type);
  const size_t n = v.data.size();
  bool ok = true;
  switch (v.type) {
    case NotifyType::nat_detection_source_ip:
    case NotifyType::nat_detection_destination_ip: ok = n == 20; break;
    case NotifyType::cookie: ok = n >= 1 && n <= limits::kMaxCookieSize; break;
    case NotifyType::invalid_ke_payload: ok = n == 2; break;
    case NotifyType::set_window_size:
    case NotifyType::auth_lifetime: ok = n == 4; break;
    case NotifyType::signature_hash_algorithms: ok = n % 2 == 0; break;
    case NotifyType::unsupported_critical_payload: ok = n == 1; break;
    case NotifyType::rekey_sa:
      if (v.spi.size() != 4) return Status(Errc::invalid_length, p.offset + 5, "notify.spi_size");
      break;
    default: break;
  }
  if (!ok) return Status(Errc::invalid_length, data_at, "notify.data");
  return v;
}
inline void write_notify_body(ByteWriter& w, const NotifyPayload& v) noexcept {
  w.put_u8(static_cast<uint8_t>(v.protocol));
  w.put_u8(static_cast<uint8_t>(v.spi.size()));
  w.put_u16(static_cast<uint16_t>(v.type));
  w.put_bytes(v.spi);
  w.put_bytes(v.data);
}

// Delete (3.11): Protocol ID, SPI Size, Num of SPIs, SPIs.
struct DeletePayload {
  ProtocolId protocol{};
  uint8_t spi_size = 0;
  uint16_t spi_count = 0;
  ByteView spis;  // spi_count * spi_size octets

  // spi32: the i-th SPI of an ESP/AH delete (i < spi_count).
  [[nodiscard]] uint32_t spi32(size_t i) const noexcept {
    ByteReader r(spis);
    uint32_t v = 0;
    (void)r.skip(i * 4);
    (void)r.read_u32(&v);
    return v;
  }
};
// decode_delete: truncated; invalid_length when the SPI size does not fit the
// protocol (IKE: 0 SPIs of size 0, the SA is the one the message belongs to;
// ESP/AH: size 4) or the SPIs do not fill the payload; limit_exceeded past
// limits.max_delete_spis.
[[nodiscard]] inline Result<DeletePayload> decode_delete(const PayloadView& p,
                                                         const ParseLimits& lim = {}) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t protocol = 0;
  DeletePayload v;
  if (!r.read_u8(&protocol) || !r.read_u8(&v.spi_size) || !r.read_u16(&v.spi_count)) {
    return r.status().with_field("delete");
  }
  v.protocol = static_cast<ProtocolId>(protocol);
  const bool size_ok = v.protocol == ProtocolId::ike ? v.spi_size == 0 && v.spi_count == 0 : v.spi_size == 4;
  if (!size_ok) return Status(Errc::invalid_length, p.offset + 5, "delete.spi_size");
  if (v.spi_count > lim.max_delete_spis) return Status(Errc::limit_exceeded, p.offset + 6, "delete.num_spis");
  (void)r.read_rest(&v.spis);
  if (v.spis.size() != size_t{v.spi_count} * v.spi_size)
    return Status(Errc::invalid_length, p.offset + 6, "delete.spis");
  return v;
}
// write_delete_body: the fields as given; spi_count and spi_size must
// describe spis (decode_delete refuses a payload where they do not).
inline void write_delete_body(ByteWriter& w, const DeletePayload& v) noexcept {
  w.put_u8(static_cast<uint8_t>(v.protocol));
  w.put_u8(v.spi_size);
  w.put_u16(v.spi_count);
  w.put_bytes(v.spis);
}

// ---------------------------------------------------------------------------
// Traffic selectors (3.13; RFC 4595-style extensibility: a selector's length
// tells how to skip types this library does not know).

struct TrafficSelector {
  TsType type = TsType::ipv4_addr_range;
  uint8_t ip_protocol = 0;  // 0: any
  uint16_t start_port = 0;
  uint16_t end_port = 65535;
  ByteView start_address;  // 4 or 16 octets for the address-range types
  ByteView end_address;
  ByteView opaque;  // other types: the octets after Selector Length

  friend bool operator==(const TrafficSelector& a, const TrafficSelector& b) noexcept {
    return a.type == b.type && a.ip_protocol == b.ip_protocol && a.start_port == b.start_port &&
           a.end_port == b.end_port && equal_bytes(a.start_address, b.start_address) &&
           equal_bytes(a.end_address, b.end_address) && equal_bytes(a.opaque, b.opaque);
  }
};

namespace detail {
inline bool read_traffic_selector(ByteReader& r, TrafficSelector* out) noexcept {
  const uint32_t at = r.offset();
  uint8_t type = 0, protocol = 0;
  uint16_t length = 0;
  if (!r.read_u8(&type) || !r.read_u8(&protocol) || !r.read_u16(&length)) return false;
  TrafficSelector ts;
  ts.type = static_cast<TsType>(type);
  ts.ip_protocol = protocol;
  size_t address_size = 0;
  if (ts.type == TsType::ipv4_addr_range) address_size = 4;
  if (ts.type == TsType::ipv6_addr_range) address_size = 16;
  if (address_size != 0 ? length != 8 + 2 * address_size : length < 4) {
    (void)r.fail_at(Errc::invalid_length, at + 2, "ts.length");
    return false;
  }
  ByteReader s;
  if (!r.read_sub(length - 4u, &s)) return false;
  if (address_size != 0) {
    (void)s.read_u16(&ts.start_port);
    (void)s.read_u16(&ts.end_port);
    (void)s.read_bytes(address_size, &ts.start_address);
    (void)s.read_bytes(address_size, &ts.end_address);
  } else {
    (void)s.read_rest(&ts.opaque);
  }
  *out = ts;
  return true;
}
}  // namespace detail

using TrafficSelectorRange = detail::ItemRange<TrafficSelector, detail::read_traffic_selector>;

struct TsPayload {
  TrafficSelectorRange selectors;
};
// decode_ts: truncated; invalid_length for a selector length that does not
// fit its type (16 for IPv4 ranges, 40 for IPv6); invalid_value for zero
// selectors; limit_exceeded past limits.max_traffic_selectors; trailing_data
// when Number of TSs disagrees with the selectors present.
[[nodiscard]] inline Result<TsPayload> decode_ts(const PayloadView& p, const ParseLimits& lim = {}) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t count = 0;
  if (!r.read_u8(&count) || !r.skip(3)) return r.status().with_field("ts");
  if (count == 0) return Status(Errc::invalid_value, p.offset + 4, "ts.count");
  if (count > lim.max_traffic_selectors) return Status(Errc::limit_exceeded, p.offset + 4, "ts.count");
  const uint32_t at = r.offset();
  ByteView selectors;
  (void)r.read_rest(&selectors);
  ByteReader s(selectors, at);
  for (size_t i = 0; i < count; ++i) {
    TrafficSelector ts;
    if (!detail::read_traffic_selector(s, &ts)) return s.status();
  }
  IPSEC_TRY(s.expect_end("ts.count"));
  return TsPayload{TrafficSelectorRange(selectors, at, count)};
}
inline void write_ts_body(ByteWriter& w, std::span<const TrafficSelector> selectors) noexcept {
  w.put_u8(static_cast<uint8_t>(selectors.size()));
  w.put_zeros(3);
  for (const TrafficSelector& ts : selectors) {
    const size_t start = w.needed();
    w.put_u8(static_cast<uint8_t>(ts.type));
    w.put_u8(ts.ip_protocol);
    const auto length = w.reserve_u16();
    if (ts.type == TsType::ipv4_addr_range || ts.type == TsType::ipv6_addr_range) {
      w.put_u16(ts.start_port);
      w.put_u16(ts.end_port);
      w.put_bytes(ts.start_address);
      w.put_bytes(ts.end_address);
    } else {
      w.put_bytes(ts.opaque);
    }
    w.patch_length_since(length, start);
  }
}

// ---------------------------------------------------------------------------
// Configuration payload (3.15).

struct ConfigAttribute {
  CfgAttribute type{};
  ByteView value;

  friend bool operator==(const ConfigAttribute& a, const ConfigAttribute& b) noexcept {
    return a.type == b.type && equal_bytes(a.value, b.value);
  }
};

namespace detail {
inline bool read_config_attribute(ByteReader& r, ConfigAttribute* out) noexcept {
  const uint32_t at = r.offset();
  uint16_t type = 0;
  ByteView value;
  if (!r.read_u16(&type) || !r.read_u16_prefixed(&value)) return false;
  // 3.15.1: the top bit is reserved (ignored on receipt).
  const auto attribute = static_cast<CfgAttribute>(type & 0x7fff);
  if (!cfg_attribute_length_ok(attribute, value.size())) {
    (void)r.fail_at(Errc::invalid_length, at + 2, "cp.attribute_length");
    return false;
  }
  *out = ConfigAttribute{attribute, value};
  return true;
}
}  // namespace detail

using ConfigAttributeRange = detail::ItemRange<ConfigAttribute, detail::read_config_attribute>;

struct CpPayload {
  CfgType type{};
  ConfigAttributeRange attributes;
};
// decode_cp: truncated; invalid_length for an attribute whose value length
// RFC 7296 3.15.1 does not allow for its type (an INTERNAL_IP4_ADDRESS of 3
// octets, say); limit_exceeded past limits.max_config_attributes.
[[nodiscard]] inline Result<CpPayload> decode_cp(const PayloadView& p, const ParseLimits& lim = {}) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t type = 0;
  if (!r.read_u8(&type) || !r.skip(3)) return r.status().with_field("cp");
  const uint32_t at = r.offset();
  ByteView attributes;
  (void)r.read_rest(&attributes);
  ByteReader a(attributes, at);
  size_t count = 0;
  while (!a.empty()) {
    const uint32_t attribute_at = a.offset();
    ConfigAttribute attribute;
    if (!detail::read_config_attribute(a, &attribute)) return a.status().with_field("cp.attribute");
    if (++count > lim.max_config_attributes)
      return Status(Errc::limit_exceeded, attribute_at, "cp.attributes");
  }
  return CpPayload{static_cast<CfgType>(type), ConfigAttributeRange(attributes, at, count)};
}
inline void write_cp_body(ByteWriter& w, CfgType type, std::span<const ConfigAttribute> attributes) noexcept {
  w.put_u8(static_cast<uint8_t>(type));
  w.put_zeros(3);
  for (const ConfigAttribute& a : attributes) {
    w.put_u16(static_cast<uint16_t>(a.type));
    w.put_u16(static_cast<uint16_t>(a.value.size()));
    w.put_bytes(a.value);
  }
}

// ---------------------------------------------------------------------------
// EAP (3.16): one EAP message (RFC 3748 section 4).
struct EapPayload {
  ByteView message;  // the whole EAP packet
  EapCode code{};
  uint8_t identifier = 0;
  uint8_t type = 0;  // 0 for Success/Failure, which have no Type
};
// decode_eap: truncated; invalid_length when the EAP Length field is not the
// payload's size or is below the code's minimum (4, or 5 with a Type);
// invalid_value for codes other than 1 to 6.
[[nodiscard]] inline Result<EapPayload> decode_eap(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  uint8_t code = 0;
  uint16_t length = 0;
  EapPayload v;
  if (!r.read_u8(&code) || !r.read_u8(&v.identifier) || !r.read_u16(&length))
    return r.status().with_field("eap");
  v.code = static_cast<EapCode>(code);
  // Request/Response (RFC 3748 4) and ERP's Initiate/Finish (RFC 6696 5,
  // carried by IKEv2 per RFC 6867) have a Type; Success/Failure do not.
  const bool has_type = v.code == EapCode::request || v.code == EapCode::response ||
                        v.code == EapCode::initiate || v.code == EapCode::finish;
  if (!has_type && v.code != EapCode::success && v.code != EapCode::failure) {
    return Status(Errc::invalid_value, p.offset + 4, "eap.code");
  }
  if (length != p.body.size() || length < (has_type ? 5u : 4u))
    return Status(Errc::invalid_length, p.offset + 6, "eap.length");
  if (has_type) (void)r.read_u8(&v.type);
  v.message = p.body;
  return v;
}

// ---------------------------------------------------------------------------
// Encrypted Fragment (RFC 7383 2.5): Fragment Number, Total Fragments, then
// IV | ciphertext | ICV like SK.
struct SkfHeader {
  uint16_t number = 0;
  uint16_t total = 0;
  ByteView protected_data;  // IV | encrypted | ICV
};
// decode_skf: truncated; invalid_value for a fragment number or total of
// zero or a number above the total (RFC 7383 2.5); limit_exceeded for a
// total above kMaxIkeFragments.
[[nodiscard]] inline Result<SkfHeader> decode_skf(const PayloadView& p) noexcept {
  ByteReader r(p.body, p.offset + 4);
  SkfHeader v;
  if (!r.read_u16(&v.number) || !r.read_u16(&v.total)) return r.status().with_field("skf");
  if (v.total == 0) return Status(Errc::invalid_value, p.offset + 6, "skf.total");
  if (v.number == 0 || v.number > v.total) return Status(Errc::invalid_value, p.offset + 4, "skf.number");
  if (v.total > limits::kMaxIkeFragments) return Status(Errc::limit_exceeded, p.offset + 6, "skf.total");
  (void)r.read_rest(&v.protected_data);
  return v;
}

// validate_payload: the decode_* of a known payload type (SK and SKF bodies
// are checked when they are opened); ok for types this library skips.
[[nodiscard]] inline Status validate_payload(const PayloadView& p, const ParseLimits& lim) noexcept {
  switch (p.type) {
    case PayloadType::sa: return decode_sa(p, lim).status();
    case PayloadType::ke: return decode_ke(p).status();
    case PayloadType::id_i:
    case PayloadType::id_r: return decode_id(p).status();
    case PayloadType::cert: return decode_cert(p).status();
    case PayloadType::certreq: return decode_certreq(p).status();
    case PayloadType::auth: return decode_auth(p).status();
    case PayloadType::nonce: return decode_nonce(p).status();
    case PayloadType::notify: return decode_notify(p).status();
    case PayloadType::del: return decode_delete(p, lim).status();
    case PayloadType::ts_i:
    case PayloadType::ts_r: return decode_ts(p, lim).status();
    case PayloadType::cp: return decode_cp(p, lim).status();
    case PayloadType::eap: return decode_eap(p).status();
    case PayloadType::skf: return decode_skf(p).status();
    default: return Status::success();
  }
}

}  // namespace ipsec::wire
