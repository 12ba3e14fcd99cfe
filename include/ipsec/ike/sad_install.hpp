// SPDX-License-Identifier: Apache-2.0
// Glue between the IKE engine's child SA events and the SAD (sa/sad.hpp):
// an SpiAllocator backed by the SAD, and the install/remove calls a host
// makes from its Sink::on_event. Control plane only.
#pragma once

#include <memory>

#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/ike/config.hpp"
#include "ipsec/ike/events.hpp"
#include "ipsec/sa/sad.hpp"

namespace ipsec::ike {

// SadSpiAllocator: SPIs reserved in the SAD (Sad::allocate_spi), so a
// negotiated SPI can always be installed.
class SadSpiAllocator final : public SpiAllocator {
 public:
  SadSpiAllocator(sa::Sad& sad, crypto::Rng& rng) noexcept : sad_(sad), rng_(rng) {}
  [[nodiscard]] Result<uint32_t> allocate() override { return sad_.allocate_spi(rng_); }
  void release(uint32_t spi) override { (void)sad_.release_spi(spi); }

 private:
  sa::Sad& sad_;
  crypto::Rng& rng_;
};

// binding_of: the SAD binding of a child SA (its reqid, selectors, lifetime).
[[nodiscard]] inline sa::SaBinding binding_of(const ChildSa& child) {
  sa::SaBinding b;
  b.reqid = child.reqid;
  b.selectors.assign(child.selectors.begin(), child.selectors.end());
  b.lifetime = child.lifetime;
  return b;
}

// install_child: one direction of an EventKind::child_sa_install event into
// the SAD (the event's key views are read here, during the event). Errors:
// those of esp::InboundSa/OutboundSa::create and Sad::install_*.
[[nodiscard]] inline Status install_child(sa::Sad& sad, crypto::Provider& provider, const ChildSa& child,
                                          sa::Direction direction, Timestamp now) {
  if (direction == sa::Direction::inbound) {
    auto in = esp::InboundSa::create(child.inbound_config(), provider);
    if (!in) return in.status();
    return sad.install_inbound(std::move(*in), binding_of(child), now);
  }
  auto out = esp::OutboundSa::create(child.outbound_config(), provider);
  if (!out) return out.status();
  return sad.install_outbound(std::move(*out), binding_of(child), now);
}

// remove_child: both directions of an EventKind::child_sa_delete event
// (either may already be gone).
inline void remove_child(sa::Sad& sad, const ChildSa& child) noexcept {
  (void)sad.remove_inbound(child.inbound_spi);
  (void)sad.remove_outbound(child.reqid, child.outbound_spi);
}

}  // namespace ipsec::ike
