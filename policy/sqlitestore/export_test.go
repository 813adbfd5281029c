package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// ExecSQL runs statements on the file at path with the store's connection
// settings, for tests that build unusual files.
func ExecSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(abs, newConfig(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
