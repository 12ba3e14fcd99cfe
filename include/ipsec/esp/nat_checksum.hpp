// SPDX-License-Identifier: Apache-2.0
// RFC 3948 3.1.2: transport-mode ESP through a NAT. The peer computed its
// TCP/UDP checksums over the addresses it knew (its own private address,
// the address it sent to); the packet arrives with the translated ones, so
// the receiver adjusts the checksum for the difference, incrementally
// (RFC 1624: HC' = ~(~HC + ~m + m') for every 16-bit word m that became m').
#pragma once

#include <cstddef>
#include <cstdint>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace ipsec::esp::detail {

// checksum_replace: the Internet checksum `checksum` after the octets
// `before` (in the checksummed data) were replaced by `after` (same length,
// an even number of octets).
[[nodiscard]] inline uint16_t checksum_replace(uint16_t checksum, ByteView before, ByteView after) noexcept {
  uint32_t sum = static_cast<uint16_t>(~checksum);
  ByteReader old_words(before), new_words(after);
  uint16_t m = 0, m2 = 0;
  while (old_words.read_u16(&m) && new_words.read_u16(&m2)) {
    sum += static_cast<uint16_t>(~m);
    sum += m2;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// fix_nat_checksum: `packet` is a reconstructed transport-mode IP packet
// whose upper-layer header starts at `l4_offset` with protocol
// `next_header`. original_source / original_destination: the addresses the
// peer used (NAT-OA, RFC 7296 / RFC 3947), or nullptr when that address was
// not translated. Only TCP and UDP carry a pseudo-header checksum; a UDP
// checksum of zero means "none" (RFC 768; over IPv6 only under RFC 6935)
// and stays. Returns whether the packet was long enough to hold its IP
// addresses and the checksum.
[[nodiscard]] inline bool fix_nat_checksum(MutableByteView packet, size_t l4_offset, uint8_t next_header,
                                           const IpAddress* original_source,
                                           const IpAddress* original_destination) noexcept {
  const bool v4 = !packet.empty() && (packet[0] >> 4) == 4;
  if (packet.size() < (v4 ? wire::Ipv4Header::kMinSize : wire::Ipv6Header::kSize)) return false;
  size_t field = 0;
  if (next_header == static_cast<uint8_t>(wire::IpProtocol::tcp)) {
    field = l4_offset + 16;  // RFC 9293 3.1
  } else if (next_header == static_cast<uint8_t>(wire::IpProtocol::udp)) {
    field = l4_offset + 6;  // RFC 768
  } else {
    return true;
  }
  if (packet.size() < field + 2) return false;
  const MutableByteView slot = packet.subspan(field, 2);
  uint16_t checksum = load_be16(slot.first<2>());
  const bool udp = next_header == static_cast<uint8_t>(wire::IpProtocol::udp);
  if (udp && checksum == 0) return true;
  const size_t addr = v4 ? 4 : 16;
  const ByteView received_source = ByteView(packet).subspan(v4 ? 12 : 8, addr);
  const ByteView received_destination = ByteView(packet).subspan(v4 ? 16 : 24, addr);
  if (original_source != nullptr && original_source->size() == addr) {
    checksum = checksum_replace(checksum, original_source->bytes(), received_source);
  }
  if (original_destination != nullptr && original_destination->size() == addr) {
    checksum = checksum_replace(checksum, original_destination->bytes(), received_destination);
  }
  if (udp && checksum == 0) checksum = 0xffff;  // RFC 768: a computed zero is sent as all ones
  store_be16(slot.first<2>(), checksum);
  return true;
}

}  // namespace ipsec::esp::detail
