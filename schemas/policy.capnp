@0x9819c20bd9e42138;
# A subsidy policy: measures, their annual pools, tracks and money rules (DESIGN.md §4).
# Policies are written as JSON whose field names are this schema's; fundledger reads them with a
# strict reader driven by this schema (unknown fields, wrong types, duplicate keys are refused).
# Evolution: add fields with new ordinals only; never renumber, retype or reuse (FORMAT.md).

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("fundledger::schema");

enum RecipientKind {
  enterprise @0;
  startup @1;
  university @2;
  researchInstitute @3;
  dataSourceUnit @4;
  platformOperator @5;
  lab @6;
  innovationCentre @7;
}

enum CapScope {
  perAward @0;              # each award on its own
  perRecipientYear @1;      # one recipient's awards in the track in one fiscal year
  perRecipientTerm @2;      # one recipient's awards in the track over the policy term
  perProject @3;            # awards to one project id (attribute project_id) in the track
  perRecipientMeasureYear @4; # one recipient's awards across every track of the measure in a year
}

enum AttributeTest {
  equals @0;        # the application's attribute equals values[0]
  oneOf @1;         # the attribute is one of values
  present @2;       # the attribute is present and not empty
  notRelatedParty @3; # the attribute names a USCC that is not a related party of the recipient
}

struct Unit {
  code @0 :Text;     # e.g. SZ-STIB
  nameEn @1 :Text;
  nameZh @2 :Text;
  kind @3 :Text;     # "municipal bureau", "district government"
}

struct Cap {
  scope @0 :CapScope;
  amountFen @1 :Int64;   # > 0
  source @2 :Text;       # where the number comes from (reference row and source code)
  note @3 :Text;         # assumptions, if any
}

struct AttributeRule {
  key @0 :Text;          # snake_case attribute name, e.g. rented_compute
  test @1 :AttributeTest;
  values @2 :List(Text);
  source @3 :Text;
  note @4 :Text;
}

struct Track {
  id @0 :Text;                 # lowercase slug, unique within the measure
  nameEn @1 :Text;
  nameZh @2 :Text;
  basisKind @3 :Text;          # what the rate applies to; empty for merit tracks
  rateCeilingBp @4 :UInt32;    # 0 with an empty basisKind: merit track (no rate)
  caps @5 :List(Cap);
  periodYears @6 :UInt16;      # > 0: at most one award per recipient in any window of that many fiscal years
  eligibleKinds @7 :List(RecipientKind);
  requiredAttributes @8 :List(AttributeRule);
  boundedByBasisOnly @9 :Bool; # no amount cap is stated: the rate times the basis is the only bound
  source @10 :Text;
  note @11 :Text;
}

struct CoFunding {
  cityShareBp @0 :UInt32;      # city's share of each award; the rest is the recipient's district's
  districtShareBp @1 :UInt32;
  source @2 :Text;
  note @3 :Text;
}

struct Measure {
  id @0 :Text;                 # its number in the policy: "2" … "13"
  nameEn @1 :Text;
  nameZh @2 :Text;
  moneyRule @3 :Bool;          # false: the measure grants nothing through the ledger (measure 1)
  annualBudgetCapStated @4 :Bool;
  annualBudgetCapFen @5 :Int64; # the pool shared by every track in one fiscal year
  units @6 :List(Text);        # responsible unit codes
  tracks @7 :List(Track);
  coFunded @8 :Bool;
  coFunding @9 :CoFunding;
  source @10 :Text;
  note @11 :Text;
}

struct Policy {
  id @0 :Text;                 # e.g. shenzhen-ai-pioneer-2024
  version @1 :Text;            # e.g. 1.0.0
  titleZh @2 :Text;
  titleEn @3 :Text;
  issuer @4 :Text;
  termStart @5 :Text;          # ISO date, first day in force (Asia/Shanghai)
  termEnd @6 :Text;            # ISO date, last day in force
  currency @7 :Text;           # CNY
  units @8 :List(Unit);
  measures @9 :List(Measure);
  source @10 :Text;
  note @11 :Text;
}
