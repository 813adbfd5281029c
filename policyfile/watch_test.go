package policyfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

type delivery struct {
	doc core.Document
	err error
}

// watch starts Watch on path and returns what fn receives. The watch ends
// with the test, which checks that Watch returned nil.
func watch(t *testing.T, path string, opts ...Option) <-chan delivery {
	t.Helper()
	ch := make(chan delivery, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, path, func(doc core.Document, err error) { ch <- delivery{doc, err} }, opts...)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch returned %v after its context ended, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})
	return ch
}

// next waits for the next delivery (generously: the machine may be busy).
func next(t *testing.T, ch <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(15 * time.Second):
		t.Fatal("fn was not called within 15s")
		return delivery{}
	}
}

// wantDoc waits for the next delivery and checks it is a document with
// these policies, in order.
func wantDoc(t *testing.T, ch <-chan delivery, names ...string) {
	t.Helper()
	d := next(t, ch)
	if d.err != nil {
		t.Fatalf("fn got error %v, want a document with %v", d.err, names)
	}
	var got []string
	for _, p := range d.doc.Policies {
		got = append(got, p.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("fn got policies %v, want %v", got, names)
	}
}

func wantErr(t *testing.T, ch <-chan delivery, substr string) error {
	t.Helper()
	d := next(t, ch)
	if d.err == nil || !strings.Contains(d.err.Error(), substr) {
		t.Fatalf("fn got (%d policies, error %v), want an error containing %q", len(d.doc.Policies), d.err, substr)
	}
	if len(d.doc.Policies) != 0 {
		t.Fatalf("fn got a document with an error")
	}
	return d.err
}

func doc(names ...string) string {
	var b strings.Builder
	b.WriteString("policies:\n")
	for _, n := range names {
		b.WriteString("  - name: " + n + "\n    breaker: {openDuration: 10s}\n")
	}
	return b.String()
}

func TestWatchAtomicRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policies.yaml")
	writeFile(t, p, doc("a"))
	ch := watch(t, p)
	wantDoc(t, ch, "a")

	tmp := filepath.Join(dir, ".policies.yaml.tmp-123")
	writeFile(t, tmp, doc("a", "b"))
	must(t, os.Rename(tmp, p))
	wantDoc(t, ch, "a", "b")

	// An editor's backup-and-rename: the file is moved away, a new one
	// written in its place.
	must(t, os.Rename(p, p+"~"))
	writeFile(t, p, doc("c"))
	wantDoc(t, ch, "c")
}

// kubeSwap updates a ConfigMap volume as the kubelet does: the new files go
// into a new timestamped directory, a temporary link to it is renamed over
// "..data" (one atomic step), and the old directory is removed.
func kubeSwap(t *testing.T, dir, old, ts string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		writeFile(t, filepath.Join(dir, ts, name), content)
	}
	must(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	if old != "" {
		must(t, os.RemoveAll(filepath.Join(dir, old)))
	}
}

func kubeVolume(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	kubeSwap(t, dir, "", "..2026_12_07_10_00_00.000000001", files)
	for name := range files {
		must(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
	}
	return dir
}

func TestWatchKubernetesSymlinkSwap(t *testing.T) {
	dir := kubeVolume(t, map[string]string{"policies.yaml": doc("a")})
	ch := watch(t, filepath.Join(dir, "policies.yaml"))
	wantDoc(t, ch, "a")

	kubeSwap(t, dir, "..2026_12_07_10_00_00.000000001", "..2026_12_07_10_05_00.000000002", map[string]string{"policies.yaml": doc("a", "b")})
	wantDoc(t, ch, "a", "b")

	kubeSwap(t, dir, "..2026_12_07_10_05_00.000000002", "..2026_12_07_10_10_00.000000003", map[string]string{"policies.yaml": doc("c")})
	wantDoc(t, ch, "c")
}

func TestWatchKubernetesSymlinkSwapDirectory(t *testing.T) {
	dir := kubeVolume(t, map[string]string{"a.yaml": doc("a"), "b.yaml": doc("b")})
	ch := watch(t, dir)
	wantDoc(t, ch, "a", "b")

	kubeSwap(t, dir, "..2026_12_07_10_00_00.000000001", "..2026_12_07_10_05_00.000000002", map[string]string{"a.yaml": doc("a2"), "b.yaml": doc("b2")})
	wantDoc(t, ch, "a2", "b2")
}

func TestWatchPartialWritesAreReadWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policies.yaml")
	writeFile(t, p, doc("a"))
	// A long debounce, so that the pieces below (written back to back)
	// fall within it even on a busy machine.
	ch := watch(t, p, WithDebounce(time.Second))
	wantDoc(t, ch, "a")

	full := doc("a", "b", "c")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	for i := 0; i < len(full); i += 7 { // pieces that cut keys in half
		_, err := f.WriteString(full[i:min(i+7, len(full))])
		must(t, err)
	}
	must(t, f.Close())
	wantDoc(t, ch, "a", "b", "c") // not an error, not a truncated document
}

func TestWatchDeletionKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policies.yaml")
	writeFile(t, p, doc("a"))
	ch := watch(t, p)
	wantDoc(t, ch, "a")

	must(t, os.Remove(p))
	err := wantErr(t, ch, "the last good document stays live")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deletion error %v does not match fs.ErrNotExist", err)
	}
	// Put back as it was: delivered again, as an error came in between.
	writeFile(t, p, doc("a"))
	wantDoc(t, ch, "a")
}

func TestWatchInvalidEditThenFix(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policies.yaml")
	writeFile(t, p, doc("a"))
	ch := watch(t, p)
	wantDoc(t, ch, "a")

	writeFile(t, p, "policies:\n  - name: a\n    breaker: {openDuration: 10x}\n")
	err := wantErr(t, ch, `policies.yaml:3:29: policies[0].breaker.openDuration: "10x" is not a duration`)
	var de *core.DocumentError
	if !errors.As(err, &de) {
		t.Errorf("error %T, want a *core.DocumentError", err)
	}
	writeFile(t, p, doc("a", "b"))
	wantDoc(t, ch, "a", "b")
}

func TestWatchDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), doc("a"))
	ch := watch(t, dir)
	wantDoc(t, ch, "a")

	writeFile(t, filepath.Join(dir, "b.json"), `{"policies": [{"name": "b"}]}`)
	wantDoc(t, ch, "a", "b")

	must(t, os.Remove(filepath.Join(dir, "a.yaml")))
	wantDoc(t, ch, "b") // a file removed from a directory takes its policies along

	must(t, os.Remove(filepath.Join(dir, "b.json")))
	wantErr(t, ch, "holds no policy file") // never "no policies at all"

	writeFile(t, filepath.Join(dir, "c.yml"), doc("c"))
	wantDoc(t, ch, "c")
}

func TestWatchReportsAMissingFileThenItsArrival(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policies.yaml")
	ch := watch(t, p)
	wantErr(t, ch, "is gone")
	writeFile(t, p, doc("a"))
	wantDoc(t, ch, "a")
}

func TestWatchFailsWithoutTheDirectory(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope", "policies.yaml"), func(core.Document, error) {
		t.Error("fn called")
	})
	if err == nil || !strings.Contains(err.Error(), "policyfile: watching") {
		t.Fatalf("Watch = %v, want an error naming the directory", err)
	}
}

func TestReloaderSkipsRepeats(t *testing.T) {
	var got []string
	r := &reloader{fn: func(d core.Document, err error) {
		if err != nil {
			got = append(got, "error: "+err.Error())
			return
		}
		got = append(got, d.Policies[0].Name)
	}}
	a := core.Document{Policies: []core.Policy{{Name: "a"}}}
	b := core.Document{Policies: []core.Policy{{Name: "b"}}}
	bad := errors.New("bad")
	for _, step := range []delivery{{doc: a}, {doc: a}, {doc: b}, {err: bad}, {err: bad}, {doc: b}, {doc: b}, {err: errors.New("worse")}, {err: bad}} {
		r.deliver(step.doc, step.err)
	}
	want := "a|b|error: bad|b|error: worse|error: bad"
	if strings.Join(got, "|") != want {
		t.Errorf("fn got %s\n\twant %s", strings.Join(got, "|"), want)
	}
}

// debounceFiring runs debounce (quiet 100ms, maxDelay 1s) in a synctest
// bubble, pokes it n times every period, and returns when it fired, from
// the first poke.
func debounceFiring(t *testing.T, n int, period time.Duration) []time.Duration {
	var fired []time.Duration
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		poke := make(chan struct{})
		start := time.Now()
		go debounce(ctx, poke, 100*time.Millisecond, time.Second, func() { fired = append(fired, time.Since(start)) })
		for range n {
			poke <- struct{}{}
			time.Sleep(period)
		}
		time.Sleep(time.Second)
		synctest.Wait()
	})
	return fired
}

func TestDebounceWaitsForQuiet(t *testing.T) {
	// Three changes 50ms apart: once, 100ms after the last.
	if got := debounceFiring(t, 3, 50*time.Millisecond); !slices.Equal(got, []time.Duration{200 * time.Millisecond}) {
		t.Errorf("fired at %v, want once at 200ms (100ms after the last change)", got)
	}
}

func TestDebounceFiresDuringAStreamThatNeverPauses(t *testing.T) {
	// A change every 50ms for 2.5s: every maxDelay, then after the last.
	want := []time.Duration{time.Second, 2 * time.Second, 2550 * time.Millisecond}
	if got := debounceFiring(t, 50, 50*time.Millisecond); !slices.Equal(got, want) {
		t.Errorf("fired at %v, want %v", got, want)
	}
}
