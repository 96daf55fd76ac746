// Package ui holds the built web explorer that the REST gateway serves at
// /ui: a static TypeScript app (sources in src/, built with Vite into
// dist/, which is committed) over the gateway's API and the TypeScript SDK
// (sdk/ts). Nothing runs Node at run time: dist is embedded in the binary.
//
// build.json records the SHA-256 of the sources a build was made from and
// of the files it produced (scripts/stamp.mjs writes it after `npm run
// build`); the package's test recomputes both, so a source changed without
// a rebuild, or a hand-edited build, fails it. `make test-ui` also rebuilds
// from the sources and compares byte for byte.
package ui

import "embed"

// Dist is the built explorer, rooted at "dist".
//
//go:embed all:dist
var Dist embed.FS
