package engine

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// TestGolden runs the engine scripts under testdata/. Commands:
//
//	init admins=K1,K2        genesis with these admins (first command only)
//	tx name=T signer=K [cosign=K2] [nonce=N] [until=H|+N] [chain=C] [tamper] [nosig]
//	  one op per input line: put KEY VALUE | delete KEY | check KEY VERSION |
//	  grant SUBJ ROLE DOMAIN | revoke SUBJ ROLE DOMAIN |
//	  allow|deny|unallow|undeny SUBJ DOMAIN OBJECT ACTION   (SUBJ @name = name's address)
//	  rotate NEWKEY           (RotateKey to NEWKEY's public key)
//	can SUBJ ACTION KEY       the policy's decision now
//	identity SUBJ             an identity's key history
//	policy                    every rule and grant
//	audit                     the consensus audit chain (verified)
//	validators                validators, orgs and the threshold
//	raw name=T hex=...       a tx of arbitrary bytes
//	checktx T                CheckTx against committed state
//	block T1 T2 ...          FinalizeBlock + Commit of the next block
//	get KEY [height=H]
//	history KEY [limit=N] [before=VERSION]
//	status T                 the committed result of tx T
//	reopen                   a new engine over the same store (a restart)
//
// Regenerate expected output with `go test ./abci/engine -run TestGolden -rewrite`
// and review the diff.
func TestGolden(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		store := storage.NewInMemoryStore()
		var e *Engine
		txs := map[string][]byte{}
		nonce := uint64(0)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd == "init" { // must come first: a chain with genesis admins
				var admins, orgs, vals string
				d.MaybeScanArgs(t, "admins", &admins)
				d.MaybeScanArgs(t, "orgs", &orgs)       // id:@admin,...
				d.MaybeScanArgs(t, "validators", &vals) // key:org,...
				g := DefaultGenesisState()
				for _, a := range strings.Split(admins, ",") {
					if a != "" {
						g.Admins = append(g.Admins, addressOf(a))
					}
				}
				var thr uint64
				if d.MaybeScanArgs(t, "threshold", &thr) {
					g.Threshold = uint32(thr)
				}
				byOrg := map[string]int{}
				for _, o := range strings.Split(orgs, ",") {
					if id, adm, ok := strings.Cut(o, ":"); ok {
						byOrg[id] = len(g.Orgs)
						g.Orgs = append(g.Orgs, types.Org{ID: id, Admins: []string{addressOf(adm)}})
					}
				}
				var validators []Validator
				for _, v := range strings.Split(vals, ",") {
					if name, org, ok := strings.Cut(v, ":"); ok {
						pub := typestest.Key(name).PubKey()
						validators = append(validators, Validator{PubKey: pub, Power: 10})
						g.Orgs[byOrg[org]].Validators = append(g.Orgs[byOrg[org]].Validators, hex.EncodeToString(pub))
					}
				}
				state, _ := json.Marshal(g)
				var err error
				if e, err = NewEngine(store, NewCachedVerifier(1024)); err != nil {
					t.Fatal(err)
				}
				if _, err := e.InitChain(typestest.Chain, state, validators...); err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf("open=%v rules=%d grants=%d", e.Reader().Open(), len(e.Reader().Policy().Rules()), len(e.Reader().Policy().Grants()))
			}
			if e == nil {
				e = newTestEngine(t, store, NewCachedVerifier(1024))
			}
			switch d.Cmd {
			case "can":
				sub, act, key := d.CmdArgs[0].Key, d.CmdArgs[1].Key, d.CmdArgs[2].Key
				return fmt.Sprint(e.Reader().Policy().Allowed(addressOf(sub), rbac.DomainOf(key), key, act))
			case "identity":
				v, err := e.Reader().Identity(addressOf(d.CmdArgs[0].Key))
				if err != nil {
					return "error: " + err.Error()
				}
				var sb strings.Builder
				fmt.Fprintf(&sb, "identity %s\n", v.Identity)
				for _, k := range v.Keys {
					fmt.Fprintf(&sb, "key %s since %d retired %d\n", k.Address, k.Since, k.RetiredAt)
				}
				return strings.TrimSpace(sb.String())
			case "audit": // the consensus audit chain, verified
				r, err := e.Reader().AuditEntries(audit.EntriesRequest{Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if err := audit.Verify(r.Entries, audit.ChainHead{}); err != nil {
					t.Fatalf("audit chain does not verify: %v", err)
				}
				if r.Head.Seq != uint64(len(r.Entries)) {
					t.Fatalf("head %d, %d entries", r.Head.Seq, len(r.Entries))
				}
				var sb strings.Builder
				for _, a := range r.Entries {
					actor := a.Actor
					if len(actor) > 8 {
						actor = actor[:8]
					}
					fmt.Fprintf(&sb, "%d h=%d i=%d %s actor=%s %s %v %s\n", a.Seq, a.Height, a.TxIndex, a.Kind, actor, a.Action, a.Resources, a.CodeName)
				}
				h, err := e.Reader().AuditHead(0)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(h.AppHash(), e.AppHash()) {
					t.Fatalf("audit head does not reproduce the app hash")
				}
				fmt.Fprintf(&sb, "head=%d", h.Head.Seq)
				return sb.String()
			case "validators":
				vs, err := e.Reader().Validators()
				if err != nil {
					t.Fatal(err)
				}
				var sb strings.Builder
				for _, v := range vs {
					fmt.Fprintf(&sb, "%s power=%d org=%s\n", strings.ToLower(v.Address), v.Power, v.Org)
				}
				orgs, k, _ := e.Reader().Orgs()
				for _, o := range orgs {
					fmt.Fprintf(&sb, "org %s admins=%d\n", o.ID, len(o.Admins))
				}
				fmt.Fprintf(&sb, "threshold=%d", k)
				return sb.String()
			case "policy":
				var sb strings.Builder
				for _, r := range e.Reader().Policy().Rules() {
					fmt.Fprintln(&sb, r)
				}
				for _, g := range e.Reader().Policy().Grants() {
					fmt.Fprintln(&sb, g)
				}
				return strings.TrimSpace(sb.String())
			case "tx":
				nonce++
				name, tx := buildGoldenTx(t, e, d, nonce)
				txs[name] = tx
				return fmt.Sprintf("%s: %d bytes", name, len(tx))
			case "raw":
				var name, hexs string
				d.ScanArgs(t, "name", &name)
				d.ScanArgs(t, "hex", &hexs)
				b, err := hex.DecodeString(hexs)
				if err != nil {
					t.Fatal(err)
				}
				txs[name] = b
				return "ok"
			case "checktx":
				out := e.CheckTx(lookupTx(t, txs, d.CmdArgs[0].Key))
				return fmtOutcome(out)
			case "block":
				var block [][]byte
				var names []string
				var evidence []Misbehavior
				for _, a := range d.CmdArgs {
					if a.Key == "evidence" { // evidence=VALIDATORKEY
						evidence = append(evidence, Misbehavior{Type: "duplicate_vote", Validator: types.TxHash(typestest.Key(a.Vals[0]).PubKey())[:20], Height: e.Height()})
						continue
					}
					block = append(block, lookupTx(t, txs, a.Key))
					names = append(names, a.Key)
				}
				before := e.AppHash()
				res, err := e.FinalizeBlock(Block{Height: e.Height() + 1, Txs: block, Misbehavior: evidence})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Commit(); err != nil {
					t.Fatal(err)
				}
				var sb strings.Builder
				for i, out := range res.Txs {
					fmt.Fprintf(&sb, "%s: %s\n", names[i], fmtOutcome(out))
				}
				for _, u := range res.ValidatorUpdates {
					fmt.Fprintf(&sb, "validator update: %s power %d\n", types.Address(u.PubKey), u.Power)
				}
				changed := "unchanged"
				if string(before) != string(res.AppHash) {
					changed = "changed"
				}
				fmt.Fprintf(&sb, "height=%d app_hash=%X (%s)", e.Height(), res.AppHash[:8], changed)
				return sb.String()
			case "get":
				var h uint64
				d.MaybeScanArgs(t, "height", &h)
				kv, err := e.Reader().Get(d.CmdArgs[0].Key, h)
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("%s=%s version=%s", kv.Key, kv.Value, kv.Version.Text())
			case "history":
				req := types.HistoryRequest{Key: d.CmdArgs[0].Key}
				var limit uint64
				if d.MaybeScanArgs(t, "limit", &limit) {
					req.Limit = uint32(limit)
				}
				var before string
				if d.MaybeScanArgs(t, "before", &before) {
					v, err := types.ParseVersion(before)
					if err != nil {
						t.Fatal(err)
					}
					req.Before = v
				}
				h, err := e.Reader().History(req)
				if err != nil {
					return "error: " + err.Error()
				}
				var sb strings.Builder
				for _, kv := range h.Versions {
					if kv.Deleted {
						fmt.Fprintf(&sb, "%s deleted\n", kv.Version.Text())
					} else {
						fmt.Fprintf(&sb, "%s %s\n", kv.Version.Text(), kv.Value)
					}
				}
				fmt.Fprintf(&sb, "next=%s", h.Next.Text())
				return sb.String()
			case "status":
				r, err := e.Reader().TxResult(types.TxHash(lookupTx(t, txs, d.CmdArgs[0].Key)))
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("height=%d index=%d code=%s writes=%d", r.Height, r.TxIndex, types.Code(r.Code).Name(), len(r.Writes))
			case "reopen":
				e = newTestEngine(t, store, NewCachedVerifier(1024))
				return fmt.Sprintf("height=%d app_hash=%X", e.Height(), e.AppHash()[:8])
			default:
				t.Fatalf("unknown command %q", d.Cmd)
				return ""
			}
		})
	})
}

// addressOf maps "@name" to the address of name's test key; other
// subjects (roles, "anyone") pass through.
func addressOf(s string) string {
	if strings.HasPrefix(s, "@") {
		return types.Address(typestest.Key(s[1:]).PubKey())
	}
	return s
}

func lookupTx(t *testing.T, txs map[string][]byte, name string) []byte {
	tx, ok := txs[name]
	if !ok {
		t.Fatalf("no tx named %q", name)
	}
	return tx
}

func fmtOutcome(out Outcome) string {
	s := out.Code.Name()
	if out.Log != "" {
		s += " " + out.Log
	}
	for _, w := range out.Writes {
		op := "put"
		if w.Deleted {
			op = "delete"
		}
		s += fmt.Sprintf(" [%s %s@%s]", op, w.Key, w.Version.Text())
	}
	return s
}

func buildGoldenTx(t *testing.T, e *Engine, d *datadriven.TestData, nonce uint64) (string, []byte) {
	var name, signer string
	d.ScanArgs(t, "name", &name)
	d.ScanArgs(t, "signer", &signer)
	d.MaybeScanArgs(t, "nonce", &nonce)
	body := types.TxBody{ChainId: typestest.Chain, Nonce: nonce, ValidUntilHeight: e.Height() + 10}
	d.MaybeScanArgs(t, "chain", &body.ChainId)
	var until string
	if d.MaybeScanArgs(t, "until", &until) {
		rel := strings.HasPrefix(until, "+")
		n, err := strconv.ParseUint(strings.TrimPrefix(until, "+"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if rel {
			n += e.Height()
		}
		body.ValidUntilHeight = n
	}
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		f := strings.Fields(line)
		for i := range f {
			if strings.HasPrefix(f[i], `"`) {
				u, err := strconv.Unquote(f[i])
				if err != nil {
					t.Fatal(err)
				}
				f[i] = u
			}
		}
		switch {
		case len(f) == 0:
		case f[0] == "put" && len(f) == 3:
			body.Ops = append(body.Ops, typestest.Put(f[1], f[2]))
		case f[0] == "delete" && len(f) == 2:
			body.Ops = append(body.Ops, typestest.Delete(f[1]))
		case (f[0] == "grant" || f[0] == "revoke") && len(f) == 4:
			sub, role, dom := addressOf(f[1]), f[2], f[3]
			if f[0] == "grant" {
				body.Ops = append(body.Ops, types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: sub, Role: role, Domain: dom}}})
			} else {
				body.Ops = append(body.Ops, types.Op{Sum: &types.Op_Revoke{Revoke: &types.Revoke{Subject: sub, Role: role, Domain: dom}}})
			}
		case (f[0] == "allow" || f[0] == "deny" || f[0] == "unallow" || f[0] == "undeny") && len(f) == 5:
			body.Ops = append(body.Ops, types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{
				Subject: addressOf(f[1]), Domain: f[2], Object: f[3], Action: f[4],
				Deny: strings.HasSuffix(f[0], "deny"), Remove: strings.HasPrefix(f[0], "un"),
			}}})
		case f[0] == "addval" && len(f) == 4:
			p, _ := strconv.ParseInt(f[2], 10, 64)
			body.Ops = append(body.Ops, types.Op{Sum: &types.Op_AddValidator{AddValidator: &types.AddValidator{PubKey: typestest.Key(f[1]).PubKey(), Power: p, Org: f[3]}}})
		case f[0] == "rmval" && len(f) == 2:
			body.Ops = append(body.Ops, types.Op{Sum: &types.Op_RemoveValidator{RemoveValidator: &types.RemoveValidator{PubKey: typestest.Key(f[1]).PubKey()}}})
		case f[0] == "addorg" && len(f) >= 3:
			op := &types.AddOrg{Id: f[1]}
			for _, a := range f[2:] {
				op.Admins = append(op.Admins, addressOf(a))
			}
			body.Ops = append(body.Ops, types.Op{Sum: &types.Op_AddOrg{AddOrg: op}})
		case f[0] == "rmorg" && len(f) == 2:
			body.Ops = append(body.Ops, types.Op{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: f[1]}}})
		case f[0] == "rotate" && (len(f) == 2 || len(f) == 3):
			// rotate NEW [PROVER]: NEW's key, with a proof of possession
			// signed by PROVER (NEW by default; another key forges one).
			prover := f[1]
			if len(f) == 3 {
				prover = f[2]
			}
			op, err := security.RotateKeyOp(body.ChainId, typestest.Key(signer).PubKey(), typestest.Key(prover))
			if err != nil {
				t.Fatal(err)
			}
			op.GetRotateKey().NewPubKey = typestest.Key(f[1]).PubKey()
			body.Ops = append(body.Ops, op)
		case f[0] == "check" && len(f) == 3:
			v, err := types.ParseVersion(f[2])
			if err != nil {
				t.Fatal(err)
			}
			body.Ops = append(body.Ops, typestest.Check(f[1], v))
		default:
			t.Fatalf("bad op line %q", line)
		}
	}
	signers := []security.Signer{typestest.Key(signer)}
	var cosign string
	if d.MaybeScanArgs(t, "cosign", &cosign) {
		for _, c := range strings.Split(cosign, ",") {
			signers = append(signers, typestest.Key(c))
		}
	}
	tx := typestest.SignTx(t, &body, signers...)
	if d.HasArg("tamper") || d.HasArg("nosig") {
		var env types.Tx
		if err := env.Unmarshal(tx); err != nil {
			t.Fatal(err)
		}
		if d.HasArg("tamper") {
			env.Signatures[0].Signature[5] ^= 0x40
		} else {
			env.Signatures = nil
		}
		var err error
		if tx, err = env.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	return name, tx
}
