// Command breakervet reports outbound calls that no breakerbox guard
// protects: net/http requests sent through an unwrapped transport, gRPC
// clients created without breakerbox's client interceptors, and
// database/sql and go-redis calls made outside a guard.
//
// It runs standalone on package patterns:
//
//	breakervet ./...
//	breakervet -fix ./...
//	breakervet -allow=net/http.Get,example.com/app/migrate.* ./...
//
// or as a vet tool:
//
//	go vet -vettool=$(which breakervet) ./...
//
// The checks, the rule that decides whether a call is guarded, the flags
// and the suppression comment are described in the documentation of package
// github.com/breakerbox/breakerbox/cmd/breakervet/unguarded, whose Analyzer
// other drivers (multichecker, gopls, golangci-lint plugins) can embed.
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/breakerbox/breakerbox/cmd/breakervet/unguarded"
)

func main() { singlechecker.Main(unguarded.Analyzer) }
