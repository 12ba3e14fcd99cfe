// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the datapath facade (sa/datapath.hpp), where packets from the
// network and from the TUN device meet the SPD and the SAD. Two gateways, A
// and B, are built fresh for every input (fixed keys and seeds, so every
// finding reproduces from its file), with IPv4 and IPv6 policies, a tunnel SA
// each way and one over UDP 4500. The first input octet picks a mode:
//  0: the rest is a datagram B receives (Datapath::inbound): classification
//     of ESP/AH/UDP 4500, SAD lookup, decapsulation, selector checks and
//     the inbound SPD never read outside it or crash;
//  1: the rest is a packet A reads from TUN (Datapath::outbound), then, if
//     A sends it, B receives it: a packet A protects is delivered by B
//     unchanged (up to its own IP length), since both sides' policies and
//     SA selectors agree;
//  2: as 1, but one octet of the protected packet (chosen by the input) is
//     flipped on the way: B must never deliver something A did not send;
//  3: the rest is up to 8 packets, each behind a length octet, through
//     A's outbound_burst and B's inbound_burst (the crypto of the burst in
//     one backend call, across the SAs): as 1 for each packet A sends.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/sa/datapath.hpp"

using namespace ipsec;
using namespace ipsec::sa;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

Selector selector(const char* local, const char* remote) {
  Selector s;
  s.local = AddressRange::of(IpPrefix::parse(local).value());
  s.remote = AddressRange::of(IpPrefix::parse(remote).value());
  return s;
}

Selector reversed(Selector s) {
  std::swap(s.local, s.remote);
  std::swap(s.local_port, s.remote_port);
  return s;
}

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

struct Pair {
  std::unique_ptr<Datapath> a, b;
};

// link: a tunnel SA from `from` to `to` for reqid (selectors as `from` sees them).
void link(Datapath& from, Datapath& to, const IpAddress& from_outer, const IpAddress& to_outer,
          uint32_t reqid, const std::vector<Selector>& selectors, bool udp, crypto::Rng& rng) {
  const uint32_t spi = to.sad().allocate_spi(rng).value();
  std::vector<uint8_t> key(36);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(static_cast<size_t>(reqid) * 31 + i);
  esp::SaConfig c;
  c.spi = spi;
  c.encr_keymat = key;
  c.replay_window = 64;
  esp::TunnelConfig t;
  t.local = from_outer;
  t.remote = to_outer;
  c.tunnel = t;
  if (udp) c.udp = esp::UdpEncapsulation{};
  auto out = esp::OutboundSa::create(c, provider()).value();
  std::swap(t.local, t.remote);
  c.tunnel = t;
  auto in = esp::InboundSa::create(c, provider()).value();
  SaBinding bin;
  bin.reqid = reqid;
  for (const Selector& s : selectors) bin.selectors.push_back(reversed(s));
  require(to.sad().install_inbound(std::move(in), bin, Timestamp{}).ok());
  SaBinding bout;
  bout.reqid = reqid;
  bout.selectors = selectors;
  require(from.sad().install_outbound(std::move(out), bout, Timestamp{}).ok());
}

Pair make_pair() {
  DatapathConfig config;
  config.sad.max_inbound = 16;
  config.sad.max_reqids = 8;
  Pair p{Datapath::create(config).value(), Datapath::create(config).value()};
  crypto::SeededRng rng(uint64_t{2026});
  const IpAddress a = ip("192.0.2.1"), b = ip("192.0.2.2");
  const Selector v4 = selector("10.1.0.0/16", "10.2.0.0/16"),
                 v6 = selector("2001:db8:1::/48", "2001:db8:2::/48");
  const Selector v4udp = selector("10.3.0.0/16", "10.4.0.0/16");
  std::vector<Policy> out_a(3), out_b(3), in_b(2);
  out_a[0] = Policy{1, v4, PolicyAction::protect, 1, {}};
  out_a[1] = Policy{2, v6, PolicyAction::protect, 1, {}};
  out_a[2] = Policy{3, v4udp, PolicyAction::protect, 2, {}};
  for (size_t i = 0; i < 3; ++i)
    out_b[i] = Policy{out_a[i].id, reversed(out_a[i].selector), PolicyAction::protect, out_a[i].reqid, {}};
  in_b[0] = Policy{1, selector("10.2.0.0/16", "10.9.0.0/16"), PolicyAction::bypass, 0, {}};
  in_b[1] = Policy{2, reversed(v4), PolicyAction::protect, 1, {}};
  require(p.a->set_policies(Direction::outbound, out_a).ok());
  require(p.b->set_policies(Direction::outbound, out_b).ok());
  require(p.b->set_policies(Direction::inbound, in_b).ok());
  link(*p.a, *p.b, a, b, 1, {v4, v6}, false, rng);
  link(*p.a, *p.b, a, b, 2, {v4udp}, true, rng);
  link(*p.b, *p.a, b, a, 1, {reversed(v4), reversed(v6)}, false, rng);
  return p;
}

// own_length: the IP packet's length field (what seal() protects), or the
// buffer size when it does not say.
size_t own_length(ByteView p) {
  if (p.size() >= 4 && (p[0] >> 4) == 4) return size_t{p[2]} << 8 | p[3];
  if (p.size() >= 6 && (p[0] >> 4) == 6) return 40 + (size_t{p[4]} << 8 | p[5]);
  return p.size();
}

// burst: mode 3.
int burst(Pair& p, ByteView rest) {
  constexpr size_t kMax = 8;
  std::vector<std::vector<uint8_t>> storage;
  std::vector<PacketBuffer> pbs;
  std::vector<ByteView> sent;
  while (!rest.empty() && pbs.size() < kMax) {
    const size_t n = rest[0] < rest.size() - 1 ? rest[0] : rest.size() - 1;
    const ByteView packet = rest.subspan(1, n);
    rest = rest.subspan(1 + n);
    storage.emplace_back(limits::kEspMaxHeadroom + packet.size() + limits::kEspMaxTailroom + 64);
    require(copy_bytes(MutableByteView(storage.back()).subspan(limits::kEspMaxHeadroom), packet));
    pbs.push_back(PacketBuffer::over(storage.back(), limits::kEspMaxHeadroom, packet.size()).value());
    sent.push_back(packet.first(own_length(packet) < packet.size() ? own_length(packet) : packet.size()));
  }
  std::vector<DatapathResult> out(pbs.size());
  {
    auto rs = p.a->enter(0);
    p.a->outbound_burst(rs, pbs, out);
  }
  std::vector<std::vector<uint8_t>> wires;
  std::vector<PacketBuffer> wpbs;
  std::vector<size_t> index;
  for (size_t i = 0; i < pbs.size(); ++i) {
    if (out[i].verdict != Verdict::send) continue;
    wires.emplace_back(limits::kEspMaxHeadroom + pbs[i].size() + 64);
    require(copy_bytes(MutableByteView(wires.back()).subspan(limits::kEspMaxHeadroom), pbs[i].data()));
    wpbs.push_back(PacketBuffer::over(wires.back(), limits::kEspMaxHeadroom, pbs[i].size()).value());
    index.push_back(i);
  }
  std::vector<DatapathResult> in(wpbs.size());
  auto rs = p.b->enter(0);
  p.b->inbound_burst(rs, wpbs, in);
  for (size_t j = 0; j < wpbs.size(); ++j) {
    require(in[j].verdict == Verdict::deliver);
    require(equal_bytes(wpbs[j].data(), sent[index[j]]));
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const uint8_t mode = data[0] % 4;
  const ByteView packet(data + 1, size - 1);
  Pair p = make_pair();
  std::vector<uint8_t> storage(limits::kEspMaxHeadroom + packet.size() + limits::kEspMaxTailroom + 64);
  require(copy_bytes(MutableByteView(storage).subspan(limits::kEspMaxHeadroom), packet));
  auto pb = PacketBuffer::over(storage, limits::kEspMaxHeadroom, packet.size()).value();

  if (mode == 3) return burst(p, packet);
  if (mode == 0) {
    auto rs = p.b->enter(0);
    const DatapathResult r = p.b->inbound(rs, pb);
    require(r.verdict != Verdict::send && r.verdict != Verdict::acquire);
    if (r.verdict == Verdict::ike) require(r.esp_offset <= packet.size());
    return 0;
  }

  DatapathResult out;
  {
    auto rs = p.a->enter(0);
    out = p.a->outbound(rs, pb);
  }
  if (out.verdict != Verdict::send) return 0;
  std::vector<uint8_t> wire(pb.data().begin(), pb.data().end());
  const size_t flip = packet.empty() ? 0 : packet[0] % wire.size();
  if (mode == 2) wire[flip] ^= static_cast<uint8_t>(packet.size() > 1 ? packet[1] | 1 : 1);
  std::vector<uint8_t> storage2(limits::kEspMaxHeadroom + wire.size() + 64);
  require(copy_bytes(MutableByteView(storage2).subspan(limits::kEspMaxHeadroom), wire));
  auto pb2 = PacketBuffer::over(storage2, limits::kEspMaxHeadroom, wire.size()).value();
  auto rs = p.b->enter(0);
  const DatapathResult in = p.b->inbound(rs, pb2);
  const ByteView sent = packet.first(own_length(packet) < packet.size() ? own_length(packet) : packet.size());
  if (mode == 1) {
    // What A protected under B's selectors, B delivers as it was.
    require(in.verdict == Verdict::deliver);
    require(equal_bytes(pb2.data(), sent));
  } else if (in.verdict == Verdict::deliver) {
    // A flipped octet in the outer IP header the ICV does not cover (TTL,
    // checksum, ECN, ...) may still be delivered, but never altered content:
    // only the inner ECN field (and the IPv4 checksum that covers it) may
    // change (RFC 6040 decapsulation).
    const ByteView got = pb2.data();
    require(got.size() == sent.size());
    const bool v4 = !sent.empty() && (sent[0] >> 4) == 4;
    for (size_t i = 0; i < got.size(); ++i) {
      const bool ecn_byte = v4 ? (i == 1 || i == 10 || i == 11) : i == 1;
      require(ecn_byte || got[i] == sent[i]);
    }
  }
  return 0;
}
