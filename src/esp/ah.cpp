// SPDX-License-Identifier: Apache-2.0
// AH (RFC 4302) on the packet path: in place on the host's buffer, no
// allocation. What the ICV covers, and which headers are refused, is
// documented in include/ipsec/esp/ah.hpp.
//
// Outbound, transport mode: IP header (+ IPv6 headers routers read) | AH | payload
//           tunnel mode:    outer IP | AH | inner packet
// The ICV is computed over the final datagram (lengths, protocol and
// checksum as sent) with the mutable fields zeroed in place and restored.
#include "ipsec/esp/ah.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "ipsec/bytes/writer.hpp"
#include "ipsec/esp/esp.hpp"

namespace ipsec::esp::detail {
namespace {

constexpr uint8_t kProtocolAh = static_cast<uint8_t>(SecurityProtocol::ah);

// MutableFields: zeroes ranges of a packet for one ICV computation and puts
// the original octets back on restore() or destruction, so that an early
// return can never leave a zeroed TTL or checksum behind.
class MutableFields {
 public:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): ranges_ and saved_ stay uninitialised (below).
  explicit MutableFields(MutableByteView packet) noexcept : packet_(packet) {}
  ~MutableFields() { restore(); }
  MutableFields(const MutableFields&) = delete;
  MutableFields& operator=(const MutableFields&) = delete;

  // zero: save packet[offset, offset + n) and zero it. limit_exceeded when
  // the stack budget is spent (ah.hpp: kAhMaxMutableRanges/Octets).
  [[nodiscard]] Status zero(size_t offset, size_t n) noexcept {
    if (n == 0) return Status::success();
    if (offset > packet_.size() || n > packet_.size() - offset || packet_.size() > 0xffffffffu) {
      return Status(Errc::invalid_length, static_cast<uint32_t>(offset), "ah mutable field");
    }
    if (count_ == ranges_.size() || n > saved_.size() - used_) {
      return Status(Errc::limit_exceeded, static_cast<uint32_t>(offset), "ah mutable fields");
    }
    const MutableByteView field = packet_.subspan(offset, n);
    std::copy(field.begin(), field.end(), MutableByteView(saved_).subspan(used_, n).begin());
    std::fill(field.begin(), field.end(), uint8_t{0});
    ranges_[count_++] = Range{static_cast<uint32_t>(offset), static_cast<uint32_t>(n)};
    used_ += n;
    return Status::success();
  }

  void restore() noexcept {
    size_t at = 0;
    for (size_t i = 0; i < count_; ++i) {
      const ByteView saved = ByteView(saved_).subspan(at, ranges_[i].length);
      std::copy(saved.begin(), saved.end(), packet_.subspan(ranges_[i].offset).begin());
      at += ranges_[i].length;
    }
    count_ = 0;
    used_ = 0;
  }

 private:
  struct Range {
    uint32_t offset;  // packets are at most 65535 + 40 octets
    uint32_t length;
  };
  MutableByteView packet_;
  // Left uninitialised: only the first count_ / used_ entries are ever
  // read, and clearing 1 KiB per packet would cost more than the header work.
  std::array<Range, kAhMaxMutableRanges> ranges_;
  std::array<uint8_t, kAhMaxMutableOctets> saved_;
  size_t count_ = 0;
  size_t used_ = 0;
};

// zero_or_check: with m, zero the range; without, only validate the packet.
[[nodiscard]] Status zero_or_check(MutableFields* m, size_t offset, size_t n) noexcept {
  return m != nullptr ? m->zero(offset, n) : Status::success();
}

// ipv4_mutable: RFC 4302 3.3.3.1.1 for the IPv4 header packet[0, ihl).
[[nodiscard]] Status ipv4_mutable(MutableFields* m, ByteView packet, size_t ihl) noexcept {
  // 3.3.3.1.1.1: TOS (DSCP and ECN), flags and fragment offset, TTL and the
  // checksum change in transit; version, IHL, total length, identification,
  // protocol and the addresses do not.
  IPSEC_TRY(zero_or_check(m, 1, 1));
  IPSEC_TRY(zero_or_check(m, 6, 3));
  IPSEC_TRY(zero_or_check(m, 10, 2));
  constexpr size_t kBase = wire::Ipv4Header::kMinSize;
  if (ihl < kBase || ihl > packet.size()) return Status(Errc::invalid_length, 0, "ipv4 ihl");
  ByteReader r(packet.subspan(kBase, ihl - kBase), static_cast<uint32_t>(kBase));
  while (!r.empty()) {
    const size_t start = kBase + r.position();
    uint8_t type = 0, length = 0;
    (void)r.read_u8(&type);
    // RFC 791: after End of Option List only padding follows; it is covered as it is.
    if (type == kIpv4OptionEol) break;
    if (type == kIpv4OptionNop) continue;
    if (!r.read_u8(&length)) return r.status().with_field("ipv4 option length");
    if (length < 2)
      return Status(Errc::invalid_length, static_cast<uint32_t>(start + 1), "ipv4 option length");
    if (!r.skip(length - 2u)) return r.status().with_field("ipv4 option");
    if (type == kIpv4OptionLsrr || type == kIpv4OptionSsrr) {
      // Mutable but predictable (Appendix A1): the ICV would cover the final
      // destination, not the one on the wire. Not supported.
      return Status(Errc::unsupported_header, static_cast<uint32_t>(start), "ipv4 source route option");
    }
    // 3.3.3.1.1.2: a mutable IPv4 option is zeroed whole, type and length included.
    if (!ah_ipv4_option_immutable(type)) IPSEC_TRY(zero_or_check(m, start, length));
  }
  return Status::success();
}

// ipv6_options_mutable: the Option Data of options that may change en route,
// in the hop-by-hop or destination options header packet[start, start + size)
// (RFC 4302 3.3.3.1.2.2, RFC 8200 4.2).
[[nodiscard]] Status ipv6_options_mutable(MutableFields* m, ByteView packet, size_t start,
                                          size_t size) noexcept {
  ByteReader r(packet.subspan(start + 2, size - 2), static_cast<uint32_t>(start + 2));
  while (!r.empty()) {
    uint8_t type = 0, length = 0;
    (void)r.read_u8(&type);
    if (type == 0) continue;  // Pad1: a single octet
    if (!r.read_u8(&length)) return r.status().with_field("ipv6 option length");
    const size_t data = r.offset();
    if (!r.skip(length)) return r.status().with_field("ipv6 option data");
    if ((type & kIpv6OptionMayChange) != 0) IPSEC_TRY(zero_or_check(m, data, length));
  }
  return Status::success();
}

// ipv6_mutable: RFC 4302 3.3.3.1.2 for the IPv6 header and the extension
// headers in front of AH, packet[0, ah_offset).
[[nodiscard]] Status ipv6_mutable(MutableFields* m, MutableByteView packet, size_t ah_offset) noexcept {
  constexpr size_t kBase = wire::Ipv6Header::kSize;
  if (ah_offset < kBase || ah_offset > packet.size()) return Status(Errc::invalid_length, 4, "ipv6 header");
  if (m != nullptr) {
    // 3.3.3.1.2.1: traffic class, flow label and hop limit change in
    // transit. Octets 0-3 hold version | traffic class | flow label: all
    // four are saved and zeroed, then the (immutable) version nibble is
    // written back; restoring puts octet 0 back as received.
    const uint8_t version = packet[0] & 0xf0;
    IPSEC_TRY(m->zero(0, 4));
    packet[0] = version;
    IPSEC_TRY(m->zero(7, 1));
  }
  ByteReader r(ByteView(packet).first(ah_offset).subspan(kBase), static_cast<uint32_t>(kBase));
  uint8_t type = packet[6];
  while (!r.empty()) {
    const size_t start = r.offset();
    uint8_t next = 0, length = 0;
    if (!r.read_u8(&next) || !r.read_u8(&length)) return r.status().with_field("ipv6 extension header");
    if (type != static_cast<uint8_t>(wire::IpProtocol::hop_by_hop) &&
        type != static_cast<uint8_t>(wire::IpProtocol::destination_options)) {
      // 3.3.3.1.2.3 / Appendix A2: a routing header makes the destination
      // mutable but predictable (the ICV would cover the final destination
      // and the addresses as the receiver sees them); other headers are not
      // expected in front of AH. Neither is supported.
      return Status(Errc::unsupported_header, static_cast<uint32_t>(start),
                    type == static_cast<uint8_t>(wire::IpProtocol::routing) ? "ipv6 routing header"
                                                                            : "ipv6 header before ah");
    }
    const size_t size = (size_t{length} + 1) * 8;  // RFC 8200 4.3, 4.6
    if (!r.skip(size - 2)) return r.status().with_field("ipv6 options header");
    IPSEC_TRY(ipv6_options_mutable(m, packet, start, size));
    type = next;
  }
  return Status::success();
}

// zero_mutable: the mutable fields of the headers in front of the AH header
// at ah_offset (only validated when m is null).
[[nodiscard]] Status zero_mutable(MutableFields* m, MutableByteView packet, size_t ah_offset) noexcept {
  if (packet.empty()) return Status(Errc::truncated, 0, "ip header");
  if ((packet[0] >> 4) == 4) return ipv4_mutable(m, packet, ah_offset);
  return ipv6_mutable(m, packet, ah_offset);
}

// compute_icv / verify_icv: the ICV input is the datagram and, with ESN, the implicit Seqh
// appended after it (RFC 4302 3.3.3.2.2, Appendix B).
[[nodiscard]] Status compute_icv(crypto::Integrity& integ, ByteView packet, uint64_t seq, bool esn,
                                 MutableByteView icv) noexcept {
  std::array<uint8_t, 4> seq_high{};
  store_be32(seq_high, static_cast<uint32_t>(seq >> 32));
  const ByteView parts[] = {packet, seq_high};
  return integ.compute(std::span<const ByteView>(parts).first(esn ? 2 : 1), icv);
}

[[nodiscard]] Status verify_icv(crypto::Integrity& integ, ByteView packet, uint64_t seq, bool esn,
                                ByteView icv) noexcept {
  std::array<uint8_t, 4> seq_high{};
  store_be32(seq_high, static_cast<uint32_t>(seq >> 32));
  const ByteView parts[] = {packet, seq_high};
  return integ.verify(std::span<const ByteView>(parts).first(esn ? 2 : 1), icv);
}

// write_ah_header: RFC 4302 2; the ICV and padding octets are zero.
void write_ah_header(MutableByteView ah, uint8_t next_header, uint32_t spi, uint64_t seq) noexcept {
  ByteWriter w(ah);
  w.put_u8(next_header);
  w.put_u8(static_cast<uint8_t>(ah.size() / 4 - 2));  // 2.2: length in 32-bit words, minus 2
  w.put_u16(0);                                       // 2.3: reserved
  w.put_u32(spi);
  w.put_u32(static_cast<uint32_t>(seq));  // 2.5: the low-order 32 bits
  w.put_zeros(ah.size() - kAhFixedSize);
}

// seal_icv: compute the ICV of the finished datagram (AH at ah_offset, ICV
// field zero) and write it into the AH header.
[[nodiscard]] Status seal_icv(OutboundSa& sa, MutableByteView packet, size_t ah_offset,
                              uint64_t seq) noexcept {
  const Transforms& t = sa.transforms();
  std::array<uint8_t, limits::kMaxIcvSize> icv{};
  const MutableByteView out = MutableByteView(icv).first(t.icv_size);
  {
    MutableFields m(packet);
    IPSEC_TRY(zero_mutable(&m, packet, ah_offset));
    IPSEC_TRY(compute_icv(*t.integ, packet, seq, sa.config().esn, out));
  }  // mutable fields restored
  std::copy(out.begin(), out.end(), packet.subspan(ah_offset + kAhFixedSize, t.icv_size).begin());
  return Status::success();
}

// ah_verify: zero the mutable fields and the ICV, verify (with the RFC 4302
// B.3 / RFC 4303 A3 resynchronisation when due), restore. *seq is the
// inferred sequence number, replaced by the one that verified.
[[nodiscard]] Status ah_verify(InboundSa& sa, MutableByteView packet, size_t ah_offset, uint32_t low,
                               uint64_t* seq) noexcept {
  const Transforms& t = sa.transforms();
  const bool esn = sa.config().esn;
  // The received ICV goes to the stack before its field is zeroed.
  std::array<uint8_t, limits::kMaxIcvSize> received{};
  const MutableByteView icv = MutableByteView(received).first(t.icv_size);
  const ByteView field = ByteView(packet).subspan(ah_offset + kAhFixedSize, t.icv_size);
  std::copy(field.begin(), field.end(), icv.begin());
  MutableFields m(packet);
  IPSEC_TRY(zero_mutable(&m, packet, ah_offset));
  IPSEC_TRY(m.zero(ah_offset + kAhFixedSize, t.icv_size));
  Status st = verify_icv(*t.integ, packet, *seq, esn, icv);
  if (st == Errc::integrity_check_failed && sa.resync_due()) {
    // Many consecutive failures: the sender may be more than 2^32 packets
    // ahead; try the next high-order halves (AH needs no copy: verifying
    // leaves the packet as it was).
    uint64_t high = *seq >> 32;
    for (uint32_t k = 0; st == Errc::integrity_check_failed && k < sa.config().esn_resync_attempts; ++k) {
      if (++high > 0xffffffffu) break;
      const uint64_t candidate = (high << 32) | low;
      st = verify_icv(*t.integ, packet, candidate, true, icv);
      if (st.ok()) *seq = candidate;
    }
  }
  return st;
}

}  // namespace

Result<SealInfo> ah_seal(OutboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  const SaConfig& c = sa.config();
  const Transforms& t = sa.transforms();
  if (!t.integ || t.icv_size > limits::kMaxIcvSize) return Errc::invalid_argument;
  // As ESP: the IP packet is what its own length field says; link padding
  // behind it is neither sent nor covered.
  auto length = ip_packet_length(pb.data());
  if (!length) return length.status();
  if (*length < pb.size()) (void)pb.trim(pb.size() - *length);
  const size_t inner_size = pb.size();
  SealInfo info;
  if (c.mode == Mode::tunnel) {
    auto inner = inspect_inner(pb.data());
    if (!inner) return inner.status();
    const TunnelConfig& tun = *c.tunnel;
    const size_t ah_size = ah_header_size(t.icv_size, tun.local.family());
    // Refused before a sequence number is spent: no room in front, or a
    // datagram the outer length field cannot describe.
    IPSEC_TRY(check_room(pb, outer_header_size(tun) + ah_size, 0, tun.local.family()));
    auto seq = sa.next_sequence();
    if (!seq) return seq.status();
    auto ah = pb.push(ah_size);
    if (!ah) return ah.status();
    write_ah_header(*ah, inner->family == IpFamily::v4 ? kNextHeaderIpv4 : kNextHeaderIpv6, sa.spi(), *seq);
    // RFC 4302 3.1.2: outer header fields as for ESP (RFC 4301 5.1.2.1),
    // from the tunnel configuration and the inner header.
    auto offset = push_outer(sa, pb, *inner, kProtocolAh, *seq);
    if (!offset) return offset.status();
    IPSEC_TRY(seal_icv(sa, pb.data(), *offset, *seq));
    info.sequence = *seq;
    info.esp_offset = *offset;
  } else {
    auto split = transport_split(pb.data());
    if (!split) return split.status();
    const size_t ah_size = ah_header_size(t.icv_size, split->family);
    IPSEC_TRY(check_room(pb, ah_size, 0, split->family));
    // Source routes and routing headers are refused before anything changes.
    IPSEC_TRY(zero_mutable(nullptr, pb.data(), split->header_size));
    auto seq = sa.next_sequence();
    if (!seq) return seq.status();
    // RFC 4302 3.1.1: AH goes right after the IP header (IPv6: after the
    // headers routers read). Move the header forward to open the gap.
    (void)pb.push(ah_size);
    const MutableByteView p = pb.data();
    const auto header = p.subspan(ah_size, split->header_size);
    std::copy(header.begin(), header.end(), p.begin());  // to lower addresses
    write_ah_header(p.subspan(split->header_size, ah_size), split->next_header, sa.spi(), *seq);
    fix_transport_header(p, *split, kProtocolAh);
    IPSEC_TRY(seal_icv(sa, p, split->header_size, *seq));
    info.sequence = *seq;
    info.esp_offset = split->header_size;
  }
  info.soft_limit_reached = sa.account(inner_size);
  return info;
}

Result<OpenInfo> ah_open(InboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  auto outer = parse_outer(sa, pb);
  if (!outer) {
    sa.count_malformed();
    return outer.status();
  }
  const Transforms& t = sa.transforms();
  if (!t.integ || t.icv_size > limits::kMaxIcvSize) return Errc::invalid_argument;
  const size_t at = outer->protected_offset;
  ByteReader r(ByteView(pb.data()).subspan(at), static_cast<uint32_t>(at));
  uint8_t next = 0, payload_length = 0;
  uint16_t reserved = 0;  // 2.3: ignored on receipt, but covered by the ICV
  uint32_t spi = 0, low = 0;
  if (!r.read_u8(&next) || !r.read_u8(&payload_length) || !r.read_u16(&reserved) || !r.read_u32(&spi) ||
      !r.read_u32(&low)) {
    sa.count_malformed();
    return r.status().with_field("ah header");
  }
  if (spi != sa.spi()) {
    sa.count_malformed();
    return Status(Errc::spi_mismatch, static_cast<uint32_t>(at + 4), "spi");
  }
  // 2.6 / 3.3.3.2.1: senders add only the padding the IP version needs, so
  // the length is known from the SA's ICV size; anything else is malformed.
  const size_t ah_size = (size_t{payload_length} + 2) * 4;
  if (ah_size != ah_header_size(t.icv_size, outer->split.family)) {
    sa.count_malformed();
    return Status(Errc::invalid_length, static_cast<uint32_t>(at + 1), "ah payload length");
  }
  if (!r.skip(ah_size - kAhFixedSize)) {
    sa.count_malformed();
    return r.status().with_field("ah icv");
  }
  // Validate the headers in front of AH before the window is consulted.
  if (Status s = zero_mutable(nullptr, pb.data(), at); !s.ok()) {
    sa.count_malformed();
    return s;
  }
  ReplayWindow& window = sa.mutable_window();
  uint64_t seq = window.infer(low);
  if (Status s = window.check(seq); !s.ok()) {
    sa.count_replay_drop();
    return Status(s.code(), static_cast<uint32_t>(at + 8), "ah sequence number");
  }
  if (Status st = ah_verify(sa, pb.data(), at, low, &seq); !st.ok()) {
    if (st == Errc::integrity_check_failed) {
      sa.auth_failed();
    } else {
      sa.count_malformed();
    }
    return st;
  }
  // RFC 4302 3.4.3: the window moves only for packets whose ICV verified.
  sa.auth_succeeded();
  // Another receiver of this SA may have committed the same number since
  // check(), or moved the window past it: drop it as replayed then.
  if (Status s = window.commit(seq); !s.ok()) {
    sa.count_replay_drop();
    return Status(s.code(), static_cast<uint32_t>(at + 8), "ah sequence number");
  }
  OpenInfo info;
  info.sequence = seq;
  info.next_header = next;
  if (sa.config().mode == Mode::tunnel) {
    (void)pb.pull(at + ah_size);
    IPSEC_TRY(finish_tunnel(sa, pb, next, outer->ecn));
  } else {
    // Close the gap: move the IP header (and the headers in front of AH)
    // over the AH header, then restore the next header and the lengths.
    const size_t header = outer->split.header_size;
    const MutableByteView p = pb.data();
    std::copy_backward(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(header),
                       p.begin() + static_cast<std::ptrdiff_t>(header + ah_size));  // to higher addresses
    (void)pb.pull(ah_size);
    fix_transport_header(pb.data(), outer->split, next);
  }
  info.soft_limit_reached = sa.account(pb.size());
  return info;
}

}  // namespace ipsec::esp::detail
