package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/dstt/dstt/transport/branchapi"
)

// errNotYet: the participant asked to be asked again later.
var errNotYet = errors.New("executor: participant answered not yet")

// call sends one signed branch request and returns a definite answer, or
// an error (not yet, a refusal, a transport failure, a malformed answer).
func (e *Executor) call(ctx context.Context, s Step) (branchapi.Answer, error) {
	body, err := json.Marshal(branchapi.Request{
		ChainID: e.cfg.ChainID, GID: s.GID, Branch: s.Branch, Operation: s.Operation, Attempt: s.Attempt,
		Participant: s.Participant, Payload: s.Payload, DeadlineUnixMs: s.DeadlineUnixMs,
	})
	if err != nil {
		return branchapi.Answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, bytes.NewReader(body))
	if err != nil {
		return branchapi.Answer{}, fmt.Errorf("executor: endpoint %q: %w", s.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := branchapi.SignRequest(req, e.cfg.ChainID, body, e.cfg.Signer.PubKey(), e.now(), e.cfg.Signer.Sign); err != nil {
		return branchapi.Answer{}, err
	}
	resp, err := e.cfg.HTTP.Do(req)
	if err != nil {
		return branchapi.Answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, branchapi.MaxAnswerBytes+1))
	if err != nil {
		return branchapi.Answer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return branchapi.Answer{}, fmt.Errorf("executor: participant answered HTTP %d: %.200s", resp.StatusCode, raw)
	}
	if len(raw) > branchapi.MaxAnswerBytes {
		return branchapi.Answer{}, fmt.Errorf("executor: answer over %d bytes", branchapi.MaxAnswerBytes)
	}
	var ans branchapi.Answer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return branchapi.Answer{}, fmt.Errorf("executor: malformed answer: %w", err)
	}
	if ans.Outcome == branchapi.OutcomeNotYet {
		return branchapi.Answer{}, errNotYet
	}
	if !ans.Definite() {
		return branchapi.Answer{}, fmt.Errorf("executor: answer outcome %q", ans.Outcome)
	}
	return ans, nil
}
