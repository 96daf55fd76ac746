package vault

import (
	"context"
	"fmt"

	"github.com/dstt/dstt/security/keyring"
)

// KeyringRotation is keyring.BeginRotation for the vault backend: the
// transit key name gets a new version (BeginRotation) that signs the proof
// of possession, while the old version keeps signing the RotateKey tx;
// Finish makes the new version the minimum (FinishRotation), so Vault
// refuses the old one from then on, and reports the old version as kept
// (verify only). With finishOnly it only prepares Finish for a pending
// new version.
func (v *Client) KeyringRotation(ctx context.Context, name string, finishOnly bool) (*keyring.Rotation, error) {
	if finishOnly {
		k, err := v.ReadKey(ctx, name)
		if err != nil {
			return nil, err
		}
		if k.LatestVersion <= k.SigningVersion() {
			return nil, fmt.Errorf("vault: no rotation of %q is pending (signing version %d is the latest)", name, k.SigningVersion())
		}
		return &keyring.Rotation{Name: name, NewPubKey: k.PubKey(k.LatestVersion), Finish: func(ctx context.Context) (string, error) {
			if err := v.SetMinSigningVersion(ctx, name, k.LatestVersion); err != nil {
				return "", err
			}
			return v.keptVersion(name, k.SigningVersion()), nil
		}}, nil
	}
	vr, err := v.BeginRotation(ctx, name)
	if err != nil {
		return nil, err
	}
	next, err := v.Signer(ctx, name, vr.NewVersion)
	if err != nil {
		return nil, err
	}
	return &keyring.Rotation{Name: name, Old: vr.Old, Next: next, NewPubKey: vr.NewPubKey, Resumed: vr.Resumed, Finish: func(ctx context.Context) (string, error) {
		if err := v.FinishRotation(ctx, vr); err != nil {
			return "", err
		}
		return v.keptVersion(name, vr.OldVersion), nil
	}}, nil
}

func (v *Client) keptVersion(name string, version int) string {
	return fmt.Sprintf("%s/keys/%s version %d (verify only)", v.TransitMount(), name, version)
}
