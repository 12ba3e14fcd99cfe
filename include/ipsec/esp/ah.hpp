// SPDX-License-Identifier: Apache-2.0
// AH (RFC 4302) framing: the header size per ICV length and IP version, the
// buffer room AH needs, and the IPv4 options AH treats as immutable. The
// packet path itself is esp::seal()/esp::open() (esp/esp.hpp), which
// dispatch on SaConfig::protocol.
//
// What the ICV covers (RFC 4302 3.3.3.1), as this library computes it:
// - IPv4: the header with TOS, flags + fragment offset, TTL and checksum
//   zeroed. Options: EOL, NOP, Security (130), Extended Security (133),
//   Commercial Security (134), Router Alert (148) and Sender Directed
//   Multi-Destination Delivery (149) are included as they are (Appendix A1
//   lists them immutable); every other option is zeroed as a whole, type and
//   length included (3.3.3.1.1.2). Loose and strict source routes (131, 137)
//   are refused with unsupported_header: they make the destination field
//   "mutable but predictable", and the ICV would have to be computed over
//   the final destination instead of the one on the wire.
// - IPv6: the fixed header with traffic class, flow label and hop limit
//   zeroed (3.3.3.1.2.1); in hop-by-hop and destination options headers in
//   front of AH, the Option Data of every option whose type has the
//   "may change en route" bit (0x20, RFC 8200 4.2) is zeroed (3.3.3.1.2.2).
//   A routing header (mutable but predictable, Appendix A2) or any other
//   extension header in front of AH is refused with unsupported_header.
//   Headers behind AH are payload and covered as they are.
// - The AH header with its ICV octets zeroed; the ICV padding (which this
//   library sends as zeros) is covered as transmitted (3.3.3.2.1).
// - The payload and, with ESN, the high-order 32 bits of the sequence
//   number appended after it (3.3.3.2.2).
// Mutable fields are zeroed in the packet itself, saved on the stack and
// restored after the ICV is computed: no copy of the packet is made.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace ipsec::esp {

// Next Header, Payload Len, Reserved, SPI, Sequence Number (RFC 4302 2).
inline constexpr size_t kAhFixedSize = 12;

// ah_header_size: the AH header with an ICV of `icv_size` octets, padded to
// 32 bits over IPv4 and to 64 bits over IPv6 (RFC 4302 2.6, 3.3.3.2.1):
// 12-octet ICVs give 24 octets for both; HMAC-SHA2-256-128 28 (IPv4) or 32
// (IPv6); -384-192 36 or 40; -512-256 44 or 48. Payload Len is this / 4 - 2.
[[nodiscard]] constexpr size_t ah_header_size(size_t icv_size, IpFamily family) noexcept {
  const size_t align = family == IpFamily::v4 ? 4 : 8;
  return (kAhFixedSize + icv_size + align - 1) / align * align;
}

// Headroom seal() needs for AH: an outer IPv6 header and the largest AH
// (tunnel mode); transport mode needs only the AH header. AH needs no
// tailroom. limits::kEspMaxHeadroom covers it.
inline constexpr size_t kAhMaxHeadroom =
    wire::Ipv6Header::kSize + ah_header_size(limits::kMaxIcvSize, IpFamily::v6);
static_assert(kAhMaxHeadroom <= limits::kEspMaxHeadroom);

// Stack budget for the mutable fields zeroed during one ICV computation
// (saved and restored): ranges, and octets in all. Real packets need a few
// ranges and a few dozen octets; past this a packet is refused
// (limit_exceeded) rather than handled with an allocation.
inline constexpr size_t kAhMaxMutableRanges = 64;
inline constexpr size_t kAhMaxMutableOctets = 512;

// IPv4 option types (RFC 791, IANA "IP Option Numbers").
inline constexpr uint8_t kIpv4OptionEol = 0;
inline constexpr uint8_t kIpv4OptionNop = 1;
inline constexpr uint8_t kIpv4OptionLsrr = 131;
inline constexpr uint8_t kIpv4OptionSsrr = 137;

// ah_ipv4_option_immutable: the options RFC 4302 Appendix A1 lists as
// immutable, included in the ICV as they are.
[[nodiscard]] constexpr bool ah_ipv4_option_immutable(uint8_t type) noexcept {
  switch (type) {
    case kIpv4OptionEol:
    case kIpv4OptionNop:
    case 130:  // Security (RFC 1108)
    case 133:  // Extended Security (RFC 1108)
    case 134:  // Commercial Security
    case 148:  // Router Alert (RFC 2113)
    case 149:  // Sender Directed Multi-Destination Delivery (RFC 1770)
      return true;
    default: return false;
  }
}

// The "Option Data may change en route" bit of an IPv6 option type (RFC 8200 4.2).
inline constexpr uint8_t kIpv6OptionMayChange = 0x20;

}  // namespace ipsec::esp
