// SPDX-License-Identifier: Apache-2.0
// The Peer Authorization Database (RFC 4301 section 4.4.3): which peers may
// set up IKE SAs with this host, how each must authenticate and with which
// credentials, and which child SA traffic each may ask for.
//
// The control plane builds it (IdPattern::parse, PadEntry::make and
// Pad::add allocate and validate); afterwards the IKE engine only reads it:
//   match()           when the peer's IDi/IDr arrives, before its AUTH is
//                     verified (4.4.3.4: the entry names the method and the
//                     data used to verify the asserted identity);
//   authorize_auth()  for the AUTH payload's method (4.4.3.2);
//   authorize_child() for each child SA's traffic selectors (4.4.3.3).
// Lookups allocate nothing, take no locks and throw nothing; a Pad that is
// not being modified may be read from any number of threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/wire/der.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_payloads.hpp"

namespace ipsec::sa {

namespace detail {

// DNS names: RFC 1035 2.3.4 allows 255 octets on the wire, which is 253
// characters of dotted text, and 63 octets per label.
inline constexpr size_t kMaxDnsNameText = 253;
inline constexpr size_t kMaxDnsLabel = 63;
// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
inline constexpr size_t kMaxLocalPart = 64;

[[nodiscard]] constexpr uint8_t ascii_lower(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}
// RFC 4343 section 3: DNS names compare case-insensitively for the ASCII
// letters only; every other octet compares exactly.
[[nodiscard]] inline bool ascii_iequal(ByteView a, ByteView b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}
// Label characters: letters, digits and hyphen (RFC 1123 2.1), plus the
// underscore that service names use. Internationalized names arrive as
// A-labels ("xn--..."), which are in this set.
[[nodiscard]] constexpr bool is_label_char(uint8_t c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
// valid_labels: one or more well-formed labels separated by single dots
// (no empty label, so no leading, trailing or doubled dot). Applied to the
// part of a received name a wildcard stands for, so that "*.example.com"
// never admits a NUL, a space or an empty label in its place.
[[nodiscard]] inline bool valid_labels(ByteView name, bool single_label) noexcept {
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '.') {
      if (single_label || label == 0) return false;
      label = 0;
      continue;
    }
    if (!is_label_char(name[i]) || ++label > kMaxDnsLabel) return false;
  }
  return label != 0;
}

// rebase: a Status from a parser that saw only part of the text, moved to
// the offset in the whole text.
[[nodiscard]] constexpr Status rebase(Status s, uint32_t base) noexcept {
  return Status(s.code(), s.has_offset() ? base + s.offset() : base, s.field());
}

[[nodiscard]] constexpr int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// parse_hex: hex text (no separators) into a new buffer. parse_error at the
// offending character ("hex digit"), at the end for an odd count ("hex
// length"), at `base` when empty ("hex empty"); limit_exceeded beyond
// kMaxIdPatternSize bytes.
[[nodiscard]] inline Result<ByteBuffer> parse_hex(std::string_view text, uint32_t base) noexcept {
  if (text.empty()) return Status(Errc::parse_error, base, "hex empty");
  if (text.size() / 2 > limits::kMaxIdPatternSize) return Status(Errc::limit_exceeded, base, "hex length");
  for (size_t i = 0; i < text.size(); ++i) {
    if (hex_digit(text[i]) < 0)
      return Status(Errc::parse_error, base + static_cast<uint32_t>(i), "hex digit");
  }
  if (text.size() % 2 != 0) {
    return Status(Errc::parse_error, base + static_cast<uint32_t>(text.size()), "hex length");
  }
  auto out = ByteBuffer::allocate(text.size() / 2);
  if (!out) return out.status();
  MutableByteView b = out->mutable_view();
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] = static_cast<uint8_t>((hex_digit(text[2 * i]) << 4) | hex_digit(text[2 * i + 1]));
  }
  return out;
}

// check_dn: `der` is one DER Name (RFC 5280 4.1.2.4: a SEQUENCE OF
// RelativeDistinguishedName, each a non-empty SET). Errors carry the byte
// offset: those of read_der, invalid_value for another tag ("dn"/"dn rdn"),
// trailing_data after the SEQUENCE. `rdns` receives the RDN count.
[[nodiscard]] inline Status check_dn(ByteView der, size_t* rdns) noexcept {
  ByteReader r(der);
  wire::DerElement name;
  if (!wire::read_der_tagged(r, wire::der_tag::kSequence, &name)) return r.status().with_field("dn");
  IPSEC_TRY(r.expect_end("dn"));
  ByteReader inner(name.value, name.value_offset);
  *rdns = 0;
  while (!inner.empty()) {
    wire::DerElement rdn;
    const uint32_t at = inner.offset();
    if (!wire::read_der_tagged(inner, wire::der_tag::kSet, &rdn)) return inner.status().with_field("dn rdn");
    if (rdn.value.empty()) return Status(Errc::invalid_value, at, "dn rdn");
    ++*rdns;
  }
  return Status::success();
}

// OwnedArray: a fixed-size heap array filled once from a span; allocation
// failure is out_of_memory, never thrown. Move-only.
template <typename T>
class OwnedArray {
 public:
  OwnedArray() noexcept = default;
  [[nodiscard]] static Result<OwnedArray> copy_of(std::span<const T> src) noexcept {
    OwnedArray a;
    if (src.empty()) return a;
    a.data_.reset(new (std::nothrow) T[src.size()]);
    if (!a.data_) return Errc::out_of_memory;
    for (size_t i = 0; i < src.size(); ++i) a.data_[i] = src[i];
    a.size_ = src.size();
    return a;
  }
  [[nodiscard]] std::span<const T> view() const noexcept { return {data_.get(), size_}; }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
};

}  // namespace detail

// IdPattern: the ID field of a PAD entry, matched against the Identification
// Data a peer asserts in IDi/IDr (RFC 7296 3.5). RFC 4301 4.4.3.1 lists the
// kinds: DNS names (exact or a sub-tree), DNs (exact or a sub-tree), RFC 822
// addresses (exact or a domain), IPv4/IPv6 address ranges and key IDs
// (exact only). Matching reads the received bytes only, allocates nothing.
//
// A default-constructed pattern matches nothing, so a forgotten pattern can
// never authorize every peer; PadEntry::make refuses it.
class IdPattern {
 public:
  enum class Kind : uint8_t {
    none,        // matches nothing
    any,         // every ID type except ID_NULL
    null_id,     // ID_NULL only (RFC 7619)
    exact,       // one type, byte-for-byte data (DNs, key IDs, ...)
    fqdn,        // ID_FQDN, see DomainMatch
    rfc822,      // ID_RFC822_ADDR: an address, or any user of a domain
    dn_subtree,  // ID_DER_ASN1_DN whose first RDNs are the pattern's RDNs
    address,     // ID_IPV4_ADDR / ID_IPV6_ADDR inside an AddressRange
  };
  // How a DNS name (an FQDN, or an RFC 822 address's domain) matches:
  //   exact      "gw.example.com"  that name only;
  //   one_label  "*.example.com"   exactly one more label: gw.example.com,
  //              not example.com, not a.gw.example.com (the rule of
  //              certificate wildcards, RFC 6125 6.4.3, which admins expect);
  //   subtree    ".example.com"    any depth below: gw.example.com and
  //              a.gw.example.com, not example.com (RFC 4301 4.4.3.1's
  //              ".example.com" example; sub-tree matching is a MUST there).
  // Comparison is ASCII case-insensitive (RFC 4343); a received name with a
  // trailing dot is not normalised and does not match.
  enum class DomainMatch : uint8_t { exact, one_label, subtree };

  IdPattern() noexcept = default;
  IdPattern(IdPattern&&) noexcept = default;
  IdPattern& operator=(IdPattern&&) noexcept = default;

  // any: every ID of every type except ID_NULL. RFC 7619 (which updates
  // RFC 4301) gives ID_NULL its own place in the PAD; an unauthenticated
  // peer reaches only an entry written for it (null_id()), never a
  // catch-all one.
  [[nodiscard]] static IdPattern any() noexcept { return IdPattern(Kind::any); }
  [[nodiscard]] static IdPattern null_id() noexcept { return IdPattern(Kind::null_id); }
  // exact: IDs of `type` whose data equals `data` byte for byte (so DNs
  // compare as DER octets: RFC 5280 7.1 name canonicalisation is not done;
  // a CA issues the same octets every time). invalid_argument for empty
  // data or for ID_NULL (use null_id()), limit_exceeded beyond
  // kMaxIdPatternSize, out_of_memory.
  [[nodiscard]] static Result<IdPattern> exact(wire::IdType type, ByteView data) noexcept;
  // key_id: exact(ID_KEY_ID, data): RFC 4301 4.4.3.1 asks exact match only.
  [[nodiscard]] static Result<IdPattern> key_id(ByteView data) noexcept {
    return exact(wire::IdType::key_id, data);
  }
  // dn: exact(ID_DER_ASN1_DN, der) after checking `der` is one DER Name;
  // dn_subtree: every DN whose leading RDNs equal the pattern's RDNs, in
  // order ("C=US, O=Example" matches "C=US, O=Example, CN=gw"; 4.4.3.1's
  // "top two RDNs"). RDNs compare as DER octets. Errors: those of the DER
  // reader with the byte offset, invalid_value for a non-Name, and for
  // dn_subtree invalid_argument for an empty Name (which would match every
  // DN: say any() instead).
  [[nodiscard]] static Result<IdPattern> dn(ByteView der) noexcept;
  [[nodiscard]] static Result<IdPattern> dn_subtree(ByteView der) noexcept;
  // fqdn: "gw.example.com", "*.example.com" or ".example.com" (DomainMatch).
  // parse_error at the offending character: "fqdn" (a character outside
  // letters, digits, '-', '_'; a '*' not followed by '.'), "fqdn label" (an
  // empty label: leading, doubled or trailing dot; or one over 63), "fqdn
  // length" (over 253 characters).
  [[nodiscard]] static Result<IdPattern> fqdn(std::string_view pattern) noexcept;
  // rfc822: "alice@example.com" (that address), "@example.com" (any user at
  // example.com), "@.example.com" / "@*.example.com" (users of sub-domains,
  // as DomainMatch). The split is at the last '@'. The local part compares
  // exactly (RFC 5321 2.4: it may be case-sensitive), the domain as a DNS
  // name. parse_error: "email @" (no '@'), "email local" (a space, control
  // character or '@' in the local part, or over 64 octets), and the fqdn
  // errors for the domain.
  [[nodiscard]] static Result<IdPattern> rfc822(std::string_view pattern) noexcept;
  // address: ID_IPV4_ADDR or ID_IPV6_ADDR inside `range` (of its family).
  // invalid_argument for a range that is not valid().
  [[nodiscard]] static Result<IdPattern> address(const AddressRange& range) noexcept;

  // parse: a pattern from configuration text. Offsets in errors count
  // characters of `text`.
  //   any                       any()
  //   null                      null_id()
  //   fqdn:<pattern>            fqdn()          fqdn:*.example.com
  //   email:<pattern>           rfc822()        email:@example.com
  //   ip:<prefix>               address()       ip:10.0.0.0/8, ip:2001:db8::/32,
  //                                             ip:192.0.2.7 (one address)
  //   ip:<first>-<last>         address()       ip:10.0.0.1-10.0.0.9
  //   keyid:<hex>               key_id()        keyid:0a1b2c
  //   dn:<hex DER>              dn()
  //   dn-subtree:<hex DER>      dn_subtree()
  // parse_error: "id pattern" (empty text, or text after "any"/"null"),
  // "id pattern kind" (an unknown kind, at 0), "ip range" (first > last, at
  // the '-'), "ip range family" (mixed families, at the last address), the
  // IP parsers' errors, "hex digit"/"hex length"/"hex empty"; DER errors at
  // the character of the failing octet; the errors of each factory above.
  [[nodiscard]] static Result<IdPattern> parse(std::string_view text) noexcept;

  // clone: an independent copy (out_of_memory).
  [[nodiscard]] Result<IdPattern> clone() const noexcept;

  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] DomainMatch domain_match() const noexcept { return domain_; }
  // type: the ID type of an exact pattern.
  [[nodiscard]] wire::IdType type() const noexcept { return type_; }
  [[nodiscard]] const AddressRange& range() const noexcept { return range_; }

  // matches: the peer's ID (type and Identification Data, as decode_id
  // returns them; the data is untrusted and read only here) is one this
  // pattern names.
  [[nodiscard]] bool matches(wire::IdType type, ByteView data) const noexcept;

 private:
  explicit IdPattern(Kind k) noexcept : kind_(k) {}
  [[nodiscard]] static Result<IdPattern> with_bytes(Kind k, wire::IdType type, ByteView data) noexcept {
    if (data.size() > limits::kMaxIdPatternSize) return Status(Errc::limit_exceeded, 0, "id pattern size");
    auto b = ByteBuffer::copy_of(data);
    if (!b) return b.status();
    IdPattern p(k);
    p.type_ = type;
    p.bytes_ = std::move(*b);
    return p;
  }
  [[nodiscard]] static Status check_domain(std::string_view text, uint32_t base, DomainMatch* mode,
                                           std::string_view* suffix) noexcept;
  [[nodiscard]] static bool domain_matches(DomainMatch mode, ByteView suffix, ByteView name) noexcept;

  Kind kind_ = Kind::none;
  DomainMatch domain_ = DomainMatch::exact;
  wire::IdType type_{};
  // exact, dn_subtree: the data. fqdn: the name without "*." or ".",
  // lowercased. rfc822: local part then the domain as for fqdn, split at
  // local_size_.
  ByteBuffer bytes_;
  size_t local_size_ = 0;
  AddressRange range_ = AddressRange::any(IpFamily::v4);
};

// AuthMethodSet: which IKEv2 Authentication Methods (RFC 7296 3.8) a peer
// may use; one bit for each of the 256 possible values, so unassigned and
// private-use values are represented too. Empty allows nothing.
class AuthMethodSet {
 public:
  constexpr AuthMethodSet() noexcept = default;
  // allow: add `m`; returns *this so that sets read as one expression:
  // AuthMethodSet().allow(AuthMethod::digital_signature).allow(...).
  constexpr AuthMethodSet& allow(wire::AuthMethod m) noexcept {
    const auto v = static_cast<uint8_t>(m);
    bits_[v / 64] |= uint64_t{1} << (v % 64);
    return *this;
  }
  [[nodiscard]] constexpr bool allows(wire::AuthMethod m) const noexcept {
    const auto v = static_cast<uint8_t>(m);
    return ((bits_[v / 64] >> (v % 64)) & 1u) != 0;
  }
  [[nodiscard]] constexpr bool empty() const noexcept {
    return (bits_[0] | bits_[1] | bits_[2] | bits_[3]) == 0;
  }
  friend constexpr bool operator==(const AuthMethodSet&, const AuthMethodSet&) noexcept = default;

 private:
  std::array<uint64_t, 4> bits_{};
};

// PadEntryConfig: what the host states for one peer or group of peers
// (RFC 4301 4.4.3). Spans are read during PadEntry::make only.
struct PadEntryConfig {
  // id: the host's handle for this entry (unique in a Pad), reported back
  // by match() through PadEntry::id() so the host can name it in logs and
  // find its own data; the library gives it no other meaning.
  uint32_t id = 0;
  // auth: the methods the peer's AUTH payload may use (4.4.3.2).
  AuthMethodSet auth;
  // psk: the pre-shared secret (4.4.3.2), copied into a SecretBytes that is
  // zeroed when the entry is dropped. Required (non-empty) when auth allows
  // SHARED_KEY_MIC: an empty key would make AUTH forgeable by anyone.
  ByteView psk;
  // trust_anchors: the host's CA certificates (its own ids) relative to
  // which the peer's certificate must validate (4.4.3.2). Certificates are
  // not parsed here; the credential store resolves the ids.
  std::span<const uint32_t> trust_anchors;
  // id_must_match_certificate: the asserted ID must equal the certificate's
  // subject (DNs) or a subjectAltName (DNS names, RFC 822 addresses, IP
  // addresses). 4.4.3.2: implementations MUST let the administrator
  // require this. Stored here; the IKE engine enforces it.
  bool id_must_match_certificate = false;
  // gateway: the outer addresses the peer's IKE messages may come from
  // (4.4.3 "peer gateway location info"; strongSwan's remote_addrs). Not
  // authenticated (and rewritten by NATs), so it narrows which entry
  // applies; it never identifies a peer. nullopt: any address.
  std::optional<AddressRange> gateway;
  // children: the child SA traffic the peer may request (4.4.3.3, the
  // "traffic selector IP addresses" choice), from this host's view (local =
  // our side, remote = the peer's side, as sa::Selector). A requested
  // selector pair must lie inside one of these. Empty: no child SA at all.
  std::span<const Selector> children;
};

// PadEntry: one validated, immutable PAD entry owning its pattern, PSK and
// lists. Move-only.
class PadEntry {
 public:
  PadEntry() noexcept = default;
  PadEntry(PadEntry&&) noexcept = default;
  PadEntry& operator=(PadEntry&&) noexcept = default;

  // make: validate and copy. Errors: invalid_argument for a pattern of
  // Kind::none ("pad pattern"), an empty auth set ("pad auth"), a missing
  // PSK when SHARED_KEY_MIC is allowed ("pad psk"), an invalid gateway
  // range ("pad gateway") or an invalid child selector ("pad child", offset
  // = its index); limit_exceeded for more than kMaxPadChildSelectors
  // children, kMaxPadTrustAnchors anchors or a PSK over kMaxPskSize;
  // out_of_memory.
  [[nodiscard]] static Result<PadEntry> make(IdPattern pattern, const PadEntryConfig& config) noexcept {
    if (pattern.kind() == IdPattern::Kind::none) return Status(Errc::invalid_argument, 0, "pad pattern");
    if (config.auth.empty()) return Status(Errc::invalid_argument, 0, "pad auth");
    if (config.psk.size() > limits::kMaxPskSize) return Status(Errc::limit_exceeded, 0, "pad psk");
    if (config.auth.allows(wire::AuthMethod::shared_key_mic) && config.psk.empty()) {
      return Status(Errc::invalid_argument, 0, "pad psk");
    }
    if (config.trust_anchors.size() > limits::kMaxPadTrustAnchors) {
      return Status(Errc::limit_exceeded, 0, "pad trust anchors");
    }
    if (config.gateway && !config.gateway->valid()) return Status(Errc::invalid_argument, 0, "pad gateway");
    if (config.children.size() > limits::kMaxPadChildSelectors) {
      return Status(Errc::limit_exceeded, 0, "pad children");
    }
    for (size_t i = 0; i < config.children.size(); ++i) {
      if (!config.children[i].valid())
        return Status(Errc::invalid_argument, static_cast<uint32_t>(i), "pad child");
    }
    PadEntry e;
    auto psk = SecretBytes::copy_of(config.psk);
    if (!psk) return psk.status();
    auto anchors = detail::OwnedArray<uint32_t>::copy_of(config.trust_anchors);
    if (!anchors) return anchors.status();
    auto children = detail::OwnedArray<Selector>::copy_of(config.children);
    if (!children) return children.status();
    e.id_ = config.id;
    e.pattern_ = std::move(pattern);
    e.auth_ = config.auth;
    e.psk_ = std::move(*psk);
    e.trust_anchors_ = std::move(*anchors);
    e.id_must_match_certificate_ = config.id_must_match_certificate;
    e.gateway_ = config.gateway;
    e.children_ = std::move(*children);
    return e;
  }

  [[nodiscard]] uint32_t id() const noexcept { return id_; }
  [[nodiscard]] const IdPattern& pattern() const noexcept { return pattern_; }
  [[nodiscard]] const AuthMethodSet& auth() const noexcept { return auth_; }
  // psk: empty when the entry has none. Compare derived values with
  // ct_equal, never this key with ==.
  [[nodiscard]] const SecretBytes& psk() const noexcept { return psk_; }
  [[nodiscard]] std::span<const uint32_t> trust_anchors() const noexcept { return trust_anchors_.view(); }
  [[nodiscard]] bool id_must_match_certificate() const noexcept { return id_must_match_certificate_; }
  [[nodiscard]] const std::optional<AddressRange>& gateway() const noexcept { return gateway_; }
  [[nodiscard]] std::span<const Selector> children() const noexcept { return children_.view(); }

  // applies: the entry's pattern names this ID and its gateway constraint
  // (if any) admits the address the IKE messages come from.
  [[nodiscard]] bool applies(wire::IdType type, ByteView id_data,
                             const IpAddress& peer_address) const noexcept {
    return pattern_.matches(type, id_data) && (!gateway_ || gateway_->contains(peer_address));
  }

 private:
  uint32_t id_ = 0;
  IdPattern pattern_;
  AuthMethodSet auth_;
  SecretBytes psk_;
  detail::OwnedArray<uint32_t> trust_anchors_;
  bool id_must_match_certificate_ = false;
  std::optional<AddressRange> gateway_;
  detail::OwnedArray<Selector> children_;
};

// Pad: the ordered database. Entries keep their addresses for the Pad's
// lifetime (each is its own allocation), so a `const PadEntry*` from
// match() stays valid across later add() calls.
class Pad {
 public:
  Pad() noexcept = default;
  Pad(Pad&&) noexcept = default;
  Pad& operator=(Pad&&) noexcept = default;

  // add: append `entry` after every existing one (control plane only; not
  // to be called while another thread reads). Errors: limit_exceeded at
  // kMaxPadEntries, invalid_argument when another entry has the same id()
  // ("pad entry id", offset = that entry's index), out_of_memory. On error
  // the Pad is unchanged.
  [[nodiscard]] Status add(PadEntry&& entry) noexcept {
    if (size_ >= limits::kMaxPadEntries) return Status(Errc::limit_exceeded, 0, "pad entries");
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i]->id() == entry.id()) {
        return Status(Errc::invalid_argument, static_cast<uint32_t>(i), "pad entry id");
      }
    }
    if (size_ == capacity_) {
      const size_t grown = capacity_ == 0 ? 8 : capacity_ * 2;
      const size_t capacity = grown < limits::kMaxPadEntries ? grown : limits::kMaxPadEntries;
      std::unique_ptr<std::unique_ptr<PadEntry>[]> larger(new (std::nothrow)
                                                              std::unique_ptr<PadEntry>[capacity]);
      if (!larger) return Errc::out_of_memory;
      for (size_t i = 0; i < size_; ++i) larger[i] = std::move(entries_[i]);
      entries_ = std::move(larger);
      capacity_ = capacity;
    }
    std::unique_ptr<PadEntry> owned(new (std::nothrow) PadEntry(std::move(entry)));
    if (!owned) return Errc::out_of_memory;
    entries_[size_++] = std::move(owned);
    return Status::success();
  }

  [[nodiscard]] size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const PadEntry& operator[](size_t i) const noexcept {
    IPSEC_ASSERT(i < size_);
    return *entries_[i];
  }

  // match: the first entry, in the order added, whose pattern names the
  // peer's asserted ID and whose gateway constraint admits `peer_address`
  // (the source address of the peer's IKE messages). RFC 4301 4.4.3.1: the
  // PAD is ordered like the SPD because group ("star name") entries
  // overlap, and the administrator's order says which wins; an entry whose
  // gateway excludes the address is passed over as if its ID had not
  // matched, so a later, more general entry may still apply. nullptr: no
  // entry, and the IKE SA must be refused (4.4.3.4:
  // AUTHENTICATION_FAILED). The ID data is read only during the call.
  [[nodiscard]] const PadEntry* match(wire::IdType type, ByteView id_data,
                                      const IpAddress& peer_address) const noexcept {
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i]->applies(type, id_data, peer_address)) return entries_[i].get();
    }
    return nullptr;
  }
  [[nodiscard]] const PadEntry* match(const wire::IdPayload& id,
                                      const IpAddress& peer_address) const noexcept {
    return match(id.type, id.data, peer_address);
  }

  // find: the entry with the host's `id` (an initiator knows which peer it
  // is calling and checks the responder's IDr against that entry with
  // PadEntry::applies), or nullptr.
  [[nodiscard]] const PadEntry* find(uint32_t id) const noexcept {
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i]->id() == id) return entries_[i].get();
    }
    return nullptr;
  }

  // authorize_auth: the entry lets the peer authenticate with `method`
  // (4.4.3.2: the PAD, not the peer, chooses the method).
  [[nodiscard]] static bool authorize_auth(const PadEntry& entry, wire::AuthMethod method) noexcept {
    return entry.auth().allows(method);
  }
  // authorize_child: `requested` (a peer's TSi/TSr pair turned into this
  // host's view, possibly after narrowing) lies wholly inside one selector
  // the entry allows: every packet it matches, that one matches too
  // (Selector::contains). 4.4.3.3/4.4.3.4: this keeps an authenticated peer
  // from claiming traffic of other peers. Not inside one single selector
  // (even if covered by the union of several), of another address family,
  // or invalid: false.
  [[nodiscard]] static bool authorize_child(const PadEntry& entry, const Selector& requested) noexcept {
    if (!requested.valid()) return false;
    for (const Selector& allowed : entry.children()) {
      if (allowed.contains(requested)) return true;
    }
    return false;
  }

 private:
  std::unique_ptr<std::unique_ptr<PadEntry>[]> entries_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// ---------------------------------------------------------------------------
// IdPattern bodies.

inline Result<IdPattern> IdPattern::exact(wire::IdType type, ByteView data) noexcept {
  if (data.empty() || type == wire::IdType::null_id) return Status(Errc::invalid_argument, 0, "id pattern");
  return with_bytes(Kind::exact, type, data);
}

inline Result<IdPattern> IdPattern::dn(ByteView der) noexcept {
  size_t rdns = 0;
  IPSEC_TRY(detail::check_dn(der, &rdns));
  return with_bytes(Kind::exact, wire::IdType::der_asn1_dn, der);
}

inline Result<IdPattern> IdPattern::dn_subtree(ByteView der) noexcept {
  size_t rdns = 0;
  IPSEC_TRY(detail::check_dn(der, &rdns));
  if (rdns == 0) return Status(Errc::invalid_argument, 0, "dn subtree empty");
  return with_bytes(Kind::dn_subtree, wire::IdType::der_asn1_dn, der);
}

inline Status IdPattern::check_domain(std::string_view text, uint32_t base, DomainMatch* mode,
                                      std::string_view* suffix) noexcept {
  size_t start = 0;
  *mode = DomainMatch::exact;
  if (text.size() >= 2 && text[0] == '*' && text[1] == '.') {
    *mode = DomainMatch::one_label;
    start = 2;
  } else if (!text.empty() && text[0] == '.') {
    *mode = DomainMatch::subtree;
    start = 1;
  }
  if (text.size() > detail::kMaxDnsNameText) {
    return Status(Errc::parse_error, base + static_cast<uint32_t>(detail::kMaxDnsNameText), "fqdn length");
  }
  size_t label = 0;
  for (size_t i = start; i <= text.size(); ++i) {
    const auto at = base + static_cast<uint32_t>(i);
    if (i == text.size() || text[i] == '.') {
      if (label == 0) return Status(Errc::parse_error, at, "fqdn label");
      label = 0;
      continue;
    }
    if (!detail::is_label_char(static_cast<uint8_t>(text[i]))) return Status(Errc::parse_error, at, "fqdn");
    if (++label > detail::kMaxDnsLabel) return Status(Errc::parse_error, at, "fqdn label");
  }
  *suffix = text.substr(start);
  return Status::success();
}

inline bool IdPattern::domain_matches(DomainMatch mode, ByteView suffix, ByteView name) noexcept {
  switch (mode) {
    case DomainMatch::exact: return detail::ascii_iequal(suffix, name);
    case DomainMatch::one_label:
    case DomainMatch::subtree: {
      // name = <labels> "." suffix, with at least one label in front.
      if (name.size() < suffix.size() + 2) return false;
      const size_t head = name.size() - suffix.size() - 1;
      if (name[head] != '.' || !detail::ascii_iequal(suffix, name.last(suffix.size()))) return false;
      return detail::valid_labels(name.first(head), mode == DomainMatch::one_label);
    }
  }
  return false;
}

inline Result<IdPattern> IdPattern::fqdn(std::string_view pattern) noexcept {
  DomainMatch mode{};
  std::string_view suffix;
  IPSEC_TRY(check_domain(pattern, 0, &mode, &suffix));
  auto p = with_bytes(Kind::fqdn, wire::IdType::fqdn, as_bytes(suffix));
  if (!p) return p;
  for (uint8_t& c : p->bytes_.mutable_view()) c = detail::ascii_lower(c);
  p->domain_ = mode;
  return p;
}

inline Result<IdPattern> IdPattern::rfc822(std::string_view pattern) noexcept {
  const size_t at = pattern.rfind('@');
  if (at == std::string_view::npos) {
    return Status(Errc::parse_error, static_cast<uint32_t>(pattern.size()), "email @");
  }
  if (at > detail::kMaxLocalPart) {
    return Status(Errc::parse_error, static_cast<uint32_t>(detail::kMaxLocalPart), "email local");
  }
  for (size_t i = 0; i < at; ++i) {
    const auto c = static_cast<uint8_t>(pattern[i]);
    if (c <= 0x20 || c >= 0x7f || c == '@')
      return Status(Errc::parse_error, static_cast<uint32_t>(i), "email local");
  }
  DomainMatch mode{};
  std::string_view domain;
  IPSEC_TRY(check_domain(pattern.substr(at + 1), static_cast<uint32_t>(at + 1), &mode, &domain));
  // Stored as local part | domain, the domain lowercased.
  const size_t domain_at = pattern.size() - domain.size();
  auto b = ByteBuffer::allocate(at + domain.size());
  if (!b) return b.status();
  MutableByteView out = b->mutable_view();
  for (size_t i = 0; i < at; ++i) out[i] = static_cast<uint8_t>(pattern[i]);
  for (size_t i = 0; i < domain.size(); ++i) {
    out[at + i] = detail::ascii_lower(static_cast<uint8_t>(pattern[domain_at + i]));
  }
  IdPattern p(Kind::rfc822);
  p.type_ = wire::IdType::rfc822_addr;
  p.domain_ = mode;
  p.bytes_ = std::move(*b);
  p.local_size_ = at;
  return p;
}

inline Result<IdPattern> IdPattern::address(const AddressRange& range) noexcept {
  if (!range.valid()) return Status(Errc::invalid_argument, 0, "id pattern range");
  IdPattern p(Kind::address);
  p.type_ = range.family() == IpFamily::v4 ? wire::IdType::ipv4_addr : wire::IdType::ipv6_addr;
  p.range_ = range;
  return p;
}

inline Result<IdPattern> IdPattern::clone() const noexcept {
  auto b = bytes_.clone();
  if (!b) return b.status();
  IdPattern p(kind_);
  p.domain_ = domain_;
  p.type_ = type_;
  p.bytes_ = std::move(*b);
  p.local_size_ = local_size_;
  p.range_ = range_;
  return p;
}

inline Result<IdPattern> IdPattern::parse(std::string_view text) noexcept {
  if (text.empty()) return Status(Errc::parse_error, 0, "id pattern");
  const size_t colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const std::string_view body = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  const auto base = static_cast<uint32_t>(colon == std::string_view::npos ? text.size() : colon + 1);
  if (kind == "any" || kind == "null") {
    if (colon != std::string_view::npos)
      return Status(Errc::parse_error, static_cast<uint32_t>(colon), "id pattern");
    return kind == "any" ? any() : null_id();
  }
  if (colon == std::string_view::npos) return Status(Errc::parse_error, 0, "id pattern kind");
  if (kind == "fqdn") {
    auto p = fqdn(body);
    return p ? std::move(p) : Result<IdPattern>(detail::rebase(p.status(), base));
  }
  if (kind == "email") {
    auto p = rfc822(body);
    return p ? std::move(p) : Result<IdPattern>(detail::rebase(p.status(), base));
  }
  if (kind == "ip") {
    const size_t dash = body.find('-');
    if (dash == std::string_view::npos) {
      auto prefix = IpPrefix::parse(body);
      if (!prefix) return detail::rebase(prefix.status(), base);
      return address(AddressRange::of(*prefix));
    }
    auto first = IpAddress::parse(body.substr(0, dash));
    if (!first) return detail::rebase(first.status(), base);
    const auto last_at = base + static_cast<uint32_t>(dash + 1);
    auto last = IpAddress::parse(body.substr(dash + 1));
    if (!last) return detail::rebase(last.status(), last_at);
    if (first->family() != last->family()) return Status(Errc::parse_error, last_at, "ip range family");
    if (*last < *first) return Status(Errc::parse_error, base + static_cast<uint32_t>(dash), "ip range");
    return address(AddressRange{*first, *last});
  }
  if (kind == "keyid" || kind == "dn" || kind == "dn-subtree") {
    auto bytes = detail::parse_hex(body, base);
    if (!bytes) return bytes.status();
    Result<IdPattern> p = kind == "keyid" ? key_id(bytes->view())
                          : kind == "dn"  ? dn(bytes->view())
                                          : dn_subtree(bytes->view());
    if (p) return p;
    // A DER error's offset counts octets; each is two characters of hex.
    const Status s = p.status();
    return Status(s.code(), s.has_offset() ? base + 2 * s.offset() : base, s.field());
  }
  return Status(Errc::parse_error, 0, "id pattern kind");
}

inline bool IdPattern::matches(wire::IdType type, ByteView data) const noexcept {
  switch (kind_) {
    case Kind::none: return false;
    case Kind::any: return type != wire::IdType::null_id;
    case Kind::null_id: return type == wire::IdType::null_id;
    case Kind::exact: return type == type_ && equal_bytes(bytes_.view(), data);
    case Kind::fqdn: return type == wire::IdType::fqdn && domain_matches(domain_, bytes_.view(), data);
    case Kind::rfc822: {
      if (type != wire::IdType::rfc822_addr) return false;
      size_t at = data.size();
      while (at > 0 && data[at - 1] != '@') --at;
      if (at == 0) return false;  // no '@'
      const ByteView local = data.first(at - 1);
      const ByteView domain = data.subspan(at);
      const ByteView want_local = bytes_.view().first(local_size_);
      if (local_size_ == 0 ? local.empty() : !equal_bytes(want_local, local)) return false;
      return domain_matches(domain_, bytes_.view().subspan(local_size_), domain);
    }
    case Kind::dn_subtree: {
      if (type != wire::IdType::der_asn1_dn) return false;
      wire::DerElement mine, theirs;
      if (!wire::read_single_der(bytes_.view(), &mine) || !wire::read_single_der(data, &theirs)) return false;
      if (theirs.tag != wire::der_tag::kSequence) return false;
      ByteReader want(mine.value);
      ByteReader got(theirs.value);
      // Each RDN is compared as tag and value octets: DER lengths are
      // minimal (read_der refuses others), so equal values encode equally.
      while (!want.empty()) {
        wire::DerElement a, b;
        if (!wire::read_der(want, &a) || !wire::read_der(got, &b)) return false;
        if (a.tag != b.tag || !equal_bytes(a.value, b.value)) return false;
      }
      // The rest of the peer's DN must still be well-formed RDNs.
      while (!got.empty()) {
        wire::DerElement rest;
        if (!wire::read_der_tagged(got, wire::der_tag::kSet, &rest)) return false;
      }
      return true;
    }
    case Kind::address: {
      if (type != type_) return false;
      auto a = IpAddress::from_bytes(data);
      return a && range_.contains(*a);
    }
  }
  return false;
}

}  // namespace ipsec::sa
