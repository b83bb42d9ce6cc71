package xrayview

import (
	"embed"
	"html/template"
	"io/fs"
)

// The page's files. assets/vendor/ holds the layout library copied from
// web/node_modules by web/vendor.mjs (make xrayview-assets), committed so that
// go build needs no npm; TestVendoredAssetsMatchLockfile keeps the copy and
// web/package-lock.json in step.
//
//go:embed web/assets
var web embed.FS

// webFS is web/ with assets/ at its root's assets/ (the handler's URL space).
func webFS() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // web is a constant of the binary
	}
	return sub
}

// pageTemplate parses index.html; it is embedded, so a parse error is a bug
// that every test run shows.
func pageTemplate() *template.Template {
	return template.Must(template.ParseFS(web, "web/assets/index.html"))
}
