// SPDX-License-Identifier: Apache-2.0
// ESP (RFC 4303) and AH (RFC 4302) on the packet path: in place on a host
// buffer, no allocation, no clock.
//
// Outbound, seal() turns the IP packet in a PacketBuffer into the protected
// packet, a full IP datagram:
//   tunnel:    outer IP | [UDP] | ESP | IV | inner packet | [TFC] | pad | pl | nh | ICV
//   transport: IP (+ IPv6 extension headers) | [UDP] | ESP | IV | payload | pad | pl | nh | ICV
// SealInfo::esp_offset says where the ESP header starts: a host sending over
// a UDP socket (RFC 3948) or a raw IPPROTO_ESP socket sends from there; one
// writing to a link or a pcap sends it all. The buffer needs
// limits::kEspMaxHeadroom octets of headroom and limits::kEspMaxTailroom of
// tailroom (plus the TFC target in tunnel mode).
//
// Inbound, open() takes a received IP datagram (outer header [+ UDP] + ESP)
// and leaves the inner packet (tunnel) or the reconstructed packet
// (transport); open_esp() takes just the ESP part (from a UDP socket) of a
// tunnel-mode SA. Three outcomes, as everywhere in the library: ok; drop
// silently (replayed, integrity_check_failed, dummy_packet, ...: counted in
// the SA's counters, never answered); or a caller error.
//
// Sequence numbers double as the per-packet IV of the counter-based modes
// (AES-GCM/CCM/GMAC, ChaCha20-Poly1305, AES-CTR: unique per key, RFC 4106
// 3.1, RFC 7634 2, RFC 3686 3.1). AES-CBC needs an unpredictable IV
// (RFC 3602 2.3): it is E_K(SPI | sequence | 0), the forward cipher under the
// SA's own key applied to a unique nonce (NIST SP 800-38A appendix C), so no
// random number is drawn per packet.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/esp/nat_checksum.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/esp/tunnel.hpp"
#include "ipsec/wire/ip_header.hpp"

namespace ipsec::esp {

struct SealInfo {
  uint64_t sequence = 0;
  size_t esp_offset = 0;            // where the ESP (or AH) header starts in pb.data()
  bool soft_limit_reached = false;  // this packet crossed a soft limit: rekey
};

struct OpenInfo {
  uint64_t sequence = 0;
  uint8_t next_header = 0;  // payload protocol: 4 or 41 in tunnel mode
  bool soft_limit_reached = false;
};

struct SealResult {
  Status status;
  SealInfo info;
};
struct OpenResult {
  Status status;
  OpenInfo info;
};

// seal: protect the IP packet in pb. Errors: lifetime_expired,
// sequence_overflow (rekey), no_headroom / no_tailroom, truncated (shorter
// than its IP header or its length field), unexpected_protocol (not IP, or
// in transport mode a packet with next header 59, which would read as a
// dummy), unsupported_header (transport mode on a fragment), invalid_length
// (a length field smaller than the header; a result over 64 KiB). Octets
// after the packet's own length (link padding) are dropped, not protected.
// Refusals happen before pb changes or a sequence number is spent (a
// failing crypto backend aside).
[[nodiscard]] Result<SealInfo> seal(OutboundSa& sa, PacketBuffer& pb) noexcept;
// seal_dummy: an ESP dummy packet (next header 59, RFC 4303 2.6) of
// `length` payload octets in an empty buffer, for traffic flow confidentiality.
[[nodiscard]] Result<SealInfo> seal_dummy(OutboundSa& sa, PacketBuffer& pb, size_t length) noexcept;
// open: verify and strip ESP (or AH) from the IP datagram in pb. Drop
// silently on: replayed, integrity_check_failed, bad_padding, dummy_packet,
// spi_mismatch, truncated, ecn_mismatch. Also lifetime_expired,
// unexpected_protocol (not ESP/AH/UDP for this SA, or a tunnel payload that
// is not IP), unsupported_header (fragments: reassemble first).
[[nodiscard]] Result<OpenInfo> open(InboundSa& sa, PacketBuffer& pb) noexcept;
// open_esp: as open, for a tunnel-mode ESP SA, when pb starts at the ESP
// header (the payload of a UDP datagram after the RFC 3948 classifier, or of
// a raw socket that strips the IP header); outer_ecn is the ECN of the
// datagram if the host knows it (IP_RECVTOS), else 0. With
// ENCR_NULL_AUTH_AES_GMAC and ESN, pb needs 4 octets of headroom (the AAD
// is made contiguous there, RFC 4543 3.3): no_headroom otherwise.
[[nodiscard]] Result<OpenInfo> open_esp(InboundSa& sa, PacketBuffer& pb, uint8_t outer_ecn = 0) noexcept;
// seal_burst / open_burst: the same for several packets of one SA, each with
// its own result (results.size() >= packets.size()).
void seal_burst(OutboundSa& sa, std::span<PacketBuffer> packets, std::span<SealResult> results) noexcept;
void open_burst(InboundSa& sa, std::span<PacketBuffer> packets, std::span<OpenResult> results) noexcept;

// ---- implementation -----------------------------------------------------------------------

namespace detail {

inline constexpr size_t kEspHeaderSize = 8;  // SPI, sequence number (RFC 4303 2)
inline constexpr uint8_t kNextHeaderIpv4 = 4;
inline constexpr uint8_t kNextHeaderIpv6 = 41;
inline constexpr uint8_t kNextHeaderNone = 59;  // dummy packet, RFC 4303 2.6

// ip_packet_length: the length of the IP packet at the front of `packet`
// by its own length field (RFC 791 total length, RFC 8200 40 + payload
// length). seal protects that packet (RFC 4303 2.3); what follows it in the
// buffer (link-layer padding) is not part of it. Errors: those of the IPv4
// and IPv6 header parsers (truncated: the length field claims more than the
// buffer holds; invalid_length: less than the header), unexpected_protocol
// (neither IPv4 nor IPv6), invalid_length for an RFC 2675 jumbogram.
[[nodiscard]] inline Result<size_t> ip_packet_length(ByteView packet) noexcept {
  if (packet.empty()) return Status(Errc::truncated, 0, "ip header");
  if ((packet[0] >> 4) == 4) {
    auto h = ipv4_fields(packet);
    if (!h) return h.status();
    return size_t{h->total_length};
  }
  if ((packet[0] >> 4) == 6) {
    auto h = ipv6_fields(packet);
    if (!h) return h.status();
    if (h->payload_length == 0 && h->next_header == wire::IpProtocol::hop_by_hop &&
        packet.size() > wire::Ipv6Header::kSize) {
      return Status(Errc::invalid_length, 4, "ipv6 jumbogram");  // RFC 2675: not supported
    }
    return wire::Ipv6Header::kSize + h->payload_length;
  }
  return Status(Errc::unexpected_protocol, 0, "ip version");
}

// Where transport mode inserts ESP/AH: after the IP header (IPv4) or after
// the extension headers that routers read (IPv6: hop-by-hop, routing,
// fragment and destination options followed by a routing header, RFC 4303
// 3.1.1, RFC 4302 3.1.1).
struct TransportSplit {
  IpFamily family = IpFamily::v4;
  IpAddress source, destination;
  ByteView routing_header;       // IPv6: the last routing header kept in front (a view into the packet)
  size_t header_size = 0;        // octets kept in front of ESP
  size_t next_header_field = 0;  // offset of the field that will say 50/51/17
  uint8_t next_header = 0;       // the protocol ESP/AH will protect
};

[[nodiscard]] inline Result<TransportSplit> transport_split(ByteView packet) noexcept {
  TransportSplit s;
  if (!packet.empty() && (packet[0] >> 4) == 4) {
    auto h = ipv4_fields(packet);
    if (!h) return h.status();
    // RFC 4303 3.1.1: transport mode protects whole datagrams only.
    if (h->is_fragment()) return Status(Errc::unsupported_header, 6, "ipv4 fragment");
    s.header_size = h->header_length;
    s.next_header_field = 9;
    s.next_header = static_cast<uint8_t>(h->protocol);
    s.source = IpAddress::v4({packet[12], packet[13], packet[14], packet[15]});
    s.destination = IpAddress::v4({packet[16], packet[17], packet[18], packet[19]});
    return s;
  }
  auto h = wire::Ipv6Header::parse(packet);
  if (!h) return h.status();
  s.family = IpFamily::v6;
  s.source = h->source;
  s.destination = h->destination;
  s.header_size = wire::Ipv6Header::kSize;
  s.next_header_field = 6;
  s.next_header = static_cast<uint8_t>(h->next_header);
  wire::Ipv6ExtensionWalker walker(h->next_header, h->payload);
  wire::Ipv6ExtensionHeader e;
  while (walker.next(&e)) {
    if (e.type == wire::IpProtocol::fragment) {
      return Status(Errc::unsupported_header, static_cast<uint32_t>(s.header_size), "ipv6 fragment");
    }
    const bool stays_outside =
        e.type == wire::IpProtocol::hop_by_hop || e.type == wire::IpProtocol::routing ||
        (e.type == wire::IpProtocol::destination_options && e.next_header == wire::IpProtocol::routing);
    if (!stays_outside) break;
    if (e.type == wire::IpProtocol::routing) s.routing_header = h->payload.subspan(e.offset, e.length);
    s.next_header_field = wire::Ipv6Header::kSize + e.offset;
    s.header_size = wire::Ipv6Header::kSize + e.offset + e.length;
    s.next_header = static_cast<uint8_t>(e.next_header);
  }
  if (!walker.status().ok()) return walker.status();
  return s;
}

// fix_transport_header: after ESP/AH was inserted or removed behind a
// transport header of `split.header_size` octets at the front of `packet`:
// set the next-header field and the lengths (and the IPv4 checksum).
inline void fix_transport_header(MutableByteView packet, const TransportSplit& split,
                                 uint8_t next_header) noexcept {
  packet[split.next_header_field] = next_header;
  if (split.family == IpFamily::v4) {
    store_be16(packet.subspan(2).first<2>(), static_cast<uint16_t>(packet.size()));
    packet[10] = 0;
    packet[11] = 0;
    store_be16(packet.subspan(10).first<2>(),
               wire::internet_checksum(ByteView(packet).first(split.header_size)));
  } else {
    store_be16(packet.subspan(4).first<2>(), static_cast<uint16_t>(packet.size() - wire::Ipv6Header::kSize));
  }
}

// The 4 octets before the ESP header, borrowed for RFC 4543 GMAC with ESN:
// the AAD SPI | Seqh | Seql | IV | payload is made contiguous by writing SPI
// and Seqh over them and the SPI field, and restored afterwards.
class EsnAadWindow {
 public:
  EsnAadWindow(MutableByteView before_and_esp, uint32_t spi, uint32_t seq_high) noexcept
      : region_(before_and_esp) {
    std::copy_n(region_.begin(), 8, saved_.begin());
    store_be32(region_.first<4>(), spi);
    store_be32(region_.subspan(4).first<4>(), seq_high);
  }
  ~EsnAadWindow() { std::copy_n(saved_.begin(), 8, region_.begin()); }
  EsnAadWindow(const EsnAadWindow&) = delete;
  EsnAadWindow& operator=(const EsnAadWindow&) = delete;

 private:
  MutableByteView region_;
  std::array<uint8_t, 8> saved_{};
};

// esp_aad: SPI | [Seqh] | Seql (RFC 4106 5, RFC 4309 5, RFC 7634 2.1).
struct EspAad {
  std::array<uint8_t, 12> bytes{};
  size_t size = 8;
  [[nodiscard]] ByteView view() const noexcept { return ByteView(bytes).first(size); }
};
[[nodiscard]] inline EspAad esp_aad(uint32_t spi, uint64_t seq, bool esn) noexcept {
  EspAad a;
  store_be32(std::span<uint8_t, 12>(a.bytes).first<4>(), spi);
  if (esn) {
    store_be64(std::span<uint8_t, 12>(a.bytes).last<8>(), seq);
    a.size = 12;
  } else {
    store_be32(std::span<uint8_t, 12>(a.bytes).subspan<4, 4>(), static_cast<uint32_t>(seq));
  }
  return a;
}

// The ESP packet [SPI .. ICV] as spans.
struct EspLayout {
  MutableByteView all;     // SPI .. ICV
  MutableByteView header;  // SPI, sequence number
  MutableByteView iv;
  MutableByteView body;  // payload | padding | pad length | next header
  MutableByteView icv;
};
[[nodiscard]] inline EspLayout esp_layout(MutableByteView esp, const Transforms& t) noexcept {
  EspLayout l;
  l.all = esp;
  l.header = esp.first(kEspHeaderSize);
  l.iv = esp.subspan(kEspHeaderSize, t.iv_size);
  l.body = esp.subspan(kEspHeaderSize + t.iv_size, esp.size() - kEspHeaderSize - t.iv_size - t.icv_size);
  l.icv = esp.last(t.icv_size);
  return l;
}

// esp_crypt_seal: fill the IV, encrypt and authenticate (RFC 4303 3.3.2).
// esn_room: the 4 octets before the ESP header plus the header, for GMAC
// with ESN (empty otherwise).
[[nodiscard]] inline Status esp_crypt_seal(const Transforms& t, const EspLayout& l, uint32_t spi,
                                           uint64_t seq, bool esn, MutableByteView esn_room) noexcept {
  if (t.aead) {
    store_be64(l.iv.first<8>(), seq);
    if (!t.gmac) return t.aead->seal(l.iv, esp_aad(spi, seq, esn).view(), l.body, l.icv);
    // RFC 4543 3.3: everything from the SPI to the trailer is AAD; nothing is encrypted.
    if (!esn) return t.aead->seal(l.iv, l.all.first(l.all.size() - l.icv.size()), {}, l.icv);
    if (esn_room.size() < 8) return Errc::no_headroom;
    EsnAadWindow window(esn_room, spi, static_cast<uint32_t>(seq >> 32));
    return t.aead->seal(l.iv, esn_room.first(4 + l.all.size() - l.icv.size()), {}, l.icv);
  }
  if (t.encr == crypto::EncrId::aes_cbc) {
    // IV = E_K(SPI | seq | 0^4): unpredictable without K, unique per packet.
    std::array<uint8_t, 16> nonce{};
    store_be32(std::span<uint8_t, 16>(nonce).first<4>(), spi);
    store_be64(std::span<uint8_t, 16>(nonce).subspan<4, 8>(), seq);
    const std::array<uint8_t, 16> zero{};
    IPSEC_TRY(t.cipher->encrypt(zero, nonce));
    std::copy(nonce.begin(), nonce.end(), l.iv.begin());
  } else if (t.iv_size == 8) {
    store_be64(l.iv.first<8>(), seq);  // AES-CTR: unique per packet (RFC 3686 3.1)
  }
  IPSEC_TRY(t.cipher->encrypt(l.iv, l.body));
  // RFC 4303 3.3.2.1 / 2.2.1: with ESN the ICV also covers Seqh, appended.
  std::array<uint8_t, 4> seq_high{};
  store_be32(seq_high, static_cast<uint32_t>(seq >> 32));
  const ByteView parts[] = {l.all.first(l.all.size() - l.icv.size()), seq_high};
  return t.integ->compute(std::span<const ByteView>(parts).first(esn ? 2 : 1), l.icv);
}

// esp_crypt_open: verify the ICV and decrypt (RFC 4303 3.4.4). On
// integrity_check_failed the body may have been zeroed (AEAD backends never
// release unauthenticated plaintext).
[[nodiscard]] inline Status esp_crypt_open(const Transforms& t, const EspLayout& l, uint32_t spi,
                                           uint64_t seq, bool esn, MutableByteView esn_room) noexcept {
  if (t.aead) {
    if (!t.gmac) return t.aead->open(l.iv, esp_aad(spi, seq, esn).view(), l.body, l.icv);
    if (!esn) return t.aead->open(l.iv, l.all.first(l.all.size() - l.icv.size()), {}, l.icv);
    if (esn_room.size() < 8) return Errc::no_headroom;
    EsnAadWindow window(esn_room, spi, static_cast<uint32_t>(seq >> 32));
    return t.aead->open(l.iv, esn_room.first(4 + l.all.size() - l.icv.size()), {}, l.icv);
  }
  std::array<uint8_t, 4> seq_high{};
  store_be32(seq_high, static_cast<uint32_t>(seq >> 32));
  const ByteView parts[] = {l.all.first(l.all.size() - l.icv.size()), seq_high};
  IPSEC_TRY(t.integ->verify(std::span<const ByteView>(parts).first(esn ? 2 : 1), l.icv));
  return t.cipher->decrypt(l.iv, l.body);
}

// esn_room: 4 octets before the ESP header at pb.data() plus the header.
[[nodiscard]] inline MutableByteView esn_room(PacketBuffer& pb) noexcept {
  if (pb.headroom() < 4 || pb.size() < kEspHeaderSize) return {};
  auto grown = pb.push(4);
  const MutableByteView room = pb.data();
  (void)pb.pull(4);
  (void)grown;
  return room;
}

// esp_trailer_size: padding (as esp_encap pads), pad length, next header
// and ICV behind `body` octets of payload (and TFC padding).
[[nodiscard]] inline size_t esp_trailer_size(const Transforms& t, size_t body) noexcept {
  return (t.align - (body + 2) % t.align) % t.align + 2 + t.icv_size;
}

// check_room: before seal changes anything or spends a sequence number:
// pb can grow by `front` octets in front and `back` behind, and the result
// fits the length field of its IP header (IPv4 total length; IPv6 payload
// length, which leaves out the 40-octet header).
[[nodiscard]] inline Status check_room(const PacketBuffer& pb, size_t front, size_t back,
                                       IpFamily family) noexcept {
  if (pb.headroom() < front) return Errc::no_headroom;
  if (pb.tailroom() < back) return Errc::no_tailroom;
  const size_t limit = 0xffff + (family == IpFamily::v6 ? wire::Ipv6Header::kSize : 0);
  if (front + pb.size() + back > limit) return Errc::invalid_length;
  return Status::success();
}

// esp_encap: pb holds the payload to protect; append the trailer, prepend
// SPI | seq | IV, and encrypt. pb then holds [SPI .. ICV].
[[nodiscard]] inline Status esp_encap(OutboundSa& sa, PacketBuffer& pb, uint8_t next_header,
                                      size_t tfc_octets, uint64_t seq) noexcept {
  const Transforms& t = sa.transforms();
  const size_t align = t.align;
  const size_t body = pb.size() + tfc_octets;
  // RFC 4303 2.4: payload | padding | pad length | next header ends on the
  // cipher block and on a 4-octet boundary; padding is 1, 2, 3, ...
  const size_t pad = (align - (body + 2) % align) % align;
  auto trailer = pb.put(tfc_octets + pad + 2 + t.icv_size);
  if (!trailer) return trailer.status();
  MutableByteView tr = *trailer;
  std::fill_n(tr.begin(), tfc_octets, uint8_t{0});
  for (size_t i = 0; i < pad; ++i) tr[tfc_octets + i] = static_cast<uint8_t>(i + 1);
  tr[tfc_octets + pad] = static_cast<uint8_t>(pad);
  tr[tfc_octets + pad + 1] = next_header;
  auto header = pb.push(kEspHeaderSize + t.iv_size);
  if (!header) return header.status();
  store_be32(header->first<4>(), sa.spi());
  store_be32(header->subspan(4).first<4>(), static_cast<uint32_t>(seq));
  const bool esn = sa.config().esn;
  return esp_crypt_seal(t, esp_layout(pb.data(), t), sa.spi(), seq, esn,
                        esn && t.gmac ? esn_room(pb) : MutableByteView());
}

// push_outer: push the outer headers of a tunnel-mode packet (and the UDP
// header), pb holding [SPI .. ICV]; returns the ESP offset.
[[nodiscard]] inline Result<size_t> push_outer(OutboundSa& sa, PacketBuffer& pb, const InnerInfo& inner,
                                               uint8_t protocol) noexcept {
  const SaConfig& c = sa.config();
  const TunnelConfig& tun = *c.tunnel;
  const bool udp = c.udp.has_value();
  if (udp) {
    auto u = pb.push(kUdpHeaderSize);
    if (!u) return u.status();
    const bool v6 = tun.local.is_v6();
    write_udp_header(pb.data(), *c.udp, v6 ? &tun.local : nullptr, v6 ? &tun.remote : nullptr);
    protocol = static_cast<uint8_t>(wire::IpProtocol::udp);
  }
  const size_t outer = outer_header_size(tun);
  auto h = pb.push(outer);
  if (!h) return h.status();
  const uint8_t tos = outer_tos(tun, inner);
  if (tun.local.is_v4()) {
    if (pb.size() > 0xffff) return Errc::invalid_length;
    const bool df = tun.df == DfPolicy::set || (tun.df == DfPolicy::copy && inner.df);
    write_ipv4_header(pb.data(), tos, static_cast<uint16_t>(pb.size()), sa.next_ip_id(), df, tun.hop_limit,
                      protocol, tun.local, tun.remote);
  } else {
    if (pb.size() - outer > 0xffff) return Errc::invalid_length;
    write_ipv6_header(pb.data(), tos, static_cast<uint16_t>(pb.size() - outer), protocol, tun.hop_limit,
                      tun.local, tun.remote);
  }
  return outer + (udp ? kUdpHeaderSize : 0);
}

// OuterInfo: where ESP/AH starts in a received datagram and what transport
// mode needs to rebuild the packet.
struct OuterInfo {
  size_t protected_offset = 0;  // start of the ESP/AH header
  uint8_t ecn = 0;
  bool udp = false;
  TransportSplit split;  // header_size = octets before ESP/AH (or before UDP)
};

// parse_outer: the received datagram's IP header (IPv6: and extension
// headers) up to the ESP/AH header, per the SA's protocol and encapsulation.
[[nodiscard]] inline Result<OuterInfo> parse_outer(const InboundSa& sa, PacketBuffer& pb) noexcept {
  const ByteView packet = pb.data();
  const uint8_t want = static_cast<uint8_t>(sa.config().protocol);
  OuterInfo o;
  uint8_t protocol = 0;
  if (!packet.empty() && (packet[0] >> 4) == 4) {
    auto h = ipv4_fields(packet);
    if (!h) return h.status();
    if (h->is_fragment()) return Status(Errc::unsupported_header, 6, "ipv4 fragment");
    if (h->total_length < packet.size()) (void)pb.trim(packet.size() - h->total_length);  // link padding
    o.ecn = h->tos & 0x03;
    o.split.header_size = h->header_length;
    o.split.next_header_field = 9;
    protocol = static_cast<uint8_t>(h->protocol);
  } else {
    auto h = ipv6_fields(packet);
    if (!h) return h.status();
    if (h->payload.size() + wire::Ipv6Header::kSize < packet.size()) {
      (void)pb.trim(packet.size() - h->payload.size() - wire::Ipv6Header::kSize);
    }
    o.split.family = IpFamily::v6;
    o.ecn = h->traffic_class & 0x03;
    o.split.header_size = wire::Ipv6Header::kSize;
    o.split.next_header_field = 6;
    wire::Ipv6ExtensionWalker walker(h->next_header, h->payload);
    wire::Ipv6ExtensionHeader e;
    protocol = static_cast<uint8_t>(h->next_header);
    while (walker.next(&e)) {
      if (e.type == wire::IpProtocol::ah && want == static_cast<uint8_t>(SecurityProtocol::ah)) break;
      if (e.type == wire::IpProtocol::fragment) {
        return Status(Errc::unsupported_header, static_cast<uint32_t>(o.split.header_size), "ipv6 fragment");
      }
      o.split.next_header_field = wire::Ipv6Header::kSize + e.offset;
      o.split.header_size = wire::Ipv6Header::kSize + e.offset + e.length;
      protocol = static_cast<uint8_t>(e.next_header);
    }
    if (!walker.status().ok()) return walker.status();
  }
  o.protected_offset = o.split.header_size;
  if (protocol == static_cast<uint8_t>(wire::IpProtocol::udp) && sa.config().udp) {
    // RFC 3948 2.2: UDP | ESP; a zero SPI would be the non-ESP marker of IKE.
    ByteReader r(pb.data().subspan(std::min(o.split.header_size, pb.size())),
                 static_cast<uint32_t>(o.split.header_size));
    uint16_t sport = 0, dport = 0, length = 0, checksum = 0;
    uint32_t spi = 0;
    if (!r.read_u16(&sport) || !r.read_u16(&dport) || !r.read_u16(&length) || !r.read_u16(&checksum) ||
        !r.read_u32(&spi)) {
      return r.status().with_field("udp-encapsulated esp");
    }
    if (spi == 0)
      return Status(Errc::unexpected_protocol, static_cast<uint32_t>(o.split.header_size + 8),
                    "non-ESP marker");
    o.udp = true;
    o.protected_offset += kUdpHeaderSize;
    return o;
  }
  if (protocol != want) {
    return Status(Errc::unexpected_protocol, static_cast<uint32_t>(o.split.next_header_field), "ip protocol");
  }
  return o;
}

// esp_decap: pb starts at the ESP header. Verifies, updates the window and
// strips ESP: pb then holds the payload. Returns the sequence number and
// next header.
struct Decapped {
  uint64_t seq = 0;
  uint8_t next_header = 0;
};

[[nodiscard]] Status esp_open_resync(InboundSa& sa, PacketBuffer& pb, const EspLayout& l, uint32_t low,
                                     uint64_t* seq) noexcept;

[[nodiscard]] inline Result<Decapped> esp_decap(InboundSa& sa, PacketBuffer& pb) noexcept {
  const Transforms& t = sa.transforms();
  SaCounters& counters = sa.mutable_counters();
  ByteReader r(pb.data());
  uint32_t spi = 0, low = 0;
  if (!r.read_u32(&spi) || !r.read_u32(&low)) {
    ++counters.malformed;
    return r.status().with_field("esp header");
  }
  if (spi != sa.spi()) {
    ++counters.malformed;
    return Status(Errc::spi_mismatch, 0, "spi");
  }
  const size_t overhead = kEspHeaderSize + t.iv_size + t.icv_size;
  if (pb.size() < overhead + 2) {
    ++counters.malformed;
    return Status(Errc::truncated, static_cast<uint32_t>(pb.size()), "esp packet");
  }
  const EspLayout l = esp_layout(pb.data(), t);
  if (t.align > 4 && l.body.size() % t.align != 0) {  // CBC: whole blocks (RFC 3602 2.4)
    ++counters.malformed;
    return Status(Errc::invalid_length, kEspHeaderSize, "esp ciphertext");
  }
  ReplayWindow& window = sa.mutable_window();
  uint64_t seq = window.infer(low);
  if (Status s = window.check(seq); !s.ok()) {
    ++counters.replay_drops;
    return Status(s.code(), 4, "esp sequence number");
  }
  const bool esn = sa.config().esn;
  Status st;
  if (sa.resync_due() && pb.size() <= limits::kMaxEsnResyncPacket) {
    st = esp_open_resync(sa, pb, l, low, &seq);
  } else {
    st = esp_crypt_open(t, l, spi, seq, esn, esn && t.gmac ? esn_room(pb) : MutableByteView());
  }
  if (!st.ok()) {
    if (st == Errc::integrity_check_failed) sa.auth_failed();
    return st;
  }
  sa.auth_succeeded();
  window.commit(seq);
  // RFC 4303 2.4: Pad Length, Next Header, and padding 1, 2, 3, ...
  const size_t n = l.body.size();
  const size_t pad = l.body[n - 2];
  const uint8_t next = l.body[n - 1];
  bool pad_ok = pad + 2 <= n;
  for (size_t i = 0; pad_ok && i < pad; ++i) pad_ok = l.body[n - 2 - pad + i] == static_cast<uint8_t>(i + 1);
  if (!pad_ok) {
    ++counters.pad_errors;
    return Status(Errc::bad_padding, static_cast<uint32_t>(kEspHeaderSize + t.iv_size + n - 2),
                  "esp padding");
  }
  (void)pb.pull(kEspHeaderSize + t.iv_size);
  (void)pb.trim(pad + 2 + t.icv_size);
  return Decapped{seq, next};
}

// esp_open_resync: RFC 4303 A3.2 after too many consecutive failures: try
// the inferred Seqh, then up to esn_resync_attempts larger ones, each on a
// fresh copy of the packet (an AEAD zeroes what fails to authenticate).
inline Status esp_open_resync(InboundSa& sa, PacketBuffer& pb, const EspLayout& l, uint32_t low,
                              uint64_t* seq) noexcept {
  const Transforms& t = sa.transforms();
  const bool gmac_esn = t.gmac;
  std::array<uint8_t, limits::kMaxEsnResyncPacket> copy{};
  std::copy(l.all.begin(), l.all.end(), copy.begin());
  Status st = esp_crypt_open(t, l, sa.spi(), *seq, true, gmac_esn ? esn_room(pb) : MutableByteView());
  uint64_t high = *seq >> 32;
  for (uint32_t k = 0; !st.ok() && st == Errc::integrity_check_failed && k < sa.config().esn_resync_attempts;
       ++k) {
    if (++high > 0xffffffffu) break;
    std::copy_n(copy.begin(), l.all.size(), l.all.begin());
    const uint64_t candidate = (high << 32) | low;
    st = esp_crypt_open(t, l, sa.spi(), candidate, true, gmac_esn ? esn_room(pb) : MutableByteView());
    if (st.ok()) *seq = candidate;
  }
  secure_zero(copy);
  return st;
}

// finish_tunnel: pb holds the inner packet (plus TFC padding); check it,
// drop the padding, apply RFC 6040 decapsulation.
[[nodiscard]] inline Status finish_tunnel(InboundSa& sa, PacketBuffer& pb, uint8_t next_header,
                                          uint8_t outer_ecn) noexcept {
  SaCounters& counters = sa.mutable_counters();
  if (next_header != kNextHeaderIpv4 && next_header != kNextHeaderIpv6) {
    ++counters.malformed;
    return Status(Errc::unexpected_protocol, 0, "tunnel payload");
  }
  size_t length = 0;
  uint8_t inner_ecn = 0;
  if (next_header == kNextHeaderIpv4) {
    auto h = ipv4_fields(pb.data());
    if (!h) {
      ++counters.malformed;
      return h.status();
    }
    length = h->total_length;
    inner_ecn = h->tos & 0x03;
  } else {
    auto h = ipv6_fields(pb.data());
    if (!h) {
      ++counters.malformed;
      return h.status();
    }
    length = wire::Ipv6Header::kSize + h->payload_length;
    inner_ecn = h->traffic_class & 0x03;
  }
  if (length < pb.size()) (void)pb.trim(pb.size() - length);  // TFC padding (RFC 4303 2.7)
  const int ecn = decap_ecn(inner_ecn, outer_ecn);
  if (ecn < 0) {
    ++counters.malformed;
    return Status(Errc::ecn_mismatch, 1, "ecn");
  }
  if (ecn != inner_ecn) set_inner_ecn(pb.data(), static_cast<uint8_t>(ecn));
  return Status::success();
}

// open_payload: esp_decap, then drop dummy packets (RFC 4303 2.6: next
// header 59), which are authentic and counted but carry nothing.
[[nodiscard]] inline Result<Decapped> open_payload(InboundSa& sa, PacketBuffer& pb) noexcept {
  auto d = esp_decap(sa, pb);
  if (d && d->next_header == kNextHeaderNone) {
    ++sa.mutable_counters().dummy_packets;
    return Errc::dummy_packet;
  }
  return d;
}

// open_tunnel: pb starts at the ESP header of a tunnel-mode SA; leaves the
// inner packet.
[[nodiscard]] inline Result<OpenInfo> open_tunnel(InboundSa& sa, PacketBuffer& pb,
                                                  uint8_t outer_ecn) noexcept {
  auto d = open_payload(sa, pb);
  if (!d) return d.status();
  IPSEC_TRY(finish_tunnel(sa, pb, d->next_header, outer_ecn));
  OpenInfo info;
  info.sequence = d->seq;
  info.next_header = d->next_header;
  info.soft_limit_reached = sa.account(pb.size());
  return info;
}

}  // namespace detail

// AH lives in its own header; seal/open dispatch to it by the SA's protocol.
namespace detail {
[[nodiscard]] Result<SealInfo> ah_seal(OutboundSa& sa, PacketBuffer& pb) noexcept;
[[nodiscard]] Result<OpenInfo> ah_open(InboundSa& sa, PacketBuffer& pb) noexcept;
}  // namespace detail

inline Result<SealInfo> seal(OutboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.config().protocol == SecurityProtocol::ah) return detail::ah_seal(sa, pb);
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  // The IP packet as its length field delimits it (link padding is not
  // sent); refused before a sequence number is spent.
  auto length = detail::ip_packet_length(pb.data());
  if (!length) return length.status();
  if (*length < pb.size()) (void)pb.trim(pb.size() - *length);
  const SaConfig& c = sa.config();
  const size_t inner_size = pb.size();
  SealInfo info;
  if (c.mode == Mode::tunnel) {
    auto inner = detail::inspect_inner(pb.data());
    if (!inner) return inner.status();
    const size_t tfc = c.tfc_pad_to > inner_size ? c.tfc_pad_to - inner_size : 0;
    const size_t front = detail::outer_header_size(*c.tunnel) + (c.udp ? detail::kUdpHeaderSize : 0) +
                         detail::kEspHeaderSize + sa.transforms().iv_size;
    IPSEC_TRY(detail::check_room(pb, front, tfc + detail::esp_trailer_size(sa.transforms(), inner_size + tfc),
                                 c.tunnel->local.family()));
    auto seq = sa.next_sequence();
    if (!seq) return seq.status();
    const uint8_t next = inner->family == IpFamily::v4 ? detail::kNextHeaderIpv4 : detail::kNextHeaderIpv6;
    IPSEC_TRY(detail::esp_encap(sa, pb, next, tfc, *seq));
    auto offset = detail::push_outer(sa, pb, *inner, static_cast<uint8_t>(SecurityProtocol::esp));
    if (!offset) return offset.status();
    info.sequence = *seq;
    info.esp_offset = *offset;
  } else {
    auto split = detail::transport_split(pb.data());
    if (!split) return split.status();
    if (split->next_header == detail::kNextHeaderNone) {
      // RFC 4303 2.6: next header 59 marks a dummy packet, which the peer drops.
      return Status(Errc::unexpected_protocol, static_cast<uint32_t>(split->next_header_field),
                    "no next header");
    }
    if (c.udp && !split->routing_header.empty()) {
      // The UDP checksum covers the final destination (RFC 8200 8.1).
      IPSEC_TRY(wire::routing_final_destination(split->routing_header, &split->destination));
    }
    const size_t udp = c.udp ? detail::kUdpHeaderSize : 0;
    const size_t shift = udp + detail::kEspHeaderSize + sa.transforms().iv_size;
    IPSEC_TRY(detail::check_room(pb, shift,
                                 detail::esp_trailer_size(sa.transforms(), inner_size - split->header_size),
                                 split->family));
    auto seq = sa.next_sequence();
    if (!seq) return seq.status();
    // Move the IP header forward, leaving a gap for [UDP |] ESP | IV behind it.
    auto grown = pb.push(shift);
    if (!grown) return grown.status();
    const MutableByteView moved = pb.data();
    std::copy_n(moved.subspan(shift).begin(), split->header_size, moved.begin());  // to lower addresses
    (void)pb.pull(split->header_size + shift);
    IPSEC_TRY(detail::esp_encap(sa, pb, split->next_header, 0, *seq));
    if (udp != 0) {
      (void)pb.push(udp);
      const bool v6 = split->family == IpFamily::v6;
      detail::write_udp_header(pb.data(), *c.udp, v6 ? &split->source : nullptr,
                               v6 ? &split->destination : nullptr);
    }
    (void)pb.push(split->header_size);
    detail::fix_transport_header(
        pb.data(), *split,
        udp != 0 ? static_cast<uint8_t>(wire::IpProtocol::udp) : static_cast<uint8_t>(SecurityProtocol::esp));
    info.sequence = *seq;
    info.esp_offset = split->header_size + udp;
  }
  info.soft_limit_reached = sa.account(inner_size);
  return info;
}

inline Result<SealInfo> seal_dummy(OutboundSa& sa, PacketBuffer& pb, size_t length) noexcept {
  if (sa.config().protocol != SecurityProtocol::esp || sa.config().mode != Mode::tunnel) {
    return Errc::invalid_argument;
  }
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  const SaConfig& c = sa.config();
  const size_t front = detail::outer_header_size(*c.tunnel) + (c.udp ? detail::kUdpHeaderSize : 0) +
                       detail::kEspHeaderSize + sa.transforms().iv_size;
  IPSEC_TRY(detail::check_room(pb, front,
                               length + detail::esp_trailer_size(sa.transforms(), pb.size() + length),
                               c.tunnel->local.family()));
  auto body = pb.put(length);
  if (!body) return body.status();
  std::fill(body->begin(), body->end(), uint8_t{0});
  auto seq = sa.next_sequence();
  if (!seq) return seq.status();
  IPSEC_TRY(detail::esp_encap(sa, pb, detail::kNextHeaderNone, 0, *seq));
  // The outer header of a dummy carries the tunnel's defaults.
  auto offset = detail::push_outer(sa, pb, detail::InnerInfo{sa.config().tunnel->local.family(), 0, true},
                                   static_cast<uint8_t>(SecurityProtocol::esp));
  if (!offset) return offset.status();
  sa.count_dummy();
  SealInfo info;
  info.sequence = *seq;
  info.esp_offset = *offset;
  return info;
}

inline Result<OpenInfo> open_esp(InboundSa& sa, PacketBuffer& pb, uint8_t outer_ecn) noexcept {
  const SaConfig& c = sa.config();
  if (c.protocol != SecurityProtocol::esp || c.mode != Mode::tunnel) return Errc::invalid_argument;
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  return detail::open_tunnel(sa, pb, outer_ecn & 0x03);
}

inline Result<OpenInfo> open(InboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.config().protocol == SecurityProtocol::ah) return detail::ah_open(sa, pb);
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  auto outer = detail::parse_outer(sa, pb);
  if (!outer) {
    ++sa.mutable_counters().malformed;
    return outer.status();
  }
  (void)pb.pull(outer->protected_offset);
  if (sa.config().mode == Mode::tunnel) return detail::open_tunnel(sa, pb, outer->ecn);
  const size_t iv = sa.transforms().iv_size;
  auto d = detail::open_payload(sa, pb);
  if (!d) return d.status();
  // Bring the IP header back in front of the payload: it sits before the
  // [UDP |] ESP | IV octets that decapsulation pulled.
  const size_t header = outer->split.header_size;
  const size_t gap = outer->protected_offset - header + detail::kEspHeaderSize + iv;
  (void)pb.push(gap + header);
  const MutableByteView moved = pb.data();
  std::copy_backward(moved.begin(), moved.begin() + static_cast<std::ptrdiff_t>(header),
                     moved.begin() + static_cast<std::ptrdiff_t>(gap + header));  // to higher addresses
  (void)pb.pull(gap);  // the packet only shrank: its length fields still fit
  detail::fix_transport_header(pb.data(), outer->split, d->next_header);
  const SaConfig& c = sa.config();
  if (outer->udp && (c.nat_original_source || c.nat_original_destination)) {
    // RFC 3948 3.1.2: the peer's checksums cover its pre-NAT addresses.
    (void)detail::fix_nat_checksum(pb.data(), header, d->next_header,
                                   c.nat_original_source ? &*c.nat_original_source : nullptr,
                                   c.nat_original_destination ? &*c.nat_original_destination : nullptr);
  }
  OpenInfo info;
  info.sequence = d->seq;
  info.next_header = d->next_header;
  info.soft_limit_reached = sa.account(pb.size());
  return info;
}

inline void seal_burst(OutboundSa& sa, std::span<PacketBuffer> packets,
                       std::span<SealResult> results) noexcept {
  const size_t n = std::min(packets.size(), results.size());
  for (size_t i = 0; i < n; ++i) {
    auto r = seal(sa, packets[i]);
    results[i].status = r.status();
    if (r) results[i].info = *r;
  }
}

inline void open_burst(InboundSa& sa, std::span<PacketBuffer> packets,
                       std::span<OpenResult> results) noexcept {
  const size_t n = std::min(packets.size(), results.size());
  for (size_t i = 0; i < n; ++i) {
    auto r = open(sa, packets[i]);
    results[i].status = r.status();
    if (r) results[i].info = *r;
  }
}

}  // namespace ipsec::esp
