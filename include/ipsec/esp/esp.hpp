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
#include <optional>
#include <span>
#include <utility>

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
// seal_burst / open_burst: the same for a burst of packets, each with its
// own result (as many as the shortest span), of one SA or of one SA per
// packet (sas[i] for packets[i]; a null SA gets invalid_argument). The
// crypto of the whole burst is handed to the backend at once (crypto::
// seal_burst, etm_seal_burst), so a multi-buffer backend pipelines packets
// even of different SAs; results are those of the single calls. AH packets
// and ESN with GMAC go one by one. open_esp_burst: open_esp for each
// packet, outer_ecn[i] its ECN (0 where the span is shorter).
void seal_burst(OutboundSa& sa, std::span<PacketBuffer> packets, std::span<SealResult> results) noexcept;
void seal_burst(std::span<OutboundSa* const> sas, std::span<PacketBuffer> packets,
                std::span<SealResult> results) noexcept;
void open_burst(InboundSa& sa, std::span<PacketBuffer> packets, std::span<OpenResult> results) noexcept;
void open_burst(std::span<InboundSa* const> sas, std::span<PacketBuffer> packets,
                std::span<OpenResult> results) noexcept;
void open_esp_burst(std::span<InboundSa* const> sas, std::span<PacketBuffer> packets,
                    std::span<OpenResult> results, std::span<const uint8_t> outer_ecn = {}) noexcept;

// ---- implementation -----------------------------------------------------------------------

// AH lives in its own header; seal/open dispatch to it by the SA's protocol.
namespace detail {
[[nodiscard]] Result<SealInfo> ah_seal(OutboundSa& sa, PacketBuffer& pb) noexcept;
[[nodiscard]] Result<OpenInfo> ah_open(InboundSa& sa, PacketBuffer& pb) noexcept;
}  // namespace detail

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
// HeaderSplit: what rewriting the kept header needs (fix_transport_header).
struct HeaderSplit {
  IpFamily family = IpFamily::v4;
  size_t header_size = 0;        // octets kept in front of ESP
  size_t next_header_field = 0;  // offset of the field that will say 50/51/17
};
struct TransportSplit : HeaderSplit {
  IpAddress source, destination;
  ByteView routing_header;  // IPv6: the last routing header kept in front (a view into the packet)
  uint8_t next_header = 0;  // the protocol ESP/AH will protect
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
inline void fix_transport_header(MutableByteView packet, const HeaderSplit& split,
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

// esp_fill_iv: the explicit IV of a packet (RFC 4303 2.3).
[[nodiscard]] inline Status esp_fill_iv(const Transforms& t, const EspLayout& l, uint32_t spi,
                                        uint64_t seq) noexcept {
  if (t.aead || t.iv_size == 8) {
    store_be64(l.iv.first<8>(), seq);  // counter modes: unique per packet (RFC 4106 3.1, RFC 3686 3.1)
    return Status::success();
  }
  if (t.encr == crypto::EncrId::aes_cbc) {
    // IV = E_K(SPI | seq | 0^4): unpredictable without K, unique per packet.
    std::array<uint8_t, 16> nonce{};
    store_be32(std::span<uint8_t, 16>(nonce).first<4>(), spi);
    store_be64(std::span<uint8_t, 16>(nonce).subspan<4, 8>(), seq);
    const std::array<uint8_t, 16> zero{};
    IPSEC_TRY(t.cipher->encrypt(zero, nonce));
    std::copy(nonce.begin(), nonce.end(), l.iv.begin());
  }
  return Status::success();
}

// esp_crypt_seal: encrypt and authenticate a framed packet whose IV is
// filled (RFC 4303 3.3.2). esn_room: the 4 octets before the ESP header
// plus the header, for GMAC with ESN (empty otherwise).
[[nodiscard]] inline Status esp_crypt_seal(const Transforms& t, const EspLayout& l, uint32_t spi,
                                           uint64_t seq, bool esn, MutableByteView esn_room) noexcept {
  if (t.aead) {
    if (!t.gmac) return t.aead->seal(l.iv, esp_aad(spi, seq, esn).view(), l.body, l.icv);
    // RFC 4543 3.3: everything from the SPI to the trailer is AAD; nothing is encrypted.
    if (!esn) return t.aead->seal(l.iv, l.all.first(l.all.size() - l.icv.size()), {}, l.icv);
    if (esn_room.size() < 8) return Errc::no_headroom;
    EsnAadWindow window(esn_room, spi, static_cast<uint32_t>(seq >> 32));
    return t.aead->seal(l.iv, esn_room.first(4 + l.all.size() - l.icv.size()), {}, l.icv);
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

// esp_pad_size: RFC 4303 2.4: payload | padding | pad length | next header
// ends on the cipher block and on a 4-octet boundary; padding is 1, 2, 3, ...
// t.align is a power of two (4, 8 or 16: make_transforms), so a mask does
// what a modulo would (a 64-bit division per packet cost ~15 ns here).
[[nodiscard]] inline size_t esp_pad_size(const Transforms& t, size_t body) noexcept {
  const size_t mask = t.align - 1u;
  return (t.align - ((body + 2) & mask)) & mask;
}

// esp_trailer_size: padding (as esp_frame pads), pad length, next header
// and ICV behind `body` octets of payload (and TFC padding).
[[nodiscard]] inline size_t esp_trailer_size(const Transforms& t, size_t body) noexcept {
  return esp_pad_size(t, body) + 2 + t.icv_size;
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

// esp_frame: pb holds the payload to protect; append the trailer and
// prepend SPI | seq | IV. pb then holds [SPI .. ICV] with the body still in
// the clear and the ICV unset: esp_crypt_seal (or a burst) completes it.
[[nodiscard]] inline Status esp_frame(OutboundSa& sa, PacketBuffer& pb, uint8_t next_header,
                                      size_t tfc_octets, uint64_t seq) noexcept {
  const Transforms& t = sa.transforms();
  const size_t body = pb.size() + tfc_octets;
  const size_t pad = esp_pad_size(t, body);
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
  return esp_fill_iv(t, esp_layout(pb.data(), t), sa.spi(), seq);
}

// esp_seal_crypto: the crypto of one framed packet at pb.data(). (The
// layout is recomputed from pb rather than kept in the frames: cheaper than
// storing and reloading five spans per packet.)
[[nodiscard]] inline Status esp_seal_crypto(OutboundSa& sa, PacketBuffer& pb, uint64_t seq) noexcept {
  const Transforms& t = sa.transforms();
  const EspLayout l = esp_layout(pb.data(), t);
  const bool esn = sa.config().esn;
  return esp_crypt_seal(t, l, sa.spi(), seq, esn, esn && t.gmac ? esn_room(pb) : MutableByteView());
}

// push_outer: push the outer headers of a tunnel-mode packet (and the UDP
// header), pb holding [SPI .. ICV]; returns the ESP offset.
[[nodiscard]] inline Result<size_t> push_outer(OutboundSa& sa, PacketBuffer& pb, const InnerInfo& inner,
                                               uint8_t protocol, uint64_t seq) noexcept {
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
    write_ipv4_header(pb.data(), tos, static_cast<uint16_t>(pb.size()), sa.ip_id(seq), df, tun.hop_limit,
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
  HeaderSplit split;  // header_size = octets before ESP/AH (or before UDP)
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

// ESP decapsulation is split around its crypto so that a burst can run the
// crypto of many packets at once: decap_begin (header, SPI, lengths, the
// read-only replay check), the ICV verification and decryption, decap_end
// (window commit, padding, strip). pb starts at the ESP header.
struct Decapped {
  uint64_t seq = 0;
  uint8_t next_header = 0;
};
struct DecapFrame {
  uint64_t seq = 0;
  bool crypto_done = false;  // the crypto already ran (ESN resync, GMAC with ESN): see crypto_status
  Status crypto_status;
};

[[nodiscard]] Status esp_open_resync(InboundSa& sa, PacketBuffer& pb, const EspLayout& l, uint32_t low,
                                     uint64_t* seq) noexcept;

[[nodiscard]] inline Status decap_begin(InboundSa& sa, PacketBuffer& pb, DecapFrame* f) noexcept {
  const Transforms& t = sa.transforms();
  ByteReader r(pb.data());
  uint32_t spi = 0, low = 0;
  if (!r.read_u32(&spi) || !r.read_u32(&low)) {
    sa.count_malformed();
    return r.status().with_field("esp header");
  }
  if (spi != sa.spi()) {
    sa.count_malformed();
    return Status(Errc::spi_mismatch, 0, "spi");
  }
  const size_t overhead = kEspHeaderSize + t.iv_size + t.icv_size;
  if (pb.size() < overhead + 2) {
    sa.count_malformed();
    return Status(Errc::truncated, static_cast<uint32_t>(pb.size()), "esp packet");
  }
  const EspLayout l = esp_layout(pb.data(), t);
  if (t.align > 4 && (l.body.size() & (t.align - 1u)) != 0) {  // CBC: whole blocks (RFC 3602 2.4)
    sa.count_malformed();
    return Status(Errc::invalid_length, kEspHeaderSize, "esp ciphertext");
  }
  const ReplayWindow& window = sa.window();
  f->seq = window.infer(low);
  if (Status s = window.check(f->seq); !s.ok()) {
    sa.count_replay_drop();
    return Status(s.code(), 4, "esp sequence number");
  }
  const bool esn = sa.config().esn;
  if (sa.resync_due() && pb.size() <= limits::kMaxEsnResyncPacket) {
    f->crypto_status = esp_open_resync(sa, pb, l, low, &f->seq);
    f->crypto_done = true;
  } else if (esn && t.gmac) {
    // The AAD borrows the octets in front of the header: one packet at a time.
    f->crypto_status = esp_crypt_open(t, l, spi, f->seq, true, esn_room(pb));
    f->crypto_done = true;
  }
  return Status::success();
}

// decap_end: after the crypto (status `crypto`): counts, the window commit
// (RFC 4303 3.4.3: only for packets that authenticated), the padding check
// and the strip; pb then holds the payload.
[[nodiscard]] inline Result<Decapped> decap_end(InboundSa& sa, PacketBuffer& pb, const DecapFrame& f,
                                                Status crypto) noexcept {
  if (!crypto.ok()) {
    if (crypto == Errc::integrity_check_failed) sa.auth_failed();
    return crypto;
  }
  sa.auth_succeeded();
  if (Status s = sa.mutable_window().commit(f.seq); !s.ok()) {
    // A concurrent receiver accepted the same sequence number first.
    sa.count_replay_drop();
    return Status(s.code(), 4, "esp sequence number");
  }
  const Transforms& t = sa.transforms();
  const MutableByteView body = esp_layout(pb.data(), t).body;
  // RFC 4303 2.4: Pad Length, Next Header, and padding 1, 2, 3, ...
  const size_t n = body.size();
  const size_t pad = body[n - 2];
  const uint8_t next = body[n - 1];
  bool pad_ok = pad + 2 <= n;
  for (size_t i = 0; pad_ok && i < pad; ++i) pad_ok = body[n - 2 - pad + i] == static_cast<uint8_t>(i + 1);
  if (!pad_ok) {
    sa.count_pad_error();
    return Status(Errc::bad_padding, static_cast<uint32_t>(kEspHeaderSize + t.iv_size + n - 2),
                  "esp padding");
  }
  (void)pb.pull(kEspHeaderSize + t.iv_size);
  (void)pb.trim(pad + 2 + t.icv_size);
  return Decapped{f.seq, next};
}

// esp_decap_crypto: the crypto of one packet after decap_begin.
[[nodiscard]] inline Status esp_decap_crypto(const InboundSa& sa, PacketBuffer& pb,
                                             const DecapFrame& f) noexcept {
  if (f.crypto_done) return f.crypto_status;
  const Transforms& t = sa.transforms();
  return esp_crypt_open(t, esp_layout(pb.data(), t), sa.spi(), f.seq, sa.config().esn, MutableByteView());
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
  if (next_header != kNextHeaderIpv4 && next_header != kNextHeaderIpv6) {
    sa.count_malformed();
    return Status(Errc::unexpected_protocol, 0, "tunnel payload");
  }
  size_t length = 0;
  uint8_t inner_ecn = 0;
  if (next_header == kNextHeaderIpv4) {
    auto h = ipv4_fields(pb.data());
    if (!h) {
      sa.count_malformed();
      return h.status();
    }
    length = h->total_length;
    inner_ecn = h->tos & 0x03;
  } else {
    auto h = ipv6_fields(pb.data());
    if (!h) {
      sa.count_malformed();
      return h.status();
    }
    length = wire::Ipv6Header::kSize + h->payload_length;
    inner_ecn = h->traffic_class & 0x03;
  }
  if (length < pb.size()) (void)pb.trim(pb.size() - length);  // TFC padding (RFC 4303 2.7)
  const int ecn = decap_ecn(inner_ecn, outer_ecn);
  if (ecn < 0) {
    sa.count_malformed();
    return Status(Errc::ecn_mismatch, 1, "ecn");
  }
  if (ecn != inner_ecn) set_inner_ecn(pb.data(), static_cast<uint8_t>(ecn));
  return Status::success();
}

// OpenFrame: a received packet between open_begin and open_finish.
struct OpenFrame {
  DecapFrame decap;
  OuterInfo outer;        // open: the datagram's headers in front of ESP
  bool esp_only = false;  // open_esp: pb started at the ESP header (tunnel mode)
  uint8_t outer_ecn = 0;
};

// open_begin: the checks before the crypto; pb then starts at the ESP header.
[[nodiscard]] inline Status open_begin(InboundSa& sa, PacketBuffer& pb, bool esp_only, uint8_t outer_ecn,
                                       OpenFrame* f) noexcept {
  const SaConfig& c = sa.config();
  f->esp_only = esp_only;
  if (esp_only) {
    if (c.protocol != SecurityProtocol::esp || c.mode != Mode::tunnel) return Errc::invalid_argument;
    if (sa.hard_limit_reached()) return Errc::lifetime_expired;
    f->outer_ecn = outer_ecn & 0x03;
  } else {
    if (sa.hard_limit_reached()) return Errc::lifetime_expired;
    auto outer = parse_outer(sa, pb);
    if (!outer) {
      sa.count_malformed();
      return outer.status();
    }
    f->outer = *outer;
    f->outer_ecn = outer->ecn;
    (void)pb.pull(outer->protected_offset);
  }
  return decap_begin(sa, pb, &f->decap);
}

// open_finish: after the crypto: the window, the padding, dummy packets
// (RFC 4303 2.6: next header 59, authentic and counted but carrying
// nothing), then the inner packet (tunnel) or the rebuilt one (transport).
[[nodiscard]] inline Result<OpenInfo> open_finish(InboundSa& sa, PacketBuffer& pb, const OpenFrame& f,
                                                  Status crypto) noexcept {
  auto d = decap_end(sa, pb, f.decap, crypto);
  if (!d) return d.status();
  if (d->next_header == kNextHeaderNone) {
    sa.count_dummy();
    return Errc::dummy_packet;
  }
  const SaConfig& c = sa.config();
  if (c.mode == Mode::tunnel) {
    IPSEC_TRY(finish_tunnel(sa, pb, d->next_header, f.outer_ecn));
  } else {
    // Bring the IP header back in front of the payload: it sits before the
    // [UDP |] ESP | IV octets that decapsulation pulled.
    const OuterInfo& outer = f.outer;  // transport mode: only open() (the whole datagram)
    const size_t header = outer.split.header_size;
    const size_t gap = outer.protected_offset - header + kEspHeaderSize + sa.transforms().iv_size;
    (void)pb.push(gap + header);
    const MutableByteView moved = pb.data();
    std::copy_backward(moved.begin(), moved.begin() + static_cast<std::ptrdiff_t>(header),
                       moved.begin() + static_cast<std::ptrdiff_t>(gap + header));  // to higher addresses
    (void)pb.pull(gap);  // the packet only shrank: its length fields still fit
    fix_transport_header(pb.data(), outer.split, d->next_header);
    if (outer.udp && (c.nat_original_source || c.nat_original_destination)) {
      // RFC 3948 3.1.2: the peer's checksums cover its pre-NAT addresses.
      (void)fix_nat_checksum(pb.data(), header, d->next_header,
                             c.nat_original_source ? &*c.nat_original_source : nullptr,
                             c.nat_original_destination ? &*c.nat_original_destination : nullptr);
    }
  }
  // Checked again: the packets before this one in a burst may have reached it.
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  OpenInfo info;
  info.sequence = d->seq;
  info.next_header = d->next_header;
  info.soft_limit_reached = sa.account(pb.size());
  return info;
}

// SealFrame: a packet between seal_begin and seal_finish.
struct SealFrame {
  uint64_t seq = 0;
  size_t inner_size = 0;
  bool soft_limit_reached = false;
  InnerInfo inner;  // tunnel mode
  // Transport mode: where the caller keeps the split (a TransportSplit is
  // 80 octets; zero-filling one per tunnel-mode packet cost more than the
  // rest of the framing).
  TransportSplit* split = nullptr;
};

// seal_begin: every check (before anything changes or a sequence number is
// spent), then the ESP framing; pb then holds [SPI .. ICV] in the clear.
[[nodiscard]] inline Status seal_begin(OutboundSa& sa, PacketBuffer& pb, SealFrame* f) noexcept {
  if (sa.hard_limit_reached()) return Errc::lifetime_expired;
  // The IP packet as its length field delimits it (link padding is not
  // sent); refused before a sequence number is spent.
  auto length = ip_packet_length(pb.data());
  if (!length) return length.status();
  if (*length < pb.size()) (void)pb.trim(pb.size() - *length);
  const SaConfig& c = sa.config();
  f->inner_size = pb.size();
  if (c.mode == Mode::tunnel) {
    auto inner = inspect_inner(pb.data());
    if (!inner) return inner.status();
    f->inner = *inner;
    const size_t tfc = c.tfc_pad_to > f->inner_size ? c.tfc_pad_to - f->inner_size : 0;
    const size_t front = outer_header_size(*c.tunnel) + (c.udp ? kUdpHeaderSize : 0) + kEspHeaderSize +
                         sa.transforms().iv_size;
    IPSEC_TRY(check_room(pb, front, tfc + esp_trailer_size(sa.transforms(), f->inner_size + tfc),
                         c.tunnel->local.family()));
    auto seq = sa.next_sequence();
    if (!seq) return seq.status();
    f->seq = *seq;
    // Counted with its sequence number, so that the packets of a burst meet
    // the hard limit as single calls do.
    f->soft_limit_reached = sa.account(f->inner_size);
    const uint8_t next = inner->family == IpFamily::v4 ? kNextHeaderIpv4 : kNextHeaderIpv6;
    return esp_frame(sa, pb, next, tfc, *seq);
  }
  if (f->split == nullptr) return Errc::invalid_argument;  // the caller provides the storage
  auto split = transport_split(pb.data());
  if (!split) return split.status();
  if (split->next_header == kNextHeaderNone) {
    // RFC 4303 2.6: next header 59 marks a dummy packet, which the peer drops.
    return Status(Errc::unexpected_protocol, static_cast<uint32_t>(split->next_header_field),
                  "no next header");
  }
  if (c.udp && !split->routing_header.empty()) {
    // The UDP checksum covers the final destination (RFC 8200 8.1).
    IPSEC_TRY(wire::routing_final_destination(split->routing_header, &split->destination));
  }
  const size_t udp = c.udp ? kUdpHeaderSize : 0;
  const size_t shift = udp + kEspHeaderSize + sa.transforms().iv_size;
  IPSEC_TRY(check_room(pb, shift, esp_trailer_size(sa.transforms(), f->inner_size - split->header_size),
                       split->family));
  auto seq = sa.next_sequence();
  if (!seq) return seq.status();
  f->seq = *seq;
  f->soft_limit_reached = sa.account(f->inner_size);
  *f->split = *split;
  f->split->routing_header = {};  // a view of octets about to move; only the destination is kept
  // Move the IP header forward, leaving a gap for [UDP |] ESP | IV behind it.
  auto grown = pb.push(shift);
  if (!grown) return grown.status();
  const MutableByteView moved = pb.data();
  std::copy_n(moved.subspan(shift).begin(), split->header_size, moved.begin());  // to lower addresses
  (void)pb.pull(split->header_size + shift);
  return esp_frame(sa, pb, split->next_header, 0, *seq);
}

// seal_finish: after the crypto: the outer headers (the UDP checksum over
// IPv6 covers the ciphertext) and the SA's counters.
[[nodiscard]] inline Result<SealInfo> seal_finish(OutboundSa& sa, PacketBuffer& pb,
                                                  const SealFrame& f) noexcept {
  const SaConfig& c = sa.config();
  SealInfo info;
  info.sequence = f.seq;
  if (c.mode == Mode::tunnel) {
    auto offset = push_outer(sa, pb, f.inner, static_cast<uint8_t>(SecurityProtocol::esp), f.seq);
    if (!offset) return offset.status();
    info.esp_offset = *offset;
  } else {
    const size_t udp = c.udp ? kUdpHeaderSize : 0;
    if (udp != 0) {
      (void)pb.push(udp);
      const bool v6 = f.split->family == IpFamily::v6;
      write_udp_header(pb.data(), *c.udp, v6 ? &f.split->source : nullptr,
                       v6 ? &f.split->destination : nullptr);
    }
    (void)pb.push(f.split->header_size);
    fix_transport_header(
        pb.data(), *f.split,
        udp != 0 ? static_cast<uint8_t>(wire::IpProtocol::udp) : static_cast<uint8_t>(SecurityProtocol::esp));
    info.esp_offset = f.split->header_size + udp;
  }
  info.soft_limit_reached = f.soft_limit_reached;
  return info;
}

// ---- bursts ----
// A burst runs in chunks of kBurstChunk packets: begin for each, the crypto
// of the whole chunk in one call per kind (AEAD, encrypt-then-MAC), so a
// multi-buffer backend pipelines packets of different SAs, then finish for
// each. State lives on the stack; nothing is allocated.
inline constexpr size_t kBurstChunk = 32;

// CryptoBatch: the crypto ops of one chunk, and for each packet where its
// status will be found.
class CryptoBatch {
 public:
  enum class Slot : uint8_t { none, aead, etm, done };

  // add: the crypto of framed packet `i` (sealing or opening).
  void add(size_t i, const Transforms& t, const EspLayout& l, uint32_t spi, uint64_t seq, bool esn) noexcept {
    if (t.aead) {
      crypto::AeadOp& op = aead_[aead_count_];
      op.aead = t.aead.get();
      op.iv = l.iv;
      if (t.gmac) {
        // RFC 4543 3.3 (without ESN: with it the caller ran the packet alone).
        op.aad = l.all.first(l.all.size() - l.icv.size());
        op.data = {};
      } else {
        aad_[i] = esp_aad(spi, seq, esn);
        op.aad = aad_[i].view();
        op.data = l.body;
      }
      op.icv = l.icv;
      slot_[i] = Slot::aead;
      index_[i] = static_cast<uint8_t>(aead_count_++);
      return;
    }
    crypto::EtmOp& op = etm_[etm_count_];
    op.cipher = t.cipher.get();
    op.integ = t.integ.get();
    op.authenticated = l.all.first(l.all.size() - l.icv.size());
    op.cipher_offset = kEspHeaderSize + t.iv_size;
    op.iv = l.iv;
    if (esn) {
      // RFC 4303 3.3.2.1: Seqh is authenticated after the packet.
      store_be32(high_[i], static_cast<uint32_t>(seq >> 32));
      op.extra = high_[i];
    } else {
      op.extra = {};
    }
    op.icv = l.icv;
    slot_[i] = Slot::etm;
    index_[i] = static_cast<uint8_t>(etm_count_++);
  }
  // add_done: packet i's crypto already ran (or it never needs any).
  void add_done(size_t i, Status s) noexcept {
    slot_[i] = Slot::done;
    done_[i] = s;
  }
  void skip(size_t i) noexcept { slot_[i] = Slot::none; }

  void seal() noexcept {
    crypto::seal_burst(std::span(aead_).first(aead_count_));
    crypto::etm_seal_burst(std::span(etm_).first(etm_count_));
  }
  void open() noexcept {
    crypto::open_burst(std::span(aead_).first(aead_count_));
    crypto::etm_open_burst(std::span(etm_).first(etm_count_));
  }
  [[nodiscard]] bool pending(size_t i) const noexcept { return slot_[i] != Slot::none; }
  [[nodiscard]] Status status(size_t i) const noexcept {
    switch (slot_[i]) {
      case Slot::aead: return aead_[index_[i]].status;
      case Slot::etm: return etm_[index_[i]].status;
      case Slot::done: return done_[i];
      case Slot::none: break;
    }
    return Errc::invalid_argument;
  }

 private:
  std::array<crypto::AeadOp, kBurstChunk> aead_{};
  std::array<crypto::EtmOp, kBurstChunk> etm_{};
  std::array<EspAad, kBurstChunk> aad_{};
  std::array<std::array<uint8_t, 4>, kBurstChunk> high_{};
  std::array<Status, kBurstChunk> done_{};
  std::array<Slot, kBurstChunk> slot_{};
  std::array<uint8_t, kBurstChunk> index_{};
  size_t aead_count_ = 0;
  size_t etm_count_ = 0;
};

// BurstItem: one packet of a burst as the burst loops see it.
template <typename Sa, typename Result>
struct BurstItem {
  Sa* sa = nullptr;
  PacketBuffer* pb = nullptr;
  Result* result = nullptr;
};

template <typename R>
inline void set_result(R& out, const auto& r) noexcept {
  out.status = r.status();
  out.info = r ? *r : decltype(out.info){};
}

// seal_many: packets 0..n-1 as at(i) gives them (BurstItem<OutboundSa,
// SealResult>); a null SA gets invalid_argument.
template <typename At>
void seal_many(size_t n, At at) noexcept {
  for (size_t base = 0; base < n; base += kBurstChunk) {
    const size_t m = std::min(kBurstChunk, n - base);
    CryptoBatch batch;
    std::array<SealFrame, kBurstChunk> frames;
    std::array<TransportSplit, kBurstChunk> splits;
    for (size_t i = 0; i < m; ++i) {
      BurstItem<OutboundSa, SealResult> item = at(base + i);
      batch.skip(i);
      if (item.sa == nullptr) {
        item.result->status = Errc::invalid_argument;
        item.result->info = {};
        continue;
      }
      OutboundSa& sa = *item.sa;
      if (sa.config().protocol == SecurityProtocol::ah) {
        set_result(*item.result, ah_seal(sa, *item.pb));
        continue;
      }
      frames[i].split = &splits[i];
      if (Status s = seal_begin(sa, *item.pb, &frames[i]); !s.ok()) {
        item.result->status = s;
        item.result->info = {};
        continue;
      }
      const Transforms& t = sa.transforms();
      const bool esn = sa.config().esn;
      if (t.gmac && esn) {
        batch.add_done(i, esp_seal_crypto(sa, *item.pb, frames[i].seq));
      } else {
        batch.add(i, t, esp_layout(item.pb->data(), t), sa.spi(), frames[i].seq, esn);
      }
    }
    batch.seal();
    for (size_t i = 0; i < m; ++i) {
      if (!batch.pending(i)) continue;
      BurstItem<OutboundSa, SealResult> item = at(base + i);
      if (Status s = batch.status(i); !s.ok()) {
        item.result->status = s;
        item.result->info = {};
        continue;
      }
      set_result(*item.result, seal_finish(*item.sa, *item.pb, frames[i]));
    }
  }
}

// open_many: as seal_many for received packets; esp_only(i) and ecn(i) as
// open_esp takes them.
template <typename At, typename EspOnly>
void open_many(size_t n, At at, EspOnly esp_only) noexcept {
  for (size_t base = 0; base < n; base += kBurstChunk) {
    const size_t m = std::min(kBurstChunk, n - base);
    CryptoBatch batch;
    std::array<OpenFrame, kBurstChunk> frames;
    for (size_t i = 0; i < m; ++i) {
      BurstItem<InboundSa, OpenResult> item = at(base + i);
      batch.skip(i);
      if (item.sa == nullptr) {
        item.result->status = Errc::invalid_argument;
        item.result->info = {};
        continue;
      }
      InboundSa& sa = *item.sa;
      const auto [only, ecn] = esp_only(base + i);
      if (!only && sa.config().protocol == SecurityProtocol::ah) {
        set_result(*item.result, ah_open(sa, *item.pb));
        continue;
      }
      if (Status s = open_begin(sa, *item.pb, only, ecn, &frames[i]); !s.ok()) {
        item.result->status = s;
        item.result->info = {};
        continue;
      }
      const DecapFrame& d = frames[i].decap;
      if (d.crypto_done) {
        batch.add_done(i, d.crypto_status);
      } else {
        batch.add(i, sa.transforms(), esp_layout(item.pb->data(), sa.transforms()), sa.spi(), d.seq,
                  sa.config().esn);
      }
    }
    batch.open();
    for (size_t i = 0; i < m; ++i) {
      if (!batch.pending(i)) continue;
      BurstItem<InboundSa, OpenResult> item = at(base + i);
      set_result(*item.result, open_finish(*item.sa, *item.pb, frames[i], batch.status(i)));
    }
  }
}

}  // namespace detail

namespace detail {
[[nodiscard]] inline Result<SealInfo> seal_one(OutboundSa& sa, PacketBuffer& pb, SealFrame& f) noexcept {
  IPSEC_TRY(seal_begin(sa, pb, &f));
  IPSEC_TRY(esp_seal_crypto(sa, pb, f.seq));
  return seal_finish(sa, pb, f);
}
}  // namespace detail

inline Result<SealInfo> seal(OutboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.config().protocol == SecurityProtocol::ah) return detail::ah_seal(sa, pb);
  detail::SealFrame f;
  if (sa.config().mode == Mode::tunnel) return detail::seal_one(sa, pb, f);
  detail::TransportSplit split;
  f.split = &split;
  return detail::seal_one(sa, pb, f);
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
  IPSEC_TRY(detail::esp_frame(sa, pb, detail::kNextHeaderNone, 0, *seq));
  IPSEC_TRY(detail::esp_seal_crypto(sa, pb, *seq));
  // The outer header of a dummy carries the tunnel's defaults.
  auto offset = detail::push_outer(sa, pb, detail::InnerInfo{sa.config().tunnel->local.family(), 0, true},
                                   static_cast<uint8_t>(SecurityProtocol::esp), *seq);
  if (!offset) return offset.status();
  sa.count_dummy();
  SealInfo info;
  info.sequence = *seq;
  info.esp_offset = *offset;
  return info;
}

inline Result<OpenInfo> open_esp(InboundSa& sa, PacketBuffer& pb, uint8_t outer_ecn) noexcept {
  detail::OpenFrame f;
  IPSEC_TRY(detail::open_begin(sa, pb, /*esp_only=*/true, outer_ecn, &f));
  return detail::open_finish(sa, pb, f, detail::esp_decap_crypto(sa, pb, f.decap));
}

inline Result<OpenInfo> open(InboundSa& sa, PacketBuffer& pb) noexcept {
  if (sa.config().protocol == SecurityProtocol::ah) return detail::ah_open(sa, pb);
  detail::OpenFrame f;
  IPSEC_TRY(detail::open_begin(sa, pb, /*esp_only=*/false, 0, &f));
  return detail::open_finish(sa, pb, f, detail::esp_decap_crypto(sa, pb, f.decap));
}

inline void seal_burst(OutboundSa& sa, std::span<PacketBuffer> packets,
                       std::span<SealResult> results) noexcept {
  detail::seal_many(std::min(packets.size(), results.size()), [&](size_t i) {
    return detail::BurstItem<OutboundSa, SealResult>{&sa, &packets[i], &results[i]};
  });
}

inline void seal_burst(std::span<OutboundSa* const> sas, std::span<PacketBuffer> packets,
                       std::span<SealResult> results) noexcept {
  detail::seal_many(std::min({sas.size(), packets.size(), results.size()}), [&](size_t i) {
    return detail::BurstItem<OutboundSa, SealResult>{sas[i], &packets[i], &results[i]};
  });
}

inline void open_burst(InboundSa& sa, std::span<PacketBuffer> packets,
                       std::span<OpenResult> results) noexcept {
  detail::open_many(
      std::min(packets.size(), results.size()),
      [&](size_t i) {
        return detail::BurstItem<InboundSa, OpenResult>{&sa, &packets[i], &results[i]};
      },
      [](size_t) {
        return std::pair<bool, uint8_t>{false, 0};
      });
}

inline void open_burst(std::span<InboundSa* const> sas, std::span<PacketBuffer> packets,
                       std::span<OpenResult> results) noexcept {
  detail::open_many(
      std::min({sas.size(), packets.size(), results.size()}),
      [&](size_t i) {
        return detail::BurstItem<InboundSa, OpenResult>{sas[i], &packets[i], &results[i]};
      },
      [](size_t) {
        return std::pair<bool, uint8_t>{false, 0};
      });
}

inline void open_esp_burst(std::span<InboundSa* const> sas, std::span<PacketBuffer> packets,
                           std::span<OpenResult> results, std::span<const uint8_t> outer_ecn) noexcept {
  detail::open_many(
      std::min({sas.size(), packets.size(), results.size()}),
      [&](size_t i) {
        return detail::BurstItem<InboundSa, OpenResult>{sas[i], &packets[i], &results[i]};
      },
      [&](size_t i) {
        return std::pair<bool, uint8_t>{true, i < outer_ecn.size() ? outer_ecn[i] : uint8_t{0}};
      });
}

}  // namespace ipsec::esp
