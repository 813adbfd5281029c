//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeDemoCtrlCExitsZero pins issue 18's "make demo ends a clean Ctrl-C
// with `make: *** [demo] Error 1`": `go run` exits 1 after an interrupt
// even when the program it runs stops cleanly with status 0, so `make demo`
// must run a built binary. The test runs `make demo` in a process group of
// its own, waits for the demo to be ready, sends SIGINT to the whole group
// (as a terminal's Ctrl-C does) and expects the demo to stop cleanly and
// make to report no error.
func TestMakeDemoCtrlCExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo through make")
	}
	makePath, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("make is needed: %v", err)
		}
		t.Skipf("make is needed: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	flags := []string{
		"-api-port=0", "-graphql-port=0", "-grpc-port=0", "-fakes-port=0", "-ops-port=0",
		"-load=5", "-tour=false", "-report=0", "-ready-file=" + ready,
		`-admin-token="make-demo-test-token"`, // " makes make run the line through a shell
	}
	cmd := exec.Command(makePath, "--no-print-directory", "-C", root, "demo",
		"DEMOFLAGS="+strings.Join(flags, " "), "DEMOBIN="+filepath.Join(dir, "storefront"))
	cmd.Env = demoEnv(dir)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	var exitErr error
	exited := make(chan struct{})
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("make demo's output:\n%s", out.String())
		}
	})

	waitFor(t, 3*time.Minute, "the demo's ready file", func() error {
		select {
		case <-exited:
			t.Fatalf("make demo exited before the demo was ready: %v", exitErr)
		default:
		}
		b, err := os.ReadFile(ready)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &Addresses{})
	})

	// Ctrl-C in a terminal signals the foreground process group: make, and
	// whatever it runs.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatal("make demo did not stop within a minute of SIGINT")
	}
	// make itself ends by the SIGINT it got, as it always does (a shell
	// shows nothing for it); it reports an error only when the program it
	// ran failed or was killed.
	var ee *exec.ExitError
	if exitErr != nil && !(errors.As(exitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
		t.Errorf("make demo exited with %v after Ctrl-C, want status 0 or the SIGINT", exitErr)
	}
	got := out.String()
	if strings.Contains(got, "make: ***") {
		t.Error("make reported an error after Ctrl-C")
	}
	if !strings.Contains(got, "shutdown: clean, no goroutines left") {
		t.Error("the demo did not report a clean shutdown")
	}
}

// TestDemoStopsCleanlyOnSignal runs the built demo, waits for it to be
// ready, and checks that SIGINT (Ctrl-C) and SIGTERM (what a service
// manager sends) each stop it with status 0 and a clean shutdown.
func TestDemoStopsCleanlyOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	bin, err := demoBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready.json")
			cmd := exec.Command(bin, "-api-port=0", "-graphql-port=0", "-grpc-port=0", "-fakes-port=0", "-ops-port=0",
				"-load=5", "-tour=false", "-report=0", "-ready-file="+ready)
			cmd.Env = demoEnv(dir)
			var out lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var exitErr error
			exited := make(chan struct{})
			go func() { exitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					_ = cmd.Process.Kill()
					<-exited
				}
				if t.Failed() {
					t.Logf("the demo's output:\n%s", out.String())
				}
			})
			waitFor(t, time.Minute, "the demo's ready file", func() error {
				select {
				case <-exited:
					t.Fatalf("the demo exited before it was ready: %v", exitErr)
				default:
				}
				_, err := os.Stat(ready)
				return err
			})
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(time.Minute):
				t.Fatalf("the demo did not stop within a minute of %v", sig)
			}
			if exitErr != nil {
				t.Errorf("the demo exited with %v after %v, want status 0", exitErr, sig)
			}
			if !strings.Contains(out.String(), "shutdown: clean, no goroutines left") {
				t.Error("the demo did not report a clean shutdown")
			}
		})
	}
}
