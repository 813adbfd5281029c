package allow

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/breakerbox/breakerbox/core"
)

func calls(ctx context.Context, db *sql.DB) {
	http.Get("http://x")      // allowed: net/http.Get
	http.Head("http://x")     // want `http.Head sends through`
	db.Exec("x")              // allowed: database/sql.DB.Exec
	db.QueryContext(ctx, "x") // want `QueryContext runs outside`
	_ = http.DefaultClient    // allowed: net/http.DefaultClient
}

// migrate is allowed as an enclosing function.
func migrate(ctx context.Context, db *sql.DB) {
	db.QueryContext(ctx, "create table")
}

type runner struct{ db *sql.DB }

// Run is allowed as an enclosing method.
func (r *runner) Run(ctx context.Context) {
	r.db.QueryContext(ctx, "x")
}

// Retry is a guard function named with -guards.
func Retry(ctx context.Context, g *core.Guard, fn func(context.Context) error) error { return fn(ctx) }

func custom(ctx context.Context, db *sql.DB, g *core.Guard) {
	Retry(ctx, g, func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "x")
		return err
	})
}
