// Package proposal is the file format of a consortium-governance proposal
// and its offline signing: a governance tx (add or remove a validator or a
// member org) whose body is fixed once, signed by admins of k distinct
// member orgs, each on their own machine, and submitted by anyone.
//
//	f, err := proposal.New(body, summary)   // body: a prepared types.TxBody
//	err = f.Save(path)
//	f, err = proposal.Decode(path, data)    // on each admin's machine
//	addr, err := f.Sign(signer)             // ErrAlreadySigned for a second signature by one key
//	err = f.Save(path)
//	tx, err := f.Tx()                       // the signed tx to broadcast
//
// It sits under consensus/ because what it changes is the consensus
// membership (the validator set and the orgs whose admins govern it); it
// decides nothing: it only builds and signs a types.Tx, importing types and
// security, never the engine (abci) or a node. The chain checks the k-of-n
// rule when the tx executes.
//
// A File is plain data, not safe for concurrent use. Tx refuses a
// signature that does not verify over the body; a key that signed twice
// counts once; signatures are ordered by public key, as the chain requires.
package proposal
