// Command breakerctl operates the circuit breakers of a service through
// breakerbox's admin API (package admin): it shows their state, forces them
// open or closed, resets and releases them, prunes idle ones, saves and
// restores snapshots of their manual overrides, and reads the audit log.
// "breakerctl policy" works on policy documents (YAML or JSON, package
// policyfile): lint, diff, schema and docs on files; apply, rollback,
// history, diff --live and docs --live through the API.
//
// Install it with
//
//	go install github.com/breakerbox/breakerbox/cmd/breakerctl@latest
//
// and point it at a server with --addr (or BREAKERBOX_ADDR) and a token
// with --token-file (or BREAKERBOX_TOKEN, or BREAKERBOX_TOKEN_FILE; --token
// works too, but shows the token in the process list):
//
//	export BREAKERBOX_ADDR=http://127.0.0.1:9090/admin BREAKERBOX_TOKEN=...
//	breakerctl status
//	breakerctl open --tag stripe --for 30m --reason "provider maintenance"
//	breakerctl release --tag stripe --reason "maintenance over"
//	breakerctl audit --since 24h
//	breakerctl policy lint policies/
//	breakerctl policy apply policies/ --reason "raise the stripe rate limit"
//	breakerctl policy rollback 41 --reason "version 42 trips payments"
//
// Exit codes: 0 success; 1 the server refused or failed the operation
// (unauthorised, unknown guard, invalid request, audit log unavailable), or
// a policy document has problems (policy lint, policy apply) or differs
// (policy diff --exit-code);
// 2 a usage error (bad flags or arguments, no address); 3 the server cannot
// be reached.
//
// Tables are coloured only when the output is a terminal (and NO_COLOR is
// unset); --json prints the API's JSON instead. Shell completion, guard
// names included: breakerctl completion bash|zsh|fish|powershell.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitUnreachable = 3
)

// exitError carries the exit code of an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func refused(err error) error { return &exitError{exitRefused, err} }

func unreachable(err error) error { return &exitError{exitUnreachable, err} }

// exitCode maps an error to the process's exit code. Errors without a code
// come from cobra's parsing of the command line: usage errors.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run executes breakerctl with args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "breakerctl: %v\n", err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}
