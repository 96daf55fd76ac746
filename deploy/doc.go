// Package deploy holds the deployment kit and its test: Containerfile (the node
// image, FROM scratch: the static binary, uid 10001, the home as the one volume),
// compose.yaml (four organisations, each node on its own network plus the consortium's
// P2P network) and dstt.service (a systemd unit); docs/DEPLOY.md explains them.
//
// TestImage builds the image with podman from a static build of cmd/dstt and starts a
// node from it, which must commit a tx. It needs root and podman with runc (make
// test-deps installs them); without them it skips, unless DSTT_REQUIRE_PODMAN is set
// (make test sets it), where it fails.
package deploy
