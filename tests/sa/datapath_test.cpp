// SPDX-License-Identifier: Apache-2.0
// The SAD (RFC 4301 4.4.2) and the datapath facade (RFC 4301 5): SPI
// allocation, lookups, lifetimes, and two datapaths wired back to back:
// BYPASS/DISCARD/ACQUIRE, the inbound selector check, cleartext policy,
// UDP 4500, route-based SAs, a rekey with a stream of packets in flight,
// 1,000 tunnels of IPv4 and IPv6 traffic both ways, and workers running
// while the control thread changes policies and SAs.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "esp/esp_test_util.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/sa/acquire_queue.hpp"
#include "ipsec/sa/datapath.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::IpAddress;
using ipsec::IpFamily;
using ipsec::IpPrefix;
using ipsec::Timestamp;
using ipsec::test::Bytes;
using ipsec::test::HostBuffer;
using namespace ipsec::sa;
namespace esp = ipsec::esp;
namespace crypto = ipsec::crypto;
using namespace std::chrono_literals;

namespace {

IpAddress ip(const std::string& text) { return IpAddress::parse(text).value(); }
AddressRange net(const std::string& prefix) { return AddressRange::of(IpPrefix::parse(prefix).value()); }

Selector sel(const std::string& local, const std::string& remote) {
  Selector s;
  s.local = net(local);
  s.remote = net(remote);
  return s;
}

Policy protect(uint32_t id, const Selector& s, uint32_t reqid) {
  Policy p;
  p.id = id;
  p.selector = s;
  p.action = PolicyAction::protect;
  p.reqid = reqid;
  return p;
}
Policy plain(uint32_t id, const Selector& s, PolicyAction a) {
  Policy p;
  p.id = id;
  p.selector = s;
  p.action = a;
  return p;
}

Selector reversed(const Selector& s) {
  Selector r = s;
  std::swap(r.local, r.remote);
  std::swap(r.local_port, r.remote_port);
  return r;
}

crypto::DefaultProvider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

struct Recorder : SaEventSink {
  std::vector<SaEvent> events;
  void on_sa_event(const SaEvent& e) override { events.push_back(e); }
};

// Gateway: one Datapath, its outer address and its name for tests.
struct Gateway {
  std::unique_ptr<Datapath> dp;
  IpAddress outer;
  std::unique_ptr<crypto::SeededRng> rng;  // SPIs
};

Gateway gateway(const std::string& outer, uint64_t seed, size_t workers = 1) {
  DatapathConfig c;
  c.workers = workers;
  c.sad.max_inbound = 8192;
  c.sad.max_reqids = 4096;
  auto dp = Datapath::create(c);
  REQUIRE(dp.ok());
  return Gateway{std::move(*dp), ip(outer), std::make_unique<crypto::SeededRng>(seed)};
}

// connect: one child SA from `a` to `b` (reqid on a's side, selectors as
// a sees them): b allocates the SPI, installs the inbound SA, then a the
// outbound one, as an IKE responder and initiator would.
uint32_t connect(Gateway& a, Gateway& b, uint32_t reqid, const std::vector<Selector>& a_selectors,
                 uint8_t key_seed, bool udp = false, uint32_t interface_id = 0, Lifetime lifetime = {},
                 esp::TrafficLimits limits = {}) {
  auto spi = b.dp->sad().allocate_spi(*b.rng);
  REQUIRE(spi.ok());
  const Bytes key = ipsec::test::test_key(36, key_seed);
  esp::SaConfig c;
  c.spi = *spi;
  c.encr = crypto::EncrId::aes_gcm_16;
  c.encr_key_bits = 256;
  c.encr_keymat = key;
  c.mode = esp::Mode::tunnel;
  c.replay_window = 1024;
  c.limits = limits;
  esp::TunnelConfig t;
  t.local = a.outer;
  t.remote = b.outer;
  c.tunnel = t;
  if (udp) c.udp = esp::UdpEncapsulation{};
  auto out = esp::OutboundSa::create(c, provider());
  std::swap(t.local, t.remote);
  c.tunnel = t;
  auto in = esp::InboundSa::create(c, provider());
  REQUIRE(out.ok());
  REQUIRE(in.ok());
  SaBinding bin;
  bin.reqid = reqid;
  bin.interface_id = interface_id;
  for (const Selector& s : a_selectors) bin.selectors.push_back(reversed(s));
  bin.lifetime = lifetime;
  REQUIRE(b.dp->sad().install_inbound(std::move(*in), bin, Timestamp{}).ok());
  SaBinding bout;
  bout.reqid = reqid;
  bout.interface_id = interface_id;
  bout.selectors = a_selectors;
  bout.lifetime = lifetime;
  REQUIRE(a.dp->sad().install_outbound(std::move(*out), bout, Timestamp{}).ok());
  return *spi;
}

// Send one packet from a to b; returns b's result and the delivered bytes.
struct Transfer {
  DatapathResult out;
  DatapathResult in;
  Bytes delivered;
};
Transfer send(Gateway& a, Gateway& b, const Bytes& packet, uint32_t route_reqid = 0, size_t worker = 0) {
  Transfer t;
  HostBuffer buf(packet);
  {
    auto rs = a.dp->enter(worker);
    t.out = route_reqid != 0 ? a.dp->outbound_route(rs, buf.pb, route_reqid) : a.dp->outbound(rs, buf.pb);
  }
  if (t.out.verdict != Verdict::send) return t;
  HostBuffer wire(buf.bytes());
  auto rs = b.dp->enter(worker);
  t.in = b.dp->inbound(rs, wire.pb);
  if (t.in.verdict == Verdict::deliver) t.delivered = wire.bytes();
  return t;
}

}  // namespace

TEST_CASE("SAD: SPIs are random, unique, never reserved values; the table stays bounded") {
  EpochDomain epochs(1);
  crypto::SeededRng rng(1);
  SadConfig c;
  c.max_inbound = 100000;
  auto sad = std::move(*Sad::create(c, epochs));
  std::set<uint32_t> seen;
  std::vector<uint32_t> order;
  for (int i = 0; i < 100000; ++i) {
    auto spi = sad->allocate_spi(rng);
    REQUIRE(spi.ok());
    CHECK(*spi >= Sad::kMinSpi);
    CHECK(seen.insert(*spi).second);
    order.push_back(*spi);
  }
  CHECK(sad->allocate_spi(rng).status() == Errc::limit_exceeded);
  // Not sequential: consecutive SPIs share no structure an observer could
  // extrapolate (here: fewer than 1% are within 2^16 of the previous one).
  size_t close = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    const uint32_t d = order[i] > order[i - 1] ? order[i] - order[i - 1] : order[i - 1] - order[i];
    close += d < 65536 ? 1 : 0;
  }
  CHECK(close < order.size() / 100);
  // A reserved SPI is not found by the datapath; release frees a place; a
  // released SPI cannot be released twice.
  {
    auto rs = epochs.enter(0);
    CHECK(sad->inbound(order.back(), rs) == nullptr);
  }
  const uint32_t a = order.front();
  REQUIRE(sad->release_spi(a).ok());
  CHECK(sad->release_spi(a).code() == Errc::invalid_argument);
  REQUIRE(sad->allocate_spi(rng).ok());
  // Churn: many releases and allocations rebuild the table (deleted markers
  // are dropped) without losing the SPIs still reserved.
  for (size_t i = 1; i < 60000; ++i) {
    REQUIRE(sad->release_spi(order[i]).ok());
    REQUIRE(sad->allocate_spi(rng).ok());
  }
  for (size_t i = 60000; i < order.size(); ++i) CHECK(sad->release_spi(order[i]).ok());
  (void)epochs.reclaim();
  // Equally seeded allocations are reproducible (deterministic replays).
  crypto::SeededRng r1(5), r2(5);
  auto s1 = std::move(*Sad::create(c, epochs));
  auto s2 = std::move(*Sad::create(c, epochs));
  CHECK(*s1->allocate_spi(r1) == *s2->allocate_spi(r2));
}

TEST_CASE("SAD: install, look up, remove; manual SPIs; make-before-break outbound") {
  EpochDomain epochs(1);
  crypto::SeededRng rng(3);
  auto sad = std::move(*Sad::create(SadConfig{}, epochs));
  const Bytes key = ipsec::test::test_key(36, 1);
  auto make_in = [&](uint32_t spi) {
    esp::SaConfig c = ipsec::test::base_config({}, key, {});
    c.spi = spi;
    c.tunnel = ipsec::test::tunnel4();
    return std::move(*esp::InboundSa::create(c, provider()));
  };
  auto make_out = [&](uint32_t spi) {
    esp::SaConfig c = ipsec::test::base_config({}, key, {});
    c.spi = spi;
    c.tunnel = ipsec::test::tunnel4();
    return std::move(*esp::OutboundSa::create(c, provider()));
  };
  const uint32_t spi = *sad->allocate_spi(rng);
  SaBinding b;
  b.reqid = 5;
  REQUIRE(sad->install_inbound(make_in(spi), b, Timestamp{}).ok());
  CHECK(sad->install_inbound(make_in(spi), b, Timestamp{}).code() == Errc::invalid_argument);  // in use
  {
    auto rs = epochs.enter(0);
    REQUIRE(sad->inbound(spi, rs) != nullptr);
    CHECK(sad->inbound(spi, rs)->binding.reqid == 5);
    CHECK(sad->inbound(spi ^ 1, rs) == nullptr);
    CHECK(sad->inbound(0, rs) == nullptr);
  }
  // An SPI chosen elsewhere (static keying): >= 256 and not in use.
  CHECK(sad->install_inbound(make_in(255), b, Timestamp{}).code() == Errc::invalid_argument);
  REQUIRE(sad->install_inbound(make_in(0x1000), b, Timestamp{}).ok());
  CHECK(sad->install_inbound(make_in(0x1000), b, Timestamp{}).code() == Errc::invalid_argument);
  CHECK(sad->inbound_count() == 2);
  {
    auto rs = epochs.enter(0);
    CHECK(sad->inbound(0x1000, rs) != nullptr);
  }
  REQUIRE(sad->remove_inbound(0x1000).ok());
  REQUIRE(sad->remove_inbound(spi).ok());
  CHECK(sad->remove_inbound(spi).code() == Errc::invalid_argument);
  {
    auto rs = epochs.enter(0);
    CHECK(sad->inbound(spi, rs) == nullptr);
    CHECK(sad->inbound(0x1000, rs) == nullptr);
  }
  CHECK(sad->inbound_count() == 0);

  // Outbound: the new SA replaces the old at once; a reader that already
  // holds the old one keeps a valid object until it leaves its section.
  REQUIRE(sad->install_outbound(make_out(0x2000), b, Timestamp{}).ok());
  auto rs = epochs.enter(0);
  OutboundEntry* old = sad->outbound(5, rs);
  REQUIRE(old != nullptr);
  REQUIRE(sad->install_outbound(make_out(0x3000), b, Timestamp{}).ok());
  CHECK(sad->outbound(5, rs)->sa->spi() == 0x3000);
  CHECK(epochs.reclaim() == 1);  // the old SA is still held
  CHECK(old->sa->spi() == 0x2000);
  CHECK(sad->remove_outbound(5, 0x2000).code() == Errc::invalid_argument);  // no longer current
  { ReadSection done = std::move(rs); }
  CHECK(epochs.reclaim() == 0);
  REQUIRE(sad->remove_outbound(5, 0x3000).ok());
  CHECK(sad->outbound_count() == 0);
  SaBinding zero;
  CHECK(sad->install_outbound(make_out(0x4000), zero, Timestamp{}).code() == Errc::invalid_argument);
}

TEST_CASE("SAD lifetimes: soft time raises rekey_needed, hard time expires and removes") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 1)}).ok());
  const uint32_t spi = connect(a, b, 1, {s}, 9, false, 0, Lifetime{60s, 90s});
  CHECK(a.dp->next_deadline() == Timestamp{} + 60s);
  Recorder ra, rb;
  a.dp->poll(Timestamp{} + 59s, ra);
  CHECK(ra.events.empty());
  a.dp->poll(Timestamp{} + 60s, ra);
  b.dp->poll(Timestamp{} + 60s, rb);
  REQUIRE(ra.events.size() == 1);
  CHECK(ra.events[0].kind == SaEventKind::rekey_needed);
  CHECK(ra.events[0].direction == Direction::outbound);
  CHECK(ra.events[0].reqid == 1);
  CHECK(ra.events[0].spi == spi);
  REQUIRE(rb.events.size() == 1);
  CHECK(rb.events[0].direction == Direction::inbound);
  // Until the hard limit the tunnel works.
  const Bytes p = ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 100);
  CHECK(send(a, b, p).in.verdict == Verdict::deliver);
  a.dp->poll(Timestamp{} + 90s, ra);
  b.dp->poll(Timestamp{} + 90s, rb);
  REQUIRE(ra.events.size() == 2);
  CHECK(ra.events[1].kind == SaEventKind::expired);
  CHECK(rb.events[1].kind == SaEventKind::expired);
  CHECK(a.dp->sad().outbound_count() == 0);
  CHECK(b.dp->sad().inbound_count() == 0);
  CHECK(send(a, b, p).out.verdict == Verdict::acquire);
  // A replaced SA's deadlines are forgotten.
  connect(a, b, 1, {s}, 10, false, 0, Lifetime{10s, 20s});
  connect(a, b, 1, {s}, 11, false, 0, Lifetime{100s, 200s});
  Recorder later;
  a.dp->poll(Timestamp{} + 20s, later);
  CHECK(later.events.empty());
  CHECK(a.dp->sad().outbound_count() == 1);
}

TEST_CASE("SAD lifetimes by packets: soft crossing raises rekey_needed once, the hard limit expires") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 1)}).ok());
  esp::TrafficLimits limits;
  limits.soft_packets = 3;
  limits.hard_packets = 5;
  const uint32_t spi = connect(a, b, 1, {s}, 9, false, 0, {}, limits);
  const Bytes p = ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 100);
  Recorder ra, rb;
  for (int n = 1; n <= 5; ++n) {
    auto t = send(a, b, p);
    REQUIRE(t.in.verdict == Verdict::deliver);
    CHECK(t.out.soft_limit_reached == (n == 3));
    CHECK(t.in.soft_limit_reached == (n == 3));
    a.dp->poll(Timestamp{}, ra);
    b.dp->poll(Timestamp{}, rb);
  }
  REQUIRE(ra.events.size() == 1);
  CHECK(ra.events[0].kind == SaEventKind::rekey_needed);
  CHECK(ra.events[0].spi == spi);
  REQUIRE(rb.events.size() == 1);
  CHECK(rb.events[0].direction == Direction::inbound);
  // The sixth packet is refused by the hard limit; poll expires the SA.
  auto t = send(a, b, p);
  CHECK(t.out.status == Errc::lifetime_expired);
  a.dp->poll(Timestamp{}, ra);
  REQUIRE(ra.events.size() == 2);
  CHECK(ra.events[1].kind == SaEventKind::expired);
  CHECK(a.dp->sad().outbound_count() == 0);
  CHECK(send(a, b, p).out.verdict == Verdict::acquire);
  a.dp->poll(Timestamp{}, ra);
  CHECK(ra.events.size() == 2);
}

TEST_CASE("datapath: BYPASS, DISCARD, no policy, ACQUIRE once, then protected traffic") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  const std::vector<Policy> out_a = {
      plain(1, sel("10.1.0.9/32", "10.2.0.0/24"), PolicyAction::discard),
      plain(2, sel("10.1.0.0/24", "10.2.0.53/32"), PolicyAction::bypass),
      protect(3, s, 7),
  };
  REQUIRE(a.dp->set_policies(Direction::outbound, out_a).ok());
  const Bytes p = ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 100);

  auto t = send(a, b, ipsec::test::ipv4_udp("10.1.0.9", "10.2.0.7", 10));
  CHECK(t.out.verdict == Verdict::drop);
  CHECK(t.out.status == Errc::policy_discard);
  t = send(a, b, ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.53", 10));
  CHECK(t.out.verdict == Verdict::bypass);
  CHECK(t.out.policy->id == 2);
  t = send(a, b, ipsec::test::ipv4_udp("10.9.0.5", "10.2.0.7", 10));
  CHECK(t.out.status == Errc::no_policy);

  t = send(a, b, p);
  CHECK(t.out.verdict == Verdict::acquire);
  CHECK(t.out.status.ok());  // not an error: IKE is asked for the SA
  CHECK(t.out.reqid == 7);
  CHECK(t.out.first_acquire);
  CHECK(t.out.policy->sa.mode == esp::Mode::tunnel);
  t = send(a, b, p);
  CHECK(t.out.verdict == Verdict::acquire);
  CHECK_FALSE(t.out.first_acquire);  // one ACQUIRE per reqid until an SA arrives
  a.dp->clear_acquire(7);
  CHECK(send(a, b, p).out.first_acquire);

  const uint32_t spi = connect(a, b, 7, {s}, 1);
  t = send(a, b, p);
  REQUIRE(t.out.verdict == Verdict::send);
  CHECK(t.out.spi == spi);
  CHECK(t.out.esp_offset == 20);
  REQUIRE(t.in.verdict == Verdict::deliver);
  CHECK(t.in.spi == spi);
  CHECK(t.in.reqid == 7);
  CHECK(t.delivered == p);

  const DatapathSnapshot snap = a.dp->snapshot();
  CHECK(snap.outbound.packets == 2);  // the bypassed and the protected packet
  CHECK(snap.outbound.drops[static_cast<size_t>(DropReason::policy_discard)] == 2);
  CHECK(snap.outbound.drops[static_cast<size_t>(DropReason::no_sa)] == 3);
  REQUIRE(snap.policies.size() == 3);
  CHECK(snap.policies[2].id == 3);
  CHECK(snap.policies[2].counters.packets == 1);
  CHECK(snap.policies[2].counters.bytes == p.size());
  CHECK(snap.policies[2].counters.drops[static_cast<size_t>(DropReason::no_sa)] == 3);
  REQUIRE(snap.sas.size() == 1);
  CHECK(snap.sas[0].counters.packets == 1);
  // Counters follow a policy id across an SPD update.
  REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(3, s, 7)}).ok());
  CHECK(a.dp->snapshot().policies[0].counters.packets == 1);
}

TEST_CASE("datapath inbound: selector check, cleartext policy, unknown SPI, UDP 4500") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  // a's policy is wider than the SA it has: a packet to 10.2.1.0/24 is
  // sealed with the SA for 10.2.0.0/24, and b must refuse it after
  // decryption (RFC 4301 5.2).
  REQUIRE(a.dp->set_policies(Direction::outbound,
                             std::vector<Policy>{protect(1, sel("10.1.0.0/24", "10.2.0.0/16"), 1)})
              .ok());
  connect(a, b, 1, {s}, 1);
  auto t = send(a, b, ipsec::test::ipv4_udp("10.1.0.5", "10.2.1.7", 10));
  CHECK(t.out.verdict == Verdict::send);
  CHECK(t.in.verdict == Verdict::drop);
  CHECK(t.in.status == Errc::selector_mismatch);
  CHECK(b.dp->snapshot().inbound.drops[static_cast<size_t>(DropReason::selector_mismatch)] == 1);
  CHECK(send(a, b, ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 10)).in.verdict == Verdict::deliver);

  // Cleartext arriving at b: bypass, discard, or refused because policy
  // wants it protected.
  const std::vector<Policy> in_b = {
      plain(1, sel("10.2.0.0/24", "10.9.0.0/24"), PolicyAction::bypass),
      plain(2, sel("10.2.0.0/24", "10.8.0.0/24"), PolicyAction::discard),
      protect(3, sel("10.2.0.0/24", "10.1.0.0/24"), 1),
  };
  REQUIRE(b.dp->set_policies(Direction::inbound, in_b).ok());
  auto clear = [&](const char* src) {
    HostBuffer buf(ipsec::test::ipv4_udp(src, "10.2.0.7", 10));
    auto rs = b.dp->enter(0);
    return b.dp->inbound(rs, buf.pb);
  };
  CHECK(clear("10.9.0.1").verdict == Verdict::bypass);
  CHECK(clear("10.8.0.1").status == Errc::policy_discard);
  CHECK(clear("10.1.0.1").status == Errc::unprotected_traffic);
  CHECK(clear("10.7.0.1").status == Errc::no_policy);

  // An ESP packet for an SPI b does not have.
  HostBuffer sealed(ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 10));
  {
    auto rs = a.dp->enter(0);
    REQUIRE(a.dp->outbound(rs, sealed.pb).verdict == Verdict::send);
  }
  Bytes bad = sealed.bytes();
  bad[20] ^= 0xff;  // SPI
  HostBuffer badbuf(bad);
  {
    auto rs = b.dp->enter(0);
    auto r = b.dp->inbound(rs, badbuf.pb);
    CHECK(r.status == Errc::unknown_spi);
    CHECK(r.spi == ipsec::load_be32(std::span<const uint8_t, 4>(bad.data() + 20, 4)));
  }

  // UDP 4500: ESP-in-UDP is delivered; IKE and keepalives are handed back.
  Gateway c = gateway("192.0.2.3", 3), d = gateway("192.0.2.4", 4);
  REQUIRE(c.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 1)}).ok());
  connect(c, d, 1, {s}, 2, true);
  t = send(c, d, ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 10));
  CHECK(t.out.esp_offset == 28);  // ESP after IP and UDP: a UDP socket sends from here
  CHECK(t.in.verdict == Verdict::deliver);
  Bytes udp4500 = ipsec::test::ipv4_udp("192.0.2.3", "192.0.2.4", 1);
  udp4500[20] = 0x11;
  udp4500[21] = 0x94;
  udp4500[22] = 0x11;
  udp4500[23] = 0x94;
  udp4500[28] = 0xff;
  HostBuffer ka(udp4500);
  auto rs = d.dp->enter(0);
  CHECK(d.dp->inbound(rs, ka.pb).verdict == Verdict::keepalive);
  Bytes ike = ipsec::test::ipv4_udp("192.0.2.3", "192.0.2.4", 4 + 28);
  ike[22] = 0x11;
  ike[23] = 0x94;
  for (size_t i = 28; i < 32; ++i) ike[i] = 0;
  HostBuffer ikebuf(ike);
  auto r = d.dp->inbound(rs, ikebuf.pb);
  CHECK(r.verdict == Verdict::ike);
  CHECK(r.esp_offset == 32);
}

TEST_CASE("datapath inbound_esp: ESP as a UDP 4500 socket or a raw ESP socket delivers it") {
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  for (const bool udp : {true, false}) {
    CAPTURE(udp);
    Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
    REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 1)}).ok());
    const uint32_t spi = connect(a, b, 1, {s}, 5, udp);
    const Bytes inner = ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 300);
    HostBuffer buf(inner);
    DatapathResult out;
    {
      auto rs = a.dp->enter(0);
      out = a.dp->outbound(rs, buf.pb);
    }
    REQUIRE(out.verdict == Verdict::send);
    CHECK(out.esp_offset == (udp ? 28u : 20u));
    // What the socket hands the host: the ESP packet from its header on
    // (after the UDP header, or after the IP header of a raw socket).
    const Bytes wire = buf.bytes();
    const Bytes esp_packet(wire.begin() + static_cast<std::ptrdiff_t>(out.esp_offset), wire.end());
    HostBuffer in(esp_packet);
    auto rs = b.dp->enter(0);
    const DatapathResult r = b.dp->inbound_esp(rs, in.pb);
    CHECK(r.verdict == Verdict::deliver);
    CHECK(r.spi == spi);
    CHECK(r.reqid == 1);
    CHECK(in.bytes() == inner);

    // Replayed: the window refuses it; tampered: the ICV does.
    HostBuffer again(esp_packet);
    CHECK(b.dp->inbound_esp(rs, again.pb).status == Errc::replayed);
    Bytes tampered = esp_packet;
    tampered.back() ^= 1;
    HostBuffer bad(tampered);
    CHECK(b.dp->inbound_esp(rs, bad.pb).verdict == Verdict::drop);
    // Shorter than an SPI, and an SPI b does not have.
    HostBuffer tiny(Bytes{1, 2, 3});
    const DatapathResult t = b.dp->inbound_esp(rs, tiny.pb);
    CHECK(t.verdict == Verdict::drop);
    CHECK(t.status == Errc::truncated);
    Bytes unknown = esp_packet;
    unknown[0] ^= 0x80;
    HostBuffer u(unknown);
    CHECK(b.dp->inbound_esp(rs, u.pb).status == Errc::unknown_spi);
  }
}

TEST_CASE("route-based SAs: interface IDs and wide selectors (XFRM interface / VTI model)") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const std::vector<Selector> wide = {sel("0.0.0.0/0", "0.0.0.0/0"), sel("::/0", "::/0")};
  connect(a, b, 42, wide, 1, false, 42);
  // No SPD at all: the host routed these packets to interface 42.
  for (const Bytes& p : {ipsec::test::ipv4_udp("198.18.0.1", "203.0.113.9", 50),
                         ipsec::test::ipv6_udp("2001:db8:9::1", "2001:db8:7::2", 50)}) {
    auto t = send(a, b, p, 42);
    REQUIRE(t.out.verdict == Verdict::send);
    REQUIRE(t.in.verdict == Verdict::deliver);
    CHECK(t.in.interface_id == 42);
    CHECK(t.delivered == p);
  }
  CHECK(send(a, b, ipsec::test::ipv4_udp("198.18.0.1", "203.0.113.9", 50), 43).out.verdict ==
        Verdict::acquire);
  // The selectors still bound a route-based SA.
  Gateway c = gateway("192.0.2.3", 3), d = gateway("192.0.2.4", 4);
  connect(c, d, 5, {sel("10.0.0.0/8", "10.0.0.0/8")}, 2, false, 5);
  auto t = send(c, d, ipsec::test::ipv4_udp("198.18.0.1", "10.0.0.1", 50), 5);
  CHECK(t.out.status == Errc::selector_mismatch);
}

TEST_CASE("rekey make-before-break: a stream crosses the rekey without losing a packet") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 1)}).ok());
  const uint32_t old_spi = connect(a, b, 1, {s}, 1);
  // Packets sealed but still on the wire when the rekey happens.
  std::vector<Bytes> in_flight;
  size_t delivered = 0, sent = 0;
  auto seal_one = [&](uint32_t n) {
    HostBuffer buf(ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 20 + n % 50));
    auto rs = a.dp->enter(0);
    auto r = a.dp->outbound(rs, buf.pb);
    REQUIRE(r.verdict == Verdict::send);
    ++sent;
    return std::make_pair(r.spi, buf.bytes());
  };
  auto deliver = [&](const Bytes& wire) {
    HostBuffer buf(wire);
    auto rs = b.dp->enter(0);
    auto r = b.dp->inbound(rs, buf.pb);
    REQUIRE(r.verdict == Verdict::deliver);
    ++delivered;
  };
  for (uint32_t n = 0; n < 100; ++n) deliver(seal_one(n).second);
  for (uint32_t n = 0; n < 20; ++n) in_flight.push_back(seal_one(n).second);
  // CREATE_CHILD_SA: b (responder) installs its new inbound SA first, then
  // a switches its outbound SA; b keeps the old inbound SA until a's Delete.
  const uint32_t new_spi = connect(a, b, 1, {s}, 2);
  CHECK(new_spi != old_spi);
  for (uint32_t n = 0; n < 50; ++n) {
    auto [spi, wire] = seal_one(n);
    CHECK(spi == new_spi);
    deliver(wire);
    if (n % 3 == 0 && !in_flight.empty()) {  // the old SA's stragglers arrive interleaved
      deliver(in_flight.back());
      in_flight.pop_back();
    }
  }
  for (const Bytes& w : in_flight) deliver(w);
  REQUIRE(b.dp->sad().remove_inbound(old_spi).ok());
  for (uint32_t n = 0; n < 10; ++n) deliver(seal_one(n).second);
  CHECK(delivered == sent);
  CHECK(sent == 180);
  Recorder none;
  a.dp->poll(Timestamp{}, none);
  b.dp->poll(Timestamp{}, none);
  CHECK(a.dp->epochs().pending() == 0);
  CHECK(b.dp->epochs().pending() == 0);
}

TEST_CASE("1,000 tunnels back to back: IPv4 and IPv6 traffic both ways") {
  constexpr uint32_t kTunnels = 1000;
  Gateway a = gateway("192.0.2.1", 1), b = gateway("198.51.100.2", 2);
  auto v4 = [](uint32_t side, uint32_t i) {
    return "10." + std::to_string(side * 64 + i / 256) + "." + std::to_string(i % 256) + ".0/24";
  };
  auto v6 = [](uint32_t side, uint32_t i) {
    return "2001:db8:" + std::to_string(side) + ":" + std::to_string(i) + "::/64";
  };
  auto host4 = [](uint32_t side, uint32_t i) {
    return "10." + std::to_string(side * 64 + i / 256) + "." + std::to_string(i % 256) + ".9";
  };
  auto host6 = [](uint32_t side, uint32_t i) {
    return "2001:db8:" + std::to_string(side) + ":" + std::to_string(i) + "::9";
  };
  std::vector<Policy> pa, pb;
  for (uint32_t i = 0; i < kTunnels; ++i) {
    const Selector a4 = sel(v4(0, i), v4(1, i)), a6 = sel(v6(0, i), v6(1, i));
    pa.push_back(protect(2 * i + 1, a4, i + 1));
    pa.push_back(protect(2 * i + 2, a6, i + 1));
    pb.push_back(protect(2 * i + 1, reversed(a4), i + 1));
    pb.push_back(protect(2 * i + 2, reversed(a6), i + 1));
    connect(a, b, i + 1, {a4, a6}, static_cast<uint8_t>(i));
    connect(b, a, i + 1, {reversed(a4), reversed(a6)}, static_cast<uint8_t>(i + 7));
  }
  REQUIRE(a.dp->set_policies(Direction::outbound, pa).ok());
  REQUIRE(b.dp->set_policies(Direction::outbound, pb).ok());
  CHECK(a.dp->sad().outbound_count() == kTunnels);
  CHECK(a.dp->sad().inbound_count() == kTunnels);
  size_t ok = 0;
  for (uint32_t round = 0; round < 2; ++round) {
    for (uint32_t i = 0; i < kTunnels; ++i) {
      const Bytes p4 = ipsec::test::ipv4_udp(host4(0, i), host4(1, i), 64 + i % 100);
      const Bytes p6 = ipsec::test::ipv6_udp(host6(0, i), host6(1, i), 64 + i % 100);
      const Bytes r4 = ipsec::test::ipv4_udp(host4(1, i), host4(0, i), 64 + i % 100);
      const Bytes r6 = ipsec::test::ipv6_udp(host6(1, i), host6(0, i), 64 + i % 100);
      for (auto [from, to, p] : {std::tuple{&a, &b, &p4}, std::tuple{&a, &b, &p6}, std::tuple{&b, &a, &r4},
                                 std::tuple{&b, &a, &r6}}) {
        auto t = send(*from, *to, *p);
        REQUIRE(t.out.verdict == Verdict::send);
        REQUIRE(t.in.verdict == Verdict::deliver);
        REQUIRE(t.in.reqid == i + 1);
        REQUIRE(t.delivered == *p);
        ++ok;
      }
    }
  }
  CHECK(ok == 8 * kTunnels);
  const auto sa = a.dp->snapshot(), sb = b.dp->snapshot();
  CHECK(sa.outbound.packets == 4 * kTunnels);
  CHECK(sa.inbound.packets == 4 * kTunnels);
  CHECK(sb.outbound.packets == 4 * kTunnels);
  CHECK(sb.inbound.packets == 4 * kTunnels);
  for (const PolicySnapshot& p : sa.policies) CHECK(p.counters.packets == 2);
}

TEST_CASE("workers keep forwarding while the control thread swaps policies and rekeys") {
  constexpr uint32_t kTunnels = 64;
  Gateway a = gateway("192.0.2.1", 1, 2), b = gateway("192.0.2.2", 2, 2);
  std::vector<Policy> pa;
  std::vector<Selector> sels;
  for (uint32_t i = 0; i < kTunnels; ++i) {
    sels.push_back(sel("10.1." + std::to_string(i) + ".0/24", "10.2." + std::to_string(i) + ".0/24"));
    pa.push_back(protect(i + 1, sels.back(), i + 1));
  }
  REQUIRE(a.dp->set_policies(Direction::outbound, pa).ok());
  std::vector<uint32_t> inbound_spi(kTunnels);
  for (uint32_t i = 0; i < kTunnels; ++i)
    inbound_spi[i] = connect(a, b, i + 1, {sels[i]}, static_cast<uint8_t>(i));

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> delivered{0}, acquired{0}, failures{0};
  // Worker w forwards tunnels i with i % 2 == w: an inbound SA has one
  // consumer at a time (esp/sa.hpp).
  auto worker = [&](size_t w) {
    uint32_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint32_t i = static_cast<uint32_t>((n++ * 2 + w) % kTunnels);
      const Bytes p =
          ipsec::test::ipv4_udp("10.1." + std::to_string(i) + ".5", "10.2." + std::to_string(i) + ".6", 64);
      auto t = send(a, b, p, 0, w);
      if (t.out.verdict == Verdict::acquire) {
        acquired.fetch_add(1);
      } else if (t.in.verdict == Verdict::deliver && t.delivered == p) {
        delivered.fetch_add(1);
      } else if (!(t.in.verdict == Verdict::drop && t.in.status == Errc::unknown_spi)) {
        failures.fetch_add(1);  // an SA removed between seal and open is the only expected loss
      }
    }
  };
  std::thread w0(worker, 0), w1(worker, 1);
  // A failed REQUIRE below unwinds through here: stop and join first, or the
  // joinable threads would terminate the test binary instead of reporting.
  struct JoinOnExit {
    std::atomic<bool>& stop;
    std::thread& a;
    std::thread& b;
    ~JoinOnExit() {
      stop.store(true);
      if (a.joinable()) a.join();
      if (b.joinable()) b.join();
    }
  } join_on_exit{stop, w0, w1};
  // Control thread: rekey every tunnel (make-before-break), swap the SPD,
  // delete old SAs, and reclaim, repeatedly.
  // Each round waits until the workers have delivered something since the
  // previous one, so forwarding provably overlaps the swaps even when the
  // scheduler (2 cores, parallel ctest) starves the workers for a while.
  Recorder events;
  uint64_t delivered_before_round = 0;
  for (int round = 0; round < 20; ++round) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (delivered.load() == delivered_before_round && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    if (delivered.load() == delivered_before_round) {
      FAIL_CHECK("workers delivered nothing within 30 s in round " << round);
      break;
    }
    delivered_before_round = delivered.load();
    for (uint32_t i = 0; i < kTunnels; ++i) {
      const uint32_t fresh =
          connect(a, b, i + 1, {sels[i]}, static_cast<uint8_t>(static_cast<uint32_t>(round) * 7 + i));
      REQUIRE(b.dp->sad().remove_inbound(inbound_spi[i]).ok());
      inbound_spi[i] = fresh;
    }
    std::reverse(pa.begin(), pa.end());
    REQUIRE(a.dp->set_policies(Direction::outbound, pa).ok());
    a.dp->poll(Timestamp{}, events);
    b.dp->poll(Timestamp{}, events);
  }
  stop.store(true);
  w0.join();
  w1.join();
  a.dp->poll(Timestamp{}, events);
  b.dp->poll(Timestamp{}, events);
  CHECK(failures.load() == 0);
  CHECK(acquired.load() == 0);
  CHECK(delivered.load() > 0);
  CHECK(a.dp->epochs().pending() == 0);
  CHECK(b.dp->epochs().pending() == 0);
  MESSAGE("delivered " << delivered.load() << " packets during 20 rekeys of " << kTunnels << " tunnels");
}

TEST_CASE("ACQUIRE: packets held while the SA is negotiated, bounded, then sent in order") {
  Gateway a = gateway("192.0.2.1", 1), b = gateway("192.0.2.2", 2);
  const Selector s = sel("10.1.0.0/24", "10.2.0.0/24");
  REQUIRE(a.dp->set_policies(Direction::outbound, std::vector<Policy>{protect(1, s, 3)}).ok());
  auto queue = AcquireQueue::create(4, 1500, 2s);
  REQUIRE(queue.ok());
  std::vector<Bytes> packets;
  size_t acquires = 0;
  for (size_t n = 0; n < 6; ++n) {
    packets.push_back(ipsec::test::ipv4_udp("10.1.0.5", "10.2.0.7", 10 + n));
    HostBuffer buf(packets.back());
    auto rs = a.dp->enter(0);
    auto r = a.dp->outbound(rs, buf.pb);
    REQUIRE(r.verdict == Verdict::acquire);
    acquires += r.first_acquire ? 1 : 0;
    // Four fit; the fifth and sixth are dropped (the held ones are older).
    CHECK(queue->hold(r.reqid, buf.pb.data(), Timestamp{} + std::chrono::milliseconds(n)) == (n < 4));
  }
  CHECK(acquires == 1);
  CHECK(queue->size() == 4);
  CHECK_FALSE(queue->hold(3, Bytes(1501, 0), Timestamp{}));  // larger than a slot
  CHECK(queue->release(99, [](ByteView) { FAIL("not this reqid"); }) == 0);
  // The SA arrives: the held packets go out in the order they came.
  connect(a, b, 3, {s}, 4);
  size_t next = 0;
  const size_t released = queue->release(3, [&](ByteView held) {
    HostBuffer buf(Bytes(held.begin(), held.end()));
    auto rs = a.dp->enter(0);
    auto r = a.dp->outbound(rs, buf.pb);
    REQUIRE(r.verdict == Verdict::send);
    HostBuffer wire(buf.bytes());
    auto rb = b.dp->enter(0);
    auto in = b.dp->inbound(rb, wire.pb);
    REQUIRE(in.verdict == Verdict::deliver);
    CHECK(wire.bytes() == packets[next++]);
  });
  CHECK(released == 4);
  CHECK(queue->size() == 0);
  // Age and failed negotiations.
  REQUIRE(queue->hold(5, packets[0], Timestamp{}));
  REQUIRE(queue->hold(6, packets[1], Timestamp{} + 1s));
  CHECK(queue->expire(Timestamp{} + 2s + std::chrono::nanoseconds(1)) == 1);
  CHECK(queue->drop(6) == 1);
  CHECK(queue->size() == 0);
  CHECK(AcquireQueue::create(0, 1500, 1s).status() == Errc::invalid_argument);
}

TEST_CASE("datapath bursts: outbound_burst / inbound_burst / inbound_esp_burst as packet by packet") {
  // Two identical gateway pairs (same seeds, same keys): one driven packet by
  // packet, one in bursts over 40 tunnels with every verdict mixed in.
  constexpr uint32_t kTunnels = 40;
  struct Pair {
    Gateway a, b;
  };
  auto make = [&] {
    Pair p{gateway("192.0.2.1", 1), gateway("198.51.100.2", 2)};
    std::vector<Policy> pa, pb;
    for (uint32_t i = 0; i < kTunnels; ++i) {
      const Selector s = sel("10.0." + std::to_string(i) + ".0/24", "10.1." + std::to_string(i) + ".0/24");
      pa.push_back(protect(i + 1, s, i + 1));
      pb.push_back(protect(i + 1, reversed(s), i + 1));
      // Tunnel 7 has no outbound SA (ACQUIRE); every third one uses UDP 4500.
      if (i != 7) connect(p.a, p.b, i + 1, {s}, static_cast<uint8_t>(i), /*udp=*/i % 3 == 0);
    }
    pa.push_back(plain(1000, sel("10.9.0.0/16", "10.9.0.0/16"), PolicyAction::bypass));
    pa.push_back(plain(1001, sel("10.8.0.0/16", "10.8.0.0/16"), PolicyAction::discard));
    REQUIRE(p.a.dp->set_policies(Direction::outbound, pa).ok());
    REQUIRE(p.b.dp->set_policies(Direction::outbound, pb).ok());
    return p;
  };
  Pair single = make(), burst = make();
  std::vector<Bytes> packets;
  for (uint32_t k = 0; k < 100; ++k) {  // over three chunks of 32
    const uint32_t i = (k * 7) % kTunnels;
    if (k % 17 == 5) {
      packets.push_back(ipsec::test::ipv4_udp("10.9.0.1", "10.9.1.1", 30));  // bypass
    } else if (k % 19 == 6) {
      packets.push_back(ipsec::test::ipv4_udp("10.8.0.1", "10.8.1.1", 30));  // discard
    } else if (k == 50) {
      packets.push_back(Bytes{0x45, 0x00});  // malformed
    } else {
      packets.push_back(ipsec::test::ipv4_udp("10.0." + std::to_string(i) + ".5",
                                              "10.1." + std::to_string(i) + ".6", 20 + 13 * k));
    }
  }
  const size_t n = packets.size();
  // Packet by packet.
  std::vector<DatapathResult> s_out(n), s_in(n);
  std::vector<Bytes> s_wire(n), s_delivered(n);
  {
    auto rsa = single.a.dp->enter(0);
    auto rsb = single.b.dp->enter(0);
    for (size_t k = 0; k < n; ++k) {
      HostBuffer buf(packets[k]);
      s_out[k] = single.a.dp->outbound(rsa, buf.pb);
      s_wire[k] = buf.bytes();
      if (s_out[k].verdict != Verdict::send) continue;
      HostBuffer wire(s_wire[k]);
      s_in[k] = single.b.dp->inbound(rsb, wire.pb);
      s_delivered[k] = wire.bytes();
    }
  }
  // Bursts.
  std::vector<std::unique_ptr<HostBuffer>> bufs;
  std::vector<ipsec::PacketBuffer> pbs;
  for (const Bytes& p : packets) {
    bufs.push_back(std::make_unique<HostBuffer>(p));
    pbs.push_back(bufs.back()->pb);
  }
  std::vector<DatapathResult> b_out(n);
  {
    auto rs = burst.a.dp->enter(0);
    burst.a.dp->outbound_burst(rs, pbs, b_out);
  }
  std::vector<std::unique_ptr<HostBuffer>> wires;
  std::vector<ipsec::PacketBuffer> wpbs;
  std::vector<size_t> sent;
  size_t verdicts[7] = {};
  for (size_t k = 0; k < n; ++k) {
    INFO("outbound " << k);
    ++verdicts[static_cast<size_t>(b_out[k].verdict)];
    CHECK(b_out[k].verdict == s_out[k].verdict);
    CHECK(b_out[k].status.code() == s_out[k].status.code());
    CHECK(b_out[k].spi == s_out[k].spi);
    CHECK(b_out[k].reqid == s_out[k].reqid);
    CHECK(b_out[k].esp_offset == s_out[k].esp_offset);
    CHECK(b_out[k].first_acquire == s_out[k].first_acquire);
    const Bytes w(pbs[k].data().begin(), pbs[k].data().end());
    CHECK(w == s_wire[k]);
    if (b_out[k].verdict == Verdict::send) {
      wires.push_back(std::make_unique<HostBuffer>(w));
      wpbs.push_back(wires.back()->pb);
      sent.push_back(k);
    }
  }
  CHECK(verdicts[static_cast<size_t>(Verdict::send)] > 60);
  CHECK(verdicts[static_cast<size_t>(Verdict::bypass)] > 0);
  CHECK(verdicts[static_cast<size_t>(Verdict::acquire)] > 0);
  CHECK(verdicts[static_cast<size_t>(Verdict::drop)] > 0);
  // Inbound: the sent ones plus a cleartext packet and a duplicate.
  wires.push_back(std::make_unique<HostBuffer>(ipsec::test::ipv4_udp("10.1.0.6", "10.0.0.5", 10)));
  wpbs.push_back(wires.back()->pb);
  wires.push_back(std::make_unique<HostBuffer>(s_wire[sent[3]]));
  wpbs.push_back(wires.back()->pb);
  std::vector<DatapathResult> b_in(wpbs.size());
  {
    auto rs = burst.b.dp->enter(0);
    burst.b.dp->inbound_burst(rs, wpbs, b_in);
  }
  for (size_t j = 0; j < sent.size(); ++j) {
    INFO("inbound " << j);
    const size_t k = sent[j];
    CHECK(b_in[j].verdict == s_in[k].verdict);
    CHECK(b_in[j].status.code() == s_in[k].status.code());
    CHECK(b_in[j].reqid == s_in[k].reqid);
    CHECK(Bytes(wpbs[j].data().begin(), wpbs[j].data().end()) == s_delivered[k]);
    CHECK(s_delivered[k] == packets[k]);
  }
  {
    // Cleartext: no inbound policy here, so the default DISCARD (RFC 4301 5.2).
    HostBuffer clear(ipsec::test::ipv4_udp("10.1.0.6", "10.0.0.5", 10));
    auto rs = single.b.dp->enter(0);
    const DatapathResult s_clear = single.b.dp->inbound(rs, clear.pb);
    CHECK(b_in[sent.size()].verdict == Verdict::drop);
    CHECK(b_in[sent.size()].status.code() == s_clear.status.code());
    CHECK(s_clear.status == Errc::no_policy);
  }
  CHECK(b_in[sent.size() + 1].verdict == Verdict::drop);
  CHECK(b_in[sent.size() + 1].status == Errc::replayed);
  const auto sa = burst.a.dp->snapshot(), sb = burst.b.dp->snapshot();
  const auto ra = single.a.dp->snapshot(), rb = single.b.dp->snapshot();
  CHECK(sa.outbound.packets == ra.outbound.packets);
  CHECK(sb.inbound.packets == rb.inbound.packets);
  // inbound_esp_burst: the ESP part of the non-UDP tunnels' packets, as a raw
  // ESP socket delivers it (a fresh pair so the window is new).
  Pair esp_pair = make();
  std::vector<std::unique_ptr<HostBuffer>> ebufs;
  std::vector<ipsec::PacketBuffer> epbs;
  std::vector<Bytes> expected;
  {
    auto rs = esp_pair.a.dp->enter(0);
    for (size_t k = 0; k < n; ++k) {
      HostBuffer buf(packets[k]);
      auto r = esp_pair.a.dp->outbound(rs, buf.pb);
      if (r.verdict != Verdict::send) continue;
      const Bytes all = buf.bytes();
      ebufs.push_back(std::make_unique<HostBuffer>(
          Bytes(all.begin() + static_cast<std::ptrdiff_t>(r.esp_offset), all.end())));
      epbs.push_back(ebufs.back()->pb);
      expected.push_back(packets[k]);
    }
  }
  std::vector<DatapathResult> e_in(epbs.size());
  auto rs = esp_pair.b.dp->enter(0);
  esp_pair.b.dp->inbound_esp_burst(rs, epbs, e_in);
  for (size_t j = 0; j < epbs.size(); ++j) {
    INFO("esp " << j);
    REQUIRE(e_in[j].verdict == Verdict::deliver);
    CHECK(Bytes(epbs[j].data().begin(), epbs[j].data().end()) == expected[j]);
  }
}
