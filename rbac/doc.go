// Package rbac decides who may do what to which key. The model is Casbin's
// (model.conf, versioned with the code); the policy lines live in the
// chain's replicated state and change only through authorised txs, so every
// validator decides the same way at the same point of the chain.
//
// Vocabulary:
//
//   - subject: a signer address, a role name, or "anyone" (every signer, and
//     unsigned reads);
//   - domain: an organisation or namespace, the first '/'-separated segment
//     of a key ("bank1/payments/7" is in domain "bank1"; a key without '/'
//     is in domain "default"); "*" in a rule or grant means every domain;
//   - object: a key pattern in Casbin keyMatch2 syntax ("bank1/payments/*",
//     "bank1/:acct/balance") or "*" for every key;
//   - action: read, write or admin ("*" = all three). admin in a domain lets a
//     signer change that domain's policy.
//
// A request is allowed when some allow rule matches and no deny rule does:
// deny wins. Grants give roles, transitively, within a domain.
//
// Chain-wide admins hold AdminRole in AllDomains; IsAdmin holds for them in
// every domain whatever the rules say, and only they may grant, revoke or
// deny what could unmake or make one (CheckGrant, CheckRevoke, CheckRule
// return ErrProtected otherwise): a domain admin cannot lock them out.
// MayReadPolicy: admins of some domain and holders of AuditorRole in
// AllDomains.
//
// Policy keeps the lines in a Casbin enforcer (the model, the role manager,
// and Explain, which runs Casbin's own matcher). Allowed answers the same
// question without a linear scan: it indexes rules by subject and asks the
// role manager for the subject's roles, so its cost does not grow with
// policy size. Tests check Allowed against Casbin's Enforce on random
// policies. Explain answers from the same index (never Casbin's matcher,
// whose g() memo keeps every name asked about), and every cache is keyed
// only by names committed lines contain, so requests naming anything else
// leave no state behind.
//
// A Policy is not safe for concurrent use; the engine serialises access.
// Nothing here reads files, the clock or randomness.
package rbac
