// Tx result codes (types/codes.go): stable numbers, never reused. Callers
// branch on the code or its name, never on log text.

export const Code = {
  OK: 0,
  ENCODING: 1,
  TOO_LARGE: 2,
  WRONG_CHAIN: 3,
  NO_SIGNATURE: 4,
  BAD_SIGNATURE: 5,
  EXPIRED: 6,
  TOO_FAR_AHEAD: 7,
  REPLAY: 8,
  CONFLICT: 9,
  INVALID_OP: 10,
  UNAUTHORIZED: 11,
  INTERNAL: 12,
  NOT_FOUND: 13,
  BAD_QUERY: 14,
  KEY_RETIRED: 15,
  GTX_UNKNOWN_PARTICIPANT: 16,
  GTX_WRONG_SIGNER: 17,
  GTX_DUPLICATE_ANSWER: 18,
  GTX_NOT_AWAITED: 19,
  GTX_NOT_FOUND: 20,
  GTX_EXISTS: 21,
  GTX_BAD_SHAPE: 22,
  GTX_LIMIT: 23,
  PRUNED: 24,
  AUDIT_ANCHOR: 25,
  AUDIT_PRUNE: 26,
} as const;

export type CodeName = keyof typeof Code;

const names = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, CodeName>;

/** The stable name of a code ("CONFLICT"); CODE_<n> for an unknown one. */
export function codeName(code: number): string {
  return names[code] ?? `CODE_${code}`;
}
