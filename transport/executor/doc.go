// Package executor drives global transactions (gtx) forward: it reads the
// steps a dstt chain awaits (types.QueryGtxPending), asks each step's
// participant over HTTP(S) to run the operation (one signed
// branchapi.Request per step), and submits the participant's signed answer
// to the chain in a tx (types.GtxAnswer). `dstt start --gtx-executor` runs
// one beside the node; each organisation runs its own.
//
// An executor decides nothing and can forge nothing: the engine accepts an
// answer only when the branch's registered participant key signed it, and
// computes every transition itself. So several executors may drive the
// same gtx at once: the participant's barrier makes a repeated request
// return the first answer, the chain takes the first answer it sees and
// refuses the others (CodeGtxDuplicateAnswer, CodeGtxNotAwaited, which end
// the step here), and any one executor that keeps running finishes every
// gtx.
//
// Run's loop: read the pending steps (every page), start one worker per
// step this executor is not already driving, wait (Chain.Wait: NodeChain
// returns at the node's next block, or after 200 ms), repeat. A worker
// calls the participant until it gives a definite answer (succeeded or
// failed) and submits it (NodeChain: to the mempool, without waiting for
// the block); then it waits for the step to leave the pending work, and
// asks and submits again if it has not after SettleTimeout (the tx was
// lost or refused in its block). A transport error, a non-200 answer,
// "not yet" or a refused submission (for example an answer signed by the
// wrong key: CodeGtxWrongSigner) is retried after a pause that doubles
// from MinBackoff to MaxBackoff, jittered. A worker ends when the step is
// no longer pending (an answer was taken, another executor's answer moved
// the gtx on, or its deadline passed) or ctx ends.
//
// The chain applies a gtx's deadline at the first block whose time reaches
// it, and makes blocks only for txs: when an awaited action or try belongs
// to a gtx whose deadline has passed by the executor's clock, Run also
// submits the gtx's deadline (Chain.Expire, types.GtxDeadline), at most
// once per MaxBackoff per gtx.
//
// Participants authenticate executors by the request signature: the
// executor signs every request with its key (Config.Signer, the key its
// txs are signed with), and a participant serves only the keys of the
// consortium members it trusts (branchapi.VerifyRequest).
//
// Executor is safe for one Run at a time. Errors never stop Run; it
// returns when ctx ends.
package executor
