// SPDX-License-Identifier: Apache-2.0
// Umbrella header: everything public. Prefer the specific headers in code
// that cares about compile time.
#pragma once

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/endian.hpp"
#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/bytes/reader.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/errc.hpp"
#include "ipsec/core/ip.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/aead.hpp"
#include "ipsec/crypto/cipher.hpp"
#include "ipsec/crypto/integrity.hpp"
#include "ipsec/crypto/key_exchange.hpp"
#include "ipsec/crypto/keymat.hpp"
#include "ipsec/crypto/prf.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/wire/ip_header.hpp"
