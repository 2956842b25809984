#include "events/internal/capnp_convert.h"

#include <cstring>
#include <span>

namespace fundledger::events::internal {
namespace s = ::fundledger::schema;

namespace {

capnp::Data::Reader AsData(std::span<const uint8_t> bytes) {
  return capnp::Data::Reader(bytes.data(), bytes.size());
}

template <size_t N>
bool CopyFixed(capnp::Data::Reader in, std::array<uint8_t, N>* out) {
  if (in.size() != N) return false;
  std::memcpy(out->data(), in.begin(), N);
  return true;
}

std::string Str(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

// The whole string, NULs included: Cap'n Proto's conversion from std::string goes through
// c_str() and would silently cut the text at its first NUL, so the signed bytes would hold
// less than the entry that was checked. Kept whole, a NUL reaches the text check and is refused.
capnp::Text::Reader Txt(const std::string& text) {
  return capnp::Text::Reader(text.data(), text.size());
}

void TextList(const std::vector<std::string>& in, capnp::List<capnp::Text>::Builder out) {
  for (unsigned i = 0; i < in.size(); ++i) out.set(i, Txt(in[i]));
}

std::vector<std::string> TextList(capnp::List<capnp::Text>::Reader in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto t : in) out.push_back(Str(t));
  return out;
}

// ---- Policy ----

void TrackToCapnp(const Track& in, s::Track::Builder out) {
  out.setId(Txt(in.id));
  out.setNameEn(Txt(in.name_en));
  out.setNameZh(Txt(in.name_zh));
  out.setBasisKind(Txt(in.basis_kind));
  out.setRateCeilingBp(in.rate_ceiling_bp);
  auto caps = out.initCaps(static_cast<unsigned>(in.caps.size()));
  for (unsigned i = 0; i < in.caps.size(); ++i) {
    caps[i].setScope(static_cast<s::CapScope>(in.caps[i].scope));
    caps[i].setAmountFen(in.caps[i].amount_fen);
    caps[i].setSource(Txt(in.caps[i].source));
    caps[i].setNote(Txt(in.caps[i].note));
  }
  out.setPeriodYears(in.period_years);
  auto kinds = out.initEligibleKinds(static_cast<unsigned>(in.eligible_kinds.size()));
  for (unsigned i = 0; i < in.eligible_kinds.size(); ++i) {
    kinds.set(i, static_cast<s::RecipientKind>(in.eligible_kinds[i]));
  }
  auto attrs = out.initRequiredAttributes(static_cast<unsigned>(in.required_attributes.size()));
  for (unsigned i = 0; i < in.required_attributes.size(); ++i) {
    const AttributeRule& rule = in.required_attributes[i];
    attrs[i].setKey(Txt(rule.key));
    attrs[i].setTest(static_cast<s::AttributeTest>(rule.test));
    TextList(rule.values, attrs[i].initValues(static_cast<unsigned>(rule.values.size())));
    attrs[i].setSource(Txt(rule.source));
    attrs[i].setNote(Txt(rule.note));
  }
  out.setBoundedByBasisOnly(in.bounded_by_basis_only);
  out.setSource(Txt(in.source));
  out.setNote(Txt(in.note));
}

void MeasureToCapnp(const Measure& in, s::Measure::Builder out) {
  out.setId(Txt(in.id));
  out.setNameEn(Txt(in.name_en));
  out.setNameZh(Txt(in.name_zh));
  out.setMoneyRule(in.money_rule);
  out.setAnnualBudgetCapStated(in.annual_budget_cap_stated);
  out.setAnnualBudgetCapFen(in.annual_budget_cap_fen);
  TextList(in.units, out.initUnits(static_cast<unsigned>(in.units.size())));
  auto tracks = out.initTracks(static_cast<unsigned>(in.tracks.size()));
  for (unsigned i = 0; i < in.tracks.size(); ++i) TrackToCapnp(in.tracks[i], tracks[i]);
  out.setCoFunded(in.co_funded);
  auto cf = out.initCoFunding();
  cf.setCityShareBp(in.co_funding.city_share_bp);
  cf.setDistrictShareBp(in.co_funding.district_share_bp);
  cf.setSource(Txt(in.co_funding.source));
  cf.setNote(Txt(in.co_funding.note));
  out.setSource(Txt(in.source));
  out.setNote(Txt(in.note));
}

// Enum values beyond the ones this release knows are refused, never cast blindly.
template <typename T>
bool KnownEnum(uint16_t value, int count, T* out) {
  if (value >= count) return false;
  *out = static_cast<T>(value);
  return true;
}

std::string TrackFromCapnp(s::Track::Reader in, Track* result) {
  Track& out = *result;
  out.id = Str(in.getId());
  out.name_en = Str(in.getNameEn());
  out.name_zh = Str(in.getNameZh());
  out.basis_kind = Str(in.getBasisKind());
  out.rate_ceiling_bp = in.getRateCeilingBp();
  for (auto cap : in.getCaps()) {
    Cap c{CapScope::kPerAward, cap.getAmountFen(), Str(cap.getSource()), Str(cap.getNote())};
    if (!KnownEnum(static_cast<uint16_t>(cap.getScope()), kCapScopeCount, &c.scope)) return "track " + out.id + ": unknown cap scope";
    out.caps.push_back(std::move(c));
  }
  out.period_years = in.getPeriodYears();
  for (auto kind : in.getEligibleKinds()) {
    RecipientKind k{};
    if (!KnownEnum(static_cast<uint16_t>(kind), kRecipientKindCount, &k)) return "track " + out.id + ": unknown recipient kind";
    out.eligible_kinds.push_back(k);
  }
  for (auto rule : in.getRequiredAttributes()) {
    AttributeRule r{Str(rule.getKey()), AttributeTest::kEquals, TextList(rule.getValues()), Str(rule.getSource()),
                    Str(rule.getNote())};
    if (!KnownEnum(static_cast<uint16_t>(rule.getTest()), kAttributeTestCount, &r.test)) return "track " + out.id + ": unknown attribute test";
    out.required_attributes.push_back(std::move(r));
  }
  out.bounded_by_basis_only = in.getBoundedByBasisOnly();
  out.source = Str(in.getSource());
  out.note = Str(in.getNote());
  return "";
}

std::string MeasureFromCapnp(s::Measure::Reader in, Measure* result) {
  Measure& out = *result;
  out.id = Str(in.getId());
  out.name_en = Str(in.getNameEn());
  out.name_zh = Str(in.getNameZh());
  out.money_rule = in.getMoneyRule();
  out.annual_budget_cap_stated = in.getAnnualBudgetCapStated();
  out.annual_budget_cap_fen = in.getAnnualBudgetCapFen();
  out.units = TextList(in.getUnits());
  for (auto track : in.getTracks()) {
    Track t;
    std::string error = TrackFromCapnp(track, &t);
    if (!error.empty()) return "measure " + out.id + " " + error;
    out.tracks.push_back(std::move(t));
  }
  out.co_funded = in.getCoFunded();
  auto cf = in.getCoFunding();
  out.co_funding = CoFunding{cf.getCityShareBp(), cf.getDistrictShareBp(), Str(cf.getSource()),
                             Str(cf.getNote())};
  out.source = Str(in.getSource());
  out.note = Str(in.getNote());
  return "";
}

// ---- Bodies ----

struct BodyWriter {
  s::Entry::Body::Builder out;
  void operator()(const LedgerCreated& e) {
    auto b = out.initLedgerCreated();
    b.setName(Txt(e.name));
    b.setAuthorityPublicKey(AsData(e.authority_public_key));
    b.setAuthorityUnit(Txt(e.authority_unit));
    b.setAuthorityHolder(Txt(e.authority_holder));
    b.setCurrency(Txt(e.currency));
    b.setMinorUnit(Txt(e.minor_unit));
    b.setMinorPerMajor(e.minor_per_major);
  }
  void operator()(const KeyRegistered& e) {
    auto b = out.initKeyRegistered();
    b.setPublicKey(AsData(e.public_key));
    b.setRole(static_cast<s::Role>(e.role));
    b.setUnit(Txt(e.unit));
    b.setHolder(Txt(e.holder));
  }
  void operator()(const KeyRevoked& e) {
    auto b = out.initKeyRevoked();
    b.setKeyId(AsData(e.key_id));
    b.setReason(Txt(e.reason));
  }
  void operator()(const PolicyPublished& e) {
    auto b = out.initPolicyPublished();
    ToCapnp(e.policy, b.initPolicy());
    b.setEffectiveFrom(Txt(e.effective_from));
  }
  void operator()(const RecipientRegistered& e) {
    auto b = out.initRecipientRegistered();
    b.setRecipientId(Txt(e.recipient_id));
    b.setName(Txt(e.name));
    b.setKind(static_cast<s::RecipientKind>(e.kind));
    b.setDistrict(Txt(e.district));
    TextList(e.related_parties, b.initRelatedParties(static_cast<unsigned>(e.related_parties.size())));
  }
  void operator()(const BudgetAllocated& e) {
    auto b = out.initBudgetAllocated();
    b.setMeasure(Txt(e.measure));
    b.setFiscalYear(e.fiscal_year);
    b.setAmountFen(e.amount_fen);
    b.setSource(Txt(e.source));
  }
  void operator()(const ApplicationSubmitted& e) {
    auto b = out.initApplicationSubmitted();
    b.setApplicationId(Txt(e.application_id));
    b.setRecipientId(Txt(e.recipient_id));
    b.setMeasure(Txt(e.measure));
    b.setTrack(Txt(e.track));
    b.setFiscalYear(e.fiscal_year);
    b.setBasisFen(e.basis_fen);
    b.setBasisKind(Txt(e.basis_kind));
    auto attrs = b.initAttributes(static_cast<unsigned>(e.attributes.size()));
    for (unsigned i = 0; i < e.attributes.size(); ++i) {
      attrs[i].setKey(Txt(e.attributes[i].key));
      attrs[i].setValue(Txt(e.attributes[i].value));
    }
    auto evidence = b.initEvidence(static_cast<unsigned>(e.evidence.size()));
    for (unsigned i = 0; i < e.evidence.size(); ++i) evidence.set(i, AsData(e.evidence[i]));
  }
  void operator()(const ApplicationApproved& e) {
    auto b = out.initApplicationApproved();
    b.setApplicationId(Txt(e.application_id));
    b.setNote(Txt(e.note));
  }
  void operator()(const ApplicationRejected& e) {
    auto b = out.initApplicationRejected();
    b.setApplicationId(Txt(e.application_id));
    b.setReason(Txt(e.reason));
  }
  void operator()(const AwardGranted& e) {
    auto b = out.initAwardGranted();
    b.setApplicationId(Txt(e.application_id));
    b.setAmountFen(e.amount_fen);
    b.setCityFen(e.city_fen);
    b.setDistrictFen(e.district_fen);
    b.setJustification(Txt(e.justification));
  }
  void operator()(const AwardRevoked& e) {
    auto b = out.initAwardRevoked();
    b.setApplicationId(Txt(e.application_id));
    b.setAmountFen(e.amount_fen);
    b.setReason(Txt(e.reason));
  }
  void operator()(const PayoutDisbursed& e) {
    auto b = out.initPayoutDisbursed();
    b.setApplicationId(Txt(e.application_id));
    b.setAmountFen(e.amount_fen);
    b.setReference(Txt(e.reference));
  }
  void operator()(const PayoutReversed& e) {
    auto b = out.initPayoutReversed();
    b.setApplicationId(Txt(e.application_id));
    b.setAmountFen(e.amount_fen);
    b.setReason(Txt(e.reason));
  }
  void operator()(const AuditAttested& e) {
    auto b = out.initAuditAttested();
    b.setTreeSize(e.tree_size);
    b.setRootHash(AsData(e.root_hash));
    b.setStateHash(AsData(e.state_hash));
    b.setFindingsDigest(AsData(e.findings_digest));
    b.setFindingsCount(e.findings_count);
  }
};

}  // namespace

std::string BodyFromCapnp(s::Entry::Body::Reader in, Body* out) {
  using W = s::Entry::Body;
  switch (in.which()) {
    case W::LEDGER_CREATED: {
      auto r = in.getLedgerCreated();
      LedgerCreated e;
      e.name = Str(r.getName());
      if (!CopyFixed(r.getAuthorityPublicKey(), &e.authority_public_key)) return "authorityPublicKey is not 32 bytes";
      e.authority_unit = Str(r.getAuthorityUnit());
      e.authority_holder = Str(r.getAuthorityHolder());
      e.currency = Str(r.getCurrency());
      e.minor_unit = Str(r.getMinorUnit());
      e.minor_per_major = r.getMinorPerMajor();
      *out = std::move(e);
      return "";
    }
    case W::KEY_REGISTERED: {
      auto r = in.getKeyRegistered();
      KeyRegistered e;
      if (!CopyFixed(r.getPublicKey(), &e.public_key)) return "publicKey is not 32 bytes";
      auto role = static_cast<uint16_t>(r.getRole());
      if (role >= kRoleCount) return "unknown role " + std::to_string(role);
      e.role = static_cast<Role>(role);
      e.unit = Str(r.getUnit());
      e.holder = Str(r.getHolder());
      *out = std::move(e);
      return "";
    }
    case W::KEY_REVOKED: {
      auto r = in.getKeyRevoked();
      KeyRevoked e;
      if (!CopyFixed(r.getKeyId(), &e.key_id)) return "keyId is not 32 bytes";
      e.reason = Str(r.getReason());
      *out = std::move(e);
      return "";
    }
    case W::POLICY_PUBLISHED: {
      auto r = in.getPolicyPublished();
      PolicyPublished e;
      std::string error = FromCapnp(r.getPolicy(), &e.policy);
      if (!error.empty()) return error;
      e.effective_from = Str(r.getEffectiveFrom());
      *out = std::move(e);
      return "";
    }
    case W::RECIPIENT_REGISTERED: {
      auto r = in.getRecipientRegistered();
      RecipientRegistered e;
      e.recipient_id = Str(r.getRecipientId());
      e.name = Str(r.getName());
      auto kind = static_cast<uint16_t>(r.getKind());
      if (kind >= kRecipientKindCount) return "unknown recipient kind " + std::to_string(kind);
      e.kind = static_cast<RecipientKind>(kind);
      e.district = Str(r.getDistrict());
      e.related_parties = TextList(r.getRelatedParties());
      *out = std::move(e);
      return "";
    }
    case W::BUDGET_ALLOCATED: {
      auto r = in.getBudgetAllocated();
      *out = BudgetAllocated{Str(r.getMeasure()), r.getFiscalYear(), r.getAmountFen(), Str(r.getSource())};
      return "";
    }
    case W::APPLICATION_SUBMITTED: {
      auto r = in.getApplicationSubmitted();
      ApplicationSubmitted e;
      e.application_id = Str(r.getApplicationId());
      e.recipient_id = Str(r.getRecipientId());
      e.measure = Str(r.getMeasure());
      e.track = Str(r.getTrack());
      e.fiscal_year = r.getFiscalYear();
      e.basis_fen = r.getBasisFen();
      e.basis_kind = Str(r.getBasisKind());
      for (auto a : r.getAttributes()) e.attributes.push_back({Str(a.getKey()), Str(a.getValue())});
      for (auto d : r.getEvidence()) {
        Hash h{};
        if (!CopyFixed(d, &h)) return "evidence digest is not 32 bytes";
        e.evidence.push_back(h);
      }
      *out = std::move(e);
      return "";
    }
    case W::APPLICATION_APPROVED: {
      auto r = in.getApplicationApproved();
      *out = ApplicationApproved{Str(r.getApplicationId()), Str(r.getNote())};
      return "";
    }
    case W::APPLICATION_REJECTED: {
      auto r = in.getApplicationRejected();
      *out = ApplicationRejected{Str(r.getApplicationId()), Str(r.getReason())};
      return "";
    }
    case W::AWARD_GRANTED: {
      auto r = in.getAwardGranted();
      *out = AwardGranted{Str(r.getApplicationId()), r.getAmountFen(), r.getCityFen(),
                          r.getDistrictFen(), Str(r.getJustification())};
      return "";
    }
    case W::AWARD_REVOKED: {
      auto r = in.getAwardRevoked();
      *out = AwardRevoked{Str(r.getApplicationId()), r.getAmountFen(), Str(r.getReason())};
      return "";
    }
    case W::PAYOUT_DISBURSED: {
      auto r = in.getPayoutDisbursed();
      *out = PayoutDisbursed{Str(r.getApplicationId()), r.getAmountFen(), Str(r.getReference())};
      return "";
    }
    case W::PAYOUT_REVERSED: {
      auto r = in.getPayoutReversed();
      *out = PayoutReversed{Str(r.getApplicationId()), r.getAmountFen(), Str(r.getReason())};
      return "";
    }
    case W::AUDIT_ATTESTED: {
      auto r = in.getAuditAttested();
      AuditAttested e;
      e.tree_size = r.getTreeSize();
      if (!CopyFixed(r.getRootHash(), &e.root_hash)) return "rootHash is not 32 bytes";
      if (!CopyFixed(r.getStateHash(), &e.state_hash)) return "stateHash is not 32 bytes";
      if (!CopyFixed(r.getFindingsDigest(), &e.findings_digest)) return "findingsDigest is not 32 bytes";
      e.findings_count = r.getFindingsCount();
      *out = std::move(e);
      return "";
    }
  }
  return "unknown event kind " + std::to_string(static_cast<unsigned>(in.which()));
}

void ToCapnp(const Policy& in, s::Policy::Builder out) {
  out.setId(Txt(in.id));
  out.setVersion(Txt(in.version));
  out.setTitleZh(Txt(in.title_zh));
  out.setTitleEn(Txt(in.title_en));
  out.setIssuer(Txt(in.issuer));
  out.setTermStart(Txt(in.term_start));
  out.setTermEnd(Txt(in.term_end));
  out.setCurrency(Txt(in.currency));
  auto units = out.initUnits(static_cast<unsigned>(in.units.size()));
  for (unsigned i = 0; i < in.units.size(); ++i) {
    units[i].setCode(Txt(in.units[i].code));
    units[i].setNameEn(Txt(in.units[i].name_en));
    units[i].setNameZh(Txt(in.units[i].name_zh));
    units[i].setKind(Txt(in.units[i].kind));
  }
  auto measures = out.initMeasures(static_cast<unsigned>(in.measures.size()));
  for (unsigned i = 0; i < in.measures.size(); ++i) MeasureToCapnp(in.measures[i], measures[i]);
  out.setSource(Txt(in.source));
  out.setNote(Txt(in.note));
}

std::string FromCapnp(s::Policy::Reader in, Policy* out) {
  out->id = Str(in.getId());
  out->version = Str(in.getVersion());
  out->title_zh = Str(in.getTitleZh());
  out->title_en = Str(in.getTitleEn());
  out->issuer = Str(in.getIssuer());
  out->term_start = Str(in.getTermStart());
  out->term_end = Str(in.getTermEnd());
  out->currency = Str(in.getCurrency());
  for (auto u : in.getUnits()) {
    out->units.push_back(Unit{Str(u.getCode()), Str(u.getNameEn()), Str(u.getNameZh()), Str(u.getKind())});
  }
  for (auto m : in.getMeasures()) {
    Measure measure;
    std::string error = MeasureFromCapnp(m, &measure);
    if (!error.empty()) return "policy: " + error;
    out->measures.push_back(std::move(measure));
  }
  out->source = Str(in.getSource());
  out->note = Str(in.getNote());
  return "";
}

void BodyToCapnp(const Body& in, s::Entry::Body::Builder out) { std::visit(BodyWriter{out}, in); }

void ToCapnp(const Entry& in, s::Entry::Builder out) {
  out.setFormatVersion(in.format_version);
  out.setLedgerId(AsData(in.ledger_id));
  out.setSeq(in.seq);
  out.setPrevHash(AsData(in.prev_hash));
  out.setRecordedAt(in.recorded_at_ms);
  out.setSigner(AsData(in.signer));
  out.setIdempotencyKey(Txt(in.idempotency_key));
  BodyToCapnp(in.body, out.initBody());
}

std::string FromCapnp(s::Entry::Reader in, Entry* out) {
  out->format_version = in.getFormatVersion();
  if (out->format_version != kFormatVersion) {
    return "unknown format version " + std::to_string(out->format_version);
  }
  if (!CopyFixed(in.getLedgerId(), &out->ledger_id)) return "ledgerId is not 16 bytes";
  out->seq = in.getSeq();
  if (!CopyFixed(in.getPrevHash(), &out->prev_hash)) return "prevHash is not 32 bytes";
  out->recorded_at_ms = in.getRecordedAt();
  if (!CopyFixed(in.getSigner(), &out->signer)) return "signer is not 32 bytes";
  out->idempotency_key = Str(in.getIdempotencyKey());
  return BodyFromCapnp(in.getBody(), &out->body);
}

}  // namespace fundledger::events::internal
