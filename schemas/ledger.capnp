@0x8ac7a473ea5864eb;
# The entry envelope and every event kind (DESIGN.md §2, §3). This is the format third parties
# verify: see FORMAT.md. Evolution: add fields with new ordinals only; never renumber, retype,
# reuse or delete (rename to obsoleteX), so old entries' canonical bytes and signatures stay valid.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fundledger::schema");

using Policy = import "policy.capnp";

enum Role {
  authority @0;
  admin @1;
  clerk @2;
  reviewer @3;
  treasurer @4;
  auditor @5;
  notary @6;
}

struct Entry {
  formatVersion @0 :UInt16;    # 1
  ledgerId @1 :Data;           # 16 bytes, fixed at init
  seq @2 :UInt64;              # 1, 2, 3 … gapless
  prevHash @3 :Data;           # leaf hash of entry seq-1; 32 zero bytes for seq 1
  recordedAt @4 :Int64;        # UTC milliseconds, never decreasing
  signer @5 :Data;             # SHA-256 of the signer's raw 32-byte Ed25519 public key
  idempotencyKey @6 :Text;
  body :union {
    ledgerCreated @7 :LedgerCreated;
    keyRegistered @8 :KeyRegistered;
    keyRevoked @9 :KeyRevoked;
    policyPublished @10 :PolicyPublished;
    recipientRegistered @11 :RecipientRegistered;
    budgetAllocated @12 :BudgetAllocated;
    applicationSubmitted @13 :ApplicationSubmitted;
    applicationApproved @14 :ApplicationApproved;
    applicationRejected @15 :ApplicationRejected;
    awardGranted @16 :AwardGranted;
    awardRevoked @17 :AwardRevoked;
    payoutDisbursed @18 :PayoutDisbursed;
    payoutReversed @19 :PayoutReversed;
    auditAttested @20 :AuditAttested;
  }
}

struct LedgerCreated {
  name @0 :Text;
  authorityPublicKey @1 :Data;  # raw 32-byte Ed25519 public key; it signs this entry
  authorityUnit @2 :Text;
  authorityHolder @3 :Text;
  currency @4 :Text;            # CNY
  minorUnit @5 :Text;           # fen
  minorPerMajor @6 :UInt32;     # 100
}

struct KeyRegistered {
  publicKey @0 :Data;           # raw 32-byte Ed25519 public key
  role @1 :Role;
  unit @2 :Text;                # bureau code, e.g. SZ-STIB
  holder @3 :Text;              # the person who holds the key
}

struct KeyRevoked {
  keyId @0 :Data;
  reason @1 :Text;
}

struct PolicyPublished {
  policy @0 :Policy.Policy;
  effectiveFrom @1 :Text;       # ISO date from which this version governs new entries
}

struct RecipientRegistered {
  recipientId @0 :Text;         # 18-character Unified Social Credit Code
  name @1 :Text;
  kind @2 :Policy.RecipientKind;
  district @3 :Text;            # lowercase pinyin
  relatedParties @4 :List(Text);  # USCCs
}

struct BudgetAllocated {
  measure @0 :Text;
  fiscalYear @1 :UInt16;
  amountFen @2 :Int64;
  source @3 :Text;              # "city" or a district
}

struct Attribute {
  key @0 :Text;
  value @1 :Text;
}

struct ApplicationSubmitted {
  applicationId @0 :Text;
  recipientId @1 :Text;
  measure @2 :Text;
  track @3 :Text;
  fiscalYear @4 :UInt16;
  basisFen @5 :Int64;           # 0 for merit tracks
  basisKind @6 :Text;
  attributes @7 :List(Attribute);  # sorted by key, keys unique
  evidence @8 :List(Data);      # SHA-256 digests of documents kept outside the ledger
}

struct ApplicationApproved {
  applicationId @0 :Text;
  note @1 :Text;
}

struct ApplicationRejected {
  applicationId @0 :Text;
  reason @1 :Text;
}

struct AwardGranted {
  applicationId @0 :Text;
  amountFen @1 :Int64;
  cityFen @2 :Int64;            # funding split; cityFen + districtFen == amountFen
  districtFen @3 :Int64;
  justification @4 :Text;       # required on merit tracks
}

struct AwardRevoked {
  applicationId @0 :Text;
  amountFen @1 :Int64;          # releases this much of the unpaid award
  reason @2 :Text;
}

struct PayoutDisbursed {
  applicationId @0 :Text;
  amountFen @1 :Int64;
  reference @2 :Text;           # payment reference of the treasury
}

struct PayoutReversed {
  applicationId @0 :Text;
  amountFen @1 :Int64;
  reason @2 :Text;
}

struct AuditAttested {
  treeSize @0 :UInt64;
  rootHash @1 :Data;
  stateHash @2 :Data;           # root over the projections at treeSize
  findingsDigest @3 :Data;      # SHA-256 of the findings report
  findingsCount @4 :UInt32;
}

# Stored and exported form of one entry (export --format capnp writes a stream of these).
struct SignedEntry {
  entry @0 :Data;               # canonical Entry bytes, exactly what was signed
  signature @1 :Data;           # 64-byte Ed25519 signature
}
