// OPA conformance cases this evaluator does not support, by case note → the missing feature.
// A case that evaluates but answers differently from OPA is a failure, never an entry here;
// conformance.test.ts checks that each entry exists and still fails (so a fixed case must leave the list).
export const SKIPPED_CASES: Readonly<Record<string, string>> = {
  "sprintf/big_int": "arbitrary-precision numbers (integers beyond float64 precision)",
  "sprintf/big_int/max_cert_serial_number": "arbitrary-precision numbers (integers beyond float64 precision)",
  "strings/sprintf: float too big": "arbitrary-precision numbers (literals beyond float64 range)",
  "comparisonexpr/decimals order like the numbers they denote":
    "arbitrary-precision numbers (decimal comparison beyond float64)",
};
