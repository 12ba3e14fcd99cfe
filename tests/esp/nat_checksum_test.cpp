// SPDX-License-Identifier: Apache-2.0
// Transport-mode ESP through a NAT (RFC 3948 3.1.2): the incremental
// checksum update (RFC 1624), the TCP/UDP fix-up, the whole path through
// seal / NAT / open, and the RFC 6935/6936 zero UDP checksum over IPv6.
#include "ipsec/esp/nat_checksum.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string_view>

#include "esp/esp_test_util.hpp"

using namespace ipsec;
using namespace ipsec::test;
using esp::detail::checksum_replace;
using esp::detail::fix_nat_checksum;

namespace {

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

// Ones'-complement arithmetic written out here (RFC 1071), independent of
// the library's, to recompute checksums from scratch.
uint32_t sum_words(uint32_t sum, ByteView b) {
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += (uint32_t{b[i]} << 8) | uint32_t{b[i + 1]};
  if (b.size() % 2 != 0) sum += uint32_t{b.back()} << 8;
  return sum;
}
uint16_t complement_of(uint32_t sum) {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void put16(Bytes& p, size_t at, uint16_t v) {
  p[at] = static_cast<uint8_t>(v >> 8);
  p[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(ByteView p, size_t at) { return static_cast<uint16_t>((p[at] << 8) | p[at + 1]); }

bool is_v4(ByteView p) { return (p[0] >> 4) == 4; }
size_t l4_offset(ByteView p) { return is_v4(p) ? size_t{p[0] & 0x0fu} * 4 : 40; }
uint8_t l4_protocol(ByteView p) { return is_v4(p) ? p[9] : p[6]; }
size_t checksum_at(ByteView p) { return l4_offset(p) + (l4_protocol(p) == kTcp ? size_t{16} : size_t{6}); }
uint16_t stored_checksum(ByteView p) { return get16(p, checksum_at(p)); }

// residue: the complement of the pseudo-header (RFC 768 / RFC 9293 for
// IPv4, RFC 8200 8.1 for IPv6) plus the segment as it stands; 0 when the
// checksum in it verifies. The packet holds no IPv6 extension headers.
uint16_t residue(ByteView p) {
  const size_t addr = is_v4(p) ? 4 : 16;
  const size_t l4 = l4_offset(p);
  const size_t length = p.size() - l4;
  uint32_t sum = sum_words(0, p.subspan(is_v4(p) ? 12 : 8, 2 * addr));  // source, destination
  sum += static_cast<uint32_t>(length >> 16) + static_cast<uint32_t>(length & 0xffff) + l4_protocol(p);
  return complement_of(sum_words(sum, p.subspan(l4)));
}
bool verifies(ByteView p) { return residue(p) == 0; }

// from_scratch: the checksum the packet should carry for its addresses
// (a UDP checksum that comes out as 0 is sent as 0xFFFF, RFC 768).
uint16_t from_scratch(ByteView p) {
  Bytes copy(p.begin(), p.end());
  put16(copy, checksum_at(copy), 0);
  const uint16_t c = residue(copy);
  return l4_protocol(p) == kUdp && c == 0 ? 0xffff : c;
}
void set_checksum(Bytes& p) { put16(p, checksum_at(p), from_scratch(p)); }

void fix_ipv4_header_checksum(Bytes& p) {
  if (!is_v4(p)) return;
  put16(p, 10, 0);
  put16(p, 10, complement_of(sum_words(0, ByteView(p).first(l4_offset(p)))));
}

// set_address: what a NAT does to a header (the IPv4 header checksum is
// fixed; the TCP/UDP checksum is left as the sender computed it).
void set_address(Bytes& p, bool source, std::string_view text) {
  const IpAddress a = IpAddress::parse(text).value();
  const size_t at = is_v4(p) ? (source ? 12 : 16) : (source ? 8 : 24);
  REQUIRE(a.size() == (is_v4(p) ? 4u : 16u));
  REQUIRE(copy_bytes(MutableByteView(p).subspan(at), a.bytes()));
  fix_ipv4_header_checksum(p);
}

// packet: src -> dst carrying a TCP segment (20-octet header) or a UDP
// datagram with `payload` octets, checksums valid.
Bytes packet(std::string_view src, std::string_view dst, uint8_t protocol, size_t payload, uint8_t seed = 1) {
  const IpAddress s = IpAddress::parse(src).value(), d = IpAddress::parse(dst).value();
  const bool v4 = s.is_v4();
  const size_t ip = v4 ? 20 : 40, l4 = protocol == kTcp ? 20 : 8;
  Bytes p(ip + l4 + payload);
  if (v4) {
    p[0] = 0x45;
    put16(p, 2, static_cast<uint16_t>(p.size()));
    put16(p, 4, 0x1234);
    p[6] = 0x40;
    p[8] = 64;
    p[9] = protocol;
    REQUIRE(copy_bytes(MutableByteView(p).subspan(12), s.bytes()));
    REQUIRE(copy_bytes(MutableByteView(p).subspan(16), d.bytes()));
    fix_ipv4_header_checksum(p);
  } else {
    p[0] = 0x60;
    put16(p, 4, static_cast<uint16_t>(p.size() - ip));
    p[6] = protocol;
    p[7] = 64;
    REQUIRE(copy_bytes(MutableByteView(p).subspan(8), s.bytes()));
    REQUIRE(copy_bytes(MutableByteView(p).subspan(24), d.bytes()));
  }
  put16(p, ip, 40000);
  if (protocol == kTcp) {
    put16(p, ip + 2, 443);
    put16(p, ip + 4, 0x1122);  // sequence number
    put16(p, ip + 6, 0x3344);
    put16(p, ip + 8, 0x5566);  // acknowledgment number
    put16(p, ip + 10, 0x7788);
    p[ip + 12] = 0x50;  // data offset 5
    p[ip + 13] = 0x18;  // PSH, ACK
    put16(p, ip + 14, 0xffff);
  } else {
    put16(p, ip + 2, 53);
    put16(p, ip + 4, static_cast<uint16_t>(l4 + payload));
  }
  for (size_t i = 0; i < payload; ++i) p[ip + l4 + i] = static_cast<uint8_t>(seed + 29 * i);
  set_checksum(p);
  REQUIRE(verifies(p));
  return p;
}

// Equal except for the TCP/UDP checksum field.
bool same_but_checksum(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  Bytes x(a.begin(), a.end()), y(b.begin(), b.end());
  put16(x, checksum_at(x), 0);
  put16(y, checksum_at(y), 0);
  return x == y;
}

struct Addresses {
  std::string_view src, dst;          // as the sender knows them
  std::string_view nat_src, nat_dst;  // as they arrive
};
constexpr Addresses kV4{"10.0.0.1", "203.0.113.9", "198.51.100.77", "192.168.1.5"};
constexpr Addresses kV6{"fd00::1", "2001:db8::9", "2001:db8:ffff::77", "fd00:2::5"};

enum class Translated { source, destination, both };
const char* name(Translated t) {
  return t == Translated::source ? "source" : t == Translated::destination ? "destination" : "both";
}
bool translates_source(Translated t) { return t != Translated::destination; }
bool translates_destination(Translated t) { return t != Translated::source; }

}  // namespace

TEST_CASE("checksum_replace: the RFC 1624 section 4 example") {
  // Other header words sum to 0xCD7A; m = 0x5555 becomes m' = 0x3285.
  // HC = ~(0xCD7A + 0x5555) = 0xDD2F, and HC' = ~(0xCD7A + 0x3285) = 0x0000
  // (eqn. 3 gets this right where eqn. 2 gives 0xFFFF).
  const Bytes m{0x55, 0x55}, m2{0x32, 0x85};
  CHECK(checksum_replace(0xdd2f, m, m2) == 0x0000);
  CHECK(checksum_replace(0x0000, m2, m) == 0xdd2f);
  // Nothing replaced, or a word replaced by itself: unchanged.
  CHECK(checksum_replace(0x1234, {}, {}) == 0x1234);
  CHECK(checksum_replace(0x1234, m, m) == 0x1234);
}

TEST_CASE("checksum_replace agrees with a recomputation from scratch") {
  std::mt19937 rng(20240601);
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const size_t words = 2 + rng() % 200;
    Bytes data(2 * words);
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
    data[1] |= 1;  // a non-zero word that is never replaced: the data is never all zero
    const size_t first = 1 + rng() % (words - 1);
    const size_t count = 1 + rng() % std::min<size_t>(8, words - first);
    const size_t at = 2 * first, n = 2 * count;
    const uint16_t before_sum = complement_of(sum_words(0, data));
    const Bytes before(data.begin() + static_cast<std::ptrdiff_t>(at),
                       data.begin() + static_cast<std::ptrdiff_t>(at + n));
    Bytes after(n);
    for (uint8_t& b : after) b = static_cast<uint8_t>(rng());
    if (iteration % 5 == 0) std::fill(after.begin(), after.end(), uint8_t{0});
    if (iteration % 7 == 0) std::fill(after.begin(), after.end(), uint8_t{0xff});
    REQUIRE(copy_bytes(MutableByteView(data).subspan(at), after));
    const uint16_t after_sum = complement_of(sum_words(0, data));
    INFO("iteration " << iteration << " words " << words << " at " << at << " n " << n);
    CHECK(checksum_replace(before_sum, before, after) == after_sum);
  }
}

TEST_CASE("fix_nat_checksum: TCP and UDP over IPv4 and IPv6, each translation") {
  for (const Addresses& a : {kV4, kV6}) {
    for (uint8_t protocol : {kTcp, kUdp}) {
      for (Translated t : {Translated::source, Translated::destination, Translated::both}) {
        for (size_t payload : {size_t{0}, size_t{33}, size_t{200}}) {
          INFO(a.src << " protocol " << int{protocol} << " translated " << name(t) << " payload " << payload);
          Bytes p = packet(a.src, a.dst, protocol, payload);
          if (translates_source(t)) set_address(p, true, a.nat_src);
          if (translates_destination(t)) set_address(p, false, a.nat_dst);
          REQUIRE_FALSE(verifies(p));
          const Bytes translated = p;
          const IpAddress src = IpAddress::parse(a.src).value(), dst = IpAddress::parse(a.dst).value();
          CHECK(fix_nat_checksum(p, l4_offset(p), protocol, translates_source(t) ? &src : nullptr,
                                 translates_destination(t) ? &dst : nullptr));
          CHECK(verifies(p));
          CHECK(stored_checksum(p) == from_scratch(p));
          CHECK(same_but_checksum(p, translated));

          // Told about only one of two translations, the result still does not verify.
          if (t == Translated::both) {
            Bytes half = translated;
            CHECK(fix_nat_checksum(half, l4_offset(half), protocol, &src, nullptr));
            CHECK_FALSE(verifies(half));
          }
          // Told about none: untouched.
          Bytes none = translated;
          CHECK(fix_nat_checksum(none, l4_offset(none), protocol, nullptr, nullptr));
          CHECK(none == translated);
        }
      }
    }
  }
}

TEST_CASE("fix_nat_checksum: a zero UDP checksum means none, and stays") {
  for (const Addresses& a : {kV4, kV6}) {
    INFO(a.src);
    Bytes p = packet(a.src, a.dst, kUdp, 20);
    put16(p, checksum_at(p), 0);  // IPv4: none (RFC 768); IPv6: RFC 6935 zero-checksum UDP
    set_address(p, true, a.nat_src);
    const Bytes before = p;
    const IpAddress src = IpAddress::parse(a.src).value();
    CHECK(fix_nat_checksum(p, l4_offset(p), kUdp, &src, nullptr));
    CHECK(p == before);
  }
}

TEST_CASE("fix_nat_checksum: a UDP checksum that comes out as zero is sent as 0xFFFF; TCP keeps zero") {
  for (const Addresses& a : {kV4, kV6}) {
    for (uint8_t protocol : {kUdp, kTcp}) {
      INFO(a.src << " protocol " << int{protocol});
      // Tune the last payload word so that the translated packet sums to
      // 0xFFFF (its checksum from scratch is 0).
      Bytes p = packet(a.src, a.dst, protocol, 40);
      set_address(p, true, a.nat_src);
      const size_t word = p.size() - 2;
      put16(p, word, 0);
      put16(p, checksum_at(p), 0);
      put16(p, word, residue(p));
      put16(p, checksum_at(p), 0);
      REQUIRE(residue(p) == 0);
      // The sender computed its checksum over the original address.
      set_address(p, true, a.src);
      set_checksum(p);
      REQUIRE(stored_checksum(p) != 0);
      set_address(p, true, a.nat_src);  // the NAT
      const IpAddress src = IpAddress::parse(a.src).value();
      CHECK(fix_nat_checksum(p, l4_offset(p), protocol, &src, nullptr));
      CHECK(stored_checksum(p) == (protocol == kUdp ? 0xffff : 0x0000));
      CHECK(verifies(p));
    }
  }
}

TEST_CASE("fix_nat_checksum: other protocols, short packets, foreign address families") {
  const IpAddress v4 = IpAddress::parse("10.0.0.1").value(), v6 = IpAddress::parse("fd00::1").value();
  // ICMP has no pseudo-header checksum: nothing to do.
  Bytes icmp = packet("10.0.0.1", "203.0.113.9", kUdp, 8);
  icmp[9] = kIcmp;
  fix_ipv4_header_checksum(icmp);
  const Bytes icmp_before = icmp;
  CHECK(fix_nat_checksum(icmp, 20, kIcmp, &v4, &v4));
  CHECK(icmp == icmp_before);

  // Too short to hold the checksum field.
  for (uint8_t protocol : {kTcp, kUdp}) {
    const size_t field = 20 + (protocol == kTcp ? 16u : 6u);
    for (size_t size : {field, field + 1}) {
      INFO("protocol " << int{protocol} << " size " << size);
      Bytes p = packet("10.0.0.1", "203.0.113.9", protocol, 0);
      p.resize(size);
      const Bytes before = p;
      CHECK_FALSE(fix_nat_checksum(p, 20, protocol, &v4, nullptr));
      CHECK(p == before);
    }
  }
  // Shorter than the IP header whose addresses it would read.
  for (size_t size : {size_t{0}, size_t{1}, size_t{19}}) {
    Bytes p(size, 0x45);
    CHECK_FALSE(fix_nat_checksum(p, 0, kUdp, &v4, nullptr));
  }
  for (size_t size : {size_t{1}, size_t{39}}) {
    Bytes p(size, 0x60);
    CHECK_FALSE(fix_nat_checksum(p, 0, kTcp, &v6, nullptr));
  }

  // An original address of the other family is not applied.
  Bytes p = packet("10.0.0.1", "203.0.113.9", kTcp, 10);
  set_address(p, true, "198.51.100.77");
  const Bytes before = p;
  CHECK(fix_nat_checksum(p, 20, kTcp, &v6, nullptr));
  CHECK(p == before);
}

namespace {

// A transport-mode ESP SA pair over UDP 4500; the inbound side gets the
// NAT-OA addresses it is told.
struct NatPath {
  crypto::DefaultProvider provider;
  Suite suite;
  Bytes key = test_key(crypto::encr_info(suite.encr)->keymat_size(suite.key_bits), 0x11);
  Bytes no_integ_key;

  [[nodiscard]] esp::SaConfig config() const {
    esp::SaConfig c = base_config(suite, key, no_integ_key);
    c.mode = esp::Mode::transport;
    c.udp = esp::UdpEncapsulation{4500, 4500};
    return c;
  }
  // sealed: the datagram the sender puts on the wire.
  Bytes sealed(ByteView inner) {
    auto out = esp::OutboundSa::create(config(), provider);
    REQUIRE(out);
    HostBuffer buf(inner);
    auto s = esp::seal(**out, buf.pb);
    REQUIRE_MESSAGE(s.ok(), s.status().name());
    return buf.bytes();
  }
  // opened: what the receiver reconstructs, with these NAT-OA addresses.
  Bytes opened(ByteView datagram, const IpAddress* original_source, const IpAddress* original_destination) {
    esp::SaConfig c = config();
    if (original_source != nullptr) c.nat_original_source = *original_source;
    if (original_destination != nullptr) c.nat_original_destination = *original_destination;
    auto in = esp::InboundSa::create(c, provider);
    REQUIRE(in);
    HostBuffer buf(datagram);
    auto o = esp::open(**in, buf.pb);
    REQUIRE_MESSAGE(o.ok(), o.status().name());
    return buf.bytes();
  }
};

// nat: rewrite the outer header of a UDP-encapsulated datagram as a NAT
// would: addresses, the source port of a translated source, the IPv4 header
// checksum, and the UDP checksum when there is one (IPv6; over IPv4 ESP in
// UDP sends 0, RFC 3948 3.1.1, and a NAT leaves 0 alone).
void nat(Bytes& datagram, const Addresses& a, Translated t) {
  if (translates_source(t)) {
    set_address(datagram, true, a.nat_src);
    put16(datagram, l4_offset(datagram), 61000);
  }
  if (translates_destination(t)) set_address(datagram, false, a.nat_dst);
  if (stored_checksum(datagram) != 0) set_checksum(datagram);
}

}  // namespace

TEST_CASE("transport-mode ESP in UDP through a NAT: open fixes the TCP/UDP checksum with NAT-OA") {
  NatPath path;
  for (const Addresses& a : {kV4, kV6}) {
    for (uint8_t protocol : {kTcp, kUdp}) {
      for (Translated t : {Translated::source, Translated::destination, Translated::both}) {
        INFO(a.src << " protocol " << int{protocol} << " translated " << name(t));
        const Bytes inner = packet(a.src, a.dst, protocol, 77, 0x5a);
        Bytes datagram = path.sealed(inner);
        REQUIRE(l4_protocol(datagram) == kUdp);
        if (is_v4(datagram)) CHECK(stored_checksum(datagram) == 0);  // RFC 3948 3.1.1
        nat(datagram, a, t);
        if (!is_v4(datagram)) CHECK(verifies(datagram));  // the NAT fixed the outer UDP checksum

        const IpAddress src = IpAddress::parse(a.src).value(), dst = IpAddress::parse(a.dst).value();
        const IpAddress* original_source = translates_source(t) ? &src : nullptr;
        const IpAddress* original_destination = translates_destination(t) ? &dst : nullptr;
        const Bytes fixed = path.opened(datagram, original_source, original_destination);
        // The packet as it arrived: translated addresses, the sender's payload,
        // and a checksum that verifies for those addresses.
        Bytes expected = inner;
        if (translates_source(t)) set_address(expected, true, a.nat_src);
        if (translates_destination(t)) set_address(expected, false, a.nat_dst);
        CHECK(same_but_checksum(fixed, expected));
        CHECK(verifies(fixed));
        CHECK(stored_checksum(fixed) == from_scratch(fixed));

        // Without NAT-OA the checksum still covers the sender's addresses.
        const Bytes unfixed = path.opened(datagram, nullptr, nullptr);
        CHECK(same_but_checksum(unfixed, expected));
        CHECK(stored_checksum(unfixed) == stored_checksum(inner));
        CHECK_FALSE(verifies(unfixed));
      }
    }
  }
}

TEST_CASE("transport-mode ESP in UDP through a NAT: an inner UDP checksum of zero over IPv4 stays zero") {
  NatPath path;
  Bytes inner = packet(kV4.src, kV4.dst, kUdp, 30);
  put16(inner, checksum_at(inner), 0);
  Bytes datagram = path.sealed(inner);
  nat(datagram, kV4, Translated::source);
  const IpAddress src = IpAddress::parse(kV4.src).value();
  const Bytes opened = path.opened(datagram, &src, nullptr);
  CHECK(stored_checksum(opened) == 0);
  Bytes expected = inner;
  set_address(expected, true, kV4.nat_src);
  CHECK(opened == expected);
}

TEST_CASE("UDP encapsulation over IPv6: the zero-checksum opt-in (RFC 6935/6936)") {
  crypto::DefaultProvider provider;
  const Suite suite;
  const Bytes key = test_key(crypto::encr_info(suite.encr)->keymat_size(suite.key_bits), 0x22);
  const Bytes no_integ_key;
  for (bool tunnel : {false, true}) {
    for (bool zero : {false, true}) {
      INFO("tunnel " << tunnel << " zero_checksum_ipv6 " << zero);
      esp::SaConfig c = base_config(suite, key, no_integ_key);
      if (tunnel) {
        c.tunnel = tunnel6();
      } else {
        c.mode = esp::Mode::transport;
      }
      c.udp = esp::UdpEncapsulation{4500, 4500, zero};
      auto sas = make_pair(c, provider);
      const Bytes inner = packet("2001:db8::1", "2001:db8::2", kUdp, 90);
      HostBuffer buf(inner);
      auto sealed = esp::seal(*sas.out, buf.pb);
      REQUIRE(sealed);
      const Bytes wire = buf.bytes();
      REQUIRE(l4_protocol(wire) == kUdp);
      if (zero) {
        CHECK(stored_checksum(wire) == 0);
      } else {
        CHECK(stored_checksum(wire) != 0);
        CHECK(verifies(wire));
        CHECK(stored_checksum(wire) == from_scratch(wire));
      }
      auto opened = esp::open(*sas.in, buf.pb);
      REQUIRE_MESSAGE(opened.ok(), opened.status().name());
      CHECK(buf.bytes() == inner);
    }
  }
  // Over IPv4 the flag changes nothing: the checksum is 0 either way.
  for (bool zero : {false, true}) {
    esp::SaConfig c = base_config(suite, key, no_integ_key);
    c.tunnel = tunnel4();
    c.udp = esp::UdpEncapsulation{4500, 4500, zero};
    auto sas = make_pair(c, provider);
    HostBuffer buf(packet("10.1.1.1", "10.2.2.2", kUdp, 20));
    REQUIRE(esp::seal(*sas.out, buf.pb));
    CHECK(stored_checksum(buf.bytes()) == 0);
  }
}
