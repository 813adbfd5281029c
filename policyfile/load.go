package policyfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/breakerbox/breakerbox/core"
)

// Load reads the policy document at path: a file (see Parse), or a
// directory whose *.yaml, *.yml and *.json files (extensions in any case)
// are read in lexical order and merged into one document, their policies,
// variants and tenant overlays concatenated (tenants.maxGuards may be set
// in one file only). The directory is not read recursively; entries whose
// name starts with "." are skipped, which covers editor and temporary files
// and the "..data" and "..<timestamp>" entries of a mounted Kubernetes
// ConfigMap, whose files are symbolic links through "..data" and are
// followed. A directory without such a file is an error, never an empty
// document.
//
// Every problem of every file is reported together, as a
// *core.DocumentError; a policy name used in two files is reported at the
// second, naming the first's file:line:column.
func Load(path string, opts ...Option) (core.Document, error) {
	cfg := newConfig(opts)
	return load(path, cfg)
}

func load(path string, cfg *config) (core.Document, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return core.Document{}, err
	}
	names := []string{path}
	if fi.IsDir() {
		if names, err = policyFiles(path); err != nil {
			return core.Document{}, err
		}
	}
	var files []*parsedFile
	var probs []core.Problem
	for _, n := range names {
		data, size, err := readLimited(n, cfg.maxBytes)
		if err != nil {
			return core.Document{}, err
		}
		pf, ps := parseFile(n, data, size, cfg)
		probs = append(probs, ps...)
		if pf != nil {
			files = append(files, pf)
		}
	}
	if len(probs) > 0 {
		return core.Document{}, docError(probs)
	}
	return check(files, cfg)
}

// policyFiles lists the policy files of dir, in lexical order.
func policyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !isPolicyFile(n) {
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p) // follows symbolic links
		if err != nil {
			if os.IsNotExist(err) {
				continue // a dangling link, or gone since ReadDir
			}
			return nil, err
		}
		if st.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("policyfile: %s holds no policy file (*.yaml, *.yml or *.json)", dir)
	}
	return out, nil
}

func isPolicyFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// readLimited reads a file, but no more than one byte past limit (parseFile
// refuses anything over it anyway, so a huge file is not read whole), and
// returns the file's size.
func readLimited(path string, limit int) ([]byte, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, 0, err
	}
	size := len(data)
	if size > limit {
		if st, err := f.Stat(); err == nil && st.Size() > int64(size) {
			size = int(st.Size())
		}
	}
	return data, size, nil
}
