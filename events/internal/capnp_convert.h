// Model <-> generated Cap'n Proto types. Internal to events/: public headers never expose capnp.
#pragma once

#include "events/model.h"
#include "events/status.h"
#include "schemas/ledger.capnp.h"
#include "schemas/policy.capnp.h"

namespace fundledger::events::internal {

void ToCapnp(const Entry& in, schema::Entry::Builder out);
void ToCapnp(const Policy& in, schema::Policy::Builder out);
void BodyToCapnp(const Body& in, schema::Entry::Body::Builder out);
// REQUIRES: reader decoded under kj::runCatchingExceptions (it may throw kj exceptions).
// Returns an error message (empty on success) for wrong-length fixed-size fields and unknown kinds.
std::string FromCapnp(schema::Entry::Reader in, Entry* out);
std::string FromCapnp(schema::Policy::Reader in, Policy* out);
std::string BodyFromCapnp(schema::Entry::Body::Reader in, Body* out);

}  // namespace fundledger::events::internal
