package rest

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/ui"
)

// uiHeaders are set on every file of the web explorer: it loads only its
// own files and talks only to this gateway (no inline script or style, no
// framing, no referrer leaving the page).
var uiHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
}

// uiFiles serves the embedded build of the explorer (package ui).
var uiFiles = http.StripPrefix(api.PathUI, http.FileServerFS(must(fs.Sub(ui.Dist, "dist"))))

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// serveUI serves the web explorer at /ui/: its index page (no-cache, so a
// new build is picked up) and its content-hashed assets (cached for good).
// Only GET and HEAD.
func (g *Gateway) serveUI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeProblem(w, r, api.NewProblem(api.ProblemMethod, r.URL.Path+" takes GET"))
		return
	}
	if r.URL.Path == api.PathUI {
		http.Redirect(w, r, api.PathUI+"/", http.StatusMovedPermanently)
		return
	}
	h := w.Header()
	for k, v := range uiHeaders {
		h.Set(k, v)
	}
	if strings.HasPrefix(r.URL.Path, api.PathUI+"/assets/") {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	uiFiles.ServeHTTP(w, r)
}
