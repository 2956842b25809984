// The shared error vocabulary of every module (STYLE.md §2). Status is for operating errors;
// programmer errors are LEDGER_CHECKs (events/check.h), never Status values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "events/check.h"

namespace fundledger {

enum class StatusCode {
  kOk = 0,
  kRejected,          // well-formed, refused by a rule; rule() names it. Exit 1.
  kInvalidArgument,   // usage or malformed input (flags, JSON, amount, USCC). Exit 2.
  kNotFound,          // a named thing does not exist (query answers). Exit 2.
  kCorruption,        // stored or imported bytes, signature, chain, projection mismatch. Exit 3.
  kIOError,           // environment: disk, permissions, missing directory. Exit 4.
  kBusy,              // ledger in use by another process. Exit 4.
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Rejected(std::string rule, std::string message) {
    Status s(StatusCode::kRejected, std::move(message));
    s.rule_ = std::move(rule);
    return s;
  }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Busy(std::string m) { return {StatusCode::kBusy, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Stable rule code (DESIGN.md §10), set only on kRejected.
  const std::string& rule() const { return rule_; }
  bool IsRejected() const { return code_ == StatusCode::kRejected; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsCorruption() const { return code_ == StatusCode::kCorruption; }
  bool IsIOError() const { return code_ == StatusCode::kIOError; }
  bool IsBusy() const { return code_ == StatusCode::kBusy; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }

  // The same status with `prefix: ` put before its message (e.g. "line 3: ").
  Status WithPrefix(std::string_view prefix) const {
    Status s = *this;
    s.message_ = std::string(prefix) + ": " + message_;
    return s;
  }
  // One line: "rejected (rule.code): message" or "corruption: message".
  std::string ToString() const;
  // Process exit code of DESIGN.md §10 for this status.
  int ExitCode() const;
  // Marks a deliberately ignored status so greps can find it.
  void IgnoreError() const {}

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string rule_;
};

// A value or an error, close to absl::StatusOr (ok(), status(), *, ->).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit like absl::StatusOr.
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    LEDGER_CHECK(!status_.ok()) << "Result built from an ok Status carries no value";
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& operator*() & { return Value(); }
  const T& operator*() const& { return Value(); }
  T&& operator*() && { return std::move(Value()); }
  T* operator->() { return &Value(); }
  const T* operator->() const { return &Value(); }
  T& value() { return Value(); }
  const T& value() const { return Value(); }

 private:
  T& Value() {
    LEDGER_CHECK(value_.has_value()) << "value of failed Result: " << status_.ToString();
    return *value_;
  }
  const T& Value() const {
    LEDGER_CHECK(value_.has_value()) << "value of failed Result: " << status_.ToString();
    return *value_;
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace fundledger

#define LEDGER_CONCAT_INNER(a, b) a##b
#define LEDGER_CONCAT(a, b) LEDGER_CONCAT_INNER(a, b)

#define LEDGER_RETURN_IF_ERROR(expr)               \
  do {                                             \
    ::fundledger::Status ledger_status_ = (expr);  \
    if (!ledger_status_.ok()) return ledger_status_; \
  } while (0)

#define LEDGER_ASSIGN_OR_RETURN(lhs, expr) \
  LEDGER_ASSIGN_OR_RETURN_IMPL(LEDGER_CONCAT(ledger_result_, __LINE__), lhs, expr)
#define LEDGER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)
