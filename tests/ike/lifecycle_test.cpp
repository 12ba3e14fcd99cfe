// SPDX-License-Identifier: Apache-2.0
// The life of a tunnel in the deterministic simulator (tests/ike/ike_sim.hpp):
// CREATE_CHILD_SA for more children, child and IKE SA rekeys (with and
// without PFS), scripted collisions (RFC 7296 2.8.1, 2.8.2, 2.25), deletes
// from either side, lifetimes, dead peer detection, a rebooted peer, window
// size > 1, childless IKE SAs and a NAT mapping that changes. Each side's
// SAD is modelled from its events; traffic is checked by sealing and
// opening ESP with the installed keys.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "esp/esp_test_util.hpp"
#include "ike_sim.hpp"
#include "ipsec/esp/esp.hpp"
#include "test_util.hpp"

namespace ipsec {
namespace {

using ike::EventKind;
using sim::PeerSetup;
using namespace std::chrono_literals;

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

struct Pair {
  std::unique_ptr<sim::Peer> a, b;
  std::unique_ptr<sim::Simulation> net;
  sim::SimSink& sa() { return net->sinks[0]; }
  sim::SimSink& sb() { return net->sinks[1]; }
  sim::SimSink& sink(int i) { return net->sinks[i]; }
  sim::Peer& peer(int i) { return i == 0 ? *a : *b; }
};

PeerSetup setup_a() {
  PeerSetup s;
  s.name = "a";
  s.address = "192.0.2.1";
  s.subnet = "10.1.0.0/16";
  return s;
}
PeerSetup setup_b() {
  PeerSetup s;
  s.name = "b";
  s.address = "198.51.100.2";
  s.subnet = "10.2.0.0/16";
  return s;
}

Pair make(const PeerSetup& a, const PeerSetup& b, uint64_t seed, sim::LinkConfig link = {}) {
  Pair p;
  std::string error;
  p.a = sim::make_peer(a, b, provider(), seed * 2 + 1, IPSEC_TEST_DATA_DIR, &error);
  REQUIRE_MESSAGE(p.a, error);
  p.b = sim::make_peer(b, a, provider(), seed * 2 + 2, IPSEC_TEST_DATA_DIR, &error);
  REQUIRE_MESSAGE(p.b, error);
  p.net = std::make_unique<sim::Simulation>(seed, link);
  p.net->peers[0] = p.a.get();
  p.net->peers[1] = p.b.get();
  return p;
}

// The SAD a side's events describe: inbound SAs by SPI, the outbound SA of
// each reqid (a newer install replaces it; a delete removes it only if it is
// still the current one, as sa::Sad does).
struct SadModel {
  std::map<uint32_t, const sim::Recorded*> inbound;
  std::map<uint32_t, const sim::Recorded*> outbound;  // by reqid
};

SadModel model_of(const sim::SimSink& s) {
  SadModel m;
  for (const sim::Recorded& r : s.events) {
    if (r.kind == EventKind::child_sa_install) {
      if (r.direction == sa::Direction::inbound)
        m.inbound[r.child->inbound_spi] = &r;
      else
        m.outbound[r.child->reqid] = &r;
    } else if (r.kind == EventKind::child_sa_delete) {
      m.inbound.erase(r.child->inbound_spi);
      auto it = m.outbound.find(r.child->reqid);
      if (it != m.outbound.end() && it->second->child->outbound_spi == r.child->outbound_spi)
        m.outbound.erase(it);
    }
  }
  return m;
}

// check_traffic: for every reqid, the sender's current outbound SA seals a
// packet the receiver's inbound SA of that SPI opens, both ways.
void check_traffic(Pair& p, size_t reqids = 1) {
  const SadModel m[2] = {model_of(p.sa()), model_of(p.sb())};
  for (int from = 0; from < 2; ++from) {
    CHECK(m[from].outbound.size() == reqids);
    for (const auto& [reqid, out] : m[from].outbound) {
      CAPTURE(from);
      CAPTURE(reqid);
      auto in = m[1 - from].inbound.find(out->child->outbound_spi);
      REQUIRE(in != m[1 - from].inbound.end());
      auto osa = esp::OutboundSa::create(out->child->outbound_config(), provider());
      auto isa = esp::InboundSa::create(in->second->child->inbound_config(), provider());
      REQUIRE(osa.ok());
      REQUIRE(isa.ok());
      const test::Bytes inner =
          test::ipv4_udp(from == 0 ? "10.1.0.5" : "10.2.0.5", from == 0 ? "10.2.0.9" : "10.1.0.9", 100);
      test::HostBuffer buf(inner);
      REQUIRE(esp::seal(**osa, buf.pb).ok());
      auto opened = esp::open(**isa, buf.pb);
      REQUIRE_MESSAGE(opened.ok(), opened.status().name());
      CHECK(buf.bytes() == inner);
    }
  }
}

// settled: each side holds `pairs` child SAs in its SAD and its engine,
// inbound and outbound alike, and one IKE SA.
void check_settled(Pair& p, size_t pairs, size_t ike_sas = 1) {
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    const SadModel m = model_of(p.sink(i));
    CHECK(m.inbound.size() == pairs);
    CHECK(p.peer(i).engine->child_sa_count() == pairs);
    CHECK(p.peer(i).engine->ike_sa_count() == ike_sas);
    CHECK(p.peer(i).engine->established_count() == ike_sas);
  }
}

uint64_t ike_handle(const sim::SimSink& s) {
  uint64_t h = 0;
  for (const sim::Recorded& r : s.events) {
    if (r.kind == EventKind::ike_sa_up || r.kind == EventKind::ike_sa_rekeyed) h = r.ike_sa;
  }
  return h;
}

// current_inbound: a side's newest installed inbound SPI.
uint32_t current_inbound(const sim::SimSink& s) {
  const SadModel m = model_of(s);
  REQUIRE(!m.outbound.empty());
  for (const auto& [spi, r] : m.inbound) {
    if (r->child->outbound_spi == m.outbound.begin()->second->child->outbound_spi) return spi;
  }
  return 0;
}

void establish(Pair& p) {
  REQUIRE(p.a->engine->initiate("a-b", p.net->now, p.sa()).ok());
  REQUIRE(p.net->run(
      [&] { return p.sa().count(EventKind::child_sa_up) >= 1 && p.sb().count(EventKind::child_sa_up) >= 1; },
      60s));
}

TEST_CASE("lifecycle: child SA rekey from either side, with and without PFS") {
  for (const char* esp : {"aes256gcm16", "aes256gcm16-x25519", "aes128-sha256-ecp256"}) {
    for (int side = 0; side < 2; ++side) {
      CAPTURE(esp);
      CAPTURE(side);
      PeerSetup a = setup_a(), b = setup_b();
      a.esp_proposals = b.esp_proposals = esp;
      Pair p = make(a, b, 10 + static_cast<uint64_t>(side));
      establish(p);
      const uint32_t old_spi = current_inbound(p.sink(side));
      REQUIRE(p.peer(side).engine->rekey_child(old_spi, p.net->now, p.sink(side)).ok());
      p.net->run_for(10s);
      // New SAs on both sides, the old ones deleted (RFC 7296 2.8).
      CHECK(p.sa().count(EventKind::child_sa_up) == 2);
      CHECK(p.sb().count(EventKind::child_sa_up) == 2);
      CHECK(p.sa().count(EventKind::child_sa_delete) == 1);
      CHECK(p.sb().count(EventKind::child_sa_delete) == 1);
      CHECK(model_of(p.sink(side)).inbound.count(old_spi) == 0);
      CHECK(current_inbound(p.sink(side)) != old_spi);
      // The rekeyed child names the one it replaces.
      const sim::Recorded* last = nullptr;
      for (const sim::Recorded& r : p.sink(side).events) {
        if (r.kind == EventKind::child_sa_up) last = &r;
      }
      REQUIRE(last != nullptr);
      CHECK(last->child->rekeys == old_spi);
      CHECK(p.a->engine->stats().child_rekeys == 1);
      CHECK(p.b->engine->stats().child_rekeys == 1);
      check_settled(p, 1);
      check_traffic(p);
    }
  }
}

TEST_CASE("lifecycle: PFS group mismatch: INVALID_KE_PAYLOAD and a retry with the peer's group") {
  PeerSetup a = setup_a(), b = setup_b();
  a.esp_proposals = "aes256gcm16-x25519-ecp256";
  b.esp_proposals = "aes256gcm16-ecp256";
  Pair p = make(a, b, 20);
  establish(p);
  REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  CHECK(p.a->engine->stats().child_rekeys == 1);
  check_settled(p, 1);
  check_traffic(p);
}

TEST_CASE("lifecycle: IKE SA rekey from either side moves the children; later exchanges use the new SA") {
  for (int side = 0; side < 2; ++side) {
    CAPTURE(side);
    Pair p = make(setup_a(), setup_b(), 30 + static_cast<uint64_t>(side));
    establish(p);
    const uint64_t before[2] = {ike_handle(p.sa()), ike_handle(p.sb())};
    REQUIRE(p.peer(side).engine->rekey_ike(before[side], p.net->now, p.sink(side)).ok());
    p.net->run_for(10s);
    for (int i = 0; i < 2; ++i) {
      CAPTURE(i);
      const sim::Recorded* r = p.sink(i).find(EventKind::ike_sa_rekeyed);
      REQUIRE(r != nullptr);
      CHECK(r->ike_sa != before[i]);
      // No child was deleted: they moved to the new IKE SA; the old IKE SA
      // ended with the rekeyed event (no ike_sa_down for it).
      CHECK(p.sink(i).count(EventKind::child_sa_delete) == 0);
      CHECK(p.sink(i).count(EventKind::ike_sa_down) == 0);
      CHECK(p.peer(i).engine->stats().ike_rekeys == 1);
    }
    check_settled(p, 1);
    // The new IKE SA works: a child rekey over it, then a delete of it.
    REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
    p.net->run_for(10s);
    check_settled(p, 1);
    check_traffic(p);
    REQUIRE(p.b->engine->close(ike_handle(p.sb()), p.net->now, p.sb()).ok());
    p.net->run_for(10s);
    for (int i = 0; i < 2; ++i) {
      CHECK(p.peer(i).engine->ike_sa_count() == 0);
      CHECK(model_of(p.sink(i)).inbound.empty());
      CHECK(model_of(p.sink(i)).outbound.empty());
    }
  }
}

// collision_link: even seeds a symmetric link (both requests cross), odd
// seeds a reordering one, so one side may finish its exchange before the
// other's request arrives (then TEMPORARY_FAILURE, or a Delete, settles it).
sim::LinkConfig collision_link(uint64_t seed) {
  sim::LinkConfig link;
  if (seed % 2 == 1) link.jitter = 80ms;
  return link;
}

TEST_CASE("lifecycle: simultaneous child rekeys end with one SA pair (lowest nonce rule, 2.8.1)") {
  uint64_t collisions = 0;
  for (uint64_t seed = 40; seed < 60; ++seed) {
    CAPTURE(seed);
    Pair p = make(setup_a(), setup_b(), seed, collision_link(seed));
    establish(p);
    REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
    REQUIRE(p.b->engine->rekey_child(current_inbound(p.sb()), p.net->now, p.sb()).ok());
    p.net->run_for(60s);
    if (seed % 2 == 0) {
      CHECK(p.a->engine->stats().collisions == 1);
      CHECK(p.b->engine->stats().collisions == 1);
    }
    collisions += p.a->engine->stats().collisions;
    check_settled(p, 1);
    check_traffic(p);
  }
  CHECK(collisions >= 10);
}

TEST_CASE("lifecycle: simultaneous IKE SA rekeys end with one IKE SA holding the children (2.8.2)") {
  for (uint64_t seed = 60; seed < 80; ++seed) {
    CAPTURE(seed);
    Pair p = make(setup_a(), setup_b(), seed, collision_link(seed));
    establish(p);
    REQUIRE(p.a->engine->rekey_ike(ike_handle(p.sa()), p.net->now, p.sa()).ok());
    REQUIRE(p.b->engine->rekey_ike(ike_handle(p.sb()), p.net->now, p.sb()).ok());
    // On a reordering link the loser may forget its rekey (2.25.2): the
    // winner then deletes the redundant IKE SA its answer made once the
    // loser could no longer be retransmitting (about 3 minutes).
    p.net->run_for(seed % 2 == 0 ? 60s : 200s);
    if (seed % 2 == 0) {
      CHECK(p.a->engine->stats().collisions == 1);
      CHECK(p.b->engine->stats().collisions == 1);
    }
    for (int i = 0; i < 2; ++i) {
      // Every IKE SA the host heard of ended with ike_sa_rekeyed; none went down.
      CHECK(p.sink(i).count(EventKind::ike_sa_down) == 0);
      CHECK(p.sink(i).count(EventKind::child_sa_delete) == 0);
    }
    check_settled(p, 1);
    // Both ended on the same IKE SA: a child rekey over it works.
    REQUIRE(p.b->engine->rekey_child(current_inbound(p.sb()), p.net->now, p.sb()).ok());
    p.net->run_for(10s);
    check_settled(p, 1);
    check_traffic(p);
  }
}

TEST_CASE("lifecycle: a rekey colliding with a delete of the same child leaves no SA behind (2.25.1)") {
  for (uint64_t seed = 80; seed < 90; ++seed) {
    CAPTURE(seed);
    Pair p = make(setup_a(), setup_b(), seed, collision_link(seed));
    establish(p);
    REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
    REQUIRE(p.b->engine->close_child(current_inbound(p.sb()), p.net->now, p.sb()).ok());
    p.net->run_for(60s);
    // The delete wins; whatever the rekey made is deleted too, or was
    // refused with TEMPORARY_FAILURE.
    const size_t left = p.a->engine->child_sa_count();
    CHECK(left == p.b->engine->child_sa_count());
    CHECK(model_of(p.sa()).inbound.size() == left);
    CHECK(model_of(p.sb()).inbound.size() == left);
    CHECK(left <= 1);
    if (left == 1) check_traffic(p);
  }
}

TEST_CASE("lifecycle: a rekey colliding with an IKE SA rekey: TEMPORARY_FAILURE, then both complete") {
  for (uint64_t seed = 90; seed < 100; ++seed) {
    CAPTURE(seed);
    Pair p = make(setup_a(), setup_b(), seed, collision_link(seed));
    establish(p);
    REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
    REQUIRE(p.b->engine->rekey_ike(ike_handle(p.sb()), p.net->now, p.sb()).ok());
    p.net->run_for(120s);
    check_settled(p, 1);
    check_traffic(p);
    CHECK(p.a->engine->stats().ike_rekeys == 1);
    CHECK(p.a->engine->stats().child_rekeys == 1);
  }
}

TEST_CASE("lifecycle: deletes of a child SA and of the IKE SA from either side") {
  for (int side = 0; side < 2; ++side) {
    CAPTURE(side);
    Pair p = make(setup_a(), setup_b(), 100 + static_cast<uint64_t>(side));
    establish(p);
    REQUIRE(p.peer(side).engine->close_child(current_inbound(p.sink(side)), p.net->now, p.sink(side)).ok());
    p.net->run_for(10s);
    check_settled(p, 0);
    REQUIRE(p.peer(side).engine->close(ike_handle(p.sink(side)), p.net->now, p.sink(side)).ok());
    p.net->run_for(10s);
    for (int i = 0; i < 2; ++i) {
      CHECK(p.peer(i).engine->ike_sa_count() == 0);
      CHECK(p.sink(i).count(EventKind::ike_sa_down) == 1);
    }
  }
}

TEST_CASE("lifecycle: more children: created after IKE_AUTH, and on ACQUIRE") {
  auto two_children = [](bool a_side) {
    return [a_side](ike::EngineConfig& c) {
      ike::ChildConfig second = c.connections[0].children[0];
      second.reqid = 2;
      ike::TsRange l, r;
      l.addresses = sa::AddressRange::of(IpPrefix::parse(a_side ? "10.11.0.0/16" : "10.12.0.0/16").value());
      r.addresses = sa::AddressRange::of(IpPrefix::parse(a_side ? "10.12.0.0/16" : "10.11.0.0/16").value());
      second.local_ts = {l};
      second.remote_ts = {r};
      c.connections[0].children.push_back(second);
      // The first child keeps its own subnets (the PAD allows both).
      ike::TsRange l0, r0;
      l0.addresses = sa::AddressRange::of(IpPrefix::parse(a_side ? "10.1.0.0/16" : "10.2.0.0/16").value());
      r0.addresses = sa::AddressRange::of(IpPrefix::parse(a_side ? "10.2.0.0/16" : "10.1.0.0/16").value());
      c.connections[0].children[0].local_ts = {l0};
      c.connections[0].children[0].remote_ts = {r0};
    };
  };
  PeerSetup a = setup_a(), b = setup_b();
  a.configure = two_children(true);
  b.configure = two_children(false);
  // The PAD lets each peer ask for its second subnet too.
  a.subnet = "10.0.0.0/12";
  b.subnet = "10.0.0.0/12";
  Pair p = make(a, b, 110);
  establish(p);
  p.net->run_for(5s);
  check_settled(p, 2);
  check_traffic(p, 2);
  // Deleted, the second child comes back on ACQUIRE over the same IKE SA.
  uint32_t second = 0;
  for (const auto& [spi, r] : model_of(p.sa()).inbound) {
    if (r->child->reqid == 2) second = spi;
  }
  REQUIRE(second != 0);
  REQUIRE(p.a->engine->close_child(second, p.net->now, p.sa()).ok());
  p.net->run_for(5s);
  check_settled(p, 1);
  REQUIRE(p.a->engine->acquire(2, p.net->now, p.sa()).ok());
  p.net->run_for(5s);
  check_settled(p, 2);
  check_traffic(p, 2);
}

TEST_CASE("lifecycle: window size 4: several child SAs negotiated in parallel") {
  auto window = [](ike::EngineConfig& c) { c.window_size = 4; };
  PeerSetup a = setup_a(), b = setup_b();
  a.configure = b.configure = window;
  Pair p = make(a, b, 120);
  establish(p);
  const uint64_t h = ike_handle(p.sa());
  const size_t sent_before = p.sa().sent;
  for (int i = 0; i < 4; ++i) REQUIRE(p.a->engine->create_child(h, 0, p.net->now, p.sa()).ok());
  // All four requests left at once: the peer's window allows it.
  CHECK(p.sa().sent - sent_before == 4);
  p.net->run_for(5s);
  check_settled(p, 5);
}

TEST_CASE("lifecycle: a hard lifetime without a rekey deletes the child SA on both sides") {
  auto lifetimes = [](ike::EngineConfig& c) {
    c.connections[0].children[0].lifetime = sa::Lifetime{Duration{0}, 60s};
  };
  for (int sides = 1; sides <= 2; ++sides) {
    CAPTURE(sides);
    PeerSetup a = setup_a(), b = setup_b();
    a.configure = lifetimes;
    if (sides == 2) b.configure = lifetimes;  // both expire it at once: two Deletes cross
    Pair p = make(a, b, 125);
    establish(p);
    p.net->run_for(59s);
    check_settled(p, 1);
    p.net->run_for(5s);
    check_settled(p, 0);
    if (sides == 1) CHECK(p.sa().find(EventKind::child_sa_delete)->detail == "hard lifetime expired");
  }
}

TEST_CASE("lifecycle: child lifetimes: soft rekeys on time, never two pairs left") {
  auto lifetimes = [](ike::EngineConfig& c) {
    c.connections[0].children[0].lifetime = sa::Lifetime{60s, 90s};
  };
  PeerSetup a = setup_a(), b = setup_b();
  a.configure = b.configure = lifetimes;
  Pair p = make(a, b, 130);
  establish(p);
  p.net->run_for(10min);
  // About one rekey a minute (jitter makes it 54-60 s), never two pairs
  // for long, never a gap.
  const uint64_t rekeys = p.a->engine->stats().child_rekeys;
  CHECK(rekeys >= 9);
  CHECK(rekeys <= 12);
  CHECK(p.a->engine->stats().child_rekeys == p.b->engine->stats().child_rekeys);
  check_settled(p, 1);
  check_traffic(p);
}

TEST_CASE("lifecycle: dead peer detection: clear, and restart once the peer is back") {
  for (ike::DpdAction action : {ike::DpdAction::clear, ike::DpdAction::restart}) {
    CAPTURE(static_cast<int>(action));
    auto dpd = [action](ike::EngineConfig& c) {
      c.connections[0].dpd_delay = 30s;
      c.connections[0].dpd_action = action;
      c.retransmit = ike::RetransmitPolicy{2s, 1.5, 3};
    };
    PeerSetup a = setup_a(), b = setup_b();
    a.configure = dpd;
    Pair p = make(a, b, 140);
    establish(p);
    // Quiet but alive: liveness checks are answered.
    p.net->run_for(2min);
    CHECK(p.a->engine->established_count() == 1);
    CHECK(p.sa().count(EventKind::ike_sa_down) == 0);
    // The peer dies (its engine is gone; nothing answers).
    auto dead = std::move(p.b);
    sim::PeerSetup b2 = setup_b();
    std::string error;
    // A stand-in that drops everything: an engine with no connections.
    b2.configure = [](ike::EngineConfig& c) { c.connections.clear(); };
    p.b = sim::make_peer(b2, setup_a(), provider(), 999, IPSEC_TEST_DATA_DIR, &error);
    REQUIRE(p.b);
    p.net->peers[1] = p.b.get();
    const Timestamp died = p.net->now;
    REQUIRE(p.net->run([&] { return p.sa().count(EventKind::ike_sa_down) == 1; }, 5min));
    // Noticed within dpd_delay plus the retransmissions (2+3+4.5+6.75 s).
    CHECK(p.net->now - died <= 30s + 17s);
    const sim::Recorded* down = p.sa().find(EventKind::ike_sa_down);
    CHECK(down->detail.find("not responding") != std::string::npos);
    CHECK(model_of(p.sa()).inbound.empty());
    if (action == ike::DpdAction::restart) {
      // IKE_SA_INIT goes out again at once; with the peer back it comes up.
      p.b = sim::make_peer(setup_b(), setup_a(), provider(), 1000, IPSEC_TEST_DATA_DIR, &error);
      REQUIRE(p.b);
      p.net->peers[1] = p.b.get();
      REQUIRE(p.net->run([&] { return p.sa().count(EventKind::ike_sa_up) == 2; }, 5min));
    } else {
      p.net->run_for(2min);
      CHECK(p.a->engine->ike_sa_count() == 0);
    }
  }
}

TEST_CASE("lifecycle: a rebooted peer's INITIAL_CONTACT clears our stale IKE and child SAs") {
  Pair p = make(setup_a(), setup_b(), 150);
  establish(p);
  // a reboots: a fresh engine (no state) initiates again.
  std::string error;
  p.a = sim::make_peer(setup_a(), setup_b(), provider(), 151, IPSEC_TEST_DATA_DIR, &error);
  REQUIRE(p.a);
  p.net->peers[0] = p.a.get();
  const size_t b_deletes = p.sb().count(EventKind::child_sa_delete);
  REQUIRE(p.a->engine->initiate("a-b", p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  CHECK(p.b->engine->ike_sa_count() == 1);
  CHECK(p.b->engine->child_sa_count() == 1);
  CHECK(p.sb().count(EventKind::child_sa_delete) == b_deletes + 1);
  CHECK(p.sb().count(EventKind::ike_sa_down) == 1);
  CHECK(model_of(p.sb()).inbound.size() == 1);
}

TEST_CASE("lifecycle: reauthentication replaces the IKE SA make-before-break") {
  auto reauth = [](ike::EngineConfig& c) { c.connections[0].ike_lifetime.reauth = 10min; };
  PeerSetup a = setup_a();
  a.configure = reauth;
  Pair p = make(a, setup_b(), 160);
  establish(p);
  p.net->run_for(11min);
  CHECK(p.sa().count(EventKind::ike_sa_up) == 2);
  CHECK(p.sb().count(EventKind::ike_sa_up) == 2);
  CHECK(p.sa().count(EventKind::ike_sa_down) == 1);
  CHECK(p.sb().count(EventKind::ike_sa_down) == 1);
  check_settled(p, 1);
  check_traffic(p);
}

TEST_CASE("lifecycle: childless IKE SA (RFC 6023), then a child on demand") {
  PeerSetup a = setup_a();
  std::vector<ike::ChildConfig> saved;
  a.configure = [](ike::EngineConfig& c) { c.connections[0].children.clear(); };
  Pair p = make(a, setup_b(), 170);
  REQUIRE(p.a->engine->initiate("a-b", p.net->now, p.sa()).ok());
  p.net->run_for(5s);
  CHECK(p.a->engine->established_count() == 1);
  CHECK(p.b->engine->established_count() == 1);
  check_settled(p, 0);
}

TEST_CASE("lifecycle: a NAT mapping that changes is followed, and the children rekeyed onto it (2.23)") {
  sim::LinkConfig link;
  link.nat = true;
  PeerSetup b = setup_b();
  b.any_remote_address = true;
  Pair p = make(setup_a(), b, 180, link);
  establish(p);
  const uint32_t before = current_inbound(p.sb());
  // The NAT forgets a's mapping: its next message comes from a new port.
  p.net->nat_port_offset = 41000;
  REQUIRE(p.a->engine->check_liveness(ike_handle(p.sa()), p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  const sim::Recorded* moved = p.sb().find(EventKind::peer_address_changed);
  REQUIRE(moved != nullptr);
  CHECK(moved->ike->path.remote.port == 4500 + 41000);
  CHECK(current_inbound(p.sb()) != before);
  const SadModel m = model_of(p.sb());
  REQUIRE(!m.outbound.empty());
  REQUIRE(m.outbound.begin()->second->child->udp.has_value());
  CHECK(m.outbound.begin()->second->child->udp->remote_port == 4500 + 41000);
  check_settled(p, 1);
}

}  // namespace
}  // namespace ipsec

namespace ipsec {
namespace {

TEST_CASE("lifecycle: the SAD's byte/packet limits: rekey_needed rekeys, expired deletes") {
  Pair p = make(setup_a(), setup_b(), 190);
  establish(p);
  const uint32_t spi = current_inbound(p.sa());
  // Soft limit on the inbound SA (Sad::poll reports it): a rekey.
  p.a->engine->on_sa_event(sa::SaEvent{sa::SaEventKind::rekey_needed, sa::Direction::inbound, spi, 1},
                           p.net->now, p.sa());
  p.net->run_for(5s);
  CHECK(p.a->engine->stats().child_rekeys == 1);
  check_settled(p, 1);
  // Hard limit on the outbound SA: the SAD removed it; the child goes.
  const SadModel m = model_of(p.sa());
  REQUIRE(m.outbound.count(1) == 1);
  const uint32_t out_spi = m.outbound.at(1)->child->outbound_spi;
  p.a->engine->on_sa_event(sa::SaEvent{sa::SaEventKind::expired, sa::Direction::outbound, out_spi, 1},
                           p.net->now, p.sa());
  p.net->run_for(5s);
  check_settled(p, 0);
  // Unknown SPIs are ignored.
  p.a->engine->on_sa_event(sa::SaEvent{sa::SaEventKind::expired, sa::Direction::inbound, 12345, 1},
                           p.net->now, p.sa());
  CHECK(p.a->engine->established_count() == 1);
}

TEST_CASE("lifecycle: CREATE_CHILD_SA and INFORMATIONAL messages are fragmented when they do not fit") {
  PeerSetup a = setup_a(), b = setup_b();
  // MODP-2048 makes a 256-octet KE payload: a PFS rekey does not fit 300.
  a.esp_proposals = b.esp_proposals = "aes256gcm16-modp2048";
  a.fragment_size = b.fragment_size = 300;
  Pair p = make(a, b, 200);
  establish(p);
  const size_t sent = p.sa().sent;
  REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  CHECK(p.sa().sent - sent >= 3);  // the request went in fragments (and a Delete followed)
  CHECK(p.a->engine->stats().child_rekeys == 1);
  check_settled(p, 1);
  check_traffic(p);
}

}  // namespace
}  // namespace ipsec

namespace ipsec {
namespace {

TEST_CASE(
    "lifecycle: children per IKE SA are limited: NO_ADDITIONAL_SAS beyond the limit, rekeys still work") {
  PeerSetup b = setup_b();
  b.configure = [](ike::EngineConfig& c) { c.max_child_sas_per_ike_sa = 3; };
  Pair p = make(setup_a(), b, 210);
  establish(p);
  const uint64_t h = ike_handle(p.sa());
  for (int i = 0; i < 4; ++i) REQUIRE(p.a->engine->create_child(h, 0, p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  check_settled(p, 3);
  CHECK(p.sa().count(EventKind::child_sa_failed) == 2);
  REQUIRE(p.a->engine->rekey_child(current_inbound(p.sa()), p.net->now, p.sa()).ok());
  p.net->run_for(10s);
  check_settled(p, 3);
}

}  // namespace
}  // namespace ipsec
