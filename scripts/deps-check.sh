#!/bin/sh
# deps-check: fails when two modules of this repository require different
# versions of the same module path (direct or // indirect), listing them.
# Run from the repository root (`make deps-check`, part of `make test`).
#
# It reads the require directives of every go.mod, so it needs no network.
# Paths of this repository (github.com/breakerbox/breakerbox...) are skipped:
# every module replaces them with the local directory.
#
# Exempt: e2e/apmtool. It exists only to build one pinned Jaeger release for the
# e2e APM test; its go.mod is Jaeger's own dependency graph at that release, and
# moving any of it means rebuilding Jaeger (about 11 CPU-minutes), so it keeps the
# versions that Jaeger release was tested with.
set -eu

# One line per requirement: PATH VERSION MODULE-DIR.
reqs=$(find . -name go.mod -not -path '*/testdata/*' -not -path './e2e/apmtool/*' | sort |
while read -r gomod; do
	awk -v mod="$(dirname "$gomod")" '
		/^require[ \t]*\($/ { inreq = 1; next }
		inreq && /^\)/      { inreq = 0; next }
		/^require[ \t]+[^ \t(]/ { print $2, $3, mod; next }
		inreq && NF >= 2 && $1 !~ /^\/\// { print $1, $2, mod }
	' "$gomod"
done | awk '$1 !~ /^github\.com\/breakerbox\/breakerbox(\/|$)/')

# The requirements of every path that has more than one version.
mismatched=$(printf '%s\n' "$reqs" | awk '
	NF == 3 { line[NR] = $0; path[NR] = $1; if (!(($1, $2) in seen)) { seen[$1, $2] = 1; nver[$1]++ } }
	END { for (i in line) if (nver[path[i]] > 1) print line[i] }
' | sort -k1,1 -k2,2 -k3,3)

if [ -n "$mismatched" ]; then
	echo "deps-check: modules require different versions of the same module (path version module):"
	printf '%s\n' "$mismatched" | sed 's/^/	/'
	echo "deps-check: align them: go get PATH@VERSION && go mod tidy in each module listed"
	exit 1
fi
echo "deps-check: $(printf '%s\n' "$reqs" | awk '{print $1}' | sort -u | wc -l | tr -d ' ') module paths, one version each"
